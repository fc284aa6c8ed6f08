//! The 360° view of an account: everything about one customer in one read, each part
//! limited to what the actor may see.

use crate::changelog::{self, ChangeEntry};
use crate::codec::{all_cols, decode_record, kinds, select_list};
use crate::db::{Conn, Kind, Val};
use crate::query::{self, Sql};
use crate::{Result, Store, Timeline};
use chrono::{DateTime, Utc};
use guanxi_domain::entities::{Account, Case, Contact, Interaction, Opportunity, Order};
use guanxi_domain::{Actor, Entity, Id, Record, Right};
use serde::Serialize;

/// How many of each related kind the view carries; lists have the rest.
const LATEST: u32 = 20;
const PEOPLE: u32 = 100;
/// The timeline page the view carries: what the account page shows before "more"; later
/// pages come from [`Store::timeline`] with the same size.
pub const FIRST_TIMELINE_PAGE: u32 = 30;
/// The newest changes of the account the view carries: the account page's history shows
/// this many; the whole log is at `/changes`.
pub const RECENT_CHANGES: u32 = 50;

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AccountSummary {
    /// Orders that count as revenue (not drafts, not cancelled).
    pub order_count: i64,
    /// In minor units of the account's order currency (CNY by default).
    pub lifetime_revenue: i64,
    pub lifetime_margin: i64,
    pub last_order_at: Option<DateTime<Utc>>,
    pub open_cases: i64,
    pub open_opportunities: i64,
    /// Σ amount × probability of open deals, minor units.
    pub weighted_pipeline: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account360 {
    pub account: Record<Account>,
    pub parent: Option<Record<Account>>,
    pub subsidiaries: Vec<Record<Account>>,
    pub contacts: Vec<Record<Contact>>,
    pub interactions: Vec<Record<Interaction>>,
    pub orders: Vec<Record<Order>>,
    pub cases: Vec<Record<Case>>,
    pub open_opportunities: Vec<Record<Opportunity>>,
    pub summary: AccountSummary,
    /// The first [`FIRST_TIMELINE_PAGE`] of the timeline, as [`Store::timeline`] gives it.
    pub timeline: Timeline,
    pub changes: RecentChanges,
}

/// The newest change-log entries about a record.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RecentChanges {
    /// Newest first.
    pub items: Vec<ChangeEntry>,
    /// Whether older entries exist (the whole log is at `/changes`).
    pub more: bool,
}

impl Store {
    pub async fn account_360(&self, actor: &Actor, id: Id) -> Result<Account360> {
        let c = &mut self.db.reader().await?;
        let account = Self::get_on::<Account>(c, actor, id).await?;
        let parent = match account.data.parent_id {
            Some(p) => Self::related::<Account>(c, actor, "id", p, "", 1)
                .await?
                .into_iter()
                .next(),
            None => None,
        };
        let subsidiaries =
            Self::related::<Account>(c, actor, "parent_id", id, "ORDER BY \"name\", id", PEOPLE)
                .await?;
        let contacts =
            Self::related::<Contact>(c, actor, "account_id", id, "ORDER BY \"name\", id", PEOPLE)
                .await?;
        let interactions = Self::related::<Interaction>(
            c,
            actor,
            "account_id",
            id,
            "ORDER BY \"at\" DESC, id DESC",
            LATEST,
        )
        .await?;
        let orders = Self::related::<Order>(
            c,
            actor,
            "account_id",
            id,
            "ORDER BY \"ordered_at\" DESC, id DESC",
            LATEST,
        )
        .await?;
        let cases =
            Self::related::<Case>(c, actor, "account_id", id, "ORDER BY id DESC", LATEST).await?;
        let open_opportunities = Self::related::<Opportunity>(
            c,
            actor,
            "account_id",
            id,
            "AND \"status\" = 'open' ORDER BY id DESC",
            LATEST,
        )
        .await?;
        let summary = Self::summary(c, actor, id).await?;
        let timeline = Self::timeline_on(c, actor, id, None, FIRST_TIMELINE_PAGE).await?;
        // The account is in the actor's sight (read above), so its whole history is too.
        let (items, more) = changelog::newest_for_record(c, id, RECENT_CHANGES).await?;
        Ok(Account360 {
            account,
            parent,
            subsidiaries,
            contacts,
            interactions,
            orders,
            cases,
            open_opportunities,
            summary,
            timeline,
            changes: RecentChanges { items, more },
        })
    }

