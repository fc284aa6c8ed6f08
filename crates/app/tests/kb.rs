//! The knowledge base over a real store (a SQLite file, and PostgreSQL when
//! `GUANXI_TEST_POSTGRES` names a server) and a real index fed from the change log: a
//! published article is suggested for a case's subject in other words (空调不制冷 →
//! 空调制冷效果差怎么办), a draft is not, with or without a staff user; and an article's
//! usage counts the resolved cases that name it.

mod common;

use common::stores;
use guanxi_app::{kb, records, search::Feed};
use guanxi_domain::entities::{
    Account, AccountKind, Article, Case, PartnerType, Relationship, User,
};
use guanxi_domain::{Actor, Email, Locale, NewRecord, Record};
use guanxi_search::Index;
use guanxi_store::Store;
use serde_json::{Value, json};

async fn create<T: guanxi_domain::Entity>(s: &Store, actor: &Actor, body: Value) -> Record<T> {
    records::create::<T>(s, actor, body)
        .await
        .unwrap_or_else(|e| panic!("creating a {}: {e}", T::DEF.name))
}

async fn user(s: &Store, email: &str, role: &str) -> Actor {
    let partner_id = if role == "partner" {
        let mut station = Account::new(
            AccountKind::Organisation,
            "浦东服务站",
            Relationship::Partner,
        );
        station.partner_type = Some(PartnerType::ServiceStation);
        Some(
            s.create(&Actor::system(), NewRecord::new(station))
                .await
                .unwrap()
                .meta
                .id,
        )
    } else {
        None
    };
    let u = User {
        email: Email::parse(email).unwrap(),
        name: email.split('@').next().unwrap().into(),
        role: role.into(),
        team_id: None,
        partner_id,
        locale: Locale::ZhCn,
        active: true,
    };
    let u = s.create(&Actor::system(), NewRecord::new(u)).await.unwrap();
    s.actor_for(u.meta.id).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_articles_are_suggested_and_their_usage_counted() {
    let (stores, _dir) = stores("gx_kb_app").await;
    for s in stores {
        let agent = user(&s, "agent@example.cn", "service").await;
        let rep = user(&s, "rep@example.cn", "sales").await;
        let partner = user(&s, "station@example.cn", "partner").await;

        // Only service agents and administrators write articles.
        let refused = records::create::<Article>(
            &s,
            &rep,
            json!({ "title": "销售写的文章", "body": "不行" }),
        )
        .await;
        assert!(refused.is_err(), "a sales rep may not write articles");

        let cooling = create::<Article>(
            &s,
            &agent,
            json!({
                "title": "空调制冷效果差怎么办", "title_en": "The air conditioner cools poorly",
                "body": "先检查滤网是否堵塞，清洗后再试；仍不制冷请报修。",
                "body_en": "Check whether the filter is clogged and clean it.",
                "category": "空调", "status": "published", "product_lines": ["空调"]
            }),
        )
        .await;
        let draft = create::<Article>(
            &s,
            &agent,
            json!({
                "title": "空调不制冷的维修流程（草稿）", "body": "内部草稿：空调不制冷时的处理。",
                "category": "空调"
            }),
        )
        .await;
        create::<Article>(
            &s,
            &agent,
            json!({
                "title": "洗衣机漏水的处理", "body": "检查进水管接口。",
                "status": "published", "product_lines": ["洗衣机"]
            }),
        )
        .await;

        let index = Index::in_memory().unwrap();
        let mut feed = Feed::open(s.clone(), index.clone()).await.unwrap();
        feed.catch_up().await.unwrap();

        // A customer (no staff user at all) typing a case subject in other words.
        let found = kb::suggest(&s, &index, "空调不制冷", 5).await.unwrap();
        let ids: Vec<_> = found.iter().map(|a| a.id).collect();
        assert_eq!(ids.first(), Some(&cooling.meta.id), "{found:?}");
        assert!(!ids.contains(&draft.meta.id), "drafts are never suggested");
        assert_eq!(found[0].title, "空调制冷效果差怎么办");
        assert_eq!(
            found[0].title_en.as_deref(),
            Some("The air conditioner cools poorly")
        );
        assert!(found[0].excerpt.starts_with("先检查滤网"));
        // Pinyin finds it too; blank text and unrelated words find nothing.
        let by_pinyin = kb::suggest(&s, &index, "kongtiao", 5).await.unwrap();
        assert!(
            by_pinyin.iter().any(|a| a.id == cooling.meta.id),
            "{by_pinyin:?}"
        );
        assert!(kb::suggest(&s, &index, "  ", 5).await.unwrap().is_empty());

        // Published later: suggested once the index has followed the change.
        records::patch::<Article>(
            &s,
            &agent,
            draft.meta.id,
            draft.meta.version,
            json!({ "status": "published" }),
        )
        .await
        .unwrap();
        feed.catch_up().await.unwrap();
        let found = kb::suggest(&s, &index, "空调不制冷", 5).await.unwrap();
        assert!(found.iter().any(|a| a.id == draft.meta.id));

        // Staff read articles; partners do not.
        assert!(kb::suggest_for(&s, &index, &rep, "空调", 5).await.is_ok());
        assert!(
            kb::suggest_for(&s, &index, &partner, "空调", 5)
                .await
                .is_err()
        );

        // Usage: the resolved cases that name the article.
        assert_eq!(kb::usage(&s, &rep, cooling.meta.id).await.unwrap(), 0);
        let case = |n: u32, status: &str| {
            let mut c = json!({
                "number": format!("CS-KB-{n}"), "subject": "空调不制冷", "kind": "repair",
                "priority": "normal", "status": status, "article_id": cooling.meta.id,
            });
            if status == "resolved" {
                c["resolved_at"] = json!("2026-12-01T08:00:00Z");
            }
            c
        };
        create::<Case>(&s, &agent, case(1, "resolved")).await;
        let open = create::<Case>(&s, &agent, case(2, "open")).await;
        assert_eq!(kb::usage(&s, &rep, cooling.meta.id).await.unwrap(), 1);
        records::patch::<Case>(
            &s,
            &agent,
            open.meta.id,
            open.meta.version,
            json!({ "status": "resolved", "resolved_at": "2026-12-02T08:00:00Z" }),
        )
        .await
        .unwrap();
        assert_eq!(kb::usage(&s, &rep, cooling.meta.id).await.unwrap(), 2);
        assert!(kb::usage(&s, &partner, cooling.meta.id).await.is_err());
    }
}
