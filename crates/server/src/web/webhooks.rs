//! `/admin/webhooks`: the subscriptions (written in the entity's own form, `/webhooks/new`),
//! and for each its secret, its delivery log with every attempt's answer, and a button to
//! send a delivery again. A subscription's page is its owner's and the administrators'.

use super::page::{self, Page, Posted, WebUser, render, shown};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use guanxi_app::AppError;
use guanxi_app::webhooks;
use guanxi_domain::entities::{User, Webhook};
use guanxi_domain::filter::ListQuery;
use guanxi_domain::{Actor, Id};
use guanxi_store::{Store, StoreError};

/// How many deliveries a subscription's page lists.
const SHOWN: u32 = 100;

struct HookRow {
    href: String,
    name: String,
    entity: String,
    events: String,
    url: String,
    active: bool,
    disabled: String,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct ListPage {
    p: Page,
    rows: Vec<HookRow>,
}

struct DeliveryRow {
    id: String,
    event: String,
    status: String,
    attempts: i64,
    answer: String,
    error: String,
    at: String,
    may_replay: bool,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct HookPage {
    p: Page,
    id: String,
    name: String,
    url: String,
    entity: String,
    events: String,
    owner: String,
    active: bool,
    disabled: String,
    secret: String,
    rows: Vec<DeliveryRow>,
}

fn refused(u: &WebUser, e: AppError) -> Response {
    let status = match &e {
        AppError::Forbidden(_) | AppError::Store(StoreError::Forbidden { .. }) => {
            StatusCode::FORBIDDEN
        }
        AppError::Store(StoreError::NotFound { .. }) => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    super::error_page(u.t(), status, &e.to_string())
}

fn disabled_text(u: &WebUser, h: &Webhook) -> String {
    match (&h.disabled_at, &h.disabled_reason) {
        (Some(at), why) => format!("{} {}", u.t().datetime(*at), why.as_deref().unwrap_or("")),
        _ => String::new(),
    }
}

/// `GET /admin/webhooks`
pub async fn list(State(store): State<Store>, u: WebUser) -> Response {
    if !u.is_admin() {
        return super::error_page(u.t(), StatusCode::FORBIDDEN, "");
    }
    let t = u.t();
    let q = ListQuery::default().sort_by("name", false).limit(500);
    let hooks = match store.list::<Webhook>(&u.actor, &q).await {
        Ok(p) => p.items,
        Err(e) => return refused(&u, e.into()),
    };
    let rows = hooks
        .iter()
        .map(|h| HookRow {
            href: format!("/admin/webhooks/{}", h.meta.id),
            name: h.data.name.clone(),
            entity: t.entity_one(&h.data.entity).to_string(),
            events: h.data.events.join(", "),
            url: h.data.url.clone(),
            active: h.data.active,
            disabled: disabled_text(&u, &h.data),
        })
        .collect();
    let page = ListPage {
        p: u.page(t.entity_many("webhook")),
        rows,
    };
    shown(render(&page), &u)
}

/// `GET /admin/webhooks/{id}`
pub async fn show(State(store): State<Store>, u: WebUser, Path(id): Path<String>) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    let t = u.t();
    // The secret first: it is the check that this user may see the page.
    let secret = match webhooks::secret(&store, &u.actor, id).await {
        Ok(s) => s,
        Err(e) => return refused(&u, e),
    };
    let (hook, deliveries) = match (
        store.get::<Webhook>(&u.actor, id).await,
        webhooks::deliveries(&store, &u.actor, id, None, SHOWN).await,
    ) {
        (Ok(h), Ok(d)) => (h, d),
        (Err(e), _) => return refused(&u, e.into()),
        (_, Err(e)) => return refused(&u, e),
    };
    let owner = store
        .get::<User>(&Actor::system(), hook.data.user_id)
        .await
        .map(|o| o.data.name)
        .unwrap_or_default();
    let rows = deliveries
        .into_iter()
        .map(|d| DeliveryRow {
            id: d.id.to_string(),
            event: d.event,
            may_replay: d.status != "pending",
            status: t.s(&format!("webhooks.status.{}", d.status)).to_string(),
            attempts: d.attempts,
            answer: d.last_status.map(|s| s.to_string()).unwrap_or_default(),
            error: d.last_error.unwrap_or_default(),
            at: t.datetime(d.created_at),
        })
        .collect();
    let page = HookPage {
        p: u.page(hook.data.name.clone()),
        id: id.to_string(),
        disabled: disabled_text(&u, &hook.data),
        name: hook.data.name,
        url: hook.data.url,
        entity: t.entity_one(&hook.data.entity).to_string(),
        events: hook.data.events.join(", "),
        owner,
        active: hook.data.active,
        secret,
        rows,
    };
    shown(render(&page), &u)
}

/// `POST /admin/webhooks/{id}/deliveries/{delivery}/replay`
pub async fn replay(
    State(store): State<Store>,
    Path((id, delivery)): Path<(String, String)>,
    Posted { user: u, .. }: Posted,
) -> Response {
    let (Ok(id), Ok(delivery)) = (Id::parse(&id), Id::parse(&delivery)) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    match webhooks::replay(&store, &u.actor, id, delivery).await {
        Ok(_) => page::done(
            &format!("/admin/webhooks/{id}"),
            u.t().s("webhooks.replayed"),
        ),
        Err(e) => refused(&u, e),
    }
}
