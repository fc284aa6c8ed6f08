//! The runner: claims, runs, renews leases, records outcomes.

use guanxi_domain::Id;
use guanxi_domain::backoff::Backoff;
use guanxi_store::{Job, JobFailure, Retry, Store};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Why a job failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Passing trouble (a receiver down, a timeout): tried again after a backoff while
    /// attempts are left.
    #[error("{0}")]
    Retry(String),
    /// Trying again cannot help (a payload that cannot be read, a refused address): the
    /// job goes to the dead letters now.
    #[error("{0}")]
    Permanent(String),
}

impl JobError {
    pub fn retry(e: impl std::fmt::Display) -> JobError {
        JobError::Retry(e.to_string())
    }

    pub fn permanent(e: impl std::fmt::Display) -> JobError {
        JobError::Permanent(e.to_string())
    }
}

/// Runs the jobs of one kind. Shared by the jobs running at once, hence `&self`.
pub trait Handler: Send + Sync + 'static {
    /// The job kind handled, e.g. `webhook.deliver`.
    fn kind(&self) -> &str;

    fn run(&self, job: &Job) -> impl Future<Output = Result<(), JobError>> + Send;
}

type Running<'a> = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send + 'a>>;

/// [`Handler`] made object-safe, so handlers of different types share one map.
trait Erased: Send + Sync {
    fn run<'a>(&'a self, job: &'a Job) -> Running<'a>;
}

impl<H: Handler> Erased for H {
    fn run<'a>(&'a self, job: &'a Job) -> Running<'a> {
        Box::pin(Handler::run(self, job))
    }
}

/// The handlers a runner serves, by kind.
#[derive(Default, Clone)]
pub struct Handlers(HashMap<String, Arc<dyn Erased>>);

impl Handlers {
    pub fn new() -> Handlers {
        Handlers::default()
    }

    /// Serve `handler`'s kind with it (replacing any handler of that kind).
    pub fn with(mut self, handler: impl Handler) -> Handlers {
        self.0.insert(handler.kind().to_string(), Arc::new(handler));
        self
    }

    pub fn kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> = self.0.keys().map(String::as_str).collect();
        kinds.sort_unstable();
        kinds
    }
}

/// The handlers `guanxi serve` runs. Each part of the process layer (rule actions,
/// webhook deliveries, e-mail) adds its line here: `.with(Deliver::new(store.clone()))`.
pub fn served(store: &Store, outbox: &crate::mail::Outbox) -> Handlers {
    use crate::timed_rules::{ArmRule, FireSchedule, FireTimer};
    let store = || store.clone();
    Handlers::new()
        .with(crate::rules::RunRule {
            store: store(),
            outbox: outbox.clone(),
        })
        .with(ArmRule { store: store() })
        .with(FireTimer { store: store() })
        .with(FireSchedule { store: store() })
        .with(crate::reminders::RemindTasks { store: store() })
        .with(crate::webhooks::Deliver::new(store()))
        .with(crate::robots::PostToRobot::new(
            store(),
            outbox.public_url().cloned(),
        ))
        .with(crate::service::sla::Sweep { store: store() })
        .with(crate::service::sla::Recompute { store: store() })
        .with(crate::service::dispatch::Lapse { store: store() })
        .with(crate::portal::MailLink {
            store: store(),
            outbox: outbox.clone(),
        })
        .with(crate::surveys::SendSurvey {
            store: store(),
            outbox: outbox.clone(),
        })
        .with(crate::campaigns::SendCampaign {
            store: store(),
            outbox: outbox.clone(),
        })
        .with(crate::campaigns::RunSteps {
            store: store(),
            outbox: outbox.clone(),
        })
}

/// How a runner claims and retries.
#[derive(Debug, Clone)]
pub struct Options {
    /// Jobs run at once.
    pub concurrency: usize,
    /// How often to look for due jobs when no enqueue of this process woke the runner:
    /// jobs enqueued by other processes, and timers coming due, are seen this late.
    pub poll: Duration,
    /// How long a claim holds a job; renewed every third of it while the job runs, so only
    /// a runner that died (or hangs) loses its jobs, after at most this long.
    pub lease: Duration,
    /// The wait before a failed job's next attempt.
    pub backoff: Backoff,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: 16,
            poll: Duration::from_millis(500),
            lease: Duration::from_secs(60),
            backoff: Backoff::default(),
        }
    }
}

/// The name a runner claims under: unique per process and per runner (the host, the
/// process id, and a random part for a process id reused after a restart).
pub fn owner_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// A running job runner: stop it when the server stops.
pub struct Runner {
    owner: String,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Runner {
    /// The name its leases carry.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Claim nothing more, let the jobs in hand finish and record them, then return. A job
    /// is never cut off half-way (a handler that may hang bounds its own wait).
    pub async fn stop(self) {
        self.stop.send_replace(true);
        if let Err(e) = self.task.await {
            tracing::error!(owner = %self.owner, "job runner failed: {e}");
        }
    }
}

/// Start running the jobs `handlers` serve, on a task of its own.
pub fn start(store: Store, handlers: Handlers, options: Options) -> Runner {
    let owner = owner_name();
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(run(
        store,
        Arc::new(handlers),
        options,
        owner.clone(),
        stop_rx,
    ));
    Runner { owner, stop, task }
}

/// Resolves when asked to stop; never when the runner's handle was dropped.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await
    }
}

