//! What service needs beyond the generic record API: how many open cases a service
//! partner holds (its capacity), the SLA clock inputs of every open case read in one pass
//! and their clocks written at once after a calendar or policy changed, and the facts the
//! service dashboard counts.

use crate::changelog;
use crate::db::{Kind, Val};
use crate::{Result, Store};
use chrono::{DateTime, Utc};
use guanxi_domain::entities::{Case, CaseKind, CaseStatus, DispatchStatus, Priority};
use guanxi_domain::sla::{AccountFacts, Clock};
use guanxi_domain::{Actor, Id};

/// How many clocks one transaction writes.
const BATCH: usize = 20_000;
/// How many clocks one statement writes: five parameters each, well under SQLite's limit
/// of 32,766 parameters and PostgreSQL's 65,535. One statement per clock cost more in
/// round trips than in the writing.
const ROWS_A_STATEMENT: usize = 1_000;

/// What an open case's SLA clock is computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockInput {
    pub id: Id,
    pub created_at: DateTime<Utc>,
    /// Only the fields a clock reads are filled (status, priority, category, channel and
    /// the clock's own); the rest are a new case's defaults.
    pub case: Case,
    pub account: AccountFacts,
}

impl Store {
    /// The open cases a partner holds: offered to it, accepted by it, or given it by hand.
    pub async fn partner_open_cases(&self, partner: Id) -> Result<i64> {
        let rows = self
            .db
            .fetch(
                "SELECT COUNT(*) FROM cases WHERE partner_id = $1 AND deleted_at IS NULL \
                 AND status NOT IN ($2, $3) \
                 AND (dispatch_status IS NULL OR dispatch_status IN ($4, $5, $6))",
                vec![
                    Val::Uuid(partner.0),
                    Val::Text(CaseStatus::Resolved.as_str().into()),
                    Val::Text(CaseStatus::Closed.as_str().into()),
                    Val::Text(DispatchStatus::Offered.as_str().into()),
                    Val::Text(DispatchStatus::Accepted.as_str().into()),
                    Val::Text(DispatchStatus::Manual.as_str().into()),
                ],
                &[Kind::Int],
            )
            .await?;
        Ok(rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0))
    }

    /// The clock inputs of every open case, with its account's tier and grade by a join:
    /// one narrow query, for recomputing every clock after a calendar or policy changed.
    pub async fn open_case_clocks(&self, actor: &Actor) -> Result<Vec<ClockInput>> {
        crate::records::require(actor, "case", guanxi_domain::Right::Read)?;
        let text = "SELECT c.id, c.created_at, c.status, c.priority, c.category, c.channel, \
             c.sla_policy_id, c.first_response_due_at, c.first_response_at, c.sla_due_at, \
             c.sla_state, c.sla_used_minutes, c.sla_since, c.sla_next_at, a.tier, a.grade \
             FROM cases c LEFT JOIN accounts a ON a.id = c.account_id \
             WHERE c.deleted_at IS NULL AND c.status IN ($1, $2, $3)";
        let params = [CaseStatus::New, CaseStatus::Open, CaseStatus::Pending]
            .map(|s| Val::Text(s.as_str().into()))
            .to_vec();
        use Kind::*;
        let kinds = [
            Uuid, Ts, Text, Text, Text, Text, Uuid, Ts, Ts, Ts, Text, Int, Ts, Ts, Text, Text,
        ];
        let rows = self.db.fetch(text, params, &kinds).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let mut r = r.into_iter();
                let mut next = || r.next().unwrap_or(Val::Null(Kind::Text));
                let id = Id(next().as_uuid()?);
                let created_at = next().as_ts()?;
                let status = next().into_text()?.parse().ok()?;
                let priority = next()
                    .into_text()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(Priority::Normal);
                let mut case = Case::new("", "", CaseKind::Request, priority, status);
                case.category = next().into_text();
                case.channel = next().into_text();
                case.sla_policy_id = next().as_uuid().map(Id);
                case.first_response_due_at = next().as_ts();
                case.first_response_at = next().as_ts();
                case.sla_due_at = next().as_ts();
                case.sla_state = next().into_text().and_then(|s| s.parse().ok());
                case.sla_used_minutes = next().as_i64();
                case.sla_since = next().as_ts();
                case.sla_next_at = next().as_ts();
                let account = AccountFacts {
                    tier: next().into_text().and_then(|s| s.parse().ok()),
                    grade: next().into_text().and_then(|s| s.parse().ok()),
                };
                Some(ClockInput {
                    id,
                    created_at,
                    case,
                    account,
                })
            })
            .collect())
    }

    /// Write recomputed SLA clocks (a calendar or a policy changed), a batch per
    /// transaction, and log the recomputation (`summary`) as one change-log entry. Only
    /// the due dates and the next moment move here: a state that changes with them is
    /// left to the SLA sweep, which writes it through the write path, so rules see it.
    pub async fn save_sla_clocks(
        &self,
        actor: &Actor,
        at: DateTime<Utc>,
        clocks: &[(Id, Clock)],
        summary: &serde_json::Value,
    ) -> Result<()> {
        crate::records::require(actor, "case", guanxi_domain::Right::Update)?;
        for batch in clocks.chunks(BATCH) {
            let mut tx = self.db.begin().await?;
            for rows in batch.chunks(ROWS_A_STATEMENT) {
                let values: Vec<String> = (0..rows.len())
                    .map(|i| {
                        let p = i * 5;
                        format!(
                            "(${}, ${}, ${}, ${}, ${})",
                            p + 1,
                            p + 2,
                            p + 3,
                            p + 4,
                            p + 5
                        )
                    })
                    .collect();
                // VALUES' columns are column1… on both backends.
                let text = format!(
                    "UPDATE cases SET sla_policy_id = v.column2, first_response_due_at = v.column3, \
                     sla_due_at = v.column4, sla_next_at = v.column5 \
                     FROM (VALUES {}) AS v WHERE cases.id = v.column1",
                    values.join(", ")
                );
                let params = rows
                    .iter()
                    .flat_map(|(id, c)| {
                        [
                            Val::Uuid(id.0),
                            Val::opt_uuid(c.policy_id.map(|p| p.0)),
                            Val::opt_ts(c.response_due),
                            Val::opt_ts(c.due),
                            Val::opt_ts(c.next_at),
                        ]
                    })
                    .collect();
                tx.exec(&text, params).await?;
            }
            tx.commit().await?;
        }
        let mut tx = self.db.begin().await?;
        changelog::append(
            &mut tx,
            at,
            actor.user_id,
            "case",
            Id::SYSTEM,
            "sla",
            None,
            Some(summary),
        )
        .await?;
        tx.commit().await?;
        self.written("case");
        Ok(())
    }
}

