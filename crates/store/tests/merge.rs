//! Duplicates and merge, on both backends: scanning finds pairs, the queue shows only what
//! the actor may see, a merge moves every related row and is logged, and an undo puts
//! everything back.

mod common;

use common::*;
use guanxi_domain::custom::CustomType;
use guanxi_domain::entities::*;
use guanxi_domain::filter::ListQuery;
use guanxi_domain::{Actor, Entity, Id, NewRecord, Record};
use guanxi_store::{Conversion, DuplicatePair, Store, StoreError};
use serde_json::json;

async fn queue(s: &Store, actor: &Actor, entity: &str) -> Vec<DuplicatePair> {
    s.duplicate_queue(actor, entity, 100).await.unwrap()
}

/// The queued pair of these two records, if any.
fn pair_of(q: &[DuplicatePair], x: Id, y: Id) -> Option<DuplicatePair> {
    let id = |v: &serde_json::Value| Id::parse(v["id"].as_str().unwrap()).unwrap();
    q.iter()
        .find(|p| {
            let (a, b) = (id(&p.a), id(&p.b));
            (a, b) == (x, y) || (a, b) == (y, x)
        })
        .cloned()
}

async fn data<T: Entity>(s: &Store, id: Id) -> (T, guanxi_domain::record::CustomValues) {
    let r: Record<T> = s.get_any(&Actor::system(), id).await.unwrap();
    (r.data, r.custom)
}

fn lead(name: &str, company: &str, email: &str) -> Lead {
    Lead {
        name: name.into(),
        company: Some(company.into()),
        title: None,
        mobile: None,
        phone: None,
        email: Some(guanxi_domain::Email::parse(email).unwrap()),
        source: LeadSource::Web,
        status: LeadStatus::New,
        score: 50,
        province: None,
        city: None,
        notes: None,
        converted_account_id: None,
        converted_contact_id: None,
        converted_opportunity_id: None,
        converted_at: None,
    }
}

async fn chain_intact(s: &Store) {
    let report = s.verify_chain().await.unwrap();
    assert_eq!(report.first_broken, None, "{report:?}");
}

/// An account with one of everything that can refer to it.
struct Related {
    contact: Id,
    order: Id,
    case: Id,
    interaction: Id,
    opportunity: Id,
    child: Id,
    lead: Id,
    lead_contact: Id,
}

async fn related(s: &Store, w: &World, account: Id) -> Related {
    let actor = &w.rep_a;
    let mut c = Contact::new("王芳");
    c.account_id = Some(account);
    let contact = s.create(actor, NewRecord::new(c)).await.unwrap().meta.id;
    let order = w
        .order(
            s,
            actor,
            account,
            "SO-M1",
            OrderStatus::Confirmed,
            &[(1, 100_00, 60_00)],
        )
        .await
        .meta
        .id;
    let case = s
        .create(actor, NewRecord::new(case(account, "CS-M1")))
        .await
        .unwrap();
    let i = interaction(account, InteractionKind::Call);
    let interaction = s.create(actor, NewRecord::new(i)).await.unwrap().meta.id;
    let pipeline = default_pipeline(s).await.meta.id;
    let opp = NewRecord::new(opportunity(account, pipeline));
    let opportunity = s.create(actor, opp).await.unwrap().meta.id;
    let mut sub = Account::new(
        AccountKind::Organisation,
        "华为北京分公司",
        Relationship::Customer,
    );
    sub.parent_id = Some(account);
    let child = s.create(actor, NewRecord::new(sub)).await.unwrap().meta.id;
    let l = s
        .create(
            actor,
            NewRecord::new(lead("赵磊", "华为", "zhao@huawei.test")),
        )
        .await
        .unwrap();
    let into = Conversion {
        account_id: Some(account),
        opportunity: None,
    };
    let done = s.convert_lead(actor, l.meta.id, 1, into).await.unwrap();
    Related {
        contact,
        order,
        case: case.meta.id,
        interaction,
        opportunity,
        child,
        lead: l.meta.id,
        lead_contact: done.contact.meta.id,
    }
}

