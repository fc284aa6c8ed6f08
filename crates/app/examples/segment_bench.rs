//! How long a segment's live count takes over a large customer base.
//!
//!   cargo run --release -p guanxi-app --example segment_bench -- <database URL>
//!   cargo run --release -p guanxi-app --example segment_bench -- --generate [accounts]
//!
//! On a seeded database after `guanxi analytics run` (so grades and churn risks exist), or
//! on a fresh SQLite file of `accounts` accounts (1,000,000) whose analytics outputs are
//! written as a run writes them (grades A–D, churn risk, CLV, RFM segment), a tenth of
//! them with a contact consenting to e-mail. Each segment is counted `RUNS` times (50) as
//! an administrator and as a marketer (both see every account); p50 and p99 are printed.

use chrono::Utc;
use guanxi_app::segments;
use guanxi_domain::entities::{
    Account, AccountKind, Contact, CustomerGrade, CustomerInsight, Relationship, RfmSegment,
    Segment,
};
use guanxi_domain::{Actor, Currency, Id, Money, NewRecord};
use guanxi_store::Store;
use std::time::Instant;

const RUNS: usize = 50;

async fn generate(dir: &std::path::Path, accounts: usize) -> Store {
    let store = Store::open(&format!("sqlite:{}", dir.join("segments.db").display()))
        .await
        .unwrap();
    let system = Actor::system();
    let t = Instant::now();
    let grades = [
        CustomerGrade::A,
        CustomerGrade::B,
        CustomerGrade::B,
        CustomerGrade::C,
        CustomerGrade::C,
        CustomerGrade::C,
        CustomerGrade::D,
    ];
    let segments = [
        RfmSegment::Champions,
        RfmSegment::AtRisk,
        RfmSegment::Hibernating,
        RfmSegment::Loyal,
    ];
    let mut insights = Vec::with_capacity(accounts);
    for chunk in (0..accounts).collect::<Vec<_>>().chunks(20_000) {
        let mut rows = Vec::with_capacity(chunk.len());
        let mut people = vec![];
        for &i in chunk {
            let a = Account::new(
                AccountKind::Organisation,
                format!("客户{i}"),
                Relationship::Customer,
            );
            let id = Id::new();
            rows.push(NewRecord::new(a).with_id(id));
            // A deterministic spread: grade by i, churn risk by a multiplicative hash.
            let risk = ((i as u64).wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0;
            insights.push((
                id,
                CustomerInsight {
                    rfm: Some((3, 3, 3, segments[i % segments.len()])),
                    expected_purchases_90d: None,
                    p_alive: None,
                    clv_12m: Some(Money::new((i % 500) as i64 * 100_00, Currency::CNY)),
                    grade: Some(grades[i % grades.len()]),
                    lifecycle_stage: None,
                    churn_risk: Some(risk),
                    cross_sell: vec![],
                },
            ));
            if i % 10 == 0 {
                let mut c = Contact::new(format!("联系人{i}"));
                c.account_id = Some(id);
                c.consent_email = Some(true);
                people.push(NewRecord::new(c));
            }
        }
        store.import(&system, rows).await.unwrap();
        store.import(&system, people).await.unwrap();
    }
    for chunk in insights.chunks(100_000) {
        store
            .save_insights(&system, Utc::now(), chunk, &serde_json::json!({}))
            .await
            .unwrap();
    }
    println!(
        "generated {accounts} accounts with their analytics in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    store
}

fn segment(json: serde_json::Value) -> Segment {
    serde_json::from_value(json).expect("a valid segment")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = tempfile::tempdir().unwrap();
    let store = match args.first().map(String::as_str) {
        Some("--generate") => {
            let n = args
                .get(1)
                .map(|a| a.parse().expect("a number"))
                .unwrap_or(1_000_000);
            generate(dir.path(), n).await
        }
        Some(url) => Store::open(url).await.unwrap(),
        None => panic!("usage: segment_bench <database URL> | --generate [accounts]"),
    };
    let marketer = {
        let mut a = Actor::system();
        let roles = guanxi_domain::policy::default_roles();
        a.role = roles.into_iter().find(|r| r.key == "marketing").unwrap();
        a
    };
    let cases = [
        (
            "high value at risk (grade A/B, churn risk ≥ 0.5)",
            segment(serde_json::json!({
                "name": "b", "entity": "account",
                "conditions": [
                    { "field": "grade", "op": "in", "value": ["A", "B"] },
                    { "field": "churn_risk", "op": "ge", "value": 0.5 }
                ]
            })),
        ),
        (
            "RFM at risk with CLV ≥ ¥20,000",
            segment(serde_json::json!({
                "name": "b", "entity": "account",
                "conditions": [
                    { "field": "rfm_segment", "op": "eq", "value": "at_risk" },
                    { "field": "clv_12m", "op": "ge", "value": 2_000_000 }
                ]
            })),
        ),
        (
            "grade A with a contact consenting to e-mail",
            segment(serde_json::json!({
                "name": "b", "entity": "account",
                "conditions": [{ "field": "grade", "op": "eq", "value": "A" }],
                "facts": [{ "kind": "consent", "channel": "email" }]
            })),
        ),
        (
            "contacts consenting to e-mail whose account is grade A/B and at risk",
            segment(serde_json::json!({
                "name": "b", "entity": "contact",
                "conditions": [
                    { "field": "account.grade", "op": "in", "value": ["A", "B"] },
                    { "field": "account.churn_risk", "op": "ge", "value": 0.5 }
                ],
                "facts": [{ "kind": "consent", "channel": "email" }]
            })),
        ),
    ];
    for (what, seg) in cases {
        let mut times = Vec::with_capacity(RUNS);
        let mut count = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            count = segments::preview(&store, &marketer, seg.clone())
                .await
                .unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "{what}: {count} records; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            at(0.5),
            at(0.99),
            times[times.len() - 1]
        );
    }
}
