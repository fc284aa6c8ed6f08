//! `POST /imports?kind=&mapping=&template=&save_template=&dry_run=&name=`: the body is
//! the file (CSV, .xlsx or .xls) and the answer the import's report. `GET /imports`: the
//! caller's imports, with their progress while they run (each batch commits its count).
//! `GET /import-templates?kind=`, `DELETE /import-templates/{id}`: saved mappings.

use super::auth::Authed;
use crate::Problem;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use guanxi_app::import::{self, Options, Source};
use guanxi_store::Store;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub struct Params {
    kind: String,
    #[serde(default)]
    mapping: Option<String>,
    /// A saved mapping's name, instead of `mapping`.
    #[serde(default)]
    template: Option<String>,
    /// Save the mapping used under this name.
    #[serde(default)]
    save_template: Option<String>,
    #[serde(default)]
    dry_run: bool,
    /// The file's name, whose extension helps tell the format.
    #[serde(default)]
    name: Option<String>,
}

pub async fn create(
    State(store): State<Store>,
    Authed(actor): Authed,
    Query(p): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let opts = Options {
        mapping: p.mapping,
        template: p.template,
        save_template: p.save_template,
        dry_run: p.dry_run,
    };
    let source = Source::Bytes {
        name: p.name.unwrap_or_else(|| "upload".into()),
        bytes: body,
    };
    let report = import::import(&store, &actor, &p.kind, source, &opts, &|_| {}).await?;
    Ok(Json(serde_json::to_value(report).unwrap_or_default()))
}

pub async fn list(
    State(store): State<Store>,
    Authed(actor): Authed,
) -> Result<Json<Value>, Problem> {
    let jobs = store.import_jobs(&actor, 100).await?;
    Ok(Json(serde_json::json!({ "items": jobs })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateParams {
    #[serde(default)]
    kind: Option<String>,
}

pub async fn templates(
    State(store): State<Store>,
    Authed(actor): Authed,
    Query(p): Query<TemplateParams>,
) -> Result<Json<Value>, Problem> {
    let items = store.import_templates(&actor, p.kind.as_deref()).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

pub async fn delete_template(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    store
        .delete_import_template(&actor, super::records::id_of(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
