//! Segments on both backends: conditions (the account's analytics fields included, and a
//! contact's account's), related facts, static lists, and the reader's scope throughout.

mod common;

use chrono::Utc;
use common::*;
use guanxi_domain::entities::*;
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Id, NewRecord, Record};
use guanxi_store::{SegmentRef, Store, StoreError};
use serde_json::json;

fn dynamic(of: SegmentOf, conditions: Vec<Filter>, facts: Vec<Fact>) -> Segment {
    Segment {
        conditions,
        facts,
        ..Segment::new("test", of)
    }
}

async fn count(s: &Store, actor: &Actor, seg: &Segment) -> i64 {
    let r = SegmentRef {
        segment: seg,
        id: None,
    };
    s.segment_count(actor, r, Utc::now()).await.unwrap()
}

async fn member_names(s: &Store, actor: &Actor, seg: &Record<Segment>) -> Vec<String> {
    let q = ListQuery::default().sort_by("name", false).limit(100);
    let page = s
        .segment_members::<Account>(actor, seg.into(), &q, Utc::now())
        .await
        .unwrap();
    page.items.into_iter().map(|r| r.data.name).collect()
}

async fn contact(
    s: &Store,
    actor: &Actor,
    account: Id,
    name: &str,
    email: bool,
) -> Record<Contact> {
    let mut c = Contact::new(name);
    c.account_id = Some(account);
    c.consent_email = email.then_some(true);
    s.create(actor, NewRecord::new(c)).await.unwrap()
}

conformance!(
    segments_read_conditions_and_facts_within_scope,
    |s: Store| async move {
        let w = World::build(&s).await;
        let a = w.account(&s, &w.rep_a, "甲公司").await;
        let b = w.account(&s, &w.rep_a, "乙公司").await;
        let c = w.account(&s, &w.rep_b, "丙公司").await;
        // Analytics outputs are fields of the account, read by conditions like any other.
        let insight = |grade, churn_risk| CustomerInsight {
            rfm: None,
            expected_purchases_90d: None,
            p_alive: None,
            clv_12m: None,
            grade: Some(grade),
            lifecycle_stage: None,
            churn_risk: Some(churn_risk),
            cross_sell: vec![],
        };
        s.save_insights(
            &w.admin,
            Utc::now(),
            &[
                (a.meta.id, insight(CustomerGrade::A, 0.7)),
                (b.meta.id, insight(CustomerGrade::C, 0.1)),
                (c.meta.id, insight(CustomerGrade::A, 0.8)),
            ],
            &json!({}),
        )
        .await
        .unwrap();
        let at_risk = dynamic(
            SegmentOf::Account,
            vec![
                Filter::new("grade", Op::In, json!(["A", "B"])),
                Filter::new("churn_risk", Op::Ge, json!(0.5)),
            ],
            vec![],
        );
        assert_eq!(count(&s, &w.admin, &at_risk).await, 2);
        assert_eq!(
            count(&s, &w.rep_a, &at_risk).await,
            1,
            "rep A sees only 甲; 丙 is rep B's"
        );

        // Orders: a SKU bought, and no order lately.
        w.order(
            &s,
            &w.rep_a,
            a.meta.id,
            "SO-1",
            OrderStatus::Confirmed,
            &[(1, 100_00, 60_00)],
        )
        .await;
        w.order(
            &s,
            &w.rep_b,
            c.meta.id,
            "SO-2",
            OrderStatus::Cancelled,
            &[(1, 100_00, 60_00)],
        )
        .await;
        let bought = |sku: &str| Fact::Bought {
            product_id: None,
            sku: Some(sku.into()),
            within_days: Some(30),
        };
        let seg = dynamic(SegmentOf::Account, vec![], vec![bought("SKU-0")]);
        assert_eq!(
            count(&s, &w.admin, &seg).await,
            1,
            "a cancelled order is no sale"
        );
        let seg = dynamic(SegmentOf::Account, vec![], vec![bought("SKU-9")]);
        assert_eq!(count(&s, &w.admin, &seg).await, 0);
        let quiet = dynamic(
            SegmentOf::Account,
            vec![],
            vec![Fact::NoOrderIn { days: 90 }],
        );
        assert_eq!(
            count(&s, &w.admin, &quiet).await,
            2,
            "乙 never ordered, 丙 cancelled"
        );

        // Cases, by category.
        let mut k = case(b.meta.id, "C-1");
        k.category = Some("投诉".into());
        s.create(&w.rep_a, NewRecord::new(k)).await.unwrap();
        let complained = |cat: &str| {
            dynamic(
                SegmentOf::Account,
                vec![],
                vec![Fact::OpenedCase {
                    category: Some(cat.into()),
                    within_days: None,
                }],
            )
        };
        assert_eq!(count(&s, &w.admin, &complained("投诉")).await, 1);
        assert_eq!(count(&s, &w.admin, &complained("安装")).await, 0);

        // Campaigns: an interaction recorded against the campaign.
        // (A campaign is scoped like other records: this one is rep B's.)
        let camp = s
            .create(
                &w.admin,
                NewRecord::new(Campaign {
                    name: "春季新品发布会".into(),
                    channel: CampaignChannel::Event,
                    status: CampaignStatus::Active,
                    starts_on: None,
                    ends_on: None,
                    budget: guanxi_domain::Money::new(0, guanxi_domain::Currency::CNY),
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
                })
                .owned_by(w.rep_b.user_id, w.rep_b.team_id),
            )
            .await
            .unwrap();
        let mut visit = interaction(c.meta.id, InteractionKind::Meeting);
        visit.campaign_id = Some(camp.meta.id);
        s.create(&w.rep_b, NewRecord::new(visit)).await.unwrap();
        let came = dynamic(
            SegmentOf::Account,
            vec![],
            vec![Fact::InCampaign {
                campaign_id: camp.meta.id,
            }],
        );
        assert_eq!(count(&s, &w.admin, &came).await, 1);
        assert_eq!(count(&s, &w.rep_a, &came).await, 0);

        // Consent, on contacts and on the accounts that have such a contact.
        contact(&s, &w.rep_a, a.meta.id, "张伟", true).await;
        contact(&s, &w.rep_a, b.meta.id, "李娜", false).await;
        let consent = |of, given| {
            dynamic(
                of,
                vec![],
                vec![Fact::Consent {
                    channel: ConsentChannel::Email,
                    given,
                }],
            )
        };
        assert_eq!(
            count(&s, &w.admin, &consent(SegmentOf::Contact, true)).await,
            1
        );
        assert_eq!(
            count(&s, &w.admin, &consent(SegmentOf::Contact, false)).await,
            1
        );
        assert_eq!(
            count(&s, &w.admin, &consent(SegmentOf::Account, true)).await,
            1
        );
        assert_eq!(
            count(&s, &w.admin, &consent(SegmentOf::Account, false)).await,
            2
        );

        // A contact segment on its account's analytics.
        let contacts_at_risk = dynamic(
            SegmentOf::Contact,
            vec![Filter::new("account.grade", Op::Eq, "A")],
            vec![Fact::Consent {
                channel: ConsentChannel::Email,
                given: true,
            }],
        );
        assert_eq!(count(&s, &w.admin, &contacts_at_risk).await, 1);

        // A saved segment lists its members, with the list's own filters on top.
        let saved = s
            .create(&w.admin, NewRecord::new(at_risk.clone()))
            .await
            .unwrap();
        assert_eq!(
            member_names(&s, &w.admin, &saved).await,
            ["丙公司", "甲公司"]
        );
        let q = ListQuery::default()
            .filter(Filter::new("name", Op::StartsWith, "丙"))
            .counted();
        let page = s
            .segment_members::<Account>(&w.admin, (&saved).into(), &q, Utc::now())
            .await
            .unwrap();
        assert_eq!(page.total, Some(1));

        // A condition the store cannot read is named by its place.
        let bad = dynamic(
            SegmentOf::Account,
            vec![Filter::new("custom.nonexistent", Op::Eq, "x")],
            vec![],
        );
        let r = SegmentRef {
            segment: &bad,
            id: None,
        };
        match s.segment_count(&w.admin, r, Utc::now()).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e.0[0].field, "conditions[0].field"),
            other => panic!("{other:?}"),
        }
    }
);

