//! Campaigns beyond their records (which `/campaigns` serves like every entity): launching
//! (or resuming), pausing, where their messages stand, and who responded.

use super::auth::Authed;
use super::records::{id_of, if_match, one};
use crate::Problem;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use guanxi_app::campaigns;
use guanxi_store::Store;
use serde_json::Value;

/// `POST /campaigns/{id}/launch` with If-Match: a planned campaign takes its members from
/// its segment and starts sending; a paused one resumes.
pub async fn launch(
    State(store): State<Store>,
    axum::Extension(deployment): axum::Extension<crate::Deployment>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let (id, version) = (id_of(&id)?, if_match(&headers)?);
    let c = campaigns::launch_with(&store, &actor, id, version, deployment.providers()).await?;
    let custom = store.custom_fields("campaign").await?;
    Ok(one(&actor, &custom, &c, StatusCode::OK))
}

/// `POST /campaigns/{id}/pause` with If-Match: no batch starts after the one being sent.
pub async fn pause(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let (id, version) = (id_of(&id)?, if_match(&headers)?);
    let c = campaigns::pause(&store, &actor, id, version).await?;
    let custom = store.custom_fields("campaign").await?;
    Ok(one(&actor, &custom, &c, StatusCode::OK))
}

/// `GET /campaigns/{id}/progress`: members, the control group, per variant how many are
/// queued, sent, refused and failed and how they responded, and the return.
pub async fn progress(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let p = campaigns::progress(&store, &actor, id_of(&id)?).await?;
    Ok(Json(serde_json::to_value(p).unwrap_or_default()))
}

/// `GET /campaigns/{id}/profile`: responders against non-responders, per attribute.
pub async fn profile(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let p = campaigns::profile(&store, &actor, id_of(&id)?).await?;
    Ok(Json(serde_json::to_value(p).unwrap_or_default()))
}
