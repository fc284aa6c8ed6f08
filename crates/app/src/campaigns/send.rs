//! The job that sends a campaign: a batch of queued members at a time through the one
//! message path ([`mail::send_batch_on`], on the campaign's channel), then the batch
//! after it.

use super::{BATCH, LEASE, SEND};
use crate::jobs::{Handler, JobError};
use crate::mail::{self, Channel, Message, Outbox, Outcome};
use chrono::{DateTime, Utc};
use guanxi_domain::entities::{Campaign, CampaignStatus};
use guanxi_domain::{Actor, Id, Record};
use guanxi_store::{Job, MemberMark, NewJob, Store, StoreError, member_state};
use std::collections::HashSet;

/// Sends a campaign's queued members batch after batch (one of the campaign's lanes), then
/// queues its own successor: at once after its run's budget, later for a rate limit or
/// outside the send window.
pub struct SendCampaign {
    pub store: Store,
    pub outbox: Outbox,
}

impl Handler for SendCampaign {
    fn kind(&self) -> &str {
        SEND
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let id = campaign_of(job)?;
        // Batch after batch in one run, so that the next does not wait for the runner's
        // poll; the campaign is read again before each (a pause stops it there).
        let begun = std::time::Instant::now();
        loop {
            let Some(c) = active(&self.store, id).await? else {
                return Ok(());
            };
            // Outside the send window: the same job again when it opens.
            let started = Utc::now();
            let opens = c.data.next_send_at(started);
            if opens > started {
                let mut later = NewJob::new(SEND, job.payload.clone());
                later.key = Some(format!(
                    "{SEND}:{id}:at:{}:{}",
                    opens.timestamp(),
                    job.payload["lane"]
                ));
                later.run_at = Some(opens);
                self.store
                    .enqueue(&[later])
                    .await
                    .map_err(JobError::retry)?;
                return Ok(());
            }
            let Some((last, wait)) = self.batch(job, &c, started).await? else {
                return Ok(()); // the last batch
            };
            if wait.is_some() || begun.elapsed() > RUN_BUDGET {
                // Keyed by where it starts: a batch run twice queues its successor once.
                // A rate limit holds it until this batch's share of the minute has passed.
                let mut next = NewJob::new(SEND, job.payload.clone());
                next.key = Some(format!("{SEND}:{id}:after:{last}"));
                next.run_at = wait.map(|w| started + w);
                self.store.enqueue(&[next]).await.map_err(JobError::retry)?;
                return Ok(());
            }
        }
    }
}

/// The campaign a job's payload names.
pub(super) fn campaign_of(job: &Job) -> Result<Id, JobError> {
    job.payload["campaign_id"]
        .as_str()
        .and_then(|s| Id::parse(s).ok())
        .ok_or_else(|| JobError::permanent("no campaign_id in the payload"))
}

/// The campaign as it is now, if it is active: paused, completed, cancelled or deleted,
/// its jobs stop (resuming queues them again).
pub(super) async fn active(store: &Store, id: Id) -> Result<Option<Record<Campaign>>, JobError> {
    match store.get::<Campaign>(&Actor::system(), id).await {
        Ok(c) if c.data.status == CampaignStatus::Active => Ok(Some(c)),
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(JobError::retry(e)),
    }
}

/// The refusal of a member the frequency cap stops.
pub const FREQUENCY_CAP: &str = "frequency_cap";

/// How long one run of the send job goes on taking batches before it hands over to a
/// new job: well within the runner's lease.
const RUN_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

