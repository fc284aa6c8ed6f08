//! Durable jobs: work that must happen at least once (rule actions, webhook deliveries,
//! e-mails, timers), kept in the database so it survives restarts.
//!
//! A worker claims due jobs with a lease: it marks them `running`, owned by it until
//! `lease_until`. On PostgreSQL the claim locks the rows it takes with `FOR UPDATE SKIP
//! LOCKED`, so claimers on several processes never take the same job; on SQLite the single
//! writer does the same. A running job whose lease ran out belongs to a worker that died
//! (or hung) and is claimed again; the old owner's outcome is then refused, so it cannot
//! overwrite the new owner's. Execution is therefore at least once: handlers make their
//! effect idempotent (by job id where the effect is ours).
//!
//! Enqueueing is idempotent by key, and [`Store::enqueue_and_advance`] enqueues and moves a
//! change-log subscriber's position in one transaction, so a follower that turns events into
//! jobs enqueues each exactly once, even across crashes.

use crate::db::{Backend, Kind, Tx, Val};
use crate::records::now;
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use guanxi_domain::Id;
use guanxi_domain::filter::{MAX_LIMIT, Page};
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// How many attempts a job gets unless its [`NewJob`] says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 10;

/// Where a job is in its life: `queued` → `running` → `done`, or back to `queued` after a
/// failure, or `dead` after its last attempt failed; `cancelled` by an administrator (or by
/// whoever enqueued a timer no longer wanted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Dead,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Dead,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What runs it, e.g. `webhook.deliver`, `rule.action`, `email.send`, `timer`.
    pub kind: String,
    /// Enqueueing the same key again finds the first job instead of adding one, e.g.
    /// `rule:<rule id>:<change seq>:<action index>`.
    pub key: Option<String>,
    pub payload: Value,
    /// Not claimed before this instant (now when `None`): how timers are made.
    pub run_at: Option<DateTime<Utc>>,
    pub max_attempts: i32,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: Value) -> NewJob {
        NewJob {
            kind: kind.into(),
            key: None,
            payload,
            run_at: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    pub fn key(mut self, key: impl Into<String>) -> NewJob {
        self.key = Some(key.into());
        self
    }

    pub fn at(mut self, run_at: DateTime<Utc>) -> NewJob {
        self.run_at = Some(run_at);
        self
    }

    pub fn max_attempts(mut self, n: i32) -> NewJob {
        self.max_attempts = n;
        self
    }
}

/// What enqueueing one [`NewJob`] did: `created` is false when a job with its key existed,
/// whose id this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    pub id: Id,
    pub created: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Job {
    pub id: Id,
    pub kind: String,
    pub key: Option<String>,
    pub payload: Value,
    pub state: JobState,
    /// Attempts started so far (a claim starts one).
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What a failed attempt asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again after this wait, if attempts are left; dead otherwise.
    After(Duration),
    /// The failure is permanent (a bad payload, a receiver that refuses): dead now.
    Never,
}

/// What [`Store::fail`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobFailure {
    /// Queued again, not to run before this instant.
    Retrying(DateTime<Utc>),
    /// No attempt left, or the failure was permanent: in the dead letters.
    Dead,
    /// The caller's lease had run out and the job was taken over (or finished): nothing
    /// was changed.
    LeaseLost,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub state: Option<JobState>,
    pub kind: Option<String>,
}

const COLS: &str = "id, kind, key, payload, state, attempts, max_attempts, run_at, lease_owner, \
                    lease_until, last_error, created_at, updated_at, finished_at";
const KINDS: [Kind; 14] = [
    Kind::Uuid,
    Kind::Text,
    Kind::Text,
    Kind::Json,
    Kind::Text,
    Kind::Int,
    Kind::Int,
    Kind::Ts,
    Kind::Text,
    Kind::Ts,
    Kind::Text,
    Kind::Ts,
    Kind::Ts,
    Kind::Ts,
];

