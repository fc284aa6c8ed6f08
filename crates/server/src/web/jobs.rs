//! `/admin/jobs`: the durable jobs for administrators: how many are in each state, the
//! newest ones filtered by state and kind with their attempts, next run and last error, and
//! buttons to queue a dead or cancelled one again or to cancel a waiting one.

use super::page::{self, Page, Posted, WebUser, render, shown};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use guanxi_app::AppError;
use guanxi_app::jobs;
use guanxi_domain::Id;
use guanxi_store::{JobState, Store};
use serde::Deserialize;

const PAGE: u32 = 50;

struct Row {
    id: String,
    kind: String,
    key: String,
    state: &'static str,
    state_label: &'static str,
    attempts: String,
    run_at: String,
    last_error: String,
    may_retry: bool,
    may_cancel: bool,
}

struct Count {
    state: &'static str,
    label: &'static str,
    count: String,
    /// The list is filtered to this state.
    current: bool,
    href: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    p: Page,
    counts: Vec<Count>,
    /// The state filtered, or empty.
    state: String,
    /// Every state, of the kind filtered.
    all: String,
    kind: String,
    rows: Vec<Row>,
    /// The link to the next page, with the same filters.
    next: Option<String>,
    /// Where a retry or cancel returns to: this page as filtered.
    back: String,
}

#[derive(Deserialize)]
pub struct Params {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

fn query_of(pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    let q = q.finish();
    if q.is_empty() {
        "/admin/jobs".into()
    } else {
        format!("/admin/jobs?{q}")
    }
}

fn refused(u: &WebUser, e: AppError) -> Response {
    let status = match &e {
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::Store(guanxi_store::StoreError::NotFound { .. }) => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    super::error_page(u.t(), status, &e.to_string())
}

/// `GET /admin/jobs?state=&kind=&cursor=`
pub async fn list(State(store): State<Store>, u: WebUser, Query(q): Query<Params>) -> Response {
    let t = u.t();
    let state = q.state.unwrap_or_default();
    let kind = q.kind.unwrap_or_default();
    let counts = match jobs::counts(&store, &u.actor).await {
        Ok(c) => c,
        Err(e) => return refused(&u, e),
    };
    let page = match jobs::list(
        &store,
        &u.actor,
        Some(&state),
        Some(&kind),
        PAGE,
        q.cursor.as_deref(),
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return refused(&u, e),
    };
    let label = |s: JobState| t.s(&format!("jobs.state.{}", s.as_str()));
    let rows = page
        .items
        .iter()
        .map(|j| Row {
            id: j.id.to_string(),
            kind: j.kind.clone(),
            key: j.key.clone().unwrap_or_default(),
            state: j.state.as_str(),
            state_label: label(j.state),
            attempts: format!("{} / {}", j.attempts, j.max_attempts),
            run_at: match j.state {
                JobState::Queued => t.datetime(j.run_at),
                JobState::Running => j.lease_until.map(|l| t.datetime(l)).unwrap_or_default(),
                _ => j.finished_at.map(|f| t.datetime(f)).unwrap_or_default(),
            },
            last_error: j.last_error.clone().unwrap_or_default(),
            may_retry: matches!(j.state, JobState::Dead | JobState::Cancelled),
            may_cancel: matches!(j.state, JobState::Queued | JobState::Dead),
        })
        .collect();
    let back = query_of(&[("state", &state), ("kind", &kind)]);
    let page = JobsPage {
        p: u.page(t.s("jobs.title")),
        counts: counts
            .into_iter()
            .map(|(s, n)| Count {
                state: s.as_str(),
                label: label(s),
                count: t.int(n),
                current: s.as_str() == state,
                href: query_of(&[("state", s.as_str()), ("kind", &kind)]),
            })
            .collect(),
        all: query_of(&[("kind", &kind)]),
        next: page
            .next_cursor
            .map(|c| query_of(&[("state", &state), ("kind", &kind), ("cursor", &c)])),
        kind,
        state,
        rows,
        back,
    };
    shown(render(&page), &u)
}

/// Where to go after a form: the page as it was filtered (only our own pages).
fn back_to(form: &page::FormData) -> String {
    let back = form.text("back");
    if back.starts_with("/admin/jobs") {
        back.to_string()
    } else {
        "/admin/jobs".into()
    }
}

/// `POST /admin/jobs/{id}/retry`
pub async fn retry(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    match jobs::retry(&store, &u.actor, id).await {
        Ok(_) => page::done(&back_to(&form), u.t().s("jobs.retried")),
        Err(e) => refused(&u, e),
    }
}

/// `POST /admin/jobs/{id}/cancel`
pub async fn cancel(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    match jobs::cancel(&store, &u.actor, id).await {
        Ok(_) => page::done(&back_to(&form), u.t().s("jobs.cancelled")),
        Err(e) => refused(&u, e),
    }
}
