//! A campaign's journey over a real store (a SQLite file, and PostgreSQL when
//! `GUANXI_TEST_POSTGRES` names a server) into a real SMTP server (aiosmtpd on loopback),
//! run by the job runner as `guanxi serve` runs it. After the campaign's message, members
//! who did not open it get a reminder (never one who withdrew consent meanwhile), a click
//! makes a task for the contact's owner at once (the step watches for three days), a reply
//! sets a field; the reminder's own opens are noted on its step; run again, nothing
//! happens twice.

mod common;
#[path = "../../outbound/tests/support/mod.rs"]
mod support;

use common::{quick, stores};
use guanxi_app::campaigns::{self, Noted, StepProgress};
use guanxi_app::jobs::{self, Handlers};
use guanxi_app::mail::Outbox;
use guanxi_app::records;
use guanxi_domain::entities::{
    Account, Campaign, Contact, EmailTemplate, Interaction, InteractionKind, Segment,
};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Id, Record};
use guanxi_outbound::Security;
use guanxi_store::{MemberResponse, Store};
use serde_json::{Value, json};
use std::time::Duration;
use support::Sink;

async fn create<T: guanxi_domain::Entity>(s: &Store, actor: &Actor, body: Value) -> Record<T> {
    records::create::<T>(s, actor, body)
        .await
        .unwrap_or_else(|e| panic!("creating a {}: {e}", T::DEF.name))
}

