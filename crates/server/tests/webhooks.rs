//! Webhook subscriptions end to end, on a real server and a real receiver: PyPI's Standard
//! Webhooks library checks every signature on loopback. A subscription is written through
//! `/webhooks` (bad input refused naming the field); changes reach it through the follower
//! and the job runner, in order per record, as its owner may read them (a rep's webhook
//! never carries another team's record or an unmasked national id); the delivery log and
//! replay; a receiver that fails or hangs holds up nothing else and is switched off, its
//! owner told.

mod common;
#[path = "../../outbound/tests/support/mod.rs"]
mod support;

use common::Server;
use guanxi_app::jobs::{self, Handlers, Runner};
use guanxi_app::webhooks::{Deliver, Dispatch};
use guanxi_domain::backoff::Backoff;
use guanxi_store::follow::Follower;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::PyServer;

on_both!(
    deliveries_are_signed_ordered_scoped_and_logged,
    deliveries_are_signed_ordered_scoped_and_logged
);
on_both!(a_rule_calls_a_webhook, a_rule_calls_a_webhook);
on_both!(
    a_failing_receiver_blocks_nothing_and_is_switched_off,
    a_failing_receiver_blocks_nothing_and_is_switched_off
);

/// What `guanxi serve` runs for webhooks, with a short attempt timeout, quick retries and
/// the failing time before switching off given by the test.
async fn background(s: &Server, disable_after: Duration) -> (Follower<Dispatch>, Runner) {
    let store = s.store.clone();
    let follower = Dispatch::open(store.clone()).await.unwrap().follow();
    let handlers = Handlers::new().with(Deliver::with(
        store.clone(),
        Duration::from_secs(2),
        disable_after,
    ));
    let options = jobs::Options {
        poll: Duration::from_millis(100),
        backoff: Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(400),
        },
        ..jobs::Options::default()
    };
    (follower, jobs::start(store, handlers, options))
}

async fn call(
    method: &str,
    url: String,
    auth: &str,
    body: Option<Value>,
    version: Option<i64>,
) -> (StatusCode, String, Value) {
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), url)
        .header("authorization", auth);
    if let Some(v) = version {
        req = req.header("if-match", format!("\"{v}\""));
    }
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

/// The receiver: PyPI's verifier with the subscription's secret.
struct Receiver {
    server: PyServer,
    results: tempfile::NamedTempFile,
}

impl Receiver {
    fn start(secret: &str) -> Receiver {
        let results = tempfile::NamedTempFile::new().unwrap();
        let server = PyServer::start(
            "webhook_verifier.py",
            &[secret, results.path().to_str().unwrap()],
        );
        Receiver { server, results }
    }

