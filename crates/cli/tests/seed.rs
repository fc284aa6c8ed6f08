//! The demo data generator against real stores: the data is valid (it went through the
//! store's validation), shaped as promised, and the same for the same seed.

use chrono::NaiveDate;
use guanxi::seed::{self, SeedOptions};
use guanxi_domain::Actor;
use guanxi_domain::entities::{Account, Order, Relationship};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_store::Store;

fn opts(customers: u64, seed: u64) -> SeedOptions {
    SeedOptions {
        customers,
        seed,
        progress: false,
        as_of: NaiveDate::from_ymd_opt(2026, 11, 1),
    }
}

async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("seed.db").display());
    (Store::open(&url).await.unwrap(), dir)
}

async fn names(store: &Store) -> Vec<(String, String)> {
    let q = ListQuery::default().sort_by("name", false).limit(500);
    let page = store.list::<Account>(&Actor::system(), &q).await.unwrap();
    page.items
        .into_iter()
        .map(|a| (a.meta.id.to_string(), a.data.name))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_a_realistic_company_deterministically() {
    let (s1, _d1) = sqlite().await;
    let report = seed::run(&s1, &opts(300, 7)).await.unwrap();
    let rows: std::collections::HashMap<_, _> = report.rows.iter().cloned().collect();
    assert_eq!(rows["accounts"], 300);
    assert!(
        rows["contacts"] >= 300 && rows["contacts"] <= 1200,
        "{rows:?}"
    );
    assert!(rows["orders"] > 300, "{rows:?}");
    assert!(rows["interactions"] >= 600, "{rows:?}");
    assert!(
        rows["opportunities"] > 30 && rows["cases"] > 20 && rows["leads"] == 60,
        "{rows:?}"
    );
    for role in [
        "admin",
        "manager",
        "sales",
        "marketing",
        "service",
        "analyst",
        "readonly",
        "partner",
    ] {
        assert!(
            report.users.iter().any(|u| u.role == role),
            "a demo user for {role}"
        );
    }

    let sys = Actor::system();
    // Partners are placed and customers are served by one of them.
    let partners = ListQuery::default()
        .filter(Filter::new("relationship", Op::Eq, "partner"))
        .counted();
    assert!(
        s1.list::<Account>(&sys, &partners)
            .await
            .unwrap()
            .total
            .unwrap()
            >= 10
    );
    let served = ListQuery::default()
        .filter(Filter::new("relationship", Op::Ne, "partner"))
        .filter(Filter::new("serving_partner_id", Op::IsNull, false))
        .counted();
    assert_eq!(
        s1.list::<Account>(&sys, &served).await.unwrap().total,
        Some(300)
    );
    // Prospects have no orders; customers' histories end by the as-of date.
    let prospects = ListQuery::default()
        .filter(Filter::new(
            "relationship",
            Op::Eq,
            Relationship::Prospect.as_str(),
        ))
        .limit(500);
    for p in s1.list::<Account>(&sys, &prospects).await.unwrap().items {
        assert_eq!(
            s1.account_360(&sys, p.meta.id)
                .await
                .unwrap()
                .summary
                .order_count,
            0
        );
    }
    let late = ListQuery::default()
        .filter(Filter::new("ordered_at", Op::Gt, "2026-11-02T00:00:00Z"))
        .counted();
    assert_eq!(s1.list::<Order>(&sys, &late).await.unwrap().total, Some(0));
    assert_eq!(s1.verify_chain().await.unwrap().first_broken, None);

    // The same seed gives the same data; another seed does not.
    let (s2, _d2) = sqlite().await;
    seed::run(&s2, &opts(300, 7)).await.unwrap();
    assert_eq!(names(&s1).await, names(&s2).await);
    let (s3, _d3) = sqlite().await;
    seed::run(&s3, &opts(300, 8)).await.unwrap();
    assert_ne!(names(&s1).await, names(&s3).await);

    // Seeding a database that has data is refused rather than doubling it.
    assert!(seed::run(&s1, &opts(10, 7)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_postgres_too() {
    let Some(url) = guanxi_store::testing::fresh_postgres("gx_seed").await else {
        return;
    };
    let store = Store::open(&url).await.unwrap();
    let report = seed::run(&store, &opts(200, 7)).await.unwrap();
    assert_eq!(
        report
            .rows
            .iter()
            .find(|(t, _)| *t == "accounts")
            .unwrap()
            .1,
        200
    );
    let (sq, _d) = sqlite().await;
    seed::run(&sq, &opts(200, 7)).await.unwrap();
    assert_eq!(
        names(&store).await,
        names(&sq).await,
        "both backends hold the same data"
    );
    assert_eq!(store.verify_chain().await.unwrap().first_broken, None);
}
