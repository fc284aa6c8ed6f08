//! SLA clocks: the policies and calendars in force, a case's clock settled with the
//! status changes of a batch, the sweep that writes warnings and breaches as they come
//! due, and the recomputation of every open case after a calendar or a policy changed.

use crate::jobs::{Handler, JobError};
use chrono::{DateTime, Duration, DurationRound, Utc};
use guanxi_domain::entities::{Account, BusinessTime, Calendar, Case, CaseStatus, SlaPolicy};
use guanxi_domain::filter::{Filter, ListQuery, MAX_LIMIT, Op};
use guanxi_domain::sla::{AccountFacts, Clock, covering};
use guanxi_domain::{Actor, Entity, Id, Record};
use guanxi_store::{ChangeEvent, Job, NewJob, Store, StoreError};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// The sweep's job kind: every minute, the cases whose state changes by itself now.
pub const SWEEP: &str = "sla.sweep";
/// Every open case's clock computed again (a calendar or a policy changed).
pub const RECOMPUTE: &str = "sla.recompute";

/// The policies and calendars in force, calendars compiled for arithmetic.
#[derive(Default)]
pub struct Setup {
    policies: Vec<(Id, SlaPolicy)>,
    calendars: HashMap<Id, Arc<BusinessTime>>,
}

/// Every live record of `T`, read a page at a time as the system.
pub(crate) async fn all<T: Entity>(
    store: &Store,
    filters: Vec<Filter>,
) -> Result<Vec<Record<T>>, StoreError> {
    let mut out = vec![];
    let mut cursor = None;
    loop {
        let mut q = ListQuery::default().limit(MAX_LIMIT).after(cursor);
        q.filters = filters.clone();
        let page = store.list::<T>(&Actor::system(), &q).await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

impl Setup {
    pub async fn load(store: &Store) -> Result<Setup, StoreError> {
        let policies = all::<SlaPolicy>(store, vec![Filter::new("active", Op::Eq, true)])
            .await?
            .into_iter()
            .map(|r| (r.meta.id, r.data))
            .collect();
        let mut calendars = HashMap::new();
        for c in all::<Calendar>(store, vec![]).await? {
            match c.data.business_time() {
                Ok(t) => {
                    calendars.insert(c.meta.id, Arc::new(t));
                }
                Err(e) => tracing::warn!("calendar {}: {e}", c.meta.id),
            }
        }
        Ok(Setup {
            policies,
            calendars,
        })
    }

    /// The business time of a policy's calendar.
    pub fn time_of(&self, policy: Id) -> Option<&BusinessTime> {
        let (_, p) = self.policies.iter().find(|(id, _)| *id == policy)?;
        self.calendars.get(&p.calendar_id).map(|t| t.as_ref())
    }

    /// The policy covering the case and its calendar's business time.
    fn for_case(
        &self,
        case: &Case,
        account: AccountFacts,
    ) -> Option<(Id, &SlaPolicy, &BusinessTime)> {
        let (id, policy) = covering(&self.policies, case, account)?;
        let time = self.calendars.get(&policy.calendar_id)?;
        Some((*id, policy, time))
    }
}

/// What of an account an SLA policy is matched on.
fn facts_of(account: Option<&Record<Account>>) -> AccountFacts {
    account
        .map(|a| AccountFacts {
            tier: a.data.tier,
            grade: a.data.grade,
        })
        .unwrap_or_default()
}

fn status_in(v: Option<&serde_json::Value>) -> Option<CaseStatus> {
    v?.get("status")?.as_str()?.parse().ok()
}

/// The case's clock at `now`, its history moved by `events` (the case's own changes, in
/// order). A case no policy covers has none.
pub fn settle(
    setup: &Setup,
    case: &Record<Case>,
    account: Option<&Record<Account>>,
    events: &[&ChangeEvent],
    now: DateTime<Utc>,
) -> Clock {
    settle_facts(
        setup,
        &case.data,
        case.meta.created_at,
        facts_of(account),
        events,
        now,
    )
}

/// [`settle`] on the case's fields and its account's facts.
fn settle_facts(
    setup: &Setup,
    case: &Case,
    created_at: DateTime<Utc>,
    account: AccountFacts,
    events: &[&ChangeEvent],
    now: DateTime<Utc>,
) -> Clock {
    let Some((id, policy, time)) = setup.for_case(case, account) else {
        return Clock::default();
    };
    let mut clock = Clock::of(case);
    clock.since.get_or_insert(created_at);
    for e in events {
        let Some(to) = status_in(e.after.as_ref()) else {
            continue;
        };
        let from = status_in(e.before.as_ref()).unwrap_or(CaseStatus::New);
        clock.status_changed(policy, time, from, to, e.at);
    }
    clock.evaluate(case, created_at, id, policy, time, now)
}

/// The sweep at the first minute after `after`, keyed by it (queued once).
pub fn sweep_job(after: DateTime<Utc>) -> NewJob {
    let at = after.duration_trunc(Duration::minutes(1)).unwrap_or(after) + Duration::minutes(1);
    NewJob::new(SWEEP, json!({ "at": at }))
        .key(format!("sla-sweep:{}", at.timestamp()))
        .at(at)
}

/// The recomputation, keyed by what caused it (queued once per cause).
pub fn recompute_job(cause: &str) -> NewJob {
    NewJob::new(RECOMPUTE, json!({})).key(format!("sla-recompute:{cause}"))
}

/// Writes the warnings and breaches that came due, through the write path.
pub struct Sweep {
    pub store: Store,
}

/// How many cases one pass of the sweep takes.
const SWEEP_PAGE: u32 = 200;

impl Handler for Sweep {
    fn kind(&self) -> &str {
        SWEEP
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let at: DateTime<Utc> = serde_json::from_value(job.payload["at"].clone())
            .map_err(|e| JobError::permanent(format!("the job's moment: {e}")))?;
        self.store
            .enqueue(&[sweep_job(at.max(Utc::now()))])
            .await
            .map_err(JobError::retry)?;
        let setup = Setup::load(&self.store).await.map_err(JobError::retry)?;
        sweep(&self.store, &setup, Utc::now())
            .await
            .map_err(JobError::retry)?;
        Ok(())
    }
}

/// Settle every case whose clock's next moment has come by `now`; how many were written.
pub async fn sweep(store: &Store, setup: &Setup, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let mut written = 0;
    loop {
        let q = ListQuery::default()
            .filter(Filter::new("sla_next_at", Op::Le, json!(now)))
            .sort_by("sla_next_at", false)
            .limit(SWEEP_PAGE);
        let due = store.list::<Case>(&Actor::system(), &q).await?.items;
        let mut moved = 0;
        for case in &due {
            let account = super::account_of(store, case).await?;
            let mut next = case.data.clone();
            settle(setup, case, account.as_ref(), &[], now).put(&mut next);
            if next == case.data {
                continue;
            }
            match super::write(store, case, next).await {
                Ok(_) => moved += 1,
                // Written by someone else meanwhile: the service follower settles it.
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        written += moved;
        if moved == 0 || due.len() < SWEEP_PAGE as usize {
            return Ok(written);
        }
    }
}

/// Recomputes every open case's clock with the policies and calendars now in force.
pub struct Recompute {
    pub store: Store,
}

impl Handler for Recompute {
    fn kind(&self) -> &str {
        RECOMPUTE
    }

    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        recompute(&self.store, Utc::now())
            .await
            .map_err(JobError::retry)?;
        Ok(())
    }
}

/// What a recomputation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recomputed {
    pub open: usize,
    /// Clocks whose due dates or policy moved.
    pub moved: usize,
    /// Of those, cases whose state changes too: left to the sweep (due now).
    pub restated: usize,
}

/// Recompute every open case's clock at `now`: the due dates and policies are written at
/// once (one change-log entry); a case whose state changes with them is due to the sweep
/// now, which writes it through the write path so that rules act on it.
pub async fn recompute(store: &Store, now: DateTime<Utc>) -> Result<Recomputed, StoreError> {
    let setup = Setup::load(store).await?;
    let system = Actor::system();
    let mut out = Recomputed::default();
    let mut clocks = vec![];
    for input in store.open_case_clocks(&system).await? {
        out.open += 1;
        let was = Clock::of(&input.case);
        let mut now_ = settle_facts(
            &setup,
            &input.case,
            input.created_at,
            input.account,
            &[],
            now,
        );
        if was.policy_id.is_none() && now_.policy_id.is_none() {
            continue;
        }
        let same = |a: &Clock, b: &Clock| {
            (a.policy_id, a.response_due, a.due, a.next_at)
                == (b.policy_id, b.response_due, b.due, b.next_at)
        };
        if now_.state != was.state || now_.policy_id.is_none() {
            now_.next_at = Some(now);
            out.restated += 1;
        }
        if !same(&was, &now_) {
            if now_.policy_id.is_none() {
                // No longer covered: the hand-set due date stays, the sweep clears the rest.
                now_.due = was.due;
            }
            out.moved += 1;
            clocks.push((input.id, now_));
        }
    }
    let summary = json!({ "open": out.open, "moved": out.moved, "restated": out.restated });
    store
        .save_sla_clocks(&system, now, &clocks, &summary)
        .await?;
    Ok(out)
}
