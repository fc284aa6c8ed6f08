//! A contact's say over what reaches them. The one-click unsubscribe address every
//! marketing mail carries withdraws e-mail consent ([`unsubscribe`]); the preferences page
//! behind the same token shows and sets every channel ([`preferences`], [`set_preferences`]);
//! a user records what a customer said or signed ([`record`]). Each change goes through
//! `Store::set_consent`, which keeps where it came from in the contact's consent history,
//! and an unsubscribe counts as a response to the campaign that mailed the contact last.

use crate::AppError;
use crate::campaigns::record_response;
use guanxi_domain::entities::{Campaign, ConsentChannel, ConsentSource, Contact};
use guanxi_domain::{Actor, Email, Entity, Id, Record, Right};
use guanxi_store::{ConsentEvent, MemberResponse, Store, Suppression, suppression_reason};

/// The channels a contact sets on the preferences page, in its order.
pub const CHANNELS: [ConsentChannel; 4] = [
    ConsentChannel::Email,
    ConsentChannel::Sms,
    ConsentChannel::Wechat,
    ConsentChannel::Call,
];

/// The contact an unsubscribe token stands for stops receiving marketing e-mail: its
/// consent is withdrawn (logged as the system's, on the contact's word, with the link as
/// its source) and the campaign that mailed it last counts the unsubscribe. `None` for a
/// token that is no one's. Unsubscribing twice changes nothing.
pub async fn unsubscribe(store: &Store, token: &str) -> Result<Option<Id>, AppError> {
    let Some(contact_id) = store.unsubscribe_contact(token).await? else {
        return Ok(None);
    };
    let campaign = store.last_campaign_sent(contact_id).await?;
    let before = store.get::<Contact>(&Actor::system(), contact_id).await?;
    store
        .set_consent(
            &Actor::system(),
            contact_id,
            ConsentChannel::Email,
            false,
            ConsentSource::UnsubscribeLink,
            None,
            campaign,
        )
        .await?;
    if let Some(c) = campaign
        && before.data.consent_email != Some(false)
    {
        record_response(store, c, contact_id, MemberResponse::Unsubscribed, None).await?;
    }
    Ok(Some(contact_id))
}

/// The contact behind a preferences token, for its page.
pub async fn preferences(store: &Store, token: &str) -> Result<Option<Record<Contact>>, AppError> {
    let Some(id) = store.unsubscribe_contact(token).await? else {
        return Ok(None);
    };
    Ok(Some(store.get::<Contact>(&Actor::system(), id).await?))
}

/// The contact behind `token` answers every channel of the page: consent on those in
/// `given`, none on the others. Only answers that change something are recorded; an e-mail
/// consent withdrawn here counts as an unsubscribe for the campaign that mailed it last.
pub async fn set_preferences(
    store: &Store,
    token: &str,
    given: &[ConsentChannel],
) -> Result<Option<Record<Contact>>, AppError> {
    let Some(id) = store.unsubscribe_contact(token).await? else {
        return Ok(None);
    };
    let system = Actor::system();
    let mut contact = store.get::<Contact>(&system, id).await?;
    for channel in CHANNELS {
        let wants = given.contains(&channel);
        let now = channel.of(&contact.data);
        if now == Some(wants) {
            continue;
        }
        let was_email = channel == ConsentChannel::Email && now == Some(true);
        let campaign = if was_email {
            store.last_campaign_sent(id).await?
        } else {
            None
        };
        contact = store
            .set_consent(
                &system,
                id,
                channel,
                wants,
                ConsentSource::Preferences,
                None,
                campaign,
            )
            .await?;
        if let Some(c) = campaign {
            record_response(store, c, id, MemberResponse::Unsubscribed, None).await?;
        }
    }
    Ok(Some(contact))
}

/// A user records a contact's consent on a channel as the customer gave or withdrew it,
/// naming the evidence (a signed form, a call on a date). Refused without it.
pub async fn record(
    store: &Store,
    actor: &Actor,
    contact_id: Id,
    channel: ConsentChannel,
    given: bool,
    evidence: &str,
) -> Result<Record<Contact>, AppError> {
    let evidence = evidence.trim();
    if evidence.is_empty() {
        return Err(AppError::invalid(
            "evidence",
            "say where the customer gave or withdrew consent (a signed form, a call)",
        ));
    }
    Ok(store
        .set_consent(
            actor,
            contact_id,
            channel,
            given,
            ConsentSource::Recorded,
            Some(evidence),
            None,
        )
        .await?)
}

/// Who keeps the suppression list: those who run campaigns (the right to change them).
fn require_marketer(actor: &Actor) -> Result<(), AppError> {
    if actor.may(Campaign::DEF.name, Right::Update) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "the suppression list is kept by those who run campaigns".into(),
        ))
    }
}

/// The most addresses one page of the suppression list holds.
pub const MAX_PAGE: u32 = 500;

/// A page of the suppression list, newest first.
pub async fn suppressions(
    store: &Store,
    actor: &Actor,
    limit: u32,
    offset: u32,
) -> Result<Vec<Suppression>, AppError> {
    require_marketer(actor)?;
    Ok(store.suppressions(limit.clamp(1, MAX_PAGE), offset).await?)
}

/// Put an address on the suppression list by hand (a customer's request by phone, a known
/// spam trap), with why.
pub async fn suppress(
    store: &Store,
    actor: &Actor,
    address: &str,
    detail: Option<&str>,
) -> Result<Suppression, AppError> {
    require_marketer(actor)?;
    let address = Email::parse(address).map_err(|e| AppError::invalid("address", e.to_string()))?;
    let detail = detail.map(str::trim).filter(|d| !d.is_empty());
    store
        .suppress(
            actor,
            address.as_str(),
            suppression_reason::MANUAL,
            detail,
            None,
        )
        .await?;
    Ok(store
        .suppression(address.as_str())
        .await?
        .expect("just put on the list"))
}

/// Take an address off the list (the mailbox exists again, the complaint was a mistake);
/// `false` when it was not on it.
pub async fn unsuppress(store: &Store, actor: &Actor, address: &str) -> Result<bool, AppError> {
    require_marketer(actor)?;
    Ok(store.unsuppress(address).await?)
}

/// The consent history of a contact the actor may read, newest first.
pub async fn history(
    store: &Store,
    actor: &Actor,
    contact_id: Id,
) -> Result<Vec<ConsentEvent>, AppError> {
    Ok(store.consent_history(actor, contact_id).await?)
}
