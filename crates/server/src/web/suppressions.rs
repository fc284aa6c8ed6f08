//! `/suppressions`: the addresses no mail goes to, for those who run campaigns — why each
//! is there, an address added by hand (what was typed kept on a refusal) and one taken off.

use super::page::{self, Page, Posted, WebUser, render_status};
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use guanxi_app::consent;
use guanxi_store::Store;

/// Addresses per page.
const PAGE: u32 = 100;

struct Row {
    address: String,
    reason: String,
    detail: String,
    at: String,
}

#[derive(Template)]
#[template(path = "suppressions.html")]
struct SuppressionsPage {
    p: Page,
    rows: Vec<Row>,
    address: String,
    detail: String,
    error: Option<String>,
    next: Option<u32>,
}

async fn page_of(
    store: &Store,
    u: &WebUser,
    offset: u32,
    typed: (&str, &str),
    error: Option<String>,
) -> Response {
    let t = u.t();
    let list = match consent::suppressions(store, &u.actor, PAGE, offset).await {
        Ok(l) => l,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let next = (list.len() == PAGE as usize).then_some(offset + PAGE);
    let rows = list
        .into_iter()
        .map(|s| Row {
            reason: t
                .s(&format!("suppressions.reason_{}", s.reason))
                .to_string(),
            address: s.address,
            detail: s.detail.unwrap_or_default(),
            at: t.datetime(s.at),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_status(
        status,
        &SuppressionsPage {
            p: u.page(t.s("suppressions.title")),
            rows,
            address: typed.0.to_string(),
            detail: typed.1.to_string(),
            error,
            next,
        },
    )
}

/// `GET /suppressions?offset=`
pub async fn list(State(store): State<Store>, u: WebUser, RawQuery(q): RawQuery) -> Response {
    let offset = form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "offset")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    page_of(&store, &u, offset, ("", ""), None).await
}

/// `POST /suppressions`: add an address.
pub async fn add(State(store): State<Store>, Posted { user: u, form }: Posted) -> Response {
    let (address, detail) = (form.text("address"), form.text("detail"));
    match consent::suppress(&store, &u.actor, address, Some(detail)).await {
        Ok(_) => page::done("/suppressions", u.t().s("suppressions.added")),
        Err(e) => {
            let problem = crate::Problem::from(e);
            if problem.status == 403 {
                return problem.into_response();
            }
            let why = problem
                .errors
                .first()
                .map(|e| super::fields::message(u.t(), e))
                .unwrap_or(problem.detail.clone());
            page_of(&store, &u, 0, (address, detail), Some(why)).await
        }
    }
}

/// `POST /suppressions/remove`: take the posted address off.
pub async fn remove(State(store): State<Store>, Posted { user: u, form }: Posted) -> Response {
    match consent::unsuppress(&store, &u.actor, form.text("address")).await {
        Ok(_) => page::done("/suppressions", u.t().s("suppressions.removed")),
        Err(e) => crate::Problem::from(e).into_response(),
    }
}
