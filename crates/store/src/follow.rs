//! The change-log follower: one runtime for everything derived from the log (the search
//! index; workflow rules and webhooks next). Each [`Subscriber`] has a name that keys its
//! position in the database; [`follow`] feeds it the log's events in order and in batches
//! of whole entries, and records its position after each batch it handled, so after a
//! crash or a restart it resumes where it stopped.
//!
//! Delivery is at least once: the position moves only after `handle` succeeded, so a batch
//! that was being handled when the process stopped, or whose position could not be saved,
//! is delivered again. Handlers must be idempotent (e.g. read the record as it is now, or
//! remember the `seq` of the last event they acted on).

use crate::changelog::{ChangeEvent, ChangeEvents};
use crate::db::{Kind, Tx, Val};
use crate::{Result, Store};
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// Something that follows the change log.
pub trait Subscriber: Send + 'static {
    type Error: std::fmt::Display + Send;

    /// Keys the subscriber's position in the database: keep it stable across releases.
    fn name(&self) -> &str;

    /// Act on the next events, oldest first; never empty, never an entry split. An error
    /// means the same events (and perhaps more) are offered again after a back-off.
    fn handle(
        &mut self,
        events: &[ChangeEvent],
    ) -> impl Future<Output = std::result::Result<(), Self::Error>> + Send;
}

/// How a follower reads and waits.
#[derive(Debug, Clone)]
pub struct Options {
    /// About how many events per batch (an import entry larger than this comes whole).
    pub batch: i64,
    /// How often to look at the log when no write of this process woke the follower:
    /// writes by other processes (a CLI import, another server on the same PostgreSQL)
    /// show this late.
    pub poll: Duration,
    /// The first wait after a failure; doubled on each further failure up to `max_retry`.
    pub retry: Duration,
    pub max_retry: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch: 5_000,
            poll: Duration::from_millis(250),
            retry: Duration::from_millis(200),
            max_retry: Duration::from_secs(30),
        }
    }
}

impl Store {
    /// Change-log entries after `seq` as events for subscribers, oldest first (see
    /// [`ChangeEvent`]): about `limit` events, whole entries only.
    pub async fn events_after(&self, seq: i64, limit: i64) -> Result<ChangeEvents> {
        crate::changelog::events_after(&self.db, seq, limit).await
    }

    /// The last entry the named subscriber has handled; 0 if it never ran.
    pub async fn subscriber_position(&self, name: &str) -> Result<i64> {
        let rows = self
            .db
            .fetch(
                "SELECT position FROM subscriber_positions WHERE name = $1",
                vec![Val::Text(name.into())],
                &[Kind::Int],
            )
            .await?;
        Ok(rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0))
    }

    /// Record that the named subscriber has handled the log up to `seq`. Never moves a
    /// position back, so two instances racing leave the furthest one; returns the position
    /// now stored.
    pub async fn advance_subscriber(&self, name: &str, seq: i64) -> Result<i64> {
        self.set_subscriber(
            name,
            seq,
            "WHERE subscriber_positions.position < excluded.position",
        )
        .await
    }

    /// Put the named subscriber back to `seq`, e.g. 0 when what it built was lost and must
    /// be built again from the start of the log.
    pub async fn reset_subscriber(&self, name: &str, seq: i64) -> Result<()> {
        self.set_subscriber(name, seq, "").await.map(drop)
    }

    async fn set_subscriber(&self, name: &str, seq: i64, only: &str) -> Result<i64> {
        let mut tx = self.db.begin().await?;
        upsert_position(&mut tx, name, seq, only).await?;
        let now = tx
            .fetch(
                "SELECT position FROM subscriber_positions WHERE name = $1",
                vec![Val::Text(name.into())],
                &[Kind::Int],
            )
            .await?;
        tx.commit().await?;
        Ok(now.first().and_then(|r| r[0].as_i64()).unwrap_or(seq))
    }
}

/// [`Store::advance_subscriber`] inside `tx`, for a subscriber that commits what it
/// derived together with its position.
pub(crate) async fn advance_in(tx: &mut Tx, name: &str, seq: i64) -> Result<()> {
    upsert_position(
        tx,
        name,
        seq,
        "WHERE subscriber_positions.position < excluded.position",
    )
    .await
}

async fn upsert_position(tx: &mut Tx, name: &str, seq: i64, only: &str) -> Result<()> {
    tx.exec(
        &format!(
            "INSERT INTO subscriber_positions (name, position, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position, \
             updated_at = excluded.updated_at {only}"
        ),
        vec![
            Val::Text(name.into()),
            Val::Int(seq),
            Val::Ts(chrono::Utc::now()),
        ],
    )
    .await
    .map(drop)
}

/// A running follower: see its position, wait for it, stop it.
pub struct Follower<S> {
    stop: watch::Sender<bool>,
    position: watch::Receiver<i64>,
    task: tokio::task::JoinHandle<S>,
}

