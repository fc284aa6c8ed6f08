//! Campaigns that send, over a real store (a SQLite file, and PostgreSQL when
//! `GUANXI_TEST_POSTGRES` names a server) into a real SMTP server (aiosmtpd on loopback),
//! with the job runner running as `guanxi serve` runs it: a campaign launched on a segment
//! takes its members as the marketer sees them, holds out a control group, splits the rest
//! between A/B variants, mails only those who consented (each message personalised, with
//! one-click unsubscribe, an interaction naming the campaign), and, paused and resumed,
//! sends nobody a message twice.

mod common;
#[path = "../../outbound/tests/support/mod.rs"]
mod support;

use common::{quick, stores};
use guanxi_app::campaigns;
use guanxi_app::mail::Outbox;
use guanxi_app::{AppError, jobs, records};
use guanxi_domain::entities::{
    Account, Campaign, CampaignStatus, Contact, EmailTemplate, Interaction, Segment,
};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Record};
use guanxi_outbound::Security;
use guanxi_store::Store;
use serde_json::{Value, json};
use std::time::Duration;
use support::Sink;

async fn create<T: guanxi_domain::Entity>(s: &Store, actor: &Actor, body: Value) -> Record<T> {
    records::create::<T>(s, actor, body)
        .await
        .unwrap_or_else(|e| panic!("creating a {}: {e}", T::DEF.name))
}

