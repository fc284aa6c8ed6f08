//! The job that sends a campaign: a batch of queued members at a time, each through the one
//! e-mail path, then the batch after it.

use super::{BATCH, LEASE, SEND};
use crate::jobs::{Handler, JobError};
use crate::mail::{self, Outbox, Outcome};
use guanxi_domain::entities::{Campaign, CampaignStatus};
use guanxi_domain::{Actor, Id};
use guanxi_store::{Job, NewJob, Store, StoreError, member_state};
use serde_json::json;

/// Sends a campaign's next batch of queued members, then queues the batch after it.
pub struct SendCampaign {
    pub store: Store,
    pub outbox: Outbox,
}

impl Handler for SendCampaign {
    fn kind(&self) -> &str {
        SEND
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let id = job.payload["campaign_id"]
            .as_str()
            .and_then(|s| Id::parse(s).ok())
            .ok_or_else(|| JobError::permanent("no campaign_id in the payload"))?;
        let system = Actor::system();
        let c = match self.store.get::<Campaign>(&system, id).await {
            Ok(c) => c,
            Err(StoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(JobError::retry(e)),
        };
        if c.data.status != CampaignStatus::Active {
            return Ok(()); // paused, completed or cancelled: resuming queues a job again
        }
        let batch = self
            .store
            .claim_members(id, &job.id.to_string(), BATCH, LEASE)
            .await
            .map_err(JobError::retry)?;
        let by = Actor::campaign(id);
        for (contact, variant) in &batch {
            let Some(v) = c.data.variants.get(*variant) else {
                let detail = "the variant drawn for this member no longer exists";
                self.mark(id, *contact, member_state::FAILED, Some(detail), None)
                    .await?;
                continue;
            };
            let key = format!("campaign:{id}:{contact}");
            let sent = mail::send_template(
                &self.store,
                &self.outbox,
                &by,
                v.template_id,
                *contact,
                &key,
                c.meta.created_at,
                Some(id),
            )
            .await;
            match sent {
                Ok(Outcome::Sent { interaction_id, .. })
                | Ok(Outcome::AlreadySent { interaction_id }) => {
                    self.mark(id, *contact, member_state::SENT, None, Some(interaction_id))
                        .await?
                }
                Ok(Outcome::Refused(r)) => {
                    self.mark(id, *contact, member_state::REFUSED, Some(r.code()), None)
                        .await?
                }
                Err(e) if e.is_transient() => return Err(JobError::retry(e)),
                Err(e) => {
                    let detail = e.to_string();
                    self.mark(id, *contact, member_state::FAILED, Some(&detail), None)
                        .await?
                }
            }
        }
        if batch.len() == BATCH as usize
            && let Some((last, _)) = batch.last()
        {
            // Keyed by where it starts: a batch run twice queues its successor once.
            let mut next = NewJob::new(SEND, json!({ "campaign_id": id }));
            next.key = Some(format!("{SEND}:{id}:after:{last}"));
            self.store.enqueue(&[next]).await.map_err(JobError::retry)?;
        }
        Ok(())
    }
}

impl SendCampaign {
    async fn mark(
        &self,
        campaign: Id,
        contact: Id,
        to: &str,
        detail: Option<&str>,
        interaction: Option<Id>,
    ) -> Result<(), JobError> {
        self.store
            .mark_member(campaign, contact, to, detail, interaction)
            .await
            .map_err(JobError::retry)
    }
}
