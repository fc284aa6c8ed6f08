//! Webhook subscriptions at work: [`Dispatch`] follows the change log and turns each change a
//! subscription wants into a delivery, whose body is the record as the subscription's owner
//! may read it (their scope, their masking; nothing when they may not see it); [`Deliver`]
//! is the job that sends it, signed as Standard Webhooks says, logging every attempt.
//!
//! Order: a record's deliveries to one subscription go out one after another, in the order
//! of the changes (the store keeps them as a chain). A delivery whose turn has not come
//! leaves its job done and waits; the one before it, when it finishes (delivered, or failed
//! for the last time), enqueues the next. A receiver that fails or hangs holds up only its
//! own records' chains; everything else goes on.
//!
//! A subscription failing for [`DISABLE_AFTER`] without a success (or answered 410 Gone) is
//! switched off, its pending deliveries cancelled, and its owner notified.

use crate::i18n::{Lang, Tr};
use crate::jobs::{Handler, JobError};
use crate::{AppError, access};
use chrono::{DateTime, Utc};
use guanxi_domain::entities::{User, Webhook};
use guanxi_domain::entity::def_by_name;
use guanxi_domain::filter::{Filter, ListQuery, MAX_LIMIT, Op};
use guanxi_domain::{Actor, Entity, Id, Record, Right};
use guanxi_outbound::webhook::{Deliverer, Endpoint, Verdict, WebhookSecret};
use guanxi_store::follow::{self, Follower, Subscriber};
use guanxi_store::{
    Attempt, AttemptEnds, ChangeEvent, Delivery, Job, NewDelivery, NewJob, NewNotification, Store,
    StoreError,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The follower's name: keys its position.
pub const SUBSCRIBER: &str = "webhooks";
/// The job kind of a delivery.
pub const JOB_KIND: &str = "webhook.deliver";
/// How long a subscription may fail without a success before it is switched off.
pub const DISABLE_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Attempts per delivery: with the runner's backoff (capped at an hour) they outlast
/// [`DISABLE_AFTER`], so a failing receiver is switched off rather than given up on.
pub const MAX_ATTEMPTS: i32 = 60;
/// How long one attempt may take (the spec suggests 15 to 30 s).
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Attempts in flight to one subscription at once, in this process: a receiver that hangs
/// holds this many of the runner's slots (and, for [`SLOT_WAIT`] each, those of the
/// attempts waiting for them), never all of them for long.
pub const PER_RECEIVER: usize = 8;
/// How long an attempt waits for one of its receiver's slots before it gives its runner
/// slot back and comes back later: long beside a healthy receiver's answer, short beside
/// a hanging one's [`TIMEOUT`].
pub const SLOT_WAIT: Duration = Duration::from_secs(1);

/// The event a change-log action is to a subscriber; `None` for those not reported.
fn event_of(action: &str) -> Option<&'static str> {
    match action {
        "create" | "restore" => Some("created"),
        "update" => Some("updated"),
        "delete" => Some("deleted"),
        _ => None,
    }
}

/// Follows the change log and records the deliveries of the active subscriptions.
pub struct Dispatch {
    store: Store,
    hooks: Vec<Record<Webhook>>,
    /// Owners as actors, resolved once per reload; `None`: deactivated, reports nothing.
    owners: HashMap<Id, Option<Actor>>,
}

impl Dispatch {
    /// Ready to follow: a first start begins at the log's end (subscriptions hear of
    /// changes from now on, not of the history).
    pub async fn open(store: Store) -> Result<Dispatch, StoreError> {
        if store.subscriber_position(SUBSCRIBER).await? == 0 {
            let end = store.last_change().await?;
            store.advance_subscriber(SUBSCRIBER, end).await?;
        }
        let mut d = Dispatch {
            store,
            hooks: vec![],
            owners: HashMap::new(),
        };
        d.reload().await?;
        Ok(d)
    }

    pub fn follow(self) -> Follower<Dispatch> {
        let store = self.store.clone();
        follow::follow(store, self, follow::Options::default())
    }

