//! Consent as it came to be, and the addresses no mail goes to.
//!
//! A contact's `consent_<channel>` fields hold the current answer. [`Store::set_consent`]
//! changes one and, in the same transaction, appends to its history where the answer came
//! from and on what evidence (the unsubscribe link, the preferences page, a complaint, a
//! user recording a signed form). The suppression list holds addresses, not contacts: a
//! hard bounce or a complaint stops mail to that address whichever contact carries it.

use crate::db::{Kind, Val};
use crate::records::{now, require};
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use guanxi_domain::entities::{ConsentChannel, ConsentSource, Contact};
use guanxi_domain::{Actor, Entity, Id, Record, Right};
use serde::Serialize;
use std::collections::HashMap;

/// One change of a contact's consent on a channel.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ConsentEvent {
    pub channel: String,
    pub given: bool,
    pub source: String,
    pub evidence: Option<String>,
    /// The campaign whose message the change answered, when one did.
    pub campaign_id: Option<Id>,
    /// Who recorded it: a user, or the system for the contact's own word.
    pub actor_id: Id,
    pub at: DateTime<Utc>,
}

/// Why an address is on the suppression list.
pub mod reason {
    /// The receiving server said the mailbox does not exist (a permanent DSN).
    pub const BOUNCE: &str = "bounce";
    /// The recipient reported the mail as spam.
    pub const COMPLAINT: &str = "complaint";
    /// An administrator put it there.
    pub const MANUAL: &str = "manual";
}

/// An address no mail goes to.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Suppression {
    pub address: String,
    pub reason: String,
    pub detail: Option<String>,
    pub campaign_id: Option<Id>,
    pub actor_id: Id,
    pub at: DateTime<Utc>,
}

/// Addresses are kept as mail servers compare them in practice: without case.
pub fn address_key(address: &str) -> String {
    address.trim().to_lowercase()
}

