//! `/segments/new`, `/segments/{id}/edit` and `/segments/{id}`: segments are written in a
//! form (rows of conditions on the entity's fields, a contact's account's too, and rows of
//! related facts), counted live while edited, and shown with their members; a static
//! list is filled from a list page's selection or a spreadsheet, and emptied by hand.
//!
//! The form is a [`Draft`]: what the inputs hold, as text. A draft becomes the `Segment`
//! written through the one write path; the live count (`/segments/count`) maps the same
//! draft and asks `segments::preview`, so it refuses what a save refuses, naming the row.
//! Conditions and facts keep their rows' order, so an error's path (`conditions[2].value`,
//! `facts[0].within_days`) is the row it is shown beside.

use super::fields::{self, Choice, Names, Shown};
use super::i18n::Tr;
use super::names::Wanted;
use super::page::{self, FormData, Page, Posted, WebUser, render, render_status, shown};
use super::rules::{Errs, condition_words, options, row_of, text_of, type_of, typed};
use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use guanxi_app::AppError;
use guanxi_app::records as writes;
use guanxi_app::segments as use_case;
use guanxi_domain::custom::CustomFieldDef;
use guanxi_domain::entities::{
    ACCOUNT_PREFIX, Account, Campaign, ConsentChannel, Contact, Fact, Segment, SegmentKind,
    SegmentOf,
};
use guanxi_domain::entity::{EntityDef, FieldType};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Entity, FieldError, Id, Record, Right};
use guanxi_store::{Store, StoreError};
use serde_json::{Value, json};

/// Blank rows a form offers after the filled ones (the script adds more).
const BLANK_CONDITIONS: usize = 1;
const BLANK_FACTS: usize = 1;
/// Members a segment's page shows at a time.
const MEMBERS_PAGE: u32 = 50;
const FACT_KINDS: [&str; 5] = [
    "bought",
    "no_order_in",
    "opened_case",
    "in_campaign",
    "consent",
];

/// A condition row as typed.
#[derive(Clone, Default, Debug, PartialEq)]
struct CondDraft {
    field: String,
    op: String,
    value: String,
}

/// A fact row as typed: every input of every kind, so rows line up in the posted form.
#[derive(Clone, Default, Debug, PartialEq)]
struct FactDraft {
    kind: String,
    /// A product bought, by id (kept from a segment written through the API).
    product: String,
    sku: String,
    /// `within_days`, or a "no order in" fact's `days`.
    days: String,
    category: String,
    campaign: String,
    channel: String,
    /// `yes` or `no`.
    given: String,
}

/// The segment form's inputs, as text.
#[derive(Clone, Default, Debug, PartialEq)]
struct Draft {
    name: String,
    entity: String,
    kind: String,
    description: String,
    conditions: Vec<CondDraft>,
    facts: Vec<FactDraft>,
}

fn err(field: String, code: &'static str, message: &str) -> FieldError {
    FieldError {
        field,
        code,
        message: message.to_string(),
    }
}

/// The custom fields conditions may name: the contact's and its account's.
#[derive(Default)]
struct Customs {
    account: std::sync::Arc<Vec<CustomFieldDef>>,
    contact: std::sync::Arc<Vec<CustomFieldDef>>,
}

impl Customs {
    async fn load(store: &Store) -> Result<Customs, StoreError> {
        Ok(Customs {
            account: store.custom_fields(Account::DEF.name).await?,
            contact: store.custom_fields(Contact::DEF.name).await?,
        })
    }

    fn of(&self, def: &EntityDef) -> &[CustomFieldDef] {
        if def.name == Contact::DEF.name {
            &self.contact
        } else {
            &self.account
        }
    }
}

impl Draft {
    fn of_form(form: &FormData) -> Draft {
        let col = |name: &str| -> Vec<String> { form.all(name).map(|s| s.to_string()).collect() };
        let at = |v: &[String], i: usize| v.get(i).cloned().unwrap_or_default();
        let (cf, co, cv) = (col("c_field"), col("c_op"), col("c_value"));
        let conditions = (0..cf.len().max(cv.len()))
            .map(|i| CondDraft {
                field: at(&cf, i),
                op: at(&co, i),
                value: at(&cv, i),
            })
            .filter(|c| !c.field.trim().is_empty() || !c.value.trim().is_empty())
            .collect();
        let names = [
            "f_kind",
            "f_product",
            "f_sku",
            "f_days",
            "f_category",
            "f_campaign",
            "f_channel",
            "f_given",
        ];
        let cols: Vec<Vec<String>> = names.iter().map(|n| col(n)).collect();
        let facts = (0..cols[0].len())
            .map(|i| FactDraft {
                kind: at(&cols[0], i),
                product: at(&cols[1], i),
                sku: at(&cols[2], i),
                days: at(&cols[3], i),
                category: at(&cols[4], i),
                campaign: at(&cols[5], i),
                channel: at(&cols[6], i),
                given: at(&cols[7], i),
            })
            .filter(|f| !f.kind.is_empty())
            .collect();
        Draft {
            name: form.get("name").unwrap_or("").to_string(),
            entity: form.text("entity").to_string(),
            kind: form.text("kind").to_string(),
            description: form.get("description").unwrap_or("").to_string(),
            conditions,
            facts,
        }
    }

