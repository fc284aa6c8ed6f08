//! Rules fired by a time rather than a change: a relative time ("3 days before
//! `expected_close`", "2 hours after `sla_due_at`") or a schedule ("every day at 09:00").
//! Both are durable jobs with a run time, so they survive restarts:
//!
//! - a **timer** (`rule.timer`) per rule, record and moment, queued when a change sets the
//!   date (by the rules follower) or when the rule is saved (for the records already
//!   dated). When it comes due it checks that the record still has that date and meets the
//!   conditions now, then queues a run like a change would;
//! - an **occurrence** (`rule.schedule`) per rule and moment: it queues a run for every
//!   record meeting the conditions then, and the next occurrence.
//!
//! Each is keyed by its moment, so queuing twice changes nothing; a timer or an occurrence
//! the rule no longer names (its date moved, the rule was edited or switched off) does
//! nothing when it comes due. A time already past when a date is set does not fire.

use crate::i18n::display_offset;
use crate::jobs::{Handler, JobError};
use crate::rules::queue_runs;
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::entities::Rule;
use guanxi_domain::filter::{ListQuery, MAX_LIMIT};
use guanxi_domain::rules::{Trigger, due_at, meets_all, next_occurrence};
use guanxi_domain::{Actor, Entity, Id, Record};
use guanxi_store::{ChangeEvent, Job, NewJob, NewRuleRun, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The job kind of a relative trigger's timer.
pub const TIMER: &str = "rule.timer";
/// The job kind of a schedule's occurrence.
pub const OCCURRENCE: &str = "rule.schedule";
/// The job kind that queues a saved rule's timers or first occurrence.
pub const ARM: &str = "rule.arm";

/// The most records one occurrence runs a rule on, or one save arms timers for, per page.
const PAGE: u32 = 500;

#[derive(Debug, Serialize, Deserialize)]
struct Timer {
    rule: Id,
    record: Id,
    due: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Occurrence {
    rule: Id,
    at: DateTime<Utc>,
}

fn timer_job(rule: Id, record: Id, due: DateTime<Utc>) -> NewJob {
    NewJob::new(TIMER, json!(Timer { rule, record, due }))
        .key(format!("rule-timer:{rule}:{record}:{}", due.timestamp()))
        .at(due)
}

fn occurrence_job(rule: Id, at: DateTime<Utc>) -> NewJob {
    NewJob::new(OCCURRENCE, json!(Occurrence { rule, at }))
        .key(format!("rule-schedule:{rule}:{}", at.timestamp()))
        .at(at)
}

/// The job that arms a rule as saved (by its version: a save arms once).
pub(crate) fn arm_job(rule: &Record<Rule>) -> Option<NewJob> {
    (rule.data.active && rule.data.trigger.is_timed()).then(|| {
        NewJob::new(ARM, json!({ "rule": rule.meta.id }))
            .key(format!("rule-arm:{}:{}", rule.meta.id, rule.meta.version))
    })
}

/// The timers a change sets: for each active relative rule on the record's entity whose
/// date the change moved to a time still to come.
pub(crate) fn timers_for(rules: &[Record<Rule>], e: &ChangeEvent) -> Vec<NewJob> {
    let mut out = vec![];
    for r in rules {
        let (
            Trigger::Relative {
                field,
                offset_minutes,
            },
            Some(def),
        ) = (&r.data.trigger, r.data.target())
        else {
            continue;
        };
        if def.name != e.entity {
            continue;
        }
        let due = |v: Option<&Value>| {
            v.and_then(|v| due_at(def, field, *offset_minutes, v, display_offset()))
        };
        let (before, after) = (due(e.before.as_ref()), due(e.after.as_ref()));
        if let Some(t) = after
            && after != before
            && t > e.at
        {
            out.push(timer_job(r.meta.id, e.record_id, t));
        }
    }
    out
}

fn payload<T: for<'de> Deserialize<'de>>(job: &Job) -> Result<T, JobError> {
    serde_json::from_value(job.payload.clone())
        .map_err(|e| JobError::permanent(format!("the job's payload: {e}")))
}

/// The rule as it is now, when it is still active (`None` when deleted or switched off).
async fn active_rule(store: &Store, id: Id) -> Result<Option<Record<Rule>>, JobError> {
    match store.get::<Rule>(&Actor::system(), id).await {
        Ok(r) if r.data.active => Ok(Some(r)),
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(JobError::retry(e)),
    }
}

/// Arms a saved rule: a relative rule's timers for the records already dated in the
/// future, a schedule's next occurrence.
pub struct ArmRule {
    pub store: Store,
}

impl Handler for ArmRule {
    fn kind(&self) -> &str {
        ARM
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let id = job.payload["rule"]
            .as_str()
            .and_then(|s| Id::parse(s).ok())
            .ok_or_else(|| JobError::permanent("the job names no rule"))?;
        let Some(rule) = active_rule(&self.store, id).await? else {
            return Ok(());
        };
        let now = Utc::now();
        match &rule.data.trigger {
            Trigger::Schedule { at, days } => {
                if let Some(next) = next_occurrence(at, days, now, display_offset()) {
                    let jobs = [occurrence_job(id, next)];
                    self.store.enqueue(&jobs).await.map_err(JobError::retry)?;
                }
                Ok(())
            }
            Trigger::Relative { .. } => {
                let Some(def) = rule.data.target() else {
                    return Ok(());
                };
                guanxi_domain::with_entity!(
                    def.name,
                    T => arm_dated::<T>(&self.store, &rule, now).await,
                    _ => Ok(())
                )
                .map_err(JobError::retry)
            }
            _ => Ok(()),
        }
    }
}

/// Queue the timers of a relative rule for every record whose moment is still to come,
/// reading only records whose date could make it so.
async fn arm_dated<T: Entity>(
    store: &Store,
    rule: &Record<Rule>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Trigger::Relative {
        field,
        offset_minutes,
    } = &rule.data.trigger
    else {
        return Ok(());
    };
    // The date must lie after now minus the offset; a day's slack covers a date's time.
    let from = now - Duration::minutes(*offset_minutes) - Duration::days(1);
    let bound = match T::DEF.field(field).map(|f| f.ty) {
        Some(guanxi_domain::FieldType::Date) => json!(from.format("%Y-%m-%d").to_string()),
        _ => json!(from.to_rfc3339()),
    };
    let mut q = ListQuery::default()
        .filter(guanxi_domain::filter::Filter::new(
            field.as_str(),
            guanxi_domain::filter::Op::Gt,
            bound,
        ))
        .limit(PAGE);
    loop {
        let page = store.list::<T>(&Actor::system(), &q).await?;
        let jobs: Vec<NewJob> = page
            .items
            .iter()
            .filter_map(|r| {
                let due = due_at(
                    T::DEF,
                    field,
                    *offset_minutes,
                    &r.to_json(),
                    display_offset(),
                )?;
                (due > now).then(|| timer_job(rule.meta.id, r.meta.id, due))
            })
            .collect();
        if !jobs.is_empty() {
            store.enqueue(&jobs).await?;
        }
        match page.next_cursor {
            Some(c) => q = q.after(Some(c)),
            None => return Ok(()),
        }
    }
}

/// A relative rule's timer come due.
pub struct FireTimer {
    pub store: Store,
}

impl Handler for FireTimer {
    fn kind(&self) -> &str {
        TIMER
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let t: Timer = payload(job)?;
        let Some(rule) = active_rule(&self.store, t.rule).await? else {
            return Ok(());
        };
        let (
            Trigger::Relative {
                field,
                offset_minutes,
            },
            Some(def),
        ) = (&rule.data.trigger, rule.data.target())
        else {
            return Ok(());
        };
        let record = guanxi_domain::with_entity!(
            def.name,
            T => self.store.get::<T>(&Actor::system(), t.record).await.map(|r| r.to_json()),
            _ => return Ok(())
        );
        let record = match record {
            Ok(r) => r,
            Err(StoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(JobError::retry(e)),
        };
        // The date moved since (another timer stands for it), or the record no longer
        // meets the conditions ("if still open").
        if due_at(def, field, *offset_minutes, &record, display_offset()) != Some(t.due)
            || !meets_all(def, &rule.data.conditions, &record)
        {
            return Ok(());
        }
        let run = NewRuleRun::due(t.rule, def.name, t.record, t.due);
        queue_runs(&self.store, &[run])
            .await
            .map_err(JobError::retry)
    }
}

/// A schedule's occurrence come due.
pub struct FireSchedule {
    pub store: Store,
}

impl Handler for FireSchedule {
    fn kind(&self) -> &str {
        OCCURRENCE
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let o: Occurrence = payload(job)?;
        let Some(rule) = active_rule(&self.store, o.rule).await? else {
            return Ok(());
        };
        let (Trigger::Schedule { at, days }, Some(def)) = (&rule.data.trigger, rule.data.target())
        else {
            return Ok(());
        };
        let zone = display_offset();
        // An occurrence of a schedule since edited is not one of its moments.
        if next_occurrence(at, days, o.at - Duration::seconds(1), zone) != Some(o.at) {
            return Ok(());
        }
        // The next one first, so the chain goes on whatever happens below; days missed
        // while no server ran are not made up.
        if let Some(next) = next_occurrence(at, days, o.at.max(Utc::now()), zone) {
            let jobs = [occurrence_job(o.rule, next)];
            self.store.enqueue(&jobs).await.map_err(JobError::retry)?;
        }
        guanxi_domain::with_entity!(
            def.name,
            T => run_on_matching::<T>(&self.store, &rule, o.at).await,
            _ => Ok(())
        )
        .map_err(JobError::retry)
    }
}

/// Queue a run of the rule for each record that meets its conditions now.
async fn run_on_matching<T: Entity>(
    store: &Store,
    rule: &Record<Rule>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut q = ListQuery::default().limit(PAGE.min(MAX_LIMIT));
    for c in &rule.data.conditions {
        q = q.filter(c.clone());
    }
    loop {
        let page = store.list::<T>(&Actor::system(), &q).await?;
        let runs: Vec<NewRuleRun> = page
            .items
            .iter()
            .map(|r| NewRuleRun::due(rule.meta.id, T::DEF.name, r.meta.id, at))
            .collect();
        if !runs.is_empty() {
            queue_runs(store, &runs).await?;
        }
        match page.next_cursor {
            Some(c) => q = q.after(Some(c)),
            None => return Ok(()),
        }
    }
}
