//! Campaigns that run. [`launch`] takes a planned campaign's members from its segment as
//! the person launching sees it (a snapshot: who joins the segment later is not added),
//! draws each member's variant or the control group, sets the campaign active and queues
//! [`SendCampaign`], which mails the queued members a batch at a time through the one
//! e-mail path (`mail::send_template`: consent checked, merge fields, one-click
//! unsubscribe, an interaction on the contact's timeline naming the campaign). [`pause`]
//! stops it after the batch being sent; launching a paused campaign resumes it. Every
//! member's message is sent once: its row moves from queued to sent (or refused, failed)
//! and its send is keyed by campaign and contact.

use crate::AppError;
use crate::jobs::{Handler, JobError};
use crate::mail::{self, Outbox, Outcome};
use chrono::Utc;
use guanxi_domain::entities::{
    Campaign, CampaignChannel, CampaignStatus, EmailTemplate, MailCategory, Segment,
};
use guanxi_domain::{Actor, Entity, FieldError, Id, Record, Right, ValidationErrors};
use guanxi_store::{CampaignTally, Job, NewJob, SegmentRef, Store, StoreError, member_state};
use serde::Serialize;
use serde_json::json;

/// The job that sends a campaign's next batch.
pub const SEND: &str = "campaign.send";
/// Members mailed by one job; a pause takes effect after the batch being sent.
pub const BATCH: u32 = 200;
/// How long a batch a send job took stays its own: another job takes what a job that
/// died left after this.
const LEASE: chrono::Duration = chrono::Duration::minutes(10);
/// Contacts read from the segment at a time while taking the snapshot.
const PAGE: u32 = 1_000;

/// A member's draw, uniform in 0..10,000 and fixed by campaign and contact: random across
/// members, the same every time it is made.
pub fn draw(campaign: Id, contact: Id) -> u32 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(campaign.0.as_bytes());
    h.update(contact.0.as_bytes());
    let d = h.finalize();
    let x = u64::from_le_bytes(d[..8].try_into().expect("8 bytes"));
    (x % 10_000) as u32
}

fn refused(field: &str, code: &'static str, message: impl Into<String>) -> AppError {
    AppError::Invalid(ValidationErrors(vec![FieldError {
        field: field.into(),
        code,
        message: message.into(),
    }]))
}

/// Whether a planned campaign can be sent: an e-mail campaign with a segment the launcher
/// may read and marketing templates for its variants. Every refusal names its field.
async fn check_launchable(
    store: &Store,
    actor: &Actor,
    c: &Campaign,
) -> Result<Record<Segment>, AppError> {
    let mut errors = ValidationErrors::new();
    if c.channel != CampaignChannel::Email {
        errors.add(
            "channel",
            "unsupported",
            "only e-mail campaigns are sent by Guanxi so far",
        );
    }
    if c.variants.is_empty() {
        errors.add(
            "variants",
            "required",
            "a campaign sends at least one message: add a variant with its e-mail template",
        );
    }
    for (i, v) in c.variants.iter().enumerate() {
        match store.get::<EmailTemplate>(actor, v.template_id).await {
            Ok(t) if t.data.category == MailCategory::Marketing => {}
            Ok(_) => errors.add(
                format!("variants[{i}].template_id"),
                "invalid",
                "a campaign sends marketing templates (with their unsubscribe link)",
            ),
            Err(StoreError::NotFound { .. } | StoreError::Forbidden { .. }) => errors.add(
                format!("variants[{i}].template_id"),
                "not_found",
                "no such e-mail template",
            ),
            Err(e) => return Err(e.into()),
        }
    }
    let segment = match c.segment_id {
        None => {
            errors.add(
                "segment_id",
                "required",
                "a campaign reaches the contacts of a segment: choose one",
            );
            None
        }
        Some(id) => match store.get::<Segment>(actor, id).await {
            Ok(s) => Some(s),
            Err(StoreError::NotFound { .. } | StoreError::Forbidden { .. }) => {
                errors.add("segment_id", "not_found", "no such segment");
                None
            }
            Err(e) => return Err(e.into()),
        },
    };
    match (segment, errors.0.is_empty()) {
        (Some(s), true) => Ok(s),
        _ => Err(AppError::Invalid(errors)),
    }
}

