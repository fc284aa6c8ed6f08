//! A campaign's journey run by the durable jobs. When a member's message is sent (or one of
//! their steps is done) the steps after it are scheduled for them, each due after its
//! wait ([`schedule`]); a step watching for an open or a click falls due as soon as the
//! member gives it ([`on_responses`]). [`RunSteps`] takes the due ones a batch at a time, looks whether each
//! step's condition holds on what the member did with the parent's message (opened,
//! clicked, replied), and runs it: an e-mail through the one mail path (consent,
//! suppression and the frequency cap checked, tracked as the step's), a task for the
//! contact's owner, or a field of the contact set. Every effect is keyed by campaign, step
//! and contact, so a step run twice (a job tried again) does it once.

use super::send::{FREQUENCY_CAP, active, campaign_of, capped};
use super::{BATCH, LEASE, Noted};
use crate::jobs::{Handler, JobError};
use crate::mail::{self, Message, Outbox, Outcome};
use crate::records::{self, derived_id};
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::entities::{
    Campaign, Contact, Direction, Interaction, InteractionKind, InteractionStatus, Responded, Step,
    StepAction, StepWhen, children,
};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Id, NewRecord, Record};
use guanxi_store::{
    Job, MemberResponse as Response, NewJob, StepDue, StepMark, Store, StoreError, step_state,
};
use serde_json::json;
use std::collections::{HashMap, HashSet};

/// The job that runs a campaign's due journey steps.
pub const STEPS: &str = "campaign.steps";

/// How long one run takes batches before it hands over to a new job.
const RUN_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// Schedule, for each (member, what they finished: `None` the campaign's message, or a
/// step), the steps that follow it, each due its wait after `at`; and a steps job for the
/// earliest.
pub async fn schedule(
    store: &Store,
    c: &Record<Campaign>,
    finished: &[(Id, Option<Id>)],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let due: Vec<StepDue> = finished
        .iter()
        .flat_map(|(contact, parent)| {
            children(&c.data.steps, *parent).map(move |s| StepDue {
                contact: *contact,
                step: s.id,
                due_at: at + Duration::hours(s.wait_hours),
            })
        })
        .collect();
    let Some(first) = due.iter().map(|d| d.due_at).min() else {
        return Ok(());
    };
    store.schedule_steps(c.meta.id, &due).await?;
    store.enqueue(&[job(c.meta.id, first)]).await?;
    Ok(())
}

/// Members who just opened, clicked or replied to a message (first responses, as
/// recorded) need not wait out the steps watching for it: those steps fall due now.
pub async fn on_responses(store: &Store, firsts: &[&Noted]) -> Result<(), StoreError> {
    let watched: Vec<&&Noted> = firsts
        .iter()
        .filter(|n| {
            matches!(
                n.response,
                Response::Opened | Response::Clicked | Response::Replied
            )
        })
        .collect();
    if watched.is_empty() {
        return Ok(());
    }
    let ids = distinct(watched.iter().map(|n| n.campaign));
    let now = Utc::now();
    for c in store.get_many::<Campaign>(&Actor::system(), &ids).await? {
        let rows: Vec<(Id, Vec<Id>)> = watched
            .iter()
            .filter(|n| n.campaign == c.meta.id)
            .map(|n| {
                let steps = children(&c.data.steps, n.step)
                    .filter(|s| match s.when {
                        // A click is an open.
                        StepWhen::Opened => n.response != Response::Replied,
                        StepWhen::Clicked => n.response == Response::Clicked,
                        StepWhen::Replied => n.response == Response::Replied,
                        _ => false,
                    })
                    .map(|s| s.id)
                    .collect();
                (n.contact, steps)
            })
            .collect();
        if store.hasten_steps(c.meta.id, &rows, now).await? > 0 {
            store.enqueue(&[job(c.meta.id, now)]).await?;
        }
    }
    Ok(())
}

/// A steps job for `campaign` at `at`, keyed by the time: one per moment however many
/// batches ask for it.
pub fn job(campaign: Id, at: DateTime<Utc>) -> NewJob {
    let mut job = NewJob::new(STEPS, json!({ "campaign_id": campaign }));
    job.key = Some(format!("{STEPS}:{campaign}:at:{}", at.timestamp_micros()));
    job.run_at = Some(at);
    job
}

/// Runs a campaign's due steps, batch after batch, then queues itself for the next due.
pub struct RunSteps {
    pub store: Store,
    pub outbox: Outbox,
}

impl Handler for RunSteps {
    fn kind(&self) -> &str {
        STEPS
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let id = campaign_of(job)?;
        let begun = std::time::Instant::now();
        loop {
            let Some(c) = active(&self.store, id).await? else {
                return Ok(());
            };
            let now = Utc::now();
            // Steps keep the campaign's send window: no mail, task or change at night.
            let opens = c.data.next_send_at(now);
            if opens > now {
                return self.again(id, opens).await;
            }
            let due = self
                .store
                .claim_steps(id, &job.id.to_string(), now, BATCH, LEASE)
                .await
                .map_err(JobError::retry)?;
            if due.is_empty() {
                return match self.store.next_step_due(id).await {
                    Ok(Some(at)) => self.again(id, at.max(now)).await,
                    Ok(None) => Ok(()),
                    Err(e) => Err(JobError::retry(e)),
                };
            }
            self.batch(&c, &due, now).await?;
            if begun.elapsed() > RUN_BUDGET {
                return self.again(id, Utc::now()).await;
            }
        }
    }
}