/// The campaign's progress once nothing is queued; panics if it never settles.
async fn settled(s: &Store, actor: &Actor, c: &Record<Campaign>) -> campaigns::Progress {
    for _ in 0..3_000 {
        let p = campaigns::progress(s, actor, c.meta.id).await.unwrap();
        if p.variants.iter().all(|v| v.queued == 0) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the campaign never finished sending");
}

fn field_of(e: &AppError) -> Vec<String> {
    e.fields()
        .map(|f| f.0.iter().map(|e| e.field.clone()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_mails_its_segment_once_with_a_control_group_and_variants() {
    let sink = Sink::start(&[]);
    let (stores, _dir) = stores("gx_campaigns").await;
    for (n, s) in stores.into_iter().enumerate() {
        let system = Actor::system();
        let at = |who: String| format!("{who}.{n}@example.cn");
        let rep = common::user(&s, &at("li.na".into()), "李娜", "sales").await;
        let marketer = common::user(&s, &at("ma".into()), "李娜", "marketing").await;
        let account = create::<Account>(
            &s,
            &rep,
            json!({ "name": "上海明亮贸易有限公司", "kind": "organisation", "relationship": "customer", "city": "上海市" }),
        )
        .await;
        // 60 at the account in the segment's city (50 consented, 10 never asked); 5 with none.
        for i in 0..65 {
            let acc = if i < 60 { Some(account.meta.id) } else { None };
            create::<Contact>(
                &s,
                &rep,
                json!({
                    "name": format!("客户{i:02}"), "account_id": acc,
                    "email": at(format!("c{i:02}")),
                    "consent_email": if i % 6 == 5 { Value::Null } else { json!(true) },
                }),
            )
            .await;
        }
        let template = |subject: &str| {
            json!({
                "name": subject, "locale": "zh-CN", "category": "marketing",
                "subject": format!("{{{{contact.name}}}}，{subject}"),
                "html": "<p>{{contact.name}} 您好</p><a href=\"https://shop.example.cn/spring?from=mail&amp;x=1\">新品</a>\
                         <a href=\"{{unsubscribe_url}}\">退订</a>",
                "text": "{{contact.name}} 您好\n退订：{{unsubscribe_url}}",
            })
        };
        let a = create::<EmailTemplate>(&s, &system, template("春季新品")).await;
        let b = create::<EmailTemplate>(&s, &system, template("限时八折")).await;
        let segment = create::<Segment>(
            &s,
            &marketer,
            json!({ "name": "上海客户联系人", "entity": "contact",
                    "conditions": [{ "field": "account.city", "op": "eq", "value": "上海市" }] }),
        )
        .await;
        let campaign = create::<Campaign>(
            &s,
            &marketer,
            json!({
                "name": "春季焕新", "channel": "email", "status": "planned",
                "budget": { "minor": 1_000_000, "currency": "CNY" },
                "segment_id": segment.meta.id, "control_percent": 20,
                "variants": [
                    { "name": "A", "template_id": a.meta.id, "percent": 50 },
                    { "name": "B", "template_id": b.meta.id, "percent": 50 },
                ],
            }),
        )
        .await;

        // A campaign without a segment or messages is refused, naming each.
        let bare = create::<Campaign>(
            &s,
            &marketer,
            json!({ "name": "空活动", "channel": "email", "status": "planned",
                    "budget": { "minor": 0, "currency": "CNY" } }),
        )
        .await;
        let e = campaigns::launch(&s, &marketer, bare.meta.id, bare.meta.version)
            .await
            .unwrap_err();
        assert_eq!(field_of(&e), ["variants", "segment_id"], "{e}");
        // A stale version is a conflict.
        let e = campaigns::launch(&s, &marketer, campaign.meta.id, campaign.meta.version + 1)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                AppError::Store(guanxi_store::StoreError::Conflict { .. })
            ),
            "{e}"
        );

        let outbox = Outbox::new(
            Some(&sink.config(Security::None)),
            Some("https://crm.example.cn/"),
        )
        .unwrap();
        // Launched, paused at once and resumed: the members are taken once, at launch.
        let runner = jobs::start(s.clone(), jobs::served(&s, &outbox), quick());
        let launched = campaigns::launch(&s, &marketer, campaign.meta.id, campaign.meta.version)
            .await
            .unwrap();
        assert_eq!(launched.data.status, CampaignStatus::Active);
        let paused = campaigns::pause(&s, &marketer, campaign.meta.id, launched.meta.version).await;
        let progress = campaigns::progress(&s, &marketer, campaign.meta.id)
            .await
            .unwrap();
        assert_eq!(
            progress.members, 60,
            "the segment's 60, not the 5 elsewhere"
        );
        let paused = paused.unwrap();
        let resumed = campaigns::launch(&s, &marketer, campaign.meta.id, paused.meta.version)
            .await
            .unwrap();
        assert_eq!(resumed.data.status, CampaignStatus::Active);
        let p = settled(&s, &marketer, &campaign).await;
        runner.stop().await;

        // The control group got nothing; the variants split the rest; the ones never asked
        // for consent were refused, the others sent exactly once.
        let held = p.control;
        let (va, vb) = (&p.variants[0], &p.variants[1]);
        assert_eq!(held + va.members + vb.members, 60, "{p:?}");
        assert!((4..=20).contains(&held), "about a fifth held out: {p:?}");
        assert!(va.members > 10 && vb.members > 10, "{p:?}");
        assert_eq!(va.failed + vb.failed, 0, "{p:?}");
        let sent = va.sent + vb.sent;
        let received: Vec<Value> = sink
            .received()
            .into_iter()
            .filter(|m| {
                m["rcpt_tos"][0]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!(".{n}@example.cn"))
            })
            .collect();
        assert_eq!(received.len() as i64, sent, "one message per member sent");
        let mut to: Vec<&str> = received
            .iter()
            .map(|m| m["rcpt_tos"][0].as_str().unwrap())
            .collect();
        to.sort();
        to.dedup();
        assert_eq!(to.len() as i64, sent, "nobody twice");
        for m in &received {
            let h = &m["headers"];
            let name = m["to_addresses"][0]["name"].as_str().unwrap();
            let subject = h["subject"].as_str().unwrap();
            assert!(
                subject == format!("{name}，春季新品") || subject == format!("{name}，限时八折"),
                "personalised: {subject}"
            );
            assert_eq!(h["list-unsubscribe-post"], "List-Unsubscribe=One-Click");
            // Tracked: the product link goes through the signed redirect, the pixel is
            // there, and the unsubscribe address is left as it is.
            let html = support::part(m, "text/html");
            assert!(html.contains("https://crm.example.cn/t/o/"), "{html}");
            assert!(
                html.contains("href=\"https://crm.example.cn/t/c/"),
                "{html}"
            );
            assert!(!html.contains("href=\"https://shop.example.cn"), "{html}");
            assert!(html.contains("unsubscribe"), "{html}");
            assert!(
                !html.contains("u=https%3A%2F%2Fcrm.example.cn%2Funsubscribe"),
                "{html}"
            );
        }
        // Those refused never consented; every send is an interaction naming the campaign.
        let q = ListQuery::default()
            .filter(Filter::new(
                "campaign_id",
                Op::Eq,
                campaign.meta.id.to_string(),
            ))
            .limit(500)
            .counted();
        let mails = s.list::<Interaction>(&system, &q).await.unwrap();
        assert_eq!(mails.total, Some(sent));
        assert_eq!(mails.items[0].meta.owner_id, Some(rep.user_id));
        let refused = va.refused + vb.refused;
        let never_asked = s
            .list::<Contact>(
                &system,
                &ListQuery::default()
                    .filter(Filter::new("consent_email", Op::IsNull, true))
                    .filter(Filter::new(
                        "account_id",
                        Op::Eq,
                        account.meta.id.to_string(),
                    ))
                    .limit(500),
            )
            .await
            .unwrap()
            .items;
        assert!(refused > 0 && refused <= never_asked.len() as i64, "{p:?}");
        for c in &never_asked {
            let address = c.data.email.as_ref().unwrap().as_str().to_string();
            assert!(!to.contains(&address.as_str()), "{address} never consented");
        }

        // Paused and resumed with nobody left: nothing more is sent.
        let now = s.get::<Campaign>(&system, campaign.meta.id).await.unwrap();
        let e = campaigns::pause(&s, &marketer, campaign.meta.id, now.meta.version)
            .await
            .unwrap();
        let again = campaigns::launch(&s, &marketer, campaign.meta.id, e.meta.version)
            .await
            .unwrap();
        let runner = jobs::start(s.clone(), jobs::served(&s, &outbox), quick());
        tokio::time::sleep(Duration::from_millis(300)).await;
        runner.stop().await;
        let after: usize = sink
            .received()
            .into_iter()
            .filter(|m| {
                m["rcpt_tos"][0]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!(".{n}@example.cn"))
            })
            .count();
        assert_eq!(
            after as i64, sent,
            "resumed with nobody left: nothing sent twice"
        );
        assert_eq!(again.data.status, CampaignStatus::Active);
    }
}

