//! Durable jobs for administrators: `GET /jobs?state=&kind=&limit=&cursor=` (newest first,
//! with the count per state), `GET /jobs/{id}`, `POST /jobs/{id}/retry` (a dead or cancelled
//! job queued again), `POST /jobs/{id}/cancel` (a queued or dead one).

use super::auth::Authed;
use super::records::id_of;
use crate::Problem;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use guanxi_app::jobs;
use guanxi_store::{Job, Store};
use serde_json::{Value, json};

pub async fn list(
    State(store): State<Store>,
    Authed(actor): Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    let (mut state, mut kind, mut cursor, mut limit) = (None, None, None, 50);
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let bad =
            |msg: &str| Problem::field(StatusCode::BAD_REQUEST, k.to_string(), "invalid", msg);
        match k.as_ref() {
            "state" => state = Some(v.into_owned()),
            "kind" => kind = Some(v.into_owned()),
            "cursor" => cursor = Some(v.into_owned()),
            "limit" => limit = v.parse().map_err(|_| bad("a whole number"))?,
            _ => return Err(bad("unknown parameter")),
        }
    }
    let page = jobs::list(
        &store,
        &actor,
        state.as_deref(),
        kind.as_deref(),
        limit,
        cursor.as_deref(),
    )
    .await?;
    let counts: serde_json::Map<String, Value> = jobs::counts(&store, &actor)
        .await?
        .into_iter()
        .map(|(s, n)| (s.as_str().to_string(), n.into()))
        .collect();
    Ok(Json(json!({
        "items": page.items,
        "next_cursor": page.next_cursor,
        "counts": counts,
    })))
}

pub async fn get(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Json<Job>, Problem> {
    Ok(Json(jobs::get(&store, &actor, id_of(&id)?).await?))
}

pub async fn retry(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Json<Job>, Problem> {
    Ok(Json(jobs::retry(&store, &actor, id_of(&id)?).await?))
}

pub async fn cancel(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Json<Job>, Problem> {
    Ok(Json(jobs::cancel(&store, &actor, id_of(&id)?).await?))
}
