//! End-to-end tests of the matching rules, filters and index lifecycle.

use std::cell::Cell;

use proptest::prelude::*;
use uuid::Uuid;

use crate::index::Strategy;
use crate::{Hit, Index, Query, Scope, SearchDoc, SearchError};

thread_local! {
    /// Makes searches on this thread enforce visibility one given way.
    pub(crate) static FORCE_STRATEGY: Cell<Option<Strategy>> = const { Cell::new(None) };
}

/// Runs `check` with the automatic choice and with each way of enforcing visibility.
fn with_each_strategy(check: impl Fn()) {
    for s in [None, Some(Strategy::Driven), Some(Strategy::Checked)] {
        FORCE_STRATEGY.set(s);
        check();
    }
    FORCE_STRATEGY.set(None);
}

const ALL_KINDS: &[&str] = &[
    "account",
    "contact",
    "lead",
    "opportunity",
    "case",
    "interaction",
];

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn named(n: u128, kind: &str, name: &str) -> SearchDoc {
    SearchDoc {
        id: id(n),
        kind: kind.into(),
        title: name.into(),
        names: vec![name.into()],
        ..SearchDoc::default()
    }
}

fn index_with(docs: Vec<SearchDoc>) -> Index {
    let index = Index::in_memory().unwrap();
    let mut w = index.writer().unwrap();
    for d in docs {
        w.upsert(d).unwrap();
    }
    w.commit(id(1)).unwrap();
    index
}

fn search_as(index: &Index, text: &str, scope: &Scope, sensitive: bool) -> Vec<Hit> {
    index
        .search(&Query {
            text,
            kinds: ALL_KINDS,
            scope,
            sensitive,
            limit: 20,
        })
        .unwrap()
}

fn search(index: &Index, text: &str) -> Vec<Hit> {
    search_as(index, text, &Scope::All, true)
}

fn ids(hits: &[Hit]) -> Vec<u128> {
    hits.iter().map(|h| h.id.as_u128()).collect()
}

fn finds(index: &Index, text: &str, n: u128) -> bool {
    ids(&search(index, text)).contains(&n)
}

#[test]
fn single_characters_and_words_of_chinese_names() {
    let index = index_with(vec![
        named(1, "contact", "张伟"),
        named(2, "contact", "李娜"),
    ]);
    for q in ["张伟", "张", "伟"] {
        assert_eq!(ids(&search(&index, q)), [1], "{q}");
    }
    assert_eq!(ids(&search(&index, "娜")), [2]);
    assert_eq!(search(&index, "张")[0].matched, ["name"]);
}

#[test]
fn jieba_segments_text_on_both_sides() {
    let mut d = named(1, "account", "某公司");
    d.text = vec!["地址：北京市海淀区中关村大街".into()];
    let index = index_with(vec![d, named(2, "account", "别的公司")]);
    for q in ["海淀区", "中关村", "北京"] {
        let hits = search(&index, q);
        assert_eq!(ids(&hits), [1], "{q}");
        assert_eq!(hits[0].matched, ["text"]);
    }
}

#[test]
fn traditional_and_simplified_are_folded() {
    let mut gz = named(3, "account", "某公司");
    gz.text = vec!["广州市天河区".into()];
    let index = index_with(vec![
        named(1, "contact", "张伟"),
        named(2, "contact", "陳國華"),
        gz,
    ]);
    assert!(finds(&index, "張偉", 1));
    assert!(finds(&index, "陈国华", 2));
    assert!(finds(&index, "國", 2));
    assert!(finds(&index, "廣州", 3));
    assert!(finds(&index, "广州", 3));
}

#[test]
fn latin_text_is_lowercased() {
    let mut d = named(1, "account", "ACME Trading Ltd");
    d.text = vec!["Imports of Widgets".into()];
    let index = index_with(vec![d]);
    for q in ["acme", "ACME", "Trading", "widgets", "WIDGETS"] {
        assert!(finds(&index, q, 1), "{q}");
    }
}

#[test]
fn pinyin_full_syllables_initials_and_typeahead() {
    let index = index_with(vec![
        named(1, "contact", "张伟"),
        named(2, "contact", "王芳"),
    ]);
    for q in [
        "zhang wei",
        "zhangwei",
        "ZW",
        "zw",
        "zhangw",
        "Zhang",
        "zhang'wei",
    ] {
        let hits = search(&index, q);
        assert_eq!(ids(&hits), [1], "{q}");
        assert_eq!(hits[0].matched, ["pinyin"], "{q}");
    }
    assert_eq!(ids(&search(&index, "wf")), [2]);
}

