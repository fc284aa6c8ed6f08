//! Campaigns that run. [`launch`] takes a planned campaign's members from its segment as
//! the person launching sees it (a snapshot: who joins the segment later is not added),
//! draws each member's variant or the control group, sets the campaign active and queues
//! [`SendCampaign`], which mails the queued members a batch at a time through the one
//! e-mail path (`mail::send_batch`: consent checked, merge fields, one-click
//! unsubscribe, an interaction on the contact's timeline naming the campaign), or, for an
//! SMS or WeChat campaign, sends them the templates' plain text through the channel's
//! provider on the same path (`mail::send_batch_on`). [`pause`]
//! stops it after the batch being sent; launching a paused campaign resumes it. Every
//! member's message is sent once: its row moves from queued to sent (or refused, failed)
//! and its send is keyed by campaign and contact. What members did next is recorded by
//! [`record_response`] and [`Conversions`]; [`progress`] sums it up with the return over
//! the control group, and [`profile`] sets responders against non-responders. A campaign
//! may target only the contacts a response-propensity model ([`propensity`]) ranks
//! highest ([`targeting`]): the top N, or those scoring at least s; the control group is
//! drawn from those, and the model's AUC and time are kept on the campaign. A campaign's
//! [`journey`] follows its message with steps (more e-mails, tasks, field updates) on what
//! each member did, run by [`RunSteps`].

pub mod journey;
mod profile;
pub mod propensity;
mod responses;
mod results;
mod send;
pub mod targeting;

pub use journey::RunSteps;
pub use profile::{AttributeProfile, GroupProfile, Profile, profile};
pub use responses::{
    Conversions, Noted, REPLY_DAYS, convert, outcome_of, record_reply, record_response,
    record_responses, reply_of,
};
pub use results::{AbTest, Progress, Roi, StepProgress, VariantProgress, progress};
pub use send::SendCampaign;

use crate::AppError;
use crate::mail::Channel;
use chrono::Utc;
use guanxi_domain::entities::{
    Campaign, CampaignStatus, EmailTemplate, MailCategory, Segment, StepAction,
};
use guanxi_domain::{Actor, Entity, FieldError, Id, Record, Right, ValidationErrors};
use guanxi_store::{NewJob, SegmentRef, Store, StoreError};
use propensity::ModelSummary;
use serde_json::json;
use targeting::Rule;

/// The job that sends a campaign's next batch.
pub const SEND: &str = "campaign.send";
/// Members mailed by one batch; a pause takes effect after the batches being sent.
pub const BATCH: u32 = 200;
/// Send jobs working through a campaign at once.
const LANES: usize = 4;
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

/// The text channels the server launching a campaign has a provider for. E-mail is not
/// among them: an e-mail campaign launches without a relay, and its sends wait, failing
/// "e-mail is not configured", until one is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Providers {
    pub sms: bool,
    pub wechat: bool,
}

impl Providers {
    /// The providers `outbox` sends through.
    pub fn of(outbox: &crate::mail::Outbox) -> Providers {
        Providers {
            sms: outbox.sends(Channel::Sms),
            wechat: outbox.sends(Channel::Wechat),
        }
    }
}

