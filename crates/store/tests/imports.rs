//! Imports in batches, on both backends: rows matched by their keys, created, updated or
//! left alone; the same file twice changes nothing; a dry run writes nothing.

mod common;

use common::*;
use guanxi_domain::entities::{Account, AccountKind, Contact, Relationship};
use guanxi_domain::filter::ListQuery;
use guanxi_domain::{Email, NewRecord};
use guanxi_store::{ImportRow, Prepared, RowOutcome, Store, StoreError};

fn row(n: u64, name: &str, email: &str, title: Option<&str>) -> ImportRow<Contact> {
    let mut c = Contact::new(name);
    if !email.is_empty() {
        c.email = Some(Email::parse(email).unwrap());
    }
    c.title = title.map(str::to_string);
    ImportRow {
        row: n,
        record: NewRecord::new(c),
        keys: vec![format!("row:f1:{n}")],
    }
}

/// A batch as the importer hands it over (no custom fields defined in these tests).
fn batch(rows: Vec<ImportRow<Contact>>) -> Prepared<Contact> {
    Prepared::new(rows, &[])
}

fn counts(out: &[(u64, RowOutcome)]) -> [usize; 4] {
    let mut c = [0; 4];
    for (_, o) in out {
        c[match o {
            RowOutcome::Created { .. } => 0,
            RowOutcome::Updated { .. } => 1,
            RowOutcome::Unchanged { .. } => 2,
            RowOutcome::Failed { .. } => 3,
        }] += 1;
    }
    c
}

async fn contacts(s: &Store, w: &World) -> Vec<guanxi_domain::Record<Contact>> {
    s.list::<Contact>(&w.admin, &ListQuery::default().limit(100))
        .await
        .unwrap()
        .items
}

conformance!(the_same_file_twice_changes_nothing, |s: Store| async move {
    let w = World::build(&s).await;
    let rows = || {
        vec![
            row(2, "张伟", "zhang.wei@example.com", Some("经理")),
            row(3, "李娜", "", None),
            // The same person again further down: merged into the first.
            row(4, "张伟", "Zhang.Wei@Example.com", Some("总监")),
            row(5, "", "bad@example.com", None),
        ]
    };
    let mut job = s
        .import_job(&w.rep_a, "contact", "c.csv", "f1")
        .await
        .unwrap();
    let out = s
        .import_batch(&w.rep_a, &mut job, batch(rows()), 0, Some((100, 6)), false)
        .await
        .unwrap();
    assert_eq!(counts(&out), [2, 1, 0, 1], "{out:?}");
    let RowOutcome::Failed { errors } = &out[3].1 else {
        panic!("{out:?}")
    };
    assert_eq!(errors.0[0].field, "name");
    assert_eq!((job.rows_done, job.created, job.failed), (4, 2, 1));
    assert_eq!((job.resume_offset, job.resume_row), (Some(100), Some(6)));
    let all = contacts(&s, &w).await;
    assert_eq!(all.len(), 2);
    let zhang = all.iter().find(|c| c.data.name == "张伟").unwrap();
    assert_eq!(
        zhang.data.title.as_deref(),
        Some("总监"),
        "the later row wins"
    );
    assert_eq!(zhang.meta.owner_id, Some(w.rep_a.user_id));

    // The unfinished job is found again by the file's hash, with its progress.
    let mut again = s
        .import_job(&w.rep_a, "contact", "c.csv", "f1")
        .await
        .unwrap();
    assert_eq!(again.id, job.id);
    assert_eq!(again.rows_done, 4);
    let out = s
        .import_batch(&w.rep_a, &mut again, batch(rows()), 0, None, false)
        .await
        .unwrap();
    assert_eq!(counts(&out), [0, 0, 3, 1], "{out:?}");
    assert_eq!(contacts(&s, &w).await.len(), 2);
    s.finish_import(&mut again).await.unwrap();
    let fresh = s
        .import_job(&w.rep_a, "contact", "c.csv", "f1")
        .await
        .unwrap();
    assert_ne!(fresh.id, job.id, "a finished job is not resumed");
});

