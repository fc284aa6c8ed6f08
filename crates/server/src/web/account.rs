//! The 360° pages: everything about one customer (or one person) on one page, with a
//! composer to log a call, visit, WeChat message, note or task in two clicks.

use super::fields::{self, Names, Shown};
use super::i18n::Tr;
use super::names::Wanted;
use super::page::{self, Page, Posted, WebUser, shown};
use super::records::{ChangeRow, change_rows, facts, rows_of_changes};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use guanxi_app::access;
use guanxi_domain::entities::{Account, Case, Contact, Interaction, Opportunity, Order};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Entity, Id, Record, Right};
use guanxi_store::Store;
use serde_json::Value;

/// One line of a list of related records: a link and a few facts.
pub struct Line {
    pub href: String,
    pub title: String,
    pub facts: Vec<String>,
}

fn lines<T: Entity>(t: Tr, items: &[Value], cols: &[&str], names: &Names) -> Vec<Line> {
    let def = T::DEF;
    items
        .iter()
        .map(|j| Line {
            href: fields::href_of(def.table, j["id"].as_str().unwrap_or("")),
            title: def.title_of(j),
            facts: cols
                .iter()
                .filter_map(|c| def.field(c))
                .map(|f| fields::show(t, def.name, f, j, names).text)
                .filter(|s| !s.is_empty())
                .collect(),
        })
        .collect()
}

/// One entry of the timeline.
pub struct Entry {
    pub at: String,
    /// `interaction`, `order`, `case`, `change`: the icon and style.
    pub kind: &'static str,
    pub label: String,
    pub title: String,
    pub text: String,
    pub href: Option<String>,
}

fn entries(t: Tr, items: &[guanxi_store::TimelineItem], names: &Names) -> Vec<Entry> {
    items
        .iter()
        .map(|i| {
            let r = &i.record;
            let at = t.datetime(i.at);
            match i.kind {
                "interaction" => Entry {
                    at,
                    kind: "interaction",
                    label: t.choice("interaction", "kind", r["kind"].as_str().unwrap_or("")),
                    title: r["subject"].as_str().unwrap_or("").into(),
                    text: {
                        let who = r["owner_id"]
                            .as_str()
                            .and_then(|s| Id::parse(s).ok())
                            .and_then(|id| names.get(&id).cloned())
                            .unwrap_or_default();
                        let body = r["body"].as_str().unwrap_or("");
                        let status = r["status"].as_str().unwrap_or("");
                        let planned = if status == "planned" {
                            format!("{} · ", t.choice("interaction", "status", status))
                        } else {
                            String::new()
                        };
                        format!(
                            "{planned}{who}{}{body}",
                            if body.is_empty() { "" } else { " — " }
                        )
                    },
                    href: r["id"].as_str().map(|id| format!("/interactions/{id}")),
                },
                "order" => Entry {
                    at,
                    kind: "order",
                    label: t.entity_one("order").into(),
                    title: r["number"].as_str().unwrap_or("").into(),
                    text: format!(
                        "{} · {}",
                        t.money(
                            r["total"].as_i64().unwrap_or(0),
                            r["currency"].as_str().unwrap_or("CNY")
                        ),
                        t.choice("order", "status", r["status"].as_str().unwrap_or(""))
                    ),
                    href: r["id"].as_str().map(|id| format!("/orders/{id}")),
                },
                "case" => Entry {
                    at,
                    kind: "case",
                    label: t.entity_one("case").into(),
                    title: format!(
                        "{} {}",
                        r["number"].as_str().unwrap_or(""),
                        r["subject"].as_str().unwrap_or("")
                    ),
                    text: t.choice("case", "status", r["status"].as_str().unwrap_or("")),
                    href: r["id"].as_str().map(|id| format!("/cases/{id}")),
                },
                _ => Entry {
                    at,
                    kind: "change",
                    label: t.s("timeline.change").into(),
                    title: {
                        let key = format!("action.{}", r["action"].as_str().unwrap_or(""));
                        if t.has(&key) {
                            t.s(&key).into()
                        } else {
                            r["action"].as_str().unwrap_or("").into()
                        }
                    },
                    text: r["actor_id"]
                        .as_str()
                        .and_then(|s| Id::parse(s).ok())
                        .and_then(|id| names.get(&id).cloned())
                        .unwrap_or_default(),
                    href: None,
                },
            }
        })
        .collect()
}

/// The kinds the composer offers first.
const COMPOSER_KINDS: &[&str] = &[
    "call", "visit", "wechat", "meeting", "email", "note", "task",
];

