//! Administrators' settings: one JSON document per key, versioned like records (a stale
//! version is refused) and recorded in the change log.

use crate::db::{Kind, Val};
use crate::{Result, Store, StoreError, changelog, records::now};
use guanxi_domain::{Actor, Id, Right};
use serde::Serialize;
use serde::de::DeserializeOwned;

impl Store {
    /// The setting under `key` and its version; `None` when it was never set.
    pub async fn setting<T: DeserializeOwned>(&self, key: &str) -> Result<Option<(T, i64)>> {
        let rows = self
            .db
            .fetch(
                "SELECT value, version FROM settings WHERE key = $1",
                vec![Val::Text(key.into())],
                &[Kind::Json, Kind::Int],
            )
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let value = match &row[0] {
            Val::Json(v) => v.clone(),
            Val::Text(t) => {
                serde_json::from_str(t).map_err(|e| StoreError::Corrupt(e.to_string()))?
            }
            _ => return Err(StoreError::Corrupt(format!("setting {key} is not JSON"))),
        };
        let value =
            serde_json::from_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Some((value, row[1].as_i64().unwrap_or(0))))
    }

    /// Set `key` to `value` if its version is still `expected` (0: never set); the new
    /// version. Administrators only (the right to change users).
    pub async fn put_setting<T: Serialize>(
        &self,
        actor: &Actor,
        key: &str,
        expected: i64,
        value: &T,
    ) -> Result<i64> {
        crate::records::require(actor, "user", Right::Update)?;
        let after = serde_json::to_value(value).map_err(|e| StoreError::Config(e.to_string()))?;
        let at = now();
        let mut tx = self.db.begin().await?;
        let current = tx
            .fetch(
                "SELECT version FROM settings WHERE key = $1",
                vec![Val::Text(key.into())],
                &[Kind::Int],
            )
            .await?
            .pop()
            .and_then(|r| r[0].as_i64())
            .unwrap_or(0);
        if current != expected {
            return Err(StoreError::Conflict {
                entity: "setting",
                id: Id::SYSTEM,
                expected,
                actual: current,
            });
        }
        let version = current + 1;
        let sql = if current == 0 {
            "INSERT INTO settings (value, version, updated_at, key) VALUES ($1, $2, $3, $4)"
        } else {
            "UPDATE settings SET value = $1, version = $2, updated_at = $3 WHERE key = $4"
        };
        tx.exec(
            sql,
            vec![
                Val::Json(after.clone()),
                Val::Int(version),
                Val::Ts(at),
                Val::Text(key.into()),
            ],
        )
        .await?;
        let logged = serde_json::json!({ "key": key, "value": after });
        changelog::append(
            &mut tx,
            at,
            actor.user_id,
            "setting",
            Id::SYSTEM,
            "update",
            None,
            Some(&logged),
        )
        .await?;
        tx.commit().await?;
        Ok(version)
    }
}
