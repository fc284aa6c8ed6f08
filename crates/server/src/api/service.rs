//! A service partner's answer to a case offered to it.

use super::auth::Authed;
use super::records::{id_of, if_match, one, parse_body};
use crate::problem::Problem;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use guanxi_app::service::dispatch::{self, Answer};
use guanxi_store::Store;

/// `POST /cases/{id}/accept` with If-Match: the partner takes the case.
pub async fn accept(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let (id, version) = (id_of(&id)?, if_match(&headers)?);
    let case = dispatch::answer(&store, &actor, id, version, Answer::Accept).await?;
    Ok(one(
        &actor,
        &store.custom_fields("case").await?,
        &case,
        StatusCode::OK,
    ))
}

/// `POST /cases/{id}/decline` with If-Match and `{"comment"?: …}`: passed to the next partner.
pub async fn decline(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Decline {
        #[serde(default)]
        comment: Option<String>,
    }
    let (id, version) = (id_of(&id)?, if_match(&headers)?);
    let d: Decline = if body.is_empty() {
        Decline::default()
    } else {
        parse_body(&body)?
    };
    let answer = Answer::Decline {
        comment: d.comment.filter(|c| !c.trim().is_empty()),
    };
    let case = dispatch::answer(&store, &actor, id, version, answer).await?;
    Ok(one(
        &actor,
        &store.custom_fields("case").await?,
        &case,
        StatusCode::OK,
    ))
}

/// `GET /service/kpis?days=&team=&partner=`: the service KPIs of the cases in sight.
pub async fn kpis(
    State(store): State<Store>,
    Authed(actor): Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<guanxi_app::service::kpis::Kpis>, Problem> {
    let q = crate::web::KpiQuery::parse(raw.as_deref())?;
    Ok(Json(crate::web::service_kpis(&store, &actor, &q).await?))
}