/// Where each related record points: every link to an account, in one list.
async fn links(s: &Store, r: &Related) -> Vec<Option<Id>> {
    vec![
        data::<Contact>(s, r.contact).await.0.account_id,
        data::<Contact>(s, r.lead_contact).await.0.account_id,
        Some(data::<Order>(s, r.order).await.0.account_id),
        data::<Case>(s, r.case).await.0.account_id,
        data::<Interaction>(s, r.interaction).await.0.account_id,
        Some(data::<Opportunity>(s, r.opportunity).await.0.account_id),
        data::<Account>(s, r.child).await.0.parent_id,
        data::<Lead>(s, r.lead).await.0.converted_account_id,
    ]
}

conformance!(
    accounts_merge_relinks_logs_and_undoes,
    |s: Store| async move {
        let w = World::build(&s).await;
        let sys = Actor::system();
        let def = custom_def("account", "erp_code", CustomType::Text);
        s.create(&sys, NewRecord::new(def)).await.unwrap();
        let a = w.account(&s, &w.rep_a, "上海华为技术有限公司").await;
        let b = w.account(&s, &w.rep_a, "上海华为技术 有限公司").await;
        let b = s
            .update::<Account, _>(&w.rep_a, b.meta.id, 1, |r| {
                r.data.industry = Some("通信设备".into());
                r.data.website = Some("https://huawei.test".into());
                r.data.tags = vec!["key".into(), "华东".into()];
                r.custom.insert("erp_code".into(), json!("B-1"));
                Ok(())
            })
            .await
            .unwrap();
        let other = Account::new(
            AccountKind::Organisation,
            "阿里巴巴",
            Relationship::Customer,
        );
        s.create(&w.rep_a, NewRecord::new(other)).await.unwrap();
        let r = related(&s, &w, b.meta.id).await;
        let (a_id, b_id) = (a.meta.id, b.meta.id);
        assert!(links(&s, &r).await.iter().all(|l| *l == Some(b_id)));

        let report = s.scan_duplicates(&w.manager, "account").await.unwrap();
        assert_eq!((report.pairs_found, report.new), (1, 1), "{report:?}");
        let q = queue(&s, &w.manager, "account").await;
        let pair = pair_of(&q, a_id, b_id).expect("the two spellings pair up");
        assert_eq!(pair.reasons, ["credit_code", "company_name"]);
        assert_eq!(pair.score, 1.0);
        assert_eq!(pair.entity, "account");

        // Keep A, take B's industry, website and ERP code.
        let before = (
            data::<Account>(&s, a_id).await,
            data::<Account>(&s, b_id).await,
        );
        let take = ["industry", "website", "custom.erp_code"].map(String::from);
        let out = s
            .merge(&w.manager, "account", a_id, b_id, &take)
            .await
            .unwrap();
        assert_eq!(out.survivor["industry"], "通信设备");
        assert_eq!(out.survivor["website"], "https://huawei.test");
        assert_eq!(out.survivor["custom"]["erp_code"], "B-1");
        assert_eq!(out.survivor["tags"], json!(["key", "华东"]), "tags of both");
        assert_eq!(out.survivor["version"], 2);
        let moved: Vec<&str> = out.relinked.keys().map(String::as_str).collect();
        assert_eq!(
            moved,
            [
                "accounts.parent_id",
                "cases.account_id",
                "contacts.account_id",
                "interactions.account_id",
                "leads.converted_account_id",
                "opportunities.account_id",
                "orders.account_id",
            ]
        );
        assert_eq!(out.relinked["contacts.account_id"].len(), 2);
        assert!(links(&s, &r).await.iter().all(|l| *l == Some(a_id)));
        let order: Record<Order> = s.get(&w.manager, r.order).await.unwrap();
        assert_eq!(order.meta.version, 2, "a moved row's version is bumped");

        // B is gone from reads and lists; the queue no longer offers the pair.
        assert!(matches!(
            s.get::<Account>(&w.manager, b_id).await,
            Err(StoreError::NotFound { .. })
        ));
        let all = s
            .list::<Account>(&sys, &ListQuery::default())
            .await
            .unwrap();
        assert!(all.items.iter().all(|x| x.meta.id != b_id));
        assert!(pair_of(&queue(&s, &w.manager, "account").await, a_id, b_id).is_none());
        let log = s.changes_for::<Account>(&w.manager, b_id).await.unwrap();
        let merge = log.last().unwrap();
        assert_eq!((merge.action.as_str(), merge.seq), ("merge", out.seq));
        let after = merge.after.as_ref().unwrap();
        assert_eq!(after["survivor"], json!(a_id));
        assert_eq!(after["took"], json!(take));
        assert_eq!(after["survivor_before"]["industry"], json!(null));
        assert_eq!(after["relinked"]["orders.account_id"], json!([r.order]));
        assert_eq!(
            merge.before.as_ref().unwrap()["name"],
            "上海华为技术 有限公司"
        );
        let a_log = s.changes_for::<Account>(&w.manager, a_id).await.unwrap();
        assert_eq!(a_log.last().unwrap().action, "update");
        chain_intact(&s).await;

        // Undo: everything as before, except versions and update times.
        let (entity, restored) = s.undo_merge(&w.manager, b_id).await.unwrap();
        assert_eq!(entity, "account");
        assert_eq!(restored["id"], json!(b_id));
        assert!(restored.get("deleted_at").is_none());
        assert!(links(&s, &r).await.iter().all(|l| *l == Some(b_id)));
        assert_eq!(
            (
                data::<Account>(&s, a_id).await,
                data::<Account>(&s, b_id).await
            ),
            before
        );
        s.get::<Account>(&w.manager, b_id).await.unwrap();
        let actions = |log: Vec<guanxi_store::ChangeEntry>| -> Vec<String> {
            log.into_iter().rev().take(3).map(|c| c.action).collect()
        };
        let b_log = s.changes_for::<Account>(&w.manager, b_id).await.unwrap();
        assert_eq!(actions(b_log), ["unmerge", "restore", "merge"]);
        let a_log = s.changes_for::<Account>(&w.manager, a_id).await.unwrap();
        assert_eq!(actions(a_log)[..2], ["update", "update"]);
        assert!(
            pair_of(&queue(&s, &w.manager, "account").await, a_id, b_id).is_some(),
            "reopened"
        );
        chain_intact(&s).await;
        // Undone once: a second undo finds the merged record live and refuses.
        assert!(matches!(
            s.undo_merge(&w.manager, b_id).await,
            Err(StoreError::Conflict { .. })
        ));
    }
);

