//! E-mail from workflow rules over a real store (a SQLite file, and PostgreSQL when
//! `GUANXI_TEST_POSTGRES` names a server) into a real SMTP server (aiosmtpd on loopback,
//! read back with Python's `email` parser), with the follower and the job runner running
//! as `guanxi serve` runs them: merge fields in both parts, marketing mail only with
//! consent and always with one-click unsubscribe, service mail whatever the consent, one
//! interaction of kind e-mail per message, nothing sent twice, and unconfigured mail failing
//! the job visibly.

mod common;
#[path = "../../outbound/tests/support/mod.rs"]
mod support;

use common::{quick, stores};
use guanxi_app::mail::{self, Outbox, Outcome, Refusal, SendError};
use guanxi_app::{jobs, records, rules};
use guanxi_domain::entities::{
    Account, Case, Contact, Direction, EmailTemplate, Interaction, InteractionKind, Rule, User,
};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Email, Id, Locale, NewRecord, Record};
use guanxi_outbound::Security;
use guanxi_store::{JobFilter, RuleRun, RunsOf, Store};
use serde_json::{Value, json};
use std::time::Duration;
use support::{Sink, part};

async fn create<T: guanxi_domain::Entity>(s: &Store, actor: &Actor, body: Value) -> Record<T> {
    records::create::<T>(s, actor, body)
        .await
        .unwrap_or_else(|e| panic!("creating a {}: {e}", T::DEF.name))
}

