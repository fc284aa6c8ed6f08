//! Duplicates and merges: `POST /duplicates/scan` finds candidate pairs of accounts,
//! contacts or leads; `GET /duplicates?entity=` is the review queue; a pair is dismissed
//! or merged (`POST /merges`, choosing which fields come from the merged record), and a
//! merge is undone with `POST /merges/{merged_id}/undo`.

use super::auth::Authed;
use super::records::{id_of, parse_body};
use crate::Problem;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use guanxi_app::access::{Masks, mask_json};
use guanxi_domain::entity::mergeable;
use guanxi_domain::{Actor, EntityDef, Id};
use guanxi_store::Store;
use serde::Deserialize;
use serde_json::Value;

fn def_of(entity: &str) -> Result<&'static EntityDef, Problem> {
    mergeable().find(|d| d.name == entity).ok_or_else(|| {
        let names: Vec<&str> = mergeable().map(|d| d.name).collect();
        Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "entity",
            "invalid",
            format!("{entity:?} cannot be merged: one of {}", names.join(", ")),
        )
    })
}

/// A record's JSON as the actor may see it.
async fn masked(
    store: &Store,
    actor: &Actor,
    def: &'static EntityDef,
    v: &mut Value,
) -> Result<(), Problem> {
    let m = Masks::load(store, actor, &[def.name]).await?;
    if !actor.role.see_sensitive {
        mask_json(def, m.custom(def.name), v);
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct Scan {
    entity: String,
}

pub async fn scan(
    State(store): State<Store>,
    Authed(actor): Authed,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let s: Scan = parse_body(&body)?;
    let def = def_of(&s.entity)?;
    let report = store.scan_duplicates(&actor, def.name).await?;
    Ok(Json(serde_json::to_value(report).unwrap_or_default()))
}

#[derive(Deserialize)]
pub struct QueueParams {
    entity: String,
    #[serde(default)]
    limit: Option<u32>,
}

pub async fn queue(
    State(store): State<Store>,
    Authed(actor): Authed,
    Query(p): Query<QueueParams>,
) -> Result<Json<Value>, Problem> {
    let def = def_of(&p.entity)?;
    let mut pairs = store
        .duplicate_queue(&actor, def.name, p.limit.unwrap_or(50))
        .await?;
    for pair in &mut pairs {
        masked(&store, &actor, def, &mut pair.a).await?;
        masked(&store, &actor, def, &mut pair.b).await?;
    }
    Ok(Json(serde_json::json!({ "items": pairs })))
}

pub async fn dismiss(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    store.dismiss_duplicate(&actor, id_of(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    entity: String,
    survivor: Id,
    merged: Id,
    /// Fields whose value comes from the merged record; the survivor keeps the rest.
    #[serde(default)]
    take: Vec<String>,
}

pub async fn merge(
    State(store): State<Store>,
    Authed(actor): Authed,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let m: Merge = parse_body(&body)?;
    let def = def_of(&m.entity)?;
    if m.survivor == m.merged {
        return Err(Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "merged",
            "invalid",
            "a record cannot be merged into itself",
        ));
    }
    let mut out = store
        .merge(&actor, def.name, m.survivor, m.merged, &m.take)
        .await?;
    masked(&store, &actor, def, &mut out.survivor).await?;
    Ok(Json(serde_json::to_value(out).unwrap_or_default()))
}

pub async fn undo(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let (entity, mut restored) = store.undo_merge(&actor, id_of(&id)?).await?;
    // The record's own entity decides what is masked, custom fields included.
    masked(&store, &actor, def_of(entity)?, &mut restored).await?;
    Ok(Json(restored))
}
