//! The store conformance suite: every test runs on SQLite (a fresh file each) and on
//! PostgreSQL (a fresh database each) when `GUANXI_TEST_POSTGRES` names a server, e.g.
//! `postgres://postgres@127.0.0.1:54329/postgres`. Under CI the PostgreSQL half must run.

mod common;

use common::*;
use guanxi_domain::custom::CustomType;
use guanxi_domain::entities::*;
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Currency, Entity, Id, Money, NewRecord, Record};
use guanxi_store::{Store, StoreError};
use serde_json::json;
use std::collections::HashMap;

conformance!(every_entity_round_trips, |s: Store| async move {
    let w = World::build(&s).await;
    let sys = Actor::system();
    let account = w.account(&s, &w.rep_a, "上海华为技术有限公司").await;
    let mut c = Contact::new("张伟");
    c.account_id = Some(account.meta.id);
    c.mobile = Some("13812345678".parse_phone());
    c.email = Some(guanxi_domain::Email::parse("zhang.wei@Example.COM").unwrap());
    c.buying_role = Some(BuyingRole::DecisionMaker);
    c.stance = Some(Stance::Supporter);
    c.consent_sms = Some(true);
    c.birthday = Some(chrono::NaiveDate::from_ymd_opt(1985, 3, 14).unwrap());
    c.national_id = Some("11010519491231002x".into());
    c.tags = vec!["vip".into(), "决策人".into()];
    let contact = s.create(&w.rep_a, NewRecord::new(c.clone())).await.unwrap();
    assert_eq!(
        contact.data.national_id.as_deref(),
        Some("11010519491231002X"),
        "normalised on write"
    );
    let back = s.get::<Contact>(&w.rep_a, contact.meta.id).await.unwrap();
    assert_eq!(back, contact);
    assert_eq!(back.meta.owner_id, Some(w.rep_a.user_id));
    assert_eq!(back.meta.team_id, w.rep_a.team_id);

    let product = s
        .create(&sys, NewRecord::new(product("SKU-1", 150_00, 90_00)))
        .await
        .unwrap();
    assert_eq!(
        s.get::<Product>(&sys, product.meta.id).await.unwrap(),
        product
    );
    let order = w
        .order(
            &s,
            &w.rep_a,
            account.meta.id,
            "SO-1",
            OrderStatus::Confirmed,
            &[(2, 150_00, 90_00)],
        )
        .await;
    assert_eq!((order.data.total, order.data.cost_total), (300_00, 180_00));
    assert_eq!(
        s.get::<Order>(&w.rep_a, order.meta.id).await.unwrap(),
        order
    );

    let pipeline = s.find_one::<Pipeline>(&sys, "is_default", "x").await;
    assert!(pipeline.is_err(), "a bool filter rejects a string");
    let pipeline = default_pipeline(&s).await;
    let opp = s
        .create(
            &w.rep_a,
            NewRecord::new(opportunity(account.meta.id, pipeline.meta.id)),
        )
        .await
        .unwrap();
    assert_eq!(
        s.get::<Opportunity>(&w.rep_a, opp.meta.id).await.unwrap(),
        opp
    );

    let i = s
        .create(
            &w.rep_a,
            NewRecord::new(interaction(account.meta.id, InteractionKind::Wechat)),
        )
        .await
        .unwrap();
    assert_eq!(s.get::<Interaction>(&w.rep_a, i.meta.id).await.unwrap(), i);
    let case = s
        .create(&w.rep_a, NewRecord::new(case(account.meta.id, "CS-1")))
        .await
        .unwrap();
    assert_eq!(s.get::<Case>(&w.rep_a, case.meta.id).await.unwrap(), case);
    let lead = Lead {
        name: "李娜".into(),
        company: Some("北京字节跳动".into()),
        title: None,
        mobile: Some("+86 139 0000 1111".parse_phone()),
        phone: None,
        email: None,
        source: LeadSource::Web,
        status: LeadStatus::New,
        score: 70,
        province: Some("北京市".into()),
        city: None,
        notes: None,
        converted_account_id: None,
        converted_contact_id: None,
        converted_opportunity_id: None,
        converted_at: None,
    };
    let lead = s.create(&w.rep_a, NewRecord::new(lead)).await.unwrap();
    assert_eq!(s.get::<Lead>(&w.rep_a, lead.meta.id).await.unwrap(), lead);
    let campaign = Campaign {
        name: "双十一".into(),
        channel: CampaignChannel::Wechat,
        status: CampaignStatus::Planned,
        starts_on: None,
        ends_on: None,
        budget: Money::new(5_000_00, Currency::CNY),
        description: None,
        segment_id: None,
        variants: vec![],
        control_percent: 0,
        cost_per_message: 0,
        conversion_days: 30,
        send_from: None,
        send_until: None,
        cap_messages: None,
        cap_days: None,
        max_per_minute: None,
        targeting: Default::default(),
        target_top_n: None,
        target_min_score: None,
        model_auc: None,
        model_trained_at: None,
        steps: vec![],
    };
    let campaign = s.create(&w.admin, NewRecord::new(campaign)).await.unwrap();
    assert_eq!(
        s.get::<Campaign>(&w.admin, campaign.meta.id).await.unwrap(),
        campaign
    );

    // Every write above is in the change log, and the chain is intact.
    let changes = s
        .changes_for::<Contact>(&w.rep_a, contact.meta.id)
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].action, "create");
    assert_eq!(changes[0].actor_id, w.rep_a.user_id);
    assert_eq!(changes[0].after.as_ref().unwrap()["name"], "张伟");
    let report = s.verify_chain().await.unwrap();
    assert_eq!(report.first_broken, None);
    assert!(report.entries >= 10);
});

