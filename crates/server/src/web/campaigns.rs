//! A campaign's page beyond its fields: where its messages stand (per variant: sent,
//! refused, opened, clicked; the control group; the A/B test), the buttons that launch,
//! pause and resume it, and `/campaigns/{id}/variants`, a form of rows (name, e-mail
//! template, share) for its message variants, errors beside their rows, what was typed
//! kept on a refusal and a stale version refused as a conflict.

use super::fields::{self, Choice};
use super::page::{self, Page, Posted, WebUser, render, render_status};
use super::rules::{Errs, row_of};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use guanxi_app::AppError;
use guanxi_app::campaigns::{self, Progress, Roi};
use guanxi_domain::entities::{Campaign, CampaignStatus, EmailTemplate, MailCategory, Targeting};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{FieldError, Id, Record, Right};
use guanxi_store::{Store, StoreError};
use serde_json::json;

/// What the campaign's page shows of its sending.
pub struct Panel {
    pub id: Id,
    pub version: i64,
    pub progress: Progress,
    /// Each variant's revenue, formatted.
    pub revenues: Vec<String>,
    /// The return, as label and value lines; the help names the conversion window.
    pub roi: Vec<(String, String)>,
    pub roi_help: String,
    /// Whether the sent differ from the control group, in words.
    pub lift: Option<String>,
    pub can_launch: bool,
    pub can_pause: bool,
    /// The label of the launch button: launch, or resume a paused campaign.
    pub launch_label: String,
    pub can_edit_variants: bool,
    /// Whom the launch takes, in words, and the model that chose them once launched.
    pub targeting: String,
    pub selected_by: Option<String>,
    /// The journey after the message, as a tree.
    pub journey: super::journey::Tree,
    pub can_edit_journey: bool,
}

pub async fn panel(store: &Store, u: &WebUser, c: &Record<Campaign>) -> Option<Panel> {
    let progress = campaigns::progress(store, &u.actor, c.meta.id).await.ok()?;
    let may = u.may("campaign", Right::Update);
    let status = c.data.status;
    let t = u.t();
    let revenues = progress
        .variants
        .iter()
        .map(|v| t.money(v.revenue, &progress.roi.currency))
        .collect();
    let roi_help = t.f(
        "campaign.roi_help",
        &[("days", &c.data.conversion_days.to_string())],
    );
    let (roi, lift) = roi_lines(t, &progress.roi);
    let (targeting, selected_by) = targeting_lines(t, &c.data);
    let names = super::journey::template_names(store, u).await;
    let journey = super::journey::tree(t, &c.data, &progress.steps, &names);
    Some(Panel {
        journey,
        can_edit_journey: super::journey::may_edit(u, &c.data),
        targeting,
        selected_by,
        id: c.meta.id,
        version: c.meta.version,
        revenues,
        roi,
        roi_help,
        lift,
        progress,
        can_launch: may && matches!(status, CampaignStatus::Planned | CampaignStatus::Paused),
        can_pause: may && status == CampaignStatus::Active,
        launch_label: t
            .s(if status == CampaignStatus::Paused {
                "campaign.resume"
            } else {
                "campaign.launch"
            })
            .to_string(),
        can_edit_variants: may && status == CampaignStatus::Planned,
    })
}

/// The campaign's targeting in words, and what selected its members.
fn targeting_lines(t: guanxi_app::i18n::Tr, c: &Campaign) -> (String, Option<String>) {
    let targeting = match (c.targeting, c.target_top_n, c.target_min_score) {
        (Targeting::TopN, Some(n), _) => t.f("campaign.targeting_top_n", &[("n", &t.int(n))]),
        (Targeting::MinScore, _, Some(s)) => {
            t.f("campaign.targeting_min_score", &[("s", &t.decimal(s, 3))])
        }
        (other, ..) => t.choice("campaign", "targeting", other.as_str()),
    };
    let selected_by = match (c.model_auc, c.model_trained_at) {
        (Some(auc), Some(at)) => Some(t.f(
            "campaign.selected_by",
            &[("auc", &t.decimal(auc, 3)), ("at", &t.datetime(at))],
        )),
        _ => None,
    };
    (targeting, selected_by)
}

