//! The service panel of a case page: its SLA clock with the policy, what the agent needs
//! in the first screen (product, purchase date, dealer, repair history of that product),
//! every dispatch decision with its reason, and, for the partner the case is offered to,
//! accept and decline.

use super::fields;
use super::home::{CaseClock, clocks};
use super::page::{self, Page, Posted, WebUser, render, shown};
use crate::problem::Problem;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use guanxi_app::i18n::Tr;
use guanxi_app::service::dispatch::{self, Answer};
use guanxi_app::service::work::{self, Work};
use guanxi_domain::entities::{
    Account, Case, Contact, DispatchReason, DispatchStatus, Order, Product, SlaPolicy, SlaState,
};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Entity, Id, Record};
use guanxi_store::Store;
use serde_json::json;

pub struct Link {
    pub text: String,
    pub href: Option<String>,
}

pub struct Decision {
    pub at: String,
    pub text: String,
}

pub struct Panel {
    pub id: Id,
    pub version: i64,
    /// `on_track`, `due_soon`, `breached`, `paused`, `met`, `missed`, `none`.
    pub state: &'static str,
    pub state_label: String,
    pub policy: Option<Link>,
    /// (label, value) lines of the clock: first response, resolution.
    pub clock: Vec<(String, String)>,
    pub product: Option<Link>,
    pub purchased: Option<String>,
    pub dealer: Option<Link>,
    pub repairs: Vec<Link>,
    pub dispatch: Option<String>,
    pub partner: Option<Link>,
    pub decisions: Vec<Decision>,
    /// The signed-in partner user may answer the offer.
    pub may_answer: bool,
    /// The signed-in partner user may log work on it (theirs, accepted, open).
    pub may_work: bool,
    /// The case's contact as the viewer needs it: a partner sees the full phone only
    /// while the case is theirs and open.
    pub contact: Option<String>,
}

/// The CSS class and label of a case's SLA state.
pub fn state_of(t: Tr, s: Option<SlaState>) -> (&'static str, String) {
    let class = match s {
        None => return ("none", t.s("sla.none").to_string()),
        Some(SlaState::OnTrack | SlaState::Met) => "on_track",
        Some(SlaState::Warning) => "due_soon",
        Some(SlaState::Breached | SlaState::Missed) => "breached",
        Some(SlaState::Paused) => "paused",
    };
    let value = s.map(|s| s.as_str()).unwrap_or_default();
    (class, t.choice("case", "sla_state", value))
}

