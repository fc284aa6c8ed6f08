//! The jobs API on a real server: administrators list, read, retry and cancel jobs; anyone
//! else is refused with problem+json; refusals name the field.

mod common;

use common::Server;
use guanxi_store::{JobState, NewJob, Retry};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::time::Duration;

on_both!(administrators_manage_jobs, administrators_manage_jobs);

async fn call(method: &str, url: String, auth: &str) -> (StatusCode, HeaderMap, Value) {
    let res = reqwest::Client::new()
        .request(method.parse().unwrap(), url)
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let text = res.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn is_problem(h: &HeaderMap, body: &Value) {
    assert_eq!(h["content-type"], "application/problem+json", "{body}");
}

async fn administrators_manage_jobs(s: Server) {
    let admin = common::bearer(&s, "admin@t.cn").await.1;
    let rep = common::bearer(&s, "a@t.cn").await.1;
    let lease = Duration::from_secs(600);
    let made = s
        .store
        .enqueue(&[
            NewJob::new("webhook.deliver", json!({"n": 1})),
            NewJob::new("email.send", json!({"n": 2})),
            NewJob::new("webhook.deliver", json!({"n": 3})),
        ])
        .await
        .unwrap();
    let (dead, running, queued) = (made[0].id, made[1].id, made[2].id);
    // The oldest due first: the first becomes dead, the second runs.
    let c = s.store.claim("test", None, 1, lease).await.unwrap();
    assert_eq!(c[0].id, dead);
    s.store
        .fail(dead, "test", "receiver said 410", Retry::Never)
        .await
        .unwrap();
    assert_eq!(
        s.store.claim("test", None, 1, lease).await.unwrap()[0].id,
        running
    );

    let (st, _, body) = call("GET", format!("{}/jobs", s.base), &admin).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 3);
    assert_eq!(body["items"][0]["id"], queued.to_string(), "newest first");
    assert_eq!(
        body["counts"],
        json!({"queued": 1, "running": 1, "done": 0, "dead": 1, "cancelled": 0})
    );

    let (_, _, body) = call("GET", format!("{}/jobs?state=dead", s.base), &admin).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["items"][0]["last_error"], "receiver said 410");
    let (_, _, body) = call("GET", format!("{}/jobs?kind=email.send", s.base), &admin).await;
    assert_eq!(body["items"][0]["id"], running.to_string());
    let (_, _, first) = call("GET", format!("{}/jobs?limit=2", s.base), &admin).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, _, rest) = call(
        "GET",
        format!("{}/jobs?limit=2&cursor={cursor}", s.base),
        &admin,
    )
    .await;
    assert_eq!(rest["items"][0]["id"], dead.to_string());
    assert!(rest["next_cursor"].is_null());

    let (st, h, body) = call("GET", format!("{}/jobs?state=stuck", s.base), &admin).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    is_problem(&h, &body);
    assert_eq!(body["errors"][0]["field"], "state");
    let (st, _, body) = call("GET", format!("{}/jobs?colour=red", s.base), &admin).await;
    assert_eq!(
        (st, &body["errors"][0]["field"]),
        (StatusCode::BAD_REQUEST, &json!("colour"))
    );

    let (st, _, body) = call("GET", format!("{}/jobs/{running}", s.base), &admin).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (body["state"].as_str(), body["attempts"].as_i64()),
        (Some("running"), Some(1))
    );
    assert_eq!(body["payload"], json!({"n": 2}));
    for path in [
        format!("/jobs/{}", guanxi_domain::Id::new()),
        format!("/jobs/{}/retry", guanxi_domain::Id::new()),
        "/jobs/not-an-id".to_string(),
    ] {
        let method = if path.ends_with("retry") {
            "POST"
        } else {
            "GET"
        };
        let (st, h, body) = call(method, format!("{}{path}", s.base), &admin).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{path}: {body}");
        is_problem(&h, &body);
    }

    let (st, _, body) = call("POST", format!("{}/jobs/{dead}/retry", s.base), &admin).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        (body["state"].as_str(), body["attempts"].as_i64()),
        (Some("queued"), Some(0))
    );
    let (st, _, body) = call("POST", format!("{}/jobs/{queued}/cancel", s.base), &admin).await;
    assert_eq!(
        (st, body["state"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    assert_eq!(
        s.store.job(queued).await.unwrap().state,
        JobState::Cancelled
    );

    let (st, h, body) = call("POST", format!("{}/jobs/{running}/cancel", s.base), &admin).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    is_problem(&h, &body);
    assert_eq!(body["errors"][0]["field"], "state");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("running"),
        "{body}"
    );
    let (st, _, body) = call("POST", format!("{}/jobs/{running}/retry", s.base), &admin).await;
    assert_eq!(
        (st, &body["errors"][0]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("state"))
    );

    for (method, path) in [
        ("GET", "/jobs".to_string()),
        ("GET", format!("/jobs/{running}")),
        ("POST", format!("/jobs/{dead}/retry")),
        ("POST", format!("/jobs/{dead}/cancel")),
    ] {
        let (st, h, body) = call(method, format!("{}{path}", s.base), &rep).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        is_problem(&h, &body);
    }
    assert_eq!(
        s.store.job(dead).await.unwrap().state,
        JobState::Queued,
        "unchanged"
    );
}