    fn of_segment(s: &Segment) -> Draft {
        let days = |d: &Option<u32>| d.map(|d| d.to_string()).unwrap_or_default();
        Draft {
            name: s.name.clone(),
            entity: s.entity.as_str().to_string(),
            kind: s.kind.as_str().to_string(),
            description: s.description.clone().unwrap_or_default(),
            conditions: s
                .conditions
                .iter()
                .map(|c| CondDraft {
                    field: c.field.clone(),
                    op: c.op.as_str().to_string(),
                    value: text_of(&c.value),
                })
                .collect(),
            facts: s
                .facts
                .iter()
                .map(|f| match f {
                    Fact::Bought {
                        product_id,
                        sku,
                        within_days,
                    } => FactDraft {
                        kind: "bought".into(),
                        product: product_id.map(|i| i.to_string()).unwrap_or_default(),
                        sku: sku.clone().unwrap_or_default(),
                        days: days(within_days),
                        ..FactDraft::default()
                    },
                    Fact::NoOrderIn { days: d } => FactDraft {
                        kind: "no_order_in".into(),
                        days: d.to_string(),
                        ..FactDraft::default()
                    },
                    Fact::OpenedCase {
                        category,
                        within_days,
                    } => FactDraft {
                        kind: "opened_case".into(),
                        category: category.clone().unwrap_or_default(),
                        days: days(within_days),
                        ..FactDraft::default()
                    },
                    Fact::InCampaign { campaign_id } => FactDraft {
                        kind: "in_campaign".into(),
                        campaign: campaign_id.to_string(),
                        ..FactDraft::default()
                    },
                    Fact::Consent { channel, given } => FactDraft {
                        kind: "consent".into(),
                        channel: channel.as_str().to_string(),
                        given: if *given { "yes" } else { "no" }.into(),
                        ..FactDraft::default()
                    },
                })
                .collect(),
        }
    }

    fn entity(&self) -> SegmentOf {
        self.entity.parse().unwrap_or(SegmentOf::Account)
    }

