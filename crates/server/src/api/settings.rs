//! `GET/PUT /settings/grading`: how customers are graded (administrators change it; the
//! next analytics run uses it). Versioned like records: `ETag` out, `If-Match` back
//! (`"0"` before it was first set).

use super::auth::Authed;
use super::records::{etag, if_match, parse_body};
use crate::problem::Problem;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use guanxi_domain::Right;
use guanxi_domain::settings::GradingSettings;
use guanxi_store::Store;

fn answer(settings: &GradingSettings, version: i64) -> Response {
    let mut res = Json(settings).into_response();
    res.headers_mut().insert(header::ETAG, etag(version));
    res
}

pub async fn get_grading(
    State(store): State<Store>,
    Authed(actor): Authed,
) -> Result<Response, Problem> {
    if !actor.may("account", Right::Read) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "reading the grading needs the right to read accounts",
        ));
    }
    let (settings, version) = store
        .setting::<GradingSettings>(GradingSettings::KEY)
        .await?
        .unwrap_or_default();
    Ok(answer(&settings, version))
}

pub async fn put_grading(
    State(store): State<Store>,
    Authed(actor): Authed,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let expected = if_match(&headers)?;
    let settings: GradingSettings = parse_body(&body)?;
    settings
        .validate()
        .map_err(|e| Problem::invalid(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    let version = store
        .put_setting(&actor, GradingSettings::KEY, expected, &settings)
        .await?;
    Ok(answer(&settings, version))
}