impl<S> Follower<S> {
    /// The last entry handled (or, before the first batch, the stored position).
    pub fn position(&self) -> i64 {
        *self.position.borrow()
    }

    /// Resolves once the subscriber has handled the log up to `seq` (`true`), or when the
    /// follower ended before that (`false`): for tests and for work that must see the index
    /// up to date, without guessing a time.
    pub async fn caught_up(&self, seq: i64) -> bool {
        let mut rx = self.position.clone();
        rx.wait_for(|p| *p >= seq).await.is_ok()
    }

    /// Stop after the batch in hand (a handler is never cut off half-way) and give the
    /// subscriber back. Dropping the follower instead leaves it running.
    pub async fn stop(self) -> std::result::Result<S, tokio::task::JoinError> {
        self.stop.send_replace(true);
        self.task.await
    }
}

/// Start following the log for `subscriber`, from its stored position, on its own task.
pub fn follow<S: Subscriber>(store: Store, subscriber: S, options: Options) -> Follower<S> {
    let (stop, stop_rx) = watch::channel(false);
    let (progress, position) = watch::channel(0);
    let task = tokio::spawn(run(store, subscriber, options, stop_rx, progress));
    Follower {
        stop,
        position,
        task,
    }
}

/// Resolves when asked to stop; never when the follower's handle was dropped.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await
    }
}

async fn run<S: Subscriber>(
    store: Store,
    mut sub: S,
    options: Options,
    mut stop: watch::Receiver<bool>,
    progress: watch::Sender<i64>,
) -> S {
    let mut writes = store.writes.subscribe();
    let mut position = None;
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return sub;
        }
        // Marked before reading, so a write committed while this round reads is not
        // taken as seen.
        writes.borrow_and_update();
        let wait = match round(&store, &mut sub, &options, &mut position, &progress).await {
            Ok(true) => {
                failures = 0;
                continue;
            }
            Ok(false) => {
                failures = 0;
                options.poll
            }
            Err(e) => {
                failures += 1;
                let wait = options
                    .retry
                    .saturating_mul(1 << (failures - 1).min(16))
                    .min(options.max_retry);
                tracing::warn!(
                    subscriber = sub.name(),
                    failures,
                    "change-log subscriber failed, retrying in {wait:?}: {e}"
                );
                // A failure is waited out; a write does not cut it short.
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stopped(&mut stop) => return sub,
                }
                continue;
            }
        };
        tokio::select! {
            _ = writes.changed() => {}
            () = tokio::time::sleep(wait) => {}
            () = stopped(&mut stop) => return sub,
        }
    }
}

/// Why a round failed: reading the log or saving the position, or the subscriber.
#[derive(Debug)]
pub enum Failed<E> {
    Store(crate::StoreError),
    Subscriber(E),
}

impl<E: std::fmt::Display> std::fmt::Display for Failed<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Store(e) => write!(f, "{e}"),
            Failed::Subscriber(e) => write!(f, "{e}"),
        }
    }
}

/// Run `subscriber` from its stored position to the end of the log, once, on this task,
/// and return the position reached: for a command that wants what the subscriber derives
/// up to date while no follower runs (`guanxi search`, `guanxi reindex`). A failure is
/// returned, not retried; the batches handled before it keep their position.
pub async fn catch_up<S: Subscriber>(
    store: &Store,
    subscriber: &mut S,
    batch: i64,
) -> std::result::Result<i64, Failed<S::Error>> {
    let options = Options {
        batch,
        ..Options::default()
    };
    let (progress, position) = watch::channel(0);
    let mut at = None;
    while round(store, subscriber, &options, &mut at, &progress).await? {}
    Ok(*position.borrow())
}

/// Read the next batch, hand it over, save the position. `true` if there was one.
async fn round<S: Subscriber>(
    store: &Store,
    sub: &mut S,
    options: &Options,
    position: &mut Option<i64>,
    progress: &watch::Sender<i64>,
) -> std::result::Result<bool, Failed<S::Error>> {
    let from = match *position {
        Some(p) => p,
        None => {
            let p = store
                .subscriber_position(sub.name())
                .await
                .map_err(Failed::Store)?;
            progress.send_replace(p);
            *position = Some(p);
            p
        }
    };
    let batch = store
        .events_after(from, options.batch)
        .await
        .map_err(Failed::Store)?;
    let Some(through) = batch.through else {
        return Ok(false);
    };
    if !batch.events.is_empty() {
        sub.handle(&batch.events)
            .await
            .map_err(Failed::Subscriber)?;
    }
    store
        .advance_subscriber(sub.name(), through)
        .await
        .map_err(Failed::Store)?;
    *position = Some(through);
    progress.send_replace(through);
    Ok(true)
}
