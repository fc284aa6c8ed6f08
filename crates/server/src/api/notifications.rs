//! The caller's own in-app notifications: `GET /notifications?unread=&limit=&cursor=`
//! (newest first), `GET /notifications/unread-count`, `POST /notifications/{id}/read`,
//! `POST /notifications/read-all`. Nobody reads or marks anyone else's.

use super::auth::Authed;
use super::records::id_of;
use crate::Problem;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use guanxi_domain::filter::Page;
use guanxi_store::{Notification, Store};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    unread: bool,
    #[serde(default = "default_limit")]
    limit: u32,
    #[serde(default)]
    cursor: Option<String>,
}

fn default_limit() -> u32 {
    50
}

pub async fn list(
    State(store): State<Store>,
    Authed(actor): Authed,
    Query(p): Query<Params>,
) -> Result<Json<Page<Notification>>, Problem> {
    let page = store
        .notifications(&actor, p.unread, p.limit, p.cursor.as_deref())
        .await?;
    Ok(Json(page))
}

#[derive(Serialize)]
pub struct Unread {
    unread: i64,
}

pub async fn unread_count(
    State(store): State<Store>,
    Authed(actor): Authed,
) -> Result<Json<Unread>, Problem> {
    let unread = store.unread_notifications(&actor).await?;
    Ok(Json(Unread { unread }))
}

pub async fn read(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    store.mark_read(&actor, id_of(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub struct Marked {
    marked: u64,
}

pub async fn read_all(
    State(store): State<Store>,
    Authed(actor): Authed,
) -> Result<Json<Marked>, Problem> {
    let marked = store.mark_all_read(&actor).await?;
    Ok(Json(Marked { marked }))
}
