//! How long recomputing every open case's SLA clock takes after a calendar changed.
//!
//!   cargo run --release -p guanxi-app --example sla_bench -- <database URL>
//!   cargo run --release -p guanxi-app --example sla_bench -- --generate [cases] [accounts]
//!
//! On a seeded database (`guanxi seed --customers 1000000` makes 1M accounts and about
//! 264k cases), or on a fresh SQLite file with `cases` open cases (264,000) spread over
//! `accounts` accounts (1,000,000) of mixed tiers, the demo's calendars and policies.
//! First the clocks as they stand are computed (on a database without clocks yet, this
//! sets them all), then the office calendar gets one more holiday and the clocks are
//! recomputed: that second figure is the one the issue names.

use chrono::Utc;
use guanxi_app::service::sla;
use guanxi_domain::entities::{Calendar, DayKind, SpecialDay, YearDays};
use guanxi_domain::filter::ListQuery;
use guanxi_domain::{Actor, Entity};
use guanxi_store::Store;
use std::time::Instant;

/// A fresh SQLite database with `cases` open cases over `accounts` accounts, and the
/// demo's calendars and policies.
async fn generate(dir: &std::path::Path, cases: usize, accounts: usize) -> Store {
    use guanxi_domain::entities::{
        Account, AccountKind, Case, CaseKind, CaseStatus, Priority, Relationship, SlaPolicy, Tier,
    };
    use guanxi_domain::{Id, NewRecord};
    let store = Store::open(&format!("sqlite:{}", dir.join("sla.db").display()))
        .await
        .unwrap();
    let system = Actor::system();
    let t = Instant::now();
    let office = store
        .create(
            &system,
            NewRecord::new(Calendar::china_office("总部工作时间")),
        )
        .await
        .unwrap()
        .meta
        .id;
    let hotline = store
        .create(
            &system,
            NewRecord::new(Calendar::around_the_clock("7×24 热线")),
        )
        .await
        .unwrap()
        .meta
        .id;
    for (rank, calendar, tiers, priorities, resolution) in [
        (1, hotline, vec!["key"], vec![], 8 * 60),
        (2, hotline, vec![], vec!["urgent"], 12 * 60),
        (3, office, vec![], vec!["high"], 16 * 60),
        (10, office, vec![], vec![], 40 * 60),
    ] {
        let p: SlaPolicy = serde_json::from_value(serde_json::json!({
            "name": format!("policy {rank}"), "rank": rank, "calendar_id": calendar,
            "tiers": tiers, "priorities": priorities,
            "first_response_minutes": 60, "resolution_minutes": resolution, "warn_before_minutes": 30,
        }))
        .unwrap();
        store.create(&system, NewRecord::new(p)).await.unwrap();
    }
    let tiers = [
        Tier::Key,
        Tier::Major,
        Tier::Standard,
        Tier::Standard,
        Tier::Small,
    ];
    let mut ids = Vec::with_capacity(accounts);
    for chunk in (0..accounts).collect::<Vec<_>>().chunks(20_000) {
        let rows: Vec<NewRecord<Account>> = chunk
            .iter()
            .map(|i| {
                let mut a = Account::new(
                    AccountKind::Organisation,
                    format!("客户{i}"),
                    Relationship::Customer,
                );
                a.tier = Some(tiers[i % tiers.len()]);
                let id = Id::new();
                ids.push(id);
                NewRecord::new(a).with_id(id)
            })
            .collect();
        store.import(&system, rows).await.unwrap();
    }
    let priorities = [
        Priority::Low,
        Priority::Normal,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];
    let statuses = [
        CaseStatus::New,
        CaseStatus::Open,
        CaseStatus::Open,
        CaseStatus::Pending,
    ];
    for chunk in (0..cases).collect::<Vec<_>>().chunks(20_000) {
        let rows: Vec<NewRecord<Case>> = chunk
            .iter()
            .map(|i| {
                let mut c = Case::new(
                    format!("CS-B-{i:08}"),
                    "设备故障报修",
                    CaseKind::Repair,
                    priorities[i % priorities.len()],
                    statuses[i % statuses.len()],
                );
                c.account_id = Some(ids[(i * 7919) % ids.len()]);
                NewRecord::new(c)
            })
            .collect();
        store.import(&system, rows).await.unwrap();
    }
    println!(
        "generated {accounts} accounts and {cases} open cases in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    store
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = tempfile::tempdir().unwrap();
    let store = match args.first().map(String::as_str) {
        Some("--generate") => {
            let n = |i: usize, default: usize| {
                args.get(i)
                    .map(|a| a.parse().expect("a number"))
                    .unwrap_or(default)
            };
            generate(dir.path(), n(1, 264_000), n(2, 1_000_000)).await
        }
        Some(url) => Store::open(url).await.unwrap(),
        None => panic!("usage: sla_bench <database URL> | --generate [cases] [accounts]"),
    };
    let system = Actor::system();

    let t = Instant::now();
    let first = sla::recompute(&store, Utc::now()).await.unwrap();
    println!(
        "as they stand: {} open cases, {} clocks moved, {} restated, {:.2} s",
        first.open,
        first.moved,
        first.restated,
        t.elapsed().as_secs_f64()
    );

    let calendars = store
        .list::<Calendar>(&system, &ListQuery::default().limit(50))
        .await
        .unwrap()
        .items;
    let Some(office) = calendars.into_iter().find(|c| c.data.hours.sat.is_empty()) else {
        println!("no office calendar (seed with this version of guanxi)");
        return;
    };
    // A day off tomorrow, as when a company closes for an event.
    let tomorrow = (Utc::now() + chrono::Duration::days(1)).date_naive();
    let year = chrono::Datelike::year(&tomorrow);
    store
        .update::<Calendar, _>(&system, office.meta.id, office.meta.version, |r| {
            let day = SpecialDay {
                date: tomorrow,
                kind: DayKind::Holiday,
                name: Some("公司活动".into()),
            };
            match r.data.years.iter_mut().find(|y| y.year == year) {
                Some(y) => {
                    y.days.retain(|d| d.date != tomorrow);
                    y.days.push(day);
                }
                None => r.data.years.push(YearDays {
                    year,
                    days: vec![day],
                }),
            }
            Ok(())
        })
        .await
        .unwrap();
    println!("{} changed: a holiday on {tomorrow}", Calendar::DEF.name);
    // Of the recomputation's time, how much is reading the clocks' inputs.
    let t = Instant::now();
    let inputs = store.open_case_clocks(&system).await.unwrap();
    println!(
        "reading the inputs of {} open cases alone: {:.2} s",
        inputs.len(),
        t.elapsed().as_secs_f64()
    );
    drop(inputs);
    let t = Instant::now();
    let second = sla::recompute(&store, Utc::now()).await.unwrap();
    println!(
        "after the calendar changed: {} open cases, {} clocks moved, {} restated, {:.2} s",
        second.open,
        second.moved,
        second.restated,
        t.elapsed().as_secs_f64()
    );
}
