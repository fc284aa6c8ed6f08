//! `GET /search?q=&types=&limit=`: accounts, contacts, leads, deals, cases and interactions
//! ranked together from the full-text index, within the caller's scope, masked for them.

use super::auth::Authed;
use crate::Problem;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use guanxi_app::search::{self, Searcher};
use guanxi_store::Store;
use serde::Deserialize;
use serde_json::Value;

pub const MAX_RESULTS: usize = 100;

#[derive(Deserialize)]
pub struct Params {
    #[serde(default)]
    q: String,
    /// Comma-separated entities (`account`) or collections (`accounts`); all when absent.
    #[serde(default)]
    types: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

/// The entities named by `types` (`account` or `accounts`), or a problem naming the
/// unknown one.
pub fn kinds(types: Option<&str>) -> Result<Vec<&'static str>, Problem> {
    let all = search::kinds();
    let Some(types) = types.filter(|t| !t.trim().is_empty()) else {
        return Ok(all);
    };
    types
        .split(',')
        .map(str::trim)
        .map(|t| {
            all.iter()
                .find(|k| **k == t || search::collection(k) == t)
                .copied()
                .ok_or_else(|| {
                    Problem::field(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "types",
                        "invalid",
                        format!("unknown type {t:?}: one of {}", all.join(", ")),
                    )
                })
        })
        .collect()
}

pub async fn search(
    State(store): State<Store>,
    Authed(actor): Authed,
    searcher: axum::Extension<Searcher>,
    Query(p): Query<Params>,
) -> Result<Json<Value>, Problem> {
    let kinds = kinds(p.types.as_deref())?;
    let limit = p.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_RESULTS {
        return Err(Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
            "out_of_range",
            format!("limit must be 1 to {MAX_RESULTS}"),
        ));
    }
    let index = searcher.index()?;
    let items = search::find(&store, index, &actor, &p.q, &kinds, limit).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}
