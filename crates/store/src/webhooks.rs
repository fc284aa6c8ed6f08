//! Webhook bookkeeping (the subscriptions themselves are records): each subscription's
//! secret and how long it has been failing, the deliveries (one message per subscription
//! and change, in order per record) and every attempt at them.
//!
//! Order: deliveries of one record to one subscription form a chain, ordered by the change
//! that made them (`seq`). A delivery is sent only when no earlier one of its chain is
//! pending; the one that finishes hands on to the next ([`Store::next_webhook_delivery`]).

use crate::db::{Kind, Val};
use crate::jobs::{NewJob, insert};
use crate::records::now;
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use guanxi_domain::Id;
use serde::Serialize;

/// A message to send: what caused it (`key`, unique), the record, the signed body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub webhook_id: Id,
    /// What made it, e.g. `change:<seq>:<webhook>:<record>`: recording it again adds nothing.
    pub key: String,
    pub entity: String,
    pub record_id: Id,
    /// The change-log entry it reports: its place in the record's chain.
    pub seq: i64,
    /// `created`, `updated`, `deleted`, or `rule` for a rule's call.
    pub event: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Delivery {
    /// Also the `webhook-id` every attempt carries: receivers deduplicate by it.
    pub id: Id,
    pub webhook_id: Id,
    pub entity: String,
    pub record_id: Id,
    pub seq: i64,
    pub event: String,
    /// The JSON sent, as signed.
    pub body: String,
    /// `pending`, `delivered`, `failed` (attempts used up), `cancelled` (the webhook was
    /// disabled or deleted first).
    pub status: String,
    pub attempts: i64,
    /// Times an administrator or the owner sent it again.
    pub replays: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One try at sending a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status; none when there was no answer (refused, timed out).
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// The first KiB of the answer.
    pub response: String,
}

/// How an attempt ends its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnds {
    Delivered,
    /// Failed, to be tried again.
    Retrying,
    /// Failed for the last time.
    Failed,
}

const COLS: &str = "id, webhook_id, entity, record_id, seq, event, body, status, attempts, \
                    replays, last_status, last_error, created_at, finished_at";
const KINDS: [Kind; 14] = [
    Kind::Uuid,
    Kind::Uuid,
    Kind::Text,
    Kind::Uuid,
    Kind::Int,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Text,
    Kind::Ts,
    Kind::Ts,
];

fn delivery_of(row: Vec<Val>) -> Delivery {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Val::Null(Kind::Text));
    Delivery {
        id: Id(next().as_uuid().unwrap_or_default()),
        webhook_id: Id(next().as_uuid().unwrap_or_default()),
        entity: next().into_text().unwrap_or_default(),
        record_id: Id(next().as_uuid().unwrap_or_default()),
        seq: next().as_i64().unwrap_or(0),
        event: next().into_text().unwrap_or_default(),
        body: next().into_text().unwrap_or_default(),
        status: next().into_text().unwrap_or_default(),
        attempts: next().as_i64().unwrap_or(0),
        replays: next().as_i64().unwrap_or(0),
        last_status: next().as_i64(),
        last_error: next().into_text(),
        created_at: next().as_ts().unwrap_or_default(),
        finished_at: next().as_ts(),
    }
}

fn text_or_null(v: Option<&str>) -> Val {
    v.map_or(Val::Null(Kind::Text), |s| Val::Text(s.into()))
}