conformance!(updates_are_versioned_and_logged, |s: Store| async move {
    let w = World::build(&s).await;
    let a = w.account(&s, &w.rep_a, "Acme Ltd.").await;
    let updated = s
        .update::<Account, _>(&w.rep_a, a.meta.id, 1, |r| {
            r.data.industry = Some("制造业".into());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(updated.meta.version, 2);
    assert!(updated.meta.updated_at >= a.meta.updated_at);
    assert_eq!(updated.meta.created_at, a.meta.created_at);
    assert_eq!(
        s.get::<Account>(&w.rep_a, a.meta.id).await.unwrap(),
        updated
    );

    // A stale version changes nothing.
    let err = s
        .update::<Account, _>(&w.rep_a, a.meta.id, 1, |r| {
            r.data.industry = Some("零售".into());
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        s.get::<Account>(&w.rep_a, a.meta.id)
            .await
            .unwrap()
            .data
            .industry
            .as_deref(),
        Some("制造业")
    );

    let log = s.changes_for::<Account>(&w.rep_a, a.meta.id).await.unwrap();
    assert_eq!(
        log.iter().map(|c| c.action.as_str()).collect::<Vec<_>>(),
        ["create", "update"]
    );
    assert_eq!(
        log[1].before.as_ref().unwrap()["industry"],
        serde_json::Value::Null
    );
    assert_eq!(log[1].after.as_ref().unwrap()["industry"], "制造业");

    // Invalid edits are rejected whole, naming the field.
    let err = s
        .update::<Account, _>(&w.rep_a, a.meta.id, 2, |r| {
            r.data.name = "  ".into();
            Ok(())
        })
        .await
        .unwrap_err();
    match err {
        StoreError::Invalid(e) => assert_eq!(e.0[0].field, "name"),
        e => panic!("{e:?}"),
    }
    assert_eq!(
        s.get::<Account>(&w.rep_a, a.meta.id)
            .await
            .unwrap()
            .meta
            .version,
        2
    );
});

conformance!(
    two_writers_same_version_exactly_one_wins,
    |s: Store| async move {
        let w = World::build(&s).await;
        let a = w.account(&s, &w.rep_a, "Race Co.").await;
        for round in 0..5 {
            let v = s
                .get::<Account>(&w.rep_a, a.meta.id)
                .await
                .unwrap()
                .meta
                .version;
            let edit = |name: String| {
                let s = s.clone();
                let actor = w.rep_a.clone();
                async move {
                    s.update::<Account, _>(&actor, a.meta.id, v, move |r| {
                        r.data.industry = Some(name);
                        Ok(())
                    })
                    .await
                }
            };
            let (x, y) = tokio::join!(
                tokio::spawn(edit(format!("x{round}"))),
                tokio::spawn(edit(format!("y{round}")))
            );
            let results = [x.unwrap(), y.unwrap()];
            let wins = results.iter().filter(|r| r.is_ok()).count();
            let conflicts = results
                .iter()
                .filter(|r| matches!(r, Err(StoreError::Conflict { .. })))
                .count();
            assert_eq!((wins, conflicts), (1, 1), "round {round}: {results:?}");
            let now = s.get::<Account>(&w.rep_a, a.meta.id).await.unwrap();
            assert_eq!(now.meta.version, v + 1);
            let winner = results.iter().find_map(|r| r.as_ref().ok()).unwrap();
            assert_eq!(now.data.industry, winner.data.industry);
        }
    }
);

conformance!(
    many_concurrent_writers_none_fails_none_lost,
    |s: Store| async move {
        let w = World::build(&s).await;
        let a = w.account(&s, &w.rep_a, "Busy Co.").await;
        const TASKS: usize = 8;
        const EACH: usize = 25;
        let mut handles = vec![];
        for t in 0..TASKS {
            let (s, actor, account) = (s.clone(), w.rep_a.clone(), a.meta.id);
            handles.push(tokio::spawn(async move {
                for i in 0..EACH {
                    let mut c = Contact::new(format!("writer {t} contact {i}"));
                    c.account_id = Some(account);
                    let c = s.create(&actor, NewRecord::new(c)).await?;
                    s.update::<Contact, _>(&actor, c.meta.id, 1, |r| {
                        r.data.title = Some("经理".into());
                        Ok(())
                    })
                    .await?;
                }
                Ok::<_, StoreError>(())
            }));
        }
        for h in handles {
            h.await.unwrap().expect("no writer fails");
        }
        let q = ListQuery::default()
            .filter(Filter::new("account_id", Op::Eq, a.meta.id.to_string()))
            .counted();
        let page = s.list::<Contact>(&w.rep_a, &q).await.unwrap();
        assert_eq!(page.total, Some((TASKS * EACH) as i64));
        let titled = ListQuery::default()
            .filter(Filter::new("title", Op::Eq, "经理"))
            .counted();
        assert_eq!(
            s.list::<Contact>(&w.rep_a, &titled).await.unwrap().total,
            Some((TASKS * EACH) as i64)
        );
        let report = s.verify_chain().await.unwrap();
        assert_eq!(report.first_broken, None);
    }
);

conformance!(soft_delete_and_restore, |s: Store| async move {
    let w = World::build(&s).await;
    let a = w.account(&s, &w.manager, "Gone Soon").await;
    let deleted = s.delete::<Account>(&w.manager, a.meta.id, 1).await.unwrap();
    assert!(deleted.meta.deleted_at.is_some());
    assert!(matches!(
        s.get::<Account>(&w.manager, a.meta.id).await,
        Err(StoreError::NotFound { .. })
    ));
    let live = ListQuery::default()
        .filter(Filter::new("name", Op::Eq, "Gone Soon"))
        .counted();
    assert_eq!(
        s.list::<Account>(&w.manager, &live).await.unwrap().total,
        Some(0)
    );
    let bin = ListQuery {
        deleted: true,
        ..live.clone()
    };
    assert_eq!(
        s.list::<Account>(&w.manager, &bin).await.unwrap().total,
        Some(1)
    );
    // Deleting twice, or restoring with a stale version, fails and changes nothing.
    assert!(matches!(
        s.delete::<Account>(&w.manager, a.meta.id, 2).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.restore::<Account>(&w.manager, a.meta.id, 1).await,
        Err(StoreError::Conflict { .. })
    ));
    let restored = s
        .restore::<Account>(&w.manager, a.meta.id, 2)
        .await
        .unwrap();
    assert_eq!((restored.meta.version, restored.meta.deleted_at), (3, None));
    assert_eq!(
        s.get::<Account>(&w.manager, a.meta.id).await.unwrap(),
        restored
    );
    // A sales rep may not delete.
    let mine = w.account(&s, &w.rep_a, "Mine").await;
    assert!(matches!(
        s.delete::<Account>(&w.rep_a, mine.meta.id, 1).await,
        Err(StoreError::Forbidden { .. })
    ));
    let actions: Vec<_> = s
        .changes_for::<Account>(&w.manager, a.meta.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.action)
        .collect();
    assert_eq!(actions, ["create", "delete", "restore"]);
});

conformance!(
    scope_limits_lists_counts_gets_and_360,
    |s: Store| async move {
        let w = World::build(&s).await;
        let a = w.account(&s, &w.rep_a, "A's customer").await;
        let b = w.account(&s, &w.rep_b, "B's customer").await;
        let c = w.account(&s, &w.rep_c, "C's customer (other region)").await;
        for (actor, account) in [(&w.rep_a, &a), (&w.rep_b, &b), (&w.rep_c, &c)] {
            let mut ct = Contact::new(format!("contact of {}", account.data.name));
            ct.account_id = Some(account.meta.id);
            s.create(actor, NewRecord::new(ct)).await.unwrap();
            w.order(
                &s,
                actor,
                account.meta.id,
                &format!("SO-{}", account.meta.id),
                OrderStatus::Delivered,
                &[(1, 100_00, 60_00)],
            )
            .await;
        }
        // Records owned by rep B but attached to A's account (B cannot attach them: an
        // administrator did): A must not see them, not even in A's 360.
        let mut foreign = Contact::new("B's contact at A's customer");
        foreign.account_id = Some(a.meta.id);
        let for_b = NewRecord::new(foreign).owned_by(w.rep_b.user_id, w.rep_b.team_id);
        s.create(&w.admin, for_b).await.unwrap();
        let order = w
            .order(
                &s,
                &w.admin,
                a.meta.id,
                "SO-foreign",
                OrderStatus::Delivered,
                &[(1, 999_00, 1_00)],
            )
            .await;
        s.update::<Order, _>(&w.admin, order.meta.id, 1, |r| {
            r.meta.owner_id = Some(w.rep_b.user_id);
            Ok(())
        })
        .await
        .unwrap();

        let visible = |actor: Actor| {
            let s = s.clone();
            async move {
                let page = s
                    .list::<Account>(&actor, &ListQuery::default().counted())
                    .await
                    .unwrap();
                let mut names: Vec<String> = page.items.into_iter().map(|r| r.data.name).collect();
                names.sort();
                (names, page.total.unwrap())
            }
        };
        let (names, n) = visible(w.rep_a.clone()).await;
        assert_eq!((names, n), (vec!["A's customer".to_string()], 1));
        let (names, n) = visible(w.manager.clone()).await;
        assert_eq!(
            (names, n),
            (
                vec!["A's customer".to_string(), "B's customer".to_string()],
                2
            ),
            "manager sees the team subtree"
        );
        assert_eq!(visible(w.admin.clone()).await.1, 3);

        assert!(matches!(
            s.get::<Account>(&w.rep_a, b.meta.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            s.account_360(&w.rep_a, b.meta.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            s.account_360(&w.manager, c.meta.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            s.changes_for::<Account>(&w.rep_a, b.meta.id).await,
            Err(StoreError::NotFound { .. })
        ));
        let err = s
            .update::<Account, _>(&w.rep_a, b.meta.id, 1, |r| {
                r.data.industry = Some("x".into());
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound { .. }),
            "out of scope looks like absent: {err:?}"
        );

        let view = s.account_360(&w.rep_a, a.meta.id).await.unwrap();
        assert_eq!(
            view.contacts.len(),
            1,
            "B's contact at A's customer stays hidden"
        );
        assert_eq!(view.orders.len(), 1);
        assert_eq!(view.summary.order_count, 1);
        assert_eq!(view.summary.lifetime_revenue, 100_00);
        let view = s.account_360(&w.admin, a.meta.id).await.unwrap();
        assert_eq!(
            (
                view.contacts.len(),
                view.summary.order_count,
                view.summary.lifetime_revenue
            ),
            (2, 2, 1099_00)
        );

        // Creating a record owned by someone outside one's scope is refused.
        let mut stolen = NewRecord::new(Account::new(
            AccountKind::Organisation,
            "Not yours",
            Relationship::Prospect,
        ));
        stolen.owner_id = Some(w.rep_b.user_id);
        assert!(matches!(
            s.create(&w.rep_a, stolen).await,
            Err(StoreError::Forbidden { .. })
        ));
    }
);

conformance!(account_360_gathers_everything, |s: Store| async move {
    let w = World::build(&s).await;
    let parent = w.account(&s, &w.rep_a, "华为集团").await;
    let mut child = Account::new(
        AccountKind::Organisation,
        "华为上海子公司",
        Relationship::Customer,
    );
    child.parent_id = Some(parent.meta.id);
    let child = s.create(&w.rep_a, NewRecord::new(child)).await.unwrap();
    let id = child.meta.id;
    for i in 0..3 {
        let mut c = Contact::new(format!("联系人{i}"));
        c.account_id = Some(id);
        s.create(&w.rep_a, NewRecord::new(c)).await.unwrap();
    }
    for i in 0..25 {
        let mut it = interaction(id, InteractionKind::Call);
        it.at = chrono::Utc::now() - chrono::Duration::days(i);
        s.create(&w.rep_a, NewRecord::new(it)).await.unwrap();
    }
    w.order(
        &s,
        &w.rep_a,
        id,
        "SO-a",
        OrderStatus::Delivered,
        &[(2, 100_00, 70_00)],
    )
    .await;
    w.order(
        &s,
        &w.rep_a,
        id,
        "SO-b",
        OrderStatus::Closed,
        &[(1, 50_00, 20_00), (3, 10_00, 5_00)],
    )
    .await;
    w.order(
        &s,
        &w.rep_a,
        id,
        "SO-c",
        OrderStatus::Cancelled,
        &[(1, 1_000_00, 1_00)],
    )
    .await;
    w.order(&s, &w.rep_a, id, "SO-d", OrderStatus::Draft, &[])
        .await;
    s.create(&w.rep_a, NewRecord::new(case(id, "CS-open")))
        .await
        .unwrap();
    let mut closed = case(id, "CS-closed");
    closed.status = CaseStatus::Closed;
    closed.resolved_at = Some(chrono::Utc::now());
    s.create(&w.rep_a, NewRecord::new(closed)).await.unwrap();
    let p = default_pipeline(&s).await;
    s.create(&w.rep_a, NewRecord::new(opportunity(id, p.meta.id)))
        .await
        .unwrap();

    let v = s.account_360(&w.rep_a, id).await.unwrap();
    assert_eq!(v.account, child);
    assert_eq!(v.parent.as_ref().map(|p| p.meta.id), Some(parent.meta.id));
    assert_eq!(
        s.account_360(&w.rep_a, parent.meta.id)
            .await
            .unwrap()
            .subsidiaries
            .len(),
        1
    );
    assert_eq!(v.contacts.len(), 3);
    assert_eq!(v.interactions.len(), 20, "the latest 20");
    assert!(
        v.interactions
            .windows(2)
            .all(|w| w[0].data.at >= w[1].data.at),
        "newest first"
    );
    assert_eq!(v.orders.len(), 4);
    assert_eq!(v.cases.len(), 2);
    assert_eq!(v.open_opportunities.len(), 1);
    let sum = &v.summary;
    assert_eq!(
        sum.order_count, 2,
        "drafts and cancelled orders are not revenue"
    );
    assert_eq!(sum.lifetime_revenue, 200_00 + 50_00 + 30_00);
    assert_eq!(
        sum.lifetime_margin,
        (200_00 - 140_00) + (50_00 - 20_00) + (30_00 - 15_00)
    );
    assert!(sum.last_order_at.is_some());
    assert_eq!((sum.open_cases, sum.open_opportunities), (1, 1));
    assert_eq!(sum.weighted_pipeline, 100_000_00 * 10 / 100);
});

conformance!(filters_sort_and_cursor_pagination, |s: Store| async move {
    let w = World::build(&s).await;
    let sys = Actor::system();
    s.create(
        &sys,
        NewRecord::new(custom_def("account", "region_code", CustomType::Text)),
    )
    .await
    .unwrap();
    s.create(
        &sys,
        NewRecord::new(custom_def("account", "employees", CustomType::Number)),
    )
    .await
    .unwrap();
    let cities = ["上海", "北京", "深圳", "杭州"];
    let mut ids = vec![];
    for i in 0..40 {
        let mut a = Account::new(
            AccountKind::Organisation,
            format!("公司{i:02}"),
            Relationship::Customer,
        );
        a.city = (i % 5 != 0).then(|| cities[i % 4].to_string());
        a.latitude = Some(30.0 + i as f64 / 10.0);
        a.longitude = Some(120.0);
        a.tags = if i % 3 == 0 {
            vec!["vip".into()]
        } else {
            vec![]
        };
        a.tier = Some(if i % 2 == 0 {
            Tier::Key
        } else {
            Tier::Standard
        });
        let custom = json!({"region_code": format!("R{}", i % 3), "employees": i * 10});
        let rec = NewRecord::new(a).with_custom(custom.as_object().unwrap().clone());
        ids.push(s.create(&w.rep_a, rec).await.unwrap().meta.id.to_string());
    }
    let count = |filters: Vec<Filter>| {
        let s = s.clone();
        let actor = w.rep_a.clone();
        async move {
            let q = ListQuery {
                filters,
                with_count: true,
                ..Default::default()
            };
            s.list::<Account>(&actor, &q)
                .await
                .map(|p| p.total.unwrap())
        }
    };
    assert_eq!(
        count(vec![Filter::new("city", Op::Eq, "上海")])
            .await
            .unwrap(),
        8
    );
    assert_eq!(
        count(vec![Filter::new("city", Op::Ne, "上海")])
            .await
            .unwrap(),
        32,
        "ne includes empty values"
    );
    assert_eq!(
        count(vec![Filter::new("city", Op::IsNull, true)])
            .await
            .unwrap(),
        8
    );
    assert_eq!(
        count(vec![Filter::new("city", Op::In, json!(["北京", "深圳"]))])
            .await
            .unwrap(),
        16
    );
    assert_eq!(
        count(vec![Filter::new("name", Op::Contains, "司1")])
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        count(vec![Filter::new("name", Op::StartsWith, "公司3")])
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        count(vec![Filter::new("name", Op::Contains, "%")])
            .await
            .unwrap(),
        0,
        "wildcards are literal"
    );
    assert_eq!(
        count(vec![Filter::new("latitude", Op::Ge, 33.0)])
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        count(vec![Filter::new("latitude", Op::Lt, 31.0)])
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        count(vec![Filter::new("tags", Op::Contains, "vip")])
            .await
            .unwrap(),
        14
    );
    assert_eq!(
        count(vec![Filter::new("tags", Op::IsNull, true)])
            .await
            .unwrap(),
        26
    );
    assert_eq!(
        count(vec![
            Filter::new("tier", Op::Eq, "key"),
            Filter::new("tags", Op::Contains, "vip")
        ])
        .await
        .unwrap(),
        7
    );
    assert_eq!(
        count(vec![Filter::new("custom.region_code", Op::Eq, "R1")])
            .await
            .unwrap(),
        13
    );
    assert_eq!(
        count(vec![Filter::new("employees", Op::Gt, 250)])
            .await
            .unwrap(),
        14
    );
    assert_eq!(
        count(vec![Filter::new(
            "created_at",
            Op::Le,
            chrono::Utc::now().to_rfc3339()
        )])
        .await
        .unwrap(),
        40
    );
    assert_eq!(
        count(vec![Filter::new(
            "owner_id",
            Op::Eq,
            w.rep_a.user_id.to_string()
        )])
        .await
        .unwrap(),
        40
    );
    // Ids are time-ordered: a range of them holds the records created in between.
    assert_eq!(
        count(vec![
            Filter::new("id", Op::Ge, ids[10].as_str()),
            Filter::new("id", Op::Le, ids[19].as_str()),
        ])
        .await
        .unwrap(),
        10
    );
    // Bad filters name the field and never reach the database.
    for (f, field) in [
        (
            Filter::new("owner_id", Op::Gt, w.rep_a.user_id.to_string()),
            "owner_id",
        ),
        (Filter::new("nope", Op::Eq, 1), "nope"),
        (Filter::new("tier", Op::Eq, "platinum"), "tier"),
        (Filter::new("tier", Op::Gt, "key"), "tier"),
        (Filter::new("latitude", Op::Eq, "north"), "latitude"),
        (Filter::new("city", Op::In, json!([])), "city"),
        (Filter::new("created_at", Op::Gt, "yesterday"), "created_at"),
    ] {
        match count(vec![f]).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e.0[0].field, field),
            other => panic!("{field}: {other:?}"),
        }
    }

    // Walk pages sorted by city (with empty values) while new rows arrive between pages:
    // every row that existed at the start is seen exactly once, in order.
    for desc in [false, true] {
        let mut seen = vec![];
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let q = ListQuery::default()
                .sort_by("city", desc)
                .limit(7)
                .after(cursor);
            let page = s.list::<Account>(&w.rep_a, &q).await.unwrap();
            seen.extend(page.items.iter().map(|r| (r.data.city.clone(), r.meta.id)));
            pages += 1;
            let mut a = Account::new(
                AccountKind::Organisation,
                format!("late {pages} {desc}"),
                Relationship::Prospect,
            );
            a.city = Some("上海".into());
            s.create(&w.rep_a, NewRecord::new(a)).await.unwrap();
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let originals: Vec<_> = seen
            .iter()
            .filter(|(_, id)| !seen.iter().filter(|(_, i)| i == id).skip(1).any(|_| true))
            .collect();
        assert_eq!(originals.len(), seen.len(), "no row twice");
        let mut sorted = seen.clone();
        sorted.sort_by(|x, y| {
            let o = x.0.cmp(&y.0).then(x.1.cmp(&y.1));
            if desc { o.reverse() } else { o }
        });
        assert_eq!(seen, sorted, "pages keep the order (desc={desc})");
        assert!(seen.len() >= 40);
    }
    // Sorting by a custom number field.
    let q = ListQuery::default().sort_by("employees", true).limit(3);
    let top: Vec<_> = s
        .list::<Account>(&w.rep_a, &q)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.custom["employees"].clone())
        .collect();
    assert_eq!(top, [json!(390), json!(380), json!(370)]);
    assert!(
        s.list::<Account>(&w.rep_a, &ListQuery::default().after(Some("zz".into())))
            .await
            .is_err()
    );
});

conformance!(
    references_custom_fields_and_uniqueness_are_enforced,
    |s: Store| async move {
        let w = World::build(&s).await;
        let sys = Actor::system();
        let mut c = Contact::new("Nobody");
        c.account_id = Some(Id::new());
        match s.create(&w.rep_a, NewRecord::new(c)).await {
            Err(StoreError::Invalid(e)) => assert_eq!(
                (e.0[0].field.as_str(), e.0[0].code),
                ("account_id", "not_found")
            ),
            other => panic!("{other:?}"),
        }
        s.create(&sys, NewRecord::new(product("SKU-9", 1_00, 50)))
            .await
            .unwrap();
        match s
            .create(&sys, NewRecord::new(product("SKU-9", 2_00, 50)))
            .await
        {
            Err(StoreError::Duplicate { field, .. }) => assert_eq!(field, "sku"),
            other => panic!("{other:?}"),
        }
        let mut level = custom_def("contact", "level", CustomType::Choice);
        level.choices = vec!["gold".into(), "silver".into()];
        level.required = true;
        s.create(&sys, NewRecord::new(level)).await.unwrap();
        let bad = NewRecord::new(Contact::new("X"))
            .with_custom(json!({"level": "bronze"}).as_object().unwrap().clone());
        match s.create(&w.rep_a, bad).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e.0[0].field, "custom.level"),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(
                s.create(&w.rep_a, NewRecord::new(Contact::new("Y"))).await,
                Err(StoreError::Invalid(_))
            ),
            "required"
        );
        let ok = NewRecord::new(Contact::new("Z"))
            .with_custom(json!({"level": "gold"}).as_object().unwrap().clone());
        let z = s.create(&w.rep_a, ok).await.unwrap();
        assert_eq!(
            s.get::<Contact>(&w.rep_a, z.meta.id).await.unwrap().custom["level"],
            "gold"
        );
        // A deal must sit on a stage of its pipeline, and closing it needs a reason.
        let a = w.account(&s, &w.rep_a, "Deals Inc.").await;
        let p = default_pipeline(&s).await;
        let mut o = opportunity(a.meta.id, p.meta.id);
        o.stage = "nonsense".into();
        assert!(matches!(
            s.create(&w.rep_a, NewRecord::new(o)).await,
            Err(StoreError::Invalid(_))
        ));
        let o = s
            .create(&w.rep_a, NewRecord::new(opportunity(a.meta.id, p.meta.id)))
            .await
            .unwrap();
        let by = w.rep_a.user_id;
        let pipeline = p.data.clone();
        let won = s
            .update::<Opportunity, _>(&w.rep_a, o.meta.id, 1, move |r| {
                r.data.move_to(
                    &pipeline,
                    "won",
                    Some("价格优势".into()),
                    by,
                    chrono::Utc::now(),
                )
            })
            .await
            .unwrap();
        assert_eq!(
            (won.data.status, won.data.stage_history.len()),
            (OpportunityStatus::Won, 1)
        );
    }
);

conformance!(
    tampering_with_the_change_log_is_detected,
    |s: Store| async move {
        let w = World::build(&s).await;
        for i in 0..5 {
            w.account(&s, &w.rep_a, &format!("Chain {i}")).await;
        }
        let intact = s.verify_chain().await.unwrap();
        assert_eq!(intact.first_broken, None);
        let target = intact.entries - 2;
        s.execute_unchecked(&format!(
            "UPDATE changes SET after = replace(after, 'Chain', 'Chayn') WHERE seq = {target}"
        ))
        .await
        .unwrap();
        let report = s.verify_chain().await.unwrap();
        assert_eq!(report.first_broken, Some(target), "{report:?}");
    }
);

conformance!(
    removing_the_last_entries_is_detected,
    |s: Store| async move {
        let w = World::build(&s).await;
        w.account(&s, &w.rep_a, "Tail").await;
        let n = s.verify_chain().await.unwrap().entries;
        s.execute_unchecked(&format!("DELETE FROM changes WHERE seq = {n}"))
            .await
            .unwrap();
        let report = s.verify_chain().await.unwrap();
        assert_eq!(report.first_broken, Some(n), "{report:?}");
        s.execute_unchecked(&format!("DELETE FROM changes WHERE seq = {}", n - 3))
            .await
            .unwrap();
        assert_eq!(s.verify_chain().await.unwrap().first_broken, Some(n - 3));
    }
);

conformance!(bulk_import_is_one_logged_batch, |s: Store| async move {
    let w = World::build(&s).await;
    let before = s.verify_chain().await.unwrap().entries;
    let rows: Vec<_> = (0..1000)
        .map(|i| {
            NewRecord::new(Account::new(
                AccountKind::Individual,
                format!("个人客户{i}"),
                Relationship::Customer,
            ))
            .owned_by(w.rep_a.user_id, w.rep_a.team_id)
        })
        .collect();
    let ids = s.import(&Actor::system(), rows).await.unwrap();
    assert_eq!(ids.len(), 1000);
    let page = s
        .list::<Account>(&w.rep_a, &ListQuery::default().counted())
        .await
        .unwrap();
    assert_eq!(page.total, Some(1000));
    // A capped count stops one past the cap; a cap above the total changes nothing.
    let capped = |cap| ListQuery {
        with_count: true,
        count_cap: Some(cap),
        ..ListQuery::default()
    };
    let total = |q| {
        let s = s.clone();
        let actor = w.rep_a.clone();
        async move { s.list::<Account>(&actor, &q).await.unwrap().total }
    };
    assert_eq!(total(capped(100)).await, Some(101));
    assert_eq!(total(capped(5000)).await, Some(1000));
    let after = s.verify_chain().await.unwrap();
    assert_eq!((after.entries, after.first_broken), (before + 1, None));
    let bad = vec![NewRecord::new(Account::new(
        AccountKind::Individual,
        "",
        Relationship::Customer,
    ))];
    assert!(matches!(
        s.import(&Actor::system(), bad).await,
        Err(StoreError::Invalid(_))
    ));
});

// Keep the helpers honest: a record's JSON has bookkeeping, fields and custom side by side.
conformance!(record_json_is_flat, |s: Store| async move {
    let w = World::build(&s).await;
    let a: Record<Account> = w.account(&s, &w.rep_a, "Flat").await;
    let j = a.to_json();
    assert_eq!(j["name"], "Flat");
    assert_eq!(j["version"], 1);
    assert_eq!(j["owner_id"], w.rep_a.user_id.to_string());
    assert!(j["custom"].is_object());
    assert_eq!(Account::DEF.name, "account");
});

conformance!(passwords_sessions_and_tokens, |s: Store| async move {
    let w = World::build(&s).await;
    let me = w.rep_a.user_id;
    let email = "a@gx.test";
    let password = "correct horse battery";
    // Too short; someone else's without the right; then the user's own.
    assert!(matches!(
        s.set_password(&w.rep_a, me, "short").await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.set_password(&w.rep_b, me, password).await,
        Err(StoreError::Forbidden { .. })
    ));
    s.set_password(&w.rep_a, me, password).await.unwrap();
    let home = "198.51.100.20";
    assert_eq!(
        s.login("A@GX.test", password, home).await.unwrap().user,
        me,
        "domain case does not matter"
    );
    assert!(matches!(
        s.login(email, "wrong password!", home).await,
        Err(StoreError::Unauthorized)
    ));
    assert!(matches!(
        s.login("nobody@gx.test", password, home).await,
        Err(StoreError::Unauthorized)
    ));
    let again = s.login(email, password, home).await.unwrap();
    assert_eq!(again.user, me);
    assert!(
        again.failed_elsewhere.is_empty(),
        "one's own typos at this address are not reported: {again:?}"
    );
    s.confirm_password(email, password, home).await.unwrap();
    assert!(matches!(
        s.confirm_password(email, "wrong password!", home).await,
        Err(StoreError::Unauthorized)
    ));
    // An administrator resets the password; the change log says so without the hash.
    s.set_password(&w.admin, w.rep_b.user_id, "another long password")
        .await
        .unwrap();
    let log = s
        .changes_for::<guanxi_domain::entities::User>(&w.admin, w.rep_b.user_id)
        .await
        .unwrap();
    let last = log.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor_id),
        ("password", w.admin.user_id)
    );
    assert!(!serde_json::to_string(&log).unwrap().contains("argon2"));

    // Sessions.
    let session = s
        .open_session(w.rep_b.user_id, chrono::Duration::hours(8))
        .await
        .unwrap();
    let (actor, csrf) = s.session(&session.token).await.unwrap();
    assert_eq!(
        (actor.user_id, csrf),
        (w.rep_b.user_id, session.csrf_token.clone())
    );
    assert!(matches!(
        s.session("not a token").await,
        Err(StoreError::Unauthorized)
    ));
    s.close_session(&session.token).await.unwrap();
    assert!(matches!(
        s.session(&session.token).await,
        Err(StoreError::Unauthorized)
    ));
    let stale = s
        .open_session(w.rep_b.user_id, chrono::Duration::seconds(-1))
        .await
        .unwrap();
    assert!(
        matches!(s.session(&stale.token).await, Err(StoreError::Unauthorized)),
        "expired"
    );

    // API tokens: shown once, stored hashed, revocable, expiring.
    let (token, secret) = s.issue_token(&w.rep_b, "ERP sync", None).await.unwrap();
    assert!(secret.starts_with("gx_") && secret.len() > 60);
    assert_eq!(
        s.token_actor(&secret).await.unwrap().user_id,
        w.rep_b.user_id
    );
    let listed = s.tokens(&w.rep_b).await.unwrap();
    assert!(listed[0].last_used_at.is_some(), "its use was noted");
    let unused = guanxi_store::ApiToken {
        last_used_at: None,
        ..listed[0].clone()
    };
    assert_eq!((listed.len(), unused), (1, token.clone()));
    assert!(
        !serde_json::to_string(&listed)
            .unwrap()
            .contains(&secret[3..])
    );
    assert!(
        matches!(
            s.revoke_token(&w.rep_c, token.id).await,
            Err(StoreError::NotFound { .. })
        ),
        "not theirs"
    );
    s.revoke_token(&w.rep_b, token.id).await.unwrap();
    assert!(matches!(
        s.token_actor(&secret).await,
        Err(StoreError::Unauthorized)
    ));
    let past = chrono::Utc::now() - chrono::Duration::days(1);
    assert!(matches!(
        s.issue_token(&w.rep_b, "old", Some(past)).await,
        Err(StoreError::Invalid(_))
    ));
    let (_, short_lived) = s
        .issue_token(
            &w.rep_b,
            "soon",
            Some(chrono::Utc::now() + chrono::Duration::milliseconds(300)),
        )
        .await
        .unwrap();
    assert!(s.token_actor(&short_lived).await.is_ok());
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(
        matches!(
            s.token_actor(&short_lived).await,
            Err(StoreError::Unauthorized)
        ),
        "expired"
    );

    // A deactivated user is signed out everywhere.
    let (_, live) = s.issue_token(&w.rep_c, "phone", None).await.unwrap();
    let c_session = s
        .open_session(w.rep_c.user_id, chrono::Duration::hours(1))
        .await
        .unwrap();
    let v = s
        .get::<guanxi_domain::entities::User>(&Actor::system(), w.rep_c.user_id)
        .await
        .unwrap()
        .meta
        .version;
    s.update::<guanxi_domain::entities::User, _>(&Actor::system(), w.rep_c.user_id, v, |u| {
        u.data.active = false;
        Ok(())
    })
    .await
    .unwrap();
    assert!(matches!(
        s.token_actor(&live).await,
        Err(StoreError::Unauthorized)
    ));
    assert!(matches!(
        s.session(&c_session.token).await,
        Err(StoreError::Unauthorized)
    ));
    assert_eq!(s.verify_chain().await.unwrap().first_broken, None);
});