/// The campaign's progress once its message is sent to all and `ready` holds; panics if
/// it never does.
async fn settled(
    s: &Store,
    c: &Record<Campaign>,
    ready: impl Fn(&[StepProgress]) -> bool,
) -> Vec<StepProgress> {
    for _ in 0..3_000 {
        let p = campaigns::progress(s, &Actor::system(), c.meta.id)
            .await
            .unwrap();
        if p.variants.iter().all(|v| v.queued == 0) && ready(&p.steps) {
            return p.steps;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the journey never settled");
}

/// (done, skipped, refused) of a step.
fn states(p: &StepProgress) -> (i64, i64, i64) {
    (p.done, p.skipped, p.refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_follows_up_on_what_each_member_did_and_never_mails_without_consent() {
    let sink = Sink::start(&[]);
    let (stores, _dir) = stores("gx_journeys").await;
    for (n, s) in stores.into_iter().enumerate() {
        let system = Actor::system();
        let rep = common::user(&s, &format!("rep.{n}@example.cn"), "王磊", "sales").await;
        let account = create::<Account>(
            &s,
            &rep,
            json!({ "name": "成都锦江酒店管理有限公司", "kind": "organisation", "relationship": "customer", "city": "成都市" }),
        )
        .await;
        let mut people = vec![];
        for i in 0..10 {
            people.push(
                create::<Contact>(
                    &s,
                    &rep,
                    json!({ "name": format!("住客{i}"), "account_id": account.meta.id,
                            "email": format!("guest{i}.{n}@example.cn"), "consent_email": true }),
                )
                .await,
            );
        }
        let template = |name: &str, subject: &str| {
            json!({
                "name": name, "locale": "zh-CN", "category": "marketing",
                "subject": format!("{{{{contact.name}}}}，{subject}"),
                "html": "<p>{{contact.name}} 您好</p><a href=\"https://hotel.example.cn/offer\">详情</a>\
                         <a href=\"{{unsubscribe_url}}\">退订</a>",
                "text": "{{contact.name}} 您好\n退订：{{unsubscribe_url}}",
            })
        };
        let first = create::<EmailTemplate>(&s, &system, template("冬季房价", "冬季会员价")).await;
        let reminder =
            create::<EmailTemplate>(&s, &system, template("提醒", "会员价本周截止")).await;
        let segment = create::<Segment>(
            &s,
            &system,
            json!({ "name": "成都住客", "entity": "contact",
                    "conditions": [{ "field": "account.city", "op": "eq", "value": "成都市" }] }),
        )
        .await;
        let (remind, call, fan, mark) = (Id::new(), Id::new(), Id::new(), Id::new());
        let body = |steps: Value| {
            json!({
                "name": "冬季会员价", "channel": "email", "status": "planned",
                "budget": { "minor": 0, "currency": "CNY" }, "segment_id": segment.meta.id,
                "cost_per_message": 10,
                "variants": [{ "name": "A", "template_id": first.meta.id, "percent": 100 }],
                "steps": steps,
            })
        };

        // A step that waits for an open after a task, or names a template that is not
        // marketing mail, is refused naming the step's field.
        let task = json!({ "type": "create_task", "subject": "致电", "due_in_hours": 24 });
        let e = records::create::<Campaign>(
            &s,
            &system,
            body(json!([
                { "id": call, "name": "致电", "action": task },
                { "id": fan, "name": "打开后", "parent": call, "when": "opened",
                  "action": { "type": "update_field", "field": "stance", "value": "supporter" } },
            ])),
        )
        .await
        .unwrap_err();
        let fields: Vec<String> = e
            .fields()
            .unwrap()
            .0
            .iter()
            .map(|f| f.field.clone())
            .collect();
        assert_eq!(fields, ["steps[1].when"], "{e}");

        let campaign = create::<Campaign>(
            &s,
            &system,
            body(json!([
                { "id": remind, "name": "未打开：提醒", "when": "not_opened", "wait_hours": 0,
                  "action": { "type": "send_email", "template_id": reminder.meta.id } },
                { "id": call, "name": "点击：致电", "when": "clicked", "wait_hours": 72, "action": task },
                { "id": fan, "name": "回复：支持者", "when": "replied",
                  "action": { "type": "update_field", "field": "stance", "value": "supporter" } },
                { "id": mark, "name": "已提醒", "parent": remind,
                  "action": { "type": "update_field", "field": "department", "value": "已提醒" } },
            ])),
        )
        .await;
        let outbox = Outbox::new(
            Some(&sink.config(Security::None)),
            Some("https://crm.example.cn/"),
        )
        .unwrap();
        let mailed = |subject: &str| -> Vec<String> {
            let mut to: Vec<String> = sink
                .received()
                .into_iter()
                .filter(|m| {
                    let to = m["rcpt_tos"][0].as_str().unwrap();
                    to.ends_with(&format!(".{n}@example.cn"))
                        && m["headers"]["subject"].as_str().unwrap().ends_with(subject)
                })
                .map(|m| m["rcpt_tos"][0].as_str().unwrap().to_string())
                .collect();
            to.sort();
            to
        };

        // The message goes out with only the sender running, so that what members do
        // with it can be set before the journey looks.
        let sender = Handlers::new().with(campaigns::SendCampaign {
            store: s.clone(),
            outbox: outbox.clone(),
        });
        let runner = jobs::start(s.clone(), sender, quick());
        let launched = campaigns::launch(&s, &system, campaign.meta.id, campaign.meta.version)
            .await
            .unwrap();
        // Each sent message schedules the three steps after it.
        settled(&s, &launched, |p| p[..3].iter().all(|st| st.due == 10)).await;
        runner.stop().await;
        assert_eq!(mailed("冬季会员价").len(), 10);

        // Two open it, one clicks, one writes back, one withdraws consent.
        let responded = |i: usize, response| Noted {
            campaign: campaign.meta.id,
            step: None,
            contact: people[i].meta.id,
            response,
            detail: None,
        };
        campaigns::record_responses(
            &s,
            &[
                responded(0, MemberResponse::Opened),
                responded(1, MemberResponse::Opened),
                responded(2, MemberResponse::Clicked),
            ],
        )
        .await
        .unwrap();
        create::<Interaction>(
            &s,
            &rep,
            json!({ "kind": "email", "direction": "inbound", "status": "done",
                    "at": chrono::Utc::now() + chrono::Duration::seconds(1),
                    "subject": "回复：冬季会员价", "body": "请给我报个价",
                    "account_id": account.meta.id, "contact_id": people[3].meta.id }),
        )
        .await;
        records::patch::<Contact>(
            &s,
            &rep,
            people[4].meta.id,
            people[4].meta.version,
            json!({ "consent_email": false }),
        )
        .await
        .unwrap();

        let runner = jobs::start(s.clone(), jobs::served(&s, &outbox), quick());
        // The call step watches three days for a click: the one click brings it forward,
        // the other nine wait on.
        let steps = settled(&s, &launched, |p| {
            [0, 2, 3].iter().all(|i| p[*i].due == 0) && p[3].done > 0 && p[1].done == 1
        })
        .await;
        runner.stop().await;

        // The reminder: the seven who did not open it, but not the one who withdrew.
        assert_eq!(states(&steps[0]), (6, 3, 1), "{steps:?}");
        let reminded = mailed("会员价本周截止");
        let expected: Vec<String> = [3, 5, 6, 7, 8, 9]
            .iter()
            .map(|i| format!("guest{i}.{n}@example.cn"))
            .collect();
        assert_eq!(reminded, expected);
        // The click: a task for the contact's owner at once; the reply: the stance set.
        assert_eq!(
            (states(&steps[1]), steps[1].due),
            ((1, 0, 0), 9),
            "{steps:?}"
        );
        let tasks = s
            .list::<Interaction>(
                &system,
                &ListQuery::default()
                    .filter(Filter::new("campaign_id", Op::Eq, json!(campaign.meta.id)))
                    .filter(Filter::new("kind", Op::Eq, json!(InteractionKind::Task))),
            )
            .await
            .unwrap()
            .items;
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].data.contact_id, Some(people[2].meta.id));
        assert_eq!(tasks[0].meta.owner_id, Some(rep.user_id));
        assert_eq!(states(&steps[2]), (1, 9, 0), "{steps:?}");
        let fan_now = s.get::<Contact>(&system, people[3].meta.id).await.unwrap();
        assert_eq!(
            fan_now.data.stance.map(|x| x.to_string()).as_deref(),
            Some("supporter")
        );
        // After the reminder (only those it reached): the field set.
        assert_eq!(states(&steps[3]), (6, 0, 0), "{steps:?}");
        for i in [3, 5, 9] {
            let c = s.get::<Contact>(&system, people[i].meta.id).await.unwrap();
            assert_eq!(c.data.department.as_deref(), Some("已提醒"));
        }
        let p = campaigns::progress(&s, &system, campaign.meta.id)
            .await
            .unwrap();
        assert_eq!(p.roi.cost, 10 * (10 + 6), "every e-mail costs its price");

        // The reminder's own open is its step's, not the campaign message's.
        let reminder_open = Noted {
            step: Some(remind),
            ..responded(5, MemberResponse::Opened)
        };
        let firsts = campaigns::record_responses(&s, &[reminder_open.clone(), reminder_open])
            .await
            .unwrap();
        assert_eq!(firsts, [true, false], "noted once");
        let p = campaigns::progress(&s, &system, campaign.meta.id)
            .await
            .unwrap();
        assert_eq!((p.steps[0].opened, p.variants[0].opened), (1, 3));

        // Run again (paused and resumed): nothing is sent or done twice.
        let paused = campaigns::pause(&s, &system, campaign.meta.id, launched.meta.version)
            .await
            .unwrap();
        let runner = jobs::start(s.clone(), jobs::served(&s, &outbox), quick());
        campaigns::launch(&s, &system, campaign.meta.id, paused.meta.version)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        runner.stop().await;
        assert_eq!(mailed("会员价本周截止").len(), 6);
        assert_eq!(mailed("冬季会员价").len(), 10);
    }
}
