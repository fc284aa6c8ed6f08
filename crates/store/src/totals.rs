//! Counts and sums by group over what the actor may see: the kanban's totals per stage, a
//! dashboard's cases per status. One `GROUP BY` query, scoped like every list, and cached:
//! over a whole large base it reads every row, and dashboards ask for it on every view.
//!
//! A write makes its entity's totals stale. Totals that were quick to compute are then
//! computed again at once, so small databases always show exact figures; slow ones (a
//! whole base of a million records) are served stale while one background task computes
//! them again, so no page waits seconds for a figure that is at most that old.

use crate::db::{Kind, Val};
use crate::query::{self, Sql};
use crate::{Result, Store, StoreError, records::require};
use guanxi_domain::filter::Filter;
use guanxi_domain::{Actor, Entity, Right, Scope};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Writes through this process make an entity's totals stale at once; writes by another
/// server sharing the PostgreSQL database show within this long.
const TTL: Duration = Duration::from_secs(30);
/// Totals that took longer than this are refreshed in the background, not while a page
/// waits.
const SLOW: Duration = Duration::from_millis(50);
/// Enough for every user's dashboards; beyond it the oldest half is dropped.
const MAX_ENTRIES: usize = 4096;

type Key = (&'static str, String);

struct Entry {
    at: Instant,
    cost: Duration,
    stale: bool,
    refreshing: bool,
    totals: Arc<Vec<Total>>,
}

/// What the cache has for a query.
enum Cached {
    Fresh(Arc<Vec<Total>>),
    /// Stale, and slow to compute: serve it; `refresh` says whether this caller should
    /// start the (one) background refresh.
    Serve(Arc<Vec<Total>>, bool),
    Compute,
}

/// Totals by entity and query (the actor's scope, filters, grouping and sum).
#[derive(Default)]
pub struct TotalsCache(RwLock<HashMap<Key, Entry>>);

impl TotalsCache {
    fn lookup(&self, key: &Key) -> Cached {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        let Some(e) = map.get_mut(key) else {
            return Cached::Compute;
        };
        if !e.stale && e.at.elapsed() < TTL {
            return Cached::Fresh(e.totals.clone());
        }
        if e.cost < SLOW {
            return Cached::Compute;
        }
        let start = !e.refreshing;
        e.refreshing = true;
        Cached::Serve(e.totals.clone(), start)
    }

    fn put(&self, key: Key, totals: Arc<Vec<Total>>, cost: Duration) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            let mut ages: Vec<Instant> = map.values().map(|e| e.at).collect();
            ages.sort();
            let cut = ages[ages.len() / 2];
            map.retain(|_, e| e.at > cut);
        }
        map.insert(
            key,
            Entry {
                at: Instant::now(),
                cost,
                stale: false,
                refreshing: false,
                totals,
            },
        );
    }

    /// A refresh failed: let the next reader try again.
    fn unmark(&self, key: &Key) {
        if let Some(e) = self
            .0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(key)
        {
            e.refreshing = false;
        }
    }

    /// After a write to `entity`: its totals are stale.
    pub fn written(&self, entity: &str) {
        for ((e, _), entry) in self.0.write().unwrap_or_else(|e| e.into_inner()).iter_mut() {
            if *e == entity {
                entry.stale = true;
            }
        }
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
        match self.totals.lookup(&key) {
            Cached::Fresh(t) => Ok(t),
            Cached::Serve(t, refresh) => {
                if refresh {
                    let (store, actor, filters) = (self.clone(), actor.clone(), filters.to_vec());
                    let (group_by, sum) = (group_by.to_string(), sum.map(str::to_string));
                    tokio::spawn(async move {
                        if let Err(e) = store
                            .compute_totals::<T>(
                                &actor,
                                &filters,
                                &group_by,
                                sum.as_deref(),
                                key.clone(),
                            )
                            .await
                        {
                            tracing::warn!("refreshing {} totals: {e}", T::DEF.name);
                            store.totals.unmark(&key);
                        }
                    });
                }
                Ok(t)
            }
            Cached::Compute => {
                self.compute_totals::<T>(actor, filters, group_by, sum, key)
                    .await
            }
        }
    }

    async fn compute_totals<T: Entity>(
        &self,
        actor: &Actor,
        filters: &[Filter],
        group_by: &str,
        sum: Option<&str>,
        key: Key,
    ) -> Result<Arc<Vec<Total>>> {
        let def = T::DEF;
        let started = Instant::now();
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
        self.totals.put(key, totals.clone(), started.elapsed());
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

    fn fresh(c: Cached) -> bool {
        matches!(c, Cached::Fresh(_))
    }

    #[test]
    fn a_write_makes_only_its_entitys_totals_stale() {
        let cache = TotalsCache::default();
        let t = Arc::new(vec![]);
        cache.put(("case", "a".into()), t.clone(), Duration::ZERO);
        cache.put(("opportunity", "a".into()), t, Duration::ZERO);
        cache.written("case");
        assert!(matches!(
            cache.lookup(&("case", "a".into())),
            Cached::Compute
        ));
        assert!(fresh(cache.lookup(&("opportunity", "a".into()))));
    }

    #[test]
    fn slow_stale_totals_are_served_while_one_caller_refreshes() {
        let cache = TotalsCache::default();
        let key: Key = ("opportunity", "all".into());
        cache.put(key.clone(), Arc::new(vec![]), Duration::from_secs(2));
        cache.written("opportunity");
        assert!(matches!(cache.lookup(&key), Cached::Serve(_, true)));
        assert!(
            matches!(cache.lookup(&key), Cached::Serve(_, false)),
            "one refresh at a time"
        );
        cache.put(key.clone(), Arc::new(vec![]), Duration::from_secs(2));
        assert!(fresh(cache.lookup(&key)));
    }
}