impl Store {
    /// The subscription's signing secret, made by `fresh` the first time it is asked for.
    pub async fn webhook_secret(
        &self,
        webhook_id: Id,
        fresh: impl FnOnce() -> String,
    ) -> Result<String> {
        if let Some(s) = self.stored_secret(webhook_id).await? {
            return Ok(s);
        }
        // Two first askers at once: one secret wins, both read it.
        let mut tx = self.db.begin().await?;
        tx.exec(
            "INSERT INTO webhook_state (webhook_id, secret) VALUES ($1, $2) \
             ON CONFLICT (webhook_id) DO NOTHING",
            vec![Val::Uuid(webhook_id.0), Val::Text(fresh())],
        )
        .await?;
        tx.commit().await?;
        self.stored_secret(webhook_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a webhook secret vanished".into()))
    }

    async fn stored_secret(&self, webhook_id: Id) -> Result<Option<String>> {
        let rows = self
            .db
            .fetch(
                "SELECT secret FROM webhook_state WHERE webhook_id = $1",
                vec![Val::Uuid(webhook_id.0)],
                &[Kind::Text],
            )
            .await?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next()?.into_text()))
    }

    /// Record deliveries and, in the same transaction, the job that sends each new one
    /// (`job(id)`); a delivery whose key is there already adds nothing. How many were new.
    pub async fn record_webhook_deliveries(
        &self,
        deliveries: &[NewDelivery],
        job: impl Fn(Id) -> NewJob,
    ) -> Result<usize> {
        if deliveries.is_empty() {
            return Ok(0);
        }
        let at = now();
        let mut tx = self.db.begin().await?;
        let mut jobs = vec![];
        for d in deliveries {
            let id = Id::new();
            let inserted = tx
                .exec(
                    "INSERT INTO webhook_deliveries (id, webhook_id, key, entity, record_id, seq, \
                     event, body, status, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9) \
                     ON CONFLICT (key) DO NOTHING",
                    vec![
                        Val::Uuid(id.0),
                        Val::Uuid(d.webhook_id.0),
                        Val::Text(d.key.clone()),
                        Val::Text(d.entity.clone()),
                        Val::Uuid(d.record_id.0),
                        Val::Int(d.seq),
                        Val::Text(d.event.clone()),
                        Val::Text(d.body.clone()),
                        Val::Ts(at),
                    ],
                )
                .await?;
            if inserted == 1 {
                jobs.push(job(id));
            }
        }
        insert(&mut tx, &jobs).await?;
        tx.commit().await?;
        if !jobs.is_empty() {
            self.enqueued();
        }
        Ok(jobs.len())
    }

    pub async fn webhook_delivery(&self, id: Id) -> Result<Delivery> {
        let rows = self
            .db
            .fetch(
                &format!("SELECT {COLS} FROM webhook_deliveries WHERE id = $1"),
                vec![Val::Uuid(id.0)],
                &KINDS,
            )
            .await?;
        rows.into_iter()
            .next()
            .map(delivery_of)
            .ok_or(StoreError::NotFound {
                entity: "webhook_delivery",
                id,
            })
    }

    /// Hold a pending delivery for sending until `until`: false when it is finished, or
    /// held by another worker (a delivery's own job and the one its predecessor enqueued
    /// may run at once; only one sends).
    pub async fn take_webhook_delivery(&self, id: Id, until: DateTime<Utc>) -> Result<bool> {
        let at = now();
        let mut tx = self.db.begin().await?;
        let n = tx
            .exec(
                "UPDATE webhook_deliveries SET sending_until = $2 WHERE id = $1 \
                 AND status = 'pending' AND (sending_until IS NULL OR sending_until < $3)",
                vec![Val::Uuid(id.0), Val::Ts(until), Val::Ts(at)],
            )
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// The first pending delivery of a record's chain to a subscription: the one to send now.
    pub async fn next_webhook_delivery(&self, webhook_id: Id, record_id: Id) -> Result<Option<Id>> {
        let rows = self
            .db
            .fetch(
                "SELECT id FROM webhook_deliveries WHERE webhook_id = $1 AND record_id = $2 \
                 AND status = 'pending' ORDER BY seq, id LIMIT 1",
                vec![Val::Uuid(webhook_id.0), Val::Uuid(record_id.0)],
                &[Kind::Uuid],
            )
            .await?;
        Ok(rows.first().and_then(|r| r[0].as_uuid()).map(Id))
    }

    /// Write down an attempt and what it did to its delivery, and keep the subscription's
    /// failing streak: cleared by a success, started by the first failure after one. Returns
    /// when the streak began (`None` after a success).
    pub async fn log_webhook_attempt(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
        ends: AttemptEnds,
    ) -> Result<Option<DateTime<Utc>>> {
        let mut tx = self.db.begin().await?;
        tx.exec(
            "INSERT INTO webhook_attempts (id, delivery_id, webhook_id, at, status_code, \
             duration_ms, error, response) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            vec![
                Val::Uuid(Id::new().0),
                Val::Uuid(delivery.id.0),
                Val::Uuid(delivery.webhook_id.0),
                Val::Ts(attempt.at),
                attempt.status_code.map_or(Val::Null(Kind::Int), Val::Int),
                Val::Int(attempt.duration_ms),
                text_or_null(attempt.error.as_deref()),
                Val::Text(attempt.response.clone()),
            ],
        )
        .await?;
        let (status, finished) = match ends {
            AttemptEnds::Delivered => ("delivered", Val::Ts(attempt.at)),
            AttemptEnds::Retrying => ("pending", Val::Null(Kind::Ts)),
            AttemptEnds::Failed => ("failed", Val::Ts(attempt.at)),
        };
        tx.exec(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $2, \
             last_error = $3, status = $4, finished_at = $5, sending_until = NULL \
             WHERE id = $1 AND status = 'pending'",
            vec![
                Val::Uuid(delivery.id.0),
                attempt.status_code.map_or(Val::Null(Kind::Int), Val::Int),
                text_or_null(attempt.error.as_deref()),
                Val::Text(status.into()),
                finished,
            ],
        )
        .await?;
        let (sql, params) = if ends == AttemptEnds::Delivered {
            (
                "UPDATE webhook_state SET failing_since = NULL WHERE webhook_id = $1",
                vec![Val::Uuid(delivery.webhook_id.0)],
            )
        } else {
            (
                "UPDATE webhook_state SET failing_since = COALESCE(failing_since, $2) \
                 WHERE webhook_id = $1",
                vec![Val::Uuid(delivery.webhook_id.0), Val::Ts(attempt.at)],
            )
        };
        tx.exec(sql, params).await?;
        let since = tx
            .fetch(
                "SELECT failing_since FROM webhook_state WHERE webhook_id = $1",
                vec![Val::Uuid(delivery.webhook_id.0)],
                &[Kind::Ts],
            )
            .await?;
        tx.commit().await?;
        Ok(since.first().and_then(|r| r[0].as_ts()))
    }

    /// Stop a subscription's pending deliveries (it was disabled or deleted): cancelled,
    /// with the reason; each can still be replayed. How many.
    pub async fn cancel_webhook_deliveries(&self, webhook_id: Id, why: &str) -> Result<u64> {
        let mut tx = self.db.begin().await?;
        let n = tx
            .exec(
                "UPDATE webhook_deliveries SET status = 'cancelled', last_error = $2, \
                 finished_at = $3 WHERE webhook_id = $1 AND status = 'pending'",
                vec![
                    Val::Uuid(webhook_id.0),
                    Val::Text(why.into()),
                    Val::Ts(now()),
                ],
            )
            .await?;
        // A subscription switched on again starts without a streak.
        tx.exec(
            "UPDATE webhook_state SET failing_since = NULL WHERE webhook_id = $1",
            vec![Val::Uuid(webhook_id.0)],
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Send a finished delivery again: pending once more, and in the same transaction the
    /// job `job(delivery, replays)` that sends it. A pending one is left as it is.
    pub async fn replay_webhook_delivery(
        &self,
        id: Id,
        job: impl FnOnce(&Delivery) -> NewJob,
    ) -> Result<Delivery> {
        let mut tx = self.db.begin().await?;
        tx.exec(
            "UPDATE webhook_deliveries SET status = 'pending', replays = replays + 1, \
             finished_at = NULL, sending_until = NULL WHERE id = $1 AND status <> 'pending'",
            vec![Val::Uuid(id.0)],
        )
        .await?;
        let d = tx
            .fetch(
                &format!("SELECT {COLS} FROM webhook_deliveries WHERE id = $1"),
                vec![Val::Uuid(id.0)],
                &KINDS,
            )
            .await?
            .into_iter()
            .next()
            .map(delivery_of)
            .ok_or(StoreError::NotFound {
                entity: "webhook_delivery",
                id,
            })?;
        insert(&mut tx, &[job(&d)]).await?;
        tx.commit().await?;
        self.enqueued();
        Ok(d)
    }

    /// A subscription's newest deliveries, before `before` (an id from the last page).
    pub async fn webhook_deliveries(
        &self,
        webhook_id: Id,
        before: Option<Id>,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        let (cond, mut params) = match before {
            Some(b) => (" AND id < $2", vec![Val::Uuid(b.0)]),
            None => ("", vec![]),
        };
        params.insert(0, Val::Uuid(webhook_id.0));
        let rows = self
            .db
            .fetch(
                &format!(
                    "SELECT {COLS} FROM webhook_deliveries WHERE webhook_id = $1{cond} \
                     ORDER BY id DESC LIMIT {}",
                    limit.clamp(1, 500)
                ),
                params,
                &KINDS,
            )
            .await?;
        Ok(rows.into_iter().map(delivery_of).collect())
    }

    /// A delivery's attempts, oldest first.
    pub async fn webhook_attempts(&self, delivery_id: Id) -> Result<Vec<Attempt>> {
        let rows = self
            .db
            .fetch(
                "SELECT at, status_code, duration_ms, error, response FROM webhook_attempts \
                 WHERE delivery_id = $1 ORDER BY at, id",
                vec![Val::Uuid(delivery_id.0)],
                &[Kind::Ts, Kind::Int, Kind::Int, Kind::Text, Kind::Text],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut it = r.into_iter();
                let mut next = || it.next().unwrap_or(Val::Null(Kind::Text));
                Attempt {
                    at: next().as_ts().unwrap_or_default(),
                    status_code: next().as_i64(),
                    duration_ms: next().as_i64().unwrap_or(0),
                    error: next().into_text(),
                    response: next().into_text().unwrap_or_default(),
                }
            })
            .collect())
    }
}
