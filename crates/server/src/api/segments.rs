//! Segments beyond their records (which `/segments` serves like every entity): the live
//! count of a segment being edited, a saved one's count and members, and a static list's
//! members put in, taken out, or read from a spreadsheet.

use super::auth::Authed;
use super::records::{id_of, parse_body};
use crate::Problem;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use guanxi_app::campaigns::targeting;
use guanxi_app::listing::list_query;
use guanxi_app::segments;
use guanxi_domain::entities::Segment;
use guanxi_store::Store;
use serde::Deserialize;
use serde_json::{Value, json};

/// `POST /segments/count`: the body is a segment as it would be saved; `{"count": n}`, or
/// the refusal a save would give.
pub async fn preview(
    State(store): State<Store>,
    Authed(actor): Authed,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let mut body: Value = parse_body(&body)?;
    // A form may send the record's bookkeeping along; the count reads only the segment.
    if let Some(m) = body.as_object_mut() {
        for k in ["id", "owner_id", "version", "custom"] {
            m.remove(k);
        }
    }
    let s: Segment = parse_body(body.to_string().as_bytes())?;
    let n = segments::preview(&store, &actor, s).await?;
    Ok(Json(json!({ "count": n })))
}

/// `GET /segments/{id}/count`: `{"count": n}`, what the segment holds for the caller now.
pub async fn count(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let n = segments::count(&store, &actor, id_of(&id)?).await?;
    Ok(Json(json!({ "count": n })))
}

#[derive(Deserialize)]
pub struct PropensityParams {
    #[serde(default)]
    limit: Option<usize>,
}

/// `GET /segments/{id}/propensity?limit=`: the response-propensity model fitted on the
/// caller's campaign history (coefficients, hold-out AUC) and the segment's contacts with
/// the highest scores; too thin a history is refused, naming `history`.
pub async fn propensity(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    Query(p): Query<PropensityParams>,
) -> Result<Json<Value>, Problem> {
    let limit = p.limit.unwrap_or(targeting::DEFAULT_LIMIT);
    let r = targeting::rank(&store, &actor, id_of(&id)?, limit).await?;
    Ok(Json(serde_json::to_value(r).unwrap_or_default()))
}

/// `GET /segments/{id}/members?filter=&sort=&limit=&cursor=&count=`: a page of the
/// segment's accounts or contacts, as the list of that entity shows them.
pub async fn members(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    let q = list_query(raw.as_deref())?;
    let seg = store.get::<Segment>(&actor, id_of(&id)?).await?;
    let page = segments::members(&store, &actor, &seg, &q).await?;
    let mut body = json!({ "items": page.items, "next_cursor": page.next_cursor });
    if let Some(total) = page.total {
        body["total"] = total.into();
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ids {
    ids: Vec<String>,
}

/// `POST /segments/{id}/members` `{"ids": [...]}`: put records in a static list;
/// `{"added": n}` (those already in it are not counted again).
pub async fn add(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let Ids { ids } = parse_body(&body)?;
    let ids = segments::parse_ids(&ids)?;
    let n = store.add_to_list(&actor, id_of(&id)?, &ids).await?;
    Ok(Json(json!({ "added": n })))
}

/// `POST /segments/{id}/members/remove` `{"ids": [...]}`: `{"removed": n}`.
pub async fn remove(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let Ids { ids } = parse_body(&body)?;
    let ids = segments::parse_ids(&ids)?;
    let n = store.remove_from_list(&actor, id_of(&id)?, &ids).await?;
    Ok(Json(json!({ "removed": n })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// The file's name, whose extension tells CSV from Excel.
    #[serde(default)]
    name: Option<String>,
}

/// `POST /segments/{id}/members/import?name=list.csv`: the body is a CSV or Excel file
/// naming records by id, e-mail, mobile, credit code or name; what matched is added, what
/// did not is reported by row.
pub async fn import(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    Query(p): Query<ImportParams>,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let name = p.name.unwrap_or_else(|| "list.csv".into());
    let r = segments::import_into_list(&store, &actor, id_of(&id)?, &name, body.to_vec()).await?;
    Ok(Json(serde_json::to_value(r).unwrap_or_default()))
}
