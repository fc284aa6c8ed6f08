//! Workflow rules' bookkeeping (the rules themselves are records): a run per rule fired by
//! a change, what it did; how deep in a chain of rules each rule's writes are; whose turn
//! it is in a round-robin assignment.

use crate::db::{Kind, Tx, Val};
use crate::jobs::NewJob;
use crate::records::{now, require};
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use guanxi_domain::{Actor, Id, Right};
use serde::Serialize;
use serde_json::Value;

/// A rule fired by one change of one record, and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RuleRun {
    pub id: Id,
    pub rule_id: Id,
    pub entity: String,
    pub record_id: Id,
    /// The change-log entry that fired it; for a timed trigger, minus the Unix second it
    /// was due (see [`NewRuleRun::due`]).
    pub seq: i64,
    /// When a timed trigger fired it (a relative time or a schedule), instead of a change.
    pub due_at: Option<DateTime<Utc>>,
    /// 1 for a change a person made, one more for each rule between.
    pub depth: i64,
    /// `queued`, `done`, `failed`, or `refused` (too deep in a chain of rules: not run).
    pub status: String,
    /// What each action did, in order.
    pub detail: Value,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A run to record: queued to run, or refused with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRuleRun {
    pub rule_id: Id,
    pub entity: String,
    pub record_id: Id,
    pub seq: i64,
    pub depth: i64,
    pub refused: Option<String>,
}

impl NewRuleRun {
    /// A run a time fired (a relative trigger or a schedule) rather than a change: keyed by
    /// the moment, so that each moment runs a rule once per record. It is stored under
    /// minus the moment's Unix second in place of a change's (positive) sequence number.
    pub fn due(rule_id: Id, entity: &str, record_id: Id, at: DateTime<Utc>) -> NewRuleRun {
        NewRuleRun {
            rule_id,
            entity: entity.to_string(),
            record_id,
            seq: -at.timestamp().max(1),
            depth: 1,
            refused: None,
        }
    }
}

/// Whose runs to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsOf {
    Rule(Id),
    Record(Id),
}

const COLS: &str =
    "id, rule_id, entity, record_id, seq, depth, status, detail, error, at, finished_at";
const KINDS: [Kind; 11] = [
    Kind::Uuid,
    Kind::Uuid,
    Kind::Text,
    Kind::Uuid,
    Kind::Int,
    Kind::Int,
    Kind::Text,
    Kind::Json,
    Kind::Text,
    Kind::Ts,
    Kind::Ts,
];

fn run_of(row: Vec<Val>) -> RuleRun {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Val::Null(Kind::Text));
    let (id, rule_id, entity, record_id, seq) = (
        Id(next().as_uuid().unwrap_or_default()),
        Id(next().as_uuid().unwrap_or_default()),
        next().into_text().unwrap_or_default(),
        Id(next().as_uuid().unwrap_or_default()),
        next().as_i64().unwrap_or(0),
    );
    RuleRun {
        id,
        rule_id,
        entity,
        record_id,
        seq,
        due_at: (seq < 0)
            .then(|| DateTime::from_timestamp(-seq, 0))
            .flatten(),
        depth: next().as_i64().unwrap_or(0),
        status: next().into_text().unwrap_or_default(),
        detail: match next() {
            Val::Json(v) => v,
            _ => Value::Array(vec![]),
        },
        error: next().into_text(),
        at: next().as_ts().unwrap_or_default(),
        finished_at: next().as_ts(),
    }
}

/// Insert the runs (one already there for the same rule, change and record stays as it is)
/// inside `tx`; the runs as stored, in the order given.
async fn record(tx: &mut Tx, runs: &[NewRuleRun]) -> Result<Vec<RuleRun>> {
    let at = now();
    let mut out = Vec::with_capacity(runs.len());
    for r in runs {
        let (status, error) = match &r.refused {
            Some(why) => ("refused", Val::Text(why.clone())),
            None => ("queued", Val::Null(Kind::Text)),
        };
        tx.exec(
            "INSERT INTO rule_runs (id, rule_id, entity, record_id, seq, depth, status, \
             error, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (rule_id, seq, record_id) DO NOTHING",
            vec![
                Val::Uuid(Id::new().0),
                Val::Uuid(r.rule_id.0),
                Val::Text(r.entity.clone()),
                Val::Uuid(r.record_id.0),
                Val::Int(r.seq),
                Val::Int(r.depth),
                Val::Text(status.into()),
                error,
                Val::Ts(at),
            ],
        )
        .await?;
        let row = tx
            .fetch(
                &format!(
                    "SELECT {COLS} FROM rule_runs WHERE rule_id = $1 AND seq = $2 \
                     AND record_id = $3"
                ),
                vec![
                    Val::Uuid(r.rule_id.0),
                    Val::Int(r.seq),
                    Val::Uuid(r.record_id.0),
                ],
                &KINDS,
            )
            .await?;
        out.extend(row.into_iter().map(run_of));
    }
    Ok(out)
}