/// Whether a planned campaign can be sent: an e-mail campaign, or an SMS or WeChat one
/// where that channel's provider is configured, with a segment the launcher may read and
/// marketing templates for its variants. Every refusal names its field.
async fn check_launchable(
    store: &Store,
    actor: &Actor,
    c: &Campaign,
    providers: Providers,
) -> Result<Record<Segment>, AppError> {
    let mut errors = ValidationErrors::new();
    let configured = match Channel::of(c.channel) {
        None => {
            errors.add(
                "channel",
                "unsupported",
                "Guanxi sends e-mail, SMS and WeChat campaigns; this channel is not sent",
            );
            true
        }
        Some(Channel::Email) => true,
        Some(Channel::Sms) => providers.sms,
        Some(Channel::Wechat) => providers.wechat,
    };
    if !configured {
        let channel = Channel::of(c.channel).expect("a channel sent");
        errors.add(
            "channel",
            "not_configured",
            crate::mail::SendError::ChannelNotConfigured(channel).to_string(),
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
    for (i, step) in c.steps.iter().enumerate() {
        let StepAction::SendEmail { template_id } = step.action else {
            continue;
        };
        let field = format!("steps[{i}].action.template_id");
        match store.get::<EmailTemplate>(actor, template_id).await {
            Ok(t) if t.data.category == MailCategory::Marketing => {}
            Ok(_) => errors.add(
                field,
                "invalid",
                "a journey sends marketing templates (with their unsubscribe link)",
            ),
            Err(StoreError::NotFound { .. } | StoreError::Forbidden { .. }) => {
                errors.add(field, "not_found", "no such e-mail template")
            }
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
/// conflict. Returns the campaign as it now stands. Knows of no SMS or WeChat provider:
/// [`launch_with`] is for a server that has them.
pub async fn launch(
    store: &Store,
    actor: &Actor,
    id: Id,
    version: i64,
) -> Result<Record<Campaign>, AppError> {
    launch_with(store, actor, id, version, Providers::default()).await
}

/// [`launch`] on a server with `providers`: an SMS or WeChat campaign whose channel has
/// none is refused, naming `channel`.
pub async fn launch_with(
    store: &Store,
    actor: &Actor,
    id: Id,
    version: i64,
    providers: Providers,
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
    let mut model = None;
    match c.data.status {
        CampaignStatus::Planned => {
            let segment = check_launchable(store, actor, &c.data, providers).await?;
            model = snapshot(store, actor, &c, &segment).await?;
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
            if let Some(m) = &model {
                r.data.model_auc = Some(m.auc);
                r.data.model_trained_at = Some(m.trained_at);
            }
            Ok(())
        })
        .await?;
    // Several chains of batches side by side (one while a rate limit paces them): a batch
    // waits on the relay and the database in turn, and the others fill the gaps.
    let lanes = if launched.data.max_per_minute.is_some() {
        1
    } else {
        LANES
    };
    let mut jobs: Vec<NewJob> = (0..lanes)
        .map(|lane| {
            let mut job = NewJob::new(SEND, json!({ "campaign_id": id, "lane": lane }));
            job.key = Some(format!("{SEND}:{id}:{}:{lane}", launched.meta.version));
            job
        })
        .collect();
    // Resumed, the journey goes on with the steps that fell due while it was paused.
    if !launched.data.steps.is_empty() {
        jobs.push(journey::job(id, launched.meta.updated_at));
    }
    store.enqueue(&jobs).await?;
    Ok(launched)
}

/// The members, drawn: every contact the segment reaches for the launcher now, or those of
/// them the campaign's targeting selects by score (the model that scored them returned).
async fn snapshot(
    store: &Store,
    actor: &Actor,
    c: &Record<Campaign>,
    segment: &Record<Segment>,
) -> Result<Option<ModelSummary>, AppError> {
    let at = Utc::now();
    let rule = Rule::of(&c.data);
    if rule != Rule::All {
        return targeted(store, actor, c, segment, rule).await.map(Some);
    }
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
            return Ok(None);
        }
        after = page.last().copied();
    }
}

/// The members a targeted campaign takes: the segment's contacts scored by a model fitted
/// now, those `rule` selects, each with its score; the control group is drawn from them,
/// so it compares like with like. Too thin a history, or nobody selected, is refused.
async fn targeted(
    store: &Store,
    actor: &Actor,
    c: &Record<Campaign>,
    segment: &Record<Segment>,
    rule: Rule,
) -> Result<ModelSummary, AppError> {
    let at = Utc::now();
    let messages = store.sent_messages(actor).await?;
    let model = propensity::Model::fit(&messages, at).map_err(|e| e.refusal("targeting"))?;
    let scored = targeting::score_segment(store, actor, segment, &model, at).await?;
    let best = scored.iter().map(|(_, s)| *s).fold(f64::NAN, f64::max);
    let selected = targeting::select(scored, rule);
    if selected.is_empty() {
        return Err(match rule {
            Rule::MinScore(s) if !best.is_nan() => refused(
                "target_min_score",
                "none_selected",
                format!("no contact of the segment scores {s} or more: the highest is {best:.3}"),
            ),
            _ => refused(
                "segment_id",
                "none_selected",
                "the segment holds no contacts to score",
            ),
        });
    }
    let members: Vec<(Id, Option<usize>, Option<f64>)> = selected
        .iter()
        .map(|(contact, score)| {
            (
                *contact,
                c.data.assign(draw(c.meta.id, *contact)),
                Some(*score),
            )
        })
        .collect();
    store.add_scored_members(c.meta.id, &members).await?;
    Ok(model.summary)
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

#[cfg(test)]
mod tests {
    use super::*;

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
