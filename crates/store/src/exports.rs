//! Exports leave a trace: who exported which entity, with what filters and columns. Data
//! that leaves the system is as much a part of its history as data that changes in it.

use crate::changelog::{self, ChangeEntry};
use crate::db::{Kind, Val};
use crate::records::{now, require};
use crate::{Result, Store};
use guanxi_domain::{Actor, Id, Right};
use serde_json::Value;

/// The change-log action of an export.
const EXPORT_ACTION: &str = "export";

impl Store {
    /// Record an export of `entity` by `actor` (`detail`: format, filters, columns, count)
    /// as one change-log entry on the system record. Needs the right to export the entity
    /// (a role's `export`: sales reps lack it by default, so customer lists do not walk out).
    pub async fn log_export(
        &self,
        actor: &Actor,
        entity: &'static str,
        detail: Value,
    ) -> Result<i64> {
        require(actor, entity, Right::Export)?;
        let mut tx = self.db.begin().await?;
        let seq = changelog::append(
            &mut tx,
            now(),
            actor.user_id,
            entity,
            Id::SYSTEM,
            EXPORT_ACTION,
            None,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// The latest `limit` exports, newest first: everyone's for roles that administer
    /// users, the caller's own for everyone else.
    pub async fn exports(&self, actor: &Actor, limit: u32) -> Result<Vec<ChangeEntry>> {
        let mut params = vec![Val::Uuid(Id::SYSTEM.0), Val::Text(EXPORT_ACTION.into())];
        let mine = if actor.may("user", Right::Update) {
            ""
        } else {
            params.push(Val::Uuid(actor.user_id.0));
            " AND actor_id = $3"
        };
        let rows = self
            .db
            .fetch(
                &format!(
                    "SELECT seq, at, actor_id, entity, after FROM changes \
                     WHERE record_id = $1 AND action = $2{mine} ORDER BY seq DESC LIMIT {limit}"
                ),
                params,
                &[Kind::Int, Kind::Ts, Kind::Uuid, Kind::Text, Kind::Text],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut it = r.into_iter();
                let mut next = || it.next().unwrap_or(Val::Null(Kind::Text));
                ChangeEntry {
                    seq: next().as_i64().unwrap_or(0),
                    at: next().as_ts().unwrap_or_default(),
                    actor_id: Id(next().as_uuid().unwrap_or_default()),
                    entity: next().into_text().unwrap_or_default(),
                    record_id: Id::SYSTEM,
                    action: EXPORT_ACTION.into(),
                    before: None,
                    after: next()
                        .into_text()
                        .and_then(|s| serde_json::from_str(&s).ok()),
                    // Readers of exports do not verify the chain; `verify_chain` does.
                    prev_hash: String::new(),
                    hash: String::new(),
                }
            })
            .collect())
    }
}
