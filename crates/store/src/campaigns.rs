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

/// The members of one variant (`None`: the control group) in one state, and how many of
/// them responded each way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub variant: Option<usize>,
    pub state: String,
    pub count: i64,
    /// Of them, how many opened (or clicked) and how many clicked.
    pub opened: i64,
    pub clicked: i64,
    pub bounced: i64,
    pub complained: i64,
    pub unsubscribed: i64,
    pub replied: i64,
    pub converted: i64,
    /// The revenue of their conversions, and the margin of those whose margin is known
    /// (`margin_known` of them), in minor units of the budget's currency.
    pub revenue: i64,
    pub margin: i64,
    pub margin_known: i64,
}

/// Where one member's message stands, for [`Store::mark_members`].
#[derive(Debug, Clone)]
pub struct MemberMark<'a> {
    pub contact: Id,
    /// One of [`state`].
    pub state: &'a str,
    pub detail: Option<String>,
    pub interaction: Option<Id>,
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
        let scored: Vec<(Id, Option<usize>, Option<f64>)> =
            members.iter().map(|(c, v)| (*c, *v, None)).collect();
        self.add_scored_members(campaign, &scored).await
    }

    /// [`Self::add_campaign_members`] with the score of the propensity model that chose
    /// each member (`None`: none did).
    pub async fn add_scored_members(
        &self,
        campaign: Id,
        members: &[(Id, Option<usize>, Option<f64>)],
    ) -> Result<usize> {
        let mut added = 0;
        let at = now();
        for chunk in members.chunks(500) {
            let mut params = vec![Val::Uuid(campaign.0), Val::Ts(at)];
            let rows: Vec<String> = chunk
                .iter()
                .map(|(contact, variant, score)| {
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
                    let st = params.len();
                    params.push(score.map_or(Val::Null(Kind::Float), Val::Float));
                    format!("($1, ${c}, ${v}, ${st}, $2, ${})", params.len())
                })
                .collect();
            let mut tx = self.db.begin().await?;
            added += tx
                .exec(
                    &format!(
                        "INSERT INTO campaign_members (campaign_id, contact_id, variant, state, added_at, score) \
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
        let pick = format!(
            "SELECT contact_id FROM campaign_members WHERE campaign_id = $1 \
             AND (state = 'queued' OR (state = 'sending' AND (claimed_by = $4 OR claimed_at < $3))) \
             ORDER BY contact_id LIMIT {limit}"
        );
        let set = "SET state = 'sending', claimed_at = $2, claimed_by = $4";
        let sql = match self.backend() {
            // SQLite has one writer: the statement sees the rows as they are.
            crate::Backend::Sqlite => format!(
                "UPDATE campaign_members {set} WHERE campaign_id = $1 AND contact_id IN ({pick}) \
                 RETURNING contact_id, variant"
            ),
            // Picked once, in a materialised step: as `IN (subquery)` PostgreSQL may run a
            // LIMIT … SKIP LOCKED subquery again per row, and took every member at once.
            crate::Backend::Postgres => format!(
                "WITH picked AS MATERIALIZED ({pick} FOR UPDATE SKIP LOCKED) \
                 UPDATE campaign_members m {set} FROM picked \
                 WHERE m.campaign_id = $1 AND m.contact_id = picked.contact_id \
                 RETURNING m.contact_id, m.variant"
            ),
        };
        let mut tx = self.db.begin().await?;
        let rows = tx
            .fetch(
                &sql,
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
        let mark = MemberMark {
            contact,
            state: to,
            detail: detail.map(str::to_string),
            interaction,
        };
        self.mark_members(campaign, &[mark]).await
    }

    /// [`Self::mark_member`] for a batch of members, in one transaction.
    pub async fn mark_members(&self, campaign: Id, marks: &[MemberMark<'_>]) -> Result<()> {
        let at = now();
        let mut tx = self.db.begin().await?;
        for m in marks {
            let sent_at = (m.state == state::SENT).then_some(at);
            tx.exec(
                "UPDATE campaign_members SET state = $3, detail = $4, interaction_id = $5, \
                 sent_at = $6 WHERE campaign_id = $1 AND contact_id = $2",
                vec![
                    Val::Uuid(campaign.0),
                    Val::Uuid(m.contact.0),
                    Val::Text(m.state.into()),
                    m.detail
                        .as_ref()
                        .map_or(Val::Null(Kind::Text), |d| Val::Text(d.clone())),
                    Val::opt_uuid(m.interaction.map(|i| i.0)),
                    Val::opt_ts(sent_at),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Where one member's message stands: its state and why (a refusal's code, a
    /// failure's error); none when the contact is not a member.
    pub async fn campaign_member(
        &self,
        campaign: Id,
        contact: Id,
    ) -> Result<Option<(String, Option<String>)>> {
        Ok(self
            .db
            .fetch(
                "SELECT state, detail FROM campaign_members \
                 WHERE campaign_id = $1 AND contact_id = $2",
                vec![Val::Uuid(campaign.0), Val::Uuid(contact.0)],
                &[Kind::Text, Kind::Text],
            )
            .await?
            .into_iter()
            .next()
            .and_then(|r| {
                let mut r = r.into_iter();
                let state = r.next()?.into_text()?;
                Some((state, r.next().and_then(Val::into_text)))
            }))
    }

    /// How many campaign messages each of `contacts` was sent since `since`, across
    /// campaigns and their journeys' e-mails (those with none are left out): what a
    /// frequency cap counts.
    pub async fn recent_sends(
        &self,
        contacts: &[Id],
        since: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<Id, i64>> {
        let mut out = std::collections::HashMap::new();
        for chunk in contacts.chunks(500) {
            let marks: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let mut params = vec![Val::Ts(since)];
            params.extend(chunk.iter().map(|c| Val::Uuid(c.0)));
            let rows = self
                .db
                .fetch(
                    &format!(
                        "SELECT contact_id, COUNT(*) FROM (\
                         SELECT contact_id FROM campaign_members WHERE contact_id IN ({list}) \
                         AND sent_at >= $1 UNION ALL \
                         SELECT contact_id FROM campaign_steps WHERE contact_id IN ({list}) \
                         AND sent_at >= $1) sends GROUP BY contact_id",
                        list = marks.join(", ")
                    ),
                    params,
                    &[Kind::Uuid, Kind::Int],
                )
                .await?;
            for r in rows {
                if let (Some(c), Some(n)) = (r[0].as_uuid(), r[1].as_i64()) {
                    out.insert(Id(c), n);
                }
            }
        }
        Ok(out)
    }

    /// How many members are in each variant and state.
    pub async fn campaign_tally(&self, campaign: Id) -> Result<Vec<Tally>> {
        let rows = self
            .db
            .fetch(
                "SELECT variant, state, COUNT(*), COUNT(opened_at), COUNT(clicked_at), \
                 COUNT(bounced_at), COUNT(complained_at), COUNT(unsubscribed_at), \
                 COUNT(converted_at), CAST(COALESCE(SUM(revenue_minor), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(margin_minor), 0) AS BIGINT), COUNT(margin_minor), \
                 COUNT(replied_at) \
                 FROM campaign_members WHERE campaign_id = $1 \
                 GROUP BY variant, state ORDER BY variant, state",
                vec![Val::Uuid(campaign.0)],
                &[
                    Kind::Int,
                    Kind::Text,
                    Kind::Int,
                    Kind::Int,
                    Kind::Int,
                    Kind::Int,
                    Kind::Int,
                    Kind::Int,
                    Kind::Int,
                    Kind::Int,
                    Kind::Int,
                    Kind::Int,
                    Kind::Int,
                ],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|mut r| {
                let n = |i: usize| r[i].as_i64().unwrap_or(0);
                let variant = r[0].as_i64().and_then(|v| usize::try_from(v).ok());
                let mut t = Tally {
                    variant,
                    state: String::new(),
                    count: n(2),
                    opened: n(3),
                    clicked: n(4),
                    bounced: n(5),
                    complained: n(6),
                    unsubscribed: n(7),
                    converted: n(8),
                    revenue: n(9),
                    margin: n(10),
                    margin_known: n(11),
                    replied: n(12),
                };
                t.state = r.swap_remove(1).into_text().unwrap_or_default();
                t
            })
            .collect())
    }
}

/// The attributes a campaign's responders are profiled by, each with the column that
/// holds it (`p`: the member's contact, `a`: its account).
pub const PROFILE_ATTRIBUTES: &[(&str, &str)] = &[
    ("account.grade", "a.grade"),
    ("account.rfm_segment", "a.rfm_segment"),
    ("account.lifecycle_stage", "a.lifecycle_stage"),
    ("account.tier", "a.tier"),
    ("account.size", "a.size"),
    ("account.industry", "a.industry"),
    ("account.province", "a.province"),
    ("contact.buying_role", "p.buying_role"),
    ("contact.department", "p.department"),
];

/// Whether the member `m` responded to the message: clicked or converted. Opens are left
/// out, since mail clients fetch (or block) images whatever the reader does.
pub(crate) const RESPONDED: &str = "(m.clicked_at IS NOT NULL OR m.converted_at IS NOT NULL)";

/// The members sent a campaign's message who share one value of an attribute (`None`: no
/// value), and how many of them responded (clicked or converted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseGroup {
    pub value: Option<String>,
    pub members: i64,
    pub responders: i64,
}

impl Store {
    /// The campaign's sent members grouped by `attribute` (one of [`PROFILE_ATTRIBUTES`]).
    pub async fn campaign_response_by(
        &self,
        campaign: Id,
        attribute: &str,
    ) -> Result<Vec<ResponseGroup>> {
        let Some((_, col)) = PROFILE_ATTRIBUTES.iter().find(|(a, _)| *a == attribute) else {
            return Err(crate::StoreError::invalid(
                "attribute",
                "unknown",
                format!("no attribute {attribute} to profile responders by"),
            ));
        };
        let rows = self
            .db
            .fetch(
                &format!(
                    "SELECT {col}, COUNT(*), \
                     COUNT(CASE WHEN {RESPONDED} THEN 1 END) \
                     FROM campaign_members m JOIN contacts p ON p.id = m.contact_id \
                     LEFT JOIN accounts a ON a.id = p.account_id \
                     WHERE m.campaign_id = $1 AND m.state = 'sent' GROUP BY {col}"
                ),
                vec![Val::Uuid(campaign.0)],
                &[Kind::Text, Kind::Int, Kind::Int],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|mut r| ResponseGroup {
                members: r[1].as_i64().unwrap_or(0),
                responders: r[2].as_i64().unwrap_or(0),
                value: r.swap_remove(0).into_text().filter(|v| !v.is_empty()),
            })
            .collect())
    }
}

/// An order placed or a deal won, which the campaigns that reached its account may claim
/// as their conversion.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The order or deal.
    pub id: Id,
    pub account_id: Id,
    pub contact_id: Option<Id>,
    pub at: DateTime<Utc>,
    pub currency: String,
    pub revenue: i64,
    /// Unknown for a deal, and for an order whose costs are unknown.
    pub margin: Option<i64>,
}

/// A member a conversion was attributed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    pub campaign_id: Id,
    pub contact_id: Id,
    /// Sent the message (not held out in the control group).
    pub treated: bool,
}

impl Store {
    /// When any campaign first reached (or held out) anyone: nothing before it converts.
    pub async fn first_campaign_contact(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .db
            .fetch(
                "SELECT MIN(COALESCE(sent_at, added_at)) FROM campaign_members \
                 WHERE state IN ('sent', 'held')",
                vec![],
                &[Kind::Ts],
            )
            .await?
            .first()
            .and_then(|r| r[0].as_ts()))
    }

    /// Attribute `outcome` to every campaign that reached its account (its contact, or any
    /// contact of its account) within the campaign's conversion window before it: a member
    /// sent the message, or held out in the control group (counted from the launch, so the
    /// two groups can be compared). Each campaign counts it once, on the member it reached
    /// last (the outcome's own contact first), and a member converts once. The revenue
    /// counts where the outcome's currency is the campaign budget's.
    pub async fn attribute_conversion(&self, outcome: &Outcome) -> Result<Vec<Converted>> {
        let mut tx = self.db.begin().await?;
        let rows = tx
            .fetch(
                "SELECT m.campaign_id, m.contact_id, m.state, COALESCE(m.sent_at, m.added_at), \
                 c.conversion_days, c.budget_currency \
                 FROM campaign_members m \
                 JOIN campaigns c ON c.id = m.campaign_id AND c.deleted_at IS NULL \
                 JOIN contacts p ON p.id = m.contact_id \
                 WHERE (p.account_id = $1 OR m.contact_id = $2) AND m.converted_at IS NULL \
                 AND ((m.state = 'sent' AND m.sent_at <= $3) OR (m.state = 'held' AND m.added_at <= $3)) \
                 AND NOT EXISTS (SELECT 1 FROM campaign_members d WHERE d.campaign_id = m.campaign_id \
                     AND d.conversion_id = $4)",
                vec![
                    Val::Uuid(outcome.account_id.0),
                    Val::opt_uuid(outcome.contact_id.map(|c| c.0)),
                    Val::Ts(outcome.at),
                    Val::Uuid(outcome.id.0),
                ],
                &[Kind::Uuid, Kind::Uuid, Kind::Text, Kind::Ts, Kind::Int, Kind::Text],
            )
            .await?;
        // Per campaign, the member to credit: in the window, the outcome's contact first,
        // then the one reached last.
        let mut best: std::collections::BTreeMap<Id, (bool, DateTime<Utc>, Id, bool, bool)> =
            Default::default();
        for mut r in rows {
            let (Some(campaign), Some(contact), Some(at), Some(days)) = (
                r[0].as_uuid().map(Id),
                r[1].as_uuid().map(Id),
                r[3].as_ts(),
                r[4].as_i64(),
            ) else {
                continue;
            };
            if at + chrono::Duration::days(days) < outcome.at {
                continue;
            }
            let treated = r[2] == Val::Text(state::SENT.into());
            let same_currency = r.swap_remove(5).into_text().as_deref() == Some(&outcome.currency);
            let own = Some(contact) == outcome.contact_id;
            let better = best
                .get(&campaign)
                .is_none_or(|(o, a, ..)| (own, at) > (*o, *a));
            if better {
                best.insert(campaign, (own, at, contact, treated, same_currency));
            }
        }
        let mut out = vec![];
        for (campaign, (_, _, contact, treated, same_currency)) in best {
            let money = |v: Option<i64>| {
                if same_currency {
                    Val::Int(v.unwrap_or(0))
                } else {
                    Val::Null(Kind::Int)
                }
            };
            tx.exec(
                "UPDATE campaign_members SET converted_at = $3, conversion_id = $4, \
                 revenue_minor = $5, margin_minor = $6 \
                 WHERE campaign_id = $1 AND contact_id = $2 AND converted_at IS NULL",
                vec![
                    Val::Uuid(campaign.0),
                    Val::Uuid(contact.0),
                    Val::Ts(outcome.at),
                    Val::Uuid(outcome.id.0),
                    money(Some(outcome.revenue)),
                    match outcome.margin {
                        Some(m) => money(Some(m)),
                        None => Val::Null(Kind::Int),
                    },
                ],
            )
            .await?;
            out.push(Converted {
                campaign_id: campaign,
                contact_id: contact,
                treated,
            });
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// A member's response after the message: what tracking, the bounce address and the
/// unsubscribe link see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    Opened,
    Clicked,
    Bounced,
    Complained,
    Unsubscribed,
    Replied,
}

impl Response {
    fn column(self) -> &'static str {
        match self {
            Response::Opened => "opened_at",
            Response::Clicked => "clicked_at",
            Response::Bounced => "bounced_at",
            Response::Complained => "complained_at",
            Response::Unsubscribed => "unsubscribed_at",
            Response::Replied => "replied_at",
        }
    }
}

impl Store {
    /// Note a member's response; `true` the first time (a click counts as an open too,
    /// since images are often blocked). `false` as well for someone not a member.
    pub async fn member_responded(
        &self,
        campaign: Id,
        contact: Id,
        response: Response,
    ) -> Result<bool> {
        Ok(self
            .members_responded(&[(campaign, contact, response)])
            .await?
            .pop()
            .unwrap_or(false))
    }

    /// [`Self::member_responded`] for many (campaign, member, response), in one
    /// transaction; answers each in order.
    pub async fn members_responded(&self, noted: &[(Id, Id, Response)]) -> Result<Vec<bool>> {
        let at = now();
        let mut firsts = Vec::with_capacity(noted.len());
        let mut tx = self.db.begin().await?;
        for (campaign, contact, response) in noted {
            let col = response.column();
            let also_opened = if *response == Response::Clicked {
                ", opened_at = COALESCE(opened_at, $3)"
            } else {
                ""
            };
            let sql = format!(
                "UPDATE campaign_members SET {col} = $3{also_opened} \
                 WHERE campaign_id = $1 AND contact_id = $2 AND {col} IS NULL"
            );
            let n = tx
                .exec(
                    &sql,
                    vec![Val::Uuid(campaign.0), Val::Uuid(contact.0), Val::Ts(at)],
                )
                .await?;
            firsts.push(n > 0);
        }
        tx.commit().await?;
        Ok(firsts)
    }

    /// Note a reply from `contact` at `at` to every campaign message sent them in the
    /// `window` before it that has none yet; answers those campaigns.
    pub async fn members_replied(
        &self,
        contact: Id,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<Vec<Id>> {
        let mut tx = self.db.begin().await?;
        let rows = tx
            .fetch(
                "UPDATE campaign_members SET replied_at = $2 WHERE contact_id = $1 \
                 AND state = 'sent' AND replied_at IS NULL AND sent_at <= $2 AND sent_at >= $3 \
                 RETURNING campaign_id",
                vec![Val::Uuid(contact.0), Val::Ts(at), Val::Ts(at - window)],
                &[Kind::Uuid],
            )
            .await?;
        tx.commit().await?;
        Ok(rows.iter().filter_map(|r| r[0].as_uuid()).map(Id).collect())
    }

    /// The campaign whose message reached `contact` last: an unsubscribe from the link
    /// every marketing mail carries answers it.
    pub async fn last_campaign_sent(&self, contact: Id) -> Result<Option<Id>> {
        Ok(self
            .db
            .fetch(
                "SELECT campaign_id FROM campaign_members WHERE contact_id = $1 AND sent_at IS NOT NULL \
                 ORDER BY sent_at DESC LIMIT 1",
                vec![Val::Uuid(contact.0)],
                &[Kind::Uuid],
            )
            .await?
            .first()
            .and_then(|r| r[0].as_uuid())
            .map(Id))
    }

    /// The campaign and member a sent message (its interaction) belongs to: a bounce names
    /// the message it returns by its Message-ID, made from the interaction's id.
    pub async fn member_of_message(&self, interaction: Id) -> Result<Option<(Id, Id)>> {
        Ok(self
            .db
            .fetch(
                "SELECT campaign_id, contact_id FROM campaign_members WHERE interaction_id = $1",
                vec![Val::Uuid(interaction.0)],
                &[Kind::Uuid, Kind::Uuid],
            )
            .await?
            .first()
            .and_then(|r| Some((Id(r[0].as_uuid()?), Id(r[1].as_uuid()?)))))
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