    fn results(&self) -> Vec<Value> {
        std::fs::read_to_string(self.results.path())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The deliveries received once at least `n` have come (or after 30 s).
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let got = self.results();
            if got.len() >= n || start.elapsed() > Duration::from_secs(30) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn user_id(s: &Server, email: &str) -> String {
    common::bearer(s, email).await.0.user_id.to_string()
}

/// Create a subscription as the administrator, to a placeholder, and point it at a
/// receiver started with its secret (read as its owner).
async fn subscribe(
    s: &Server,
    admin: &str,
    owner: (&str, &str),
    entity: &str,
    path: &str,
    receiver: Option<&Receiver>,
) -> (String, Receiver) {
    let hook = json!({ "name": format!("hook {path}"), "url": "http://127.0.0.1:9/none",
                       "entity": entity, "events": ["created", "updated", "deleted"],
                       "user_id": owner.0 });
    let (st, _, h) = call(
        "POST",
        format!("{}/webhooks", s.base),
        admin,
        Some(hook),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{h}");
    let id = h["id"].as_str().unwrap().to_string();
    let (st, _, secret) = call(
        "GET",
        format!("{}/webhooks/{id}/secret", s.base),
        owner.1,
        None,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{secret}");
    let secret = secret["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let fresh = Receiver::start(&secret);
    let url = receiver.unwrap_or(&fresh).server.url(path);
    let (st, _, h) = call(
        "PATCH",
        format!("{}/webhooks/{id}", s.base),
        admin,
        Some(json!({ "url": url })),
        Some(h["version"].as_i64().unwrap()),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{h}");
    (id, fresh)
}

async fn deliveries_are_signed_ordered_scoped_and_logged(s: Server) {
    let (follower, runner) = background(&s, Duration::from_secs(24 * 3600)).await;
    let admin = common::bearer(&s, "admin@t.cn").await.1;
    let rep_a = common::bearer(&s, "a@t.cn").await.1;
    let rep_b = common::bearer(&s, "b@t.cn").await.1;
    let a_id = user_id(&s, "a@t.cn").await;
    let hooks = format!("{}/webhooks", s.base);

    // Bad input names each field; reps may not subscribe.
    let bad = json!({ "name": "坏", "url": "ftp://erp.example.com/in", "entity": "martian",
                      "events": ["created", "sometimes"], "user_id": a_id });
    let (st, kind, body) = call("POST", hooks.clone(), &admin, Some(bad.clone()), None).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(kind, "application/problem+json");
    assert_eq!(named(&body), ["url", "entity", "events[1]"], "{body}");
    let (st, _, _) = call("POST", hooks.clone(), &rep_a, Some(bad), None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Rep a's subscription to contacts.
    let (hook, receiver) = subscribe(&s, &admin, (&a_id, &rep_a), "contact", "/verify", None).await;
    // The secret and the log are the owner's and the administrators', not another rep's.
    for path in ["secret", "deliveries"] {
        let (st, _, _) = call("GET", format!("{hooks}/{hook}/{path}"), &rep_b, None, None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
    }
    // Nor does the list carry it.
    let (_, _, list) = call("GET", hooks.clone(), &admin, None, None).await;
    assert!(!list.to_string().contains("whsec_"), "{list}");

    // Rep a's contact, changed three times; rep b's contact (another team's).
    let contacts = format!("{}/contacts", s.base);
    let mine =
        json!({ "name": "张伟", "mobile": "138 1234 5678", "national_id": "11010519491231002X" });
    let (st, _, c) = call("POST", contacts.clone(), &rep_a, Some(mine), None).await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    let cid = c["id"].as_str().unwrap().to_string();
    let mut version = c["version"].as_i64().unwrap();
    for title in ["经理", "总监", "副总裁"] {
        let (st, _, c) = call(
            "PATCH",
            format!("{contacts}/{cid}"),
            &rep_a,
            Some(json!({ "title": title })),
            Some(version),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{c}");
        version = c["version"].as_i64().unwrap();
    }
    let theirs = json!({ "name": "李娜", "national_id": "11010519491231002X" });
    let (st, _, other) = call("POST", contacts.clone(), &rep_b, Some(theirs), None).await;
    assert_eq!(st, StatusCode::CREATED, "{other}");
    // (Reps may not delete: the administrator does.)
    let (st, _, _) = call(
        "DELETE",
        format!("{contacts}/{cid}"),
        &admin,
        None,
        Some(version),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);

    let got = receiver.wait_for(5).await;
    assert_eq!(got.len(), 5, "{got:#?}");
    let bodies: Vec<Value> = got
        .iter()
        .map(|r| {
            assert_eq!(r["valid"], true, "the verifier refused: {r}");
            serde_json::from_str(r["body"].as_str().unwrap()).unwrap()
        })
        .collect();
    // In order, the record as the owner may read it: masked, and only their own.
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "contact.created",
            "contact.updated",
            "contact.updated",
            "contact.updated",
            "contact.deleted"
        ]
    );
    let titles: Vec<Value> = bodies[1..4]
        .iter()
        .map(|b| b["data"]["title"].clone())
        .collect();
    assert_eq!(titles, [json!("经理"), json!("总监"), json!("副总裁")]);
    for b in &bodies {
        assert_eq!(b["data"]["id"], cid.as_str(), "{b}");
        assert_eq!(b["data"]["national_id"], "110***********002X", "{b}");
        assert_eq!(b["data"]["mobile"], "+86 138****5678", "{b}");
    }
    let all = serde_json::to_string(&got).unwrap();
    assert!(!all.contains("李娜") && !all.contains("11010519491231002X"));

    // The log, as the owner reads it: delivered with 204, each attempt kept.
    let (st, _, log) = call(
        "GET",
        format!("{hooks}/{hook}/deliveries"),
        &rep_a,
        None,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{log}");
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 5, "{log}");
    assert!(
        items
            .iter()
            .all(|d| d["status"] == "delivered" && d["last_status"] == 204)
    );
    assert!(items.iter().all(|d| d.get("secret").is_none()));
    let first = items.last().unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(
        got[0]["id"],
        first.as_str(),
        "the webhook-id is the delivery's id"
    );
    let (st, _, one) = call(
        "GET",
        format!("{hooks}/{hook}/deliveries/{first}"),
        &admin,
        None,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{one}");
    assert_eq!(one["attempts"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one["attempts"][0]["status_code"], 204);

    // Replay: the same message (id and body) once more, signed anew.
    let (st, _, again) = call(
        "POST",
        format!("{hooks}/{hook}/deliveries/{first}/replay"),
        &rep_a,
        None,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{again}");
    assert_eq!(again["replays"], 1);
    let got = receiver.wait_for(6).await;
    assert_eq!(got.len(), 6);
    assert_eq!(got[5]["id"], first.as_str());
    assert_eq!(got[5]["body"], got[0]["body"]);
    assert_eq!(got[5]["valid"], true);
    let (st, _, _) = call(
        "POST",
        format!("{hooks}/{hook}/deliveries/{first}/replay"),
        &rep_b,
        None,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    runner.stop().await;
    drop(follower.stop().await);
}

async fn a_failing_receiver_blocks_nothing_and_is_switched_off(s: Server) {
    let (follower, runner) = background(&s, Duration::from_secs(2)).await;
    let admin = common::bearer(&s, "admin@t.cn").await.1;
    let a_id = user_id(&s, "a@t.cn").await;
    let admin_id = user_id(&s, "admin@t.cn").await;
    let rep_a = common::bearer(&s, "a@t.cn").await.1;
    let hooks = format!("{}/webhooks", s.base);
    let me = (admin_id.as_str(), admin.as_str());

    let (_, receiver) = subscribe(&s, &admin, me, "account", "/verify", None).await;
    let (failing, _) = subscribe(
        &s,
        &admin,
        (&a_id, &rep_a),
        "account",
        "/fail",
        Some(&receiver),
    )
    .await;
    let (hanging, _) = subscribe(&s, &admin, me, "account", "/hang", Some(&receiver)).await;

    // Twenty of rep a's accounts: the good receiver has them all while the others fail and
    // hang.
    let started = Instant::now();
    for i in 0..20 {
        let acc = json!({ "name": format!("客户 {i}"), "kind": "organisation", "relationship": "customer" });
        let (st, _, a) = call(
            "POST",
            format!("{}/accounts", s.base),
            &rep_a,
            Some(acc),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{a}");
    }
    let got = receiver.wait_for(20).await;
    assert_eq!(got.len(), 20);
    assert!(got.iter().all(|r| r["valid"] == true));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the good receiver waited {:?}",
        started.elapsed()
    );

    // The one answering 500 fails for longer than allowed: switched off, its owner told.
    let deadline = Instant::now() + Duration::from_secs(30);
    let off = loop {
        let (_, _, h) = call("GET", format!("{hooks}/{failing}"), &admin, None, None).await;
        if h["active"] == false || Instant::now() > deadline {
            break h;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(off["active"], false, "{off}");
    assert!(off["disabled_at"].is_string(), "{off}");
    assert!(
        off["disabled_reason"].as_str().unwrap().contains("failed"),
        "{off}"
    );
    let owner = s
        .store
        .actor_for(guanxi_domain::Id::parse(&a_id).unwrap())
        .await
        .unwrap();
    // (Told just after it is switched off.)
    let mut notes = vec![];
    for _ in 0..50 {
        notes = s
            .store
            .notifications(&owner, false, 20, None)
            .await
            .unwrap()
            .items;
        if !notes.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        notes
            .iter()
            .any(|n| n.kind == "webhook" && n.title.contains("hook /fail")),
        "{notes:?}"
    );
    // Its log: attempts answered 500; what was left is cancelled, not lost (replayable).
    let (_, _, log) = call(
        "GET",
        format!("{hooks}/{failing}/deliveries?limit=100"),
        &rep_a,
        None,
        None,
    )
    .await;
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 20, "{log}");
    assert!(items.iter().all(|d| d["status"] != "delivered"), "{log}");
    assert!(items.iter().any(|d| d["last_status"] == 500), "{log}");
    assert!(items.iter().any(|d| d["status"] == "cancelled"), "{log}");

    // The hanging one's attempts time out (no answer, an error saying so).
    let (_, _, log) = call(
        "GET",
        format!("{hooks}/{hanging}/deliveries"),
        &admin,
        None,
        None,
    )
    .await;
    let tried = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["attempts"].as_i64() > Some(0))
        .cloned()
        .expect("an attempt at the hanging receiver");
    assert!(tried["last_status"].is_null(), "{tried}");
    assert!(
        tried["last_error"].as_str().unwrap().contains("timed out"),
        "{tried}"
    );

    runner.stop().await;
    drop(follower.stop().await);
}

/// A rule's "call a webhook" sends the record that fired it, signed, as the webhook's
/// owner may read it; once per run.
async fn a_rule_calls_a_webhook(s: Server) {
    let (follower, runner) = background(&s, Duration::from_secs(24 * 3600)).await;
    let rules = guanxi_app::rules::start(s.store.clone()).await.unwrap();
    let rule_runner = jobs::start(
        s.store.clone(),
        Handlers::new().with(guanxi_app::rules::RunRule {
            store: s.store.clone(),
            outbox: guanxi_app::mail::Outbox::off(),
        }),
        jobs::Options {
            poll: Duration::from_millis(100),
            ..jobs::Options::default()
        },
    );
    let admin = common::bearer(&s, "admin@t.cn").await.1;
    let admin_id = user_id(&s, "admin@t.cn").await;
    // The subscription reports leads only: what reaches the receiver is the rule's call.
    let (hook, receiver) =
        subscribe(&s, &admin, (&admin_id, &admin), "lead", "/verify", None).await;
    let rule = json!({
        "name": "停机工单通知 ERP", "entity": "case", "trigger": { "on": "created" },
        "conditions": [{ "field": "priority", "op": "eq", "value": "urgent" }],
        "actions": [{ "type": "call_webhook", "webhook_id": hook }]
    });
    let (st, _, r) = call(
        "POST",
        format!("{}/rules", s.base),
        &admin,
        Some(rule),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    for (number, priority) in [("CS-1", "urgent"), ("CS-2", "normal")] {
        let case = json!({ "number": number, "subject": "产线停机", "kind": "repair",
                           "priority": priority, "status": "new" });
        let (st, _, c) = call(
            "POST",
            format!("{}/cases", s.base),
            &admin,
            Some(case),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{c}");
    }
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["valid"], true);
    let body: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["type"], "case.rule");
    assert_eq!(body["data"]["number"], "CS-1");
    // Nothing more comes (the normal case meets no condition; the run sends once).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.results().len(), 1);

    rule_runner.stop().await;
    drop(rules.stop().await);
    runner.stop().await;
    drop(follower.stop().await);
}
