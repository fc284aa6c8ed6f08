//! Where each member of a campaign stands on each step of its journey: a row per member and
//! step, made when the step's parent is done and due after the step's wait. The steps job
//! claims due rows like the send job claims members (held by the job, taken back after a
//! lease), and a step's own e-mail is tracked on its row.

use crate::campaigns::Response;
use crate::db::{Kind, Val};
use crate::records::now;
use crate::{Result, Store};
use chrono::{DateTime, Utc};
use guanxi_domain::Id;
use std::collections::HashMap;

/// Where a member stands on a step.
pub mod step_state {
    /// Waiting for its time.
    pub const DUE: &str = "due";
    /// Taken by a steps job (`claimed_at`).
    pub const RUNNING: &str = "running";
    pub const DONE: &str = "done";
    /// Its condition did not hold: the member takes the other branch, if any.
    pub const SKIPPED: &str = "skipped";
    /// Not done as the contact stands (no consent, no address, the frequency cap).
    pub const REFUSED: &str = "refused";
    pub const FAILED: &str = "failed";
}

/// A member's step, due at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepDue {
    pub contact: Id,
    pub step: Id,
    pub due_at: DateTime<Utc>,
}

/// How a member's step ended, for [`Store::mark_steps`].
#[derive(Debug, Clone)]
pub struct StepMark {
    pub contact: Id,
    pub step: Id,
    /// One of [`step_state`].
    pub state: &'static str,
    pub detail: Option<String>,
    /// The e-mail or task it made.
    pub interaction: Option<Id>,
    /// Whether it sent an e-mail (counted by frequency caps, tracked).
    pub sent: bool,
}

/// A member's message (the campaign's, or a step's) as a later step looks at it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageFate {
    pub sent_at: Option<DateTime<Utc>>,
    pub opened: bool,
    pub clicked: bool,
}

/// The members of one step in one state, and how many of them opened and clicked its
/// e-mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepTally {
    pub step: Id,
    pub state: String,
    pub count: i64,
    pub opened: i64,
    pub clicked: i64,
}

