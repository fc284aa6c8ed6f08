//! Exports leave a trace: who exported which entity, with what filters and columns. Data
//! that leaves the system is as much a part of its history as data that changes in it.

use crate::changelog::{self, ChangeEntry};
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
        let by = (!actor.may("user", Right::Update)).then_some(actor.user_id);
        changelog::latest_of_action(&self.db, Id::SYSTEM, EXPORT_ACTION, by, limit).await
    }
}
