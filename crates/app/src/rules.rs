//! Workflow rules at work: [`Trigger`] follows the change log and turns each change that
//! fires an active rule into a run and a job; [`RunRule`] is the job's handler, doing the
//! rule's actions through the one write path as the rule ([`Actor::rule`]), so the change
//! log says which rule did what.
//!
//! Exactly once: a run is keyed by (rule, change, record) and its job by the run, so a
//! change the follower offers again fires nothing twice; a job tried again skips a run
//! already finished, and each action checks whether its effect is there before acting.
//! Chains: a rule's writes are noted with their depth before they are made; a change made
//! by a rule fires rules one level deeper, and past [`MAX_DEPTH`] the run is refused and
//! logged instead of done.

use crate::jobs::{Handler, JobError};
use crate::mail::{self, Outbox};
use crate::{records, robots, timed_rules};
use chrono::Duration;
use guanxi_domain::entities::{Interaction, InteractionKind, InteractionStatus, Robot, Rule, User};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::rules::{Action, Assignee, Change, least_loaded, meets_all};
use guanxi_domain::{Actor, Entity, EntityDef, Id, NewRecord, Record};
use guanxi_store::follow::{self, Follower, Subscriber};
use guanxi_store::{
    ChangeEvent, Job, NewJob, NewNotification, NewRuleRun, RuleRun, Store, StoreError,
};
use serde_json::{Value, json};

/// The follower's name for the rules: keys its position.
pub const SUBSCRIBER: &str = "rules";
/// The job kind of a run.
pub const JOB_KIND: &str = "rule.run";
/// How many rules may fire one another in a chain before the next is refused.
pub const MAX_DEPTH: i64 = 5;

/// Follows the change log and fires the active rules.
pub struct Trigger {
    store: Store,
    /// Active rules, reloaded when a change to a rule passes.
    rules: Vec<Record<Rule>>,
}

impl Trigger {
    /// Ready to follow: a first start begins at the log's end (rules fire on changes made
    /// from now on, not on the history).
    pub async fn open(store: Store) -> Result<Trigger, StoreError> {
        if store.subscriber_position(SUBSCRIBER).await? == 0 {
            let end = store.last_change().await?;
            store.advance_subscriber(SUBSCRIBER, end).await?;
        }
        let rules = active_rules(&store).await?;
        // Timed rules' chains are queued again if one was lost (a job cancelled by hand);
        // an arming already queued for the rule's version is not queued twice.
        let arm: Vec<NewJob> = rules.iter().filter_map(timed_rules::arm_job).collect();
        if !arm.is_empty() {
            store.enqueue(&arm).await?;
        }
        Ok(Trigger { store, rules })
    }

    pub fn follow(self) -> Follower<Trigger> {
        let store = self.store.clone();
        follow::follow(store, self, follow::Options::default())
    }

    /// The runs `event` fires: active rules on its entity, created before it, whose trigger
    /// fires and whose conditions the record meets as the change left it (as it was, for a
    /// deletion).
    async fn fired(&self, e: &ChangeEvent) -> Result<Vec<NewRuleRun>, StoreError> {
        let change = Change {
            action: &e.action,
            before: e.before.as_ref(),
            after: e.after.as_ref(),
        };
        let state = change.after.or(change.before);
        let mut runs = vec![];
        let mut depth = None;
        for r in &self.rules {
            let Some(def) = r.data.target() else { continue };
            if def.name != e.entity
                || r.meta.created_at > e.at
                || !r.data.trigger.fires(&change)
                || !state.is_some_and(|s| meets_all(def, &r.data.conditions, s))
            {
                continue;
            }
            let d = match depth {
                Some(d) => d,
                None => {
                    let d = self.depth_of(e).await?;
                    depth = Some(d);
                    d
                }
            };
            runs.push(NewRuleRun {
                rule_id: r.meta.id,
                entity: e.entity.clone(),
                record_id: e.record_id,
                seq: e.seq,
                depth: d,
                refused: (d > MAX_DEPTH).then(|| {
                    format!("refused: {d} rules in a chain, at most {MAX_DEPTH} (a rule loop?)")
                }),
            });
        }
        Ok(runs)
    }

