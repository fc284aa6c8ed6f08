//! Customer analytics in and out of the database: the facts each account's figures are
//! computed from, read in a few streaming passes, and the computed figures written back to
//! the account's computed fields.
//!
//! The figures are not edits: writing them leaves the record's version alone (so a form a
//! user has open never conflicts with a run) and logs one change-log entry per run, not one
//! per account.

use crate::db::{Backend, Kind, Val};
use crate::{Result, Store, StoreError, changelog};
use chrono::{DateTime, NaiveDate, Utc};
use guanxi_domain::entities::CustomerInsight;
use guanxi_domain::{Actor, Id, Right};
use std::collections::HashMap;

/// One order that counts as revenue (not a draft, not cancelled).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFact {
    pub date: NaiveDate,
    pub total_minor: i64,
    pub margin_minor: i64,
    /// Indexes into [`Facts::skus`].
    pub products: Vec<u32>,
}

/// What the analytics know of one account.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountFacts {
    pub id: Id,
    pub tier: Option<String>,
    pub orders: Vec<OrderFact>,
    pub complaints: u32,
    /// Satisfaction ratings (1–5), dated: the CSAT of each survey answer, and the case's
    /// satisfaction dated by its resolution where no survey was answered. An undated
    /// rating (a case with no resolution time) is left out: a model trained at a cut-off
    /// must not see what came after it.
    pub ratings: Vec<(NaiveDate, f64)>,
    /// Outbound interactions: effort spent on the account.
    pub outbound: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    pub accounts: Vec<AccountFacts>,
    /// Product SKUs, interned: an order's `products` index this list.
    pub skus: Vec<String>,
}

/// How many accounts a write transaction updates.
const BATCH: usize = 5_000;

/// An account's figures as the 14 values of [`Store::save_insights`]'s statement.
fn insight_values(id: &Id, x: &CustomerInsight, at: DateTime<Utc>) -> [Val; 14] {
    let (r, f, m, segment) = match x.rfm {
        Some((r, f, m, s)) => (Some(r), Some(f), Some(m), Some(s.as_str())),
        None => (None, None, None, None),
    };
    let text = |v: Option<&str>| v.map_or(Val::Null(Kind::Text), |s| Val::Text(s.into()));
    let float = |v: Option<f64>| v.map_or(Val::Null(Kind::Float), Val::Float);
    let int = |v: Option<i64>| v.map_or(Val::Null(Kind::Int), Val::Int);
    [
        int(r),
        int(f),
        int(m),
        text(segment),
        float(x.expected_purchases_90d),
        float(x.p_alive),
        int(x.clv_12m.map(|c| c.minor)),
        text(x.clv_12m.map(|c| c.currency.to_string()).as_deref()),
        text(x.grade.map(|g| g.as_str())),
        text(x.lifecycle_stage.map(|s| s.as_str())),
        float(x.churn_risk),
        Val::Json(serde_json::json!(x.cross_sell)),
        Val::Ts(at),
        Val::Uuid(id.0),
    ]
}

