//! One set of handlers for every entity: list, get, create, merge-patch, delete, restore.
//! Responses carry the record version as `ETag`; writes to an existing record need it back
//! as `If-Match`, so an edit made on a stale copy is refused (412) instead of overwriting.

use super::auth::Authed;
use crate::problem::Problem;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, body::Bytes};
use guanxi_app::access::{Masks, mask_changes, present};
use guanxi_app::listing::{list_query, refuse_nul, refuse_sensitive_filters};
use guanxi_app::records as writes;
use guanxi_domain::custom::CustomFieldDef;
use guanxi_domain::{Actor, Entity, Id, Record};
use guanxi_store::Store;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub fn collection<T: Entity>(r: Router<Store>, name: &str) -> Router<Store> {
    r.route(&format!("/{name}"), get(list::<T>).post(create::<T>))
        .route(
            &format!("/{name}/{{id}}"),
            get(get_one::<T>).patch(patch::<T>).delete(delete::<T>),
        )
        .route(&format!("/{name}/{{id}}/restore"), post(restore::<T>))
        .route(&format!("/{name}/export"), get(super::export::export::<T>))
}

/// Parse a JSON body: bad syntax is a 400, a wrong field a 422 naming it.
pub fn parse_body<D: DeserializeOwned>(body: &[u8]) -> Result<D, Problem> {
    refuse_nul(body, "body")?;
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Problem::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {inner}"))
        } else {
            let field = if path == "." {
                writes::unknown_field(&inner.to_string()).unwrap_or(path)
            } else {
                path
            };
            Problem::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                field,
                "invalid",
                inner.to_string(),
            )
        }
    })
}

pub fn id_of(raw: &str) -> Result<Id, Problem> {
    Id::parse(raw).map_err(|_| {
        Problem::field(
            StatusCode::NOT_FOUND,
            "id",
            "invalid",
            format!("'{raw}' is not an id"),
        )
    })
}

pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The version the caller last saw, from `If-Match: "7"` (weak tags accepted).
pub fn if_match(headers: &HeaderMap) -> Result<i64, Problem> {
    let raw = headers.get(header::IF_MATCH).ok_or_else(|| {
        Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            "send If-Match with the ETag you read, so no edit is lost",
        )
    })?;
    raw.to_str()
        .ok()
        .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            Problem::field(
                StatusCode::BAD_REQUEST,
                "If-Match",
                "invalid",
                "If-Match must be an ETag of this API",
            )
        })
}

async fn list<T: Entity>(
    State(store): State<Store>,
    Authed(actor): Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    let q = list_query(raw.as_deref())?;
    let custom = store.custom_fields(T::DEF.name).await?;
    refuse_sensitive_filters(&actor, T::DEF, &custom, &q)?;
    let page = store.list::<T>(&actor, &q).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|r| present(&actor, &custom, r))
        .collect();
    let mut body = serde_json::json!({ "items": items, "next_cursor": page.next_cursor });
    if let Some(total) = page.total {
        body["total"] = total.into();
    }
    Ok(Json(body))
}

pub fn one<T: Entity>(
    actor: &Actor,
    custom: &[CustomFieldDef],
    r: &Record<T>,
    status: StatusCode,
) -> Response {
    let mut res = (status, Json(present(actor, custom, r))).into_response();
    res.headers_mut().insert(header::ETAG, etag(r.meta.version));
    res
}

async fn get_one<T: Entity>(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let r = store.get::<T>(&actor, id_of(&id)?).await?;
    let custom = store.custom_fields(T::DEF.name).await?;
    Ok(one(&actor, &custom, &r, StatusCode::OK))
}