conformance!(
    choosing_ones_language_is_self_service_and_logged_as_oneself,
    |s: Store| async move {
        let w = World::build(&s).await;
        let me = w.rep_a.user_id;
        let sys = Actor::system();
        // A sales rep may not edit user records, their own included...
        let v = s.get::<User>(&sys, me).await.unwrap().meta.version;
        let refused = s
            .update::<User, _>(&w.rep_a, me, v, |u| {
                u.data.locale = Locale::En;
                Ok(())
            })
            .await;
        assert!(
            matches!(refused, Err(StoreError::Forbidden { entity: "user", .. })),
            "{refused:?}"
        );
        // ...but may choose the language they read, and the log names them, not the system.
        let saved = s.set_own_locale(&w.rep_a, Locale::En).await.unwrap();
        assert_eq!((saved.data.locale, saved.meta.version), (Locale::En, v + 1));
        assert_eq!(s.get::<User>(&sys, me).await.unwrap(), saved);
        let log = s.changes_for::<User>(&sys, me).await.unwrap();
        let last = log.last().unwrap();
        assert_eq!((last.action.as_str(), last.actor_id), ("update", me));
        assert_ne!(last.actor_id, Id::SYSTEM);
        assert_eq!(last.before.as_ref().unwrap()["locale"], "zh-CN");
        assert_eq!(last.after.as_ref().unwrap()["locale"], "en");
        // Nobody else's record moved.
        let other = s.get::<User>(&sys, w.rep_b.user_id).await.unwrap();
        assert_eq!((other.data.locale, other.meta.version), (Locale::ZhCn, 1));
        // The system has no record of its own to set.
        assert!(matches!(
            s.set_own_locale(&sys, Locale::En).await,
            Err(StoreError::NotFound { entity: "user", .. })
        ));
        assert_eq!(s.verify_chain().await.unwrap().first_broken, None);
    }
);

