//! The global search box: accounts, contacts, leads and deals whose names contain the
//! words, within what the user may see. A filter on the database for now; the full-text
//! index (pinyin, phone digits) replaces it later. `Accept: application/json` gives the
//! typeahead its suggestions.

use super::page::{Page, WebUser, render, shown};
use crate::access;
use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use guanxi_domain::entities::{Account, Contact, Lead, Opportunity};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Entity, Right};
use guanxi_store::Store;
use serde::{Deserialize, Serialize};

const PER_KIND: u32 = 10;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    /// Limit to one collection (`accounts`, `contacts`, …): the reference inputs' typeahead.
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

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    p: Page,
    q: String,
    groups: Vec<Group>,
}

async fn hits<T: Entity>(
    store: &Store,
    u: &WebUser,
    field: &str,
    q: &str,
    detail: &[&str],
) -> Vec<Hit> {
    if !u.may(T::DEF.name, Right::Read) {
        return vec![];
    }
    let lq = ListQuery::default()
        .filter(Filter::new(field, Op::Contains, q))
        .limit(PER_KIND);
    let custom = store.custom_fields(T::DEF.name).await.unwrap_or_default();
    match store.list::<T>(&u.actor, &lq).await {
        Ok(page) => page
            .items
            .iter()
            .map(|r| {
                let j = access::present(&u.actor, &custom, r);
                let id = r.meta.id.to_string();
                Hit {
                    kind: T::DEF.name,
                    label: j[field].as_str().unwrap_or("").to_string(),
                    href: super::fields::href_of(T::DEF.table, &id),
                    id,
                    detail: detail
                        .iter()
                        .filter_map(|d| j[*d].as_str())
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(" · "),
                }
            })
            .collect(),
        Err(e) => {
            tracing::warn!("search in {} failed: {e}", T::DEF.name);
            vec![]
        }
    }
}

/// `GET /search?q=…[&types=accounts]`
pub async fn search(
    State(store): State<Store>,
    u: WebUser,
    headers: HeaderMap,
    Query(sq): Query<SearchQuery>,
) -> Response {
    let t = u.t();
    let q = sq.q.trim().to_string();
    let wants = |kind: &str| {
        sq.types
            .as_deref()
            .is_none_or(|ts| ts.split(',').any(|x| x == kind))
    };
    let mut groups = vec![];
    if !q.is_empty() {
        if wants("accounts") {
            groups.push(Group {
                label: t.entity_many("account"),
                hits: hits::<Account>(&store, &u, "name", &q, &["city", "industry"]).await,
            });
        }
        if wants("contacts") {
            groups.push(Group {
                label: t.entity_many("contact"),
                hits: hits::<Contact>(&store, &u, "name", &q, &["title", "email"]).await,
            });
        }
        if wants("leads") {
            groups.push(Group {
                label: t.entity_many("lead"),
                hits: hits::<Lead>(&store, &u, "name", &q, &["company", "city"]).await,
            });
        }
        if wants("opportunities") {
            groups.push(Group {
                label: t.entity_many("opportunity"),
                hits: hits::<Opportunity>(&store, &u, "name", &q, &["stage"]).await,
            });
        }
    }
    let json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if json {
        let all: Vec<&Hit> = groups.iter().flat_map(|g| &g.hits).collect();
        return Json(serde_json::json!({ "items": all })).into_response();
    }
    let page = SearchPage {
        p: u.page(t.s("search.title")),
        q,
        groups,
    };
    shown(render(&page), &u)
}
