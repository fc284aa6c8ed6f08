//! Sessions as both front ends (the API and the pages) open, find and end them: signing
//! in, and the cookies.

use crate::deployment::{Deployment, throttle_key};
use axum::http::{HeaderMap, header};
use guanxi_store::Store;

pub const SESSION_COOKIE: &str = "guanxi_session";
pub const SESSION_HOURS: i64 = 12;

/// The `Set-Cookie` value that ends a session in the browser.
pub const END_SESSION_COOKIE: &str = "guanxi_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0";

/// Sign in from `ip` and open a session: the one way both front ends do it (the burst
/// limit per address is checked before, by each).
pub async fn sign_in(
    store: &Store,
    email: &str,
    password: &str,
    ip: std::net::IpAddr,
) -> Result<guanxi_app::auth::SignedIn, guanxi_app::AppError> {
    guanxi_app::auth::sign_in(
        store,
        email,
        password,
        &throttle_key(ip),
        chrono::Duration::hours(SESSION_HOURS),
    )
    .await
}

/// The value of the cookie `name` the request carries.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value of a new session: `Secure` when the deployment is reached over
/// https (a client's own headers do not decide it), so plain-HTTP development still works.
pub fn session(token: &str, deployment: &Deployment) -> String {
    let secure = if deployment.https() { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        SESSION_HOURS * 3600
    )
}
