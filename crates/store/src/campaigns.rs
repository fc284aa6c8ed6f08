//! A campaign's members: the contacts its segment reached at launch, each with the variant
//! drawn for them (or the control group), and where their message stands. A member's row
//! is written once; sending moves it from `queued` to `sent`, `refused` or `failed`, so a
//! campaign paused and resumed, or a send run twice, reaches nobody twice.

use crate::db::{Kind, Val};
use crate::query::Sql;
use crate::records::{now, require};
use crate::segments::SegmentRef;
use crate::{Result, Store};
use chrono::{DateTime, Utc};
use guanxi_domain::entities::{Contact, SegmentOf};
use guanxi_domain::{Actor, Entity, Id, Right};

/// Where a member's message stands.
pub mod state {
    /// In the control group: sent nothing, on purpose.
    pub const HELD: &str = "held";
    pub const QUEUED: &str = "queued";
    /// Taken by a send job (`claimed_at`): no other job takes it unless that one died.
    pub const SENDING: &str = "sending";
    pub const SENT: &str = "sent";
    /// Not sent and never will be as the contact stands (no address, no consent).
    pub const REFUSED: &str = "refused";
    /// The relay or the template failed for good.
    pub const FAILED: &str = "failed";
}

/// The members of one variant (`None`: the control group) in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub variant: Option<usize>,
    pub state: String,
    pub count: i64,
    /// Of them, how many opened (or clicked) and how many clicked.
    pub opened: i64,
    pub clicked: i64,
}

impl Store {
    /// The contacts a segment reaches for `actor`, in id order after `after`, at most
    /// `limit`: a contact segment's own, an account segment's accounts' contacts (those the
    /// actor may see).
    pub async fn segment_contacts(
        &self,
        actor: &Actor,
        seg: SegmentRef<'_>,
        after: Option<Id>,
        limit: u32,
        at: DateTime<Utc>,
    ) -> Result<Vec<Id>> {
        require(actor, Contact::DEF.name, Right::Read)?;
        let mut sql = Sql::default();
        let preds = self.segment_predicates(actor, seg, at, &mut sql).await?;
        let mut outer = match seg.segment.entity {
            SegmentOf::Contact => preds,
            SegmentOf::Account => {
                require(actor, "account", Right::Read)?;
                vec![
                    "\"deleted_at\" IS NULL".to_string(),
                    crate::query::scope(Contact::DEF, actor, &mut sql),
                    format!(
                        "\"account_id\" IN (SELECT \"id\" FROM accounts WHERE {})",
                        preds.join(" AND ")
                    ),
                ]
            }
        };
        if let Some(a) = after {
            outer.push(format!("\"id\" > {}", sql.bind(Val::Uuid(a.0))));
        }
        let text = format!(
            "SELECT \"id\" FROM contacts WHERE {} ORDER BY \"id\" LIMIT {limit}",
            outer.join(" AND ")
        );
        let rows = self.db.fetch(&text, sql.params, &[Kind::Uuid]).await?;
        Ok(rows.iter().filter_map(|r| r[0].as_uuid()).map(Id).collect())
    }

    /// Make contacts members of a campaign with the variant drawn for each (`None`: the
    /// control group). A contact already a member stays as it is. Returns how many are new.
    pub async fn add_campaign_members(
        &self,
        campaign: Id,
        members: &[(Id, Option<usize>)],
    ) -> Result<usize> {
        let mut added = 0;
        let at = now();
        for chunk in members.chunks(500) {
            let mut params = vec![Val::Uuid(campaign.0), Val::Ts(at)];
            let rows: Vec<String> = chunk
                .iter()
                .map(|(contact, variant)| {
                    params.push(Val::Uuid(contact.0));
                    let c = params.len();
                    params.push(Val::Int(variant.map_or(-1, |v| v as i64)));
                    let v = params.len();
                    params.push(Val::Text(
                        if variant.is_some() {
                            state::QUEUED
                        } else {
                            state::HELD
                        }
                        .into(),
                    ));
                    format!("($1, ${c}, ${v}, ${}, $2)", params.len())
                })
                .collect();
            let mut tx = self.db.begin().await?;
            added += tx
                .exec(
                    &format!(
                        "INSERT INTO campaign_members (campaign_id, contact_id, variant, state, added_at) \
                         VALUES {} ON CONFLICT (campaign_id, contact_id) DO NOTHING",
                        rows.join(", ")
                    ),
                    params,
                )
                .await?;
            tx.commit().await?;
        }
        Ok(added as usize)
    }