impl Store {
    /// Set `contact_id`'s consent on `channel` to `given`, logged as `actor`'s write, and
    /// record where it came from. The contact is read as the system: the one-click
    /// unsubscribe and the preferences page act on the contact's own word, with no user
    /// behind them; a user recording consent must be able to update the contact (checked
    /// here). An answer that changes nothing writes nothing. Returns the contact as it stands.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_consent(
        &self,
        actor: &Actor,
        contact_id: Id,
        channel: ConsentChannel,
        given: bool,
        source: ConsentSource,
        evidence: Option<&str>,
        campaign: Option<Id>,
    ) -> Result<Record<Contact>> {
        let system = Actor::system();
        let current = self.get::<Contact>(&system, contact_id).await?;
        if source == ConsentSource::Recorded {
            // A user's record goes through their scope like any edit of the contact.
            require(actor, Contact::DEF.name, Right::Update)?;
            self.get::<Contact>(actor, contact_id).await?;
        }
        if channel.of(&current.data) == Some(given) {
            return Ok(current);
        }
        let defs = self.custom_fields(Contact::DEF.name).await?;
        let mut tx = self.db.begin().await?;
        let before = self
            .locked::<Contact>(&mut tx, &system, contact_id, current.meta.version, false)
            .await?;
        let mut after = before.clone();
        channel.set(&mut after.data, given);
        Self::check(&mut after.data, &after.custom, &defs)?;
        let after = Self::rewrite_in(&mut tx, actor, &before, after).await?;
        tx.exec(
            "INSERT INTO consent_events \
             (contact_id, channel, given, source, evidence, campaign_id, actor_id, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            vec![
                Val::Uuid(contact_id.0),
                Val::Text(channel.as_str().into()),
                Val::Bool(given),
                Val::Text(source.as_str().into()),
                evidence.map_or(Val::Null(Kind::Text), |e| Val::Text(e.into())),
                Val::opt_uuid(campaign.map(|c| c.0)),
                Val::Uuid(actor.user_id.0),
                Val::Ts(now()),
            ],
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::from_write(e, Contact::DEF.name))?;
        self.written(Contact::DEF.name);
        Ok(after)
    }

    /// The consent history of a contact the actor may read, newest first.
    pub async fn consent_history(
        &self,
        actor: &Actor,
        contact_id: Id,
    ) -> Result<Vec<ConsentEvent>> {
        self.get::<Contact>(actor, contact_id).await?;
        let rows = self
            .db
            .fetch(
                "SELECT channel, given, source, evidence, campaign_id, actor_id, at \
                 FROM consent_events WHERE contact_id = $1 ORDER BY seq DESC",
                vec![Val::Uuid(contact_id.0)],
                &[
                    Kind::Text,
                    Kind::Bool,
                    Kind::Text,
                    Kind::Text,
                    Kind::Uuid,
                    Kind::Uuid,
                    Kind::Ts,
                ],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| <[Val; 7]>::try_from(r).ok())
            .map(
                |[channel, given, source, evidence, campaign, actor, at]| ConsentEvent {
                    channel: channel.into_text().unwrap_or_default(),
                    given: given == Val::Bool(true),
                    source: source.into_text().unwrap_or_default(),
                    evidence: evidence.into_text(),
                    campaign_id: campaign.as_uuid().map(Id),
                    actor_id: actor.as_uuid().map_or(Id::SYSTEM, Id),
                    at: at.as_ts().unwrap_or_default(),
                },
            )
            .collect())
    }

    /// Put `address` on the suppression list (kept as it was first put there: the first
    /// reason stands).
    pub async fn suppress(
        &self,
        actor: &Actor,
        address: &str,
        why: &str,
        detail: Option<&str>,
        campaign: Option<Id>,
    ) -> Result<()> {
        let key = address_key(address);
        if key.is_empty() || !key.contains('@') {
            return Err(StoreError::invalid(
                "address",
                "invalid",
                "an e-mail address, like name@example.cn",
            ));
        }
        let mut tx = self.db.begin().await?;
        tx.exec(
            "INSERT INTO suppressions (address, reason, detail, campaign_id, actor_id, at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (address) DO NOTHING",
            vec![
                Val::Text(key),
                Val::Text(why.into()),
                detail.map_or(Val::Null(Kind::Text), |d| Val::Text(d.into())),
                Val::opt_uuid(campaign.map(|c| c.0)),
                Val::Uuid(actor.user_id.0),
                Val::Ts(now()),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Take `address` off the list; `false` when it was not on it. An administrator's
    /// decision (a mailbox that exists again): the caller checks the right.
    pub async fn unsuppress(&self, address: &str) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let n = tx
            .exec(
                "DELETE FROM suppressions WHERE address = $1",
                vec![Val::Text(address_key(address))],
            )
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Why `address` is suppressed, if it is.
    pub async fn suppression(&self, address: &str) -> Result<Option<Suppression>> {
        Ok(self
            .suppressions_of(&[address])
            .await?
            .remove(&address_key(address)))
    }

    /// Which of `addresses` are suppressed, by their [`address_key`].
    pub async fn suppressions_of(
        &self,
        addresses: &[&str],
    ) -> Result<HashMap<String, Suppression>> {
        let mut out = HashMap::new();
        for chunk in addresses.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let params = chunk.iter().map(|a| Val::Text(address_key(a))).collect();
            let tail = format!("WHERE address IN ({})", marks.join(", "));
            for s in self.suppression_rows(&tail, params).await? {
                out.insert(s.address.clone(), s);
            }
        }
        Ok(out)
    }

    /// The suppression list, newest first, `limit` after skipping `offset`.
    pub async fn suppressions(&self, limit: u32, offset: u32) -> Result<Vec<Suppression>> {
        self.suppression_rows(
            "ORDER BY at DESC, address LIMIT $1 OFFSET $2",
            vec![Val::Int(limit.into()), Val::Int(offset.into())],
        )
        .await
    }

    async fn suppression_rows(&self, tail: &str, params: Vec<Val>) -> Result<Vec<Suppression>> {
        let rows = self
            .db
            .fetch(
                &format!(
                    "SELECT address, reason, detail, campaign_id, actor_id, at \
                     FROM suppressions {tail}"
                ),
                params,
                &[
                    Kind::Text,
                    Kind::Text,
                    Kind::Text,
                    Kind::Uuid,
                    Kind::Uuid,
                    Kind::Ts,
                ],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| <[Val; 6]>::try_from(r).ok())
            .map(
                |[address, reason, detail, campaign, actor, at]| Suppression {
                    address: address.into_text().unwrap_or_default(),
                    reason: reason.into_text().unwrap_or_default(),
                    detail: detail.into_text(),
                    campaign_id: campaign.as_uuid().map(Id),
                    actor_id: actor.as_uuid().map_or(Id::SYSTEM, Id),
                    at: at.as_ts().unwrap_or_default(),
                },
            )
            .collect())
    }
}
