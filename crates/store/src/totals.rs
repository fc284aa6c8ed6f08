//! Counts and sums by group over what the actor may see: the kanban's totals per stage, a
//! dashboard's cases per status. One `GROUP BY` query, scoped like every list, and cached:
//! over a whole large base it reads every row, and dashboards ask for it on every view.

use crate::db::{Kind, Val};
use crate::query::{self, Sql};
use crate::{Result, Store, StoreError, records::require};
use guanxi_domain::filter::Filter;
use guanxi_domain::{Actor, Entity, Right, Scope};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Writes through this process clear an entity's totals at once; writes by another server
/// sharing the PostgreSQL database show within this long.
const TTL: Duration = Duration::from_secs(30);
/// Enough for every user's dashboards; beyond it the oldest half is dropped.
const MAX_ENTRIES: usize = 4096;

type Key = (&'static str, String);
type Entry = (Instant, Arc<Vec<Total>>);

/// Totals by entity and query (the actor's scope, filters, grouping and sum).
#[derive(Default)]
pub struct TotalsCache(RwLock<HashMap<Key, Entry>>);

impl TotalsCache {
    fn get(&self, key: &Key) -> Option<Arc<Vec<Total>>> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, t)| t.clone())
    }

    fn put(&self, key: Key, totals: Arc<Vec<Total>>) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            let mut ages: Vec<Instant> = map.values().map(|(at, _)| *at).collect();
            ages.sort();
            let cut = ages[ages.len() / 2];
            map.retain(|_, (at, _)| *at > cut);
        }
        map.insert(key, (Instant::now(), totals));
    }

    /// After a write to `entity`: its totals are stale.
    pub fn written(&self, entity: &str) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(e, _), _| *e != entity);
    }
}

/// Who the totals are for: actors with the same scope see the same rows.
fn scope_key(actor: &Actor) -> String {
    match actor.scope() {
        Scope::All => "all".into(),
        Scope::Own => format!("own:{}", actor.user_id),
        Scope::Team => {
            let mut teams: Vec<String> = actor.teams.iter().map(|t| t.to_string()).collect();
            teams.sort();
            format!("team:{}:{}", actor.user_id, teams.join(","))
        }
        Scope::Partner => format!("partner:{:?}", actor.partner_id),
    }
}

/// One group: its value (as text; empty for none), how many records, and the sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Total {
    pub group: String,
    pub count: i64,
    pub sum: i64,
}

impl Store {
    /// Records of `T` matching `filters`, grouped by `group_by`, with the sum of the integer
    /// or money field `sum` (minor units) when given.
    pub async fn totals<T: Entity>(
        &self,
        actor: &Actor,
        filters: &[Filter],
        group_by: &str,
        sum: Option<&str>,
    ) -> Result<Arc<Vec<Total>>> {
        let def = T::DEF;
        require(actor, def.name, Right::Read)?;
        let key = (
            def.name,
            format!(
                "{}|{}|{}|{}",
                scope_key(actor),
                serde_json::to_string(filters).unwrap_or_default(),
                group_by,
                sum.unwrap_or("")
            ),
        );
        if let Some(hit) = self.totals.get(&key) {
            return Ok(hit);
        }
        let custom = self.custom_fields(def.name).await?;
        let backend = self.backend();
        let mut sql = Sql::default();
        let mut preds = vec!["\"deleted_at\" IS NULL".to_string()];
        preds.push(query::scope(def, actor, &mut sql));
        for f in filters {
            preds.push(query::filter(def, &custom, backend, f, &mut sql)?);
        }
        let group = query::resolve(def, &custom, backend, group_by)?;
        let total = match sum {
            Some(s) => {
                let t = query::resolve(def, &custom, backend, s)?;
                if !matches!(
                    t.ty,
                    guanxi_domain::entity::FieldType::Int | guanxi_domain::entity::FieldType::Money
                ) {
                    return Err(StoreError::invalid(
                        "sum",
                        "invalid",
                        "sums need a whole-number or money field",
                    ));
                }
                format!("CAST(COALESCE(SUM({}), 0) AS BIGINT)", t.expr)
            }
            None => "0".into(),
        };
        let group_kind = match group.ty {
            guanxi_domain::entity::FieldType::Ref(_) => Kind::Uuid,
            guanxi_domain::entity::FieldType::Int => Kind::Int,
            guanxi_domain::entity::FieldType::Bool => Kind::Bool,
            _ => Kind::Text,
        };
        let text = format!(
            "SELECT {g}, COUNT(*), {total} FROM {} WHERE {} GROUP BY {g}",
            def.table,
            preds.join(" AND "),
            g = group.expr
        );
        let rows = self
            .db
            .reader()
            .await?
            .fetch(&text, sql.params, &[group_kind, Kind::Int, Kind::Int])
            .await?;
        let totals: Arc<Vec<Total>> = Arc::new(
            rows.into_iter()
                .map(|r| Total {
                    group: text_of(&r[0]),
                    count: r[1].as_i64().unwrap_or(0),
                    sum: r[2].as_i64().unwrap_or(0),
                })
                .collect(),
        );
        self.totals.put(key, totals.clone());
        Ok(totals)
    }
}

fn text_of(v: &Val) -> String {
    match v {
        Val::Text(s) => s.clone(),
        Val::Uuid(u) => u.to_string(),
        Val::Int(i) => i.to_string(),
        Val::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_clears_only_its_entitys_totals() {
        let cache = TotalsCache::default();
        let t = Arc::new(vec![]);
        cache.put(("case", "a".into()), t.clone());
        cache.put(("opportunity", "a".into()), t);
        cache.written("case");
        assert!(cache.get(&("case", "a".into())).is_none());
        assert!(cache.get(&("opportunity", "a".into())).is_some());
    }
}