async fn create<T: Entity>(
    State(store): State<Store>,
    Authed(actor): Authed,
    body: Bytes,
) -> Result<Response, Problem> {
    let r = writes::create::<T>(&store, &actor, parse_body(&body)?).await?;
    let defs = store.custom_fields(T::DEF.name).await?;
    let mut res = one(&actor, &defs, &r, StatusCode::CREATED);
    if let Ok(loc) = HeaderValue::from_str(&r.meta.id.to_string()) {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(res)
}

async fn patch<T: Entity>(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let id = id_of(&id)?;
    let version = if_match(&headers)?;
    let r = writes::patch::<T>(&store, &actor, id, version, parse_body(&body)?).await?;
    let defs = store.custom_fields(T::DEF.name).await?;
    Ok(one(&actor, &defs, &r, StatusCode::OK))
}

async fn delete<T: Entity>(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    store
        .delete::<T>(&actor, id_of(&id)?, if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restore<T: Entity>(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let r = store
        .restore::<T>(&actor, id_of(&id)?, if_match(&headers)?)
        .await?;
    let defs = store.custom_fields(T::DEF.name).await?;
    Ok(one(&actor, &defs, &r, StatusCode::OK))
}

/// `GET /accounts/{id}/360`: the whole customer in one response, masked like everything else.
pub async fn account_360(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let mut v = store.account_360(&actor, id_of(&id)?).await?;
    guanxi_app::access::mask_timeline(&store, &actor, &mut v.timeline.items).await?;
    let m = Masks::load(
        &store,
        &actor,
        &[
            "account",
            "contact",
            "interaction",
            "order",
            "case",
            "opportunity",
        ],
    )
    .await?;
    let account_def = guanxi_domain::entities::Account::DEF;
    mask_changes(
        &actor,
        account_def,
        m.custom("account"),
        &mut v.changes.items,
    );
    let changes = serde_json::to_value(&v.changes).unwrap_or_default();
    Ok(Json(serde_json::json!({
        "account": m.present(&actor, &v.account),
        "parent": v.parent.as_ref().map(|p| m.present(&actor, p)),
        "subsidiaries": m.all(&actor, &v.subsidiaries),
        "contacts": m.all(&actor, &v.contacts),
        "interactions": m.all(&actor, &v.interactions),
        "orders": m.all(&actor, &v.orders),
        "cases": m.all(&actor, &v.cases),
        "open_opportunities": m.all(&actor, &v.open_opportunities),
        "summary": v.summary,
        "timeline": v.timeline,
        "changes": changes,
    })))
}

/// `GET /changes?entity=account&id=…`: a record's change log, oldest first, for callers who
/// may see the record.
pub async fn changes(
    State(store): State<Store>,
    Authed(actor): Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    let (mut entity, mut id) = (None, None);
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "entity" => entity = Some(v.into_owned()),
            "id" => id = Some(v.into_owned()),
            other => {
                return Err(Problem::field(
                    StatusCode::BAD_REQUEST,
                    other,
                    "invalid",
                    format!("unknown parameter '{other}'"),
                ));
            }
        }
    }
    let missing = |f: &str| {
        Problem::field(
            StatusCode::BAD_REQUEST,
            f,
            "required",
            format!("{f} is required"),
        )
    };
    let entity = entity.ok_or_else(|| missing("entity"))?;
    let id = id_of(&id.ok_or_else(|| missing("id"))?)?;
    let mut log = guanxi_domain::with_entity!(
        &entity,
        T => store.changes_for::<T>(&actor, id).await?,
        _ => {
            return Err(Problem::field(
                StatusCode::BAD_REQUEST,
                "entity",
                "invalid",
                format!("no entity '{entity}'"),
            ));
        }
    );
    let def = guanxi_domain::entity::def_by_name(&entity).ok_or_else(|| missing("entity"))?;
    let custom = store.custom_fields(&entity).await?;
    mask_changes(&actor, def, &custom, &mut log);
    let items: Vec<Value> = log
        .into_iter()
        .map(|c| serde_json::to_value(c).unwrap_or_default())
        .collect();
    Ok(Json(serde_json::json!({ "items": items })))
}

/// `POST /opportunities/{id}/stage` `{"stage": "won", "reason": "…"}` with If-Match: move a
/// deal, recording the step in its stage history (won and lost need a reason).
pub async fn move_stage(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Move {
        stage: String,
        #[serde(default)]
        reason: Option<String>,
    }
    let id = id_of(&id)?;
    let version = if_match(&headers)?;
    let Move { stage, reason } = parse_body(&body)?;
    let moved = guanxi_app::deals::move_stage(&store, &actor, id, version, &stage, reason).await?;
    let custom = store.custom_fields("opportunity").await?;
    Ok(one(&actor, &custom, &moved.deal, StatusCode::OK))
}

/// `GET /accounts/{id}/timeline?before=…&limit=50`: interactions, orders, cases and changes,
/// newest first; `next_before` continues.
pub async fn timeline(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    let (mut before, mut limit) = (None, 50);
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let bad = |msg: &str| {
            Problem::field(
                StatusCode::BAD_REQUEST,
                k.to_string(),
                "invalid",
                msg.to_string(),
            )
        };
        match k.as_ref() {
            "before" => {
                let t = chrono::DateTime::parse_from_rfc3339(&v)
                    .map_err(|_| bad("an RFC 3339 time"))?;
                before = Some(t.with_timezone(&chrono::Utc));
            }
            "limit" => limit = v.parse().map_err(|_| bad("a whole number"))?,
            _ => return Err(bad("unknown parameter")),
        }
    }
    let mut page = store.timeline(&actor, id_of(&id)?, before, limit).await?;
    guanxi_app::access::mask_timeline(&store, &actor, &mut page.items).await?;
    Ok(Json(serde_json::to_value(page).unwrap_or_default()))
}

