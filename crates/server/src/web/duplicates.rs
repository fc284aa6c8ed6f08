//! Reviewing duplicates: pairs of accounts, contacts or leads the scan found, side by side
//! with the fields where they differ. The user picks, field by field, which value stays,
//! then merges (undoable from the notice) or says they are not duplicates.

use super::fields::{self, Shown};
use super::names::Wanted;
use super::page::{self, Page, Posted, WebUser, render, shown};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use guanxi_app::access::{Masks, mask_json};
use guanxi_domain::entities::Account;
use guanxi_domain::entity::mergeable;
use guanxi_domain::{Entity, EntityDef, Id, Right};
use guanxi_store::Store;
use serde::Deserialize;
use serde_json::Value;

const PAIRS: u32 = 20;

/// The mergeable entity named `entity`, or the first (accounts) for anything else.
fn def_of(entity: Option<&str>) -> &'static EntityDef {
    mergeable()
        .find(|d| Some(d.name) == entity)
        .unwrap_or(Account::DEF)
}

struct Row {
    field: &'static str,
    label: String,
    a: Shown,
    b: Shown,
    /// The values differ: the user chooses.
    differs: bool,
}

struct Pair {
    id: String,
    a_id: String,
    b_id: String,
    a_title: String,
    b_title: String,
    score: String,
    reasons: String,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "duplicates.html")]
struct DuplicatesPage {
    p: Page,
    entity: &'static str,
    tabs: Vec<(&'static str, String, bool)>,
    pairs: Vec<Pair>,
    may_scan: bool,
    undo: Option<String>,
}

#[derive(Deserialize)]
pub struct Params {
    #[serde(default)]
    entity: Option<String>,
    /// The record just merged away, to offer undoing it.
    #[serde(default)]
    undo: Option<String>,
}

fn title(v: &Value) -> String {
    v["name"].as_str().unwrap_or_default().to_string()
}

/// `GET /duplicates?entity=`
pub async fn review(State(store): State<Store>, u: WebUser, Query(q): Query<Params>) -> Response {
    let t = u.t();
    let def = def_of(q.entity.as_deref());
    let entity = def.name;
    let mut pairs = store
        .duplicate_queue(&u.actor, entity, PAIRS)
        .await
        .unwrap_or_default();
    let masks = Masks::load(&store, &u.actor, &[def.name]).await.ok();
    let mut wanted = Wanted::default();
    for pair in &mut pairs {
        for v in [&mut pair.a, &mut pair.b] {
            if !u.actor.role.see_sensitive
                && let Some(m) = &masks
            {
                mask_json(def, m.custom(def.name), v);
            }
            wanted.record(def, v);
        }
    }
    let names = wanted.resolve(&store, &u.actor).await;
    let shown_pairs = pairs
        .iter()
        .map(|pair| Pair {
            id: pair.id.to_string(),
            a_id: pair.a["id"].as_str().unwrap_or_default().into(),
            b_id: pair.b["id"].as_str().unwrap_or_default().into(),
            a_title: title(&pair.a),
            b_title: title(&pair.b),
            score: t.percent(pair.score),
            reasons: pair
                .reasons
                .iter()
                .map(|r| t.s(&format!("duplicates.reason.{r}")).to_string())
                .collect::<Vec<_>>()
                .join(" · "),
            rows: fields::form_fields(def)
                .into_iter()
                .filter(|f| !pair.a[f.name].is_null() || !pair.b[f.name].is_null())
                .map(|f| Row {
                    field: f.name,
                    label: t.field(entity, f.name).to_string(),
                    a: fields::show(t, entity, f, &pair.a, &names),
                    b: fields::show(t, entity, f, &pair.b, &names),
                    differs: pair.a[f.name] != pair.b[f.name] && !f.sensitive,
                })
                .collect(),
        })
        .collect();
    let page = DuplicatesPage {
        p: u.page(t.s("duplicates.title")),
        entity,
        tabs: mergeable()
            .map(|d| (d.name, t.entity_many(d.name).to_string(), d.name == entity))
            .collect(),
        pairs: shown_pairs,
        may_scan: u.may(entity, Right::Update) && u.may(entity, Right::Delete),
        undo: q.undo.filter(|id| Id::parse(id).is_ok()),
    };
    shown(render(&page), &u)
}

fn back(entity: &str) -> String {
    format!("/duplicates?entity={entity}")
}

fn entity_of(form: &page::FormData) -> &'static str {
    def_of(Some(form.text("entity"))).name
}

/// `POST /duplicates/scan`: `entity`.
pub async fn scan(State(store): State<Store>, Posted { user: u, form }: Posted) -> Response {
    let t = u.t();
    let entity = entity_of(&form);
    match store.scan_duplicates(&u.actor, entity).await {
        Ok(r) => page::done(
            &back(entity),
            &t.f("duplicates.scanned", &[("new", &t.int(r.new as i64))]),
        ),
        Err(e) => super::error_page(t, StatusCode::FORBIDDEN, &e.to_string()),
    }
}

/// `POST /duplicates/merge`: `entity`, `pair`, `survivor` (`a` or `b`), and per differing
/// field `keep.<field>` = `a` or `b`; or `dismiss` to drop the pair.
pub async fn merge(State(store): State<Store>, Posted { user: u, form }: Posted) -> Response {
    let t = u.t();
    let entity = entity_of(&form);
    let ids = (
        Id::parse(form.text("a")),
        Id::parse(form.text("b")),
        Id::parse(form.text("pair")),
    );
    let (Ok(a), Ok(b), Ok(pair)) = ids else {
        return super::error_page(t, StatusCode::UNPROCESSABLE_ENTITY, "");
    };
    if form.get("dismiss").is_some() {
        return match store.dismiss_duplicate(&u.actor, pair).await {
            Ok(()) => page::done(&back(entity), t.s("duplicates.dismissed")),
            Err(e) => super::error_page(t, StatusCode::FORBIDDEN, &e.to_string()),
        };
    }
    let (survivor, merged, other) = if form.text("survivor") == "b" {
        (b, a, "a")
    } else {
        (a, b, "b")
    };
    // Fields whose chosen value is on the record merged away.
    let take: Vec<String> = form
        .0
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("keep.")?, v)))
        .filter(|(_, v)| v.as_str() == other)
        .map(|(k, _)| k.to_string())
        .collect();
    match store.merge(&u.actor, entity, survivor, merged, &take).await {
        Ok(_) => page::done(
            &format!("{}&undo={merged}", back(entity)),
            t.s("duplicates.merged"),
        ),
        Err(e) => super::error_page(t, StatusCode::CONFLICT, &crate::Problem::from(e).detail),
    }
}

/// `POST /duplicates/undo`: `merged`, `entity`.
pub async fn undo(State(store): State<Store>, Posted { user: u, form }: Posted) -> Response {
    let t = u.t();
    let entity = entity_of(&form);
    let Ok(merged) = Id::parse(form.text("merged")) else {
        return super::error_page(t, StatusCode::UNPROCESSABLE_ENTITY, "");
    };
    match store.undo_merge(&u.actor, merged).await {
        Ok(_) => page::done(&back(entity), t.s("duplicates.undone")),
        Err(e) => super::error_page(t, StatusCode::CONFLICT, &crate::Problem::from(e).detail),
    }
}
