//! The morning reminder over a real store (SQLite, and PostgreSQL when
//! `GUANXI_TEST_POSTGRES` names a server), run by the job runner: one notification per
//! person with open tasks due that day or overdue, in their language, sent once however
//! often the morning's job runs, and the next morning queued.

mod common;

use chrono::{Duration, NaiveTime, Utc};
use common::{quick, stores};
use guanxi_app::{jobs, records, reminders};
use guanxi_domain::entities::{Interaction, User};
use guanxi_domain::{Actor, Email, Id, Locale, NewRecord};
use guanxi_store::{JobFilter, JobState, NewJob, Store};
use serde_json::json;
use std::time::Duration as Wait;

async fn user(s: &Store, email: &str, locale: Locale) -> Id {
    let u = User {
        email: Email::parse(email).unwrap(),
        name: email.split('@').next().unwrap().into(),
        role: "sales".into(),
        team_id: None,
        partner_id: None,
        locale,
        active: true,
    };
    s.create(&Actor::system(), NewRecord::new(u))
        .await
        .unwrap()
        .meta
        .id
}

async fn reminded(s: &Store) {
    let filter = JobFilter {
        state: None,
        kind: Some(reminders::KIND.into()),
    };
    for _ in 0..3_000 {
        let jobs = s.list_jobs(&filter, 50, None).await.unwrap().items;
        let now = Utc::now();
        if jobs
            .iter()
            .filter(|j| j.run_at <= now)
            .all(|j| j.state == JobState::Done)
        {
            return;
        }
        tokio::time::sleep(Wait::from_millis(10)).await;
    }
    panic!("the reminder never ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_morning_everyone_hears_of_their_tasks_due_and_overdue_once() {
    let (stores, _dir) = stores("gx_reminders").await;
    for s in stores {
        let zh = user(&s, "wangfang@example.cn", Locale::ZhCn).await;
        let en = user(&s, "amy@example.com", Locale::En).await;
        let idle = user(&s, "idle@example.cn", Locale::ZhCn).await;
        // The last 08:30 China time, whenever the test runs (before 08:30, yesterday's):
        // the morning whose reminder is due.
        let zone = guanxi_app::i18n::display_offset();
        let today = Utc::now()
            .with_timezone(&zone)
            .date_naive()
            .and_time(NaiveTime::from_hms_opt(8, 30, 0).unwrap())
            .and_local_timezone(zone)
            .unwrap()
            .to_utc();
        let morning = if today > Utc::now() {
            today - Duration::days(1)
        } else {
            today
        };
        let task = |owner: Id, subject: &str, at: chrono::DateTime<Utc>, status: &str| {
            let s = s.clone();
            let body = json!({
                "kind": "task", "status": status, "subject": subject,
                "at": at.to_rfc3339(), "owner_id": owner
            });
            async move {
                records::create::<Interaction>(&s, &Actor::system(), body)
                    .await
                    .unwrap()
            }
        };
        task(zh, "回访客户", morning + Duration::hours(6), "planned").await;
        task(zh, "寄送报价", morning - Duration::days(2), "planned").await;
        task(zh, "已办完", morning - Duration::days(1), "done").await;
        task(zh, "明天的事", morning + Duration::days(1), "planned").await;
        task(en, "Call back", morning - Duration::hours(20), "planned").await;

        let runner = jobs::start(
            s.clone(),
            jobs::served(&s, &guanxi_app::mail::Outbox::off()),
            quick(),
        );
        for _ in 0..2 {
            let job = NewJob::new(reminders::KIND, json!({ "at": morning }));
            s.enqueue(&[job]).await.unwrap();
            reminded(&s).await;
        }
        let of = |u: Id| {
            let s = s.clone();
            async move {
                let actor = s.actor_for(u).await.unwrap();
                s.notifications(&actor, false, 50, None)
                    .await
                    .unwrap()
                    .items
            }
        };
        let mine = of(zh).await;
        assert_eq!(mine.len(), 1, "once, however often it runs: {mine:?}");
        assert_eq!(mine[0].kind, "task_due");
        assert_eq!(mine[0].title, "任务提醒：今天到期 1 项，已逾期 1 项");
        let body = mine[0].body.clone().unwrap();
        assert!(
            body.contains("寄送报价") && body.contains("回访客户"),
            "{body}"
        );
        assert!(
            !body.contains("已办完") && !body.contains("明天的事"),
            "{body}"
        );
        let amy = of(en).await;
        assert_eq!(amy.len(), 1);
        assert_eq!(amy[0].title, "Tasks: 0 due today, 1 overdue");
        assert!(of(idle).await.is_empty());
        // The next morning is queued.
        let queued = s
            .list_jobs(
                &JobFilter {
                    state: Some(JobState::Queued),
                    kind: Some(reminders::KIND.into()),
                },
                10,
                None,
            )
            .await
            .unwrap()
            .items;
        assert_eq!(queued.len(), 1, "{queued:?}");
        assert!(
            queued[0].run_at > Utc::now() && queued[0].run_at <= Utc::now() + Duration::days(1)
        );
        runner.stop().await;
    }
}
