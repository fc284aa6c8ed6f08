//! What a caller may see of a record: sensitive fields (mobile, national ID, sensitive custom
//! fields) masked for roles without the right, wherever records leave Guanxi (pages, API, exports, search).

use crate::AppError;
use guanxi_domain::custom::CustomFieldDef;
use guanxi_domain::{Actor, Entity, EntityDef, Record};
use guanxi_store::Store;
use serde_json::Value;

/// A phone number (stored in E.164) as [`guanxi_domain::Phone::masked`] shows it: the country
/// code, the first three and the last four national digits ("+86 138****5678"). Anything
/// else keeps its first three and last four characters (fewer for short values).
pub fn mask(s: &str) -> String {
    if s.starts_with('+')
        && let Ok(phone) = guanxi_domain::Phone::parse(s)
    {
        return phone.masked();
    }
    let chars: Vec<char> = s.chars().collect();
    let (head, tail) = if chars.len() >= 10 {
        (3, 4)
    } else {
        (1, 1.min(chars.len().saturating_sub(2)))
    };
    let hidden = chars.len().saturating_sub(head + tail);
    chars[..head.min(chars.len())].iter().collect::<String>()
        + &"*".repeat(hidden.max(3))
        + &chars[chars.len() - tail.min(chars.len())..]
            .iter()
            .collect::<String>()
}

/// A record as the caller may see it: sensitive fields masked for roles without the right.
pub fn present<T: Entity>(actor: &Actor, custom: &[CustomFieldDef], r: &Record<T>) -> Value {
    let mut json = r.to_json();
    if !actor.role.see_sensitive {
        mask_json(T::DEF, custom, &mut json);
    }
    json
}

/// The custom field definitions needed to mask several entities in one response; empty
/// (and never loaded) for roles that see sensitive data.
pub struct Masks(std::collections::HashMap<&'static str, guanxi_store::CustomDefs>);

impl Masks {
    pub async fn load(
        store: &Store,
        actor: &Actor,
        entities: &[&'static str],
    ) -> Result<Masks, AppError> {
        let mut m = std::collections::HashMap::new();
        if !actor.role.see_sensitive {
            for e in entities {
                m.insert(*e, store.custom_fields(e).await?);
            }
        }
        Ok(Masks(m))
    }

    pub fn custom(&self, entity: &str) -> &[CustomFieldDef] {
        self.0.get(entity).map_or(&[], |v| v.as_slice())
    }

    pub fn present<T: Entity>(&self, actor: &Actor, r: &Record<T>) -> Value {
        present(actor, self.custom(T::DEF.name), r)
    }

    pub fn all<T: Entity>(&self, actor: &Actor, rs: &[Record<T>]) -> Vec<Value> {
        rs.iter().map(|r| self.present(actor, r)).collect()
    }
}

/// Mask the sensitive built-in and custom fields of a record's JSON.
pub fn mask_json(def: &EntityDef, custom: &[CustomFieldDef], json: &mut Value) {
    for f in def.fields.iter().filter(|f| f.sensitive) {
        if let Some(Value::String(s)) = json.get(f.name) {
            json[f.name] = Value::String(mask(s));
        }
    }
    for c in custom.iter().filter(|c| c.sensitive) {
        if let Some(v) = json
            .get_mut("custom")
            .and_then(|m| m.get_mut(&c.key))
            .filter(|v| !v.is_null())
        {
            let text = match &*v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            *v = Value::String(mask(&text));
        }
    }
}

pub fn is_sensitive(def: &EntityDef, custom: &[CustomFieldDef], field: &str) -> bool {
    def.field(field).is_some_and(|f| f.sensitive)
        || custom
            .iter()
            .any(|c| c.sensitive && (c.key == field || format!("custom.{}", c.key) == field))
}

/// Before/after of change-log entries hold whole records: mask them as the records
/// themselves would be.
pub fn mask_changes(
    actor: &Actor,
    def: &guanxi_domain::EntityDef,
    custom: &[CustomFieldDef],
    log: &mut [guanxi_store::ChangeEntry],
) {
    if actor.role.see_sensitive {
        return;
    }
    for c in log {
        for side in [&mut c.before, &mut c.after].into_iter().flatten() {
            mask_json(def, custom, side);
        }
    }
}

/// Mask the records and changes of a timeline page as their records would be.
pub async fn mask_timeline(
    store: &Store,
    actor: &Actor,
    items: &mut [guanxi_store::TimelineItem],
) -> Result<(), AppError> {
    if actor.role.see_sensitive {
        return Ok(());
    }
    let m = Masks::load(store, actor, &["account", "interaction", "order", "case"]).await?;
    for item in items {
        let def = guanxi_store::item_def(item.kind);
        if item.kind == "change" {
            for side in ["before", "after"] {
                if let Some(v) = item.record.get_mut(side) {
                    mask_json(def, m.custom(def.name), v);
                }
            }
        } else {
            mask_json(def, m.custom(def.name), &mut item.record);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_the_ends() {
        assert_eq!(mask("+8613812345678"), "+86 138****5678");
        assert_eq!(mask("+86 1381234"), "+86****1234", "not a phone number");
        assert_eq!(mask("11010519491231002X"), "110***********002X");
        assert_eq!(mask("ab"), "a***");
    }
}