    /// The segment this draft describes, or what could not be read from it (a number of
    /// days that is no number, a row without its field); the rest is the `Segment`'s own
    /// validation's to say.
    fn segment(&self, customs: &Customs) -> Result<Segment, Vec<FieldError>> {
        let mut errors = vec![];
        let entity = match self.entity.parse::<SegmentOf>() {
            Ok(e) => e,
            Err(_) => {
                errors.push(err("entity".into(), "required", ""));
                SegmentOf::Account
            }
        };
        let mut s = Segment::new(self.name.clone(), entity);
        s.kind = self.kind.parse().unwrap_or(SegmentKind::Dynamic);
        let desc = self.description.trim();
        s.description = (!desc.is_empty()).then(|| desc.to_string());
        for (i, c) in self.conditions.iter().enumerate() {
            let field = c.field.trim();
            if field.is_empty() {
                errors.push(err(format!("conditions[{i}].field"), "required", ""));
                continue;
            }
            let Ok(op) = c.op.parse::<Op>() else {
                errors.push(err(format!("conditions[{i}].op"), "required", ""));
                continue;
            };
            let (def, f) = s.condition_target(field);
            let ty = type_of(def, customs.of(def), f);
            let value = match op {
                Op::In => Value::Array(
                    c.value
                        .split([',', '，'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| typed(ty, s))
                        .collect(),
                ),
                Op::IsNull if c.value.trim().is_empty() => json!(true),
                Op::IsNull => typed(Some(FieldType::Bool), &c.value),
                _ => typed(ty, &c.value),
            };
            s.conditions.push(Filter::new(field, op, value));
        }
        for (i, f) in self.facts.iter().enumerate() {
            match fact_of(f, &format!("facts[{i}]")) {
                Ok(fact) => s.facts.push(fact),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(s)
        } else {
            Err(errors)
        }
    }
}

fn fact_of(f: &FactDraft, path: &str) -> Result<Fact, FieldError> {
    let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let days = |name: &str| -> Result<Option<u32>, FieldError> {
        match f.days.trim() {
            "" => Ok(None),
            d => d
                .parse::<u32>()
                .map(Some)
                .map_err(|_| err(format!("{path}.{name}"), "not_a_whole_number", "")),
        }
    };
    Ok(match f.kind.as_str() {
        "bought" => Fact::Bought {
            product_id: some(&f.product).and_then(|p| Id::parse(&p).ok()),
            sku: some(&f.sku),
            within_days: days("within_days")?,
        },
        "no_order_in" => Fact::NoOrderIn {
            days: days("days")?.ok_or_else(|| err(format!("{path}.days"), "required", ""))?,
        },
        "opened_case" => Fact::OpenedCase {
            category: some(&f.category),
            within_days: days("within_days")?,
        },
        "in_campaign" => Fact::InCampaign {
            campaign_id: Id::parse(f.campaign.trim())
                .map_err(|_| err(format!("{path}.campaign_id"), "required", ""))?,
        },
        "consent" => Fact::Consent {
            channel: f
                .channel
                .parse()
                .map_err(|_| err(format!("{path}.channel"), "required", ""))?,
            given: f.given != "no",
        },
        _ => return Err(err(format!("{path}.kind"), "invalid", "")),
    })
}

/// Where each error goes: the segment's own inputs, a condition row's, a fact row's, or
/// the list above the form when no input is its.
struct Placed {
    top: Errs,
    conditions: Vec<Errs>,
    facts: Vec<Errs>,
    general: Vec<String>,
}

fn place(t: Tr, errors: &[FieldError], draft: &Draft) -> Placed {
    let mut p = Placed {
        top: Errs::default(),
        conditions: draft.conditions.iter().map(|_| Errs::default()).collect(),
        facts: draft.facts.iter().map(|_| Errs::default()).collect(),
        general: vec![],
    };
    for e in errors {
        let msg = fields::message(t, e);
        let f = e.field.as_str();
        if let Some((i, part)) = row_of(f, "conditions")
            && let Some(errs) = p.conditions.get_mut(i)
        {
            let key = if matches!(part, "op" | "value") {
                part
            } else {
                "field"
            };
            errs.add(key, msg);
        } else if let Some((i, part)) = row_of(f, "facts")
            && let Some(errs) = p.facts.get_mut(i)
        {
            let key = match part {
                "sku" | "product_id" => "sku",
                "within_days" | "days" => "days",
                "category" => "category",
                "campaign_id" => "campaign",
                "channel" => "channel",
                "given" => "given",
                _ => "kind",
            };
            errs.add(key, msg);
        } else if matches!(
            f,
            "name" | "entity" | "kind" | "description" | "conditions" | "facts"
        ) {
            p.top.add(f, msg);
        } else if f.is_empty() || f == "." {
            p.general.push(msg);
        } else {
            p.general.push(format!("{f}: {msg}"));
        }
    }
    p
}

/// The fields a segment of `def` may filter on, as (value, label): its own (the analytics
/// outputs among them), its owner, its custom fields, and for contacts the account's
/// fields as `account.<field>`, labelled "客户 · 等级". Fields the reader sees masked are
/// left out: a segment may not tell their values apart.
fn field_choices(t: Tr, actor: &Actor, of: SegmentOf, customs: &Customs) -> Vec<(String, String)> {
    let own = |def: &'static EntityDef, prefix: &str, label_prefix: &str| {
        let custom = customs.of(def);
        let mut out: Vec<(String, String)> = def
            .fields
            .iter()
            .filter(|f| f.ty != FieldType::Json)
            .map(|f| f.name.to_string())
            .chain(std::iter::once("owner_id".to_string()))
            .chain(custom.iter().map(|c| format!("custom.{}", c.key)))
            .filter(|f| {
                actor.role.see_sensitive || !guanxi_app::access::is_sensitive(def, custom, f)
            })
            .map(|f| {
                let label = super::rules::label_of(t, def, custom, &f);
                (format!("{prefix}{f}"), format!("{label_prefix}{label}"))
            })
            .collect();
        if prefix.is_empty() {
            out.sort_by_key(|(v, _)| v.starts_with("custom."));
        }
        out
    };
    match of {
        SegmentOf::Account => own(Account::DEF, "", ""),
        SegmentOf::Contact => {
            let mut out = own(Contact::DEF, "", "");
            let label = format!("{} · ", t.entity_one(Account::DEF.name));
            out.extend(
                own(Account::DEF, ACCOUNT_PREFIX, &label)
                    .into_iter()
                    .filter(|(v, _)| !v.starts_with("account.custom.")),
            );
            out
        }
    }
}

struct CondRow {
    fields: Vec<Choice>,
    ops: Vec<Choice>,
    value: String,
    errs: Errs,
}

struct FactRow {
    kinds: Vec<Choice>,
    product: String,
    sku: String,
    days: String,
    category: String,
    campaigns: Vec<Choice>,
    channels: Vec<Choice>,
    given: Vec<Choice>,
    errs: Errs,
}

#[derive(Template)]
#[template(path = "segment_form.html")]
struct FormPage {
    p: Page,
    heading: String,
    action: String,
    cancel: String,
    version: Option<i64>,
    conflict: bool,
    general: Vec<String>,
    errs: Errs,
    name: String,
    entities: Vec<Choice>,
    kinds: Vec<Choice>,
    description: String,
    conditions: Vec<CondRow>,
    facts: Vec<FactRow>,
    /// What the "Count" button (the live count without script) found.
    count: Option<String>,
    /// The field lists of accounts and contacts, for the script to swap in when the
    /// segment's entity changes: (entity, [(value, label)]).
    field_lists: Vec<(String, Vec<(String, String)>)>,
}

fn labelled(t: Tr, prefix: &str, keys: &[&str]) -> Vec<(String, String)> {
    keys.iter()
        .map(|k| (k.to_string(), t.s(&format!("{prefix}.{k}")).to_string()))
        .collect()
}

/// The campaigns a fact may name, newest first.
async fn campaigns(store: &Store, actor: &Actor) -> Vec<(String, String)> {
    let q = ListQuery::default().sort_by("id", true).limit(500);
    store
        .list::<Campaign>(actor, &q)
        .await
        .map(|p| {
            p.items
                .into_iter()
                .map(|r| (r.meta.id.to_string(), r.data.name))
                .collect()
        })
        .unwrap_or_default()
}

async fn form_page(
    store: &Store,
    u: &WebUser,
    draft: &Draft,
    errors: &[FieldError],
    existing: Option<(Id, i64)>,
) -> Result<FormPage, StoreError> {
    let t = u.t();
    let customs = Customs::load(store).await?;
    let of = draft.entity();
    let field_lists: Vec<(String, Vec<(String, String)>)> = SegmentOf::VALUES
        .iter()
        .filter_map(|e| e.parse::<SegmentOf>().ok())
        .map(|e| {
            (
                e.as_str().to_string(),
                field_choices(t, &u.actor, e, &customs),
            )
        })
        .collect();
    let cond_fields = &field_lists
        .iter()
        .find(|(e, _)| e == of.as_str())
        .expect("both entities")
        .1;
    let ops: Vec<(String, String)> = Op::VALUES
        .iter()
        .map(|o| (o.to_string(), t.s(&format!("op.{o}")).to_string()))
        .collect();
    let kinds = labelled(t, "segment_form.fact", &FACT_KINDS);
    let channels: Vec<(String, String)> = ConsentChannel::VALUES
        .iter()
        .map(|c| {
            (
                c.to_string(),
                t.s(&format!("segment_form.channel.{c}")).to_string(),
            )
        })
        .collect();
    let given = vec![
        ("yes".to_string(), t.yes_no(true).to_string()),
        ("no".to_string(), t.yes_no(false).to_string()),
    ];
    let camps = campaigns(store, &u.actor).await;
    let placed = place(t, errors, draft);
    let cond_row = |c: &CondDraft, errs: Errs| CondRow {
        fields: options(cond_fields, &c.field),
        ops: options(&ops, if c.op.is_empty() { "eq" } else { c.op.as_str() }),
        value: c.value.clone(),
        errs,
    };
    let fact_row = |f: &FactDraft, errs: Errs| FactRow {
        kinds: options(&kinds, &f.kind),
        product: f.product.clone(),
        sku: f.sku.clone(),
        days: f.days.clone(),
        category: f.category.clone(),
        campaigns: options(&camps, &f.campaign),
        channels: options(&channels, &f.channel),
        given: options(&given, if f.given.is_empty() { "yes" } else { &f.given }),
        errs,
    };
    let mut conditions: Vec<CondRow> = draft
        .conditions
        .iter()
        .zip(placed.conditions)
        .map(|(c, e)| cond_row(c, e))
        .collect();
    conditions
        .extend((0..BLANK_CONDITIONS).map(|_| cond_row(&CondDraft::default(), Errs::default())));
    let mut facts: Vec<FactRow> = draft
        .facts
        .iter()
        .zip(placed.facts)
        .map(|(f, e)| fact_row(f, e))
        .collect();
    facts.extend((0..BLANK_FACTS).map(|_| fact_row(&FactDraft::default(), Errs::default())));
    let entity_choices: Vec<(String, String)> = SegmentOf::VALUES
        .iter()
        .map(|v| (v.to_string(), t.choice("segment", "entity", v)))
        .collect();
    let kind_choices: Vec<(String, String)> = SegmentKind::VALUES
        .iter()
        .map(|v| (v.to_string(), t.choice("segment", "kind", v)))
        .collect();
    let (heading, action, cancel, version) = match existing {
        Some((id, v)) => (
            format!("{} · {}", t.s("common.edit"), draft.name),
            format!("/segments/{id}/edit"),
            format!("/segments/{id}"),
            Some(v),
        ),
        None => (
            t.f("form.new", &[("entity", t.entity_one("segment"))]),
            "/segments/new".to_string(),
            "/segments".to_string(),
            None,
        ),
    };
    Ok(FormPage {
        p: u.page(heading.clone()),
        heading,
        action,
        cancel,
        version,
        conflict: false,
        general: placed.general,
        errs: placed.top,
        name: draft.name.clone(),
        entities: options(&entity_choices, of.as_str()),
        kinds: options(
            &kind_choices,
            if draft.kind.is_empty() {
                "dynamic"
            } else {
                &draft.kind
            },
        ),
        description: draft.description.clone(),
        conditions,
        facts,
        count: None,
        field_lists,
    })
}

fn problem(e: impl Into<crate::Problem>) -> Response {
    e.into().into_response()
}

fn not_allowed(u: &WebUser, right: Right) -> Option<Response> {
    (!u.may(Segment::DEF.name, right)).then(|| super::error_page(u.t(), StatusCode::FORBIDDEN, ""))
}

fn not_found(u: &WebUser) -> Response {
    super::error_page(u.t(), StatusCode::NOT_FOUND, "")
}

/// Show the form again with what was typed and why it was refused.
async fn refused(
    store: &Store,
    u: &WebUser,
    draft: &Draft,
    e: AppError,
    existing: Option<(Id, i64)>,
) -> Response {
    let problem = crate::Problem::from(e);
    let mut errors = problem.errors.clone();
    if errors.is_empty() {
        errors.push(err(String::new(), "refused", &problem.detail));
    }
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    match form_page(store, u, draft, &errors, existing).await {
        Ok(page) => render_status(status, &page),
        Err(e) => self::problem(e),
    }
}

/// The count of a draft in words, or the refusal a save would give.
async fn preview(store: &Store, u: &WebUser, draft: &Draft) -> Result<i64, AppError> {
    let customs = Customs::load(store).await?;
    let s = draft
        .segment(&customs)
        .map_err(|e| AppError::Invalid(guanxi_domain::ValidationErrors(e)))?;
    use_case::preview(store, &u.actor, s).await
}

fn count_text(t: Tr, n: i64) -> String {
    t.f("segment_form.count", &[("count", &t.int(n))])
}

/// "Count" without script: the same form again with the count, or with why it cannot be
/// counted beside the row.
async fn with_count(
    store: &Store,
    u: &WebUser,
    draft: &Draft,
    existing: Option<(Id, i64)>,
) -> Response {
    match preview(store, u, draft).await {
        Ok(n) => match form_page(store, u, draft, &[], existing).await {
            Ok(mut page) => {
                page.count = Some(count_text(u.t(), n));
                render(&page)
            }
            Err(e) => problem(e),
        },
        Err(e) => refused(store, u, draft, e, existing).await,
    }
}

/// `GET /segments/new?entity=contact&kind=static`
pub async fn new_form(State(store): State<Store>, u: WebUser, RawQuery(raw): RawQuery) -> Response {
    if let Some(r) = not_allowed(&u, Right::Create) {
        return r;
    }
    let q = FormData::parse(raw.unwrap_or_default().as_bytes());
    let draft = Draft {
        entity: q.text("entity").to_string(),
        kind: q.text("kind").to_string(),
        ..Draft::default()
    };
    match form_page(&store, &u, &draft, &[], None).await {
        Ok(p) => render(&p),
        Err(e) => problem(e),
    }
}

fn json_of(s: &Segment) -> Value {
    serde_json::to_value(s).unwrap_or_default()
}

/// `POST /segments/new`
pub async fn create(State(store): State<Store>, Posted { user: u, form }: Posted) -> Response {
    if let Some(r) = not_allowed(&u, Right::Create) {
        return r;
    }
    let draft = Draft::of_form(&form);
    if form.text("action") == "count" {
        return with_count(&store, &u, &draft, None).await;
    }
    let customs = match Customs::load(&store).await {
        Ok(c) => c,
        Err(e) => return problem(e),
    };
    let s = match draft.segment(&customs) {
        Ok(s) => s,
        Err(errors) => {
            let e = AppError::Invalid(guanxi_domain::ValidationErrors(errors));
            return refused(&store, &u, &draft, e, None).await;
        }
    };
    match writes::create::<Segment>(&store, &u.actor, json_of(&s)).await {
        Ok(r) => page::done(&format!("/segments/{}", r.meta.id), u.t().s("form.created")),
        Err(e) => refused(&store, &u, &draft, e, None).await,
    }
}

/// `GET /segments/{id}/edit`
pub async fn edit_form(State(store): State<Store>, u: WebUser, Path(id): Path<String>) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return not_found(&u);
    };
    let r = match store.get::<Segment>(&u.actor, id).await {
        Ok(r) => r,
        Err(e) => return problem(e),
    };
    if let Some(r) = not_allowed(&u, Right::Update) {
        return r;
    }
    let draft = Draft::of_segment(&r.data);
    match form_page(&store, &u, &draft, &[], Some((id, r.meta.version))).await {
        Ok(p) => render(&p),
        Err(e) => problem(e),
    }
}

