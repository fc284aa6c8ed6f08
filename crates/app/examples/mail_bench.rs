//! Personalised e-mail through the whole path `guanxi serve` runs: a rule fires on each
//! contact created, its job renders the contact's template, sends it to a local SMTP server
//! (aiosmtpd on loopback, keeping nothing) and writes the interaction; on a fresh SQLite
//! file.
//!
//!   cargo run --release -p guanxi-app --example mail_bench -- [contacts] [concurrency]
//!
//! Defaults: 2,000 contacts, 16 jobs at once. The contacts are written first with the
//! rules follower stopped; the clock runs from starting the follower and the job runner to
//! the last interaction written, so the figure is rule → job → rendered → sent → recorded.

#[path = "../../outbound/tests/support/mod.rs"]
mod support;

use guanxi_app::mail::Outbox;
use guanxi_app::{jobs, records, rules};
use guanxi_domain::entities::{Contact, EmailTemplate, Interaction, Rule};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, NewRecord};
use guanxi_store::Store;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("a number"));
    let n = args.next().unwrap_or(2_000);
    let concurrency = args.next().unwrap_or(16);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite:{}", dir.path().join("bench.db").display()))
        .await
        .unwrap();
    let sink = support::Sink::start(&["--discard"]);
    let mut smtp = sink.config(guanxi_outbound::Security::None);
    smtp.pool_size = Some(concurrency as u32);
    let outbox = Outbox::new(Some(&smtp), Some("https://crm.example.cn/")).unwrap();
    let system = Actor::system();
    let owner = guanxi_domain::entities::User {
        email: guanxi_domain::Email::parse("li.na@example.cn").unwrap(),
        name: "李娜".into(),
        role: "sales".into(),
        team_id: None,
        partner_id: None,
        locale: guanxi_domain::Locale::ZhCn,
        active: true,
    };
    let owner = store
        .create(&system, NewRecord::new(owner))
        .await
        .unwrap()
        .meta
        .id;
    let template = records::create::<EmailTemplate>(
        &store,
        &system,
        json!({
            "name": "新品通知", "locale": "zh-CN", "category": "marketing",
            "subject": "{{contact.name}}，{{contact.title}} 专享新品",
            "html": "<p>{{contact.name}} 您好：</p><p>{{contact.title}}</p><a href=\"{{unsubscribe_url}}\">退订</a>",
            "text": "{{contact.name}} 您好：\n{{contact.title}}\n退订：{{unsubscribe_url}}",
        }),
    )
    .await
    .unwrap();
    records::create::<Rule>(
        &store,
        &system,
        json!({
            "name": "新联系人发新品通知", "entity": "contact", "trigger": { "on": "created" },
            "actions": [{ "type": "send_email", "template_id": template.meta.id }]
        }),
    )
    .await
    .unwrap();
    // The follower's first start places it at the log's end: start it before the writes.
    rules::start(store.clone())
        .await
        .unwrap()
        .stop()
        .await
        .unwrap();
    let contacts: Vec<NewRecord<Contact>> = (0..n)
        .map(|i| {
            let mut c = Contact::new(format!("客户{i}"));
            c.title = Some(format!("采购经理 {i}"));
            c.email = Some(guanxi_domain::Email::parse(&format!("c{i}@example.cn")).unwrap());
            c.consent_email = Some(true);
            let mut new = NewRecord::new(c);
            new.owner_id = Some(owner);
            new
        })
        .collect();
    for c in contacts {
        store.create(&system, c).await.unwrap();
    }

    let started = Instant::now();
    let trigger = rules::start(store.clone()).await.unwrap();
    let options = jobs::Options {
        concurrency,
        ..jobs::Options::default()
    };
    let runner = jobs::start(store.clone(), jobs::served(&store, &outbox), options);
    let q = ListQuery::default()
        .filter(Filter::new("kind", Op::Eq, "email"))
        .limit(1)
        .counted();
    loop {
        let done = store
            .list::<Interaction>(&system, &q)
            .await
            .unwrap()
            .total
            .unwrap_or(0);
        if done as usize >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n} personalised messages (rule → job → rendered → sent → interaction) in {secs:.2} s: {:.0} messages/s ({concurrency} jobs at once)",
        n as f64 / secs
    );
    runner.stop().await;
    let _ = trigger.stop().await;
}