conformance!(contacts_pair_by_sound_and_mobile, |s: Store| async move {
    let w = World::build(&s).await;
    let acc = w
        .account(&s, &w.rep_a, "上海华为技术有限公司")
        .await
        .meta
        .id;
    let elsewhere = Account::new(AccountKind::Organisation, "腾讯", Relationship::Customer);
    let elsewhere = s
        .create(&w.rep_a, NewRecord::new(elsewhere))
        .await
        .unwrap()
        .meta
        .id;
    let person = |name: &str, account: Id, mobile: &str| {
        let mut c = Contact::new(name);
        c.account_id = Some(account);
        c.mobile = Some(mobile.parse_phone());
        NewRecord::new(c)
    };
    let mut ids = vec![];
    for (name, account, mobile) in [
        ("张伟", acc, "+86 138 1234 5678"),
        ("章伟", acc, "13812345678"),
        ("李娜", acc, "13900001111"),
        ("张伟", elsewhere, "13700002222"),
    ] {
        ids.push(
            s.create(&w.rep_a, person(name, account, mobile))
                .await
                .unwrap()
                .meta
                .id,
        );
    }
    let zhang: Record<Contact> = s.get(&w.rep_a, ids[0]).await.unwrap();
    assert_eq!(
        zhang.data.mobile.unwrap().as_e164(),
        "+8613812345678",
        "normalised on write"
    );

    let report = s.scan_duplicates(&w.rep_a, "contact").await.unwrap();
    assert_eq!((report.pairs_found, report.new), (1, 1), "{report:?}");
    let q = queue(&s, &w.rep_a, "contact").await;
    let pair = pair_of(&q, ids[0], ids[1]).expect("张伟 and 章伟 at one account, one mobile");
    assert_eq!(pair.reasons, ["phone", "name"]);
    assert!(pair.score > 0.9 && pair.score < 1.0, "{}", pair.score);
    assert!(
        pair_of(&q, ids[0], ids[2]).is_none(),
        "张伟 and 李娜 are two people"
    );
    assert!(
        pair_of(&q, ids[0], ids[3]).is_none(),
        "one name at two companies: two people"
    );

    // Merging contacts moves their activities.
    let mut i = interaction(acc, InteractionKind::Visit);
    i.contact_id = Some(ids[1]);
    let i = s.create(&w.rep_a, NewRecord::new(i)).await.unwrap().meta.id;
    let out = s
        .merge(&w.manager, "contact", ids[0], ids[1], &[])
        .await
        .unwrap();
    assert_eq!(out.relinked["interactions.contact_id"], [i]);
    assert_eq!(data::<Interaction>(&s, i).await.0.contact_id, Some(ids[0]));
    chain_intact(&s).await;
});