impl SendCampaign {
    /// Send the next batch of `c`'s queued members: the last member taken and how long
    /// the next batch waits (a rate limit), or `None` when this was the last batch.
    async fn batch(
        &self,
        job: &Job,
        c: &Record<Campaign>,
        started: DateTime<Utc>,
    ) -> Result<Option<(Id, Option<chrono::Duration>)>, JobError> {
        let id = c.meta.id;
        let channel = Channel::of(c.data.channel).ok_or_else(|| {
            JobError::permanent(format!("a {} campaign is not sent", c.data.channel))
        })?;
        let (size, wait) = c.data.pace(BATCH);
        let batch = self
            .store
            .claim_members(id, &job.id.to_string(), size, LEASE)
            .await
            .map_err(JobError::retry)?;
        let contacts: Vec<Id> = batch.iter().map(|(c, _)| *c).collect();
        let capped = capped(&self.store, &c.data, &contacts, started).await?;
        // One batch through the message path: its records read once, its messages sent
        // side by side, its interactions and the members' states each written in one go.
        let mut marks = vec![];
        let mut messages = vec![];
        for (contact, variant) in &batch {
            if capped.contains(contact) {
                marks.push(MemberMark {
                    contact: *contact,
                    state: member_state::REFUSED,
                    detail: Some(FREQUENCY_CAP.into()),
                    interaction: None,
                });
                continue;
            }
            match c.data.variants.get(*variant) {
                Some(v) => messages.push(Message {
                    template_id: v.template_id,
                    contact_id: *contact,
                    key: format!("campaign:{id}:{contact}"),
                    step: None,
                }),
                None => marks.push(MemberMark {
                    contact: *contact,
                    state: member_state::FAILED,
                    detail: Some("the variant drawn for this member no longer exists".into()),
                    interaction: None,
                }),
            }
        }
        let answers = mail::send_batch_on(
            &self.store,
            &self.outbox,
            &Actor::campaign(id),
            channel,
            &messages,
            c.meta.created_at,
            Some(id),
        )
        .await
        .map_err(JobError::retry)?;
        // Trouble that may pass leaves its members claimed by this job, which takes them
        // again when it is tried again; the others are recorded first.
        let mut transient = None;
        for (m, answer) in messages.iter().zip(answers) {
            let (state, detail, interaction) = match answer {
                Ok(Outcome::Sent { interaction_id, .. })
                | Ok(Outcome::AlreadySent { interaction_id }) => {
                    (member_state::SENT, None, Some(interaction_id))
                }
                Ok(Outcome::Refused(r)) => (member_state::REFUSED, Some(r.code().into()), None),
                Err(e) if e.is_transient() => {
                    transient.get_or_insert(e);
                    continue;
                }
                Err(e) => (member_state::FAILED, Some(e.to_string()), None),
            };
            marks.push(MemberMark {
                contact: m.contact_id,
                state,
                detail,
                interaction,
            });
        }
        self.store
            .mark_members(id, &marks)
            .await
            .map_err(JobError::retry)?;
        // The journey goes on from each message sent.
        let sent: Vec<(Id, Option<Id>)> = marks
            .iter()
            .filter(|m| m.state == member_state::SENT)
            .map(|m| (m.contact, None))
            .collect();
        super::journey::schedule(&self.store, c, &sent, Utc::now())
            .await
            .map_err(JobError::retry)?;
        if let Some(e) = transient {
            return Err(JobError::retry(e));
        }
        Ok(match batch.last() {
            Some((last, _)) if batch.len() == size as usize => Some((*last, wait)),
            _ => None,
        })
    }
}

/// The contacts of `contacts` the campaign's frequency cap stops: sent `cap_messages`
/// campaign messages or more in the last `cap_days` days.
pub(super) async fn capped(
    store: &Store,
    c: &Campaign,
    contacts: &[Id],
    now: DateTime<Utc>,
) -> Result<HashSet<Id>, JobError> {
    let (Some(n), Some(days)) = (c.cap_messages, c.cap_days) else {
        return Ok(HashSet::new());
    };
    if contacts.is_empty() {
        return Ok(HashSet::new());
    }
    let sent = store
        .recent_sends(contacts, now - chrono::Duration::days(days))
        .await
        .map_err(JobError::retry)?;
    Ok(sent
        .into_iter()
        .filter(|(_, count)| *count >= n)
        .map(|(c, _)| c)
        .collect())
}