/// `POST /segments/{id}/edit`: saved only onto the version the form was opened at; if
/// someone saved meanwhile, the form comes back with what this user typed, saying so, and
/// saving again replaces theirs.
pub async fn save(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return not_found(&u);
    };
    if let Some(r) = not_allowed(&u, Right::Update) {
        return r;
    }
    let version: i64 = form.text("_version").parse().unwrap_or(0);
    let draft = Draft::of_form(&form);
    if form.text("action") == "count" {
        return with_count(&store, &u, &draft, Some((id, version))).await;
    }
    let customs = match Customs::load(&store).await {
        Ok(c) => c,
        Err(e) => return problem(e),
    };
    let s = match draft.segment(&customs) {
        Ok(s) => s,
        Err(errors) => {
            let e = AppError::Invalid(guanxi_domain::ValidationErrors(errors));
            return refused(&store, &u, &draft, e, Some((id, version))).await;
        }
    };
    // The whole segment is replaced: every part is named (a description left empty is
    // `null`, which removes it).
    match writes::patch::<Segment>(&store, &u.actor, id, version, json_of(&s)).await {
        Ok(_) => page::done(&format!("/segments/{id}"), u.t().s("form.saved")),
        Err(AppError::Store(StoreError::Conflict { .. })) => {
            let current = match store.get::<Segment>(&u.actor, id).await {
                Ok(r) => r,
                Err(e) => return problem(e),
            };
            match form_page(&store, &u, &draft, &[], Some((id, current.meta.version))).await {
                Ok(mut page) => {
                    page.conflict = true;
                    render_status(StatusCode::CONFLICT, &page)
                }
                Err(e) => problem(e),
            }
        }
        Err(e) => refused(&store, &u, &draft, e, Some((id, version))).await,
    }
}

