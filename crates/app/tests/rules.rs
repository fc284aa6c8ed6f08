//! Workflow rules over a real store (a SQLite file, and PostgreSQL when
//! `GUANXI_TEST_POSTGRES` names a server), with the follower and the job runner running as
//! `guanxi serve` runs them: a rule fires on the changes it names and not on others, its
//! actions are written as the rule, a replayed change fires nothing twice, and two rules
//! that undo each other stop at the depth limit with the refusal logged.

mod common;

use common::{quick, stores};
use guanxi_app::jobs;
use guanxi_app::{records, rules};
use guanxi_domain::entities::User;
use guanxi_domain::entities::{Case, Interaction, Rule};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Email, Id, Locale, NewRecord, Record};
use guanxi_store::{RuleRun, RunsOf, Store};
use serde_json::{Value, json};
use std::time::Duration;

async fn create<T: guanxi_domain::Entity>(s: &Store, actor: &Actor, body: Value) -> Record<T> {
    records::create::<T>(s, actor, body)
        .await
        .unwrap_or_else(|e| panic!("creating a {}: {e}", T::DEF.name))
}

/// A team of two sales reps, and a third rep outside it who makes the changes.
struct Office {
    team: Id,
    reps: Vec<Id>,
    author: Actor,
}

async fn office(s: &Store) -> Office {
    let system = Actor::system();
    let team = create::<guanxi_domain::entities::Team>(s, &system, json!({ "name": "一线客服" }))
        .await
        .meta
        .id;
    let mut reps = vec![];
    for (i, name) in ["王芳", "李娜", "张伟"].into_iter().enumerate() {
        let user = User {
            email: Email::parse(&format!("rep{i}@example.cn")).unwrap(),
            name: name.into(),
            role: "sales".into(),
            team_id: (i < 2).then_some(team),
            partner_id: None,
            locale: Locale::ZhCn,
            active: true,
        };
        let u = s.create(&system, NewRecord::new(user)).await.unwrap();
        reps.push(u.meta.id);
    }
    let author = s.actor_for(reps.pop().unwrap()).await.unwrap();
    Office { team, reps, author }
}

fn case_body(subject: &str, priority: &str) -> Value {
    json!({
        "number": format!("CS-{}", Id::new()), "subject": subject, "kind": "repair",
        "priority": priority, "status": "new"
    })
}