async fn launched(s: &Store, c: Record<Campaign>) -> Record<Campaign> {
    campaigns::launch(s, &Actor::system(), c.meta.id, c.meta.version)
        .await
        .unwrap()
}

/// Members by state once the runner has had `ms` to work: (sent, refused, queued).
async fn states_after(
    s: &Store,
    outbox: &Outbox,
    actor: &Actor,
    c: &Record<Campaign>,
    ms: u64,
) -> (i64, i64, i64) {
    let runner = jobs::start(s.clone(), jobs::served(s, outbox), quick());
    tokio::time::sleep(Duration::from_millis(ms)).await;
    runner.stop().await;
    let p = campaigns::progress(s, actor, c.meta.id).await.unwrap();
    let sum = |f: fn(&campaigns::VariantProgress) -> i64| p.variants.iter().map(f).sum();
    (sum(|v| v.sent), sum(|v| v.refused), sum(|v| v.queued))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_rules_hold_a_campaign_to_its_window_its_rate_and_the_frequency_cap() {
    let sink = Sink::start(&[]);
    let (stores, _dir) = stores("gx_sending_rules").await;
    for (n, s) in stores.into_iter().enumerate() {
        let system = Actor::system();
        let rep = common::user(&s, &format!("rep.{n}@example.cn"), "李娜", "sales").await;
        let account = create::<Account>(
            &s,
            &rep,
            json!({ "name": "杭州青山茶业有限公司", "kind": "organisation", "relationship": "customer", "city": "杭州市" }),
        )
        .await;
        for i in 0..10 {
            create::<Contact>(
                &s,
                &rep,
                json!({ "name": format!("茶客{i}"), "account_id": account.meta.id,
                        "email": format!("tea{i}.{n}@example.cn"), "consent_email": true }),
            )
            .await;
        }
        let template = create::<EmailTemplate>(
            &s,
            &system,
            json!({ "name": "新茶上市", "locale": "zh-CN", "category": "marketing",
                    "subject": "{{contact.name}}，明前龙井到了",
                    "html": "<p>{{contact.name}} 您好</p><a href=\"{{unsubscribe_url}}\">退订</a>",
                    "text": "{{contact.name}} 您好\n退订：{{unsubscribe_url}}" }),
        )
        .await;
        let segment = create::<Segment>(
            &s,
            &system,
            json!({ "name": "杭州茶客", "entity": "contact",
                    "conditions": [{ "field": "account.city", "op": "eq", "value": "杭州市" }] }),
        )
        .await;
        let campaign = |name: &str, rules: Value| {
            let mut body = json!({
                "name": name, "channel": "email", "status": "planned",
                "budget": { "minor": 0, "currency": "CNY" }, "segment_id": segment.meta.id,
                "variants": [{ "name": "A", "template_id": template.meta.id, "percent": 100 }],
            });
            body.as_object_mut()
                .unwrap()
                .extend(rules.as_object().unwrap().clone());
            body
        };
        let outbox = Outbox::new(
            Some(&sink.config(Security::None)),
            Some("https://crm.example.cn/"),
        )
        .unwrap();
        let mailed = || {
            sink.received()
                .into_iter()
                .filter(|m| {
                    m["rcpt_tos"][0]
                        .as_str()
                        .unwrap()
                        .ends_with(&format!(".{n}@example.cn"))
                })
                .count()
        };

        // A rate of 4 a minute: one batch of 4 goes, the next waits its minute.
        let paced = create::<Campaign>(
            &s,
            &system,
            campaign("新茶 · 限速", json!({ "max_per_minute": 4 })),
        )
        .await;
        let paced = launched(&s, paced).await;
        assert_eq!(
            states_after(&s, &outbox, &system, &paced, 1_500).await,
            (4, 0, 6)
        );
        assert_eq!(mailed(), 4);

        // A window that opens in two hours, China time: nothing goes before.
        let beijing = chrono::Utc::now().with_timezone(&guanxi_domain::entities::SEND_ZONE);
        let hhmm = |h: i64| {
            (beijing + chrono::Duration::hours(h))
                .format("%H:%M")
                .to_string()
        };
        let later = create::<Campaign>(
            &s,
            &system,
            campaign(
                "新茶 · 晚些",
                json!({ "send_from": hhmm(2), "send_until": hhmm(3) }),
            ),
        )
        .await;
        let later = launched(&s, later).await;
        assert_eq!(
            states_after(&s, &outbox, &system, &later, 1_000).await,
            (0, 0, 10)
        );
        assert_eq!(mailed(), 4, "nothing outside the window");
        let waiting = s
            .list_jobs(
                &guanxi_store::JobFilter {
                    kind: Some(campaigns::SEND.into()),
                    ..Default::default()
                },
                50,
                None,
            )
            .await
            .unwrap()
            .items;
        let opening = waiting
            .iter()
            .filter(|j| j.payload["campaign_id"] == json!(later.meta.id))
            .map(|j| j.run_at)
            .max()
            .unwrap();
        let ahead = opening - chrono::Utc::now();
        assert!(
            ahead > chrono::Duration::minutes(110) && ahead <= chrono::Duration::minutes(120),
            "the next batch waits for the window to open: {ahead}"
        );

        // A cap of one message a week: the 4 the paced campaign reached are refused, the
        // other 6 are sent.
        let capped = create::<Campaign>(
            &s,
            &system,
            campaign("新茶 · 限频", json!({ "cap_messages": 1, "cap_days": 7 })),
        )
        .await;
        let capped = launched(&s, capped).await;
        assert_eq!(
            states_after(&s, &outbox, &system, &capped, 1_500).await,
            (6, 4, 0)
        );
        assert_eq!(mailed(), 10);
    }
}