conformance!(
    timeline_merges_everything_newest_first_in_pages,
    |s: Store| async move {
        let w = World::build(&s).await;
        let a = w.account(&s, &w.rep_a, "Timeline Co.").await;
        let id = a.meta.id;
        let now = chrono::Utc::now();
        for i in 0..7 {
            let mut it = interaction(id, InteractionKind::Visit);
            it.at = now - chrono::Duration::days(i * 3);
            s.create(&w.rep_a, NewRecord::new(it)).await.unwrap();
        }
        // Two at the very same instant must never be split across pages.
        let same = now - chrono::Duration::days(10);
        for _ in 0..2 {
            let mut it = interaction(id, InteractionKind::Call);
            it.at = same;
            s.create(&w.rep_a, NewRecord::new(it)).await.unwrap();
        }
        w.order(
            &s,
            &w.rep_a,
            id,
            "SO-t1",
            OrderStatus::Delivered,
            &[(1, 10_00, 5_00)],
        )
        .await;
        s.create(&w.rep_a, NewRecord::new(case(id, "CS-t1")))
            .await
            .unwrap();
        s.update::<Account, _>(&w.rep_a, id, 1, |r| {
            r.data.industry = Some("零售".into());
            Ok(())
        })
        .await
        .unwrap();
        // Someone else's interaction on this account stays out of rep A's timeline.
        let mut hidden = interaction(id, InteractionKind::Note);
        hidden.subject = "hidden".into();
        s.create(&w.manager, NewRecord::new(hidden)).await.unwrap();

        let mut seen = vec![];
        let mut before = None;
        loop {
            let page = s.timeline(&w.rep_a, id, before, 4).await.unwrap();
            assert!(!page.items.is_empty());
            seen.extend(page.items);
            match page.next_before {
                Some(t) => before = Some(t),
                None => break,
            }
        }
        // 9 interactions, 1 order, 1 case, 2 changes (create, update) of the account.
        let kinds = |k: &str| seen.iter().filter(|i| i.kind == k).count();
        assert_eq!(
            (
                kinds("interaction"),
                kinds("order"),
                kinds("case"),
                kinds("change")
            ),
            (9, 1, 1, 2)
        );
        assert!(
            seen.windows(2).all(|p| p[0].at >= p[1].at),
            "newest first across pages"
        );
        assert!(!seen.iter().any(|i| i.record["subject"] == "hidden"));
        let all = s.timeline(&w.admin, id, None, 100).await.unwrap();
        assert_eq!((all.items.len(), all.next_before), (14, None));
        assert!(matches!(
            s.timeline(&w.rep_b, id, None, 10).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            s.timeline(&w.rep_a, id, None, 0).await,
            Err(StoreError::Invalid(_))
        ));
    }
);