    /// 1 for a change a person made; one deeper than the rule's write that made it.
    async fn depth_of(&self, e: &ChangeEvent) -> Result<i64, StoreError> {
        Ok(self
            .store
            .rule_write_depth(e.actor_id, e.record_id)
            .await?
            .map_or(1, |d| d + 1))
    }
}

async fn active_rules(store: &Store) -> Result<Vec<Record<Rule>>, StoreError> {
    let mut out = vec![];
    let mut q = ListQuery::default()
        .filter(Filter::new("active", Op::Eq, true))
        .limit(guanxi_domain::filter::MAX_LIMIT);
    loop {
        let page = store.list::<Rule>(&Actor::system(), &q).await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => q = q.after(Some(c)),
            None => return Ok(out),
        }
    }
}

impl Subscriber for Trigger {
    type Error = StoreError;

    fn name(&self) -> &str {
        SUBSCRIBER
    }

    /// The batch's runs, their jobs and the follower's new position commit together: one
    /// write per batch, and a crash before it leaves the batch to be offered again.
    async fn handle(&mut self, events: &[ChangeEvent]) -> Result<(), StoreError> {
        let mut fired = vec![];
        for e in events {
            if e.entity == Rule::DEF.name {
                self.rules = active_rules(&self.store).await?;
                let saved = self.rules.iter().find(|r| r.meta.id == e.record_id);
                if let Some(arm) = saved.and_then(timed_rules::arm_job) {
                    self.store.enqueue(&[arm]).await?;
                }
                continue;
            }
            let timers = timed_rules::timers_for(&self.rules, e);
            if !timers.is_empty() {
                self.store.enqueue(&timers).await?;
            }
            fired.extend(self.fired(e).await?);
        }
        let Some(last) = events.last().filter(|_| !fired.is_empty()) else {
            return Ok(());
        };
        self.store
            .record_rule_runs_and_advance(SUBSCRIBER, last.seq, &fired, run_job)
            .await?;
        Ok(())
    }
}

/// The job that carries out a run, keyed by it.
fn run_job(r: &RuleRun) -> NewJob {
    NewJob::new(JOB_KIND, json!({ "run": r.id })).key(format!("rule:{}", r.id))
}

/// Record runs fired by a time and queue a job for each new one (the follower records
/// the runs changes fire with its position, in one transaction).
pub(crate) async fn queue_runs(store: &Store, fired: &[NewRuleRun]) -> Result<(), StoreError> {
    let runs = store.record_rule_runs(fired).await?;
    let jobs: Vec<NewJob> = runs
        .iter()
        .filter(|r| r.status == "queued")
        .map(run_job)
        .collect();
    if !jobs.is_empty() {
        store.enqueue(&jobs).await?;
    }
    Ok(())
}

/// Does a run's actions.
pub struct RunRule {
    pub store: Store,
    /// Where the `send_email` actions' mail goes out.
    pub outbox: Outbox,
}

impl Handler for RunRule {
    fn kind(&self) -> &str {
        JOB_KIND
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let id = job.payload["run"]
            .as_str()
            .and_then(|s| Id::parse(s).ok())
            .ok_or_else(|| JobError::permanent("the job names no rule run"))?;
        let run = self.store.rule_run(id).await.map_err(transient)?;
        if run.status != "queued" {
            return Ok(());
        }
        let rule = match self.store.get::<Rule>(&Actor::system(), run.rule_id).await {
            Ok(r) => r,
            Err(StoreError::NotFound { .. }) => {
                return finish(&self.store, &run, vec![], Some("the rule was deleted")).await;
            }
            Err(e) => return Err(transient(e)),
        };
        let outcome = guanxi_domain::with_entity!(
            run.entity.as_str(),
            T => act::<T>(&self.store, &self.outbox, &rule, &run).await,
            _ => Err(Failure::Permanent(format!("rules do not run on {}", run.entity), vec![]))
        );
        match outcome {
            Ok(done) => finish(&self.store, &run, done, None).await,
            Err(Failure::Permanent(why, done)) => finish(&self.store, &run, done, Some(&why)).await,
            Err(Failure::Transient(e)) => Err(JobError::retry(e)),
        }
    }
}