#[test]
fn pinyin_of_polyphones() {
    let index = index_with(vec![
        named(1, "contact", "单雄信"),
        named(2, "contact", "曾国藩"),
        named(3, "contact", "解缙"),
    ]);
    assert!(finds(&index, "shan", 1));
    assert!(finds(&index, "shanxiongxin", 1));
    assert!(finds(&index, "dan", 1));
    assert!(finds(&index, "ceng", 2));
    assert!(finds(&index, "zeng", 2));
    assert!(finds(&index, "zengguofan", 2));
    assert!(finds(&index, "xiejin", 3));
}

#[test]
fn pinyin_of_company_names() {
    let index = index_with(vec![
        named(1, "account", "华为技术有限公司"),
        named(2, "account", "北京字节跳动科技有限公司"),
    ]);
    assert!(finds(&index, "hwjs", 1));
    assert!(finds(&index, "hwjsyxgs", 1));
    assert!(finds(&index, "huawei", 1));
    assert!(finds(&index, "bjzj", 2));
    assert!(finds(&index, "zijie", 2));
}

#[test]
fn phones_match_digit_runs_and_full_numbers() {
    let mut d = named(1, "contact", "张伟");
    d.phones = vec!["+8613812345678".into()];
    let mut landline = named(2, "account", "某公司");
    landline.phones = vec!["010-66001122".into()];
    let index = index_with(vec![d, landline]);
    for q in [
        "5678",
        "12345678",
        "13812345678",
        "+86 138 1234 5678",
        "138-1234-5678",
    ] {
        let hits = search(&index, q);
        assert_eq!(hits[0].id, id(1), "{q}");
        assert!(hits[0].matched.contains(&"phone"), "{q}");
    }
    assert_eq!(ids(&search(&index, "66001122")), [2]);
    assert_eq!(ids(&search(&index, "+86 10 6600 1122")), [2]);
    assert_eq!(ids(&search(&index, "01066001122")), [2]);
    // Not mostly digits: the phone field is not consulted.
    assert!(search(&index, "room 5678").is_empty());
    assert!(search(&index, "567").is_empty());
}

#[test]
fn sensitive_phones_need_the_right() {
    let mut d = named(1, "contact", "张伟");
    d.sensitive_phones = vec!["13912345678".into()];
    let index = index_with(vec![d]);
    assert!(search_as(&index, "13912345678", &Scope::All, false).is_empty());
    assert!(search_as(&index, "5678", &Scope::All, false).is_empty());
    let hits = search_as(&index, "13912345678", &Scope::All, true);
    assert_eq!(ids(&hits), [1]);
    assert_eq!(hits[0].matched, ["phone"]);
    // Found by name without the right, but the hidden phone is not reported as matched.
    let hits = search_as(&index, "张伟 13912345678", &Scope::All, false);
    assert_eq!(ids(&hits), [1]);
    assert!(!hits[0].matched.contains(&"phone"));
}

#[test]
fn emails_match_address_parts() {
    let mut d = named(1, "contact", "张伟");
    d.emails = vec!["Zhang@Example.com".into()];
    let index = index_with(vec![d, named(2, "contact", "李娜")]);
    for q in [
        "zhang@example.com",
        "example.com",
        "example",
        "zhang",
        "ZHANG@EXAMPLE.COM",
    ] {
        let hits = search(&index, q);
        assert_eq!(ids(&hits), [1], "{q}");
        assert!(hits[0].matched.contains(&"email"), "{q}");
    }
}

#[test]
fn name_ranks_above_pinyin_phone_email_and_text() {
    let mut by_text = named(1, "account", "某某公司");
    by_text.text = vec!["客户张伟的备注".into()];
    let by_name = named(2, "contact", "张伟");
    let index = index_with(vec![by_text, by_name]);
    assert_eq!(ids(&search(&index, "张伟")), [2, 1]);

    let mut by_email = named(3, "contact", "李娜");
    by_email.emails = vec!["zhangwei@example.com".into()];
    let index = index_with(vec![by_email, named(4, "contact", "张伟")]);
    assert_eq!(ids(&search(&index, "zhangwei")), [4, 3]);
}