conformance!(another_file_updates_by_email, |s: Store| async move {
    let w = World::build(&s).await;
    let mut job = s
        .import_job(&w.rep_a, "contact", "a.csv", "fa")
        .await
        .unwrap();
    s.import_batch(
        &w.rep_a,
        &mut job,
        batch(vec![row(2, "王芳", "wang@example.com", Some("工程师"))]),
        0,
        None,
        false,
    )
    .await
    .unwrap();
    let mut other = s
        .import_job(&w.rep_a, "contact", "b.csv", "fb")
        .await
        .unwrap();
    let mut r = row(2, "王芳", "WANG@example.com", Some("高级工程师"));
    r.keys = vec!["row:fb:2".into()];
    let mut same = row(3, "王芳", "WANG@example.com", Some("高级工程师"));
    same.keys = vec!["row:fb:3".into()];
    let out = s
        .import_batch(&w.rep_a, &mut other, batch(vec![r, same]), 0, None, false)
        .await
        .unwrap();
    assert!(matches!(out[0].1, RowOutcome::Updated { .. }), "{out:?}");
    assert!(matches!(out[1].1, RowOutcome::Unchanged { .. }), "{out:?}");
    let all = contacts(&s, &w).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].data.title.as_deref(), Some("高级工程师"));
    assert_eq!(all[0].meta.version, 2);
});

conformance!(a_dry_run_writes_nothing, |s: Store| async move {
    let w = World::build(&s).await;
    let mut job = s
        .import_job(&w.rep_a, "contact", "d.csv", "fd")
        .await
        .unwrap();
    let out = s
        .import_batch(
            &w.rep_a,
            &mut job,
            batch(vec![
                row(2, "赵磊", "zhao@example.com", None),
                row(3, "", "", None),
            ]),
            0,
            None,
            true,
        )
        .await
        .unwrap();
    assert_eq!(counts(&out), [1, 0, 0, 1]);
    assert!(contacts(&s, &w).await.is_empty());
    assert!(s.verify_chain().await.unwrap().first_broken.is_none());
});

conformance!(
    mapping_templates_are_shared_kept_by_their_owner_and_deleted_by_them,
    |s: Store| async move {
        let w = World::build(&s).await;
        let saved = s
            .save_import_template(&w.rep_a, "contact", " 展会名单 ", "姓名=name,手机=mobile")
            .await
            .unwrap();
        assert_eq!(saved.name, "展会名单");
        assert_eq!(saved.owner_id, w.rep_a.user_id);

        // Everyone who may import contacts sees it, by name.
        let got = s
            .import_template(&w.rep_c, "contact", "展会名单")
            .await
            .unwrap();
        assert_eq!(got, saved);
        assert_eq!(
            s.import_templates(&w.rep_b, Some("contact")).await.unwrap(),
            vec![saved.clone()]
        );
        assert!(
            s.import_templates(&w.rep_b, Some("lead"))
                .await
                .unwrap()
                .is_empty()
        );

        // Its owner replaces the mapping; someone else finds the name taken.
        let replaced = s
            .save_import_template(&w.rep_a, "contact", "展会名单", "姓名=name,邮箱=email")
            .await
            .unwrap();
        assert_eq!(
            (replaced.id, replaced.spec.as_str()),
            (saved.id, "姓名=name,邮箱=email")
        );
        let taken = s
            .save_import_template(&w.rep_b, "contact", "展会名单", "姓名=name")
            .await
            .unwrap_err();
        assert!(
            matches!(taken, StoreError::Duplicate { ref field, .. } if field == "name"),
            "{taken}"
        );
        assert_eq!(
            s.import_template(&w.admin, "contact", "展会名单")
                .await
                .unwrap()
                .spec,
            "姓名=name,邮箱=email"
        );

        // The same name for another entity is another template; a role that may not import
        // products neither saves nor sees theirs.
        let product = s
            .save_import_template(&w.admin, "product", "展会名单", "编号=sku,名称=name")
            .await
            .unwrap();
        let forbidden = s
            .save_import_template(&w.rep_a, "product", "x", "编号=sku")
            .await
            .unwrap_err();
        assert!(
            matches!(forbidden, StoreError::Forbidden { .. }),
            "{forbidden}"
        );
        let names = |ts: Vec<guanxi_store::ImportTemplate>| {
            ts.into_iter()
                .map(|t| format!("{}/{}", t.entity, t.name))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(s.import_templates(&w.rep_a, None).await.unwrap()),
            ["contact/展会名单"]
        );
        assert_eq!(
            names(s.import_templates(&w.admin, None).await.unwrap()),
            ["contact/展会名单", "product/展会名单"]
        );

        // Bad input names its field; an unknown template is an invalid `template`.
        let field_of = |e: StoreError| match e {
            StoreError::Invalid(v) => v.0[0].field.clone(),
            other => panic!("{other}"),
        };
        let err = s
            .save_import_template(&w.admin, "contact", " ", "姓名=name")
            .await
            .unwrap_err();
        assert_eq!(field_of(err), "save_template");
        let err = s
            .save_import_template(&w.admin, "campaign", "x", "a=name")
            .await
            .unwrap_err();
        assert_eq!(field_of(err), "kind");
        let err = s
            .import_template(&w.admin, "contact", "没有")
            .await
            .unwrap_err();
        assert_eq!(field_of(err), "template");

        // Only the owner or an administrator deletes; to anyone else it is not there.
        let err = s
            .delete_import_template(&w.rep_b, saved.id)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
        s.delete_import_template(&w.rep_a, saved.id).await.unwrap();
        s.delete_import_template(&w.admin, product.id)
            .await
            .unwrap();
        assert!(s.import_templates(&w.admin, None).await.unwrap().is_empty());
    }
);