conformance!(leads_pair_by_email_and_company, |s: Store| async move {
    let w = World::build(&s).await;
    let new = |l: Lead| NewRecord::new(l);
    let x = s
        .create(
            &w.rep_a,
            new(lead("王强", "杭州新创科技有限公司", "wq@xc.test")),
        )
        .await;
    let y = s
        .create(&w.rep_a, new(lead("王 强", "杭州新创科技", "WQ@xc.test")))
        .await;
    let colleague = lead("刘洋", "杭州新创科技有限公司", "ly@xc.test");
    let z = s.create(&w.rep_a, new(colleague)).await;
    let (x, y, z) = (x.unwrap().meta.id, y.unwrap().meta.id, z.unwrap().meta.id);
    s.scan_duplicates(&w.rep_a, "lead").await.unwrap();
    let q = queue(&s, &w.rep_a, "lead").await;
    let pair = pair_of(&q, x, y).expect("same person, company and e-mail");
    assert_eq!(pair.reasons, ["email", "company_name", "name"]);
    assert!(pair_of(&q, x, z).is_none(), "colleagues are not duplicates");
    let out = s.merge(&w.rep_a, "lead", x, y, &[]).await;
    assert!(
        matches!(out, Err(StoreError::Forbidden { .. })),
        "a sales rep may not delete, so may not merge"
    );
    let out = s
        .merge(&w.manager, "lead", x, y, &["email".into()])
        .await
        .unwrap();
    assert_eq!(out.survivor["email"], "WQ@xc.test");
    assert!(out.relinked.is_empty());
});

