//! Satisfaction surveys over a real store (a SQLite file, and PostgreSQL when
//! `GUANXI_TEST_POSTGRES` names a server) into a real SMTP server (aiosmtpd on loopback),
//! with the surveys follower and the job runner running as `guanxi serve` runs them:
//! resolving a case mails its contact a bilingual link once (resolved again: nothing
//! more); the link's token takes one answer, stored as a survey record on the case, owned
//! like it, and the case's satisfaction is its CSAT; the portal's use case answers too.

mod common;
#[path = "../../outbound/tests/support/mod.rs"]
mod support;

use common::{quick, stores};
use guanxi_app::mail::Outbox;
use guanxi_app::surveys::{self, Answer};
use guanxi_app::{jobs, records};
use guanxi_domain::entities::{Account, Case, Contact, Survey, SurveyChannel, User};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Email, Id, Locale, NewRecord, Record};
use guanxi_outbound::Security;
use guanxi_store::{JobFilter, Store};
use serde_json::{Value, json};
use std::time::Duration;
use support::{Sink, part};

async fn create<T: guanxi_domain::Entity>(s: &Store, actor: &Actor, body: Value) -> Record<T> {
    records::create::<T>(s, actor, body)
        .await
        .unwrap_or_else(|e| panic!("creating a {}: {e}", T::DEF.name))
}

fn to(sink: &Sink, address: &str) -> Vec<Value> {
    sink.received()
        .into_iter()
        .filter(|m| m["rcpt_tos"][0] == address)
        .collect()
}