    /// Live records of `T` whose `column` is `id`, within the actor's scope; empty when the
    /// actor may not read `T` at all. `tail` continues the WHERE clause and orders.
    pub(crate) async fn related<T: Entity>(
        conn: &mut Conn,
        actor: &Actor,
        column: &str,
        id: Id,
        tail: &str,
        limit: u32,
    ) -> Result<Vec<Record<T>>> {
        Self::related_before::<T>(conn, actor, column, id, None, tail, limit).await
    }

    /// [`Self::related`], limited to rows whose `time` column is before a point in time.
    pub(crate) async fn related_before<T: Entity>(
        conn: &mut Conn,
        actor: &Actor,
        column: &str,
        id: Id,
        before: Option<(&str, DateTime<Utc>)>,
        tail: &str,
        limit: u32,
    ) -> Result<Vec<Record<T>>> {
        if !actor.may(T::DEF.name, Right::Read) {
            return Ok(vec![]);
        }
        let cols = all_cols(T::DEF);
        let mut sql = Sql::default();
        let pid = sql.bind(Val::Uuid(id.0));
        let scope = query::scope(T::DEF, actor, &mut sql);
        let time = match before {
            Some((col, t)) => format!(" AND \"{col}\" < {}", sql.bind(Val::Ts(t))),
            None => String::new(),
        };
        let text = format!(
            "SELECT {} FROM {} WHERE \"{column}\" = {pid} AND deleted_at IS NULL AND {scope}{time} {tail} LIMIT {limit}",
            select_list(&cols),
            T::DEF.table
        );
        conn.fetch(&text, sql.params, &kinds(&cols))
            .await?
            .into_iter()
            .map(decode_record)
            .collect()
    }

    async fn summary(conn: &mut Conn, actor: &Actor, id: Id) -> Result<AccountSummary> {
        let orders = Self::aggregate::<Order>(
            conn,
            actor,
            id,
            "COUNT(*), CAST(COALESCE(SUM(total), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(total - cost_total), 0) AS BIGINT), MAX(ordered_at)",
            "status NOT IN ('draft', 'cancelled')",
            &[Kind::Int, Kind::Int, Kind::Int, Kind::Ts],
        )
        .await?;
        let cases = Self::aggregate::<Case>(
            conn,
            actor,
            id,
            "COUNT(*)",
            "status NOT IN ('resolved', 'closed')",
            &[Kind::Int],
        )
        .await?;
        let deals = Self::aggregate::<Opportunity>(
            conn,
            actor,
            id,
            "COUNT(*), CAST(COALESCE(SUM(amount * probability / 100), 0) AS BIGINT)",
            "status = 'open'",
            &[Kind::Int, Kind::Int],
        )
        .await?;
        let int = |row: &[Val], i: usize| row.get(i).and_then(Val::as_i64).unwrap_or(0);
        Ok(AccountSummary {
            order_count: int(&orders, 0),
            lifetime_revenue: int(&orders, 1),
            lifetime_margin: int(&orders, 2),
            last_order_at: orders.get(3).and_then(Val::as_ts),
            open_cases: int(&cases, 0),
            open_opportunities: int(&deals, 0),
            weighted_pipeline: int(&deals, 1),
        })
    }

    /// One row of aggregates over the live `T` records of an account that the actor may see;
    /// empty when the actor may not read `T` at all.
    async fn aggregate<T: Entity>(
        conn: &mut Conn,
        actor: &Actor,
        id: Id,
        select: &str,
        condition: &str,
        kinds: &[Kind],
    ) -> Result<Vec<Val>> {
        if !actor.may(T::DEF.name, Right::Read) {
            return Ok(vec![]);
        }
        let mut sql = Sql::default();
        let pid = sql.bind(Val::Uuid(id.0));
        let scope = query::scope(T::DEF, actor, &mut sql);
        let text = format!(
            "SELECT {select} FROM {} WHERE account_id = {pid} AND deleted_at IS NULL AND {condition} AND {scope}",
            T::DEF.table
        );
        Ok(conn
            .fetch(&text, sql.params, kinds)
            .await?
            .pop()
            .unwrap_or_default())
    }
}