conformance!(lead_conversion_is_one_transaction, |s: Store| async move {
    use guanxi_store::Conversion;
    let w = World::build(&s).await;
    let lead = |name: &str, company: Option<&str>| Lead {
        name: name.into(),
        company: company.map(Into::into),
        title: Some("采购经理".into()),
        mobile: Some("13900001111".parse_phone()),
        phone: None,
        email: Some(guanxi_domain::Email::parse("li.na@example.cn").unwrap()),
        source: LeadSource::Event,
        status: LeadStatus::Qualified,
        score: 80,
        province: Some("浙江省".into()),
        city: Some("杭州市".into()),
        notes: None,
        converted_account_id: None,
        converted_contact_id: None,
        converted_opportunity_id: None,
        converted_at: None,
    };
    let l = s
        .create(
            &w.rep_a,
            NewRecord::new(lead("李娜", Some("杭州新创科技有限公司"))),
        )
        .await
        .unwrap();
    let conv = Conversion {
        account_id: None,
        opportunity: Some(("智能仓储项目".into(), Money::new(500_000_00, Currency::CNY))),
    };
    assert!(matches!(
        s.convert_lead(&w.rep_a, l.meta.id, 9, conv.clone()).await,
        Err(StoreError::Conflict { .. })
    ));
    let before = s.verify_chain().await.unwrap().entries;
    let done = s
        .convert_lead(&w.rep_a, l.meta.id, 1, conv.clone())
        .await
        .unwrap();
    assert_eq!(done.lead.data.status, LeadStatus::Converted);
    assert_eq!(done.lead.meta.version, 2);
    let account = s.get::<Account>(&w.rep_a, done.account_id).await.unwrap();
    assert_eq!(
        (account.data.name.as_str(), account.data.city.as_deref()),
        ("杭州新创科技有限公司", Some("杭州市"))
    );
    assert_eq!(done.contact.data.account_id, Some(done.account_id));
    assert_eq!(done.contact.data.mobile, l.data.mobile);
    let deal = done.opportunity.as_ref().unwrap();
    assert_eq!(
        (deal.data.lead_id, deal.data.stage.as_str()),
        (Some(l.meta.id), "prospecting")
    );
    assert_eq!(done.lead.data.converted_opportunity_id, Some(deal.meta.id));
    assert_eq!(
        account.meta.owner_id,
        Some(w.rep_a.user_id),
        "owned by the lead's owner"
    );
    assert_eq!(
        s.verify_chain().await.unwrap().entries,
        before + 4,
        "account, contact, deal, lead"
    );
    // Converting twice is refused and changes nothing.
    assert!(matches!(
        s.convert_lead(&w.rep_a, l.meta.id, 2, conv).await,
        Err(StoreError::Invalid(_))
    ));

    // Onto an existing account, without a deal; a failure part-way leaves nothing behind.
    let other = s
        .create(&w.rep_a, NewRecord::new(lead("王强", None)))
        .await
        .unwrap();
    // An account rep A cannot see is refused exactly like one that does not exist.
    let refusal = |target: Id| {
        let s = s.clone();
        let lead = other.meta.id;
        let rep = w.rep_a.clone();
        async move {
            let into = Conversion {
                account_id: Some(target),
                opportunity: None,
            };
            match s.convert_lead(&rep, lead, 1, into).await {
                Err(StoreError::Invalid(e)) => e.to_string().replace(&target.to_string(), "ID"),
                other => panic!("refused, got {other:?}"),
            }
        }
    };
    let hidden = refusal(w.account(&s, &w.rep_b, "B's").await.meta.id).await;
    assert_eq!(
        hidden,
        "invalid input: account_id: no record in accounts with id ID"
    );
    assert_eq!(hidden, refusal(Id::new()).await);
    let contacts = |s: Store| async move {
        s.list::<Contact>(&Actor::system(), &ListQuery::default().counted())
            .await
            .unwrap()
            .total
            .unwrap()
    };
    let n = contacts(s.clone()).await;
    let into = Conversion {
        account_id: Some(done.account_id),
        opportunity: None,
    };
    let second = s
        .convert_lead(&w.rep_a, other.meta.id, 1, into)
        .await
        .unwrap();
    assert_eq!(
        (second.account_id, second.opportunity),
        (done.account_id, None)
    );
    assert_eq!(contacts(s.clone()).await, n + 1);
    // A role without the right to create contacts cannot convert.
    let l3 = s
        .create(&Actor::system(), NewRecord::new(lead("赵六", None)))
        .await
        .unwrap();
    let ro = w.admin.clone();
    let mut readonly = ro.clone();
    readonly.role = guanxi_domain::policy::default_roles()
        .into_iter()
        .find(|r| r.key == "readonly")
        .unwrap();
    assert!(matches!(
        s.convert_lead(&readonly, l3.meta.id, 1, Conversion::default())
            .await,
        Err(StoreError::Forbidden { .. })
    ));
});