fn marks(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Make members' rows for steps, due when given. A row already there stays as it is:
    /// a parent done twice schedules its children once.
    pub async fn schedule_steps(&self, campaign: Id, due: &[StepDue]) -> Result<usize> {
        let mut added = 0;
        for chunk in due.chunks(300) {
            let mut params = vec![Val::Uuid(campaign.0)];
            let rows: Vec<String> = chunk
                .iter()
                .map(|d| {
                    params.push(Val::Uuid(d.contact.0));
                    params.push(Val::Uuid(d.step.0));
                    params.push(Val::Ts(d.due_at));
                    let n = params.len();
                    format!("($1, ${}, ${}, 'due', ${n})", n - 2, n - 1)
                })
                .collect();
            let mut tx = self.db.begin().await?;
            added += tx
                .exec(
                    &format!(
                        "INSERT INTO campaign_steps (campaign_id, contact_id, step_id, state, due_at) \
                         VALUES {} ON CONFLICT (campaign_id, contact_id, step_id) DO NOTHING",
                        rows.join(", ")
                    ),
                    params,
                )
                .await?;
            tx.commit().await?;
        }
        Ok(added as usize)
    }

    /// Take up to `limit` of a campaign's steps due by `at`, the earliest first: they become
    /// `running`, held by `by`. What `by` took before is taken again, and so is what any
    /// job took more than `lease` ago (a step's effects are keyed: done twice, they are
    /// there once).
    pub async fn claim_steps(
        &self,
        campaign: Id,
        by: &str,
        at: DateTime<Utc>,
        limit: u32,
        lease: chrono::Duration,
    ) -> Result<Vec<StepDue>> {
        let pick = |cols: &str| {
            format!(
                "SELECT {cols} FROM campaign_steps WHERE campaign_id = $1 \
                 AND ((state = 'due' AND due_at <= $2) \
                 OR (state = 'running' AND (claimed_by = $4 OR claimed_at < $3))) \
                 ORDER BY due_at LIMIT {limit}"
            )
        };
        let set = "SET state = 'running', claimed_at = $2, claimed_by = $4";
        let sql = match self.backend() {
            crate::Backend::Sqlite => format!(
                "UPDATE campaign_steps {set} WHERE rowid IN ({}) \
                 RETURNING contact_id, step_id, due_at",
                pick("rowid")
            ),
            // Picked once (see `claim_members`).
            crate::Backend::Postgres => format!(
                "WITH picked AS MATERIALIZED ({} FOR UPDATE SKIP LOCKED) \
                 UPDATE campaign_steps s {set} FROM picked \
                 WHERE s.campaign_id = $1 AND s.contact_id = picked.contact_id \
                 AND s.step_id = picked.step_id \
                 RETURNING s.contact_id, s.step_id, s.due_at",
                pick("contact_id, step_id")
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
                &[Kind::Uuid, Kind::Uuid, Kind::Ts],
            )
            .await?;
        tx.commit().await?;
        let mut out: Vec<StepDue> = rows
            .iter()
            .filter_map(|r| {
                Some(StepDue {
                    contact: Id(r[0].as_uuid()?),
                    step: Id(r[1].as_uuid()?),
                    due_at: r[2].as_ts()?,
                })
            })
            .collect();
        out.sort_by_key(|d| (d.due_at, d.contact, d.step));
        Ok(out)
    }

    /// Record how members' steps ended, in one transaction.
    pub async fn mark_steps(&self, campaign: Id, marks: &[StepMark]) -> Result<()> {
        let at = now();
        let mut tx = self.db.begin().await?;
        for m in marks {
            tx.exec(
                "UPDATE campaign_steps SET state = $4, detail = $5, interaction_id = $6, \
                 done_at = $7, sent_at = $8, claimed_by = NULL \
                 WHERE campaign_id = $1 AND contact_id = $2 AND step_id = $3",
                vec![
                    Val::Uuid(campaign.0),
                    Val::Uuid(m.contact.0),
                    Val::Uuid(m.step.0),
                    Val::Text(m.state.into()),
                    m.detail
                        .as_ref()
                        .map_or(Val::Null(Kind::Text), |d| Val::Text(d.clone())),
                    Val::opt_uuid(m.interaction.map(|i| i.0)),
                    Val::Ts(at),
                    Val::opt_ts(m.sent.then_some(at)),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What `contacts` did with their messages of a campaign: the campaign's own (keyed
    /// `None`) and each journey step's that sent one.
    pub async fn message_fates(
        &self,
        campaign: Id,
        contacts: &[Id],
    ) -> Result<HashMap<(Id, Option<Id>), MessageFate>> {
        let mut out = HashMap::new();
        let kinds = [Kind::Uuid, Kind::Uuid, Kind::Ts, Kind::Ts, Kind::Ts];
        for chunk in contacts.chunks(500) {
            let mut params = vec![Val::Uuid(campaign.0)];
            params.extend(chunk.iter().map(|c| Val::Uuid(c.0)));
            let list = marks(2, chunk.len());
            let sql = format!(
                "SELECT contact_id, NULL, sent_at, opened_at, clicked_at FROM campaign_members \
                 WHERE campaign_id = $1 AND contact_id IN ({list}) \
                 UNION ALL \
                 SELECT contact_id, step_id, sent_at, opened_at, clicked_at FROM campaign_steps \
                 WHERE campaign_id = $1 AND contact_id IN ({list}) AND sent_at IS NOT NULL"
            );
            for r in self.db.fetch(&sql, params, &kinds).await? {
                let Some(contact) = r[0].as_uuid() else {
                    continue;
                };
                let fate = MessageFate {
                    sent_at: r[2].as_ts(),
                    opened: r[3].as_ts().is_some(),
                    clicked: r[4].as_ts().is_some(),
                };
                out.insert((Id(contact), r[1].as_uuid().map(Id)), fate);
            }
        }
        Ok(out)
    }

    /// How many members are on each step in each state.
    pub async fn step_tally(&self, campaign: Id) -> Result<Vec<StepTally>> {
        let rows = self
            .db
            .fetch(
                "SELECT step_id, state, COUNT(*), COUNT(opened_at), COUNT(clicked_at) \
                 FROM campaign_steps WHERE campaign_id = $1 GROUP BY step_id, state",
                vec![Val::Uuid(campaign.0)],
                &[Kind::Uuid, Kind::Text, Kind::Int, Kind::Int, Kind::Int],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|mut r| {
                Some(StepTally {
                    step: Id(r[0].as_uuid()?),
                    count: r[2].as_i64()?,
                    opened: r[3].as_i64()?,
                    clicked: r[4].as_i64()?,
                    state: r.swap_remove(1).into_text()?,
                })
            })
            .collect())
    }

    /// When the campaign's next waiting step falls due (a step a job holds is that job's:
    /// tried again, the job takes it back).
    pub async fn next_step_due(&self, campaign: Id) -> Result<Option<DateTime<Utc>>> {
        let rows = self
            .db
            .fetch(
                "SELECT MIN(due_at) FROM campaign_steps \
                 WHERE campaign_id = $1 AND state = 'due'",
                vec![Val::Uuid(campaign.0)],
                &[Kind::Ts],
            )
            .await?;
        Ok(rows.first().and_then(|r| r[0].as_ts()))
    }

    /// Bring forward to `at` the waiting steps of each (member, steps) that were due later:
    /// steps watching for a response the member just gave. Answers how many moved.
    pub async fn hasten_steps(
        &self,
        campaign: Id,
        rows: &[(Id, Vec<Id>)],
        at: DateTime<Utc>,
    ) -> Result<u64> {
        let rows: Vec<&(Id, Vec<Id>)> = rows.iter().filter(|(_, s)| !s.is_empty()).collect();
        // Most campaigns have no step watching for a response: the tracking recorder's
        // batches then take no write transaction here.
        if rows.is_empty() {
            return Ok(0);
        }
        let mut moved = 0;
        let mut tx = self.db.begin().await?;
        for (contact, steps) in rows {
            let mut params = vec![Val::Uuid(campaign.0), Val::Uuid(contact.0), Val::Ts(at)];
            params.extend(steps.iter().map(|s| Val::Uuid(s.0)));
            moved += tx
                .exec(
                    &format!(
                        "UPDATE campaign_steps SET due_at = $3 WHERE campaign_id = $1 \
                         AND contact_id = $2 AND state = 'due' AND due_at > $3 \
                         AND step_id IN ({})",
                        marks(4, steps.len())
                    ),
                    params,
                )
                .await?;
        }
        tx.commit().await?;
        Ok(moved)
    }

    /// Note responses to steps' e-mails (campaign, contact, step, response); `true` for
    /// each first of its kind (a click is an open too). Answers each in order.
    pub async fn steps_responded(&self, noted: &[(Id, Id, Id, Response)]) -> Result<Vec<bool>> {
        let at = now();
        let mut firsts = Vec::with_capacity(noted.len());
        let mut tx = self.db.begin().await?;
        for (campaign, contact, step, response) in noted {
            let col = match response {
                Response::Opened => "opened_at",
                Response::Clicked => "clicked_at",
                // Bounces and unsubscribes are the contact's, noted on the campaign row.
                _ => {
                    firsts.push(false);
                    continue;
                }
            };
            let also_opened = if *response == Response::Clicked {
                ", opened_at = COALESCE(opened_at, $4)"
            } else {
                ""
            };
            let n = tx
                .exec(
                    &format!(
                        "UPDATE campaign_steps SET {col} = $4{also_opened} WHERE campaign_id = $1 \
                         AND contact_id = $2 AND step_id = $3 AND {col} IS NULL \
                         AND sent_at IS NOT NULL"
                    ),
                    vec![
                        Val::Uuid(campaign.0),
                        Val::Uuid(contact.0),
                        Val::Uuid(step.0),
                        Val::Ts(at),
                    ],
                )
                .await?;
            firsts.push(n > 0);
        }
        tx.commit().await?;
        Ok(firsts)
    }
}
