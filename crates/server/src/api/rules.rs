//! Workflow rules beyond their records (which `/rules` serves like every entity): what a
//! rule did (`GET /rules/{id}/runs`), what rules did to a record (`GET
//! /rule-runs?record_id=`), and what a rule would do to a record (`POST /rules/{id}/test`).

use super::auth::Authed;
use super::records::{id_of, parse_body};
use crate::Problem;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use guanxi_app::rules::{self, TestReport};
use guanxi_store::{RunsOf, Store};
use serde_json::{Value, json};

/// `limit` and the parameters `allowed`, from a query string; anything else is refused.
pub(super) fn params(
    raw: Option<String>,
    allowed: &[&str],
) -> Result<(u32, Vec<(String, String)>), Problem> {
    let mut limit = 50;
    let mut out = vec![];
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let bad =
            |msg: &str| Problem::field(StatusCode::BAD_REQUEST, k.to_string(), "invalid", msg);
        match k.as_ref() {
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=500).contains(n))
                    .ok_or_else(|| bad("a whole number from 1 to 500"))?
            }
            k if allowed.contains(&k) => out.push((k.to_string(), v.into_owned())),
            _ => return Err(bad("unknown parameter")),
        }
    }
    Ok((limit, out))
}

pub async fn runs(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    let (limit, _) = params(raw, &[])?;
    let items = rules::runs(&store, &actor, RunsOf::Rule(id_of(&id)?), limit).await?;
    Ok(Json(json!({ "items": items })))
}

pub async fn record_runs(
    State(store): State<Store>,
    Authed(actor): Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    let (limit, given) = params(raw, &["record_id"])?;
    let record = given
        .iter()
        .find(|(k, _)| k == "record_id")
        .ok_or_else(|| {
            Problem::field(
                StatusCode::BAD_REQUEST,
                "record_id",
                "required",
                "which record",
            )
        })?;
    let id = guanxi_domain::Id::parse(&record.1)
        .map_err(|_| Problem::field(StatusCode::BAD_REQUEST, "record_id", "invalid", "an id"))?;
    let items = rules::runs(&store, &actor, RunsOf::Record(id), limit).await?;
    Ok(Json(json!({ "items": items })))
}

pub async fn test(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<TestReport>, Problem> {
    let body: Value = parse_body(&body)?;
    let record = body["record_id"]
        .as_str()
        .and_then(|s| guanxi_domain::Id::parse(s).ok())
        .ok_or_else(|| {
            Problem::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "record_id",
                "invalid",
                "the id of a record of the rule's entity",
            )
        })?;
    Ok(Json(
        rules::test(&store, &actor, id_of(&id)?, record).await?,
    ))
}
