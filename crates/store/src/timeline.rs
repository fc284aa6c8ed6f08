//! An account's timeline: interactions, orders, cases and changes merged, newest first,
//! paged by time.

use crate::changelog;
use crate::db::Conn;
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use guanxi_domain::entities::{Account, Case, Interaction, Order};
use guanxi_domain::{Actor, Entity, Id};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TimelineItem {
    pub at: DateTime<Utc>,
    /// `interaction`, `order`, `case` or `change`.
    pub kind: &'static str,
    /// The record (for a change: the change-log entry) as JSON.
    pub record: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Timeline {
    pub items: Vec<TimelineItem>,
    /// Pass as `before` for the next page; `None` on the last page.
    pub next_before: Option<DateTime<Utc>>,
}

pub const MAX_TIMELINE_PAGE: u32 = 200;

impl Store {
    /// One page of the account's timeline, everything in it within the actor's scope. A page
    /// never splits events that share the same instant, so paging by time loses none.
    pub async fn timeline(
        &self,
        actor: &Actor,
        account: Id,
        before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Timeline> {
        if limit == 0 || limit > MAX_TIMELINE_PAGE {
            return Err(StoreError::invalid(
                "limit",
                "out_of_range",
                format!("must be between 1 and {MAX_TIMELINE_PAGE}"),
            ));
        }
        let c = &mut self.db.reader().await?;
        Self::get_on::<Account>(c, actor, account).await?;
        Self::timeline_on(c, actor, account, before, limit).await
    }

    /// [`Self::timeline`] on a connection the caller holds, once it has checked the limit and
    /// that the actor may see the account (the 360 view reads its first page this way).
    pub(crate) async fn timeline_on(
        c: &mut Conn,
        actor: &Actor,
        account: Id,
        before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Timeline> {
        let n = limit + 1;
        let mut items = vec![];
        let interactions = Self::related_before::<Interaction>(
            c,
            actor,
            "account_id",
            account,
            before.map(|t| ("at", t)),
            "ORDER BY \"at\" DESC, id DESC",
            n,
        )
        .await?;
        items.extend(
            interactions
                .into_iter()
                .map(|r| item("interaction", r.data.at, r.to_json())),
        );
        let orders = Self::related_before::<Order>(
            c,
            actor,
            "account_id",
            account,
            before.map(|t| ("ordered_at", t)),
            "ORDER BY \"ordered_at\" DESC, id DESC",
            n,
        )
        .await?;
        items.extend(
            orders
                .into_iter()
                .map(|r| item("order", r.data.ordered_at, r.to_json())),
        );
        let cases = Self::related_before::<Case>(
            c,
            actor,
            "account_id",
            account,
            before.map(|t| ("created_at", t)),
            "ORDER BY \"created_at\" DESC, id DESC",
            n,
        )
        .await?;
        items.extend(
            cases
                .into_iter()
                .map(|r| item("case", r.meta.created_at, r.to_json())),
        );
        for c in changelog::for_record_before(c, account, before, n).await? {
            items.push(item(
                "change",
                c.at,
                serde_json::to_value(&c).unwrap_or_default(),
            ));
        }
        // Newest first; a stable sort keeps each source's own order among equal instants.
        items.sort_by_key(|i| std::cmp::Reverse(i.at));
        let mut next_before = None;
        if items.len() > limit as usize {
            let cut = items[limit as usize - 1].at;
            let keep = items.iter().take_while(|i| i.at >= cut).count();
            items.truncate(keep);
            next_before = Some(cut);
        }
        Ok(Timeline { items, next_before })
    }
}

fn item(kind: &'static str, at: DateTime<Utc>, record: Value) -> TimelineItem {
    TimelineItem { at, kind, record }
}

/// The entity a timeline item's record belongs to (changes are about the account).
pub fn item_def(kind: &str) -> &'static guanxi_domain::EntityDef {
    match kind {
        "interaction" => Interaction::DEF,
        "order" => Order::DEF,
        "case" => Case::DEF,
        _ => Account::DEF,
    }
}