/// Launch a planned campaign (or resume a paused one) at `version`: a stale version is a
/// conflict. Returns the campaign as it now stands.
pub async fn launch(
    store: &Store,
    actor: &Actor,
    id: Id,
    version: i64,
) -> Result<Record<Campaign>, AppError> {
    if !actor.may(Campaign::DEF.name, Right::Update) {
        return Err(StoreError::Forbidden {
            entity: Campaign::DEF.name,
            right: Right::Update,
        }
        .into());
    }
    let c = store.get::<Campaign>(actor, id).await?;
    if c.meta.version != version {
        return Err(StoreError::Conflict {
            entity: Campaign::DEF.name,
            id,
            expected: version,
            actual: c.meta.version,
        }
        .into());
    }
    match c.data.status {
        CampaignStatus::Planned => {
            let segment = check_launchable(store, actor, &c.data).await?;
            snapshot(store, actor, &c, &segment).await?;
        }
        CampaignStatus::Paused => {}
        other => {
            return Err(refused(
                "status",
                "invalid",
                format!(
                    "a campaign that is {other} cannot be launched: only a planned or paused one"
                ),
            ));
        }
    }
    let launched = store
        .update::<Campaign, _>(actor, id, version, |r| {
            r.data.status = CampaignStatus::Active;
            Ok(())
        })
        .await?;
    let mut job = NewJob::new(SEND, json!({ "campaign_id": id }));
    job.key = Some(format!("{SEND}:{id}:{}", launched.meta.version));
    store.enqueue(&[job]).await?;
    Ok(launched)
}

/// The members, drawn: every contact the segment reaches for the launcher now.
async fn snapshot(
    store: &Store,
    actor: &Actor,
    c: &Record<Campaign>,
    segment: &Record<Segment>,
) -> Result<(), AppError> {
    let at = Utc::now();
    let mut after = None;
    loop {
        let page = store
            .segment_contacts(actor, SegmentRef::from(segment), after, PAGE, at)
            .await?;
        let members: Vec<(Id, Option<usize>)> = page
            .iter()
            .map(|contact| (*contact, c.data.assign(draw(c.meta.id, *contact))))
            .collect();
        store.add_campaign_members(c.meta.id, &members).await?;
        if page.len() < PAGE as usize {
            return Ok(());
        }
        after = page.last().copied();
    }
}

/// Pause an active campaign at `version`: no batch starts after the one being sent.
pub async fn pause(
    store: &Store,
    actor: &Actor,
    id: Id,
    version: i64,
) -> Result<Record<Campaign>, AppError> {
    let c = store.get::<Campaign>(actor, id).await?;
    if c.data.status != CampaignStatus::Active {
        return Err(refused(
            "status",
            "invalid",
            format!(
                "only an active campaign can be paused; this one is {}",
                c.data.status
            ),
        ));
    }
    Ok(store
        .update::<Campaign, _>(actor, id, version, |r| {
            r.data.status = CampaignStatus::Paused;
            Ok(())
        })
        .await?)
}

/// Where a campaign's messages stand, per variant and for the control group.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Progress {
    pub members: i64,
    pub control: i64,
    pub variants: Vec<VariantProgress>,
    /// The first two variants' click rates (of those sent) compared, once both were sent.
    pub ab_test: Option<AbTest>,
}

/// Whether variant A's click rate differs from B's by more than chance (two-proportion
/// z-test): significant at the 5 % level when `p_value` < 0.05.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AbTest {
    pub rate_a: f64,
    pub rate_b: f64,
    pub z: f64,
    pub p_value: f64,
    pub significant: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct VariantProgress {
    pub name: String,
    pub members: i64,
    pub queued: i64,
    pub sent: i64,
    pub refused: i64,
    pub failed: i64,
    pub opened: i64,
    pub clicked: i64,
}

