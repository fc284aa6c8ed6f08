//! How long recomputing every open case's SLA clock takes after a calendar changed, on a
//! seeded database (`guanxi seed --customers 1000000` makes 1M accounts and about 264k
//! cases, of which the open ones are recomputed).
//!
//!   cargo run --release -p guanxi-app --example sla_bench -- <database URL>
//!
//! First the clocks as they stand are computed (on a database seeded before it had SLA
//! policies, this sets them all), then the office calendar gets one more holiday and the
//! clocks are recomputed: that second figure is the one the issue names.

use chrono::Utc;
use guanxi_app::service::sla;
use guanxi_domain::entities::{Calendar, DayKind, SpecialDay, YearDays};
use guanxi_domain::filter::ListQuery;
use guanxi_domain::{Actor, Entity};
use guanxi_store::Store;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: sla_bench <database URL>");
    let store = Store::open(&url).await.unwrap();
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