/// The runs on a record once none is queued; panics if they never settle.
async fn settled_runs(s: &Store, record: Id, at_least: usize) -> Vec<RuleRun> {
    for _ in 0..3_000 {
        let runs = s
            .rule_runs(&Actor::system(), RunsOf::Record(record), 100)
            .await
            .unwrap();
        if runs.len() >= at_least && runs.iter().all(|r| r.status != "queued") {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the runs on {record} never settled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urgent_cases_go_round_the_team_with_a_task_each() {
    let (stores, _dir) = stores("gx_rules_app").await;
    for s in stores {
        let o = office(&s).await;
        let system = Actor::system();
        let rule = create::<Rule>(
            &s,
            &system,
            json!({
                "name": "紧急工单轮流分派",
                "entity": "case",
                "trigger": { "on": "created" },
                "conditions": [{ "field": "priority", "op": "eq", "value": "urgent" }],
                "actions": [
                    { "type": "assign_owner", "to": { "how": "round_robin", "team_id": o.team } },
                    { "type": "create_task", "assignee": { "how": "owner" }, "subject": "两小时内回电", "due_in_hours": 2 }
                ]
            }),
        )
        .await;
        let trigger = rules::start(s.clone()).await.unwrap();
        let runner = jobs::start(
            s.clone(),
            jobs::served(&s, &guanxi_app::mail::Outbox::off()),
            quick(),
        );

        let calm = create::<Case>(&s, &o.author, case_body("咨询发票", "normal")).await;
        let mut urgent = vec![];
        for i in 0..4 {
            urgent.push(
                create::<Case>(&s, &o.author, case_body(&format!("停机 {i}"), "urgent")).await,
            );
        }
        let mut owners = vec![];
        for c in &urgent {
            let runs = settled_runs(&s, c.meta.id, 1).await;
            assert_eq!(runs.len(), 1, "{runs:?}");
            assert_eq!(runs[0].status, "done", "{runs:?}");
            assert_eq!(runs[0].depth, 1);
            let now = s.get::<Case>(&system, c.meta.id).await.unwrap();
            owners.push(now.meta.owner_id.unwrap());
            // The change log names the rule as the author of the assignment.
            let log = s.changes_for::<Case>(&system, c.meta.id).await.unwrap();
            let assigned = log.iter().rev().find(|e| e.action == "update").unwrap();
            assert_eq!(assigned.actor_id, rule.meta.id);
            // One task, owned by the new owner, linked to the case, due two hours on.
            let q =
                ListQuery::default().filter(Filter::new("case_id", Op::Eq, c.meta.id.to_string()));
            let tasks = s.list::<Interaction>(&system, &q).await.unwrap().items;
            assert_eq!(tasks.len(), 1);
            assert_eq!(tasks[0].meta.owner_id, now.meta.owner_id);
            assert_eq!(tasks[0].data.subject, "两小时内回电");
            assert_eq!(tasks[0].data.at, runs[0].at + chrono::Duration::hours(2));
        }
        // In turn: runs go in parallel, so who gets which case may vary, but each member
        // gets as many as the other.
        for rep in &o.reps {
            assert_eq!(owners.iter().filter(|x| *x == rep).count(), 2, "{owners:?}");
        }
        let calm_runs = s
            .rule_runs(&system, RunsOf::Record(calm.meta.id), 10)
            .await
            .unwrap();
        assert!(
            calm_runs.is_empty(),
            "a normal case meets no condition: {calm_runs:?}"
        );
        assert_eq!(
            s.rule_runs(&system, RunsOf::Rule(rule.meta.id), 100)
                .await
                .unwrap()
                .len(),
            4
        );

        // Replaying the log from its first entry (a crash before the position was saved)
        // fires nothing twice.
        trigger.stop().await.unwrap();
        s.reset_subscriber(rules::SUBSCRIBER, 1).await.unwrap();
        let mut again = rules::Trigger::open(s.clone()).await.unwrap();
        guanxi_store::follow::catch_up(&s, &mut again, 1000)
            .await
            .ok()
            .unwrap();
        assert_eq!(
            s.rule_runs(&system, RunsOf::Rule(rule.meta.id), 100)
                .await
                .unwrap()
                .len(),
            4
        );
        let tasks = s
            .list::<Interaction>(&system, &ListQuery::default().counted())
            .await
            .unwrap();
        assert_eq!(tasks.total, Some(4));
        runner.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rules_that_undo_each_other_stop_at_the_depth_limit() {
    let (stores, _dir) = stores("gx_rules_app").await;
    for s in stores {
        let o = office(&s).await;
        let system = Actor::system();
        for (from, to) in [("high", "low"), ("low", "high")] {
            create::<Rule>(
                &s,
                &system,
                json!({
                    "name": format!("{from} → {to}"),
                    "entity": "case",
                    "trigger": { "on": "updated", "field": "priority" },
                    "conditions": [{ "field": "priority", "op": "eq", "value": from }],
                    "actions": [{ "type": "update_field", "field": "priority", "value": to }]
                }),
            )
            .await;
        }
        let trigger = rules::start(s.clone()).await.unwrap();
        let runner = jobs::start(
            s.clone(),
            jobs::served(&s, &guanxi_app::mail::Outbox::off()),
            quick(),
        );
        let c = create::<Case>(&s, &o.author, case_body("来回改", "normal")).await;
        records::patch::<Case>(
            &s,
            &o.author,
            c.meta.id,
            c.meta.version,
            json!({ "priority": "high" }),
        )
        .await
        .unwrap();
        let depth = rules::MAX_DEPTH as usize;
        let runs = settled_runs(&s, c.meta.id, depth + 1).await;
        // Give a runaway loop the time to show itself, then look again.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let runs_later = settled_runs(&s, c.meta.id, depth + 1).await;
        assert_eq!(runs.len(), runs_later.len(), "the chain stopped");
        let refused: Vec<&RuleRun> = runs_later
            .iter()
            .filter(|r| r.status == "refused")
            .collect();
        assert_eq!(refused.len(), 1, "{runs_later:?}");
        assert_eq!(refused[0].depth, rules::MAX_DEPTH + 1);
        assert!(refused[0].error.as_deref().unwrap_or("").contains("chain"));
        assert_eq!(
            runs_later.iter().filter(|r| r.status == "done").count(),
            depth,
            "{runs_later:?}"
        );
        let _ = trigger.stop().await;
        runner.stop().await;
    }
}

#[tokio::test]
async fn the_test_button_says_what_a_rule_would_do_without_doing_it() {
    let (stores, _dir) = stores("gx_rules_app").await;
    let s = &stores[0];
    let o = office(s).await;
    let system = Actor::system();
    let rule = create::<Rule>(
        s,
        &system,
        json!({
            "name": "VIP",
            "entity": "case",
            "trigger": { "on": "created" },
            "conditions": [
                { "field": "priority", "op": "in", "value": ["high", "urgent"] },
                { "field": "subject", "op": "contains", "value": "停机" }
            ],
            "actions": [{ "type": "update_field", "field": "category", "value": "VIP" }]
        }),
    )
    .await;
    let c = create::<Case>(s, &o.author, case_body("打印机停机", "normal")).await;
    let report = rules::test(s, &system, rule.meta.id, c.meta.id)
        .await
        .unwrap();
    assert!(!report.meets);
    assert_eq!(
        report.conditions.iter().map(|c| c.met).collect::<Vec<_>>(),
        [false, true]
    );
    assert!(report.actions.is_empty());
    let c = create::<Case>(s, &o.author, case_body("打印机停机", "urgent")).await;
    let report = rules::test(s, &system, rule.meta.id, c.meta.id)
        .await
        .unwrap();
    assert!(report.meets);
    assert_eq!(report.actions.len(), 1);
    let unchanged = s.get::<Case>(&system, c.meta.id).await.unwrap();
    assert_eq!(unchanged.data.category, None, "a test writes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalation_reassigns_and_tells_the_teams_manager_once() {
    let (stores, _dir) = stores("gx_rules_app").await;
    for s in stores {
        let o = office(&s).await;
        let system = Actor::system();
        let boss = User {
            email: Email::parse("boss@example.cn").unwrap(),
            name: "刘经理".into(),
            role: "manager".into(),
            team_id: Some(o.team),
            partner_id: None,
            locale: Locale::ZhCn,
            active: true,
        };
        let boss = s
            .create(&system, NewRecord::new(boss))
            .await
            .unwrap()
            .meta
            .id;
        create::<Rule>(
            &s,
            &system,
            json!({
                "name": "投诉升级", "entity": "case", "trigger": { "on": "created" },
                "conditions": [{ "field": "kind", "op": "eq", "value": "complaint" }],
                "actions": [
                    { "type": "notify", "to": { "how": "owner" }, "message": "你的投诉工单已升级" },
                    { "type": "escalate", "to": { "how": "user", "user_id": o.reps[1] }, "message": "投诉需要关注" }
                ]
            }),
        )
        .await;
        let trigger = rules::start(s.clone()).await.unwrap();
        let runner = jobs::start(
            s.clone(),
            jobs::served(&s, &guanxi_app::mail::Outbox::off()),
            quick(),
        );
        let mut body = case_body("服务态度差", "high");
        body["kind"] = json!("complaint");
        let c = create::<Case>(&s, &o.author, body).await;
        let runs = settled_runs(&s, c.meta.id, 1).await;
        assert_eq!(runs[0].status, "done", "{runs:?}");
        let now = s.get::<Case>(&system, c.meta.id).await.unwrap();
        assert_eq!(now.meta.owner_id, Some(o.reps[1]));
        let to_boss = s
            .notifications(&s.actor_for(boss).await.unwrap(), false, 10, None)
            .await
            .unwrap()
            .items;
        assert_eq!(to_boss.len(), 1, "{to_boss:?}");
        assert_eq!(to_boss[0].title, "投诉需要关注");
        assert_eq!(to_boss[0].record_id, Some(c.meta.id));
        let to_author = s
            .notifications(&o.author, false, 10, None)
            .await
            .unwrap()
            .items;
        assert_eq!(
            to_author.len(),
            1,
            "the owner before the escalation: {to_author:?}"
        );
        let _ = trigger.stop().await;
        runner.stop().await;
    }
}

/// Wait until every job of `kind` due by now has finished; panics if they never do.
async fn timed_jobs_done(s: &Store, kind: &str) {
    use guanxi_store::{JobFilter, JobState};
    let filter = JobFilter {
        state: None,
        kind: Some(kind.into()),
    };
    for _ in 0..3_000 {
        let jobs = s.list_jobs(&filter, 500, None).await.unwrap().items;
        let now = chrono::Utc::now();
        if jobs
            .iter()
            .filter(|j| j.run_at <= now)
            .all(|j| j.state == JobState::Done)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the {kind} jobs due never finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_time_fires_when_it_comes_if_the_record_still_qualifies() {
    let (stores, _dir) = stores("gx_rules_relative").await;
    for s in stores {
        let o = office(&s).await;
        let system = Actor::system();
        let now = chrono::Utc::now();
        let soon = |secs: i64| (now + chrono::Duration::seconds(secs)).to_rfc3339();
        let dated = |subject: &str, due: String| {
            let mut body = case_body(subject, "normal");
            body["sla_due_at"] = json!(due);
            body
        };
        // Dated before the rule exists: saving the rule arms its timer.
        let earlier = create::<Case>(&s, &o.author, dated("早已登记", soon(3))).await;
        let trigger = rules::start(s.clone()).await.unwrap();
        let runner = jobs::start(
            s.clone(),
            jobs::served(&s, &guanxi_app::mail::Outbox::off()),
            quick(),
        );
        let rule = create::<Rule>(
            &s,
            &system,
            json!({
                "name": "超时仍未处理则升级",
                "entity": "case",
                "trigger": { "on": "relative", "field": "sla_due_at", "offset_minutes": 0 },
                "conditions": [{ "field": "status", "op": "in", "value": ["new", "open"] }],
                "actions": [{ "type": "update_field", "field": "priority", "value": "urgent" }]
            }),
        )
        .await;
        let late = create::<Case>(&s, &o.author, dated("超时", soon(3))).await;
        let moved = create::<Case>(&s, &o.author, dated("改期", soon(3))).await;
        let closed = create::<Case>(&s, &o.author, dated("已结", soon(3))).await;
        let past = create::<Case>(&s, &o.author, dated("早已过期", soon(-60))).await;
        let edit = |c: &Record<Case>, body: Value| {
            let s = s.clone();
            let (id, version) = (c.meta.id, c.meta.version);
            let author = o.author.clone();
            async move {
                records::patch::<Case>(&s, &author, id, version, body)
                    .await
                    .unwrap()
            }
        };
        edit(&moved, json!({ "sla_due_at": soon(3_600) })).await;
        edit(
            &closed,
            json!({ "status": "closed", "resolved_at": soon(0) }),
        )
        .await;

        for c in [&earlier, &late] {
            let runs = settled_runs(&s, c.meta.id, 1).await;
            assert_eq!(runs.len(), 1, "{runs:?}");
            assert_eq!(runs[0].status, "done", "{runs:?}");
            assert_eq!(runs[0].rule_id, rule.meta.id);
            assert_eq!(
                runs[0].due_at.map(|t| t.timestamp()),
                c.data.sla_due_at.map(|t| t.timestamp()),
                "the run names the moment it was due"
            );
            let now = s.get::<Case>(&system, c.meta.id).await.unwrap();
            assert_eq!(now.data.priority.as_str(), "urgent");
        }
        timed_jobs_done(&s, "rule.timer").await;
        for c in [&moved, &closed, &past] {
            let runs = s
                .rule_runs(&system, RunsOf::Record(c.meta.id), 10)
                .await
                .unwrap();
            assert!(runs.is_empty(), "{}: {runs:?}", c.data.subject);
            let now = s.get::<Case>(&system, c.meta.id).await.unwrap();
            assert_eq!(now.data.priority.as_str(), "normal");
        }
        // The moved case keeps a timer for its new date.
        let pending = s
            .list_jobs(
                &guanxi_store::JobFilter {
                    state: Some(guanxi_store::JobState::Queued),
                    kind: Some("rule.timer".into()),
                },
                10,
                None,
            )
            .await
            .unwrap()
            .items;
        assert_eq!(pending.len(), 1, "{pending:?}");
        assert_eq!(pending[0].payload["record"], json!(moved.meta.id));
        runner.stop().await;
        trigger.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_runs_on_every_record_that_qualifies_then_and_queues_the_next() {
    let (stores, _dir) = stores("gx_rules_schedule").await;
    for s in stores {
        let o = office(&s).await;
        let system = Actor::system();
        let trigger = rules::start(s.clone()).await.unwrap();
        let runner = jobs::start(
            s.clone(),
            jobs::served(&s, &guanxi_app::mail::Outbox::off()),
            quick(),
        );
        let urgent = create::<Case>(&s, &o.author, case_body("停机", "urgent")).await;
        let other = create::<Case>(&s, &o.author, case_body("咨询", "normal")).await;
        let rule = create::<Rule>(
            &s,
            &system,
            json!({
                "name": "每天早上九点提醒紧急工单",
                "entity": "case",
                "trigger": { "on": "schedule", "at": "09:00" },
                "conditions": [{ "field": "priority", "op": "eq", "value": "urgent" }],
                "actions": [{ "type": "update_field", "field": "status", "value": "open" }]
            }),
        )
        .await;
        // Saving the rule queues its next occurrence, at 09:00 China time.
        let zone = guanxi_app::i18n::display_offset();
        let next =
            guanxi_domain::rules::next_occurrence("09:00", &[], chrono::Utc::now(), zone).unwrap();
        let occurrences = || async {
            s.list_jobs(
                &guanxi_store::JobFilter {
                    state: None,
                    kind: Some("rule.schedule".into()),
                },
                10,
                None,
            )
            .await
            .unwrap()
            .items
        };
        let mut queued = vec![];
        for _ in 0..3_000 {
            queued = occurrences().await;
            if !queued.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(queued.len(), 1, "{queued:?}");
        assert_eq!(queued[0].run_at, next);
        // That occurrence, come due now (its moment is in its payload): the urgent case
        // runs, the other does not, and the day after is queued.
        let due =
            guanxi_store::NewJob::new("rule.schedule", json!({ "rule": rule.meta.id, "at": next }));
        s.enqueue(&[due]).await.unwrap();
        let runs = settled_runs(&s, urgent.meta.id, 1).await;
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(
            (runs[0].status.as_str(), runs[0].due_at),
            ("done", Some(next))
        );
        assert_eq!(
            s.get::<Case>(&system, urgent.meta.id)
                .await
                .unwrap()
                .data
                .status
                .as_str(),
            "open"
        );
        timed_jobs_done(&s, "rule.schedule").await;
        let none = s
            .rule_runs(&system, RunsOf::Record(other.meta.id), 10)
            .await
            .unwrap();
        assert!(none.is_empty(), "{none:?}");
        let after = occurrences().await;
        assert!(
            after
                .iter()
                .any(|j| j.run_at == next + chrono::Duration::days(1)),
            "{after:?}"
        );
        // The same moment again (a replay) runs nothing twice.
        let again =
            guanxi_store::NewJob::new("rule.schedule", json!({ "rule": rule.meta.id, "at": next }));
        s.enqueue(&[again]).await.unwrap();
        timed_jobs_done(&s, "rule.schedule").await;
        let runs = s
            .rule_runs(&system, RunsOf::Record(urgent.meta.id), 10)
            .await
            .unwrap();
        assert_eq!(runs.len(), 1, "{runs:?}");
        runner.stop().await;
        trigger.stop().await.unwrap();
    }
}