#[test]
fn exact_full_name_ranks_above_partial() {
    let index = index_with(vec![
        named(1, "contact", "张伟明"),
        named(2, "contact", "张伟"),
        named(3, "contact", "张伟华"),
    ]);
    for q in ["张伟", "zhangwei", "zw"] {
        let hits = search(&index, q);
        assert_eq!(hits[0].id, id(2), "{q}: {hits:?}");
        assert_eq!(hits.len(), 3, "{q}");
    }
}

#[test]
fn documents_matching_more_words_rank_first() {
    let mut both = named(1, "account", "华为技术有限公司");
    both.text = vec!["深圳市龙岗区".into()];
    let mut one = named(2, "account", "华为终端");
    one.text = vec!["东莞".into()];
    let mut other = named(3, "account", "腾讯");
    other.text = vec!["深圳".into()];
    let index = index_with(vec![one, other, both]);
    let hits = search(&index, "华为 深圳");
    assert_eq!(hits[0].id, id(1));
    assert_eq!(hits[0].matched, ["name", "text"]);
    assert_eq!(hits.len(), 3);
}

#[test]
fn kinds_filter_inside_the_query() {
    let index = index_with(vec![
        named(1, "account", "张伟"),
        named(2, "contact", "张伟"),
        named(3, "lead", "张伟"),
    ]);
    with_each_strategy(|| {
        let q = |kinds: &[&str]| {
            ids(&index
                .search(&Query {
                    text: "张伟",
                    kinds,
                    scope: &Scope::All,
                    sensitive: false,
                    limit: 10,
                })
                .unwrap())
        };
        assert_eq!(q(&["contact"]), [2]);
        let mut both = q(&["account", "lead"]);
        both.sort();
        assert_eq!(both, [1, 3]);
        assert!(q(&[]).is_empty());
        assert!(q(&["unknown"]).is_empty());
    });
}

/// Documents owned by `a`, by `b` in team `t`, and served by partner `p`.
fn scoped_index(a: Uuid, b: Uuid, t: Uuid, p: Uuid) -> Index {
    let with = |n, kind, owner, team, partner| SearchDoc {
        owner,
        team,
        partner,
        ..named(n, kind, "张伟")
    };
    index_with(vec![
        with(1, "contact", Some(a), None, None),
        with(2, "contact", Some(b), Some(t), None),
        with(3, "account", Some(b), None, Some(p)),
        with(4, "case", None, None, Some(p)),
        with(5, "contact", None, None, Some(p)),
        with(6, "account", Some(b), None, None),
    ])
}

fn sorted(mut v: Vec<u128>) -> Vec<u128> {
    v.sort();
    v
}

#[test]
fn each_scope_sees_only_its_records() {
    let (a, b, t, p) = (id(100), id(101), id(102), id(103));
    let index = scoped_index(a, b, t, p);
    let sees = |scope: Scope| sorted(ids(&search_as(&index, "张伟", &scope, false)));
    with_each_strategy(|| {
        assert_eq!(sees(Scope::All), [1, 2, 3, 4, 5, 6]);
        assert_eq!(sees(Scope::Own { user: a }), [1]);
        assert_eq!(sees(Scope::Own { user: b }), [2, 3, 6]);
        assert_eq!(
            sees(Scope::Team {
                user: a,
                teams: vec![t]
            }),
            [1, 2]
        );
        assert_eq!(
            sees(Scope::Team {
                user: a,
                teams: vec![]
            }),
            [1]
        );
        assert_eq!(
            sees(Scope::Team {
                user: id(999),
                teams: vec![t, t]
            }),
            [2]
        );
        // Partner: only accounts and cases it serves, never its contacts.
        assert_eq!(sees(Scope::Partner { partner: Some(p) }), [3, 4]);
        assert!(sees(Scope::Partner { partner: None }).is_empty());
        assert!(
            sees(Scope::Partner {
                partner: Some(id(999))
            })
            .is_empty()
        );
    });
}

