//! The one-click unsubscribe address marketing mail carries (RFC 8058), open to anyone
//! holding the token: a mailbox provider POSTs `List-Unsubscribe=One-Click` to it; a person
//! following the link sees a page asking to confirm, because link scanners GET every
//! address in a mail and must not unsubscribe anyone.

use super::i18n::Tr;
use super::page::{lang_of, render_status};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use guanxi_store::Store;

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    t: Tr,
    done: bool,
    unknown: bool,
}

fn page(headers: &HeaderMap, status: StatusCode, done: bool, unknown: bool) -> Response {
    let t = Tr::new(lang_of(headers));
    render_status(status, &UnsubscribePage { t, done, unknown })
}

pub async fn ask(
    State(store): State<Store>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, crate::Problem> {
    let known = store.unsubscribe_contact(&token).await?.is_some();
    let status = if known {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok(page(&headers, status, false, !known))
}

pub async fn confirm(
    State(store): State<Store>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, crate::Problem> {
    Ok(match guanxi_app::mail::unsubscribe(&store, &token).await? {
        Some(_) => page(&headers, StatusCode::OK, true, false),
        None => page(&headers, StatusCode::NOT_FOUND, false, true),
    })
}