impl Store {
    /// Every live account with its revenue orders, complaints, dated satisfaction ratings
    /// and contact effort. Needs the right to read accounts in full (administrators, analysts).
    pub async fn customer_facts(&self, actor: &Actor) -> Result<Facts> {
        require_all_accounts(actor)?;
        let conn = &mut self.db.reader().await?;
        let mut facts = Facts::default();
        let mut index: HashMap<Id, usize> = HashMap::new();
        conn.for_each(
            "SELECT id, tier FROM accounts WHERE deleted_at IS NULL",
            vec![],
            &[Kind::Uuid, Kind::Text],
            |r| {
                let id = Id(r[0].as_uuid().unwrap_or_default());
                index.insert(id, facts.accounts.len());
                facts.accounts.push(AccountFacts {
                    id,
                    tier: r[1].clone().into_text(),
                    ..AccountFacts::default()
                });
                Ok(())
            },
        )
        .await?;
        // The SKUs of an order's lines, joined by the unit separator (0x1F), extracted by
        // the database: parsing millions of line arrays in Rust would cost more.
        let skus = match self.backend() {
            Backend::Sqlite => {
                "(SELECT group_concat(json_extract(l.value, '$.sku'), char(31)) FROM json_each(o.lines) l)"
            }
            Backend::Postgres => {
                "(SELECT string_agg(l->>'sku', chr(31)) FROM jsonb_array_elements(o.lines) l)"
            }
        };
        let mut sku_index: HashMap<String, u32> = HashMap::new();
        let sql = format!(
            "SELECT o.account_id, o.ordered_at, o.total, o.cost_total, {skus} FROM orders o \
             WHERE o.deleted_at IS NULL AND o.status NOT IN ('draft', 'cancelled')"
        );
        conn.for_each(
            &sql,
            vec![],
            &[Kind::Uuid, Kind::Ts, Kind::Int, Kind::Int, Kind::Text],
            |mut r| {
                let Some(&i) = r[0].as_uuid().and_then(|u| index.get(&Id(u))) else {
                    return Ok(());
                };
                let Some(at) = r[1].as_ts() else {
                    return Ok(());
                };
                let total = r[2].as_i64().unwrap_or(0);
                let skus = std::mem::replace(&mut r[4], Val::Null(Kind::Text))
                    .into_text()
                    .unwrap_or_default();
                let mut products: Vec<u32> = skus
                    .split('\u{1f}')
                    .filter(|s| !s.is_empty())
                    .map(|sku| match sku_index.get(sku) {
                        Some(&i) => i,
                        None => {
                            let next = facts.skus.len() as u32;
                            sku_index.insert(sku.to_string(), next);
                            facts.skus.push(sku.to_string());
                            next
                        }
                    })
                    .collect();
                products.sort_unstable();
                products.dedup();
                facts.accounts[i].orders.push(OrderFact {
                    date: at.date_naive(),
                    total_minor: total,
                    margin_minor: total - r[3].as_i64().unwrap_or(0),
                    products,
                });
                Ok(())
            },
        )
        .await?;
        conn.for_each(
            "SELECT account_id, SUM(CASE WHEN kind = 'complaint' THEN 1 ELSE 0 END) FROM cases \
             WHERE deleted_at IS NULL AND account_id IS NOT NULL GROUP BY account_id",
            vec![],
            &[Kind::Uuid, Kind::Int],
            |r| {
                if let Some(&i) = r[0].as_uuid().and_then(|u| index.get(&Id(u))) {
                    facts.accounts[i].complaints = r[1].as_i64().unwrap_or(0) as u32;
                }
                Ok(())
            },
        )
        .await?;
        // Satisfaction as dated facts: each survey's CSAT when it was answered, and a case's
        // own satisfaction when it was resolved where no survey on it gave a CSAT.
        conn.for_each(
            "SELECT s.account_id, s.answered_at, s.csat FROM surveys s \
             WHERE s.deleted_at IS NULL AND s.account_id IS NOT NULL AND s.csat IS NOT NULL \
             AND s.answered_at IS NOT NULL \
             UNION ALL \
             SELECT c.account_id, c.resolved_at, c.satisfaction FROM cases c \
             WHERE c.deleted_at IS NULL AND c.account_id IS NOT NULL \
             AND c.satisfaction IS NOT NULL AND c.resolved_at IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM surveys s WHERE s.case_id = c.id \
             AND s.deleted_at IS NULL AND s.csat IS NOT NULL)",
            vec![],
            &[Kind::Uuid, Kind::Ts, Kind::Int],
            |r| {
                if let Some(&i) = r[0].as_uuid().and_then(|u| index.get(&Id(u)))
                    && let (Some(at), Some(v)) = (r[1].as_ts(), r[2].as_i64())
                {
                    facts.accounts[i].ratings.push((at.date_naive(), v as f64));
                }
                Ok(())
            },
        )
        .await?;
        conn.for_each(
            "SELECT account_id, COUNT(*) FROM interactions WHERE deleted_at IS NULL \
             AND account_id IS NOT NULL AND direction = 'outbound' GROUP BY account_id",
            vec![],
            &[Kind::Uuid, Kind::Int],
            |r| {
                if let Some(&i) = r[0].as_uuid().and_then(|u| index.get(&Id(u))) {
                    facts.accounts[i].outbound = r[1].as_i64().unwrap_or(0) as u32;
                }
                Ok(())
            },
        )
        .await?;
        Ok(facts)
    }