/// Why a run stopped: trouble that may pass (tried again), or a refusal (the run fails,
/// with what its earlier actions did).
enum Failure {
    Transient(String),
    Permanent(String, Vec<Value>),
}

fn transient(e: StoreError) -> JobError {
    JobError::retry(e)
}

/// Whether trying a failed write again can help: not when the input or the right is wrong.
fn lasting(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Invalid(_)
            | StoreError::Forbidden { .. }
            | StoreError::NotFound { .. }
            | StoreError::Duplicate { .. }
    )
}

async fn finish(
    store: &Store,
    run: &RuleRun,
    done: Vec<Value>,
    error: Option<&str>,
) -> Result<(), JobError> {
    let status = if error.is_some() { "failed" } else { "done" };
    store
        .finish_rule_run(run.id, status, &Value::Array(done), error)
        .await
        .map_err(transient)
}

/// Do the rule's actions on the run's record, in order; what each did.
async fn act<T: Entity>(
    store: &Store,
    outbox: &Outbox,
    rule: &Record<Rule>,
    run: &RuleRun,
) -> Result<Vec<Value>, Failure> {
    let mut done = vec![];
    for (i, action) in rule.data.actions.iter().enumerate() {
        // A write that lost a race with another is tried again on the record as it is now.
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            match one::<T>(store, outbox, rule, run, i, action).await {
                Err(Failed::Store(StoreError::Conflict { .. })) if attempt < 3 => continue,
                other => break other,
            }
        };
        match result {
            Ok(what) => done.push(json!({ "action": i, "did": what })),
            Err(e) if !e.is_transient() => {
                let why = format!("action {}: {e}", i + 1);
                done.push(json!({ "action": i, "error": e.to_string() }));
                return Err(Failure::Permanent(why, done));
            }
            Err(e) => return Err(Failure::Transient(format!("action {}: {e}", i + 1))),
        }
    }
    Ok(done)
}

/// Why an action failed: a write, or sending mail.
#[derive(Debug, thiserror::Error)]
enum Failed {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] mail::SendError),
}

impl Failed {
    fn is_transient(&self) -> bool {
        match self {
            Failed::Store(e) => !lasting(e),
            Failed::Mail(e) => e.is_transient(),
        }
    }
}