conformance!(merging_needs_both_records_in_sight, |s: Store| async move {
    let w = World::build(&s).await;
    // Same credit code (the fixture's): duplicates, owned in East/Shanghai and in West.
    let mine = w
        .account(&s, &w.rep_a, "上海华为技术有限公司")
        .await
        .meta
        .id;
    let west = w
        .account(&s, &w.rep_c, "上海华为技术有限公司")
        .await
        .meta
        .id;
    assert_eq!(
        s.scan_duplicates(&w.manager, "account")
            .await
            .unwrap()
            .pairs_found,
        0
    );
    assert_eq!(s.scan_duplicates(&w.admin, "account").await.unwrap().new, 1);
    assert!(pair_of(&queue(&s, &w.admin, "account").await, mine, west).is_some());
    for who in [&w.manager, &w.rep_a, &w.rep_c] {
        assert!(
            queue(&s, who, "account").await.is_empty(),
            "sees only one of the two"
        );
    }
    let entries = s.verify_chain().await.unwrap().entries;
    for (who, survivor, merged) in [(&w.manager, mine, west), (&w.manager, west, mine)] {
        assert!(matches!(
            s.merge(who, "account", survivor, merged, &[]).await,
            Err(StoreError::NotFound { .. })
        ));
    }
    assert!(matches!(
        s.merge(&w.rep_a, "account", mine, west, &[]).await,
        Err(StoreError::NotFound { .. })
    ));
    let pair = queue(&s, &w.admin, "account").await.remove(0);
    assert!(matches!(
        s.dismiss_duplicate(&w.manager, pair.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.verify_chain().await.unwrap().entries,
        entries,
        "nothing written"
    );
    s.get::<Account>(&w.admin, west).await.unwrap();
    // Nonsense is refused plainly.
    assert!(matches!(
        s.merge(&w.admin, "account", mine, mine, &[]).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.merge(&w.admin, "account", mine, west, &["rfm_r".into()])
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.scan_duplicates(&w.admin, "order").await,
        Err(StoreError::Invalid(_))
    ));
});

conformance!(undo_refused_after_survivor_changed, |s: Store| async move {
    let w = World::build(&s).await;
    let a = w
        .account(&s, &w.rep_a, "上海华为技术有限公司")
        .await
        .meta
        .id;
    let b = w
        .account(&s, &w.rep_a, "上海华为技术有限公司")
        .await
        .meta
        .id;
    let case = s
        .create(&w.rep_a, NewRecord::new(case(b, "CS-U1")))
        .await
        .unwrap()
        .meta
        .id;
    let out = s.merge(&w.manager, "account", a, b, &[]).await.unwrap();
    let version = out.survivor["version"].as_i64().unwrap();
    s.update::<Account, _>(&w.manager, a, version, |r| {
        r.data.industry = Some("制造业".into());
        Ok(())
    })
    .await
    .unwrap();
    let entries = s.verify_chain().await.unwrap().entries;
    let refused = s.undo_merge(&w.manager, b).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict { id, .. }) if id == a),
        "{refused:?}"
    );
    assert_eq!(
        s.verify_chain().await.unwrap().entries,
        entries,
        "nothing written"
    );
    assert!(
        s.get::<Account>(&w.manager, b).await.is_err(),
        "still merged"
    );
    assert_eq!(data::<Case>(&s, case).await.0.account_id, Some(a));
    let industry = data::<Account>(&s, a).await.0.industry;
    assert_eq!(industry.as_deref(), Some("制造业"));
    // Nor after the merged record was brought back by hand.
    let c = w
        .account(&s, &w.rep_a, "上海华为技术有限公司")
        .await
        .meta
        .id;
    let out = s.merge(&w.manager, "account", a, c, &[]).await.unwrap();
    let gone = s.get_any::<Account>(&w.manager, c).await.unwrap();
    s.restore::<Account>(&w.manager, c, gone.meta.version)
        .await
        .unwrap();
    assert!(out.seq > 0);
    assert!(matches!(
        s.undo_merge(&w.manager, c).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        s.undo_merge(&w.manager, Id::new()).await,
        Err(StoreError::NotFound { .. })
    ));
});

conformance!(dismissed_pairs_stay_dismissed, |s: Store| async move {
    let w = World::build(&s).await;
    let a = w
        .account(&s, &w.rep_a, "上海华为技术有限公司")
        .await
        .meta
        .id;
    let b = w
        .account(&s, &w.rep_a, "上海华为技术（上海）有限公司")
        .await
        .meta
        .id;
    assert_eq!(s.scan_duplicates(&w.rep_a, "account").await.unwrap().new, 1);
    let pair = pair_of(&queue(&s, &w.rep_a, "account").await, a, b).unwrap();
    s.dismiss_duplicate(&w.rep_a, pair.id).await.unwrap();
    assert!(queue(&s, &w.rep_a, "account").await.is_empty());
    let again = s.scan_duplicates(&w.admin, "account").await.unwrap();
    assert_eq!((again.pairs_found, again.new), (1, 0));
    assert!(queue(&s, &w.admin, "account").await.is_empty());
    assert!(matches!(
        s.dismiss_duplicate(&w.rep_a, pair.id).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.duplicate_queue(&w.rep_a, "account", 0).await,
        Err(StoreError::Invalid(_))
    ));
});