/// `GET /segments/count?<the form's inputs>`: the live count of the segment being edited,
/// `{"count": n, "text": "约 n 位"}`, or `{"error": "…", "field": "conditions[0].value"}`
/// naming the row a save would refuse.
pub async fn count(State(store): State<Store>, u: WebUser, RawQuery(raw): RawQuery) -> Response {
    let t = u.t();
    let form = FormData::parse(raw.unwrap_or_default().as_bytes());
    let mut draft = Draft::of_form(&form);
    // A segment is counted before it is named: the name is the save's to ask for.
    if draft.name.trim().is_empty() {
        draft.name = "-".into();
    }
    match preview(&store, &u, &draft).await {
        Ok(n) => Json(json!({ "count": n, "text": count_text(t, n) })).into_response(),
        Err(e) => {
            let p = crate::Problem::from(e);
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
            let (field, error) = match p.errors.first() {
                Some(e) => (e.field.clone(), fields::message(t, e)),
                None => (String::new(), p.detail.clone()),
            };
            let status = if status.is_server_error() {
                status
            } else {
                StatusCode::OK
            };
            (status, Json(json!({ "error": error, "field": field }))).into_response()
        }
    }
}

struct Member {
    id: Id,
    href: String,
    title: String,
    cells: Vec<Shown>,
}