/// One action; what it did (`unchanged` when its effect was already there: a run tried
/// again does nothing twice).
async fn one<T: Entity>(
    store: &Store,
    outbox: &Outbox,
    rule: &Record<Rule>,
    run: &RuleRun,
    index: usize,
    action: &Action,
) -> Result<Value, Failed> {
    let actor = Actor::rule(rule.meta.id);
    let record = store.get::<T>(&actor, run.record_id).await?;
    let json = record.to_json();
    let write =
        |ids: Vec<Id>| async move { store.note_rule_writes(rule.meta.id, &ids, run.depth).await };
    match action {
        Action::AssignOwner { to } => {
            let owner = assignee::<T>(store, rule, &record, to).await?;
            if record.meta.owner_id == Some(owner) {
                return Ok(json!({ "owner_id": owner, "unchanged": true }));
            }
            write(vec![record.meta.id]).await?;
            reassign(store, &actor, &record, owner).await?;
            Ok(json!({ "owner_id": owner }))
        }
        Action::Notify { to, message } => {
            let user = assignee::<T>(store, rule, &record, to).await?;
            let sent = notify(store, rule, run, index, &json, T::DEF, &[user], message).await?;
            Ok(json!({ "notified": [user], "new": sent }))
        }
        Action::Escalate { to, message } => {
            let owner = assignee::<T>(store, rule, &record, to).await?;
            if record.meta.owner_id != Some(owner) {
                write(vec![record.meta.id]).await?;
                reassign(store, &actor, &record, owner).await?;
            }
            let managers = managers_of(store, owner).await?;
            let sent = notify(store, rule, run, index, &json, T::DEF, &managers, message).await?;
            Ok(json!({ "owner_id": owner, "notified": managers, "new": sent }))
        }
        Action::UpdateField { field, value } => {
            let (current, body) = match field.strip_prefix("custom.") {
                Some(key) => (&json["custom"][key], json!({ "custom": { key: value } })),
                None => (&json[field.as_str()], json!({ field.as_str(): value })),
            };
            if current == value {
                return Ok(json!({ "field": field, "unchanged": true }));
            }
            write(vec![record.meta.id]).await?;
            records::patch::<T>(store, &actor, record.meta.id, record.meta.version, body)
                .await
                .map_err(app_to_store)?;
            Ok(json!({ "field": field, "value": value }))
        }
        Action::AddTag { tag } => {
            let mut tags: Vec<Value> = json["tags"].as_array().cloned().unwrap_or_default();
            if tags.iter().any(|t| t.as_str() == Some(tag.as_str())) {
                return Ok(json!({ "tag": tag, "unchanged": true }));
            }
            tags.push(Value::String(tag.clone()));
            write(vec![record.meta.id]).await?;
            records::patch::<T>(
                store,
                &actor,
                record.meta.id,
                record.meta.version,
                json!({ "tags": tags }),
            )
            .await
            .map_err(app_to_store)?;
            Ok(json!({ "tag": tag }))
        }
        Action::CallWebhook { webhook_id } => {
            let key = format!("rule:{}:{index}", run.id);
            Ok(crate::webhooks::call::<T>(store, *webhook_id, run.record_id, run.seq, key).await?)
        }
        Action::CreateTask {
            assignee: who,
            subject,
            due_in_hours,
        } => {
            let id = task_id(run, index);
            if store.get::<Interaction>(&Actor::system(), id).await.is_ok() {
                return Ok(json!({ "task_id": id, "unchanged": true }));
            }
            let owner = assignee::<T>(store, rule, &record, who).await?;
            let task = Interaction {
                kind: InteractionKind::Task,
                direction: None,
                status: InteractionStatus::Planned,
                at: run.at + Duration::hours(*due_in_hours),
                subject: subject.clone(),
                body: None,
                outcome: None,
                account_id: link(&json, T::DEF, "account"),
                contact_id: link(&json, T::DEF, "contact"),
                opportunity_id: link(&json, T::DEF, "opportunity"),
                case_id: link(&json, T::DEF, "case"),
                campaign_id: None,
                parts: vec![],
            };
            let mut new = NewRecord::new(task);
            new.id = Some(id);
            new.owner_id = Some(owner);
            write(vec![id]).await?;
            store.create(&actor, new).await?;
            Ok(json!({ "task_id": id, "owner_id": owner }))
        }
        Action::PostToRobot { robot_id, message } => {
            match store.get::<Robot>(&Actor::system(), *robot_id).await {
                Ok(r) if r.data.active => {}
                Ok(_) => return Ok(json!({ "robot_id": robot_id, "refused": "robot_off" })),
                Err(StoreError::NotFound { .. }) => {
                    return Ok(json!({ "robot_id": robot_id, "refused": "no_robot" }));
                }
                Err(e) => return Err(e.into()),
            }
            let post = robots::Post {
                robot_id: *robot_id,
                title: message.clone(),
                text: format!("{} · {}", rule.data.name, T::DEF.title_of(&json)),
                about: Some((T::DEF.name.to_string(), run.record_id)),
            };
            let key = format!("robot:{}:rule:{}:{index}", robot_id, run.id);
            store.enqueue(&[post.job(Some(key))]).await?;
            Ok(json!({ "robot_id": robot_id }))
        }
        Action::SendEmail { template_id } => {
            let Some(contact) = mail::contact_of(T::DEF.name, &json) else {
                return Ok(json!({ "refused": "no_contact" }));
            };
            let key = format!("rule:{}:{index}", run.id);
            // The interaction it writes is the rule's write, one level deeper in a chain.
            write(vec![records::derived_id(run.at, &key)]).await?;
            let sent = mail::send_template(
                store,
                outbox,
                &actor,
                *template_id,
                contact,
                &key,
                run.at,
                None,
            )
            .await?;
            Ok(match sent {
                mail::Outcome::Sent {
                    interaction_id,
                    category,
                } => json!({ "interaction_id": interaction_id, "category": category }),
                mail::Outcome::AlreadySent { interaction_id } => {
                    json!({ "interaction_id": interaction_id, "unchanged": true })
                }
                mail::Outcome::Refused(why) => {
                    json!({ "contact_id": contact, "refused": why.code() })
                }
            })
        }
    }
}