/// A dispatch decision in the reader's words.
pub fn decision_text(t: Tr, r: &DispatchReason) -> String {
    let partner = r.partner.clone().unwrap_or_else(|| "—".into());
    let km = r.km.map(|k| t.decimal(k, 1)).unwrap_or_default();
    let need = [r.product_line.as_deref(), r.category.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    let mut text = t.f(
        &format!("dispatch.{}", r.event),
        &[
            ("partner", &partner),
            ("km", &km),
            ("comment", r.comment.as_deref().unwrap_or("")),
        ],
    );
    let mut passed = vec![];
    for (n, key) in [
        (r.not_qualified, "dispatch.not_qualified"),
        (r.out_of_range, "dispatch.out_of_range"),
        (r.full, "dispatch.full"),
        (r.passed, "dispatch.passed"),
    ] {
        if n > 0 {
            passed.push(t.f(key, &[("n", &n.to_string()), ("need", &need)]));
        }
    }
    if !passed.is_empty() {
        text.push_str(t.s("dispatch.nearer"));
        text.push_str(&passed.join(t.s("dispatch.separator")));
    }
    text
}

async fn named<T: Entity>(
    store: &Store,
    u: &WebUser,
    id: Option<Id>,
    name: impl Fn(&T) -> String,
) -> Option<(Record<T>, Link)> {
    let id = id?;
    // What the case is about is shown to whoever may read the case: a partner has no right
    // to the catalogue or to orders, yet must know the product and when it was bought. It
    // gets the names, not the links.
    let (r, href) = match store.get::<T>(&u.actor, id).await {
        Ok(r) => {
            let href = format!("{}/{}", super::records::collection_of(T::DEF), id);
            (r, Some(href))
        }
        Err(_) => (store.get::<T>(&Actor::system(), id).await.ok()?, None),
    };
    let link = Link {
        text: name(&r.data),
        href,
    };
    Some((r, link))
}

/// The panel of a case the user is looking at.
pub async fn panel(store: &Store, u: &WebUser, case: &Record<Case>) -> Panel {
    let t = u.t();
    let c = &case.data;
    let (state, state_label) = state_of(t, c.sla_state);
    let policy = named::<SlaPolicy>(store, u, c.sla_policy_id, |p| p.name.clone())
        .await
        .map(|(_, l)| l);
    let now = chrono::Utc::now();
    let when =
        |d: chrono::DateTime<chrono::Utc>| format!("{} ({})", t.datetime(d), t.relative(d, now));
    let mut clock = vec![];
    if let Some(d) = c.first_response_due_at {
        clock.push((
            t.field("case", "first_response_due_at").to_string(),
            when(d),
        ));
    }
    if let Some(d) = c.first_response_at {
        clock.push((
            t.field("case", "first_response_at").to_string(),
            t.datetime(d),
        ));
    }
    if let Some(d) = c.sla_due_at {
        clock.push((t.field("case", "sla_due_at").to_string(), when(d)));
    }
    let product = named::<Product>(store, u, c.product_id, |p| {
        format!("{} · {}", p.sku, p.name)
    })
    .await
    .map(|(_, l)| l);
    let order = named::<Order>(store, u, c.order_id, |o| o.number.clone()).await;
    let purchased = order
        .as_ref()
        .map(|(o, l)| format!("{} · {}", t.date(o.data.ordered_at.date_naive()), l.text));
    let account = match c.account_id {
        Some(a) => store.get::<Account>(&Actor::system(), a).await.ok(),
        None => None,
    };
    let dealer = named::<Account>(
        store,
        u,
        account.as_ref().and_then(|a| a.data.serving_partner_id),
        |a| a.name.clone(),
    )
    .await
    .map(|(_, l)| l);
    let repairs = match (c.product_id, c.account_id) {
        (Some(p), Some(a)) => {
            let q = ListQuery::default()
                .filter(Filter::new("product_id", Op::Eq, p.to_string()))
                .filter(Filter::new("account_id", Op::Eq, a.to_string()))
                .sort_by("created_at", true)
                .limit(10);
            store
                .list::<Case>(&u.actor, &q)
                .await
                .map(|p| p.items)
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r.meta.id != case.meta.id)
                .map(|r| Link {
                    text: format!(
                        "{} · {} · {} · {}",
                        t.date(r.meta.created_at.date_naive()),
                        r.data.number,
                        t.choice("case", "kind", r.data.kind.as_str()),
                        r.data.resolution.as_deref().unwrap_or(&r.data.subject)
                    ),
                    href: Some(format!("/cases/{}", r.meta.id)),
                })
                .collect()
        }
        _ => vec![],
    };
    let partner = named::<Account>(store, u, c.partner_id, |a| a.name.clone())
        .await
        .map(|(_, l)| l);
    let decisions = decisions(store, u, case.meta.id).await;
    let ours = c.is_open() && u.actor.partner_id.is_some() && u.actor.partner_id == c.partner_id;
    let working = ours
        && matches!(
            c.dispatch_status,
            Some(DispatchStatus::Accepted | DispatchStatus::Manual)
        );
    let contact = contact_line(store, u, c, working).await;
    Panel {
        id: case.meta.id,
        version: case.meta.version,
        state,
        state_label,
        policy,
        clock,
        product,
        purchased,
        dealer,
        repairs,
        dispatch: c
            .dispatch_status
            .map(|s| t.choice("case", "dispatch_status", s.as_str())),
        partner,
        decisions,
        may_answer: ours && c.dispatch_status == Some(DispatchStatus::Offered),
        may_work: working,
        contact,
    }
}

/// The case's contact, name and phone: in full for the partner working the case (accepted
/// and open: it must call the customer), else as the viewer's role may see it.
async fn contact_line(store: &Store, u: &WebUser, c: &Case, ours: bool) -> Option<String> {
    let id = c.contact_id?;
    let (name, phone) = if ours {
        let k = store.get::<Contact>(&Actor::system(), id).await.ok()?;
        let phone = k.data.mobile.or(k.data.phone).map(|p| p.to_string());
        (k.data.name, phone)
    } else {
        let k = store.get::<Contact>(&u.actor, id).await.ok()?;
        let custom = store.custom_fields("contact").await.ok()?;
        let shown = guanxi_app::access::present(&u.actor, &custom, &k);
        let phone = shown["mobile"]
            .as_str()
            .or(shown["phone"].as_str())
            .map(str::to_string);
        (k.data.name, phone)
    };
    Some(match phone {
        Some(p) => format!("{name} · {p}"),
        None => name,
    })
}

/// Every dispatch decision on the case, newest first, from its change log.
async fn decisions(store: &Store, u: &WebUser, id: Id) -> Vec<Decision> {
    let t = u.t();
    let log = store
        .changes_for::<Case>(&u.actor, id)
        .await
        .unwrap_or_default();
    let mut out: Vec<Decision> = log
        .iter()
        .filter_map(|c| {
            let after = c.after.as_ref()?.get("dispatch_reason")?;
            if c.before.as_ref().and_then(|b| b.get("dispatch_reason")) == Some(after) {
                return None;
            }
            let r: DispatchReason = serde_json::from_value(after.clone()).ok()?;
            Some(Decision {
                at: t.datetime(c.at),
                text: decision_text(t, &r),
            })
        })
        .collect();
    out.reverse();
    out
}

