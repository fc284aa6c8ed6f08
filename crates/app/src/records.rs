//! Writes from a JSON object, as the API receives them and the web forms produce them:
//! the entity's own fields, `custom` and `owner_id`, checked and handed to the store.

use crate::AppError;
use guanxi_domain::{Actor, Entity, EntityDef, Id, NewRecord, Record, ValidationErrors};
use guanxi_store::Store;
use serde_json::{Map, Value};

/// Bookkeeping the caller may not write.
const READ_ONLY: &[&str] = &[
    "id",
    "version",
    "created_at",
    "updated_at",
    "deleted_at",
    "team_id",
];

/// A request body taken apart: the entity's own fields, `custom` and `owner_id`.
struct Body {
    fields: Map<String, Value>,
    custom: Option<Value>,
    owner: Option<Value>,
}

/// Split a body into the entity's fields, `custom` and `owner_id`; refuse bookkeeping and
/// computed fields.
fn split(def: &EntityDef, body: Value) -> Result<Body, AppError> {
    let Value::Object(mut fields) = body else {
        return Err(AppError::invalid("body", "the body is a JSON object"));
    };
    let read_only = |field: &str, message: String| {
        AppError::Invalid(ValidationErrors::single(field, "read_only", message))
    };
    if let Some(k) = READ_ONLY.iter().find(|k| fields.contains_key(**k)) {
        return Err(read_only(k, format!("{k} is set by the server")));
    }
    if let Some(f) = def
        .fields
        .iter()
        .find(|f| f.computed && fields.contains_key(f.name))
    {
        return Err(read_only(
            f.name,
            format!(
                "{} is kept by Guanxi (customer analytics, SLA clocks, dispatch)",
                f.name
            ),
        ));
    }
    let custom = fields.remove("custom");
    let owner = fields.remove("owner_id");
    Ok(Body {
        fields,
        custom,
        owner,
    })
}

pub fn owner_of(v: Option<Value>) -> Result<Option<Id>, ValidationErrors> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Id::parse(&s)
            .map(Some)
            .map_err(|_| ValidationErrors::single("owner_id", "invalid", "an owner is a user id")),
        Some(_) => Err(ValidationErrors::single(
            "owner_id",
            "invalid",
            "an owner is a user id",
        )),
    }
}

fn custom_of(v: Option<Value>) -> Result<Map<String, Value>, ValidationErrors> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(ValidationErrors::single(
            "custom",
            "invalid",
            "custom values are an object",
        )),
    }
}

/// Deserialize entity fields, naming the field that does not fit.
pub fn data_of<T: Entity>(fields: Map<String, Value>) -> Result<T, ValidationErrors> {
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        let field = if path == "." {
            unknown_field(&msg).unwrap_or(path)
        } else {
            path
        };
        // A field left out or emptied is "required", whatever type it would have had.
        let code = if msg.starts_with("missing field") || msg.starts_with("invalid type: null") {
            "required"
        } else {
            "invalid"
        };
        ValidationErrors::single(field, code, msg)
    })
}

/// RFC 7396: objects merge key by key, `null` removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("made an object above");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    merge_patch(t.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other,
    }
}

/// Create a record from a JSON object.
pub async fn create<T: Entity>(
    store: &Store,
    actor: &Actor,
    body: Value,
) -> Result<Record<T>, AppError> {
    let Body {
        fields,
        custom,
        owner,
    } = split(T::DEF, body)?;
    let mut new = NewRecord::new(data_of::<T>(fields)?).with_custom(custom_of(custom)?);
    new.owner_id = owner_of(owner)?;
    Ok(store.create(actor, new).await?)
}

/// Apply a JSON merge patch to the record at `version`.
pub async fn patch<T: Entity>(
    store: &Store,
    actor: &Actor,
    id: Id,
    version: i64,
    body: Value,
) -> Result<Record<T>, AppError> {
    let Body {
        fields,
        custom,
        owner,
    } = split(T::DEF, body)?;
    let r = store
        .update::<T, _>(actor, id, version, move |rec| {
            let mut data = serde_json::to_value(&rec.data).unwrap_or_default();
            merge_patch(&mut data, Value::Object(fields));
            rec.data = data_of::<T>(data.as_object().cloned().unwrap_or_default())?;
            if let Some(c) = custom {
                let mut current = Value::Object(std::mem::take(&mut rec.custom));
                merge_patch(&mut current, c);
                rec.custom = custom_of(Some(current))?;
            }
            if owner.is_some() {
                rec.meta.owner_id = owner_of(owner)?.or(rec.meta.owner_id);
            }
            Ok(())
        })
        .await?;
    Ok(r)
}

/// serde names an unknown or missing field only in its message: "unknown field `nmae`, …".
pub fn unknown_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_string())
}

/// The id of a record the system's work creates for a cause named by `seed` (a rule run's
/// action, a send): the same on every attempt, so work tried again finds the record
/// instead of making another; time-ordered like every id (UUIDv7 at `at`), its random
/// part from the seed.
pub fn derived_id(at: chrono::DateTime<chrono::Utc>, seed: &str) -> Id {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(seed.as_bytes());
    let mut random = [0u8; 10];
    random.copy_from_slice(&hash[..10]);
    let millis = at.timestamp_millis().max(0) as u64;
    Id(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid())
}

/// Create records of derived ids (see [`derived_id`]) that work tried again may have
/// created already: more than one in one import, one as a create; a record there already
/// is no error (then the batch is written one at a time).
pub async fn create_once<T: Entity + Clone>(
    store: &Store,
    actor: &Actor,
    mut records: Vec<NewRecord<T>>,
) -> Result<(), guanxi_store::StoreError> {
    use guanxi_store::StoreError;
    if records.len() > 1 {
        match store.import(actor, records.clone()).await {
            Ok(_) => return Ok(()),
            Err(StoreError::Duplicate { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    for r in records.drain(..) {
        match store.create(actor, r).await {
            Ok(_) | Err(StoreError::Duplicate { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut t = serde_json::json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, serde_json::json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, serde_json::json!({"a": "z", "c": {"d": "e"}}));
    }
}