async fn run(
    store: Store,
    handlers: Arc<Handlers>,
    options: Options,
    owner: String,
    mut stop: watch::Receiver<bool>,
) {
    let kinds: Vec<String> = handlers.kinds().into_iter().map(String::from).collect();
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    tracing::info!(%owner, ?kinds, "job runner started");
    let mut wakeups = store.job_wakeups();
    let mut running = JoinSet::new();
    // Jobs whose handlers succeeded, marked done with the next claim, in its transaction.
    let mut done: Vec<Id> = vec![];
    let mut failures = 0u32;
    let concurrency = options.concurrency.max(1);
    loop {
        if *stop.borrow() {
            break;
        }
        // Marked before claiming, so an enqueue committed meanwhile is not taken as seen.
        wakeups.borrow_and_update();
        let free = concurrency.saturating_sub(running.len());
        let mut wait = options.poll;
        if (free > 0 && !kinds.is_empty()) || !done.is_empty() {
            let claimed = store
                .complete_and_claim(&done, &owner, Some(&kinds), free, options.lease)
                .await;
            match claimed {
                Ok((jobs, lost)) => {
                    failures = 0;
                    report_done(&owner, &done, &lost);
                    done.clear();
                    let full = jobs.len() == free;
                    for job in jobs {
                        let handler = handlers.0.get(&job.kind).cloned();
                        running.spawn(execute(
                            store.clone(),
                            handler,
                            job,
                            owner.clone(),
                            options.clone(),
                        ));
                    }
                    if full {
                        // More may be due: look again as soon as a slot frees.
                        wait = Duration::MAX;
                    }
                }
                Err(e) => {
                    failures += 1;
                    wait = options
                        .poll
                        .saturating_mul(1 << failures.min(6))
                        .min(Duration::from_secs(30));
                    tracing::warn!(%owner, failures, "claiming jobs failed, again in {wait:?}: {e}");
                }
            }
        }
        let nap = tokio::time::sleep(wait.min(Duration::from_secs(3600)));
        tokio::select! {
            _ = wakeups.changed(), if failures == 0 => {}
            Some(finished) = running.join_next(), if !running.is_empty() => {
                done.extend(succeeded(&owner, finished));
                // Those that finished meanwhile share the commit.
                while let Some(finished) = running.try_join_next() {
                    done.extend(succeeded(&owner, finished));
                }
            }
            () = nap => {}
            () = stopped(&mut stop) => break,
        }
    }
    while let Some(finished) = running.join_next().await {
        done.extend(succeeded(&owner, finished));
    }
    match store
        .complete_and_claim(&done, &owner, None, 0, options.lease)
        .await
    {
        Ok((_, lost)) => report_done(&owner, &done, &lost),
        Err(e) => {
            tracing::warn!(%owner, "cannot record {} jobs done; they run again when their leases run out: {e}", done.len())
        }
    }
    tracing::info!(%owner, "job runner stopped");
}

/// The job whose handler succeeded, to be marked done. A handler that panicked leaves its
/// job running: the lease runs out and it is tried again (or goes dead after its last
/// attempt).
fn succeeded(owner: &str, finished: Result<Option<Id>, tokio::task::JoinError>) -> Option<Id> {
    finished
        .map_err(|e| {
            tracing::error!(%owner, "a job handler panicked; its job is retried when its lease runs out: {e}");
        })
        .ok()
        .flatten()
}

fn report_done(owner: &str, done: &[Id], lost: &[Id]) {
    for id in done {
        if lost.contains(id) {
            tracing::warn!(%owner, %id, "job's lease was lost to another worker; its outcome here is dropped");
        } else {
            tracing::debug!(%owner, %id, "job done");
        }
    }
}

/// Run one claimed job, renewing its lease meanwhile. A success is returned, for the
/// runner to mark done with its next claim; a failure is recorded here.
async fn execute(
    store: Store,
    handler: Option<Arc<dyn Erased>>,
    job: Job,
    owner: String,
    options: Options,
) -> Option<Id> {
    let result = match &handler {
        Some(h) => {
            let work = h.run(&job);
            tokio::pin!(work);
            tokio::select! {
                r = &mut work => r,
                () = keep_lease(&store, &job, &owner, options.lease) => work.await,
            }
        }
        // Claimed only by kind, so only a kind that lost its handler in a race.
        None => Err(JobError::Retry(format!("no handler for '{}'", job.kind))),
    };
    let (id, kind, attempt) = (job.id, job.kind.as_str(), job.attempts);
    let e = match result {
        Ok(()) => return Some(id),
        Err(e) => e,
    };
    let retry = match e {
        JobError::Retry(_) => {
            let at = u32::try_from(attempt).unwrap_or(1);
            Retry::After(options.backoff.delay(at, rand::random::<f64>()))
        }
        JobError::Permanent(_) => Retry::Never,
    };
    match store.fail(id, &owner, &e.to_string(), retry).await {
        Ok(JobFailure::Retrying(at)) => {
            tracing::info!(%id, kind, attempt, %at, "job failed, retrying: {e}");
        }
        Ok(JobFailure::Dead) => {
            tracing::warn!(%id, kind, attempt, "job dead: {e}");
        }
        Ok(JobFailure::LeaseLost) => {
            tracing::warn!(%id, kind, attempt, "job's lease was lost to another worker; its outcome here is dropped");
        }
        Err(err) => {
            tracing::warn!(%id, kind, attempt, "cannot record the job's outcome; it runs again when its lease runs out: {err}");
        }
    }
    None
}

/// Renew the job's lease every third of it; resolves only when the lease is lost (to a
/// takeover, after renewals failed for a whole lease), so the job runs on unrenewed.
async fn keep_lease(store: &Store, job: &Job, owner: &str, lease: Duration) {
    let every = (lease / 3).max(Duration::from_millis(1));
    loop {
        tokio::time::sleep(every).await;
        match store.extend_lease(job.id, owner, lease).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(id = %job.id, kind = %job.kind, "job's lease was taken over while it ran");
                return;
            }
            Err(e) => tracing::warn!(id = %job.id, "cannot renew a job's lease: {e}"),
        }
    }
}