conformance!(
    sign_in_throttle_slows_the_guessing_address_not_the_owner,
    |s: Store| async move {
        use guanxi_store::throttle::ThrottlePolicy;
        // Delays long enough that none runs out while the test looks.
        let policy = ThrottlePolicy {
            first_delay: chrono::Duration::minutes(10),
            max_delay: chrono::Duration::hours(1),
            ..ThrottlePolicy::default()
        };
        let (free, free_per_address) = (policy.free_failures, policy.free_failures_per_address);
        let s = s.with_throttle(policy);
        let w = World::build(&s).await;
        let me = w.rep_a.user_id;
        let email = "a@gx.test";
        let password = "correct horse battery";
        s.set_password(&w.rep_a, me, password).await.unwrap();
        let (attacker, owner) = ("203.0.113.7", "198.51.100.20");

        // The flood: free failures, then a delay that doubles; refused attempts do not count.
        for _ in 0..free {
            assert!(matches!(
                s.login(email, "guess guess guess", attacker).await,
                Err(StoreError::Unauthorized)
            ));
        }
        for _ in 0..30 {
            assert!(matches!(
                s.login(email, "guess guess guess", attacker).await,
                Err(StoreError::Throttled { .. })
            ));
        }
        // Even the right password waits at the guessing address…
        match s.login(email, password, attacker).await {
            Err(StoreError::Throttled { until }) => {
                let wait = until - chrono::Utc::now();
                assert!(wait <= policy.first_delay, "the first delay: {wait}");
                assert!(wait > chrono::Duration::zero());
            }
            other => panic!("throttled, got {other:?}"),
        }
        // …but the owner, elsewhere, signs in at once and hears of the attempts.
        let signed_in = s.login(email, password, owner).await.unwrap();
        assert_eq!(signed_in.user, me);
        assert_eq!(signed_in.failed_elsewhere.len(), 1, "{signed_in:?}");
        let told = &signed_in.failed_elsewhere[0];
        assert_eq!((told.address.as_str(), told.attempts), (attacker, free));
        assert!(told.since <= chrono::Utc::now());
        // Told once, not at every sign-in.
        let later = s.login(email, password, owner).await.unwrap();
        assert!(later.failed_elsewhere.is_empty(), "{later:?}");

        // The change log says when the delays began, on the user's record, by the system.
        let log = s
            .changes_for::<guanxi_domain::entities::User>(&w.admin, me)
            .await
            .unwrap();
        let entry = log
            .iter()
            .find(|e| e.action == "sign_in_throttled")
            .expect("a throttle entry");
        assert_eq!(entry.actor_id, guanxi_domain::Id::SYSTEM);
        assert_eq!(entry.after.as_ref().unwrap()["address"], attacker);
        assert_eq!(
            log.iter()
                .filter(|e| e.action == "sign_in_throttled")
                .count(),
            1
        );

        // An unknown e-mail is slowed exactly like a known one: nothing tells them apart.
        for _ in 0..free {
            assert!(matches!(
                s.login("nobody@gx.test", "guess guess guess", owner).await,
                Err(StoreError::Unauthorized)
            ));
        }
        assert!(matches!(
            s.login("nobody@gx.test", "guess guess guess", owner).await,
            Err(StoreError::Throttled { .. })
        ));

        // One address guessing many accounts, a few tries each, is slowed down as a whole:
        // then even a correct sign-in from there waits, while other addresses do not.
        let sprayer = "192.0.2.99";
        let mut refused_at = None;
        for n in 0..free_per_address + 5 {
            match s
                .login(&format!("user{n}@gx.test"), "Spring2026!!", sprayer)
                .await
            {
                Err(StoreError::Unauthorized) => {}
                Err(StoreError::Throttled { .. }) => {
                    refused_at = Some(n);
                    break;
                }
                other => panic!("refused, got {other:?}"),
            }
        }
        assert_eq!(refused_at, Some(free_per_address));
        assert!(matches!(
            s.login(email, password, sprayer).await,
            Err(StoreError::Throttled { .. })
        ));
        assert_eq!(s.login(email, password, owner).await.unwrap().user, me);
    }
);