fn job_of(row: Vec<Val>) -> Result<Job> {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Val::Null(Kind::Text));
    let id = Id(next().as_uuid().unwrap_or_default());
    let kind = next().into_text().unwrap_or_default();
    let key = next().into_text();
    let payload = match next() {
        Val::Json(v) => v,
        _ => Value::Null,
    };
    let state = next().into_text().unwrap_or_default();
    let state = JobState::parse(&state)
        .ok_or_else(|| StoreError::Corrupt(format!("job {id} has unknown state '{state}'")))?;
    Ok(Job {
        id,
        kind,
        key,
        payload,
        state,
        attempts: next().as_i64().unwrap_or(0) as i32,
        max_attempts: next().as_i64().unwrap_or(0) as i32,
        run_at: next().as_ts().unwrap_or_default(),
        lease_owner: next().into_text(),
        lease_until: next().as_ts(),
        last_error: next().into_text(),
        created_at: next().as_ts().unwrap_or_default(),
        updated_at: next().as_ts().unwrap_or_default(),
        finished_at: next().as_ts(),
    })
}

fn jobs_of(rows: Vec<Vec<Val>>) -> Result<Vec<Job>> {
    rows.into_iter().map(job_of).collect()
}

fn lease_end(at: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX)
}

/// `$n, $n+1, …` for `count` parameters from `first`.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check(job: &NewJob) -> Result<()> {
    if job.kind.trim().is_empty() {
        return Err(StoreError::invalid(
            "kind",
            "required",
            "a job needs a kind",
        ));
    }
    if job.max_attempts < 1 {
        return Err(StoreError::invalid(
            "max_attempts",
            "too_small",
            "a job needs at least one attempt",
        ));
    }
    Ok(())
}

/// Insert the jobs (a key already there: the existing job) inside `tx`.
pub(crate) async fn insert(tx: &mut Tx, jobs: &[NewJob]) -> Result<Vec<Enqueued>> {
    let at = now();
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        check(job)?;
        let id = Id::new();
        let inserted = tx
            .exec(
                &format!(
                    "INSERT INTO jobs ({COLS}) VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, \
                     NULL, NULL, NULL, $7, $7, NULL) ON CONFLICT (key) DO NOTHING"
                ),
                vec![
                    Val::Uuid(id.0),
                    Val::Text(job.kind.clone()),
                    job.key.clone().map_or(Val::Null(Kind::Text), Val::Text),
                    Val::Json(job.payload.clone()),
                    Val::Int(job.max_attempts.into()),
                    Val::Ts(job.run_at.unwrap_or(at)),
                    Val::Ts(at),
                ],
            )
            .await?;
        if inserted == 1 {
            out.push(Enqueued { id, created: true });
            continue;
        }
        // Only a key can conflict: the job enqueued with it first.
        let existing = tx
            .fetch(
                "SELECT id FROM jobs WHERE key = $1",
                vec![Val::Text(job.key.clone().unwrap_or_default())],
                &[Kind::Uuid],
            )
            .await?;
        let id = existing
            .first()
            .and_then(|r| r[0].as_uuid())
            .ok_or_else(|| StoreError::Corrupt("a job key conflicted with no job".into()))?;
        out.push(Enqueued {
            id: Id(id),
            created: false,
        });
    }
    Ok(out)
}

impl Store {
    /// Add jobs to the queue, idempotently by key: a job whose key is already there is not
    /// added again, and its existing id is returned with `created: false`.
    pub async fn enqueue(&self, jobs: &[NewJob]) -> Result<Vec<Enqueued>> {
        let mut tx = self.db.begin().await?;
        let out = insert(&mut tx, jobs).await?;
        tx.commit().await?;
        self.enqueued();
        Ok(out)
    }

    /// [`enqueue`](Self::enqueue), and in the same transaction move the change-log
    /// `subscriber`'s position forward to `seq`: a follower that turns events into jobs
    /// enqueues each batch's jobs exactly once, whenever it crashes.
    pub async fn enqueue_and_advance(
        &self,
        subscriber: &str,
        seq: i64,
        jobs: &[NewJob],
    ) -> Result<Vec<Enqueued>> {
        let mut tx = self.db.begin().await?;
        let out = insert(&mut tx, jobs).await?;
        crate::follow::advance_in(&mut tx, subscriber, seq).await?;
        tx.commit().await?;
        self.enqueued();
        Ok(out)
    }