    async fn reload(&mut self) -> Result<(), StoreError> {
        self.hooks = active_hooks(&self.store).await?;
        self.owners.clear();
        for h in &self.hooks {
            let owner = h.data.user_id;
            if self.owners.contains_key(&owner) {
                continue;
            }
            let actor = match self.store.actor_for(owner).await {
                Ok(a) => Some(a),
                Err(StoreError::Forbidden { .. } | StoreError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            self.owners.insert(owner, actor);
        }
        Ok(())
    }

    /// The deliveries one change makes.
    async fn deliveries(&self, e: &ChangeEvent) -> Result<Vec<NewDelivery>, StoreError> {
        let Some(event) = event_of(&e.action) else {
            return Ok(vec![]);
        };
        let mut out = vec![];
        let mut custom = None;
        for h in &self.hooks {
            if !h.data.wants(&e.entity, event) || h.meta.created_at > e.at {
                continue;
            }
            let Some(Some(owner)) = self.owners.get(&h.data.user_id) else {
                continue;
            };
            if custom.is_none() {
                custom = Some(self.store.custom_fields(&e.entity).await?);
            }
            let defs = custom.as_deref().map_or(&[][..], Vec::as_slice);
            let state = e.after.as_ref().or(e.before.as_ref());
            let Some(data) = state.and_then(|s| as_seen_by(owner, defs, &e.entity, s)) else {
                continue;
            };
            out.push(NewDelivery {
                webhook_id: h.meta.id,
                key: format!("change:{}:{}:{}", e.seq, h.meta.id, e.record_id),
                entity: e.entity.clone(),
                record_id: e.record_id,
                seq: e.seq,
                event: event.into(),
                body: body(&format!("{}.{event}", e.entity), e.at, data),
            });
        }
        Ok(out)
    }
}

/// A record's JSON as `actor` may read it: `None` outside their scope, sensitive fields
/// masked unless they may see them. The same rule the store's reads apply, on the record
/// as the change left it.
pub fn as_seen_by(
    actor: &Actor,
    custom: &[guanxi_domain::custom::CustomFieldDef],
    entity: &str,
    record: &Value,
) -> Option<Value> {
    let def = def_by_name(entity)?;
    if !actor.may(entity, Right::Read) {
        return None;
    }
    let id = |f: &str| record[f].as_str().and_then(|s| Id::parse(s).ok());
    let partner = def.partner_field.and_then(id);
    if def.scoped && !actor.sees(id("owner_id"), id("team_id"), partner) {
        return None;
    }
    let mut out = record.clone();
    if !actor.role.see_sensitive {
        access::mask_json(def, custom, &mut out);
    }
    Some(out)
}

/// The body Standard Webhooks suggests: the event's type, when it happened, the record.
fn body(kind: &str, at: DateTime<Utc>, data: Value) -> String {
    json!({ "type": kind, "timestamp": at, "data": data }).to_string()
}

fn job_for(delivery: Id) -> NewJob {
    NewJob::new(JOB_KIND, json!({ "delivery": delivery }))
        .key(format!("webhook:{delivery}"))
        .max_attempts(MAX_ATTEMPTS)
}

async fn active_hooks(store: &Store) -> Result<Vec<Record<Webhook>>, StoreError> {
    let mut out = vec![];
    let mut q = ListQuery::default()
        .filter(Filter::new("active", Op::Eq, true))
        .limit(MAX_LIMIT);
    loop {
        let page = store.list::<Webhook>(&Actor::system(), &q).await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => q = q.after(Some(c)),
            None => return Ok(out),
        }
    }
}

impl Subscriber for Dispatch {
    type Error = StoreError;

    fn name(&self) -> &str {
        SUBSCRIBER
    }

    async fn handle(&mut self, events: &[ChangeEvent]) -> Result<(), StoreError> {
        let mut batch = vec![];
        for e in events {
            if e.entity == Webhook::DEF.name || e.entity == User::DEF.name {
                // Earlier events' deliveries are made with the subscriptions they met.
                self.store
                    .record_webhook_deliveries(&std::mem::take(&mut batch), job_for)
                    .await?;
                self.reload().await?;
                continue;
            }
            batch.extend(self.deliveries(e).await?);
        }
        self.store
            .record_webhook_deliveries(&batch, job_for)
            .await?;
        Ok(())
    }
}

/// Start following the log for webhooks, on the store's follower.
pub async fn start(store: Store) -> Result<Follower<Dispatch>, StoreError> {
    Ok(Dispatch::open(store).await?.follow())
}

/// Sends a delivery: the `webhook.deliver` job.
pub struct Deliver {
    store: Store,
    deliverer: Deliverer,
    disable_after: chrono::Duration,
    /// How long a delivery is held by the worker sending it.
    hold: Duration,
    /// Per subscription, the [`PER_RECEIVER`] slots for attempts in flight.
    in_flight: std::sync::Mutex<HashMap<Id, Arc<Semaphore>>>,
}

impl Deliver {
    pub fn new(store: Store) -> Deliver {
        Deliver::with(store, TIMEOUT, DISABLE_AFTER)
    }