#[test]
fn visibility_across_segments_and_deletes() {
    let (a, t, p) = (id(100), id(101), id(102));
    let index = Index::in_memory().unwrap();
    let mut w = index.writer().unwrap();
    // Each commit makes a segment; the first has no team or partner values at all.
    w.upsert(SearchDoc {
        owner: Some(a),
        ..named(1, "contact", "张伟")
    })
    .unwrap();
    w.upsert(named(2, "contact", "张伟")).unwrap();
    w.commit(id(1)).unwrap();
    w.upsert(SearchDoc {
        team: Some(t),
        ..named(3, "contact", "张伟")
    })
    .unwrap();
    w.upsert(SearchDoc {
        partner: Some(p),
        ..named(4, "account", "张伟")
    })
    .unwrap();
    w.commit(id(2)).unwrap();
    w.delete(id(3)).unwrap();
    w.upsert(SearchDoc {
        team: Some(t),
        ..named(5, "case", "张伟")
    })
    .unwrap();
    w.commit(id(3)).unwrap();
    with_each_strategy(|| {
        let sees = |scope: Scope| sorted(ids(&search_as(&index, "zw", &scope, false)));
        assert_eq!(sees(Scope::All), [1, 2, 4, 5]);
        assert_eq!(
            sees(Scope::Team {
                user: a,
                teams: vec![t]
            }),
            [1, 5]
        );
        assert_eq!(sees(Scope::Own { user: a }), [1]);
        assert_eq!(sees(Scope::Partner { partner: Some(p) }), [4]);
    });
}

#[test]
fn limit_applies_after_filtering() {
    let me = id(100);
    let mut docs: Vec<SearchDoc> = (0..50)
        .map(|n| named(n, "contact", "张伟")) // better matches, not mine
        .collect();
    docs.push(SearchDoc {
        owner: Some(me),
        ..named(99, "contact", "张伟明")
    });
    let index = index_with(docs);
    with_each_strategy(|| {
        let hits = index
            .search(&Query {
                text: "张伟",
                kinds: ALL_KINDS,
                scope: &Scope::Own { user: me },
                sensitive: false,
                limit: 1,
            })
            .unwrap();
        assert_eq!(ids(&hits), [99]);
        assert_eq!(search(&index, "张伟").len(), 20);
    });
}

#[test]
fn blank_queries_and_query_syntax_are_harmless() {
    let index = index_with(vec![named(1, "contact", "张伟")]);
    for q in ["", "   ", "\t\n", "：。，"] {
        assert!(search(&index, q).is_empty(), "{q:?}");
    }
    for q in [
        "name:张伟",
        "\"张伟\"",
        "张*",
        "张伟 AND -李",
        "(zw) OR [x TO y]",
        "zw~2^3",
        "\\",
        "+-!&|{}",
    ] {
        let hits = search(&index, q);
        if q != "+-!&|{}" && q != "\\" {
            assert_eq!(ids(&hits), [1], "{q}");
        }
    }
    let zero = index.search(&Query {
        text: "张伟",
        kinds: ALL_KINDS,
        scope: &Scope::All,
        sensitive: false,
        limit: 0,
    });
    assert!(zero.unwrap().is_empty());
}

#[test]
fn upsert_replaces_and_delete_removes() {
    let index = index_with(vec![
        named(1, "contact", "张伟"),
        named(2, "contact", "李娜"),
    ]);
    let mut w = index.writer().unwrap();
    w.upsert(named(1, "contact", "王芳")).unwrap();
    w.commit(id(2)).unwrap();
    assert!(search(&index, "张伟").is_empty());
    assert_eq!(ids(&search(&index, "王芳")), [1]);
    assert_eq!(search(&index, "王芳")[0].title, "王芳");
    assert_eq!(index.doc_count(), 2);

    w.delete(id(1)).unwrap();
    w.commit(id(3)).unwrap();
    assert!(search(&index, "王芳").is_empty());
    assert_eq!(index.doc_count(), 1);
    assert_eq!(index.id(), Some(id(3)));

    w.upsert(named(3, "contact", "赵六")).unwrap();
    w.clear().unwrap();
    w.upsert(named(4, "contact", "钱七")).unwrap();
    w.commit(id(4)).unwrap();
    assert_eq!(index.doc_count(), 1);
    assert_eq!(ids(&search(&index, "钱七")), [4]);
    assert!(search(&index, "赵六").is_empty());
    assert!(search(&index, "李娜").is_empty());
}

