//! The work `guanxi serve` does beside answering requests, started and stopped in one
//! place: the change-log followers that act on changes (notifications, workflow rules,
//! webhooks, service clocks and dispatch, satisfaction surveys, campaign conversions), the
//! bounce address, the job runner that carries out what they queue,
//! and the chains of morning reminders and SLA sweeps. (The search index's follower is started with the index it fills.)

use crate::{bounces, campaigns, jobs, mail, notify, reminders, rules, service, surveys, webhooks};
use guanxi_store::Store;
use guanxi_store::follow::{self, Follower, Subscriber};
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The running background work.
pub struct Background {
    notifier: JoinHandle<Follower<notify::Notifier>>,
    rules: JoinHandle<Follower<rules::Trigger>>,
    webhooks: JoinHandle<Follower<webhooks::Dispatch>>,
    service: JoinHandle<Follower<service::Service>>,
    surveys: JoinHandle<Follower<surveys::Surveys>>,
    conversions: JoinHandle<Follower<campaigns::Conversions>>,
    bounces: Option<bounces::Bounces>,
    jobs: jobs::Runner,
}

/// Start following `opened` once it opens: opening reads the database, and a failure (it
/// is restarting) is tried again with growing waits rather than stopping the server.
fn follower<S, F, Fut, E>(store: &Store, what: &'static str, open: F) -> JoinHandle<Follower<S>>
where
    S: Subscriber,
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<S, E>> + Send,
    E: std::fmt::Display,
{
    let store = store.clone();
    tokio::spawn(async move {
        let mut wait = Duration::from_secs(1);
        loop {
            match open().await {
                Ok(s) => return follow::follow(store, s, follow::Options::default()),
                Err(e) => tracing::warn!("{what}: {e}; trying again in {wait:?}"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(30));
        }
    })
}

/// Queue the first job of a chain (the next morning's task reminder, the next SLA sweep),
/// trying again while the database is away: each job of a chain queues the next, so this
/// starts it (or finds it queued).
fn arm<F, Fut>(store: &Store, what: &'static str, arm: F)
where
    F: Fn(Store) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), guanxi_store::StoreError>> + Send,
{
    let store = store.clone();
    tokio::spawn(async move {
        let mut wait = Duration::from_secs(1);
        while let Err(e) = arm(store.clone()).await {
            tracing::warn!("{what}: {e}; trying again in {wait:?}");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(30));
        }
    });
}

/// Start the followers and the job runner on `store`, sending mail through `outbox`, and
/// the bounce address on `bounce_listener` (answering as the domain given) when there is one.
pub fn start(
    store: &Store,
    outbox: &mail::Outbox,
    bounce_listener: Option<(tokio::net::TcpListener, String)>,
) -> Background {
    let s = store.clone();
    let notifier = follower(store, "notifications", move || {
        notify::Notifier::open(s.clone())
    });
    let s = store.clone();
    let rules = follower(store, "workflow rules", move || {
        rules::Trigger::open(s.clone())
    });
    let s = store.clone();
    let webhooks = follower(store, "webhooks", move || {
        webhooks::Dispatch::open(s.clone())
    });
    let s = store.clone();
    let service = follower(store, "service", move || service::Service::open(s.clone()));
    let s = store.clone();
    let surveys = follower(store, "surveys", move || surveys::Surveys::open(s.clone()));
    let s = store.clone();
    let conversions = follower(store, "campaign conversions", move || {
        campaigns::Conversions::open(s.clone())
    });
    let jobs = jobs::start(
        store.clone(),
        jobs::served(store, outbox),
        jobs::Options::default(),
    );
    arm(store, "task reminders", |s| async move {
        reminders::arm(&s).await
    });
    arm(
        store,
        "SLA sweep",
        |s| async move { service::arm(&s).await },
    );
    Background {
        notifier,
        rules,
        webhooks,
        service,
        surveys,
        conversions,
        bounces: bounce_listener.map(|(l, domain)| bounces::start(store, l, domain)),
        jobs,
    }
}

impl Background {
    /// Stop: each follower finishes the batch in hand (or it is offered again at the next
    /// start), then the jobs in hand finish and are recorded; the rest wait in the database.
    pub async fn stop(self) {
        for_follower(self.notifier).await;
        for_follower(self.rules).await;
        for_follower(self.webhooks).await;
        for_follower(self.service).await;
        for_follower(self.surveys).await;
        for_follower(self.conversions).await;
        if let Some(b) = self.bounces {
            b.stop().await;
        }
        self.jobs.stop().await;
    }
}

async fn for_follower<S: Subscriber>(task: JoinHandle<Follower<S>>) {
    if task.is_finished() {
        if let Ok(follower) = task.await {
            let _ = follower.stop().await;
        }
    } else {
        task.abort();
    }
}
