//! The rules API on a real server: a rule is a record administrators write through
//! `/rules` like any other, refused with problem+json naming the part that is wrong; the
//! test button says what a rule would do to a record; runs are listed per rule and per
//! record. (The rules firing, run by `guanxi serve`'s follower and job runner, are tested
//! in `guanxi-app`'s tests/rules.rs.)

mod common;

use common::Server;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(
    rules_are_written_tested_and_listed,
    rules_are_written_tested_and_listed
);

async fn call(
    method: &str,
    url: String,
    auth: &str,
    body: Option<Value>,
) -> (StatusCode, String, Value) {
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), url)
        .header("authorization", auth);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    (
        status,
        kind,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// The fields a problem+json names, in order.
fn named(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| e["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn rules_are_written_tested_and_listed(s: Server) {
    let admin = common::bearer(&s, "admin@t.cn").await.1;
    let rep = common::bearer(&s, "a@t.cn").await.1;
    let rules = format!("{}/rules", s.base);

    let bad = json!({
        "name": "坏规则", "entity": "case",
        "trigger": { "on": "updated", "field": "colour" },
        "conditions": [{ "field": "priority", "op": "eq", "value": "very" }],
        "actions": [{ "type": "update_field", "field": "satisfaction", "value": "lots" }]
    });
    let (status, kind, body) = call("POST", rules.clone(), &admin, Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(kind, "application/problem+json");
    assert_eq!(
        named(&body),
        ["trigger.field", "conditions[0].value", "actions[0].value"],
        "{body}"
    );
    let (status, _, body) = call(
        "POST",
        rules.clone(),
        &admin,
        Some(json!({ "name": "x", "entity": "case", "trigger": { "on": "whenever" }, "actions": [] })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(named(&body), ["trigger.on"], "{body}");

    let good = json!({
        "name": "停机工单升级", "entity": "case",
        "trigger": { "on": "created" },
        "conditions": [{ "field": "subject", "op": "contains", "value": "停机" }],
        "actions": [{ "type": "update_field", "field": "priority", "value": "urgent" }]
    });
    // Writing rules is the administrator's: a sales rep is refused.
    let (status, kind, _) = call("POST", rules.clone(), &rep, Some(good.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(kind, "application/problem+json");
    let (status, _, rule) = call("POST", rules.clone(), &admin, Some(good)).await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let rule_id = rule["id"].as_str().unwrap().to_string();

    let (status, _, case) = call(
        "POST",
        format!("{}/cases", s.base),
        &rep,
        Some(json!({ "number": "CS-1", "subject": "产线停机", "kind": "repair", "priority": "normal", "status": "new" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    let case_id = case["id"].as_str().unwrap();
    let test = format!("{rules}/{rule_id}/test");
    let (status, _, report) = call(
        "POST",
        test.clone(),
        &admin,
        Some(json!({ "record_id": case_id })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["meets"], true);
    assert_eq!(report["conditions"][0]["met"], true);
    assert_eq!(report["actions"][0]["type"], "update_field");
    let (status, _, body) = call("POST", test, &admin, Some(json!({ "record_id": "nope" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(named(&body), ["record_id"]);

    // No runner in this server: the runs are empty, and listed all the same.
    let (status, _, runs) = call("GET", format!("{rules}/{rule_id}/runs"), &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    assert_eq!(runs["items"], json!([]), "{runs}");
    let (status, _, runs) = call(
        "GET",
        format!("{}/rule-runs?record_id={case_id}", s.base),
        &rep,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    assert_eq!(runs["items"], json!([]), "{runs}");
    let (status, _, body) = call("GET", format!("{}/rule-runs", s.base), &rep, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(named(&body), ["record_id"]);
}