/// What the service dashboard needs of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFact {
    pub id: Id,
    pub created_at: DateTime<Utc>,
    pub status: Option<CaseStatus>,
    pub category: Option<String>,
    pub team_id: Option<Id>,
    pub partner_id: Option<Id>,
    pub sla_policy_id: Option<Id>,
    pub sla_state: Option<guanxi_domain::entities::SlaState>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Business minutes the resolution clock ran (the resolution time of a resolved case).
    pub sla_used_minutes: Option<i64>,
    pub satisfaction: Option<i64>,
}

impl Store {
    /// The facts of every case the actor may see that is open, or was opened or resolved
    /// since `since`: one scoped query, read in one pass.
    pub async fn case_facts(&self, actor: &Actor, since: DateTime<Utc>) -> Result<Vec<CaseFact>> {
        use guanxi_domain::Entity;
        let def = guanxi_domain::entities::Case::DEF;
        crate::records::require(actor, def.name, guanxi_domain::Right::Read)?;
        let mut sql = crate::query::Sql::default();
        let scope = crate::query::scope(def, actor, &mut sql);
        let (resolved, closed) = (
            sql.bind(Val::Text(CaseStatus::Resolved.as_str().into())),
            sql.bind(Val::Text(CaseStatus::Closed.as_str().into())),
        );
        let (a, b) = (sql.bind(Val::Ts(since)), sql.bind(Val::Ts(since)));
        let text = format!(
            "SELECT id, created_at, status, category, team_id, partner_id, sla_policy_id, \
             sla_state, first_response_at, resolved_at, sla_used_minutes, satisfaction \
             FROM cases WHERE deleted_at IS NULL AND {scope} AND \
             (status NOT IN ({resolved}, {closed}) OR created_at >= {a} OR resolved_at >= {b})"
        );
        let kinds = [
            Kind::Uuid,
            Kind::Ts,
            Kind::Text,
            Kind::Text,
            Kind::Uuid,
            Kind::Uuid,
            Kind::Uuid,
            Kind::Text,
            Kind::Ts,
            Kind::Ts,
            Kind::Int,
            Kind::Int,
        ];
        let rows = self.db.fetch(&text, sql.params, &kinds).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let mut r = r.into_iter();
                let mut next = || r.next().unwrap_or(Val::Null(Kind::Text));
                let id = Id(next().as_uuid()?);
                let created_at = next().as_ts()?;
                let text = |v: Val| v.into_text();
                Some(CaseFact {
                    id,
                    created_at,
                    status: text(next()).and_then(|s| s.parse().ok()),
                    category: text(next()),
                    team_id: next().as_uuid().map(Id),
                    partner_id: next().as_uuid().map(Id),
                    sla_policy_id: next().as_uuid().map(Id),
                    sla_state: text(next()).and_then(|s| s.parse().ok()),
                    first_response_at: next().as_ts(),
                    resolved_at: next().as_ts(),
                    sla_used_minutes: next().as_i64(),
                    satisfaction: next().as_i64(),
                })
            })
            .collect())
    }
}