impl RunSteps {
    async fn again(&self, campaign: Id, at: DateTime<Utc>) -> Result<(), JobError> {
        self.store
            .enqueue(&[job(campaign, at)])
            .await
            .map_err(JobError::retry)?;
        Ok(())
    }

    /// Run a batch of due steps and schedule what follows the ones done.
    async fn batch(
        &self,
        c: &Record<Campaign>,
        due: &[StepDue],
        now: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let id = c.meta.id;
        let store = &self.store;
        let steps: HashMap<Id, &Step> = c.data.steps.iter().map(|s| (s.id, s)).collect();
        let contacts: Vec<Id> = distinct(due.iter().map(|d| d.contact));
        let fates = store
            .message_fates(id, &contacts)
            .await
            .map_err(JobError::retry)?;
        let replied = replies(store, due, &steps, &fates).await?;
        let mut marks = vec![];
        let mut messages = vec![];
        let mut work = vec![];
        for d in due {
            let mark = |state: &'static str, detail: Option<String>| StepMark {
                contact: d.contact,
                step: d.step,
                state,
                detail,
                interaction: None,
                sent: false,
            };
            // A step taken out of the journey after it was scheduled: nobody goes on.
            let Some(step) = steps.get(&d.step) else {
                marks.push(mark(step_state::SKIPPED, Some("removed".into())));
                continue;
            };
            let fate = fates
                .get(&(d.contact, step.parent))
                .copied()
                .unwrap_or_default();
            let did = Responded {
                opened: fate.opened,
                clicked: fate.clicked,
                replied: replied.contains(&(d.contact, step.parent)),
            };
            if !step.when.holds(did) {
                marks.push(mark(step_state::SKIPPED, Some(step.when.to_string())));
                continue;
            }
            match &step.action {
                StepAction::SendEmail { template_id } => messages.push(Message {
                    template_id: *template_id,
                    contact_id: d.contact,
                    key: format!("campaign:{id}:step:{}:{}", d.step, d.contact),
                    step: Some(d.step),
                }),
                _ => work.push((d, *step)),
            }
        }
        let capped = capped(
            store,
            &c.data,
            &distinct(messages.iter().map(|m| m.contact_id)),
            now,
        )
        .await?;
        messages.retain(|m| {
            let over = capped.contains(&m.contact_id);
            if over {
                marks.push(StepMark {
                    contact: m.contact_id,
                    step: m.step.expect("a step's message"),
                    state: step_state::REFUSED,
                    detail: Some(FREQUENCY_CAP.into()),
                    interaction: None,
                    sent: false,
                });
            }
            !over
        });
        let actor = Actor::campaign(id);
        let answers = if messages.is_empty() {
            vec![]
        } else {
            mail::send_batch(
                store,
                &self.outbox,
                &actor,
                &messages,
                c.meta.created_at,
                Some(id),
            )
            .await
            .map_err(JobError::retry)?
        };
        let mut transient = None;
        for (m, answer) in messages.iter().zip(answers) {
            let step = m.step.expect("a step's message");
            let (state, detail, interaction, sent) = match answer {
                Ok(Outcome::Sent { interaction_id, .. })
                | Ok(Outcome::AlreadySent { interaction_id }) => {
                    (step_state::DONE, None, Some(interaction_id), true)
                }
                Ok(Outcome::Refused(r)) => {
                    (step_state::REFUSED, Some(r.code().into()), None, false)
                }
                Err(e) if e.is_transient() => {
                    transient.get_or_insert(e.to_string());
                    continue;
                }
                Err(e) => (step_state::FAILED, Some(e.to_string()), None, false),
            };
            marks.push(StepMark {
                contact: m.contact_id,
                step,
                state,
                detail,
                interaction,
                sent,
            });
        }
        for (d, step) in work {
            match act(store, &actor, c, d, step, now).await {
                Ok((state, detail, interaction)) => marks.push(StepMark {
                    contact: d.contact,
                    step: d.step,
                    state,
                    detail,
                    interaction,
                    sent: false,
                }),
                Err(e) if lasting(&e) => marks.push(StepMark {
                    contact: d.contact,
                    step: d.step,
                    state: step_state::FAILED,
                    detail: Some(e.to_string()),
                    interaction: None,
                    sent: false,
                }),
                Err(e) => {
                    transient.get_or_insert(e.to_string());
                }
            }
        }
        store
            .mark_steps(id, &marks)
            .await
            .map_err(JobError::retry)?;
        let done: Vec<(Id, Option<Id>)> = marks
            .iter()
            .filter(|m| m.state == step_state::DONE)
            .map(|m| (m.contact, Some(m.step)))
            .collect();
        schedule(store, c, &done, Utc::now())
            .await
            .map_err(JobError::retry)?;
        // What may pass stays claimed by this job, which takes it again when tried again.
        match transient {
            Some(e) => Err(JobError::retry(e)),
            None => Ok(()),
        }
    }
}

