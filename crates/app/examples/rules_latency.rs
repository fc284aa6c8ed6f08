//! How long from a write's commit to its rule's action done, with the follower and the job
//! runner running as `guanxi serve` runs them, on a fresh SQLite file.
//!
//!   cargo run --release -p guanxi-app --example rules_latency -- [writes/s] [seconds] [rules]
//!
//! Defaults: 50 writes/s for 20 s with 50 active rules, one of which fires on every write
//! (a case created → its category set); the others watch leads. Latency is the action's
//! change-log time minus the case's creation time, both taken by the store in its commit.

use guanxi_app::{jobs, records, rules};
use guanxi_domain::entities::{Case, Rule};
use guanxi_domain::{Actor, Id};
use guanxi_store::{RunsOf, Store};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("a number"));
    let rate = args.next().unwrap_or(50);
    let seconds = args.next().unwrap_or(20);
    let n_rules = args.next().unwrap_or(50).max(1);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite:{}", dir.path().join("bench.db").display()))
        .await
        .unwrap();
    let system = Actor::system();
    let firing = records::create::<Rule>(
        &store,
        &system,
        json!({
            "name": "category", "entity": "case", "trigger": { "on": "created" },
            "conditions": [{ "field": "priority", "op": "eq", "value": "urgent" }],
            "actions": [{ "type": "update_field", "field": "category", "value": "urgent-line" }]
        }),
    )
    .await
    .unwrap();
    for i in 1..n_rules {
        records::create::<Rule>(
            &store,
            &system,
            json!({
                "name": format!("lead rule {i}"), "entity": "lead", "trigger": { "on": "updated" },
                "conditions": [{ "field": "company", "op": "eq", "value": format!("c{i}") }],
                "actions": [{ "type": "update_field", "field": "title", "value": "x" }]
            }),
        )
        .await
        .unwrap();
    }
    let trigger = rules::start(store.clone()).await.unwrap();
    let runner = jobs::start(
        store.clone(),
        jobs::served(&store, &guanxi_app::mail::Outbox::off()),
        jobs::Options::default(),
    );

    let total = rate * seconds;
    let gap = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let mut cases = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = started + gap * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let c = records::create::<Case>(
            &store,
            &system,
            json!({ "number": format!("B-{i}"), "subject": "停机", "kind": "repair",
                    "priority": "urgent", "status": "new" }),
        )
        .await
        .unwrap();
        cases.push((c.meta.id, c.meta.created_at));
    }
    let offered = started.elapsed().as_secs_f64();
    let mut latencies = Vec::with_capacity(cases.len());
    for (id, created) in &cases {
        wait_done(&store, *id).await;
        let log = store.changes_for::<Case>(&system, *id).await.unwrap();
        let acted = log
            .iter()
            .find(|e| e.action == "update" && e.actor_id == firing.meta.id)
            .expect("the rule's update");
        latencies.push((acted.at - *created).num_microseconds().unwrap_or(0) as f64 / 1000.0);
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    println!(
        "{} writes at {:.1}/s offered ({n_rules} active rules): commit → action done p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        total as f64 / offered,
        q(0.5),
        q(0.9),
        q(0.99),
        latencies[latencies.len() - 1]
    );
    let _ = trigger.stop().await;
    runner.stop().await;
}

/// Wait for the case's run to finish; it must have succeeded.
async fn wait_done(store: &Store, id: Id) {
    loop {
        let runs = store
            .rule_runs(&Actor::system(), RunsOf::Record(id), 5)
            .await
            .unwrap();
        if let Some(r) = runs.into_iter().find(|r| r.status != "queued") {
            assert_eq!(r.status, "done", "{r:?}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