/// The return as the panel lists it.
fn roi_lines(t: guanxi_app::i18n::Tr, r: &Roi) -> (Vec<(String, String)>, Option<String>) {
    let money = |m: i64| t.money(m, &r.currency);
    let rate = |x: i64, n: i64| {
        if n > 0 {
            t.percent(x as f64 / n as f64)
        } else {
            "–".into()
        }
    };
    let mut lines = vec![
        (t.s("campaign.cost").to_string(), money(r.cost)),
        (
            t.s("campaign.attributed_revenue").to_string(),
            money(r.revenue),
        ),
        (
            t.f("campaign.margin_known", &[("n", &t.int(r.margin_known))]),
            money(r.margin),
        ),
        (
            t.s("campaign.conversion_rate").to_string(),
            format!(
                "{} / {}",
                rate(r.treated_conversions, r.treated),
                rate(r.control_conversions, r.control)
            ),
        ),
    ];
    if let (Some(conversions), Some(revenue)) = (r.incremental_conversions, r.incremental_revenue) {
        lines.push((
            t.s("campaign.incremental_conversions").to_string(),
            t.decimal(conversions, 1),
        ));
        lines.push((
            t.s("campaign.incremental_revenue").to_string(),
            money(revenue.round() as i64),
        ));
    }
    if let Some(ror) = r.return_on_revenue {
        lines.push((
            t.s("campaign.return_on_revenue").to_string(),
            t.percent(ror),
        ));
    }
    let lift = if r.control == 0 {
        Some(t.s("campaign.no_control").to_string())
    } else {
        r.lift_test.as_ref().map(|l| {
            format!(
                "p = {} — {}",
                t.decimal(l.p_value, 3),
                t.s(if l.significant {
                    "campaign.lift_significant"
                } else {
                    "campaign.lift_not_significant"
                })
            )
        })
    };
    (lines, lift)
}

fn version_of(form: &page::FormData) -> i64 {
    form.text("_version").parse().unwrap_or(0)
}

fn not_found(u: &WebUser) -> Response {
    super::error_page(u.t(), StatusCode::NOT_FOUND, "")
}

/// A refusal of a launch or pause as a notice on the campaign's page, naming the fields.
fn refused_notice(u: &WebUser, id: Id, e: AppError) -> Response {
    let t = u.t();
    let problem = crate::Problem::from(e);
    if problem.status == 404 || problem.status == 403 {
        return problem.into_response();
    }
    let mut why: Vec<String> = problem
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.field, fields::message(t, e)))
        .collect();
    if why.is_empty() {
        why.push(problem.detail.clone());
    }
    page::done(
        &format!("/campaigns/{id}"),
        &format!("{} {}", t.s("campaign.not_launched"), why.join("; ")),
    )
}

/// `POST /campaigns/{id}/launch`: launch (or resume) at the version the page showed.
pub async fn launch(
    State(store): State<Store>,
    axum::Extension(deployment): axum::Extension<crate::Deployment>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return not_found(&u);
    };
    let providers = deployment.providers();
    match campaigns::launch_with(&store, &u.actor, id, version_of(&form), providers).await {
        Ok(_) => page::done(&format!("/campaigns/{id}"), u.t().s("campaign.launched")),
        Err(e) => refused_notice(&u, id, e),
    }
}

/// `POST /campaigns/{id}/pause`
pub async fn pause(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return not_found(&u);
    };
    match campaigns::pause(&store, &u.actor, id, version_of(&form)).await {
        Ok(_) => page::done(&format!("/campaigns/{id}"), u.t().s("campaign.paused")),
        Err(e) => refused_notice(&u, id, e),
    }
}

/// A variant row as typed.
#[derive(Clone, Default)]
struct Row {
    name: String,
    template: String,
    percent: String,
}

struct RowView {
    name: String,
    templates: Vec<Choice>,
    percent: String,
    errs: Errs,
}

#[derive(Template)]
#[template(path = "campaign_variants.html")]
struct VariantsPage {
    p: Page,
    heading: String,
    id: Id,
    version: i64,
    conflict: bool,
    errs: Errs,
    control: String,
    rows: Vec<RowView>,
}

/// The marketing templates the user may read, for the rows' selects.
pub(super) async fn templates(store: &Store, u: &WebUser) -> Vec<(String, String)> {
    let q = ListQuery::default()
        .filter(Filter::new(
            "category",
            Op::Eq,
            MailCategory::Marketing.as_str(),
        ))
        .sort_by("name", false)
        .limit(200);
    match store.list::<EmailTemplate>(&u.actor, &q).await {
        Ok(p) => p
            .items
            .into_iter()
            .map(|t| (t.meta.id.to_string(), t.data.name))
            .collect(),
        Err(_) => vec![],
    }
}

