//! Webhook subscriptions beyond their records (which `/webhooks` serves like every entity):
//! the signing secret, the delivery log with every attempt, and replay. For the
//! subscription's owner and administrators.

use super::auth::Authed;
use super::records::id_of;
use super::rules::params;
use crate::Problem;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use guanxi_app::webhooks;
use guanxi_store::{Delivery, Store};
use serde_json::{Value, json};

pub async fn secret(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let secret = webhooks::secret(&store, &actor, id_of(&id)?).await?;
    Ok(Json(json!({ "secret": secret })))
}

pub async fn deliveries(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    let (limit, given) = params(raw, &["before"])?;
    let before = match given.iter().find(|(k, _)| k == "before") {
        Some((_, v)) => Some(guanxi_domain::Id::parse(v).map_err(|_| {
            Problem::field(
                StatusCode::BAD_REQUEST,
                "before",
                "invalid",
                "a delivery's id",
            )
        })?),
        None => None,
    };
    let items = webhooks::deliveries(&store, &actor, id_of(&id)?, before, limit).await?;
    Ok(Json(json!({ "items": items })))
}

pub async fn delivery(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Json<Value>, Problem> {
    let (d, attempts) = webhooks::delivery(&store, &actor, id_of(&id)?, id_of(&delivery)?).await?;
    Ok(Json(json!({ "delivery": d, "attempts": attempts })))
}

pub async fn replay(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Json<Delivery>, Problem> {
    Ok(Json(
        webhooks::replay(&store, &actor, id_of(&id)?, id_of(&delivery)?).await?,
    ))
}