impl Store {
    /// Record the runs a change fired. A run already recorded for the same rule, change and
    /// record stays as it is (a change replayed after a crash fires nothing twice); the runs
    /// are returned as stored, in the order given.
    pub async fn record_rule_runs(&self, runs: &[NewRuleRun]) -> Result<Vec<RuleRun>> {
        let mut tx = self.db.begin().await?;
        let out = record(&mut tx, runs).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// What a rules follower commits for a batch of changes, in one transaction: the runs
    /// they fired ([`record_rule_runs`](Self::record_rule_runs)), `job(run)` enqueued for
    /// each run still queued, and the change-log `subscriber` moved to `seq`. One commit
    /// per batch keeps SQLite's one writer free for the rules' actions; a batch offered
    /// again (after a crash, or by another instance) records and enqueues nothing twice,
    /// and a crash leaves all of it or none.
    pub async fn record_rule_runs_and_advance(
        &self,
        subscriber: &str,
        seq: i64,
        runs: &[NewRuleRun],
        job: impl Fn(&RuleRun) -> NewJob,
    ) -> Result<Vec<RuleRun>> {
        let mut tx = self.db.begin().await?;
        let out = record(&mut tx, runs).await?;
        let jobs: Vec<NewJob> = out
            .iter()
            .filter(|r| r.status == "queued")
            .map(job)
            .collect();
        crate::jobs::insert(&mut tx, &jobs).await?;
        crate::follow::advance_in(&mut tx, subscriber, seq).await?;
        tx.commit().await?;
        if !jobs.is_empty() {
            self.enqueued();
        }
        Ok(out)
    }

    /// One run, for the worker that carries it out.
    pub async fn rule_run(&self, id: Id) -> Result<RuleRun> {
        let rows = self
            .db
            .fetch(
                &format!("SELECT {COLS} FROM rule_runs WHERE id = $1"),
                vec![Val::Uuid(id.0)],
                &KINDS,
            )
            .await?;
        rows.into_iter()
            .next()
            .map(run_of)
            .ok_or(StoreError::NotFound {
                entity: "rule_run",
                id,
            })
    }

    /// Say how a run ended: `done` or `failed`, with what each action did.
    pub async fn finish_rule_run(
        &self,
        id: Id,
        status: &str,
        detail: &Value,
        error: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        tx.exec(
            "UPDATE rule_runs SET status = $1, detail = $2, error = $3, finished_at = $4 \
             WHERE id = $5",
            vec![
                Val::Text(status.into()),
                Val::Json(detail.clone()),
                error.map_or(Val::Null(Kind::Text), |e| Val::Text(e.into())),
                Val::Ts(now()),
                Val::Uuid(id.0),
            ],
        )
        .await?;
        tx.commit().await
    }

    /// The newest runs of a rule or on a record, for those who may read rules.
    pub async fn rule_runs(&self, actor: &Actor, of: RunsOf, limit: u32) -> Result<Vec<RuleRun>> {
        require(actor, "rule", Right::Read)?;
        let (column, id) = match of {
            RunsOf::Rule(id) => ("rule_id", id),
            RunsOf::Record(id) => ("record_id", id),
        };
        let rows = self
            .db
            .fetch(
                &format!(
                    "SELECT {COLS} FROM rule_runs WHERE {column} = $1 ORDER BY at DESC, id DESC \
                     LIMIT {}",
                    limit.clamp(1, 500)
                ),
                vec![Val::Uuid(id.0)],
                &KINDS,
            )
            .await?;
        Ok(rows.into_iter().map(run_of).collect())
    }

    /// Before a rule writes `records`: remember that its writes to them are at `depth`, so
    /// that the changes they cause fire rules one level deeper.
    pub async fn note_rule_writes(&self, rule_id: Id, records: &[Id], depth: i64) -> Result<()> {
        let mut tx = self.db.begin().await?;
        for r in records {
            tx.exec(
                "INSERT INTO rule_writes (rule_id, record_id, depth, at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (rule_id, record_id) DO UPDATE SET depth = excluded.depth, \
                 at = excluded.at",
                vec![
                    Val::Uuid(rule_id.0),
                    Val::Uuid(r.0),
                    Val::Int(depth),
                    Val::Ts(now()),
                ],
            )
            .await?;
        }
        tx.commit().await
    }

    /// How deep in a chain of rules the latest write of `rule_id` to `record_id` was;
    /// `None` when that rule never wrote it.
    pub async fn rule_write_depth(&self, rule_id: Id, record_id: Id) -> Result<Option<i64>> {
        let rows = self
            .db
            .fetch(
                "SELECT depth FROM rule_writes WHERE rule_id = $1 AND record_id = $2",
                vec![Val::Uuid(rule_id.0), Val::Uuid(record_id.0)],
                &[Kind::Int],
            )
            .await?;
        Ok(rows.into_iter().next().and_then(|r| r[0].as_i64()))
    }

    /// The member whose turn it is in a rule's round robin over a team (`members`, in
    /// order), who then has had it. One transaction, the row locked: two workers running
    /// the rule at once give two members a turn, not one member two.
    pub async fn take_turn(&self, rule_id: Id, team_id: Id, members: &[Id]) -> Result<Option<Id>> {
        let mut tx = self.db.begin().await?;
        let key = vec![Val::Uuid(rule_id.0), Val::Uuid(team_id.0)];
        tx.exec(
            "INSERT INTO rule_turns (rule_id, team_id, user_id) VALUES ($1, $2, $3) \
             ON CONFLICT (rule_id, team_id) DO NOTHING",
            vec![key[0].clone(), key[1].clone(), Val::Uuid(uuid::Uuid::nil())],
        )
        .await?;
        let lock = match tx.backend() {
            crate::db::Backend::Sqlite => "",
            crate::db::Backend::Postgres => " FOR UPDATE",
        };
        let last = tx
            .fetch(
                &format!(
                    "SELECT user_id FROM rule_turns WHERE rule_id = $1 AND team_id = $2{lock}"
                ),
                key.clone(),
                &[Kind::Uuid],
            )
            .await?
            .into_iter()
            .next()
            .and_then(|r| r[0].as_uuid())
            .map(Id);
        let next = guanxi_domain::rules::next_in_turn(members, last);
        if let Some(next) = next {
            tx.exec(
                "UPDATE rule_turns SET user_id = $3 WHERE rule_id = $1 AND team_id = $2",
                vec![key[0].clone(), key[1].clone(), Val::Uuid(next.0)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(next)
    }
}