struct Unmatched {
    row: u64,
    reason: String,
}

struct Imported {
    summary: String,
    unmatched: Vec<Unmatched>,
}

#[derive(Template)]
#[template(path = "segment.html")]
struct SegmentPage {
    p: Page,
    id: Id,
    version: i64,
    heading: String,
    entity: String,
    kind: String,
    is_static: bool,
    description: String,
    /// The conditions and facts in words.
    conditions: Vec<String>,
    count: Option<String>,
    error: Option<String>,
    columns: Vec<String>,
    members: Vec<Member>,
    next_href: Option<String>,
    first_href: Option<String>,
    can_update: bool,
    can_delete: bool,
    imported: Option<Imported>,
}

/// A fact in words: "买过 SKU-1（近 90 天内）".
fn fact_words(t: Tr, f: &Fact, names: &Names) -> String {
    let within = |d: &Option<u32>| {
        d.map(|d| t.f("segment_form.w_within", &[("days", &d.to_string())]))
            .unwrap_or_default()
    };
    match f {
        Fact::Bought {
            product_id,
            sku,
            within_days,
        } => {
            let what = sku.clone().unwrap_or_else(|| {
                product_id
                    .map(|p| super::rules::name_of(names, &p))
                    .unwrap_or_default()
            });
            format!(
                "{}{}",
                t.f("segment_form.w_bought", &[("what", &what)]),
                within(within_days)
            )
        }
        Fact::NoOrderIn { days } => {
            t.f("segment_form.w_no_order_in", &[("days", &days.to_string())])
        }
        Fact::OpenedCase {
            category,
            within_days,
        } => {
            let head = match category {
                Some(c) => t.f("segment_form.w_opened_case_of", &[("category", c)]),
                None => t.s("segment_form.w_opened_case").to_string(),
            };
            format!("{head}{}", within(within_days))
        }
        Fact::InCampaign { campaign_id } => t.f(
            "segment_form.w_in_campaign",
            &[("name", &super::rules::name_of(names, campaign_id))],
        ),
        Fact::Consent { channel, given } => t.f(
            "segment_form.w_consent",
            &[
                (
                    "channel",
                    t.s(&format!("segment_form.channel.{}", channel.as_str())),
                ),
                ("given", t.yes_no(*given)),
            ],
        ),
    }
}

/// The segment's conditions and facts in words.
async fn words(store: &Store, u: &WebUser, s: &Segment) -> Vec<String> {
    let t = u.t();
    let customs = Customs::load(store).await.unwrap_or_default();
    let mut wanted = Wanted::default();
    for f in &s.facts {
        match f {
            Fact::Bought {
                product_id: Some(p),
                ..
            } => wanted.add("products", &Value::String(p.to_string())),
            Fact::InCampaign { campaign_id } => {
                wanted.add("campaigns", &Value::String(campaign_id.to_string()))
            }
            _ => {}
        }
    }
    let names = wanted.resolve(store, &u.actor).await;
    let mut out: Vec<String> = s
        .conditions
        .iter()
        .map(|c| {
            let (def, field) = s.condition_target(&c.field);
            let on = Filter {
                field: field.to_string(),
                ..c.clone()
            };
            let w = condition_words(t, def, customs.of(def), &on);
            if field.len() == c.field.len() {
                w
            } else {
                format!("{} · {w}", t.entity_one(def.name))
            }
        })
        .collect();
    out.extend(s.facts.iter().map(|f| fact_words(t, f, &names)));
    out
}