/// The runs on a record once none is queued; panics if they never settle.
async fn settled_runs(s: &Store, record: Id) -> Vec<RuleRun> {
    for _ in 0..3_000 {
        let runs = s
            .rule_runs(&Actor::system(), RunsOf::Record(record), 100)
            .await
            .unwrap();
        if !runs.is_empty() && runs.iter().all(|r| r.status != "queued") {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the runs on {record} never settled");
}

/// The messages `sink` received for `address`.
fn to(sink: &Sink, address: &str) -> Vec<Value> {
    sink.received()
        .into_iter()
        .filter(|m| m["rcpt_tos"][0] == address)
        .collect()
}

async fn emails_of(s: &Store, contact: Id) -> Vec<Record<Interaction>> {
    let q = ListQuery::default()
        .filter(Filter::new("contact_id", Op::Eq, contact.to_string()))
        .filter(Filter::new("kind", Op::Eq, "email"));
    s.list::<Interaction>(&Actor::system(), &q)
        .await
        .unwrap()
        .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_send_templated_mail_with_consent_and_record_it() {
    let sink = Sink::start(&[]);
    let (stores, _dir) = stores("gx_mail_app").await;
    for (n, s) in stores.into_iter().enumerate() {
        let system = Actor::system();
        // Each store's contacts have their own addresses: the sink serves both.
        let at = |who: &str| format!("{who}.{n}@example.cn");
        let owner = User {
            email: Email::parse(&at("li.na")).unwrap(),
            name: "李娜".into(),
            role: "sales".into(),
            team_id: None,
            partner_id: None,
            locale: Locale::ZhCn,
            active: true,
        };
        let owner = s.create(&system, NewRecord::new(owner)).await.unwrap();
        let rep = s.actor_for(owner.meta.id).await.unwrap();
        let account = create::<Account>(
            &s,
            &rep,
            json!({ "name": "上海明亮贸易有限公司", "kind": "organisation", "relationship": "customer" }),
        )
        .await;
        let news = create::<EmailTemplate>(
            &s,
            &system,
            json!({
                "name": "新品通知", "locale": "zh-CN", "category": "marketing",
                "subject": "{{contact.name}}，{{account.name}} 专享新品",
                "html": "<p>{{contact.name}} 您好：</p><p>{{account.name}} · {{contact.title}}</p>\
                         <p>{{user.name}}</p><a href=\"{{unsubscribe_url}}\">退订</a>",
                "text": "{{contact.name}} 您好：\n{{account.name}} · {{contact.title}}\n{{user.name}}\n退订：{{unsubscribe_url}}",
            }),
        )
        .await;
        let service = create::<EmailTemplate>(
            &s,
            &system,
            json!({
                "name": "Case received", "locale": "en", "category": "transactional",
                "subject": "We received your case, {{contact.name}}",
                "html": "<p>Dear {{contact.name}}, {{user.name}} <b>&</b> team are on it.</p>",
                "text": "Dear {{contact.name}}, {{user.name}} & team are on it.",
            }),
        )
        .await;
        create::<Rule>(
            &s,
            &system,
            json!({
                "name": "新联系人发新品通知", "entity": "contact", "trigger": { "on": "created" },
                "actions": [{ "type": "send_email", "template_id": news.meta.id }]
            }),
        )
        .await;
        create::<Rule>(
            &s,
            &system,
            json!({
                "name": "Acknowledge cases", "entity": "case", "trigger": { "on": "created" },
                "actions": [{ "type": "send_email", "template_id": service.meta.id }]
            }),
        )
        .await;
        let outbox = Outbox::new(
            Some(&sink.config(Security::None)),
            Some("https://crm.example.cn/"),
        )
        .unwrap();
        let trigger = rules::start(s.clone()).await.unwrap();
        let runner = jobs::start(s.clone(), jobs::served(&s, &outbox), quick());

        let contact = |name: &str, email: Option<String>, consent: Option<bool>| {
            json!({
                "name": name, "account_id": account.meta.id, "title": "采购经理",
                "email": email, "consent_email": consent,
            })
        };
        let wang =
            create::<Contact>(&s, &rep, contact("王芳", Some(at("wang.fang")), Some(true))).await;
        let zhang = create::<Contact>(&s, &rep, contact("张伟", Some(at("zhang.wei")), None)).await;
        let zhao = create::<Contact>(&s, &rep, contact("赵六", None, Some(true))).await;

        // Consented: one marketing message, merged, unsubscribable, recorded.
        let run = &settled_runs(&s, wang.meta.id).await[0];
        assert_eq!(run.status, "done", "{run:?}");
        let received = to(&sink, &at("wang.fang"));
        assert_eq!(received.len(), 1);
        let m = &received[0];
        let h = &m["headers"];
        assert_eq!(h["subject"], "王芳，上海明亮贸易有限公司 专享新品");
        assert_eq!(m["to_addresses"][0]["name"], "王芳");
        assert_eq!(h["x-guanxi-category"], "marketing");
        assert!(
            h["reply-to"].as_str().unwrap().contains(&at("li.na")),
            "{h}"
        );
        let token = s.unsubscribe_token(wang.meta.id).await.unwrap();
        let unsubscribe = format!("https://crm.example.cn/unsubscribe/{token}");
        assert_eq!(h["list-unsubscribe"], format!("<{unsubscribe}>"));
        assert_eq!(h["list-unsubscribe-post"], "List-Unsubscribe=One-Click");
        assert_eq!(
            part(m, "text/plain").trim_end(),
            format!("王芳 您好：\n上海明亮贸易有限公司 · 采购经理\n李娜\n退订：{unsubscribe}")
        );
        let html = part(m, "text/html");
        assert!(
            html.contains("<p>王芳 您好：</p><p>上海明亮贸易有限公司 · 采购经理</p>"),
            "{html}"
        );
        // The interaction is the run's, on the contact and its account, owned as it is.
        let mails = emails_of(&s, wang.meta.id).await;
        assert_eq!(mails.len(), 1);
        let i = &mails[0];
        assert_eq!(run.detail[0]["did"]["interaction_id"], json!(i.meta.id));
        assert_eq!(i.data.kind, InteractionKind::Email);
        assert_eq!(i.data.direction, Some(Direction::Outbound));
        assert_eq!(i.data.subject, "王芳，上海明亮贸易有限公司 专享新品");
        assert_eq!(i.data.account_id, Some(account.meta.id));
        assert_eq!(i.data.outcome.as_deref(), Some("marketing"));
        assert_eq!(i.meta.owner_id, Some(owner.meta.id));
        assert_eq!(
            h["message-id"],
            format!("<{}@guanxi.example>", i.meta.id),
            "the Message-ID is the interaction's, the same on a retried send"
        );

        // Not consented, no address: refused, recorded as the run's outcome, nothing sent.
        let run = &settled_runs(&s, zhang.meta.id).await[0];
        assert_eq!(run.status, "done");
        assert_eq!(run.detail[0]["did"]["refused"], "no_consent", "{run:?}");
        assert!(to(&sink, &at("zhang.wei")).is_empty());
        assert!(emails_of(&s, zhang.meta.id).await.is_empty());
        let run = &settled_runs(&s, zhao.meta.id).await[0];
        assert_eq!(run.detail[0]["did"]["refused"], "no_address", "{run:?}");

        // Service mail goes to the contact who gave no marketing consent, marked so.
        let case = create::<Case>(
            &s,
            &rep,
            json!({
                "number": format!("CS-{n}"), "subject": "设备停机", "kind": "repair",
                "priority": "high", "status": "new", "account_id": account.meta.id,
                "contact_id": zhang.meta.id,
            }),
        )
        .await;
        let run = &settled_runs(&s, case.meta.id).await[0];
        assert_eq!(run.status, "done", "{run:?}");
        let received = to(&sink, &at("zhang.wei"));
        assert_eq!(received.len(), 1);
        let h = &received[0]["headers"];
        assert_eq!(h["subject"], "We received your case, 张伟");
        assert_eq!(h["x-guanxi-category"], "transactional");
        assert_eq!(h["auto-submitted"], "auto-generated");
        assert!(h.get("list-unsubscribe").is_none());
        assert_eq!(
            part(&received[0], "text/html").trim_end(),
            "<p>Dear 张伟, 李娜 <b>&</b> team are on it.</p>"
        );
        let mails = emails_of(&s, zhang.meta.id).await;
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].data.outcome.as_deref(), Some("transactional"));

        // The same send again (a retried job) finds its interaction and sends nothing.
        let key = format!("rule:{}:0", run.id);
        let again = mail::send_template(
            &s,
            &outbox,
            &system,
            service.meta.id,
            zhang.meta.id,
            &key,
            run.at,
            None,
        )
        .await
        .unwrap();
        assert_eq!(
            again,
            Outcome::AlreadySent {
                interaction_id: mails[0].meta.id
            }
        );
        assert_eq!(to(&sink, &at("zhang.wei")).len(), 1);

        // Unsubscribing withdraws the consent: marketing mail is refused from then on.
        assert_eq!(
            guanxi_app::consent::unsubscribe(&s, &token).await.unwrap(),
            Some(wang.meta.id)
        );
        assert_eq!(
            guanxi_app::consent::unsubscribe(&s, &token).await.unwrap(),
            Some(wang.meta.id)
        );
        assert_eq!(
            guanxi_app::consent::unsubscribe(&s, "not-a-token")
                .await
                .unwrap(),
            None
        );
        let now = s.get::<Contact>(&system, wang.meta.id).await.unwrap();
        assert_eq!(now.data.consent_email, Some(false));
        let later = mail::send_template(
            &s,
            &outbox,
            &system,
            news.meta.id,
            wang.meta.id,
            "later",
            chrono::Utc::now(),
            None,
        )
        .await
        .unwrap();
        assert_eq!(later, Outcome::Refused(Refusal::NoConsent));
        assert_eq!(to(&sink, &at("wang.fang")).len(), 1);

        runner.stop().await;
        trigger.stop().await.unwrap();

        // Without a relay the rule's job fails, saying so, and is tried again.
        let runner = jobs::start(s.clone(), jobs::served(&s, &Outbox::off()), quick());
        let trigger = rules::start(s.clone()).await.unwrap();
        let unsent = create::<Case>(
            &s,
            &rep,
            json!({
                "number": format!("CS-{n}-2"), "subject": "再次停机", "kind": "repair",
                "priority": "high", "status": "new", "contact_id": zhang.meta.id,
            }),
        )
        .await;
        let mut error = None;
        for _ in 0..1_000 {
            let jobs = s
                .list_jobs(&JobFilter::default(), 100, None)
                .await
                .unwrap()
                .items;
            let runs = s
                .rule_runs(&system, RunsOf::Record(unsent.meta.id), 10)
                .await
                .unwrap();
            error = runs.first().and_then(|r| {
                let key = format!("rule:{}", r.id);
                jobs.iter()
                    .find(|j| j.key.as_deref() == Some(key.as_str()))
                    .and_then(|j| j.last_error.clone())
            });
            if error.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let error = error.expect("the job failed with an error");
        assert!(error.contains("e-mail is not configured"), "{error}");
        assert_eq!(to(&sink, &at("zhang.wei")).len(), 1);
        runner.stop().await;
        trigger.stop().await.unwrap();
    }
}

#[tokio::test]
async fn without_a_relay_sending_is_a_transient_error() {
    let (stores, _dir) = stores("gx_mail_off").await;
    let s = &stores[0];
    let system = Actor::system();
    let t = create::<EmailTemplate>(
        s,
        &system,
        json!({
            "name": "t", "locale": "en", "category": "transactional",
            "subject": "Hi {{contact.name}}", "html": "<p>Hi</p>", "text": "Hi",
        }),
    )
    .await;
    let c = create::<Contact>(
        s,
        &system,
        json!({ "name": "Amy", "email": "amy@example.com" }),
    )
    .await;
    let err = mail::send_template(
        s,
        &Outbox::off(),
        &system,
        t.meta.id,
        c.meta.id,
        "k",
        chrono::Utc::now(),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SendError::NotConfigured), "{err}");
    assert!(err.is_transient());
}