    /// With another attempt timeout and failing time before switching off (tests).
    pub fn with(store: Store, timeout: Duration, disable_after: Duration) -> Deliver {
        let deliverer = Deliverer::new(timeout).expect("the HTTP client builds");
        Deliver {
            store,
            deliverer,
            disable_after: chrono::Duration::from_std(disable_after)
                .unwrap_or(chrono::Duration::MAX),
            hold: timeout + Duration::from_secs(30),
            in_flight: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// One of `hook`'s [`PER_RECEIVER`] slots, waiting up to [`SLOT_WAIT`] for one to
    /// free; `None` when none did. Held until dropped.
    async fn slot(&self, hook: Id) -> Option<OwnedSemaphorePermit> {
        let slots = self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(hook)
            .or_insert_with(|| Arc::new(Semaphore::new(PER_RECEIVER)))
            .clone();
        tokio::time::timeout(SLOT_WAIT, slots.acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Enqueue the next delivery of `d`'s chain, once per finish of `d`.
    async fn hand_on(&self, d: &Delivery) -> Result<(), JobError> {
        if let Some(next) = self
            .store
            .next_webhook_delivery(d.webhook_id, d.record_id)
            .await
            .map_err(JobError::retry)?
        {
            let job = job_for(next).key(format!("webhook:{next}:after:{}:{}", d.id, d.replays));
            self.store.enqueue(&[job]).await.map_err(JobError::retry)?;
        }
        Ok(())
    }

    /// Switch a subscription off, cancel what it still had to send, tell its owner.
    async fn disable(&self, hook: &Record<Webhook>, why: String) -> Result<(), StoreError> {
        let at = Utc::now();
        let reason = why.clone();
        let updated = self
            .store
            .update::<Webhook, _>(
                &Actor::system(),
                hook.meta.id,
                hook.meta.version,
                move |r| {
                    r.data.active = false;
                    r.data.disabled_at = Some(at);
                    r.data.disabled_reason = Some(reason);
                    Ok(())
                },
            )
            .await;
        match updated {
            Ok(_) => {}
            // Changed meanwhile (switched off by another worker, edited): leave it be.
            Err(StoreError::Conflict { .. }) => return Ok(()),
            Err(e) => return Err(e),
        }
        let cancelled = format!("cancelled: {why}");
        self.store
            .cancel_webhook_deliveries(hook.meta.id, &cancelled)
            .await?;
        let owner = self
            .store
            .get::<User>(&Actor::system(), hook.data.user_id)
            .await?;
        let t = Tr::new(Lang::from_locale(owner.data.locale));
        let note = NewNotification::new(
            owner.meta.id,
            "webhook",
            t.f("webhooks.disabled_note", &[("name", &hook.data.name)]),
        )
        .body(why)
        .about(Webhook::DEF.name, hook.meta.id)
        .key(format!(
            "webhook_disabled:{}:{}",
            hook.meta.id,
            at.timestamp_micros()
        ));
        crate::robots::send(&self.store, &[note]).await?;
        Ok(())
    }
}

impl Handler for Deliver {
    fn kind(&self) -> &str {
        JOB_KIND
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let id = job.payload["delivery"]
            .as_str()
            .and_then(|s| Id::parse(s).ok())
            .ok_or_else(|| JobError::permanent("the job names no delivery"))?;
        let d = match self.store.webhook_delivery(id).await {
            Ok(d) => d,
            Err(StoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(JobError::retry(e)),
        };
        let first = self
            .store
            .next_webhook_delivery(d.webhook_id, d.record_id)
            .await
            .map_err(JobError::retry)?;
        if d.status != "pending" || first != Some(d.id) {
            // Finished already, or waiting for an earlier one, which hands on to it.
            return Ok(());
        }
        let hook = match self
            .store
            .get::<Webhook>(&Actor::system(), d.webhook_id)
            .await
        {
            Ok(h) if h.data.active => h,
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                let why = "cancelled: the webhook is switched off or deleted";
                self.store
                    .cancel_webhook_deliveries(d.webhook_id, why)
                    .await
                    .map_err(JobError::retry)?;
                return Ok(());
            }
            Err(e) => return Err(JobError::retry(e)),
        };
        // The job's last attempt goes ahead regardless, so a busy receiver cannot starve
        // a delivery.
        let last = job.attempts >= job.max_attempts;
        let slot = self.slot(hook.meta.id).await;
        if slot.is_none() && !last {
            // Not an attempt at the receiver: nothing is logged, the job comes back later.
            return Err(JobError::retry(format!(
                "{PER_RECEIVER} deliveries to this receiver stayed in flight for {SLOT_WAIT:?}"
            )));
        }
        let secret = self
            .store
            .webhook_secret(hook.meta.id, || WebhookSecret::generate().to_string())
            .await
            .map_err(JobError::retry)?;
        let secret = WebhookSecret::parse(&secret).map_err(JobError::permanent)?;
        // Held past the attempt's timeout, so a worker that died lets go of it.
        let hold = Utc::now() + chrono::Duration::from_std(self.hold).unwrap_or_default();
        if !self
            .store
            .take_webhook_delivery(d.id, hold)
            .await
            .map_err(JobError::retry)?
        {
            // Another job of it is sending it (and hands on when done): look again later,
            // in case that worker died.
            return Err(JobError::retry("another worker is sending this delivery"));
        }
        let outcome = match Endpoint::parse(&hook.data.url) {
            Ok(endpoint) => {
                self.deliverer
                    .deliver(&endpoint, &[secret], &d.id.to_string(), d.body.as_bytes())
                    .await
            }
            Err(e) => guanxi_outbound::webhook::DeliveryOutcome {
                status: None,
                duration: Duration::ZERO,
                error: Some(e.to_string()),
                response_excerpt: String::new(),
                verdict: Verdict::Refused,
            },
        };
        let ends = match outcome.verdict {
            Verdict::Delivered => AttemptEnds::Delivered,
            Verdict::Retry { .. } if !last => AttemptEnds::Retrying,
            _ => AttemptEnds::Failed,
        };
        let attempt = Attempt {
            at: Utc::now(),
            status_code: outcome.status.map(i64::from),
            duration_ms: i64::try_from(outcome.duration.as_millis()).unwrap_or(i64::MAX),
            error: outcome.error.clone(),
            response: outcome.response_excerpt,
        };
        let since = self
            .store
            .log_webhook_attempt(&d, &attempt, ends)
            .await
            .map_err(JobError::retry)?;
        let why = match (&outcome.verdict, since) {
            (Verdict::Gone, _) => Some("the receiver answered 410 Gone".to_string()),
            (_, Some(since)) if attempt.at - since >= self.disable_after => Some(format!(
                "every delivery failed since {}",
                since.format("%Y-%m-%d %H:%M UTC")
            )),
            _ => None,
        };
        if let Some(why) = why {
            self.disable(&hook, why).await.map_err(JobError::retry)?;
        }
        if ends != AttemptEnds::Retrying {
            self.hand_on(&d).await?;
        }
        match (ends, outcome.error) {
            (AttemptEnds::Delivered, _) => Ok(()),
            (AttemptEnds::Retrying, e) => Err(JobError::retry(e.unwrap_or_default())),
            (AttemptEnds::Failed, e) => Err(JobError::permanent(e.unwrap_or_default())),
        }
    }
}

/// Whether `actor` may see a subscription's deliveries and secret, and replay: its owner,
/// or whoever may change subscriptions.
fn may_manage(actor: &Actor, hook: &Record<Webhook>) -> bool {
    actor.user_id == hook.data.user_id || actor.may(Webhook::DEF.name, Right::Update)
}

async fn managed(store: &Store, actor: &Actor, id: Id) -> Result<Record<Webhook>, AppError> {
    let hook = store.get::<Webhook>(actor, id).await?;
    if !may_manage(actor, &hook) {
        return Err(StoreError::Forbidden {
            entity: Webhook::DEF.name,
            right: Right::Update,
        }
        .into());
    }
    Ok(hook)
}

/// The signing secret (`whsec_…`), for the owner and administrators.
pub async fn secret(store: &Store, actor: &Actor, id: Id) -> Result<String, AppError> {
    let hook = managed(store, actor, id).await?;
    Ok(store
        .webhook_secret(hook.meta.id, || WebhookSecret::generate().to_string())
        .await?)
}

/// A subscription's newest deliveries (before the delivery `before`).
pub async fn deliveries(
    store: &Store,
    actor: &Actor,
    id: Id,
    before: Option<Id>,
    limit: u32,
) -> Result<Vec<Delivery>, AppError> {
    managed(store, actor, id).await?;
    Ok(store.webhook_deliveries(id, before, limit).await?)
}

/// One delivery of a subscription and its attempts.
pub async fn delivery(
    store: &Store,
    actor: &Actor,
    id: Id,
    delivery: Id,
) -> Result<(Delivery, Vec<Attempt>), AppError> {
    let d = own_delivery(store, actor, id, delivery).await?;
    let attempts = store.webhook_attempts(d.id).await?;
    Ok((d, attempts))
}

async fn own_delivery(
    store: &Store,
    actor: &Actor,
    id: Id,
    delivery: Id,
) -> Result<Delivery, AppError> {
    managed(store, actor, id).await?;
    let d = store.webhook_delivery(delivery).await?;
    if d.webhook_id != id {
        return Err(StoreError::NotFound {
            entity: "webhook_delivery",
            id: delivery,
        }
        .into());
    }
    Ok(d)
}

/// Send a delivery again, with its id and body as first sent (receivers deduplicate by id).
pub async fn replay(
    store: &Store,
    actor: &Actor,
    id: Id,
    delivery: Id,
) -> Result<Delivery, AppError> {
    own_delivery(store, actor, id, delivery).await?;
    Ok(store
        .replay_webhook_delivery(delivery, |d| {
            job_for(d.id).key(format!("webhook:{}:replay:{}", d.id, d.replays))
        })
        .await?)
}

/// A rule's "call a webhook": one delivery of the record, as the subscription's owner may
/// read it now, queued behind the record's other deliveries to it. Keyed by `key` (the run
/// and action), so a run tried again sends nothing twice. What it did, for the run's log.
pub async fn call<T: Entity>(
    store: &Store,
    webhook_id: Id,
    record_id: Id,
    seq: i64,
    key: String,
) -> Result<Value, StoreError> {
    let refused = |why: &str| StoreError::invalid("webhook_id", "invalid", why.to_string());
    let hook = match store.get::<Webhook>(&Actor::system(), webhook_id).await {
        Ok(h) => h,
        Err(StoreError::NotFound { .. }) => return Err(refused("no such webhook")),
        Err(e) => return Err(e),
    };
    if !hook.data.active {
        return Err(refused("the webhook is switched off"));
    }
    let owner = match store.actor_for(hook.data.user_id).await {
        Ok(a) => a,
        Err(StoreError::Forbidden { .. } | StoreError::NotFound { .. }) => {
            return Err(refused("the webhook's owner is deactivated"));
        }
        Err(e) => return Err(e),
    };
    let record = match store.get::<T>(&owner, record_id).await {
        Ok(r) => r,
        Err(StoreError::Forbidden { .. } | StoreError::NotFound { .. }) => {
            return Ok(
                json!({ "webhook_id": webhook_id, "skipped": "the owner may not see the record" }),
            );
        }
        Err(e) => return Err(e),
    };
    let custom = store.custom_fields(T::DEF.name).await?;
    let data = access::present(&owner, &custom, &record);
    let delivery = NewDelivery {
        webhook_id,
        key,
        entity: T::DEF.name.into(),
        record_id,
        seq,
        event: "rule".into(),
        body: body(&format!("{}.rule", T::DEF.name), Utc::now(), data),
    };
    let new = store
        .record_webhook_deliveries(&[delivery], job_for)
        .await?;
    Ok(json!({ "webhook_id": webhook_id, "queued": new == 1 }))
}
