//! Saved list views and grouped totals, on both backends: what the web pages' lists,
//! kanban and dashboard read.

mod common;

use common::World;
use guanxi_domain::entities::{Order, OrderStatus};
use guanxi_domain::filter::{Filter, Op};
use guanxi_domain::{Actor, Id};
use guanxi_store::{Store, StoreError};

conformance!(totals_group_within_scope, |s: Store| async move {
    let w = World::build(&s).await;
    let a = w.account(&s, &w.rep_a, "甲公司").await.meta.id;
    let c = w.account(&s, &w.rep_c, "丙公司").await.meta.id;
    w.order(
        &s,
        &w.rep_a,
        a,
        "A-1",
        OrderStatus::Confirmed,
        &[(2, 100_00, 60_00)],
    )
    .await;
    w.order(
        &s,
        &w.rep_a,
        a,
        "A-2",
        OrderStatus::Confirmed,
        &[(1, 50_00, 20_00)],
    )
    .await;
    w.order(
        &s,
        &w.rep_a,
        a,
        "A-3",
        OrderStatus::Cancelled,
        &[(1, 7_00, 1_00)],
    )
    .await;
    w.order(
        &s,
        &w.rep_c,
        c,
        "C-1",
        OrderStatus::Confirmed,
        &[(1, 1_000_00, 1_00)],
    )
    .await;
    let by = |t: &[guanxi_store::Total], g: &str| {
        t.iter()
            .find(|x| x.group == g)
            .map(|x| (x.count, x.sum))
            .unwrap_or((0, 0))
    };
    let all = s
        .totals::<Order>(&Actor::system(), &[], "status", Some("total"))
        .await
        .unwrap();
    assert_eq!(by(&all, "confirmed"), (3, 1_250_00));
    assert_eq!(by(&all, "cancelled"), (1, 7_00));
    // rep_a sees only their own orders: rep_c's are not in the sums.
    let mine = s
        .totals::<Order>(&w.rep_a, &[], "status", Some("total"))
        .await
        .unwrap();
    assert_eq!(by(&mine, "confirmed"), (2, 250_00));
    // A new order shows in the next totals (the write makes them stale): at once when
    // they were quick to compute; totals that took longer than 50 ms (a loaded machine
    // can make even these) are served stale once while one refresh runs in the background.
    w.order(
        &s,
        &w.rep_a,
        a,
        "A-4",
        OrderStatus::Confirmed,
        &[(1, 1_00, 0)],
    )
    .await;
    let mut seen = vec![];
    for _ in 0..500 {
        let mine = s
            .totals::<Order>(&w.rep_a, &[], "status", Some("total"))
            .await
            .unwrap();
        seen.push(by(&mine, "confirmed"));
        if seen.last() == Some(&(3, 251_00)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(seen.last(), Some(&(3, 251_00)), "{seen:?}");
    assert!(
        seen.iter().all(|t| *t == (2, 250_00) || *t == (3, 251_00)),
        "{seen:?}"
    );
    let filtered = s
        .totals::<Order>(
            &Actor::system(),
            &[Filter::new("account_id", Op::Eq, c.to_string())],
            "status",
            None,
        )
        .await
        .unwrap();
    assert_eq!(filtered.len(), 1);
    assert_eq!(by(&filtered, "confirmed"), (1, 0));
    let bad = s
        .totals::<Order>(&Actor::system(), &[], "status", Some("number"))
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
});

conformance!(saved_views_are_private_or_shared, |s: Store| async move {
    let w = World::build(&s).await;
    let private = s
        .save_view(
            &w.rep_a,
            "account",
            "我的上海客户",
            "?filter=city%3Aeq%3A上海市",
            false,
        )
        .await
        .unwrap();
    let shared = s
        .save_view(
            &w.rep_a,
            "account",
            "大客户",
            "?filter=tier%3Aeq%3Akey",
            true,
        )
        .await
        .unwrap();
    let names = |v: Vec<guanxi_store::SavedView>| v.into_iter().map(|v| v.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.saved_views(&w.rep_a, "account").await.unwrap()),
        ["大客户", "我的上海客户"]
    );
    assert_eq!(
        names(s.saved_views(&w.rep_c, "account").await.unwrap()),
        ["大客户"]
    );
    assert!(s.saved_views(&w.rep_a, "contact").await.unwrap().is_empty());
    // Others may not delete a view; its owner may.
    assert!(matches!(
        s.delete_view(&w.rep_c, shared.id).await,
        Err(StoreError::NotFound { .. })
    ));
    s.delete_view(&w.rep_a, private.id).await.unwrap();
    assert_eq!(
        names(s.saved_views(&w.rep_a, "account").await.unwrap()),
        ["大客户"]
    );
    assert!(matches!(
        s.delete_view(&w.rep_a, Id::new()).await,
        Err(StoreError::NotFound { .. })
    ));
    let nameless = s.save_view(&w.rep_a, "account", " ", "", false).await;
    assert!(matches!(nameless, Err(StoreError::Invalid(_))));
    let unknown = s.save_view(&w.rep_a, "nothing", "x", "", false).await;
    assert!(matches!(unknown, Err(StoreError::Invalid(_))));
});