#[test]
fn batches_analyse_in_parallel_and_keep_order() {
    let index = Index::in_memory().unwrap();
    let mut w = index.writer().unwrap();
    let mut docs: Vec<SearchDoc> = (0..300)
        .map(|n| named(n, "contact", &format!("客户{n}")))
        .collect();
    docs.push(named(7, "contact", "张伟")); // replaces the earlier id 7
    w.upsert_many(docs).unwrap();
    w.commit(id(1)).unwrap();
    assert_eq!(index.doc_count(), 300);
    assert_eq!(ids(&search(&index, "张伟")), [7]);

    w.clear().unwrap();
    w.insert_many((0..100).map(|n| named(n, "lead", "李娜")).collect())
        .unwrap();
    w.commit(id(2)).unwrap();
    assert_eq!(index.doc_count(), 100);
    assert!(search(&index, "张伟").is_empty());
}

#[test]
fn reopen_keeps_documents_and_id() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = Index::open(dir.path()).unwrap();
        assert_eq!(index.id(), None);
        assert_eq!(index.doc_count(), 0);
        let mut w = index.writer().unwrap();
        w.upsert(named(1, "contact", "张伟")).unwrap();
        w.commit(id(1234)).unwrap();
        assert_eq!(index.id(), Some(id(1234)));
    }
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(index.id(), Some(id(1234)));
    assert_eq!(index.doc_count(), 1);
    assert_eq!(ids(&search(&index, "zw")), [1]);
}

#[test]
fn an_index_with_another_schema_is_reported_or_reset() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("index");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "kept").unwrap();
    {
        let mut b = tantivy::schema::Schema::builder();
        b.add_text_field("something_else", tantivy::schema::STRING);
        tantivy::Index::create_in_dir(&other, b.build()).unwrap();
    }
    assert!(matches!(
        Index::open(&other),
        Err(SearchError::Incompatible(_))
    ));
    let index = Index::open_or_reset(&other).unwrap();
    assert_eq!(index.id(), None);
    assert_eq!(index.doc_count(), 0);
    assert!(other.join("notes.txt").exists());
    drop(index);
    // The reset index opens normally from now on.
    assert!(Index::open(&other).is_ok());
}

#[test]
fn one_writer_at_a_time() {
    let index = Index::in_memory().unwrap();
    let w = index.writer().unwrap();
    assert!(matches!(index.writer(), Err(SearchError::WriterBusy)));
    drop(w);
    assert!(index.writer().is_ok());
}

#[test]
fn uncommitted_changes_are_invisible_until_commit() {
    let index = index_with(vec![]);
    let mut w = index.writer().unwrap();
    w.upsert(named(1, "contact", "张伟")).unwrap();
    assert!(search(&index, "张伟").is_empty());
    w.rollback().unwrap();
    w.commit(id(5)).unwrap();
    assert!(search(&index, "张伟").is_empty());
    assert_eq!(index.id(), Some(id(5)));
}

#[test]
fn handles_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Index>();
    send::<crate::Writer>();
}

#[test]
fn index_is_shared_between_threads() {
    let index = index_with(vec![named(1, "contact", "张伟")]);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let index = index.clone();
            s.spawn(move || assert_eq!(ids(&search(&index, "zw")), [1]));
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_queries_never_fail(text in "\\PC{0,40}", raw in any::<String>()) {
        thread_local! {
            static INDEX: Index = {
                let mut d = named(1, "contact", "张伟");
                d.phones = vec!["+8613812345678".into()];
                d.emails = vec!["zhang@example.com".into()];
                d.text = vec!["北京市海淀区 Widgets & Co.".into()];
                index_with(vec![d, named(2, "account", "華為技術有限公司")])
            };
        }
        INDEX.with(|index| {
            for text in [text.as_str(), raw.as_str()] {
                for sensitive in [false, true] {
                    let r = index.search(&Query {
                        text,
                        kinds: ALL_KINDS,
                        scope: &Scope::Team { user: id(1), teams: vec![id(2)] },
                        sensitive,
                        limit: 5,
                    });
                    prop_assert!(r.is_ok(), "{text:?}: {r:?}");
                }
            }
            Ok(())
        })?;
    }

    #[test]
    fn arbitrary_documents_index_and_find_their_names(name in "\\PC{1,30}") {
        let index = index_with(vec![named(1, "contact", &name)]);
        let hits = search(&index, &name);
        // Anything with a letter, digit or ideograph must find itself.
        if name.chars().any(char::is_alphanumeric) {
            prop_assert_eq!(ids(&hits), vec![1]);
        }
    }
}