async fn reassign<T: Entity>(
    store: &Store,
    actor: &Actor,
    record: &Record<T>,
    owner: Id,
) -> Result<(), StoreError> {
    store
        .update::<T, _>(actor, record.meta.id, record.meta.version, move |r| {
            r.meta.owner_id = Some(owner);
            Ok(())
        })
        .await
        .map(drop)
}

/// Notify `users` of the record with the rule's message, once per run, action and user.
#[allow(clippy::too_many_arguments)]
async fn notify(
    store: &Store,
    rule: &Record<Rule>,
    run: &RuleRun,
    index: usize,
    record: &Value,
    def: &EntityDef,
    users: &[Id],
    message: &str,
) -> Result<usize, StoreError> {
    let sent: Vec<NewNotification> = users
        .iter()
        .map(|u| {
            NewNotification::new(*u, "rule", message)
                .body(format!("{} · {}", rule.data.name, def.title_of(record)))
                .about(def.name, run.record_id)
                .source(format!("rule:{}", rule.meta.id))
                .key(format!("rule:{}:{index}:{u}", run.id))
        })
        .collect();
    crate::robots::send(store, &sent).await
}

/// The managers of a user's team: its active members with the manager role.
async fn managers_of(store: &Store, user: Id) -> Result<Vec<Id>, StoreError> {
    let u = store.get::<User>(&Actor::system(), user).await?;
    let Some(team) = u.data.team_id else {
        return Ok(vec![]);
    };
    let q = ListQuery::default()
        .filter(Filter::new("team_id", Op::Eq, team.to_string()))
        .filter(Filter::new("role", Op::Eq, "manager"))
        .filter(Filter::new("active", Op::Eq, true))
        .limit(100);
    let page = store.list::<User>(&Actor::system(), &q).await?;
    Ok(page.items.into_iter().map(|m| m.meta.id).collect())
}

/// A task's link to the record's `entity` (`account`, …): the record itself when it is
/// one, else the reference it holds (`account_id`).
fn link(record: &Value, def: &EntityDef, entity: &str) -> Option<Id> {
    let text = if def.name == entity {
        record["id"].as_str()
    } else {
        record[format!("{entity}_id").as_str()].as_str()
    };
    text.and_then(|s| Id::parse(s).ok())
}

/// The id of the task a run's action creates: the same on every attempt.
fn task_id(run: &RuleRun, index: usize) -> Id {
    records::derived_id(run.at, &format!("{}:{index}", run.id))
}

