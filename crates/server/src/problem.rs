//! Errors as RFC 9457 problem documents (`application/problem+json`), with the offending
//! fields for validation failures. Every use-case error ([`AppError`], and the store's
//! within it) maps to one status here, once.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use guanxi_app::AppError;
use guanxi_domain::{FieldError, ValidationErrors};
use guanxi_store::StoreError;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The fields that are wrong, for 400 and 422.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            errors: vec![],
            retry_after: None,
        }
    }

    pub fn invalid(status: StatusCode, errors: ValidationErrors) -> Problem {
        let mut p = Problem::new(status, errors.to_string());
        p.errors = errors.0;
        p
    }

    /// One wrong field.
    pub fn field(
        status: StatusCode,
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Problem {
        Problem::invalid(status, ValidationErrors::single(field, code, message))
    }

    pub fn unauthorized() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "sign in, or send a valid API token as Authorization: Bearer",
        )
    }
}

/// Whole seconds from now until `until`, at least one: a `Retry-After`.
pub fn seconds_until(until: chrono::DateTime<chrono::Utc>) -> u64 {
    (until - chrono::Utc::now()).num_seconds().max(1) as u64
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        match e {
            StoreError::NotFound { .. } => Problem::new(StatusCode::NOT_FOUND, e.to_string()),
            StoreError::Conflict { .. } => {
                Problem::new(StatusCode::PRECONDITION_FAILED, e.to_string())
            }
            StoreError::Duplicate { ref field, .. } => {
                let field = field.clone();
                Problem::field(StatusCode::CONFLICT, field, "duplicate", e.to_string())
            }
            StoreError::Invalid(errors) => {
                Problem::invalid(StatusCode::UNPROCESSABLE_ENTITY, errors)
            }
            StoreError::Forbidden { .. } => Problem::new(StatusCode::FORBIDDEN, e.to_string()),
            StoreError::Unauthorized => Problem::unauthorized(),
            StoreError::Throttled { until } => {
                let mut p = Problem::new(StatusCode::TOO_MANY_REQUESTS, e.to_string());
                p.retry_after = Some(seconds_until(until));
                p
            }
            StoreError::Config(_) | StoreError::Corrupt(_) | StoreError::Database(_) => {
                tracing::error!("request failed: {e}");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the server could not complete the request",
                )
            }
        }
    }
}

impl From<AppError> for Problem {
    fn from(e: AppError) -> Problem {
        match e {
            AppError::Store(e) => e.into(),
            AppError::BadRequest(errors) => Problem::invalid(StatusCode::BAD_REQUEST, errors),
            AppError::Invalid(errors) => Problem::invalid(StatusCode::UNPROCESSABLE_ENTITY, errors),
            AppError::Forbidden(detail) => Problem::new(StatusCode::FORBIDDEN, detail),
            AppError::NeedsMapping { message, .. } => Problem::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "mapping",
                "invalid",
                message,
            ),
            AppError::Unavailable(detail) => Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail),
            AppError::Failed { what, source } => {
                tracing::error!("request failed: {what}: {source}");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("{what}: {source}"),
                )
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            Json(&self),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// The framework's own refusals (405, 413, 415, …) come as plain text or empty; rewrite them
/// as problem documents so every error a client sees has one shape.
pub async fn for_every_error(res: Response) -> Response {
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    // Pages answer errors with HTML of their own (a form sent back with its errors is a 422).
    let is_page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem || is_page {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&text).trim().to_string();
    let detail = if detail.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        detail
    };
    let mut fixed = Problem::new(status, detail).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            fixed.headers_mut().insert(name, v.clone());
        }
    }
    fixed
}