/// `POST /leads/{id}/convert` with If-Match and
/// `{"account_id"?: …, "opportunity"?: {"name": …, "amount": {"minor": …, "currency": "CNY"}}}`:
/// account (or the given one), contact and deal in one transaction.
pub async fn convert_lead(
    State(store): State<Store>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Deal {
        name: String,
        amount: guanxi_domain::Money,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Convert {
        #[serde(default)]
        account_id: Option<Id>,
        #[serde(default)]
        opportunity: Option<Deal>,
    }
    let id = id_of(&id)?;
    let version = if_match(&headers)?;
    let c: Convert = if body.is_empty() {
        Convert::default()
    } else {
        parse_body(&body)?
    };
    let conversion = guanxi_store::Conversion {
        account_id: c.account_id,
        opportunity: c.opportunity.map(|d| (d.name, d.amount)),
    };
    let done = store.convert_lead(&actor, id, version, conversion).await?;
    let m = Masks::load(&store, &actor, &["lead", "contact", "opportunity"]).await?;
    Ok(Json(serde_json::json!({
        "lead": m.present(&actor, &done.lead),
        "account_id": done.account_id,
        "contact": m.present(&actor, &done.contact),
        "opportunity": done.opportunity.as_ref().map(|o| m.present(&actor, o)),
    })))
}

/// `GET /analytics/runs`: every analytics run, oldest first (roles that see all accounts).
pub async fn analytics_runs(
    State(store): State<Store>,
    Authed(actor): Authed,
) -> Result<Json<Value>, Problem> {
    let runs = store.analytics_runs(&actor).await?;
    Ok(Json(serde_json::json!({ "items": runs })))
}

/// `GET /analytics/report`: the latest run: when, its models, and the reports over the
/// whole base (80/20 and Lorenz, segments, grades, stages, RFM heat map, CLV deciles,
/// cohort retention).
pub async fn analytics_report(
    State(store): State<Store>,
    Authed(actor): Authed,
) -> Result<Json<Value>, Problem> {
    let last = store.latest_analytics_run(&actor).await?.ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "no analytics run yet: run `guanxi analytics run`",
        )
    })?;
    let mut body = last.after.unwrap_or_default();
    body["computed_at"] = serde_json::to_value(last.at).unwrap_or_default();
    Ok(Json(body))
}
