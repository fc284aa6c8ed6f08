//! `guanxi analytics run` against real stores: the seeded demo's accounts get their figures,
//! the figures filter like any field and show in the 360, versions are left alone, the run
//! is on the change log, and a second run replaces the first. SQLite and PostgreSQL.

use chrono::NaiveDate;
use guanxi::seed::{self, SeedOptions};
use guanxi_app::analytics as insights;
use guanxi_domain::Actor;
use guanxi_domain::entities::{Account, RfmSegment};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_store::Store;

const AS_OF: (i32, u32, u32) = (2026, 11, 1);

async fn journey(store: Store) {
    let as_of = NaiveDate::from_ymd_opt(AS_OF.0, AS_OF.1, AS_OF.2).unwrap();
    let opts = SeedOptions {
        customers: 400,
        seed: 11,
        progress: false,
        as_of: Some(as_of),
    };
    seed::run(&store, &opts).await.unwrap();
    let sys = Actor::system();
    let all = ListQuery::default().limit(500);
    let before = store.list::<Account>(&sys, &all).await.unwrap().items;

    let outcome = insights::run(&store, as_of).await.unwrap();
    let report = &outcome.report;
    assert!(report.buyers > 300, "{report:?}");
    assert!(
        report.bgnbd.is_some() && report.gamma_gamma.is_some(),
        "{report:?}"
    );
    let auc = report.churn_auc.expect("a churn model with a hold-out");
    assert!(auc > 0.6, "the churn model ranks better than chance: {auc}");

    let after = store.list::<Account>(&sys, &all).await.unwrap().items;
    let scored: Vec<&guanxi_domain::Record<Account>> = after
        .iter()
        .filter(|a| a.data.rfm_segment.is_some())
        .collect();
    assert_eq!(scored.len(), report.buyers);
    for a in &scored {
        let d = &a.data;
        assert!(d.analytics_at.is_some() && d.grade.is_some() && d.lifecycle_stage.is_some());
        assert!(d.p_alive.is_some_and(|p| (0.0..=1.0).contains(&p)), "{d:?}");
        assert!(
            d.churn_risk.is_some_and(|p| (0.0..=1.0).contains(&p)),
            "{d:?}"
        );
        assert!((1..=5).contains(&d.rfm_r.unwrap()));
    }
    assert!(
        scored.iter().any(|a| !a.data.cross_sell.is_empty()),
        "some cross-sell suggestions"
    );
    // Not edits: the versions stay, so no open form conflicts with a run.
    for (b, a) in before.iter().zip(&after) {
        assert_eq!((b.meta.id, b.meta.version), (a.meta.id, a.meta.version));
    }

    // Filterable like any field.
    let champions = ListQuery::default()
        .filter(Filter::new("rfm_segment", Op::Eq, "champions"))
        .counted()
        .limit(500);
    let page = store.list::<Account>(&sys, &champions).await.unwrap();
    let expected = scored
        .iter()
        .filter(|a| a.data.rfm_segment == Some(RfmSegment::Champions))
        .count();
    assert!(expected > 0);
    assert_eq!(page.total, Some(expected as i64));
    let risky = ListQuery::default()
        .filter(Filter::new("churn_risk", Op::Ge, 0.5))
        .sort_by("churn_risk", true)
        .limit(5);
    let top = store.list::<Account>(&sys, &risky).await.unwrap().items;
    assert!(
        top.windows(2)
            .all(|w| w[0].data.churn_risk >= w[1].data.churn_risk)
    );

    // In the 360, and the run is on the change log.
    let v = store.account_360(&sys, scored[0].meta.id).await.unwrap();
    assert!(v.account.data.grade.is_some());
    let runs = store.analytics_runs(&sys).await.unwrap();
    assert_eq!(runs.len(), 1, "the run is logged");
    assert_eq!(runs[0].after.as_ref().unwrap()["buyers"], report.buyers);

    // An administrator lowers the bar for A; the next run grades by it, and says so.
    let a_before = scored
        .iter()
        .filter(|a| a.data.grade == Some(guanxi_domain::entities::CustomerGrade::A))
        .count();
    let lenient = guanxi_domain::settings::GradingSettings {
        min_a: 30.0,
        min_b: 20.0,
        min_c: 10.0,
        ..Default::default()
    };
    store
        .put_setting(
            &sys,
            guanxi_domain::settings::GradingSettings::KEY,
            0,
            &lenient,
        )
        .await
        .unwrap();
    assert!(
        store
            .put_setting(
                &sys,
                guanxi_domain::settings::GradingSettings::KEY,
                0,
                &lenient
            )
            .await
            .is_err(),
        "a stale version is refused"
    );
    // A second run replaces the figures (a new time), and the chain still verifies.
    let first_at = scored[0].data.analytics_at;
    insights::run(&store, as_of).await.unwrap();
    let a_after = store
        .list::<Account>(
            &sys,
            &ListQuery::default()
                .filter(Filter::new("grade", Op::Eq, "A"))
                .counted()
                .limit(1),
        )
        .await
        .unwrap()
        .total
        .unwrap();
    assert!((a_after as usize) > a_before, "{a_after} > {a_before}");
    let runs = store.analytics_runs(&sys).await.unwrap();
    assert_eq!(
        runs.last().unwrap().after.as_ref().unwrap()["grading"]["min_a"],
        30.0
    );
    let again = store.get::<Account>(&sys, scored[0].meta.id).await.unwrap();
    assert!(again.data.analytics_at > first_at);
    assert_eq!(store.verify_chain().await.unwrap().first_broken, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_run_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("insights.db").display());
    journey(Store::open(&url).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_run_on_postgres() {
    let Some(url) = guanxi_store::testing::fresh_postgres("gx_insights").await else {
        return;
    };
    journey(Store::open(&url).await.unwrap()).await;
}

/// The command line: `guanxi analytics run` on a seeded database says what it did.
#[test]
fn the_command_runs_on_a_seeded_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("cli.db").display());
    let guanxi = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_guanxi"))
            .args(["--database", &db])
            .args(args)
            .env_remove("GUANXI_DATABASE")
            .env_remove("GUANXI_CONFIG")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {text}");
        text
    };
    guanxi(&["seed", "--customers", "150"]);
    let out = guanxi(&["analytics", "run", "--as-of", "2026-11-01"]);
    assert!(
        out.contains("analysed") && out.contains("BG/NBD r="),
        "{out}"
    );
}
