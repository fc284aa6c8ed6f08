//! The knowledge base beyond its records: articles suggested for a text (a case's subject)
//! and how many cases an article resolved.

use super::auth::Authed;
use super::records::id_of;
use crate::Problem;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use guanxi_app::kb;
use guanxi_app::search::Searcher;
use guanxi_store::Store;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    limit: Option<usize>,
}

/// `GET /kb/suggest?q=&limit=`: published articles matching `q`, best first.
pub async fn suggest(
    State(store): State<Store>,
    Authed(actor): Authed,
    searcher: axum::Extension<Searcher>,
    Query(p): Query<SuggestParams>,
) -> Result<Json<Value>, Problem> {
    let limit = p.limit.unwrap_or(5);
    if limit == 0 || limit > kb::MAX_SUGGESTIONS {
        return Err(Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
            "out_of_range",
            format!("limit must be 1 to {}", kb::MAX_SUGGESTIONS),
        ));
    }
    let index = searcher.index()?;
    let items = kb::suggest_for(&store, index, &actor, &p.q, limit).await?;
    Ok(Json(json!({ "items": items })))
}

/// `GET /articles/{id}/usage`: `{"resolved_cases": n}`.
pub async fn usage(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let n = kb::usage(&store, &actor, id_of(&id)?).await?;
    Ok(Json(json!({ "resolved_cases": n })))
}
