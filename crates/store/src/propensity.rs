//! What a response-propensity model reads (`app/src/campaigns/propensity.rs` fits it): for
//! every message the campaigns its reader sees have sent, the contact's and its account's
//! attributes and the contact's campaign history before that message, with whether the
//! contact responded (clicked or converted, as the responder profile counts it); and the
//! same attributes, with the history so far, for the contacts to be scored.
//!
//! The account's attributes are its analytics as they stand now (they are not kept as of
//! each campaign); the campaign history is strictly before the message.

use crate::campaigns::RESPONDED;
use crate::db::{Kind, Val};
use crate::query::Sql;
use crate::records::require;
use crate::{Result, Store};
use chrono::{DateTime, Utc};
use guanxi_domain::entities::{Campaign, Contact};
use guanxi_domain::{Actor, Entity, Id, Right};

/// A contact's attributes as the model reads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactAttributes {
    /// The account's RFM scores (1–5).
    pub rfm_r: Option<i64>,
    pub rfm_f: Option<i64>,
    pub rfm_m: Option<i64>,
    /// The account's 12-month CLV, minor units.
    pub clv_12m: Option<i64>,
    pub churn_risk: Option<f64>,
    pub grade: Option<String>,
    pub lifecycle_stage: Option<String>,
    pub buying_role: Option<String>,
    /// Campaign messages the contact had received, opened and responded to (before the
    /// message a training row is about; until now for a contact to be scored).
    pub received: i64,
    pub opened: i64,
    pub responded: i64,
}

/// One message sent: who, by which campaign, when, whether they responded, and what was
/// known of them then.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub contact: Id,
    pub campaign: Id,
    pub sent_at: DateTime<Utc>,
    pub responded: bool,
    pub attributes: ContactAttributes,
}

/// The attribute columns, `p` the contact and `a` its account.
const ATTRIBUTES: &str = "a.rfm_r, a.rfm_f, a.rfm_m, a.clv_12m, a.churn_risk, a.grade, \
                          a.lifecycle_stage, p.buying_role";
const ATTRIBUTE_KINDS: [Kind; 8] = [
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Float,
    Kind::Text,
    Kind::Text,
    Kind::Text,
];
/// Contacts whose attributes are read at a time.
const CHUNK: usize = 500;

/// The history columns: messages `h` to contact `{who}` sent (opened, responded) before
/// `{before}`.
fn history(who: &str, before: &str) -> String {
    let sent = format!("h.contact_id = {who} AND h.sent_at < {before}");
    format!(
        "(SELECT COUNT(*) FROM campaign_members h WHERE {sent}), \
         (SELECT COUNT(*) FROM campaign_members h WHERE {sent} AND h.opened_at < {before}), \
         (SELECT COUNT(*) FROM campaign_members h WHERE {sent} \
            AND (h.clicked_at < {before} OR h.converted_at < {before}))"
    )
}

/// Reads the attribute and history columns from `row[at..]`.
fn attributes_of(row: &mut [Val], at: usize) -> ContactAttributes {
    let mut text = |i: usize| {
        std::mem::replace(&mut row[at + i], Val::Null(Kind::Text))
            .into_text()
            .filter(|v| !v.is_empty())
    };
    let (grade, lifecycle_stage, buying_role) = (text(5), text(6), text(7));
    let int = |i: usize| row[at + i].as_i64();
    ContactAttributes {
        rfm_r: int(0),
        rfm_f: int(1),
        rfm_m: int(2),
        clv_12m: int(3),
        churn_risk: row[at + 4].as_f64(),
        grade,
        lifecycle_stage,
        buying_role,
        received: int(8).unwrap_or(0),
        opened: int(9).unwrap_or(0),
        responded: int(10).unwrap_or(0),
    }
}

fn kinds(leading: &[Kind]) -> Vec<Kind> {
    let mut k = leading.to_vec();
    k.extend(ATTRIBUTE_KINDS);
    k.extend([Kind::Int; 3]);
    k
}

impl Store {
    /// Every message sent by a campaign `actor` may read, with whether its contact
    /// responded and what was known of the contact before it; in campaign and contact
    /// order.
    pub async fn sent_messages(&self, actor: &Actor) -> Result<Vec<SentMessage>> {
        require(actor, Campaign::DEF.name, Right::Read)?;
        let mut sql = Sql::default();
        let scope = crate::query::scope(Campaign::DEF, actor, &mut sql);
        let text = format!(
            "SELECT m.contact_id, m.campaign_id, m.sent_at, \
             CASE WHEN {RESPONDED} THEN 1 ELSE 0 END, {ATTRIBUTES}, {} \
             FROM campaign_members m JOIN contacts p ON p.id = m.contact_id \
             LEFT JOIN accounts a ON a.id = p.account_id \
             WHERE m.sent_at IS NOT NULL AND m.campaign_id IN \
               (SELECT \"id\" FROM campaigns WHERE \"deleted_at\" IS NULL AND {scope}) \
             ORDER BY m.campaign_id, m.contact_id",
            history("m.contact_id", "m.sent_at")
        );
        let rows = self
            .db
            .fetch(
                &text,
                sql.params,
                &kinds(&[Kind::Uuid, Kind::Uuid, Kind::Ts, Kind::Int]),
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|mut r| {
                Some(SentMessage {
                    contact: Id(r[0].as_uuid()?),
                    campaign: Id(r[1].as_uuid()?),
                    sent_at: r[2].as_ts()?,
                    responded: r[3].as_i64()? == 1,
                    attributes: attributes_of(&mut r, 4),
                })
            })
            .collect())
    }

    /// The attributes of `contacts` that `actor` may see, with their history until `at`;
    /// those the actor may not see (or that are gone) are left out.
    pub async fn contact_attributes(
        &self,
        actor: &Actor,
        contacts: &[Id],
        at: DateTime<Utc>,
    ) -> Result<Vec<(Id, ContactAttributes)>> {
        require(actor, Contact::DEF.name, Right::Read)?;
        let mut out = Vec::with_capacity(contacts.len());
        for chunk in contacts.chunks(CHUNK) {
            let mut sql = Sql::default();
            let scope = crate::query::scope(Contact::DEF, actor, &mut sql);
            let before = sql.bind(Val::Ts(at));
            let ids: Vec<String> = chunk.iter().map(|c| sql.bind(Val::Uuid(c.0))).collect();
            let text = format!(
                "SELECT p.id, {ATTRIBUTES}, {} \
                 FROM (SELECT * FROM contacts WHERE \"deleted_at\" IS NULL AND {scope} \
                       AND \"id\" IN ({})) p \
                 LEFT JOIN accounts a ON a.id = p.account_id",
                history("p.id", &before),
                ids.join(", ")
            );
            let rows = self
                .db
                .fetch(&text, sql.params, &kinds(&[Kind::Uuid]))
                .await?;
            out.extend(
                rows.into_iter()
                    .filter_map(|mut r| Some((Id(r[0].as_uuid()?), attributes_of(&mut r, 1)))),
            );
        }
        Ok(out)
    }
}