/// The progress of a campaign the actor may read.
pub async fn progress(store: &Store, actor: &Actor, id: Id) -> Result<Progress, AppError> {
    let c = store.get::<Campaign>(actor, id).await?;
    Ok(progress_of(&c.data, &store.campaign_tally(id).await?))
}

fn progress_of(c: &Campaign, tally: &[CampaignTally]) -> Progress {
    let mut variants: Vec<VariantProgress> = c
        .variants
        .iter()
        .map(|v| VariantProgress {
            name: v.name.clone(),
            ..VariantProgress::default()
        })
        .collect();
    let (mut members, mut control) = (0, 0);
    for t in tally {
        members += t.count;
        let Some(v) = t.variant.and_then(|i| variants.get_mut(i)) else {
            control += t.count;
            continue;
        };
        v.members += t.count;
        v.opened += t.opened;
        v.clicked += t.clicked;
        match t.state.as_str() {
            member_state::QUEUED | member_state::SENDING => v.queued += t.count,
            member_state::SENT => v.sent += t.count,
            member_state::REFUSED => v.refused += t.count,
            _ => v.failed += t.count,
        }
    }
    let ab_test = match variants.as_slice() {
        [a, b, ..] => guanxi_analytics::significance::two_proportions(
            a.clicked as u64,
            a.sent as u64,
            b.clicked as u64,
            b.sent as u64,
        )
        .map(|c| AbTest {
            rate_a: c.rate_a,
            rate_b: c.rate_b,
            z: c.z,
            p_value: c.p_value,
            significant: c.p_value < 0.05,
        }),
        _ => None,
    };
    Progress {
        members,
        control,
        variants,
        ab_test,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_adds_up_by_variant_and_compares_the_first_two() {
        let c: Campaign = serde_json::from_value(json!({
            "name": "x", "channel": "email", "status": "active",
            "budget": { "minor": 0, "currency": "CNY" }, "control_percent": 10,
            "variants": [
                { "name": "A", "template_id": Id::new(), "percent": 50 },
                { "name": "B", "template_id": Id::new(), "percent": 50 },
            ],
        }))
        .unwrap();
        let t = |variant, state: &str, count, opened, clicked| CampaignTally {
            variant,
            state: state.into(),
            count,
            opened,
            clicked,
        };
        let p = progress_of(
            &c,
            &[
                t(None, "held", 200, 0, 0),
                t(Some(0), "sent", 1000, 400, 200),
                t(Some(0), "refused", 30, 0, 0),
                t(Some(1), "sent", 1000, 420, 250),
                t(Some(1), "sending", 5, 0, 0),
            ],
        );
        assert_eq!((p.members, p.control), (2235, 200));
        let (a, b) = (&p.variants[0], &p.variants[1]);
        assert_eq!(
            (a.members, a.sent, a.refused, a.clicked),
            (1030, 1000, 30, 200)
        );
        assert_eq!((b.queued, b.opened), (5, 420));
        let ab = p.ab_test.unwrap();
        assert!(
            (ab.p_value - 0.0074).abs() < 1e-3 && ab.significant,
            "{ab:?}"
        );
    }

    #[test]
    fn draws_are_fixed_and_spread_evenly() {
        let campaign = Id::new();
        let contacts: Vec<Id> = (0..20_000).map(|_| Id::new()).collect();
        let draws: Vec<u32> = contacts.iter().map(|c| draw(campaign, *c)).collect();
        assert_eq!(draw(campaign, contacts[0]), draws[0]);
        // Contacts made one after another (UUIDv7: close in time) still land everywhere.
        let mut deciles = [0u32; 10];
        for d in &draws {
            deciles[(*d / 1_000) as usize] += 1;
        }
        for n in deciles {
            assert!((1_700..=2_300).contains(&n), "{deciles:?}");
        }
    }
}