conformance!(
    owners_are_assigned_only_within_the_writers_scope,
    |s: Store| async move {
        let w = World::build(&s).await;
        let contact = |name: &str| NewRecord::new(Contact::new(name));
        let stranger = Id::new();
        let not_found = |r: Result<Record<Contact>, StoreError>| match r {
            Err(StoreError::Invalid(e)) => e.0[0].field == "owner_id" && e.0[0].code == "not_found",
            _ => false,
        };
        // On create: someone out of the rep's scope is refused; no such user is not found.
        let mine = s.create(&w.rep_a, contact("甲的")).await.unwrap();
        assert!(matches!(
            s.create(&w.rep_a, contact("给丙").owned_by(w.rep_c.user_id, None))
                .await,
            Err(StoreError::Forbidden { .. })
        ));
        assert!(not_found(
            s.create(&w.rep_a, contact("给谁").owned_by(stranger, None))
                .await
        ));
        // On update: the rep may not hand their record to another rep.
        let give = |to: Id| {
            move |r: &mut Record<Contact>| {
                r.meta.owner_id = Some(to);
                Ok(())
            }
        };
        assert!(matches!(
            s.update(&w.rep_a, mine.meta.id, 1, give(w.rep_c.user_id))
                .await,
            Err(StoreError::Forbidden { .. })
        ));
        assert!(not_found(
            s.update(&w.rep_a, mine.meta.id, 1, give(stranger)).await
        ));
        // A manager assigns within their teams, not to West; an administrator anywhere.
        assert!(matches!(
            s.update(&w.manager, mine.meta.id, 1, give(w.rep_c.user_id))
                .await,
            Err(StoreError::Forbidden { .. })
        ));
        let moved = s
            .update(&w.manager, mine.meta.id, 1, give(w.rep_b.user_id))
            .await
            .unwrap();
        assert_eq!(
            moved.meta.team_id, w.rep_b.team_id,
            "the team follows the owner"
        );
        let moved = s
            .update(&w.admin, mine.meta.id, 2, give(w.rep_c.user_id))
            .await
            .unwrap();
        assert_eq!(moved.meta.owner_id, Some(w.rep_c.user_id));
        assert!(not_found(
            s.update(&w.admin, mine.meta.id, 3, give(stranger)).await
        ));
    }
);

