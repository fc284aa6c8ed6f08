//! The HTTP front of Guanxi: the REST API under `/api/v1`, the web pages, and the health
//! check that load balancers poll. Handlers stay thin: parse, call a use case of
//! `guanxi_app` (or a read of the store) with the signed-in actor, render.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use guanxi_store::{Backend, Store};
use serde::Serialize;
use std::time::Duration;

mod api;
mod deployment;
mod problem;
mod rate_limit;
mod security_headers;
mod sessions;
mod web;

pub use deployment::Deployment;
pub use problem::Problem;
pub use rate_limit::LOGIN_BURST;

/// How long `/healthz` waits for the database before answering 503. Well under the pool's
/// own acquire timeout, so a load balancer's probe gets an answer rather than a hang.
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// The application: every route, sharing one [`Store`] and, when given, the search index
/// (which `guanxi_app::search::Feed`, a follower of the change log, keeps up to date), as deployed at `deployment`.
pub fn router(store: Store, index: Option<guanxi_search::Index>, deployment: Deployment) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .nest("/api/v1", api::routes())
        .merge(web::routes())
        .fallback(not_found)
        .layer(axum::middleware::map_response(problem::for_every_error))
        .layer(axum::middleware::map_response(security_headers::add))
        .layer(axum::Extension(rate_limit::LoginLimiter::default()))
        .layer(axum::Extension(deployment))
        .layer(axum::Extension(guanxi_app::search::Searcher(index)))
        .layer(axum::Extension(guanxi_app::tracking::Recorder::new(
            store.clone(),
        )))
        .with_state(store)
}

/// Serve [`router`] on `listener` until Ctrl-C or SIGTERM, then let in-flight requests
/// finish and return.
pub async fn serve(
    store: Store,
    index: Option<guanxi_search::Index>,
    deployment: Deployment,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    // The handlers are registered before the first connection is accepted: a SIGTERM that
    // arrives as soon as the server answers must shut it down, not kill it.
    let shutdown = shutdown_signal();
    let app = router(store, index, deployment)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on the first Ctrl-C or SIGTERM. The signal handlers are installed when this is
/// called, not when the future is first polled (axum polls it on a task of its own).
#[cfg(unix)]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind: SignalKind, name: &str| {
        signal(kind)
            .inspect_err(|e| tracing::warn!("cannot listen for {name}: {e}"))
            .ok()
    };
    let (mut interrupt, mut terminate) = (
        listen(SignalKind::interrupt(), "Ctrl-C"),
        listen(SignalKind::terminate(), "SIGTERM"),
    );
    async move {
        tokio::select! {
            () = received(interrupt.as_mut()) => {}
            () = received(terminate.as_mut()) => {}
        }
        tracing::info!("shutting down: finishing open requests");
    }
}

/// The next delivery of a signal we listen for; never, when we could not listen for it.
#[cfg(unix)]
async fn received(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

#[cfg(not(unix))]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down: finishing open requests");
    }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    database: &'static str,
}

/// `GET /healthz`: 200 when the database answers a round-trip, 503 otherwise.
async fn healthz(State(store): State<Store>) -> Response {
    let database = match store.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let detail = match tokio::time::timeout(PING_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => {
            return Json(Health {
                status: "ok",
                database,
            })
            .into_response();
        }
        Ok(Err(e)) => format!("the {database} database did not answer: {e}"),
        Err(_) => format!(
            "the {database} database did not answer within {} s",
            PING_TIMEOUT.as_secs()
        ),
    };
    tracing::warn!("health check failed: {detail}");
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail).into_response()
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "no such page")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use axum::http::header;
    use tower::ServiceExt;

    async fn get_json(store: Store, path: &str) -> (StatusCode, String, serde_json::Value) {
        let res = router(store, None, Deployment::default())
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let ct = res
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, ct, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn healthz_is_ok_when_the_database_answers() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let (status, ct, body) = get_json(store, "/healthz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ct, "application/json");
        assert_eq!(
            body,
            serde_json::json!({"status": "ok", "database": "sqlite"})
        );
    }

    #[tokio::test]
    async fn healthz_is_a_503_problem_when_the_database_is_gone() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        store.close().await;
        let (status, ct, body) = get_json(store, "/healthz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ct, "application/problem+json");
        assert_eq!(body["type"], "about:blank");
        assert_eq!(body["title"], "Service Unavailable");
        assert_eq!(body["status"], 503);
        assert!(
            body["detail"].as_str().unwrap().contains("sqlite"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn unknown_paths_are_a_404_problem() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let (status, ct, body) = get_json(store, "/no/such/page").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(ct, "application/problem+json");
        assert_eq!(body["status"], 404);
        assert_eq!(body["title"], "Not Found");
    }
}