conformance!(
    imported_references_must_be_readable_by_the_importer,
    |s: Store| async move {
        let w = World::build(&s).await;
        let account = |name: &str| {
            NewRecord::new(Account::new(
                AccountKind::Organisation,
                name,
                Relationship::Customer,
            ))
        };
        let mine = s.create(&w.rep_a, account("甲方")).await.unwrap().meta.id;
        let theirs = s
            .create(&w.rep_c, account("别人的客户"))
            .await
            .unwrap()
            .meta
            .id;
        let missing = guanxi_domain::Id::new();
        let linked = |n: u64, account| {
            let mut r = row(n, &format!("导入{n}"), "", None);
            r.record.data.account_id = Some(account);
            r
        };
        let mut job = s
            .import_job(&w.rep_a, "contact", "refs.csv", "refs")
            .await
            .unwrap();
        let rows = vec![linked(2, mine), linked(3, theirs), linked(4, missing)];
        let out = s
            .import_batch(&w.rep_a, &mut job, batch(rows), 0, None, false)
            .await
            .unwrap();
        assert_eq!(counts(&out), [1, 0, 0, 2], "{out:?}");
        // Out of sight and missing fail alike: the answer tells nothing about which ids exist.
        let refusals: Vec<String> = out
            .iter()
            .filter_map(|(_, o)| match o {
                RowOutcome::Failed { errors } => Some(
                    format!(
                        "{}: {} {}",
                        errors.0[0].field, errors.0[0].code, errors.0[0].message
                    )
                    .replace(&theirs.to_string(), "ID")
                    .replace(&missing.to_string(), "ID"),
                ),
                _ => None,
            })
            .collect();
        assert_eq!(
            refusals,
            vec!["account_id: not_found no record in accounts with id ID"; 2],
            "{out:?}"
        );
        let theirs_now: Vec<_> = contacts(&s, &w)
            .await
            .into_iter()
            .filter(|c| c.data.account_id == Some(theirs))
            .collect();
        assert!(
            theirs_now.is_empty(),
            "nothing attached to the stranger's account"
        );
        // A file may name the importer's own account, or one they vouch for as resolved.
        let mut job = s
            .import_job(&w.rep_a, "contact", "refs2.csv", "refs2")
            .await
            .unwrap();
        let mut vouched = batch(vec![linked(5, missing)]);
        vouched.vouch([missing]);
        let out = s
            .import_batch(&w.rep_a, &mut job, vouched, 0, None, true)
            .await
            .unwrap();
        assert_eq!(
            counts(&out),
            [1, 0, 0, 0],
            "a dry run's new account: {out:?}"
        );
    }
);

fn contact_named(name: &str) -> NewRecord<Contact> {
    NewRecord::new(Contact::new(name))
}

/// The fields of an `Invalid` refusal, with their codes.
fn refused(e: StoreError) -> Vec<(String, &'static str)> {
    match e {
        StoreError::Invalid(v) => v.0.into_iter().map(|f| (f.field, f.code)).collect(),
        other => panic!("{other}"),
    }
}

