//! The case queue: every open case in sight, most urgent SLA first, with its clock.

use super::home::{CaseClock, clocks, open_cases};
use super::page::{Page, WebUser, render, shown};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use guanxi_store::Store;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "queue.html")]
struct Queue {
    p: Page,
    clocks: Vec<CaseClock>,
    mine: bool,
}

#[derive(Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    mine: Option<String>,
}

/// `GET /cases/queue[?mine=1]`
pub async fn queue(
    State(store): State<Store>,
    u: WebUser,
    Query(q): Query<QueueQuery>,
) -> Response {
    let t = u.t();
    let mine = q.mine.is_some();
    let cases = match open_cases(&store, &u.actor, mine, 200).await {
        Ok(c) => c,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let page = Queue {
        p: u.page(t.s("queue.title")),
        clocks: clocks(t, &cases),
        mine,
    };
    shown(render(&page), &u)
}