fn lasting(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Invalid(_) | StoreError::Forbidden { .. } | StoreError::NotFound { .. }
    )
}

/// A task or a field update for the member's contact: its state, why, and the task made.
async fn act(
    store: &Store,
    actor: &Actor,
    c: &Record<Campaign>,
    d: &StepDue,
    step: &Step,
    now: DateTime<Utc>,
) -> Result<(&'static str, Option<String>, Option<Id>), StoreError> {
    let contact = store.get::<Contact>(&Actor::system(), d.contact).await?;
    match &step.action {
        StepAction::CreateTask {
            subject,
            due_in_hours,
        } => {
            let Some(owner) = contact.meta.owner_id else {
                return Ok((step_state::REFUSED, Some("no_owner".into()), None));
            };
            let task = Interaction {
                kind: InteractionKind::Task,
                direction: None,
                status: InteractionStatus::Planned,
                at: now + Duration::hours(*due_in_hours),
                subject: subject.clone(),
                body: Some(format!("{} · {}", c.data.name, step.name)),
                outcome: None,
                account_id: contact.data.account_id,
                contact_id: Some(d.contact),
                opportunity_id: None,
                case_id: None,
                campaign_id: Some(c.meta.id),
                parts: vec![],
            };
            let mut new = NewRecord::new(task);
            let id = derived_id(
                c.meta.created_at,
                &format!("campaign:{}:step:{}:{}", c.meta.id, d.step, d.contact),
            );
            new.id = Some(id);
            new.owner_id = Some(owner);
            records::create_once(store, actor, vec![new]).await?;
            Ok((step_state::DONE, None, Some(id)))
        }
        StepAction::UpdateField { field, value } => {
            let json = contact.to_json();
            let (current, body) = match field.strip_prefix("custom.") {
                Some(key) => (&json["custom"][key], json!({ "custom": { key: value } })),
                None => (&json[field.as_str()], json!({ field.as_str(): value })),
            };
            if current == value {
                return Ok((step_state::DONE, Some("unchanged".into()), None));
            }
            records::patch::<Contact>(store, actor, d.contact, contact.meta.version, body)
                .await
                .map_err(|e| match e {
                    crate::AppError::Store(e) => e,
                    other => StoreError::invalid("value", "invalid", other.to_string()),
                })?;
            Ok((step_state::DONE, None, None))
        }
        StepAction::SendEmail { .. } => unreachable!("sent in a batch"),
    }
}

/// The (member, parent) of `due` steps waiting on a reply whose contact wrote back after
/// the parent's message: an inbound interaction (a mail, a call, a WeChat message logged
/// or received) that is not a tracked open or click.
async fn replies(
    store: &Store,
    due: &[StepDue],
    steps: &HashMap<Id, &Step>,
    fates: &HashMap<(Id, Option<Id>), guanxi_store::MessageFate>,
) -> Result<HashSet<(Id, Option<Id>)>, JobError> {
    let asks: Vec<(Id, Option<Id>, DateTime<Utc>)> = due
        .iter()
        .filter_map(|d| {
            let s = steps.get(&d.step)?;
            if !matches!(s.when, StepWhen::Replied | StepWhen::NotReplied) {
                return None;
            }
            let sent = fates.get(&(d.contact, s.parent))?.sent_at?;
            Some((d.contact, s.parent, sent))
        })
        .collect();
    let Some(since) = asks.iter().map(|a| a.2).min() else {
        return Ok(HashSet::new());
    };
    let contacts: Vec<String> = distinct(asks.iter().map(|a| a.0))
        .iter()
        .map(Id::to_string)
        .collect();
    let mut inbound: HashMap<Id, Vec<DateTime<Utc>>> = HashMap::new();
    let mut cursor = None;
    loop {
        let page = ListQuery::default()
            .filter(Filter::new("contact_id", Op::In, json!(contacts)))
            .filter(Filter::new("direction", Op::Eq, json!(Direction::Inbound)))
            .filter(Filter::new("at", Op::Ge, json!(since)))
            .filter(Filter::new("campaign_id", Op::IsNull, json!(true)))
            .limit(guanxi_domain::filter::MAX_LIMIT)
            .after(cursor);
        let got = store
            .list::<Interaction>(&Actor::system(), &page)
            .await
            .map_err(JobError::retry)?;
        for i in &got.items {
            if let Some(c) = i.data.contact_id {
                inbound.entry(c).or_default().push(i.data.at);
            }
        }
        match got.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(asks
        .into_iter()
        .filter(|(contact, _, sent)| {
            inbound
                .get(contact)
                .is_some_and(|ats| ats.iter().any(|at| at > sent))
        })
        .map(|(contact, parent, _)| (contact, parent))
        .collect())
}

fn distinct(ids: impl Iterator<Item = Id>) -> Vec<Id> {
    let mut v: Vec<Id> = ids.collect();
    v.sort_unstable();
    v.dedup();
    v
}