#[allow(clippy::too_many_arguments)]
fn variants_page(
    u: &WebUser,
    c: &Record<Campaign>,
    version: i64,
    control: &str,
    rows: &[Row],
    choices: &[(String, String)],
    errors: &[FieldError],
) -> VariantsPage {
    let t = u.t();
    let mut errs = Errs::default();
    let mut row_errs: Vec<Errs> = rows.iter().map(|_| Errs::default()).collect();
    for e in errors {
        let msg = fields::message(t, e);
        match row_of(&e.field, "variants") {
            Some((i, part)) if i < rows.len() => {
                let key = match part {
                    "template_id" => "template",
                    "percent" => "percent",
                    _ => "name",
                };
                row_errs[i].add(key, msg);
            }
            _ => errs.add(
                if e.field == "control_percent" {
                    "control"
                } else {
                    "variants"
                },
                msg,
            ),
        }
    }
    let mut views: Vec<RowView> = rows
        .iter()
        .zip(row_errs)
        .map(|(r, errs)| RowView {
            name: r.name.clone(),
            templates: choices
                .iter()
                .map(|(v, l)| Choice {
                    value: v.clone(),
                    label: l.clone(),
                    selected: *v == r.template,
                })
                .collect(),
            percent: r.percent.clone(),
            errs,
        })
        .collect();
    // Room for one more variant (A/B/C…) without script.
    views.push(RowView {
        name: String::new(),
        templates: choices
            .iter()
            .map(|(v, l)| Choice {
                value: v.clone(),
                label: l.clone(),
                selected: false,
            })
            .collect(),
        percent: String::new(),
        errs: Errs::default(),
    });
    let heading = format!("{} · {}", t.s("campaign.variants_title"), c.data.name);
    VariantsPage {
        p: u.page(heading.clone()),
        heading,
        id: c.meta.id,
        version,
        conflict: false,
        errs,
        control: control.to_string(),
        rows: views,
    }
}

pub(super) async fn campaign(
    store: &Store,
    u: &WebUser,
    id: &str,
) -> Result<Record<Campaign>, Response> {
    let id = Id::parse(id).map_err(|_| not_found(u))?;
    if !u.may("campaign", Right::Update) {
        return Err(super::error_page(u.t(), StatusCode::FORBIDDEN, ""));
    }
    store
        .get::<Campaign>(&u.actor, id)
        .await
        .map_err(|e| crate::Problem::from(e).into_response())
}