conformance!(
    static_lists_hold_what_was_put_in_that_the_reader_sees,
    |s: Store| async move {
        let w = World::build(&s).await;
        let a = w.account(&s, &w.rep_a, "甲公司").await;
        let b = w.account(&s, &w.rep_a, "乙公司").await;
        let c = w.account(&s, &w.rep_b, "丙公司").await;
        let mut list = Segment::new("展会名单", SegmentOf::Account);
        list.kind = SegmentKind::Static;
        let list = s.create(&w.rep_a, NewRecord::new(list)).await.unwrap();
        assert_eq!(
            member_names(&s, &w.rep_a, &list).await,
            Vec::<String>::new()
        );

        // Rep A cannot put in an account only rep B sees: nothing is added, the id is named.
        match s
            .add_to_list(&w.rep_a, list.meta.id, &[a.meta.id, c.meta.id])
            .await
        {
            Err(StoreError::Invalid(e)) => {
                assert_eq!(e.0.len(), 1);
                assert!(e.0[0].field.starts_with("ids["), "{e:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            member_names(&s, &w.rep_a, &list).await,
            Vec::<String>::new()
        );
        assert_eq!(
            s.add_to_list(&w.rep_a, list.meta.id, &[a.meta.id, b.meta.id, a.meta.id])
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            s.add_to_list(&w.rep_a, list.meta.id, &[a.meta.id])
                .await
                .unwrap(),
            0,
            "already in"
        );
        assert_eq!(
            member_names(&s, &w.rep_a, &list).await,
            ["乙公司", "甲公司"]
        );
        assert_eq!(
            s.segment_count(&w.rep_a, (&list).into(), Utc::now())
                .await
                .unwrap(),
            2
        );
        // A member moved out of the reader's sight leaves the reader's list.
        s.update::<Account, _>(&w.admin, b.meta.id, b.meta.version, |r| {
            r.meta.owner_id = Some(w.rep_c.user_id);
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(member_names(&s, &w.rep_a, &list).await, ["甲公司"]);
        assert_eq!(
            s.remove_from_list(&w.rep_a, list.meta.id, &[a.meta.id])
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            member_names(&s, &w.rep_a, &list).await,
            Vec::<String>::new()
        );

        // Another rep cannot change rep A's list; a dynamic segment takes no members.
        assert!(
            s.add_to_list(&w.rep_c, list.meta.id, &[b.meta.id])
                .await
                .is_err()
        );
        let seg = s
            .create(
                &w.rep_a,
                NewRecord::new(dynamic(
                    SegmentOf::Account,
                    vec![Filter::new("name", Op::Contains, "公司")],
                    vec![],
                )),
            )
            .await
            .unwrap();
        match s.add_to_list(&w.rep_a, seg.meta.id, &[a.meta.id]).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e.0[0].field, "kind"),
            other => panic!("{other:?}"),
        }
        // Each change of a list is in the change log.
        let log = s
            .changes_for::<Segment>(&w.admin, list.meta.id)
            .await
            .unwrap();
        let members: Vec<&str> = log
            .iter()
            .filter(|e| e.action == "members")
            .map(|e| e.entity.as_str())
            .collect();
        assert_eq!(members, ["segment", "segment", "segment"]);
    }
);
