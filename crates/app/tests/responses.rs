//! What comes back after a campaign's mail, over a real store (SQLite, and PostgreSQL when
//! `GUANXI_TEST_POSTGRES` names a server), a real SMTP server receiving the campaign
//! (aiosmtpd) and Guanxi's own bounce listener receiving, over SMTP from lettre, the
//! bounce and the complaint a mailbox provider would send: a hard bounce suppresses the
//! address, a complaint withdraws consent, a forged report changes nothing, an unsubscribe
//! and the preferences page are kept in the consent history, orders are attributed to the
//! campaign (the control group's too), and the return and responder profile add it up.

mod common;
#[path = "../../outbound/tests/support/mod.rs"]
mod support;

use common::{quick, stores};
use guanxi_app::bounces::{self, Handled};
use guanxi_app::campaigns::{self, Conversions};
use guanxi_app::mail::{self, Outbox, Outcome, Refusal};
use guanxi_app::{consent, jobs, records};
use guanxi_domain::entities::{
    Account, Campaign, ConsentChannel, Contact, EmailTemplate, Interaction, Order, Segment,
};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Entity, Id, Record};
use guanxi_outbound::{Security, SmtpConfig};
use guanxi_store::Store;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::{Value, json};
use std::time::Duration;
use support::Sink;

async fn create<T: Entity>(s: &Store, actor: &Actor, body: Value) -> Record<T> {
    records::create::<T>(s, actor, body)
        .await
        .unwrap_or_else(|e| panic!("creating a {}: {e}", T::DEF.name))
}

/// A delivery status notification as Postfix writes it, for `recipient` of the message
/// `message_id` (with its angle brackets).
fn dsn(recipient: &str, message_id: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.cn (Mail Delivery System)\r\n\
         To: bounces@crm.example.cn\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\r\n\
         \r\n\
         --B1\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         I'm sorry to have to inform you that your message could not be delivered.\r\n\
         \r\n\
         --B1\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; mx.example.cn\r\n\
         \r\n\
         Final-Recipient: rfc822; {recipient}\r\n\
         Original-Recipient: rfc822;{recipient}\r\n\
         Action: failed\r\n\
         Status: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected:\r\n\
         \x20User unknown in virtual mailbox table\r\n\
         \r\n\
         --B1\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         From: CRM <crm@guanxi.example>\r\n\
         To: {recipient}\r\n\
         Message-ID: {message_id}\r\n\
         Subject: =?utf-8?b?5pil5a2j?=\r\n\
         \r\n\
         --B1--\r\n"
    )
}

/// An abuse report in the Abuse Reporting Format (RFC 5965), the recipient redacted.
fn complaint(message_id: &str) -> String {
    format!(
        "From: <abuse@mailbox.example.cn>\r\n\
         To: bounces@crm.example.cn\r\n\
         Subject: FW: spam report\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"A1\"\r\n\
         \r\n\
         --A1\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         This is an email abuse report.\r\n\
         \r\n\
         --A1\r\n\
         Content-Type: message/feedback-report\r\n\
         \r\n\
         Feedback-Type: abuse\r\n\
         User-Agent: SomeGenerator/1.0\r\n\
         Version: 1\r\n\
         \r\n\
         --A1\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         From: CRM <crm@guanxi.example>\r\n\
         To: redacted@mailbox.example.cn\r\n\
         Message-ID: {message_id}\r\n\
         \r\n\
         --A1--\r\n"
    )
}

/// Send `raw` to the bounce listener on `port` from the null sender, as an MTA does.
async fn return_to_sender(port: u16, raw: &str) {
    let smtp = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .build();
    let envelope = Envelope::new(None, vec!["bounces@crm.example.cn".parse().unwrap()]).unwrap();
    smtp.send_raw(&envelope, raw.as_bytes()).await.unwrap();
}

