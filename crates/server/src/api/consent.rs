//! Consent and the suppression list: a contact's consent history and a user's record of
//! consent given or withdrawn (with its evidence); the addresses no mail goes to.

use super::auth::Authed;
use super::records::{id_of, parse_body};
use crate::Problem;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use guanxi_app::consent;
use guanxi_domain::entities::ConsentChannel;
use guanxi_store::Store;
use serde::Deserialize;
use serde_json::{Value, json};

/// `GET /contacts/{id}/consents`: the contact's consent history, newest first.
pub async fn history(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let items = consent::history(&store, &actor, id_of(&id)?).await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    channel: ConsentChannel,
    given: bool,
    evidence: String,
}

/// `POST /contacts/{id}/consents`: record consent given or withdrawn on a channel, as the
/// customer said or signed it; the contact as it now stands.
pub async fn record(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let r: Recorded = parse_body(&body)?;
    let c = consent::record(&store, &actor, id_of(&id)?, r.channel, r.given, &r.evidence).await?;
    Ok(Json(c.to_json()))
}

/// `GET /suppressions?limit=&offset=`: the suppression list, newest first.
pub async fn list(
    State(store): State<Store>,
    Authed(actor): Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    let (mut limit, mut offset) = (100, 0);
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let bad =
            |msg: &str| Problem::field(StatusCode::BAD_REQUEST, k.to_string(), "invalid", msg);
        match k.as_ref() {
            "limit" => limit = v.parse().map_err(|_| bad("a whole number"))?,
            "offset" => offset = v.parse().map_err(|_| bad("a whole number"))?,
            _ => return Err(bad("unknown parameter")),
        }
    }
    let items = consent::suppressions(&store, &actor, limit, offset).await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSuppression {
    address: String,
    #[serde(default)]
    detail: Option<String>,
}

/// `POST /suppressions`: put an address on the list by hand.
pub async fn add(
    State(store): State<Store>,
    Authed(actor): Authed,
    body: Bytes,
) -> Result<Response, Problem> {
    let n: NewSuppression = parse_body(&body)?;
    let s = consent::suppress(&store, &actor, &n.address, n.detail.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(s)).into_response())
}

/// `DELETE /suppressions/{address}`: take an address off the list.
pub async fn remove(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(address): Path<String>,
) -> Result<StatusCode, Problem> {
    if consent::unsuppress(&store, &actor, &address).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::field(
            StatusCode::NOT_FOUND,
            "address",
            "not_found",
            "the address is not on the suppression list",
        ))
    }
}