    /// Wake this process's runners: call after committing an enqueue.
    pub(crate) fn enqueued(&self) {
        self.jobs_enqueued.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes each time this process enqueues, so a worker of the same process starts
    /// without waiting for its next poll (jobs enqueued elsewhere are seen by polling).
    pub fn job_wakeups(&self) -> tokio::sync::watch::Receiver<u64> {
        self.jobs_enqueued.subscribe()
    }

    /// Claim up to `limit` jobs of the given kinds (any kind when `None`) for `owner`: due
    /// queued jobs, oldest due first, and running jobs whose lease expired. Each is marked
    /// running until now + `lease`, and an attempt is counted. A running job whose lease
    /// expired after its last attempt goes to the dead letters instead (a job that kills
    /// its worker does not come back for ever).
    pub async fn claim(
        &self,
        owner: &str,
        kinds: Option<&[&str]>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Job>> {
        let (jobs, _) = self
            .complete_and_claim(&[], owner, kinds, limit, lease)
            .await?;
        Ok(jobs)
    }

    /// Mark the jobs `done` done, then claim as [`Store::claim`] does, in one transaction:
    /// a runner whose jobs finish one after another pays one commit for both (behind
    /// SQLite's one writer each commit waits for an fsync). Returns the jobs claimed and
    /// those of `done` that were no longer `owner`'s (their lease ran out and they were
    /// taken over, or an administrator cancelled them), which are left as they are.
    pub async fn complete_and_claim(
        &self,
        done: &[Id],
        owner: &str,
        kinds: Option<&[&str]>,
        limit: usize,
        lease: Duration,
    ) -> Result<(Vec<Job>, Vec<Id>)> {
        let claiming = limit > 0 && !kinds.is_some_and(|k| k.is_empty());
        if done.is_empty() && !claiming {
            return Ok((vec![], vec![]));
        }
        let at = now();
        let mut tx = self.db.begin().await?;
        let mut lost = vec![];
        for chunk in done.chunks(500) {
            let mut params = vec![Val::Text(owner.into()), Val::Ts(at)];
            params.extend(chunk.iter().map(|id| Val::Uuid(id.0)));
            let rows = tx
                .fetch(
                    &format!(
                        "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, \
                         updated_at = $2, finished_at = $2 \
                         WHERE id IN ({}) AND state = 'running' AND lease_owner = $1 \
                         RETURNING id",
                        placeholders(3, chunk.len())
                    ),
                    params,
                    &[Kind::Uuid],
                )
                .await?;
            let mine: Vec<Id> = rows
                .into_iter()
                .filter_map(|r| r.into_iter().next().and_then(|v| v.as_uuid()).map(Id))
                .collect();
            lost.extend(chunk.iter().filter(|id| !mine.contains(id)));
        }
        if !claiming {
            tx.commit().await?;
            return Ok((vec![], lost));
        }
        tx.exec(
            "UPDATE jobs SET state = 'dead', lease_owner = NULL, lease_until = NULL, \
             last_error = 'the lease ran out during the last attempt (the worker stopped or hung)', \
             updated_at = $1, finished_at = $1 \
             WHERE state = 'running' AND lease_until < $1 AND attempts >= max_attempts",
            vec![Val::Ts(at)],
        )
        .await?;
        let mut params = vec![
            Val::Ts(at),
            Val::Text(owner.into()),
            Val::Ts(lease_end(at, lease)),
            Val::Int(limit.min(MAX_LIMIT as usize) as i64),
        ];
        let kind_filter = match kinds {
            Some(kinds) => {
                let list = placeholders(params.len() + 1, kinds.len());
                params.extend(kinds.iter().map(|k| Val::Text((*k).into())));
                format!("AND kind IN ({list})")
            }
            None => String::new(),
        };
        // Rows another claimer holds are skipped, not waited for; SQLite has one writer.
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // The due queued jobs and the expired leases are taken by two searches of the index
        // on (state, run_at, id), each stopping at the limit: as one query with an OR, both
        // databases read and sort every job the table holds, done ones included, on every
        // claim (a backlog of 100,000 webhook deliveries ran at 35/s).
        let rows = tx
            .fetch(
                &format!(
                    "UPDATE jobs SET state = 'running', lease_owner = $2, lease_until = $3, \
                     attempts = attempts + 1, updated_at = $1 \
                     WHERE id IN (SELECT id FROM ( \
                       SELECT id, run_at FROM (SELECT id, run_at FROM jobs \
                         WHERE state = 'queued' AND run_at <= $1 {kind_filter} \
                         ORDER BY run_at, id LIMIT $4 {lock}) AS due \
                       UNION ALL \
                       SELECT id, run_at FROM (SELECT id, run_at FROM jobs \
                         WHERE state = 'running' AND lease_until < $1 {kind_filter} \
                         ORDER BY run_at, id LIMIT $4 {lock}) AS expired \
                     ) AS claimable ORDER BY run_at, id LIMIT $4) \
                     RETURNING {COLS}"
                ),
                params,
                &KINDS,
            )
            .await?;
        tx.commit().await?;
        let mut jobs = jobs_of(rows)?;
        jobs.sort_by_key(|j| (j.run_at, j.id.0));
        Ok((jobs, lost))
    }

    /// Mark a job done. `false` when it is no longer `owner`'s (its lease ran out and it
    /// was taken over, or an administrator cancelled it): nothing is changed then.
    pub async fn complete(&self, id: Id, owner: &str) -> Result<bool> {
        let (_, lost) = self
            .complete_and_claim(&[id], owner, None, 0, Duration::ZERO)
            .await?;
        Ok(lost.is_empty())
    }

    /// Record a failed attempt: queued again after the wait `retry` asks for, or dead when
    /// it asks for none or no attempt is left. Refused ([`JobFailure::LeaseLost`]) when the job
    /// is no longer `owner`'s.
    pub async fn fail(&self, id: Id, owner: &str, error: &str, retry: Retry) -> Result<JobFailure> {
        let at = now();
        let mut tx = self.db.begin().await?;
        let rows = tx
            .fetch(
                "SELECT attempts, max_attempts FROM jobs \
                 WHERE id = $1 AND state = 'running' AND lease_owner = $2",
                vec![Val::Uuid(id.0), Val::Text(owner.into())],
                &[Kind::Int, Kind::Int],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(JobFailure::LeaseLost);
        };
        let attempts_left = row[0].as_i64().unwrap_or(0) < row[1].as_i64().unwrap_or(0);
        let outcome = match retry {
            Retry::After(wait) if attempts_left => JobFailure::Retrying(lease_end(at, wait)),
            _ => JobFailure::Dead,
        };
        let (state, run_at, finished) = match outcome {
            JobFailure::Retrying(run_at) => ("queued", Val::Ts(run_at), Val::Null(Kind::Ts)),
            _ => ("dead", Val::Null(Kind::Ts), Val::Ts(at)),
        };
        // Same condition as the read: on PostgreSQL another claimer may have taken the job
        // over in between, and then this changes nothing.
        let n = tx
            .exec(
                "UPDATE jobs SET state = $3, run_at = COALESCE($4, run_at), lease_owner = NULL, \
                 lease_until = NULL, last_error = $5, updated_at = $6, finished_at = $7 \
                 WHERE id = $1 AND state = 'running' AND lease_owner = $2",
                vec![
                    Val::Uuid(id.0),
                    Val::Text(owner.into()),
                    Val::Text(state.into()),
                    run_at,
                    Val::Text(error.into()),
                    Val::Ts(at),
                    finished,
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(if n == 1 {
            outcome
        } else {
            JobFailure::LeaseLost
        })
    }

    /// Keep a long job: its lease runs until now + `lease`. `false` when it is no longer
    /// `owner`'s.
    pub async fn extend_lease(&self, id: Id, owner: &str, lease: Duration) -> Result<bool> {
        let at = now();
        let mut tx = self.db.begin().await?;
        let n = tx
            .exec(
                "UPDATE jobs SET lease_until = $3, updated_at = $4 \
                 WHERE id = $1 AND state = 'running' AND lease_owner = $2",
                vec![
                    Val::Uuid(id.0),
                    Val::Text(owner.into()),
                    Val::Ts(lease_end(at, lease)),
                    Val::Ts(at),
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// One job.
    pub async fn job(&self, id: Id) -> Result<Job> {
        let rows = self
            .db
            .fetch(
                &format!("SELECT {COLS} FROM jobs WHERE id = $1"),
                vec![Val::Uuid(id.0)],
                &KINDS,
            )
            .await?;
        match rows.into_iter().next() {
            Some(row) => job_of(row),
            None => Err(StoreError::NotFound { entity: "job", id }),
        }
    }

    /// A page of jobs, newest first; `cursor` is the previous page's `next_cursor`.
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Job>> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let mut conds = vec![];
        let mut params = vec![];
        if let Some(state) = filter.state {
            params.push(Val::Text(state.as_str().into()));
            conds.push(format!("state = ${}", params.len()));
        }
        if let Some(kind) = &filter.kind {
            params.push(Val::Text(kind.clone()));
            conds.push(format!("kind = ${}", params.len()));
        }
        if let Some(c) = cursor {
            let after = Id::parse(c).map_err(|_| {
                StoreError::invalid(
                    "cursor",
                    "invalid_cursor",
                    "this cursor is not from this list",
                )
            })?;
            params.push(Val::Uuid(after.0));
            conds.push(format!("id < ${}", params.len()));
        }
        params.push(Val::Int(i64::from(limit) + 1));
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let rows = self
            .db
            .fetch(
                &format!(
                    "SELECT {COLS} FROM jobs {filter} ORDER BY id DESC LIMIT ${}",
                    params.len()
                ),
                params,
                &KINDS,
            )
            .await?;
        let mut items = jobs_of(rows)?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|j| j.id.0.simple().to_string())
        } else {
            None
        };
        Ok(Page {
            items,
            next_cursor,
            total: None,
        })
    }

    /// How many jobs are in each state, every state named (0 included).
    pub async fn job_counts(&self) -> Result<Vec<(JobState, i64)>> {
        let rows = self
            .db
            .fetch(
                "SELECT state, COUNT(*) FROM jobs GROUP BY state",
                vec![],
                &[Kind::Text, Kind::Int],
            )
            .await?;
        Ok(JobState::ALL
            .into_iter()
            .map(|s| {
                let n = rows
                    .iter()
                    .find(|r| matches!(&r[0], Val::Text(t) if t == s.as_str()))
                    .and_then(|r| r[1].as_i64())
                    .unwrap_or(0);
                (s, n)
            })
            .collect())
    }

    /// Queue a dead or cancelled job again, to run now with all its attempts.
    pub async fn retry_job(&self, id: Id) -> Result<Job> {
        let at = now();
        self.change_state(
            id,
            "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $2, updated_at = $2, \
             finished_at = NULL WHERE id = $1 AND state IN ('dead', 'cancelled')",
            at,
            "only a dead or cancelled job can be retried",
        )
        .await?;
        self.enqueued();
        self.job(id).await
    }

    /// Cancel a queued (not yet started, e.g. a timer) or dead job. A running job cannot
    /// be cancelled: its worker is already at it.
    pub async fn cancel_job(&self, id: Id) -> Result<Job> {
        self.change_state(
            id,
            "UPDATE jobs SET state = 'cancelled', updated_at = $2, finished_at = $2 \
             WHERE id = $1 AND state IN ('queued', 'dead')",
            now(),
            "only a queued or dead job can be cancelled",
        )
        .await?;
        self.job(id).await
    }

    /// Cancel every queued job whose key starts with `prefix` (timers no longer wanted, e.g.
    /// `sla:<case id>:` when the case closes); returns how many. Running ones finish.
    pub async fn cancel_jobs_by_key_prefix(&self, prefix: &str) -> Result<u64> {
        if prefix.is_empty() {
            return Err(StoreError::invalid(
                "prefix",
                "required",
                "name the keys to cancel: an empty prefix would cancel every keyed job",
            ));
        }
        let at = now();
        let mut tx = self.db.begin().await?;
        let n = tx
            .exec(
                "UPDATE jobs SET state = 'cancelled', updated_at = $3, finished_at = $3 \
                 WHERE state = 'queued' AND substr(key, 1, CAST($2 AS INTEGER)) = $1",
                vec![
                    Val::Text(prefix.into()),
                    Val::Int(prefix.chars().count() as i64),
                    Val::Ts(at),
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Run `sql` (`$1` the id, `$2` now), which changes the job if its state allows;
    /// otherwise say why not.
    async fn change_state(&self, id: Id, sql: &str, at: DateTime<Utc>, only: &str) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let n = tx.exec(sql, vec![Val::Uuid(id.0), Val::Ts(at)]).await?;
        tx.commit().await?;
        if n == 1 {
            return Ok(());
        }
        let job = self.job(id).await?;
        let why = match job.state {
            JobState::Running => "it is running: wait for it to finish or fail".to_string(),
            s => format!("it is {s}"),
        };
        Err(StoreError::invalid(
            "state",
            "job_state",
            format!("{only}; {why}"),
        ))
    }
}
