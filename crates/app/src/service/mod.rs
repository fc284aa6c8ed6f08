//! Service that runs: every case gets the SLA clock of the policy that covers it, and a
//! new case is offered to the nearest qualified service partner.
//!
//! One subscriber (`service`) follows the change log: for each case a batch touched it
//! reads the case as it is now, moves its clock by the status changes in the batch
//! ([`sla`]), decides its dispatch ([`dispatch`]), and writes the result back through the
//! write path as the system, once, so rules see `sla_state` and `partner_id` change like
//! any field. What changes by time alone comes from jobs: the SLA sweep (`sla.sweep`,
//! every minute) writes the warnings and breaches that came due, an offer that lapsed
//! passes on (`dispatch.lapse`), and a calendar or policy changed recomputes every open
//! case's due dates at once (`sla.recompute`).

pub mod dispatch;
pub mod kpis;
pub mod sla;
pub mod work;

use guanxi_domain::entities::{Account, Case};
use guanxi_domain::{Actor, Id, Record};
use guanxi_store::follow::{self, Follower, Subscriber};
use guanxi_store::{ChangeEvent, Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;

/// The subscriber's name, which keys its position: keep it stable.
pub const SUBSCRIBER: &str = "service";

/// How often a case is read again when someone else wrote it in between.
const TRIES: usize = 5;

/// Keeps clocks and dispatch as the change log grows.
pub struct Service {
    store: Store,
    setup: Arc<sla::Setup>,
    partners: Option<Arc<dispatch::Partners>>,
}

impl Service {
    /// The subscriber of `store`; the first time ever, positioned at the log's end (the
    /// cases before it get their clocks from `sla.recompute`, queued here).
    pub async fn open(store: Store) -> Result<Service, StoreError> {
        if store.subscriber_position(SUBSCRIBER).await? == 0 {
            let end = store.last_change().await?;
            store
                .enqueue(&[sla::recompute_job(&format!("start:{end}"))])
                .await?;
            store.advance_subscriber(SUBSCRIBER, end.max(1)).await?;
        }
        let setup = Arc::new(sla::Setup::load(&store).await?);
        Ok(Service {
            store,
            setup,
            partners: None,
        })
    }

    /// Follow the log on the store's follower, for as long as the process runs.
    pub fn follow(self) -> Follower<Service> {
        let store = self.store.clone();
        follow::follow(store, self, follow::Options::default())
    }

    /// Act on one batch of events.
    pub async fn act(&mut self, events: &[ChangeEvent]) -> Result<(), StoreError> {
        let mut cases: Vec<(Id, Vec<&ChangeEvent>)> = vec![];
        let mut at: HashMap<Id, usize> = HashMap::new();
        let mut setup_changed = None;
        for e in events {
            match e.entity.as_str() {
                "calendar" | "sla_policy" => setup_changed = Some(e.seq),
                "account" if dispatch::touches_partners(e) => self.partners = None,
                "case" if matches!(e.action.as_str(), "create" | "update" | "restore") => {
                    let i = *at.entry(e.record_id).or_insert_with(|| {
                        cases.push((e.record_id, vec![]));
                        cases.len() - 1
                    });
                    cases[i].1.push(e);
                }
                _ => {}
            }
        }
        if let Some(seq) = setup_changed {
            self.setup = Arc::new(sla::Setup::load(&self.store).await?);
            self.store
                .enqueue(&[sla::recompute_job(&seq.to_string())])
                .await?;
        }
        for (id, events) in cases {
            self.settle(id, &events).await?;
        }
        Ok(())
    }

    /// Bring one case's clock and dispatch up to date with `events` (its own, in order).
    async fn settle(&mut self, id: Id, events: &[&ChangeEvent]) -> Result<(), StoreError> {
        let system = Actor::system();
        for _ in 0..TRIES {
            let case = match self.store.get::<Case>(&system, id).await {
                Ok(c) => c,
                Err(StoreError::NotFound { .. }) => return Ok(()),
                Err(e) => return Err(e),
            };
            let account = account_of(&self.store, &case).await?;
            // To the millisecond: what the store keeps, so a time written is found again.
            let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 3);
            let mut next = case.data.clone();
            sla::settle(&self.setup, &case, account.as_ref(), events, now).put(&mut next);
            let partners = match &self.partners {
                Some(p) => p.clone(),
                None => {
                    let p = Arc::new(dispatch::Partners::load(&self.store).await?);
                    self.partners = Some(p.clone());
                    p
                }
            };
            let lapse = dispatch::settle(
                &self.store,
                &partners,
                &case,
                account.as_ref(),
                events,
                &mut next,
                now,
            )
            .await?;
            if next == case.data {
                return Ok(());
            }
            // The lapse job first: should the write fail, it finds no offer and does nothing.
            if let Some(job) = lapse {
                self.store.enqueue(&[job]).await?;
            }
            match write(&self.store, &case, next).await {
                Err(StoreError::Conflict { .. }) => continue,
                other => return other.map(|_| ()),
            }
        }
        tracing::warn!("case {id}: changed by others {TRIES} times while its clock was set");
        Ok(())
    }
}

/// The case's account, read as the system (its tier, grade and address).
pub(crate) async fn account_of(
    store: &Store,
    case: &Record<Case>,
) -> Result<Option<Record<Account>>, StoreError> {
    let Some(id) = case.data.account_id else {
        return Ok(None);
    };
    match store.get::<Account>(&Actor::system(), id).await {
        Ok(a) => Ok(Some(a)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Write what Guanxi keeps on a case (its clock, its dispatch) as the system, on the
/// version read.
pub(crate) async fn write(
    store: &Store,
    case: &Record<Case>,
    next: Case,
) -> Result<Record<Case>, StoreError> {
    store
        .update::<Case, _>(&Actor::system(), case.meta.id, case.meta.version, |r| {
            r.data = next;
            Ok(())
        })
        .await
}

impl Subscriber for Service {
    type Error = String;

    fn name(&self) -> &str {
        SUBSCRIBER
    }

    async fn handle(&mut self, events: &[ChangeEvent]) -> Result<(), String> {
        self.act(events).await.map_err(|e| e.to_string())
    }
}

/// Queue the SLA sweep's next run, trying again while the database is away: each sweep
/// queues the next, so this starts the chain (or finds it queued).
pub async fn arm(store: &Store) -> Result<(), StoreError> {
    store.enqueue(&[sla::sweep_job(chrono::Utc::now())]).await?;
    Ok(())
}