async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..1_000 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounces_complaints_unsubscribes_and_conversions_come_back_to_the_campaign() {
    let sink = Sink::start(&[]);
    let (stores, _dir) = stores("gx_responses").await;
    for (n, s) in stores.into_iter().enumerate() {
        let system = Actor::system();
        let at = |who: &str| format!("{who}.{n}@example.cn");
        let marketer = common::user(&s, &at("ma"), "马丽", "marketing").await;
        let rep = common::user(&s, &at("rep"), "马丽", "sales").await;
        let account = create::<Account>(
            &s,
            &rep,
            json!({ "name": "深圳星辰科技有限公司", "kind": "organisation", "relationship": "customer",
                    "city": "深圳市" }),
        )
        .await;
        let mut contacts = vec![];
        for i in 0..40 {
            contacts.push(
                create::<Contact>(
                    &s,
                    &rep,
                    json!({ "name": format!("会员{i:02}"), "account_id": account.meta.id,
                            "email": at(&format!("m{i:02}")), "consent_email": true }),
                )
                .await,
            );
        }
        let template = create::<EmailTemplate>(
            &s,
            &system,
            json!({ "name": "会员日", "locale": "zh-CN", "category": "marketing",
                    "subject": "{{contact.name}}，会员日", "html": "<p>会员日 <a href=\"{{unsubscribe_url}}\">退订</a></p>",
                    "text": "会员日 {{unsubscribe_url}}" }),
        )
        .await;
        let segment = create::<Segment>(
            &s,
            &marketer,
            json!({ "name": "深圳会员", "entity": "contact",
                    "conditions": [{ "field": "account.city", "op": "eq", "value": "深圳市" }] }),
        )
        .await;
        let campaign = create::<Campaign>(
            &s,
            &marketer,
            json!({ "name": "会员日", "channel": "email", "status": "planned",
                    "budget": { "minor": 50_000, "currency": "CNY" }, "cost_per_message": 10,
                    "segment_id": segment.meta.id, "control_percent": 25, "conversion_days": 30,
                    "variants": [{ "name": "A", "template_id": template.meta.id, "percent": 100 }] }),
        )
        .await;
        let config = SmtpConfig {
            bounce_address: Some("bounces@crm.example.cn".into()),
            ..sink.config(Security::None)
        };
        let outbox = Outbox::new(Some(&config), Some("https://crm.example.cn/")).unwrap();
        let runner = jobs::start(s.clone(), jobs::served(&s, &outbox), quick());
        campaigns::launch(&s, &marketer, campaign.meta.id, campaign.meta.version)
            .await
            .unwrap();
        wait_for("the campaign is sent", || async {
            let p = campaigns::progress(&s, &marketer, campaign.meta.id)
                .await
                .unwrap();
            p.variants[0].queued == 0
        })
        .await;
        runner.stop().await;

        // Who is held out is the campaign's draw: the test knows it the same way.
        let c = s.get::<Campaign>(&system, campaign.meta.id).await.unwrap();
        let (treated, held): (Vec<&Record<Contact>>, Vec<&Record<Contact>>) =
            contacts.iter().partition(|k| {
                c.data
                    .assign(campaigns::draw(c.meta.id, k.meta.id))
                    .is_some()
            });
        assert!(
            treated.len() >= 5 && !held.is_empty(),
            "{} held",
            held.len()
        );
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
        assert_eq!(received.len(), treated.len());
        assert!(
            received
                .iter()
                .all(|m| m["mail_from"] == "bounces@crm.example.cn"),
            "bounces come back to the bounce address"
        );
        let message_id = |k: &Record<Contact>| {
            let to = k.data.email.as_ref().unwrap().as_str();
            let m = received.iter().find(|m| m["rcpt_tos"][0] == to).unwrap();
            m["headers"]["message-id"].as_str().unwrap().to_string()
        };

        // The bounce address, on a free port, as `guanxi serve --bounce-listen` runs it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let b = bounces::start(&s, listener, "crm.example.cn".into());
        let (bounced, complainer) = (treated[0], treated[1]);
        let bounced_to = bounced.data.email.as_ref().unwrap().as_str().to_string();
        // A forged report first: a message we never sent; and one naming our message but
        // another address. Neither suppresses anything.
        return_to_sender(
            port,
            &dsn(&bounced_to, &format!("<{}@guanxi.example>", Id::new())),
        )
        .await;
        let theirs = message_id(treated[2]);
        assert_eq!(
            bounces::receive(
                &s,
                &guanxi_outbound::Received {
                    mail_from: String::new(),
                    recipients: vec![],
                    data: dsn(&bounced_to, &theirs).into_bytes(),
                }
            )
            .await
            .unwrap(),
            [Handled::Unknown]
        );
        return_to_sender(port, &dsn(&bounced_to, &message_id(bounced))).await;
        return_to_sender(port, &complaint(&message_id(complainer))).await;
        wait_for("both reports are acted on", || async {
            let p = campaigns::progress(&s, &marketer, campaign.meta.id)
                .await
                .unwrap();
            p.variants[0].bounced == 1 && p.variants[0].complained == 1
        })
        .await;
        b.stop().await;
        let suppressed = s.suppressions(100, 0).await.unwrap();
        let mine: Vec<_> = suppressed
            .iter()
            .filter(|x| x.address.ends_with(&format!(".{n}@example.cn")))
            .collect();
        assert_eq!(mine.len(), 2, "{suppressed:?}");
        let hard = s.suppression(&bounced_to).await.unwrap().unwrap();
        assert_eq!(hard.reason, "bounce");
        assert!(
            hard.detail.as_deref().unwrap().starts_with("5.1.1"),
            "{hard:?}"
        );
        assert_eq!(hard.campaign_id, Some(campaign.meta.id));
        // The complainer withdrew consent, and the history says how.
        let k = s.get::<Contact>(&system, complainer.meta.id).await.unwrap();
        assert_eq!(k.data.consent_email, Some(false));
        let history = consent::history(&s, &marketer, complainer.meta.id)
            .await
            .unwrap();
        assert_eq!(
            (
                history[0].source.as_str(),
                history[0].given,
                history[0].campaign_id
            ),
            ("complaint", false, Some(campaign.meta.id))
        );
        // No further mail reaches a hard-bounced address, not even a service message.
        let service = create::<EmailTemplate>(
            &s,
            &system,
            json!({ "name": "服务", "locale": "zh-CN", "category": "transactional",
                    "subject": "您的工单", "html": "<p>您好</p>", "text": "您好" }),
        )
        .await;
        let again = mail::send_template(
            &s,
            &outbox,
            &system,
            service.meta.id,
            bounced.meta.id,
            "after-bounce",
            chrono::Utc::now(),
            None,
        )
        .await
        .unwrap();
        assert_eq!(again, Outcome::Refused(Refusal::Suppressed));

        // An unsubscribe through the link, then the preferences page: both counted once
        // for the campaign and kept in the history.
        let (leaver, chooser) = (treated[2], treated[3]);
        let token = s.unsubscribe_token(leaver.meta.id).await.unwrap();
        consent::unsubscribe(&s, &token).await.unwrap().unwrap();
        consent::unsubscribe(&s, &token).await.unwrap().unwrap();
        let token = s.unsubscribe_token(chooser.meta.id).await.unwrap();
        let chosen = consent::set_preferences(&s, &token, &[ConsentChannel::Sms])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (chosen.data.consent_email, chosen.data.consent_sms),
            (Some(false), Some(true))
        );
        let history = consent::history(&s, &marketer, chooser.meta.id)
            .await
            .unwrap();
        let mut seen: Vec<(&str, bool, &str)> = history
            .iter()
            .map(|e| (e.channel.as_str(), e.given, e.source.as_str()))
            .collect();
        seen.sort();
        // Every channel on the page is answered: ticked is given, the rest declined.
        assert_eq!(
            seen,
            [
                ("call", false, "preferences"),
                ("email", false, "preferences"),
                ("sms", true, "preferences"),
                ("wechat", false, "preferences"),
            ]
        );
        assert_eq!(
            consent::history(&s, &marketer, leaver.meta.id)
                .await
                .unwrap()[0]
                .source,
            "unsubscribe_link"
        );
        // A user records consent only with its evidence.
        let e = consent::record(
            &s,
            &marketer,
            leaver.meta.id,
            ConsentChannel::Call,
            true,
            " ",
        )
        .await
        .unwrap_err();
        assert_eq!(e.fields().unwrap().0[0].field, "evidence");

        // Orders after the mail: one by a treated member, one by a held-out one. The
        // conversions follower attributes them; the treated one is on the timeline.
        let follower = Conversions::open(s.clone()).await.unwrap().follow();
        let order = |contact: Id, number: &str, total: i64| {
            json!({ "number": number, "account_id": account.meta.id, "contact_id": contact,
                    "status": "confirmed", "ordered_at": chrono::Utc::now(), "currency": "CNY",
                    "lines": [{ "sku": "VIP-1", "name": "会员礼包", "quantity": 1,
                                "unit_price": total, "unit_cost": total / 4 }] })
        };
        create::<Order>(
            &s,
            &rep,
            order(treated[4].meta.id, &format!("SO-T{n}"), 120_000),
        )
        .await;
        create::<Order>(
            &s,
            &rep,
            order(held[0].meta.id, &format!("SO-H{n}"), 80_000),
        )
        .await;
        // A treated member writes back (logged by the rep): the campaign's reply. A
        // held-out member's call is no reply to anything sent.
        let inbound = |contact: Id, kind: &str, subject: &str| {
            json!({ "kind": kind, "direction": "inbound", "status": "done",
                    "at": chrono::Utc::now(), "subject": subject,
                    "account_id": account.meta.id, "contact_id": contact })
        };
        create::<Interaction>(
            &s,
            &rep,
            inbound(treated[3].meta.id, "email", "回复：会员礼包怎么领？"),
        )
        .await;
        create::<Interaction>(&s, &rep, inbound(held[0].meta.id, "call", "来电咨询")).await;
        wait_for("both orders are attributed and the reply noted", || async {
            let p = campaigns::progress(&s, &marketer, campaign.meta.id)
                .await
                .unwrap();
            p.roi.treated_conversions == 1
                && p.roi.control_conversions == 1
                && p.variants[0].replied == 1
        })
        .await;
        let _ = follower.stop().await;
        let p = campaigns::progress(&s, &marketer, campaign.meta.id)
            .await
            .unwrap();
        let v = &p.variants[0];
        assert_eq!(
            (v.unsubscribed, v.converted, v.revenue),
            (2, 1, 120_000),
            "{p:?}"
        );
        let r = &p.roi;
        assert_eq!(r.cost, 50_000 + 10 * treated.len() as i64);
        assert_eq!((r.revenue, r.margin, r.margin_known), (120_000, 90_000, 1));
        assert_eq!(
            (r.treated, r.control),
            (treated.len() as i64, held.len() as i64)
        );
        let expected =
            (1.0 / treated.len() as f64 - 1.0 / held.len() as f64) * treated.len() as f64;
        assert!(
            (r.incremental_conversions.unwrap() - expected).abs() < 1e-9,
            "{r:?}"
        );
        let timeline = s
            .list::<Interaction>(
                &system,
                &ListQuery::default()
                    .filter(Filter::new(
                        "contact_id",
                        Op::Eq,
                        treated[4].meta.id.to_string(),
                    ))
                    .filter(Filter::new("outcome", Op::Eq, "converted"))
                    .limit(10),
            )
            .await
            .unwrap();
        assert_eq!(timeline.items.len(), 1);
        assert_eq!(timeline.items[0].data.campaign_id, Some(campaign.meta.id));
        for (who, outcome) in [
            (treated[3], "replied"),
            (bounced, "bounced"),
            (complainer, "complained"),
            (leaver, "unsubscribed"),
        ] {
            let q = ListQuery::default()
                .filter(Filter::new("contact_id", Op::Eq, who.meta.id.to_string()))
                .filter(Filter::new("outcome", Op::Eq, outcome))
                .limit(10);
            assert_eq!(
                s.list::<Interaction>(&system, &q)
                    .await
                    .unwrap()
                    .items
                    .len(),
                1,
                "{outcome}"
            );
        }

        // The responder profile: everyone sent is in it; the one responder converted.
        let profile = campaigns::profile(&s, &marketer, campaign.meta.id)
            .await
            .unwrap();
        assert_eq!(
            (profile.members, profile.responders),
            (treated.len() as i64, 1)
        );
    }
}