/// `GET /campaigns/{id}/variants`
pub async fn variants_form(
    State(store): State<Store>,
    u: WebUser,
    Path(id): Path<String>,
) -> Response {
    let c = match campaign(&store, &u, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let rows: Vec<Row> = c
        .data
        .variants
        .iter()
        .map(|v| Row {
            name: v.name.clone(),
            template: v.template_id.to_string(),
            percent: v.percent.to_string(),
        })
        .collect();
    let choices = templates(&store, &u).await;
    let control = c.data.control_percent.to_string();
    render(&variants_page(
        &u,
        &c,
        c.meta.version,
        &control,
        &rows,
        &choices,
        &[],
    ))
}

/// `POST /campaigns/{id}/variants`: rows left blank are dropped; the rest replace the
/// campaign's variants and control share.
pub async fn variants_save(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let c = match campaign(&store, &u, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let version = version_of(&form);
    let (names, temps, shares): (Vec<&str>, Vec<&str>, Vec<&str>) = (
        form.all("v_name").collect(),
        form.all("v_template").collect(),
        form.all("v_percent").collect(),
    );
    let rows: Vec<Row> = (0..names.len().max(temps.len()).max(shares.len()))
        .map(|i| Row {
            name: names.get(i).unwrap_or(&"").trim().to_string(),
            template: temps.get(i).unwrap_or(&"").to_string(),
            percent: shares.get(i).unwrap_or(&"").trim().to_string(),
        })
        .filter(|r| !(r.name.is_empty() && r.template.is_empty() && r.percent.is_empty()))
        .collect();
    let control = form.text("control_percent").trim().to_string();
    let number = |s: &str| {
        s.parse::<i64>()
            .map(serde_json::Value::from)
            .unwrap_or_else(|_| json!(s))
    };
    let body = json!({
        "variants": rows.iter().map(|r| json!({
            "name": r.name,
            "template_id": if r.template.is_empty() { serde_json::Value::Null } else { json!(r.template) },
            "percent": number(&r.percent),
        })).collect::<Vec<_>>(),
        "control_percent": if control.is_empty() { json!(0) } else { number(&control) },
    });
    let choices = templates(&store, &u).await;
    match guanxi_app::records::patch::<Campaign>(&store, &u.actor, c.meta.id, version, body).await {
        Ok(_) => page::done(&format!("/campaigns/{}", c.meta.id), u.t().s("form.saved")),
        Err(AppError::Store(StoreError::Conflict { .. })) => {
            let current = store.get::<Campaign>(&u.actor, c.meta.id).await;
            let current = current.map(|r| r.meta.version).unwrap_or(version);
            let mut page = variants_page(&u, &c, current, &control, &rows, &choices, &[]);
            page.conflict = true;
            render_status(StatusCode::CONFLICT, &page)
        }
        Err(e) => {
            let problem = crate::Problem::from(e);
            let errors = problem.errors.clone();
            let status =
                StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let page = variants_page(&u, &c, version, &control, &rows, &choices, &errors);
            render_status(status, &page)
        }
    }
}

/// One value of an attribute on the profile page, its bars scaled to the page's widest.
struct GroupView {
    value: String,
    members: String,
    responders: String,
    rate: String,
    interval: String,
    lift: String,
    /// Lift and its interval on a 0..200 scale (lift 2.0 at the right end), and where 1.0 is.
    bar: f64,
    low: f64,
    high: f64,
}

struct AttributeView {
    label: String,
    strength: String,
    p_value: String,
    reliable: bool,
    groups: Vec<GroupView>,
}

#[derive(Template)]
#[template(path = "campaign_profile.html")]
struct ProfilePage {
    p: Page,
    heading: String,
    id: Id,
    summary: String,
    attributes: Vec<AttributeView>,
}

/// An attribute's label: the field's own name in the user's language.
fn attribute_label(t: guanxi_app::i18n::Tr, attribute: &str) -> String {
    match attribute.split_once('.') {
        Some((entity, field)) => format!("{} · {}", t.entity_one(entity), t.field(entity, field)),
        None => attribute.to_string(),
    }
}

/// `GET /campaigns/{id}/profile`: responders against non-responders.
pub async fn profile(State(store): State<Store>, u: WebUser, Path(id): Path<String>) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return not_found(&u);
    };
    let c = match store.get::<Campaign>(&u.actor, id).await {
        Ok(c) => c,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let profile = match campaigns::profile(&store, &u.actor, id).await {
        Ok(p) => p,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let t = u.t();
    // Lift 0..3 across the bar; beyond is drawn at the end.
    let scale = |x: f64| (x / 3.0 * 200.0).clamp(0.0, 200.0);
    let attributes = profile
        .attributes
        .iter()
        .map(|a| {
            let (entity, field) = a.attribute.split_once('.').unwrap_or(("", ""));
            AttributeView {
                label: attribute_label(t, &a.attribute),
                strength: t.decimal(a.cramers_v, 3),
                p_value: t.decimal(a.p_value, 4),
                reliable: a.reliable,
                groups: a
                    .groups
                    .iter()
                    .map(|g| GroupView {
                        value: match (&g.value, g.other) {
                            (_, true) => t.s("campaign.other_value").to_string(),
                            (None, _) => t.s("campaign.no_value").to_string(),
                            (Some(v), _) => t.choice(entity, field, v),
                        },
                        members: t.int(g.members),
                        responders: t.int(g.responders),
                        rate: t.percent(g.rate),
                        interval: format!("{} – {}", t.percent(g.rate_low), t.percent(g.rate_high)),
                        lift: t.decimal(g.lift, 2),
                        bar: scale(g.lift),
                        low: scale(g.lift_low),
                        high: scale(g.lift_high),
                    })
                    .collect(),
            }
        })
        .collect();
    let summary = format!(
        "{} {} · {} {} · {} {}",
        t.s("campaign.sent"),
        t.int(profile.members),
        t.s("campaign.responders"),
        t.int(profile.responders),
        t.s("campaign.rate"),
        t.percent(profile.rate)
    );
    let heading = format!("{} · {}", t.s("campaign.profile_title"), c.data.name);
    render(&ProfilePage {
        p: u.page(heading.clone()),
        heading,
        id,
        summary,
        attributes,
    })
}