conformance!(
    a_bulk_import_checks_custom_fields_like_a_create,
    |s: Store| async move {
        use guanxi_domain::custom::CustomType;
        let w = World::build(&s).await;
        let mut def = custom_def("contact", "source", CustomType::Text);
        def.required = true;
        s.create(&w.admin, NewRecord::new(def)).await.unwrap();
        let with_source = |name: &str| {
            let custom = serde_json::json!({ "source": "展会" });
            contact_named(name).with_custom(custom.as_object().unwrap().clone())
        };
        let rows = vec![
            with_source("有来源"),
            contact_named("没来源"),
            contact_named(""),
        ];
        let StoreError::Invalid(errors) = s.import(&w.rep_a, rows.clone()).await.unwrap_err()
        else {
            panic!("not invalid")
        };
        let fields = refused(StoreError::Invalid(errors.clone()));
        assert!(
            fields.contains(&("[1].custom.source".into(), "required")),
            "{fields:?}"
        );
        assert!(
            fields.contains(&("[2].custom.source".into(), "required")),
            "{fields:?}"
        );
        assert!(
            fields.contains(&("[2].name".into(), "required")),
            "{fields:?}"
        );
        let by_record = guanxi_store::errors_by_record(&errors);
        assert_eq!(by_record.keys().copied().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(by_record[&1].0[0].field, "custom.source");
        // A dry run answers the same; neither wrote anything.
        let dry = s.check_import(&w.rep_a, rows).await.unwrap_err();
        assert_eq!(refused(dry), fields);
        assert!(contacts(&s, &w).await.is_empty());
        let ok = s
            .import(&w.rep_a, vec![with_source("有来源")])
            .await
            .unwrap();
        assert_eq!(ok.len(), 1);
    }
);

conformance!(
    a_bulk_import_refuses_references_out_of_sight_like_missing_ones,
    |s: Store| async move {
        let w = World::build(&s).await;
        let mine = w.account(&s, &w.rep_a, "甲方").await.meta.id;
        let theirs = w.account(&s, &w.rep_c, "别人的客户").await.meta.id;
        let missing = guanxi_domain::Id::new();
        let linked = |name: &str, account| {
            let mut c = Contact::new(name);
            c.account_id = Some(account);
            NewRecord::new(c)
        };
        let rows = vec![
            linked("一", mine),
            linked("二", theirs),
            linked("三", missing),
        ];
        let StoreError::Invalid(errors) = s.import(&w.rep_a, rows).await.unwrap_err() else {
            panic!("not invalid")
        };
        let told: Vec<String> = errors
            .0
            .iter()
            .map(|e| {
                format!("{}: {} {}", e.field, e.code, e.message)
                    .replace(&theirs.to_string(), "ID")
                    .replace(&missing.to_string(), "ID")
            })
            .collect();
        assert_eq!(
            told,
            [
                "[1].account_id: not_found no record in accounts with id ID",
                "[2].account_id: not_found no record in accounts with id ID",
            ]
        );
        assert!(contacts(&s, &w).await.is_empty());
        // The one who may see it links to it; a record of the same batch holds too.
        let parent = guanxi_domain::Id::new();
        let mut child = Account::new(AccountKind::Organisation, "子公司", Relationship::Customer);
        child.parent_id = Some(parent);
        let parent_row = NewRecord::new(Account::new(
            AccountKind::Organisation,
            "母公司",
            Relationship::Customer,
        ))
        .with_id(parent);
        s.import(&w.admin, vec![linked("二", theirs)])
            .await
            .unwrap();
        s.import(&w.rep_a, vec![NewRecord::new(child), parent_row])
            .await
            .unwrap();
    }
);

conformance!(
    a_bulk_import_takes_the_owners_team_and_keeps_to_the_writers_scope,
    |s: Store| async move {
        use guanxi_domain::Id;
        let w = World::build(&s).await;
        // The team given by the caller is not taken: the owner's is.
        let ids = s
            .import(
                &w.admin,
                vec![
                    contact_named("甲的").owned_by(w.rep_a.user_id, w.rep_c.team_id),
                    contact_named("丙的").owned_by(w.rep_c.user_id, None),
                    contact_named("管理员的"),
                ],
            )
            .await
            .unwrap();
        let team_of = |id: Id| {
            let s = s.clone();
            let admin = w.admin.clone();
            async move {
                let r = s.get::<Contact>(&admin, id).await.unwrap();
                (r.meta.owner_id, r.meta.team_id)
            }
        };
        assert_eq!(
            team_of(ids[0]).await,
            (Some(w.rep_a.user_id), w.rep_a.team_id)
        );
        assert_eq!(
            team_of(ids[1]).await,
            (Some(w.rep_c.user_id), w.rep_c.team_id)
        );
        assert_eq!(
            team_of(ids[2]).await,
            (Some(w.admin.user_id), w.admin.team_id)
        );

        // A rep may not hand records to someone else, nor name an unknown user.
        let err = s
            .import(
                &w.rep_a,
                vec![
                    contact_named("自己的"),
                    contact_named("给丙").owned_by(w.rep_c.user_id, w.rep_a.team_id),
                ],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Forbidden { .. }), "{err}");
        let stranger = Id::new();
        let err = s
            .import(
                &w.rep_a,
                vec![contact_named("给谁").owned_by(stranger, None)],
            )
            .await
            .unwrap_err();
        assert_eq!(refused(err), [("[0].owner_id".to_string(), "not_found")]);
        // A manager hands records to their team, not to another.
        s.import(
            &w.manager,
            vec![contact_named("给乙").owned_by(w.rep_b.user_id, None)],
        )
        .await
        .unwrap();
        let err = s
            .import(
                &w.manager,
                vec![contact_named("给丙").owned_by(w.rep_c.user_id, None)],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Forbidden { .. }), "{err}");
        assert_eq!(
            s.list::<Contact>(&w.admin, &ListQuery::default().counted())
                .await
                .unwrap()
                .total,
            Some(4)
        );
    }
);