/// The user an assignment names.
async fn assignee<T: Entity>(
    store: &Store,
    rule: &Record<Rule>,
    record: &Record<T>,
    who: &Assignee,
) -> Result<Id, StoreError> {
    let none = |why: &str| StoreError::invalid("assignee", "invalid", why.to_string());
    match who {
        Assignee::Owner => record
            .meta
            .owner_id
            .ok_or_else(|| none("the record has no owner")),
        Assignee::User { user_id } => {
            let u = store.get::<User>(&Actor::system(), *user_id).await?;
            if !u.data.active {
                return Err(none("the user is deactivated"));
            }
            Ok(*user_id)
        }
        Assignee::RoundRobin { team_id } => {
            let members = members(store, *team_id).await?;
            store
                .take_turn(rule.meta.id, *team_id, &members)
                .await?
                .ok_or_else(|| none("the team has no active member"))
        }
        Assignee::LeastLoaded { team_id } => {
            let members = members(store, *team_id).await?;
            let mut load = std::collections::HashMap::new();
            for m in &members {
                let q = ListQuery::default()
                    .filter(Filter::new("owner_id", Op::Eq, m.to_string()))
                    .limit(1)
                    .counted();
                let n = store
                    .list::<T>(&Actor::system(), &q)
                    .await?
                    .total
                    .unwrap_or(0);
                load.insert(*m, n.max(0) as u64);
            }
            least_loaded(&members, |m| load.get(&m).copied().unwrap_or(0))
                .ok_or_else(|| none("the team has no active member"))
        }
    }
}

/// A team's active members, by id (the order a round robin takes them in).
async fn members(store: &Store, team_id: Id) -> Result<Vec<Id>, StoreError> {
    let q = ListQuery::default()
        .filter(Filter::new("team_id", Op::Eq, team_id.to_string()))
        .filter(Filter::new("active", Op::Eq, true))
        .sort_by("id", false)
        .limit(guanxi_domain::filter::MAX_LIMIT);
    let page = store.list::<User>(&Actor::system(), &q).await?;
    Ok(page.items.into_iter().map(|u| u.meta.id).collect())
}

/// The store's error under a use case's, for the retry decision.
fn app_to_store(e: crate::AppError) -> StoreError {
    match e {
        crate::AppError::Store(s) => s,
        other => StoreError::invalid("actions", "invalid", other.to_string()),
    }
}

/// Start following the log for rules, on the store's follower.
pub async fn start(store: Store) -> Result<Follower<Trigger>, StoreError> {
    Ok(Trigger::open(store).await?.follow())
}

/// What a rule would do to a record, for the rule form's test button: nothing is written.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct TestReport {
    /// Whether the record meets every condition, as it is now.
    pub meets: bool,
    pub conditions: Vec<ConditionResult>,
    /// The actions that would run, as written, when the record meets the conditions.
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct ConditionResult {
    pub condition: Filter,
    pub met: bool,
}

/// Run a rule's conditions against a record the actor may see, and say what it would do.
pub async fn test(
    store: &Store,
    actor: &Actor,
    rule_id: Id,
    record_id: Id,
) -> Result<TestReport, crate::AppError> {
    let rule = store.get::<Rule>(actor, rule_id).await?;
    let def = rule.data.target().ok_or_else(|| {
        StoreError::invalid("entity", "invalid", "the rule watches no customer records")
    })?;
    let record = guanxi_domain::with_entity!(
        def.name,
        T => store.get::<T>(actor, record_id).await.map(|r| r.to_json()),
        _ => Err(StoreError::NotFound { entity: "record", id: record_id })
    )?;
    let conditions: Vec<ConditionResult> = rule
        .data
        .conditions
        .iter()
        .map(|c| ConditionResult {
            met: guanxi_domain::rules::meets(def, c, &record),
            condition: c.clone(),
        })
        .collect();
    let meets = conditions.iter().all(|c| c.met);
    Ok(TestReport {
        meets,
        conditions,
        actions: if meets { rule.data.actions } else { vec![] },
    })
}

/// The newest runs of a rule, or on a record, for those who may read rules.
pub async fn runs(
    store: &Store,
    actor: &Actor,
    of: guanxi_store::RunsOf,
    limit: u32,
) -> Result<Vec<RuleRun>, crate::AppError> {
    Ok(store.rule_runs(actor, of, limit).await?)
}