async fn segment_page(
    store: &Store,
    u: &WebUser,
    seg: &Record<Segment>,
    cursor: Option<String>,
    imported: Option<Imported>,
) -> Response {
    let t = u.t();
    let id = seg.meta.id;
    let s = &seg.data;
    let def = s.def();
    let mut error = None;
    let count = match use_case::count(store, &u.actor, id).await {
        Ok(n) => Some(count_text(t, n)),
        Err(e) => {
            error = Some(crate::Problem::from(e).detail);
            None
        }
    };
    let q = ListQuery {
        cursor: cursor.clone(),
        limit: MEMBERS_PAGE,
        ..ListQuery::default()
    };
    let page = match use_case::members(store, &u.actor, seg, &q).await {
        Ok(p) => Some(p),
        Err(e) => {
            error.get_or_insert(crate::Problem::from(e).detail);
            None
        }
    };
    let (items, next) = page.map_or((vec![], None), |p| (p.items, p.next_cursor));
    let shown_fields: Vec<_> = def
        .list_columns
        .iter()
        .filter_map(|k| def.field(k))
        .take(5)
        .collect();
    let mut wanted = Wanted::default();
    for j in &items {
        wanted.record(def, j);
    }
    let names = wanted.resolve(store, &u.actor).await;
    let members = items
        .iter()
        .filter_map(|j| {
            let mid = Id::parse(j["id"].as_str()?).ok()?;
            Some(Member {
                id: mid,
                href: fields::href_of(def.table, &mid.to_string()),
                title: def.title_of(j),
                cells: shown_fields
                    .iter()
                    .map(|f| fields::show(t, def.name, f, j, &names))
                    .collect(),
            })
        })
        .collect();
    let next_href = next.map(|c| {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("cursor", &c)
            .finish();
        format!("/segments/{id}?{q}")
    });
    let page = SegmentPage {
        p: u.page(s.name.clone()),
        id,
        version: seg.meta.version,
        heading: format!("{} · {}", t.entity_one("segment"), s.name),
        entity: t.choice("segment", "entity", s.entity.as_str()),
        kind: t.choice("segment", "kind", s.kind.as_str()),
        is_static: s.kind == SegmentKind::Static,
        description: s.description.clone().unwrap_or_default(),
        conditions: words(store, u, s).await,
        count,
        error,
        columns: shown_fields
            .iter()
            .map(|f| t.field(def.name, f.name).to_string())
            .collect(),
        members,
        next_href,
        first_href: cursor.map(|_| format!("/segments/{id}")),
        can_update: u.may(Segment::DEF.name, Right::Update),
        can_delete: u.may(Segment::DEF.name, Right::Delete),
        imported,
    };
    shown(render(&page), u)
}

/// `GET /segments/{id}?cursor=`: the segment in words, its count and a page of members.
pub async fn show(
    State(store): State<Store>,
    u: WebUser,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return not_found(&u);
    };
    let seg = match store.get::<Segment>(&u.actor, id).await {
        Ok(r) => r,
        Err(e) => return problem(e),
    };
    let q = FormData::parse(raw.unwrap_or_default().as_bytes());
    let cursor = q
        .get("cursor")
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    segment_page(&store, &u, &seg, cursor, None).await
}

/// One part of a `multipart/form-data` body.
struct Part {
    name: String,
    file_name: Option<String>,
    data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The parts of a `multipart/form-data` body (the one upload form the pages have).
fn multipart(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delim = format!("--{boundary}").into_bytes();
    let next_delim = [b"\r\n".as_slice(), &delim].concat();
    let mut pos = find(body, &delim, 0)? + delim.len();
    let mut parts = vec![];
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Some(parts);
        }
        if body.get(pos..pos + 2) == Some(b"\r\n") {
            pos += 2;
        }
        let head_end = find(body, b"\r\n\r\n", pos)?;
        let head = String::from_utf8_lossy(&body[pos..head_end]);
        let end = find(body, &next_delim, head_end + 4)?;
        let param = |key: &str| {
            head.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?
                .split(';')
                .find_map(|p| p.trim().strip_prefix(&format!("{key}=")))
                .map(|v| v.trim_matches('"').to_string())
        };
        parts.push(Part {
            name: param("name")?,
            file_name: param("filename"),
            data: body[head_end + 4..end].to_vec(),
        });
        pos = end + next_delim.len();
    }
}

/// `POST /segments/{id}/import` (a multipart form: the CSRF token and a CSV or XLSX file):
/// the records the spreadsheet names put into the static list, the page shown again with
/// what was matched, added and left out.
pub async fn import(
    State(store): State<Store>,
    u: WebUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !page::same_origin(&headers) {
        return page::forbidden_form(u.lang);
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parts = multipart(ct, &body).unwrap_or_default();
    let csrf = parts
        .iter()
        .find(|p| p.name == "_csrf")
        .map(|p| String::from_utf8_lossy(&p.data).to_string());
    if csrf.as_deref() != Some(u.csrf.as_str()) {
        return page::forbidden_form(u.lang);
    }
    let Ok(id) = Id::parse(&id) else {
        return not_found(&u);
    };
    let t = u.t();
    let file = parts.into_iter().find(|p| p.name == "file");
    let result = match file {
        Some(f) if !f.data.is_empty() => {
            let name = f.file_name.unwrap_or_else(|| "list.csv".into());
            use_case::import_into_list(&store, &u.actor, id, &name, f.data).await
        }
        _ => Err(AppError::invalid("file", t.s("segment_form.no_file"))),
    };
    let imported = match result {
        Ok(r) => Imported {
            summary: t.f(
                "segment_form.imported",
                &[
                    ("matched", &r.matched.to_string()),
                    ("added", &r.added.to_string()),
                    ("unmatched", &r.unmatched.len().to_string()),
                ],
            ),
            unmatched: r
                .unmatched
                .into_iter()
                .map(|u| Unmatched {
                    row: u.row,
                    reason: u.reason,
                })
                .collect(),
        },
        Err(e) => {
            let p = crate::Problem::from(e);
            let why = p
                .errors
                .first()
                .map(|e| fields::message(t, e))
                .unwrap_or(p.detail);
            Imported {
                summary: t.f("segment_form.import_refused", &[("why", &why)]),
                unmatched: vec![],
            }
        }
    };
    let seg = match store.get::<Segment>(&u.actor, id).await {
        Ok(r) => r,
        Err(e) => return problem(e),
    };
    segment_page(&store, &u, &seg, None, Some(imported)).await
}

/// The ids a form's checked rows carry (`sel`: `id` or `id:version`).
fn selected(form: &FormData) -> Vec<Id> {
    form.all("sel")
        .filter_map(|s| Id::parse(s.split(':').next().unwrap_or("")).ok())
        .collect()
}

/// `POST /segments/{id}/remove`: the checked members taken out of the static list.
pub async fn remove(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return not_found(&u);
    };
    let ids = selected(&form);
    match store.remove_from_list(&u.actor, id, &ids).await {
        Ok(n) => page::done(
            &format!("/segments/{id}"),
            &u.t()
                .f("segment_form.removed", &[("count", &n.to_string())]),
        ),
        Err(e) => problem(e),
    }
}

