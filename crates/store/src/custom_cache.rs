//! Custom field definitions, cached: nearly every request needs its entity's definitions
//! (to validate, to mask), and they change only when an administrator edits them.

use guanxi_domain::Entity;
use guanxi_domain::custom::CustomFieldDef;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Writes through this process clear the cache at once; another server sharing the
/// PostgreSQL database is seen within this long.
const TTL: Duration = Duration::from_secs(10);

pub type Defs = Arc<Vec<CustomFieldDef>>;

#[derive(Default)]
pub struct CustomCache(RwLock<HashMap<String, (Instant, Defs)>>);

impl CustomCache {
    pub fn get(&self, entity: &str) -> Option<Defs> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.get(entity)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, d)| d.clone())
    }

    pub fn put(&self, entity: &str, defs: Defs) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        map.insert(entity.to_string(), (Instant::now(), defs));
    }

    /// After a write to `entity`: definitions changed if it was one of them.
    pub fn written(&self, entity: &str) {
        if entity == CustomFieldDef::DEF.name {
            self.0.write().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_to_a_definition_clears_every_entity() {
        let cache = CustomCache::default();
        cache.put("account", Defs::default());
        cache.put("contact", Defs::default());
        cache.written("account");
        assert!(
            cache.get("account").is_some(),
            "an account write changes no definition"
        );
        cache.written(CustomFieldDef::DEF.name);
        assert!(cache.get("account").is_none() && cache.get("contact").is_none());
    }
}