conformance!(
    a_partner_sees_the_customers_it_serves_and_no_more,
    |s: Store| async move {
        let sys = Actor::system();
        let mk = |name: &str, serving: Option<Id>| {
            let mut a = Account::new(AccountKind::Organisation, name, Relationship::Customer);
            a.serving_partner_id = serving;
            a
        };
        let mut station = Account::new(
            AccountKind::Organisation,
            "浦东服务站",
            Relationship::Partner,
        );
        station.partner_type = Some(PartnerType::ServiceStation);
        let station = s
            .create(&sys, NewRecord::new(station))
            .await
            .unwrap()
            .meta
            .id;
        let user = User {
            email: guanxi_domain::Email::parse("station@gx.test").unwrap(),
            name: "站长".into(),
            role: "partner".into(),
            team_id: None,
            partner_id: Some(station),
            locale: guanxi_domain::Locale::ZhCn,
            active: true,
        };
        let user = s.create(&sys, NewRecord::new(user)).await.unwrap().meta.id;
        let partner = s.actor_for(user).await.unwrap();
        let id = |r: Record<Account>| r.meta.id;
        // Served by the station; dispatched a case; nothing to do with it.
        let served = id(s
            .create(&sys, NewRecord::new(mk("served", Some(station))))
            .await
            .unwrap());
        let dispatched = id(s
            .create(&sys, NewRecord::new(mk("dispatched", None)))
            .await
            .unwrap());
        let other = id(s
            .create(&sys, NewRecord::new(mk("other", None)))
            .await
            .unwrap());
        let mut contacts = HashMap::new();
        for (name, account) in [
            ("served", served),
            ("dispatched", dispatched),
            ("other", other),
        ] {
            let mut c = Contact::new(name);
            c.account_id = Some(account);
            let c = s.create(&sys, NewRecord::new(c)).await.unwrap().meta.id;
            contacts.insert(name, c);
        }
        // A second contact of the dispatched account, not on the case.
        let mut bystander = Contact::new("bystander");
        bystander.account_id = Some(dispatched);
        s.create(&sys, NewRecord::new(bystander)).await.unwrap();
        let mut theirs = case(dispatched, "CS-P-1");
        theirs.partner_id = Some(station);
        theirs.contact_id = Some(contacts["dispatched"]);
        let theirs = s
            .create(&sys, NewRecord::new(theirs))
            .await
            .unwrap()
            .meta
            .id;
        let mut not_theirs = case(other, "CS-P-2");
        not_theirs.contact_id = Some(contacts["other"]);
        let not_theirs = s
            .create(&sys, NewRecord::new(not_theirs))
            .await
            .unwrap()
            .meta
            .id;
        let mut visit = interaction(dispatched, InteractionKind::Visit);
        visit.case_id = Some(theirs);
        let visit = s.create(&sys, NewRecord::new(visit)).await.unwrap().meta.id;
        let on_served = s
            .create(
                &sys,
                NewRecord::new(interaction(served, InteractionKind::Call)),
            )
            .await
            .unwrap()
            .meta
            .id;
        let mut elsewhere = interaction(other, InteractionKind::Visit);
        elsewhere.case_id = Some(not_theirs);
        s.create(&sys, NewRecord::new(elsewhere)).await.unwrap();

        async fn seen<T: Entity>(s: &Store, actor: &Actor) -> Vec<Id> {
            let mut ids: Vec<Id> = s
                .list::<T>(actor, &ListQuery::default().limit(100))
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|r| r.meta.id)
                .collect();
            ids.sort();
            ids
        }
        let sorted = |mut v: Vec<Id>| {
            v.sort();
            v
        };
        assert_eq!(
            seen::<Account>(&s, &partner).await,
            sorted(vec![served, dispatched])
        );
        assert_eq!(
            seen::<Contact>(&s, &partner).await,
            sorted(vec![contacts["served"], contacts["dispatched"]]),
            "the served account's contacts and the contact on their case, not the bystander"
        );
        assert_eq!(seen::<Case>(&s, &partner).await, vec![theirs]);
        assert_eq!(
            seen::<Interaction>(&s, &partner).await,
            sorted(vec![visit, on_served])
        );
        assert!(s.get::<Contact>(&partner, contacts["other"]).await.is_err());
        for refused in [
            s.list::<Order>(&partner, &ListQuery::default()).await.err(),
            s.list::<Opportunity>(&partner, &ListQuery::default())
                .await
                .err(),
            s.list::<Lead>(&partner, &ListQuery::default()).await.err(),
        ] {
            assert!(matches!(refused, Some(StoreError::Forbidden { .. })));
        }
    }
);