pub struct Composer {
    pub action: String,
    /// (value, label, chosen)
    pub kinds: Vec<(String, String, bool)>,
    /// (id, name, chosen)
    pub people: Vec<(String, String, bool)>,
    pub error: Option<String>,
    /// What was typed, when a log was refused.
    pub body: String,
    pub due: String,
}

/// A refused log: why, and what the user had typed and chosen.
pub struct Refused {
    error: String,
    form: page::FormData,
}

fn composer(
    t: Tr,
    action: String,
    people: Vec<(String, String)>,
    refused: Option<Refused>,
) -> Composer {
    let form = refused.as_ref().map(|r| &r.form);
    let kind = form.map_or("", |f| f.text("kind"));
    let kind = if kind.is_empty() {
        COMPOSER_KINDS[0]
    } else {
        kind
    };
    let contact = form.map_or("", |f| f.text("contact_id"));
    Composer {
        action,
        kinds: COMPOSER_KINDS
            .iter()
            .map(|k| {
                let label = t.choice("interaction", "kind", k);
                ((*k).to_string(), label, *k == kind)
            })
            .collect(),
        people: people
            .into_iter()
            .map(|(id, name)| {
                let chosen = id == contact;
                (id, name, chosen)
            })
            .collect(),
        body: form.and_then(|f| f.get("body")).unwrap_or("").to_string(),
        due: form.map_or("", |f| f.text("due")).to_string(),
        error: refused.map(|r| r.error),
    }
}

pub struct Figure {
    pub label: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    p: Page,
    id: Id,
    name: String,
    badges: Vec<String>,
    profile: Vec<(String, Shown)>,
    analytics: Vec<Figure>,
    summary: Vec<Figure>,
    people: Vec<Person>,
    opportunities: Vec<Line>,
    orders: Vec<Line>,
    cases: Vec<Line>,
    family: Vec<Line>,
    timeline: Vec<Entry>,
    more_href: Option<String>,
    composer: Option<Composer>,
    changes: Vec<ChangeRow>,
    can_update: bool,
    new_links: Vec<(String, String)>,
}

pub struct Person {
    pub href: String,
    pub name: String,
    pub title: String,
    pub role: String,
    pub stance: String,
    /// `supporter`, `neutral`, `opponent`: the badge colour.
    pub stance_key: String,
    pub mobile: String,
    pub email: String,
}

fn person(t: Tr, c: &Value) -> Person {
    let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
    Person {
        href: format!("/contacts/{}", s("id")),
        name: s("name"),
        title: s("title"),
        role: c["buying_role"]
            .as_str()
            .map_or_else(String::new, |v| t.choice("contact", "buying_role", v)),
        stance: c["stance"]
            .as_str()
            .map_or_else(String::new, |v| t.choice("contact", "stance", v)),
        stance_key: s("stance"),
        mobile: s("mobile"),
        email: s("email"),
    }
}

const ANALYTICS: &[&str] = &[
    "grade",
    "rfm_segment",
    "lifecycle_stage",
    "clv_12m",
    "churn_risk",
    "p_alive",
    "expected_purchases_90d",
    "cross_sell",
    "analytics_at",
];

