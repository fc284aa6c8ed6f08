//! `/notifications`: the signed-in user's notifications, newest first (all, or only the
//! unread), each linking to its record, with "mark read" per item and for all.

use super::page::{FormData, Page, Posted, WebUser, done, render, shown};
use super::records::collection_of;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use guanxi_store::{Notification, Store};
use serde::Deserialize;

const PAGE: u32 = 50;

/// One notification as the page shows it.
struct Item {
    id: String,
    title: String,
    body: Option<String>,
    /// The record it is about, when it links to one.
    href: Option<String>,
    when: String,
    unread: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct Notifications {
    p: Page,
    items: Vec<Item>,
    unread_only: bool,
    /// The link to the next (older) page.
    older: Option<String>,
}

#[derive(Deserialize)]
pub struct Params {
    #[serde(default)]
    unread: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

fn item(u: &WebUser, n: Notification) -> Item {
    let href = n
        .entity
        .as_deref()
        .and_then(guanxi_domain::entity::def_by_name)
        .zip(n.record_id)
        .map(|(def, id)| format!("{}/{id}", collection_of(def)));
    Item {
        id: n.id.to_string(),
        title: n.title,
        body: n.body,
        href,
        when: u.t().datetime(n.created_at),
        unread: n.read_at.is_none(),
    }
}

/// Where to go back to after marking: the list as it was filtered.
fn back(form: &FormData) -> &'static str {
    match form.get("unread") {
        Some("1") => "/notifications?unread=1",
        _ => "/notifications",
    }
}

/// `GET /notifications[?unread=1][&cursor=…]`
pub async fn list(State(store): State<Store>, u: WebUser, Query(q): Query<Params>) -> Response {
    let t = u.t();
    let unread_only = q.unread.is_some_and(|v| v == "1");
    let page = match store
        .notifications(&u.actor, unread_only, PAGE, q.cursor.as_deref())
        .await
    {
        Ok(p) => p,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let older = page.next_cursor.map(|c| {
        let filter = if unread_only { "unread=1&" } else { "" };
        format!("/notifications?{filter}cursor={c}")
    });
    let view = Notifications {
        p: u.page(t.s("notify.title")),
        items: page.items.into_iter().map(|n| item(&u, n)).collect(),
        unread_only,
        older,
    };
    shown(render(&view), &u)
}

/// `POST /notifications/{id}/read`
pub async fn mark_read(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user, form }: Posted,
) -> Response {
    let id = match crate::api::records::id_of(&id) {
        Ok(id) => id,
        Err(p) => return p.into_response(),
    };
    match store.mark_read(&user.actor, id).await {
        Ok(()) => Redirect::to(back(&form)).into_response(),
        Err(e) => crate::Problem::from(e).into_response(),
    }
}

/// `POST /notifications/read-all`
pub async fn mark_all_read(State(store): State<Store>, Posted { user, form }: Posted) -> Response {
    match store.mark_all_read(&user.actor).await {
        Ok(_) => done(back(&form), user.t().s("notify.marked_all")),
        Err(e) => crate::Problem::from(e).into_response(),
    }
}
