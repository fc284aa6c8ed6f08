//! The global search box: accounts, contacts, leads, deals, cases and interactions from
//! the full-text index (names, pinyin and initials, phone digits, e-mail, text), within
//! what the user may see and masked for them. `Accept: application/json` gives the
//! typeahead its suggestions.

use super::page::{Page, WebUser, render, shown};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use guanxi_app::search::{self, Found, Searcher};
use guanxi_store::Store;
use serde::{Deserialize, Serialize};

const LIMIT: usize = 50;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    /// Limit to some collections (`accounts`, `contacts`, …): the reference inputs' typeahead.
    #[serde(default)]
    types: Option<String>,
}

#[derive(Serialize)]
pub struct Hit {
    kind: &'static str,
    label: String,
    id: String,
    href: String,
    detail: String,
}

struct Group {
    label: &'static str,
    hits: Vec<Hit>,
}

/// What a hit shows beside its title.
fn detail_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "account" => &["city", "industry"],
        "contact" => &["title", "mobile", "email"],
        "lead" => &["company", "city"],
        "opportunity" => &["stage"],
        "case" => &["status"],
        _ => &["kind", "at"],
    }
}

fn hit(f: Found) -> Hit {
    let detail = detail_fields(f.kind)
        .iter()
        .filter_map(|d| f.record[*d].as_str())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    Hit {
        kind: f.kind,
        label: f.title,
        href: super::fields::href_of(search::collection(f.kind), &f.id),
        id: f.id,
        detail,
    }
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    p: Page,
    q: String,
    groups: Vec<Group>,
}

/// `GET /search?q=…[&types=accounts]`
pub async fn search(
    State(store): State<Store>,
    Extension(searcher): Extension<Searcher>,
    u: WebUser,
    headers: HeaderMap,
    Query(sq): Query<SearchQuery>,
) -> Response {
    let t = u.t();
    let q = sq.q.trim().to_string();
    let kinds: Vec<&str> = search::kinds()
        .into_iter()
        .filter(|k| {
            sq.types
                .as_deref()
                .is_none_or(|ts| ts.split(',').any(|x| x == search::collection(k)))
        })
        .collect();
    let mut found = vec![];
    if !q.is_empty() {
        match searcher.index() {
            Ok(index) => match search::find(&store, index, &u.actor, &q, &kinds, LIMIT).await {
                Ok(f) => found = f,
                Err(e) => tracing::warn!("search failed: {e}"),
            },
            Err(e) => tracing::warn!("{e}"),
        }
    }
    let hits: Vec<Hit> = found.into_iter().map(hit).collect();
    let json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if json {
        return Json(serde_json::json!({ "items": hits })).into_response();
    }
    let mut groups: Vec<Group> = vec![];
    for kind in &kinds {
        groups.push(Group {
            label: t.entity_many(kind),
            hits: vec![],
        });
    }
    for h in hits {
        if let Some(i) = kinds.iter().position(|k| *k == h.kind) {
            groups[i].hits.push(h);
        }
    }
    if !q.is_empty() {
        groups.retain(|g| !g.hits.is_empty());
    }
    let page = SearchPage {
        p: u.page(t.s("search.title")),
        q,
        groups,
    };
    shown(render(&page), &u)
}