fn timeline_query(raw: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "before")
        .and_then(|(_, v)| chrono::DateTime::parse_from_rfc3339(&v).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// `GET /accounts/{id}[?before=…]`
pub async fn account_page(
    State(store): State<Store>,
    u: WebUser,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    account_view(
        &store,
        &u,
        id,
        timeline_query(raw.as_deref()),
        None,
        StatusCode::OK,
    )
    .await
}

async fn account_view(
    store: &Store,
    u: &WebUser,
    id: Id,
    before: Option<chrono::DateTime<chrono::Utc>>,
    composer_error: Option<Refused>,
    status: StatusCode,
) -> Response {
    let t = u.t();
    let v = match store.account_360(&u.actor, id).await {
        Ok(v) => v,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    // The 360 carries the first page; only a later page is a read of its own.
    let mut tl = match before {
        None => v.timeline,
        Some(b) => match store
            .timeline(&u.actor, id, Some(b), guanxi_store::FIRST_TIMELINE_PAGE)
            .await
        {
            Ok(tl) => tl,
            Err(e) => return crate::Problem::from(e).into_response(),
        },
    };
    if let Err(p) = access::mask_timeline(store, &u.actor, &mut tl.items).await {
        return crate::Problem::from(p).into_response();
    }
    let m = match access::Masks::load(
        store,
        &u.actor,
        &["account", "contact", "order", "case", "opportunity"],
    )
    .await
    {
        Ok(m) => m,
        Err(p) => return crate::Problem::from(p).into_response(),
    };
    let account = m.present(&u.actor, &v.account);
    let contacts = m.all(&u.actor, &v.contacts);
    let opps = m.all(&u.actor, &v.open_opportunities);
    let orders = m.all(&u.actor, &v.orders);
    let cases = m.all(&u.actor, &v.cases);
    let mut family = vec![];
    if let Some(p) = &v.parent {
        family.push(m.present(&u.actor, p));
    }
    family.extend(m.all(&u.actor, &v.subsidiaries));
    let mut wanted = Wanted::default();
    wanted.record(Account::DEF, &account);
    for o in &opps {
        wanted.record(Opportunity::DEF, o);
    }
    for i in &tl.items {
        wanted.add("users", &i.record["owner_id"]);
        wanted.add("users", &i.record["actor_id"]);
    }
    let names = wanted.resolve(store, &u.actor).await;
    let custom = store.custom_fields("account").await.unwrap_or_default();
    let profile: Vec<(String, Shown)> = facts(t, Account::DEF, &custom, &account, &names)
        .into_iter()
        .filter(|(label, _)| {
            !ANALYTICS
                .iter()
                .any(|a| t.field("account", a) == label.as_str())
        })
        .collect();
    let analytics = ANALYTICS
        .iter()
        .filter_map(|a| Account::DEF.field(a))
        .map(|f| Figure {
            label: t.field("account", f.name).into(),
            value: fields::show(t, "account", f, &account, &names).text,
        })
        .filter(|f| !f.value.is_empty())
        .collect();
    let s = &v.summary;
    let summary = vec![
        Figure {
            label: t.s("account.orders").into(),
            value: t.int(s.order_count),
        },
        Figure {
            label: t.s("account.revenue").into(),
            value: t.money(s.lifetime_revenue, "CNY"),
        },
        Figure {
            label: t.s("account.margin").into(),
            value: t.money(s.lifetime_margin, "CNY"),
        },
        Figure {
            label: t.s("account.last_order").into(),
            value: s
                .last_order_at
                .map_or_else(|| "—".into(), |d| t.datetime(d)),
        },
        Figure {
            label: t.s("account.open_cases").into(),
            value: t.int(s.open_cases),
        },
        Figure {
            label: t.s("account.open_opportunities").into(),
            value: t.int(s.open_opportunities),
        },
        Figure {
            label: t.s("account.weighted_pipeline").into(),
            value: t.money(s.weighted_pipeline, "CNY"),
        },
    ];
    let mut badges = vec![];
    for f in ["grade", "rfm_segment", "relationship", "tier"] {
        if let Some(val) = account[f].as_str() {
            badges.push(t.choice("account", f, val));
        }
    }
    let people: Vec<(String, String)> = contacts
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or("").to_string(),
                c["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let can_log = u.may("interaction", Right::Create);
    let more_href = tl
        .next_before
        .map(|b| format!("/accounts/{id}?before={}#timeline", url(&b.to_rfc3339())));
    let mut new_links = vec![];
    for (entity, coll) in [
        ("contact", "contacts"),
        ("opportunity", "opportunities"),
        ("case", "cases"),
        ("order", "orders"),
    ] {
        if u.may(entity, Right::Create) {
            new_links.push((
                format!("/{coll}/new?account_id={id}"),
                t.f("form.new", &[("entity", t.entity_one(entity))]),
            ));
        }
    }
    let page = AccountPage {
        p: u.page(Account::DEF.title_of(&account)),
        id,
        name: Account::DEF.title_of(&account),
        badges,
        profile,
        analytics,
        summary,
        people: contacts.iter().map(|c| person(t, c)).collect(),
        opportunities: lines::<Opportunity>(
            t,
            &opps,
            &["stage", "amount", "expected_close"],
            &names,
        ),
        orders: lines::<Order>(t, &orders, &["ordered_at", "total", "status"], &names),
        cases: lines::<Case>(t, &cases, &["priority", "status", "sla_due_at"], &names),
        family: lines::<Account>(t, &family, &["city", "relationship"], &names),
        timeline: entries(t, &tl.items, &names),
        more_href,
        composer: can_log
            .then(|| composer(t, format!("/accounts/{id}/log"), people, composer_error)),
        changes: rows_of_changes::<Account>(store, u, &v.changes.items).await,
        can_update: u.may("account", Right::Update),
        new_links,
    };
    shown(page::render_status(status, &page), u)
}

fn url(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The interaction the composer describes: kind, text, and for a task its due time.
fn composed(form: &page::FormData) -> Result<Value, String> {
    let kind = form.text("kind");
    if kind.is_empty() {
        return Err("error.composer_kind".into());
    }
    let body = form.text("body");
    let mut subject = form.text("subject").to_string();
    if subject.is_empty() {
        // The first line of the text names the entry when no subject was given.
        subject = body.lines().next().unwrap_or("").chars().take(80).collect();
    }
    if subject.trim().is_empty() {
        return Err("error.composer_text".into());
    }
    let due = form.text("due");
    let (status, at) = if kind == "task" || !due.is_empty() {
        let at = chrono::NaiveDateTime::parse_from_str(due, "%Y-%m-%dT%H:%M")
            .ok()
            .and_then(|n| n.and_local_timezone(super::i18n::display_offset()).single())
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_else(|| chrono::Utc::now() + chrono::Duration::days(1));
        ("planned", at)
    } else {
        ("done", chrono::Utc::now())
    };
    let mut v = serde_json::json!({
        "kind": kind,
        "status": status,
        "at": at.to_rfc3339(),
        "subject": subject,
    });
    if !body.is_empty() {
        v["body"] = body.into();
    }
    if let Some(c) = form.get("contact_id").filter(|c| !c.is_empty()) {
        v["contact_id"] = c.into();
    }
    Ok(v)
}

/// `POST /accounts/{id}/log`: the composer.
pub async fn log_account(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    // The account must be in sight before anything is logged against it.
    if let Err(e) = store.get::<Account>(&u.actor, id).await {
        return crate::Problem::from(e).into_response();
    }
    let mut v = match composed(&form) {
        Ok(v) => v,
        Err(key) => {
            let msg = u.t().s(&key).to_string();
            return account_view(
                &store,
                &u,
                id,
                None,
                Some(Refused {
                    error: msg,
                    form: form.clone(),
                }),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    v["account_id"] = id.to_string().into();
    match guanxi_app::records::create::<Interaction>(&store, &u.actor, v).await {
        Ok(_) => page::done(
            &format!("/accounts/{id}#timeline"),
            u.t().s("composer.logged"),
        ),
        Err(e) => {
            let msg = e
                .fields()
                .and_then(|f| f.0.first())
                .map_or(e.to_string(), |f| fields::message(u.t(), f));
            account_view(
                &store,
                &u,
                id,
                None,
                Some(Refused {
                    error: msg,
                    form: form.clone(),
                }),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "contact.html")]
struct ContactPage {
    p: Page,
    id: Id,
    name: String,
    account: Option<(String, String)>,
    badges: Vec<String>,
    profile: Vec<(String, Shown)>,
    interactions: Vec<Entry>,
    opportunities: Vec<Line>,
    cases: Vec<Line>,
    orders: Vec<Line>,
    composer: Option<Composer>,
    changes: Vec<ChangeRow>,
    can_update: bool,
    /// The consent history: when, channel, given or withdrawn, source and evidence.
    consents: Vec<[String; 4]>,
}

/// The contact's consent history as the page lists it.
async fn consent_rows(store: &Store, u: &WebUser, id: Id) -> Vec<[String; 4]> {
    let t = u.t();
    let history = guanxi_app::consent::history(store, &u.actor, id)
        .await
        .unwrap_or_default();
    history
        .into_iter()
        .map(|e| {
            let channel = format!("preferences.{}", e.channel);
            let what = format!(
                "{} {}",
                if t.has(&channel) {
                    t.s(&channel)
                } else {
                    t.field("contact", &format!("consent_{}", e.channel))
                },
                t.s(if e.given {
                    "consent.given"
                } else {
                    "consent.withdrawn"
                })
            );
            let source = t.s(&format!("consent.source_{}", e.source)).to_string();
            [
                t.datetime(e.at),
                what,
                source,
                e.evidence.unwrap_or_default(),
            ]
        })
        .collect()
}

async fn related<T: Entity>(
    store: &Store,
    u: &WebUser,
    field: &str,
    id: Id,
    sort: &str,
) -> Vec<Record<T>> {
    if !u.may(T::DEF.name, Right::Read) {
        return vec![];
    }
    let q = ListQuery::default()
        .filter(Filter::new(field, Op::Eq, id.to_string()))
        .sort_by(sort, true)
        .limit(20);
    match store.list::<T>(&u.actor, &q).await {
        Ok(p) => p.items,
        Err(e) => {
            tracing::warn!("listing {} failed: {e}", T::DEF.name);
            vec![]
        }
    }
}

/// `GET /contacts/{id}`: the person's 360°.
pub async fn contact_page(
    State(store): State<Store>,
    u: WebUser,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    contact_view(&store, &u, id, None, StatusCode::OK).await
}

async fn contact_view(
    store: &Store,
    u: &WebUser,
    id: Id,
    composer_error: Option<Refused>,
    status: StatusCode,
) -> Response {
    let t = u.t();
    let c = match store.get::<Contact>(&u.actor, id).await {
        Ok(c) => c,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let m = match access::Masks::load(
        store,
        &u.actor,
        &["contact", "interaction", "order", "case", "opportunity"],
    )
    .await
    {
        Ok(m) => m,
        Err(p) => return crate::Problem::from(p).into_response(),
    };
    let json = m.present(&u.actor, &c);
    let interactions = related::<Interaction>(store, u, "contact_id", id, "at").await;
    let opps = related::<Opportunity>(store, u, "contact_id", id, "expected_close").await;
    let cases = related::<Case>(store, u, "contact_id", id, "id").await;
    let orders = related::<Order>(store, u, "contact_id", id, "ordered_at").await;
    let items: Vec<guanxi_store::TimelineItem> = interactions
        .iter()
        .map(|r| guanxi_store::TimelineItem {
            at: r.data.at,
            kind: "interaction",
            record: m.present(&u.actor, r),
        })
        .collect();
    let mut wanted = Wanted::default();
    wanted.record(Contact::DEF, &json);
    for i in &items {
        wanted.add("users", &i.record["owner_id"]);
    }
    let names = wanted.resolve(store, &u.actor).await;
    let custom = store.custom_fields("contact").await.unwrap_or_default();
    let account = c.data.account_id.map(|a| {
        (
            format!("/accounts/{a}"),
            names.get(&a).cloned().unwrap_or_else(|| a.to_string()),
        )
    });
    let mut badges = vec![];
    for f in ["buying_role", "stance"] {
        if let Some(v) = json[f].as_str() {
            badges.push(t.choice("contact", f, v));
        }
    }
    let opp_json: Vec<Value> = opps.iter().map(|r| m.present(&u.actor, r)).collect();
    let order_json: Vec<Value> = orders.iter().map(|r| m.present(&u.actor, r)).collect();
    let case_json: Vec<Value> = cases.iter().map(|r| m.present(&u.actor, r)).collect();
    let page = ContactPage {
        p: u.page(c.data.name.clone()),
        id,
        name: c.data.name.clone(),
        account,
        badges,
        profile: facts(t, Contact::DEF, &custom, &json, &names),
        interactions: entries(t, &items, &names),
        opportunities: lines::<Opportunity>(t, &opp_json, &["stage", "amount"], &names),
        cases: lines::<Case>(t, &case_json, &["priority", "status"], &names),
        orders: lines::<Order>(t, &order_json, &["ordered_at", "total"], &names),
        composer: u
            .may("interaction", Right::Create)
            .then(|| composer(t, format!("/contacts/{id}/log"), vec![], composer_error)),
        changes: change_rows::<Contact>(store, u, id).await,
        can_update: u.may("contact", Right::Update),
        consents: consent_rows(store, u, id).await,
    };
    shown(page::render_status(status, &page), u)
}

/// `POST /contacts/{id}/log`: the composer on a person's page.
pub async fn log_contact(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    let c = match store.get::<Contact>(&u.actor, id).await {
        Ok(c) => c,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let mut v = match composed(&form) {
        Ok(v) => v,
        Err(key) => {
            let msg = u.t().s(&key).to_string();
            return contact_view(
                &store,
                &u,
                id,
                Some(Refused {
                    error: msg,
                    form: form.clone(),
                }),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    v["contact_id"] = id.to_string().into();
    if let Some(a) = c.data.account_id {
        v["account_id"] = a.to_string().into();
    }
    match guanxi_app::records::create::<Interaction>(&store, &u.actor, v).await {
        Ok(_) => page::done(&format!("/contacts/{id}"), u.t().s("composer.logged")),
        Err(e) => {
            let msg = e
                .fields()
                .and_then(|f| f.0.first())
                .map_or(e.to_string(), |f| fields::message(u.t(), f));
            contact_view(
                &store,
                &u,
                id,
                Some(Refused {
                    error: msg,
                    form: form.clone(),
                }),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