/// The messages to `address` once there are `n`; panics if they never come.
async fn mails(sink: &Sink, address: &str, n: usize) -> Vec<Value> {
    for _ in 0..1_000 {
        let got = to(sink, address);
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no mail to {address}");
}

async fn surveys_of(s: &Store, actor: &Actor, case: Id) -> Vec<Record<Survey>> {
    let q = ListQuery::default().filter(Filter::new("case_id", Op::Eq, case.to_string()));
    s.list::<Survey>(actor, &q).await.unwrap().items
}

async fn resolve(s: &Store, actor: &Actor, case: &Record<Case>) -> Record<Case> {
    records::patch::<Case>(
        s,
        actor,
        case.meta.id,
        case.meta.version,
        json!({ "status": "resolved", "resolved_at": "2026-12-01T08:00:00Z" }),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_case_asks_its_contact_once_and_the_answer_lands_on_the_case() {
    let sink = Sink::start(&[]);
    let (stores, _dir) = stores("gx_surveys_app").await;
    for (n, s) in stores.into_iter().enumerate() {
        let system = Actor::system();
        let at = |who: &str| format!("{who}.{n}@example.cn");
        let agent = User {
            email: Email::parse(&at("agent")).unwrap(),
            name: "客服小王".into(),
            role: "service".into(),
            team_id: None,
            partner_id: None,
            locale: Locale::ZhCn,
            active: true,
        };
        let agent = s.create(&system, NewRecord::new(agent)).await.unwrap();
        let agent = s.actor_for(agent.meta.id).await.unwrap();
        let account = create::<Account>(
            &s,
            &system,
            json!({ "name": "上海明亮贸易有限公司", "kind": "organisation", "relationship": "customer" }),
        )
        .await;
        // No marketing consent: a survey is service mail.
        let wang = create::<Contact>(
            &s,
            &agent,
            json!({ "name": "王芳", "account_id": account.meta.id, "email": at("wang.fang") }),
        )
        .await;
        let case = create::<Case>(
            &s,
            &agent,
            json!({
                "number": format!("CS-S{n}-1"), "subject": "空调不制冷", "kind": "repair",
                "priority": "normal", "status": "open", "contact_id": wang.meta.id,
                "account_id": account.meta.id,
            }),
        )
        .await;

        let outbox = Outbox::new(
            Some(&sink.config(Security::None)),
            Some("https://crm.example.cn/"),
        )
        .unwrap();
        let follower = surveys::start(s.clone()).await.unwrap();
        let runner = jobs::start(s.clone(), jobs::served(&s, &outbox), quick());

        // Not resolved yet: no answer is taken.
        let early = surveys::answer(
            &s,
            case.meta.id,
            None,
            Answer {
                csat: Some(5),
                ..Answer::default()
            },
            SurveyChannel::Portal,
        )
        .await
        .unwrap_err();
        assert_eq!(early.fields().unwrap().0[0].field, "case_id");

        let resolved = resolve(&s, &agent, &case).await;
        let m = &mails(&sink, &at("wang.fang"), 1).await[0];
        let h = &m["headers"];
        assert!(
            h["subject"].as_str().unwrap().contains("服务满意度调查")
                && h["subject"].as_str().unwrap().contains("How did we do?"),
            "{h}"
        );
        assert_eq!(h["x-guanxi-category"], "transactional");
        let text = part(m, "text/plain");
        assert!(
            text.contains("王芳，您好") && text.contains("Dear 王芳"),
            "{text}"
        );
        let start = text
            .find("https://crm.example.cn/survey/")
            .expect("the link");
        let link: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let token = link.rsplit('/').next().unwrap().to_string();
        assert!(part(m, "text/html").contains(&link));
        let t = s.survey_by_token(&token).await.unwrap().expect("the token");
        assert_eq!(
            (t.case_id, t.contact_id, t.answered_at),
            (case.meta.id, wang.meta.id, None)
        );

        // Reopened and resolved again: asked once only.
        let reopened = records::patch::<Case>(
            &s,
            &agent,
            case.meta.id,
            resolved.meta.version,
            json!({ "status": "open", "resolved_at": null }),
        )
        .await
        .unwrap();
        resolve(&s, &agent, &reopened).await;
        let key = format!("survey:{}", case.meta.id);
        for _ in 0..500 {
            let jobs = s
                .list_jobs(&JobFilter::default(), 100, None)
                .await
                .unwrap()
                .items;
            let ours: Vec<_> = jobs
                .iter()
                .filter(|j| j.key.as_deref() == Some(key.as_str()))
                .collect();
            assert_eq!(ours.len(), 1);
            if ours[0].state.as_str() == "done"
                && s.subscriber_position(surveys::SUBSCRIBER).await.unwrap()
                    >= s.last_change().await.unwrap() - 1
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(to(&sink, &at("wang.fang")).len(), 1, "one survey per case");

        // The link takes one answer: a survey record on the case, owned like it.
        let out_of_range = surveys::answer_by_token(
            &s,
            &token,
            Answer {
                csat: Some(9),
                ..Answer::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(out_of_range.fields().unwrap().0[0].field, "csat");
        let saved = surveys::answer_by_token(
            &s,
            &token,
            Answer {
                csat: Some(4),
                nps: Some(9),
                comment: Some(" 师傅很专业 ".into()),
            },
        )
        .await
        .unwrap()
        .expect("a known token");
        assert_eq!(saved.data.case_id, case.meta.id);
        assert_eq!(saved.data.contact_id, Some(wang.meta.id));
        assert_eq!(saved.data.account_id, Some(account.meta.id));
        assert_eq!(saved.data.channel, SurveyChannel::Email);
        assert_eq!(saved.data.comment.as_deref(), Some("师傅很专业"));
        assert_eq!(saved.meta.owner_id, case.meta.owner_id);
        let again = surveys::answer_by_token(
            &s,
            &token,
            Answer {
                csat: Some(1),
                ..Answer::default()
            },
        )
        .await
        .unwrap_err();
        assert!(surveys::is_answered(&again), "{again}");
        // The portal cannot answer the same case a second time either.
        let portal = surveys::answer(
            &s,
            case.meta.id,
            None,
            Answer {
                nps: Some(3),
                ..Answer::default()
            },
            SurveyChannel::Portal,
        )
        .await
        .unwrap_err();
        assert!(surveys::is_answered(&portal));
        assert!(
            s.survey_by_token(&token)
                .await
                .unwrap()
                .unwrap()
                .answered_at
                .is_some()
        );
        assert!(
            surveys::answer_by_token(&s, "no-such-token", Answer::default())
                .await
                .unwrap()
                .is_none()
        );

        // Whoever sees the case sees its answer; the case's satisfaction is the CSAT.
        let on_case = surveys_of(&s, &agent, case.meta.id).await;
        assert_eq!(on_case.len(), 1);
        assert_eq!(
            (on_case[0].data.csat, on_case[0].data.nps),
            (Some(4), Some(9))
        );
        let case_now = s.get::<Case>(&system, case.meta.id).await.unwrap();
        assert_eq!(case_now.data.satisfaction, Some(4));

        // The portal's use case, on another resolved case, without a CSAT: the case keeps
        // its satisfaction unset.
        let other = create::<Case>(
            &s,
            &agent,
            json!({
                "number": format!("CS-S{n}-2"), "subject": "安装预约", "kind": "request",
                "priority": "normal", "status": "resolved", "resolved_at": "2026-12-02T08:00:00Z",
                "contact_id": wang.meta.id, "account_id": account.meta.id,
            }),
        )
        .await;
        let by_portal = surveys::answer(
            &s,
            other.meta.id,
            Some(wang.meta.id),
            Answer {
                nps: Some(10),
                ..Answer::default()
            },
            SurveyChannel::Portal,
        )
        .await
        .unwrap();
        assert_eq!(by_portal.data.channel, SurveyChannel::Portal);
        assert_eq!(
            s.get::<Case>(&system, other.meta.id)
                .await
                .unwrap()
                .data
                .satisfaction,
            None
        );
        // Created resolved: asked too, once.
        mails(&sink, &at("wang.fang"), 2).await;

        runner.stop().await;
        follower.stop().await.unwrap();
    }
}