    /// Take the next members whose message is queued, in contact-id order, with their
    /// variant: they become `sending`, held by `by` (the job), so two send jobs never take
    /// the same member. What `by` took before (it runs again after a crash) is taken again,
    /// and so is what any job took more than `lease` ago (its send is keyed, so a message
    /// that did leave is not sent twice).
    pub async fn claim_members(
        &self,
        campaign: Id,
        by: &str,
        limit: u32,
        lease: chrono::Duration,
    ) -> Result<Vec<(Id, usize)>> {
        let at = now();
        let lock = match self.backend() {
            crate::Backend::Sqlite => "",
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let mut tx = self.db.begin().await?;
        let rows = tx
            .fetch(
                &format!(
                    "UPDATE campaign_members SET state = 'sending', claimed_at = $2, claimed_by = $4 \
                     WHERE campaign_id = $1 AND contact_id IN (\
                       SELECT contact_id FROM campaign_members WHERE campaign_id = $1 \
                       AND (state = 'queued' OR (state = 'sending' \
                            AND (claimed_by = $4 OR claimed_at < $3))) \
                       ORDER BY contact_id LIMIT {limit}{lock}) \
                     RETURNING contact_id, variant"
                ),
                vec![
                    Val::Uuid(campaign.0),
                    Val::Ts(at),
                    Val::Ts(at - lease),
                    Val::Text(by.into()),
                ],
                &[Kind::Uuid, Kind::Int],
            )
            .await?;
        tx.commit().await?;
        let mut out: Vec<(Id, usize)> = rows
            .iter()
            .filter_map(|r| Some((Id(r[0].as_uuid()?), usize::try_from(r[1].as_i64()?).ok()?)))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Record where a member's message stands: sent (with its interaction), refused or
    /// failed (with why).
    pub async fn mark_member(
        &self,
        campaign: Id,
        contact: Id,
        to: &str,
        detail: Option<&str>,
        interaction: Option<Id>,
    ) -> Result<()> {
        let sent_at = (to == state::SENT).then(now);
        let mut tx = self.db.begin().await?;
        tx.exec(
            "UPDATE campaign_members SET state = $3, detail = $4, interaction_id = $5, sent_at = $6 \
             WHERE campaign_id = $1 AND contact_id = $2",
            vec![
                Val::Uuid(campaign.0),
                Val::Uuid(contact.0),
                Val::Text(to.into()),
                detail.map_or(Val::Null(Kind::Text), |d| Val::Text(d.into())),
                Val::opt_uuid(interaction.map(|i| i.0)),
                Val::opt_ts(sent_at),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many members are in each variant and state.
    pub async fn campaign_tally(&self, campaign: Id) -> Result<Vec<Tally>> {
        let rows = self
            .db
            .fetch(
                "SELECT variant, state, COUNT(*), COUNT(opened_at), COUNT(clicked_at) \
                 FROM campaign_members WHERE campaign_id = $1 \
                 GROUP BY variant, state ORDER BY variant, state",
                vec![Val::Uuid(campaign.0)],
                &[Kind::Int, Kind::Text, Kind::Int, Kind::Int, Kind::Int],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|mut r| {
                let count = r[2].as_i64().unwrap_or(0);
                let (opened, clicked) = (r[3].as_i64().unwrap_or(0), r[4].as_i64().unwrap_or(0));
                let variant = r[0].as_i64().and_then(|v| usize::try_from(v).ok());
                Tally {
                    variant,
                    state: r.swap_remove(1).into_text().unwrap_or_default(),
                    count,
                    opened,
                    clicked,
                }
            })
            .collect())
    }
}

/// A member's response that tracking sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    Opened,
    Clicked,
}

impl Store {
    /// Note a member's open or click; `true` the first time (a click counts as an open
    /// too, since images are often blocked). `false` as well for someone not a member.
    pub async fn member_responded(
        &self,
        campaign: Id,
        contact: Id,
        response: Response,
    ) -> Result<bool> {
        let sql = match response {
            Response::Opened => {
                "UPDATE campaign_members SET opened_at = $3 \
                 WHERE campaign_id = $1 AND contact_id = $2 AND opened_at IS NULL"
            }
            Response::Clicked => {
                "UPDATE campaign_members SET clicked_at = $3, opened_at = COALESCE(opened_at, $3) \
                 WHERE campaign_id = $1 AND contact_id = $2 AND clicked_at IS NULL"
            }
        };
        let mut tx = self.db.begin().await?;
        let first = tx
            .exec(
                sql,
                vec![Val::Uuid(campaign.0), Val::Uuid(contact.0), Val::Ts(now())],
            )
            .await?;
        tx.commit().await?;
        Ok(first > 0)
    }

    /// The secret named `name`, made (random, 32 bytes) the first time it is asked for;
    /// the same on every server of one database.
    pub async fn secret(&self, name: &str) -> Result<String> {
        use rand::RngCore;
        let read = || async {
            Ok::<_, crate::StoreError>(
                self.db
                    .fetch(
                        "SELECT value FROM secrets WHERE name = $1",
                        vec![Val::Text(name.into())],
                        &[Kind::Text],
                    )
                    .await?
                    .into_iter()
                    .next()
                    .and_then(|mut r| r.swap_remove(0).into_text()),
            )
        };
        if let Some(s) = read().await? {
            return Ok(s);
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let mut tx = self.db.begin().await?;
        // Two first askers at once: one secret wins, both read it.
        tx.exec(
            "INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
            vec![
                Val::Text(name.into()),
                Val::Text(hex::encode(bytes)),
                Val::Ts(now()),
            ],
        )
        .await?;
        tx.commit().await?;
        read()
            .await?
            .ok_or_else(|| crate::StoreError::Corrupt(format!("secret {name} was not kept")))
    }
}