/// `POST /cases/{id}/accept`: the partner takes the case offered to it.
pub async fn accept(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let version = form.text("_version").parse().unwrap_or(0);
    answer(&store, &u, &id, version, Answer::Accept).await
}

/// `POST /cases/{id}/decline` (`comment`): the partner passes it on.
pub async fn decline(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let comment = Some(form.text("comment").to_string()).filter(|c| !c.is_empty());
    let version = form.text("_version").parse().unwrap_or(0);
    answer(&store, &u, &id, version, Answer::Decline { comment }).await
}

async fn answer(store: &Store, u: &WebUser, id: &str, version: i64, answer: Answer) -> Response {
    let t = u.t();
    let Ok(id) = Id::parse(id) else {
        return super::error_page(t, StatusCode::NOT_FOUND, "");
    };
    match dispatch::answer(store, &u.actor, id, version, answer).await {
        Ok(_) => page::done(&format!("/cases/{id}"), t.s("dispatch.answered")),
        Err(e) => Problem::from(e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "work.html")]
struct WorkPage {
    p: Page,
    heading: String,
    id: Id,
    version: i64,
    errors: Vec<String>,
    note: String,
    parts: String,
    resolution: String,
}

/// `POST /cases/{id}/work` (`note`, `parts`, `resolution`, `_version`): a partner logs a
/// visit or repair, and resolves the case when it says how. On an error the form comes
/// back with what was typed.
pub async fn work(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let t = u.t();
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(t, StatusCode::NOT_FOUND, "");
    };
    let version: i64 = form.text("_version").parse().unwrap_or(0);
    let again = |errors: Vec<String>| {
        let page = WorkPage {
            p: u.page(t.s("service.log_work")),
            heading: t.s("service.log_work").to_string(),
            id,
            version,
            errors,
            note: form.text("note").to_string(),
            parts: form.get("parts").unwrap_or_default().to_string(),
            resolution: form.text("resolution").to_string(),
        };
        page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
    };
    let parts = match work::parse_parts(form.get("parts").unwrap_or_default()) {
        Ok(p) => p,
        Err(e) => return again(e.0.iter().map(|e| fields::message(t, e)).collect()),
    };
    let done = Work {
        note: form.text("note").to_string(),
        parts,
        resolution: Some(form.text("resolution").to_string()).filter(|r| !r.is_empty()),
    };
    match work::log(&store, &u.actor, id, version, done).await {
        Ok(_) => page::done(&format!("/cases/{id}"), t.s("service.logged")),
        Err(e) => {
            let p = Problem::from(e);
            let errors = if p.errors.is_empty() {
                vec![p.detail.clone()]
            } else {
                p.errors.iter().map(|e| fields::message(t, e)).collect()
            };
            again(errors)
        }
    }
}

#[derive(Template)]
#[template(path = "partner.html")]
struct PartnerHome {
    p: Page,
    offered: Vec<CaseClock>,
    working: Vec<CaseClock>,
    done: Vec<CaseClock>,
}

/// `GET /partner`: a service partner's cases — offered to it, in its hands, lately done.
pub async fn partner_home(State(store): State<Store>, u: WebUser) -> Response {
    let t = u.t();
    if u.actor.partner_id.is_none() {
        return super::error_page(t, StatusCode::FORBIDDEN, "");
    }
    let list = |filters: Vec<Filter>, sort: &'static str, desc: bool| {
        let store = store.clone();
        let actor = u.actor.clone();
        async move {
            let mut q = ListQuery::default().sort_by(sort, desc).limit(100);
            q.filters = filters;
            store.list::<Case>(&actor, &q).await.map(|p| p.items)
        }
    };
    let open = || Filter::new("status", Op::In, json!(["new", "open", "pending"]));
    let result = async {
        Ok::<_, guanxi_store::StoreError>((
            list(
                vec![open(), Filter::new("dispatch_status", Op::Eq, "offered")],
                "dispatch_offered_at",
                false,
            )
            .await?,
            list(
                vec![
                    open(),
                    Filter::new("dispatch_status", Op::In, json!(["accepted", "manual"])),
                ],
                "sla_due_at",
                false,
            )
            .await?,
            list(
                vec![Filter::new("status", Op::In, json!(["resolved", "closed"]))],
                "resolved_at",
                true,
            )
            .await?,
        ))
    };
    let (offered, working, done) = match result.await {
        Ok(r) => r,
        Err(e) => return Problem::from(e).into_response(),
    };
    let page = PartnerHome {
        p: u.page(t.s("partner.title")),
        offered: clocks(t, &offered),
        working: clocks(t, &working),
        done: clocks(t, &done),
    };
    shown(render(&page), &u)
}