    /// Write a run's figures to the accounts' computed fields, clear them on accounts the
    /// run had nothing for, and log the run (`summary`) as one change-log entry.
    pub async fn save_insights(
        &self,
        actor: &Actor,
        at: DateTime<Utc>,
        insights: &[(Id, CustomerInsight)],
        summary: &serde_json::Value,
    ) -> Result<()> {
        require_all_accounts(actor)?;
        // One UPDATE by primary key per account, in batches. (A multi-row
        // `WITH v AS (VALUES …) UPDATE … FROM v` was 15× slower on SQLite, which drove the
        // join from the accounts table.)
        const SET: &str = "UPDATE accounts SET rfm_r = $1, rfm_f = $2, rfm_m = $3, \
             rfm_segment = $4, expected_purchases_90d = $5, p_alive = $6, clv_12m = $7, \
             clv_12m_currency = $8, grade = $9, lifecycle_stage = $10, churn_risk = $11, \
             cross_sell = $12, analytics_at = $13 WHERE id = $14";
        for batch in insights.chunks(BATCH) {
            let mut tx = self.db.begin().await?;
            for (id, x) in batch {
                tx.exec(SET, insight_values(id, x, at).into()).await?;
            }
            tx.commit().await?;
        }
        let mut tx = self.db.begin().await?;
        tx.exec(
            "UPDATE accounts SET rfm_r = NULL, rfm_f = NULL, rfm_m = NULL, rfm_segment = NULL, \
             expected_purchases_90d = NULL, p_alive = NULL, clv_12m = NULL, \
             clv_12m_currency = NULL, grade = NULL, lifecycle_stage = NULL, churn_risk = NULL, \
             cross_sell = $1, analytics_at = NULL WHERE analytics_at < $2",
            vec![Val::Json(serde_json::json!([])), Val::Ts(at)],
        )
        .await?;
        changelog::append(
            &mut tx,
            at,
            actor.user_id,
            "account",
            Id::SYSTEM,
            "analytics",
            None,
            Some(summary),
        )
        .await?;
        tx.commit().await
    }
}

impl Store {
    /// The analytics runs, oldest first: when, with what models and quality, and the
    /// reports over the whole base. Those are totals over every account, so only roles
    /// that see every account may read them.
    pub async fn analytics_runs(&self, actor: &Actor) -> Result<Vec<crate::ChangeEntry>> {
        require_whole_base(actor)?;
        Ok(changelog::for_record(&self.db, Id::SYSTEM)
            .await?
            .into_iter()
            .filter(|c| c.entity == "account" && c.action == "analytics")
            .collect())
    }
}

impl Store {
    /// The latest analytics run, if any (for the same roles as [`Store::analytics_runs`]).
    pub async fn latest_analytics_run(&self, actor: &Actor) -> Result<Option<crate::ChangeEntry>> {
        require_whole_base(actor)?;
        changelog::latest(&self.db, Id::SYSTEM, "account", "analytics").await
    }
}

/// Reports over every account are for roles that see every account.
fn require_whole_base(actor: &Actor) -> Result<()> {
    crate::records::require(actor, "account", Right::Read)?;
    if actor.scope() != guanxi_domain::Scope::All {
        return Err(StoreError::Forbidden {
            entity: "account",
            right: Right::Read,
        });
    }
    Ok(())
}

/// Reading every account's orders and writing every account's figures is for roles that
/// see and change all accounts.
fn require_all_accounts(actor: &Actor) -> Result<()> {
    if actor.scope() == guanxi_domain::Scope::All && actor.may("account", Right::Update) {
        Ok(())
    } else {
        Err(StoreError::Forbidden {
            entity: "account",
            right: Right::Update,
        })
    }
}
