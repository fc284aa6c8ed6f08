//! Who is calling: a bearer API token, or a session cookie with its CSRF token on writes.

use crate::deployment::Deployment;
use crate::problem::Problem;
use crate::rate_limit::{ClientIp, LoginLimiter};
use crate::sessions::{self, END_SESSION_COOKIE, SESSION_COOKIE, sign_in};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use guanxi_domain::Actor;
use guanxi_store::Store;
use serde::Deserialize;

pub const CSRF_HEADER: &str = "x-csrf-token";

/// The signed-in caller. Every handler that touches data takes one.
pub struct Authed(pub Actor);

impl FromRequestParts<Store> for Authed {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, store: &Store) -> Result<Self, Problem> {
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(Problem::unauthorized)?;
            return Ok(Authed(store.token_actor(token.trim()).await?));
        }
        let token =
            sessions::get(&parts.headers, SESSION_COOKIE).ok_or_else(Problem::unauthorized)?;
        let (actor, csrf) = store.session(token).await?;
        // A cookie rides along on any request the browser makes, so a write must also prove
        // it comes from our pages: the CSRF token they were given at sign-in.
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe
            && parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) != Some(csrf.as_str())
        {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "missing or wrong X-CSRF-Token header",
            ));
        }
        Ok(Authed(actor))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
}

/// `POST /auth/login {"email", "password"}`: a session cookie and its CSRF token, and the
/// failed sign-ins from other addresses since the user last signed in.
pub async fn login(
    State(store): State<Store>,
    axum::Extension(limiter): axum::Extension<LoginLimiter>,
    axum::Extension(deployment): axum::Extension<Deployment>,
    ClientIp(ip): ClientIp,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    limiter.check(ip)?;
    let Login { email, password } = super::records::parse_body(&body)?;
    let signed_in = sign_in(&store, &email, &password, ip).await?;
    let session = &signed_in.session;
    let cookie = sessions::session(&session.token, &deployment);
    let body = serde_json::json!({
        "user_id": signed_in.user,
        "csrf_token": session.csrf_token,
        "expires_at": session.expires_at,
        "failed_sign_ins": signed_in.failed_elsewhere,
    });
    let mut res = Json(body).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|_| Problem::unauthorized())?,
    );
    Ok(res)
}

pub async fn logout(
    State(store): State<Store>,
    headers: HeaderMap,
    _: Authed,
) -> Result<Response, Problem> {
    if let Some(token) = sessions::get(&headers, SESSION_COOKIE) {
        store.close_session(token).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(END_SESSION_COOKIE),
    );
    Ok(res)
}

/// The longest a personal API token may live, and its default.
const MAX_TOKEN_DAYS: i64 = 366;
const DEFAULT_TOKEN_DAYS: i64 = 90;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    /// Days until it expires, 1–366 (default 90).
    #[serde(default)]
    days: Option<i64>,
}

/// `POST /auth/tokens {"name", "days"?}`: a personal API token for the caller. Its secret is
/// in this response only; the server keeps a hash.
pub async fn issue_token(
    State(store): State<Store>,
    Authed(actor): Authed,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let NewToken { name, days } = super::records::parse_body(&body)?;
    let days = days.unwrap_or(DEFAULT_TOKEN_DAYS);
    if !(1..=MAX_TOKEN_DAYS).contains(&days) {
        return Err(Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "days",
            "range",
            format!("a token lives 1 to {MAX_TOKEN_DAYS} days"),
        ));
    }
    let expires = chrono::Utc::now() + chrono::Duration::days(days);
    let (token, secret) = store.issue_token(&actor, &name, Some(expires)).await?;
    let mut body = serde_json::to_value(&token).unwrap_or_default();
    body["token"] = secret.into();
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /auth/tokens`: the caller's tokens, without their secrets.
pub async fn tokens(
    State(store): State<Store>,
    Authed(actor): Authed,
) -> Result<Json<serde_json::Value>, Problem> {
    let items = store.tokens(&actor).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

/// `DELETE /auth/tokens/{id}`: revoke a token at once.
pub async fn revoke_token(
    State(store): State<Store>,
    Authed(actor): Authed,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<StatusCode, Problem> {
    store
        .revoke_token(&actor, super::records::id_of(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller: their user id, role and scope.
pub async fn me(Authed(actor): Authed) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "user_id": actor.user_id,
        "role": actor.role.key,
        "scope": actor.role.scope,
        "team_id": actor.team_id,
    }))
}