/// The static lists of `entity` the user may put records in, for a list page's bulk
/// action "Add to list".
pub async fn list_choices(store: &Store, u: &WebUser, entity: &str) -> Vec<Choice> {
    if !u.may(Segment::DEF.name, Right::Update) || !matches!(entity, "account" | "contact") {
        return vec![];
    }
    let q = ListQuery::default()
        .filter(Filter::new("kind", Op::Eq, "static"))
        .filter(Filter::new("entity", Op::Eq, entity))
        .sort_by("name", false)
        .limit(500);
    match store.list::<Segment>(&u.actor, &q).await {
        Ok(p) => p
            .items
            .into_iter()
            .map(|r| Choice {
                value: r.meta.id.to_string(),
                label: r.data.name,
                selected: false,
            })
            .collect(),
        Err(e) => {
            tracing::warn!("listing static lists failed: {e}");
            vec![]
        }
    }
}

/// A list page's bulk action "Add to list": the checked rows put in the chosen static list.
pub async fn bulk_add(store: &Store, u: &WebUser, form: &FormData, back: &str) -> Response {
    let t = u.t();
    let Ok(list) = Id::parse(form.text("list_id")) else {
        return page::done(back, t.s("segment_form.choose_list"));
    };
    let ids = selected(form);
    let notice = match store.add_to_list(&u.actor, list, &ids).await {
        Ok(added) => t.f(
            "segment_form.added",
            &[
                ("added", &added.to_string()),
                ("already", &(ids.len() - added.min(ids.len())).to_string()),
            ],
        ),
        Err(e) => t.f(
            "segment_form.import_refused",
            &[("why", &crate::Problem::from(e).detail)],
        ),
    };
    page::done(back, &notice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> FormData {
        FormData(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_form_becomes_the_segment_and_back() {
        let f = form(&[
            ("name", "高价值"),
            ("entity", "contact"),
            ("kind", "dynamic"),
            ("c_field", "account.churn_risk"),
            ("c_op", "ge"),
            ("c_value", "0.5"),
            ("c_field", "title"),
            ("c_op", "in"),
            ("c_value", "经理，总监"),
            ("c_field", ""),
            ("c_op", "eq"),
            ("c_value", ""),
            ("f_kind", "bought"),
            ("f_product", ""),
            ("f_sku", " SKU-1 "),
            ("f_days", "90"),
            ("f_category", ""),
            ("f_campaign", ""),
            ("f_channel", "email"),
            ("f_given", "yes"),
            ("f_kind", "consent"),
            ("f_product", ""),
            ("f_sku", ""),
            ("f_days", ""),
            ("f_category", ""),
            ("f_campaign", ""),
            ("f_channel", "sms"),
            ("f_given", "no"),
            ("f_kind", ""),
            ("f_product", ""),
            ("f_sku", ""),
            ("f_days", ""),
            ("f_category", ""),
            ("f_campaign", ""),
            ("f_channel", "email"),
            ("f_given", "yes"),
        ]);
        let d = Draft::of_form(&f);
        assert_eq!((d.conditions.len(), d.facts.len()), (2, 2));
        let s = d.segment(&Customs::default()).unwrap();
        assert_eq!(s.conditions[0].value, json!(0.5));
        assert_eq!(s.conditions[1].value, json!(["经理", "总监"]));
        assert_eq!(
            s.facts[0],
            Fact::Bought {
                product_id: None,
                sku: Some("SKU-1".into()),
                within_days: Some(90)
            }
        );
        assert_eq!(
            s.facts[1],
            Fact::Consent {
                channel: ConsentChannel::Sms,
                given: false
            }
        );
        let back = Draft::of_segment(&s);
        assert_eq!(back.facts[1].given, "no");
        assert_eq!(back.conditions[1].value, "经理, 总监");
    }

    #[test]
    fn what_cannot_be_read_is_named_by_row() {
        let f = form(&[
            ("name", "x"),
            ("entity", "account"),
            ("f_kind", "no_order_in"),
            ("f_days", "ninety"),
            ("f_kind", "in_campaign"),
            ("f_days", ""),
        ]);
        let errors = Draft::of_form(&f).segment(&Customs::default()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["facts[0].days", "facts[1].campaign_id"]);
    }

    #[test]
    fn a_multipart_body_is_read() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\nabc\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"l.csv\"\r\nContent-Type: text/csv\r\n\r\nemail\r\na@b.cn\r\n\r\n--XyZ--\r\n";
        let parts = multipart("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].data, b"abc");
        assert_eq!(parts[1].file_name.as_deref(), Some("l.csv"));
        assert_eq!(parts[1].data, b"email\r\na@b.cn\r\n");
    }
}
