//! Records to columns and back, driven by each entity's field description: one code path
//! for every entity.

use crate::db::{Kind, Result, Val};
use crate::error::StoreError;
use chrono::{DateTime, NaiveDate, Utc};
use guanxi_domain::{Entity, EntityDef, FieldType, Id, Meta, Record};
use serde_json::{Map, Value};

/// A column of a table: its SQL name (quoted) and type.
#[derive(Debug, Clone)]
pub(crate) struct Col {
    pub name: String,
    pub kind: Kind,
}

pub(crate) fn quote(name: &str) -> String {
    format!("\"{name}\"")
}

pub(crate) fn kind_of(ty: FieldType) -> Kind {
    match ty {
        FieldType::Ref(_) => Kind::Uuid,
        FieldType::Text | FieldType::Enum(_) => Kind::Text,
        FieldType::Int | FieldType::Money => Kind::Int,
        FieldType::Float => Kind::Float,
        FieldType::Bool => Kind::Bool,
        FieldType::Date => Kind::Date,
        FieldType::Timestamp => Kind::Ts,
        FieldType::Tags | FieldType::Json => Kind::Json,
    }
}

/// Bookkeeping columns, in select order.
pub(crate) fn meta_cols(def: &EntityDef) -> Vec<Col> {
    let mut cols = vec![
        Col {
            name: quote("id"),
            kind: Kind::Uuid,
        },
        Col {
            name: quote("version"),
            kind: Kind::Int,
        },
        Col {
            name: quote("created_at"),
            kind: Kind::Ts,
        },
        Col {
            name: quote("updated_at"),
            kind: Kind::Ts,
        },
        Col {
            name: quote("deleted_at"),
            kind: Kind::Ts,
        },
    ];
    if def.scoped {
        cols.push(Col {
            name: quote("owner_id"),
            kind: Kind::Uuid,
        });
        cols.push(Col {
            name: quote("team_id"),
            kind: Kind::Uuid,
        });
    }
    cols
}

/// The entity's own columns: one per field, two for money (minor units and currency).
pub(crate) fn field_cols(def: &EntityDef) -> Vec<Col> {
    let mut cols = Vec::with_capacity(def.fields.len() + 2);
    for f in def.fields {
        cols.push(Col {
            name: quote(f.name),
            kind: kind_of(f.ty),
        });
        if f.ty == FieldType::Money {
            cols.push(Col {
                name: quote(&format!("{}_currency", f.name)),
                kind: Kind::Text,
            });
        }
    }
    cols
}

/// Every column in select order: bookkeeping, fields, custom values.
pub(crate) fn all_cols(def: &EntityDef) -> Vec<Col> {
    let mut cols = meta_cols(def);
    cols.extend(field_cols(def));
    cols.push(Col {
        name: quote("custom"),
        kind: Kind::Json,
    });
    cols
}

pub(crate) fn select_list(cols: &[Col]) -> String {
    cols.iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn kinds(cols: &[Col]) -> Vec<Kind> {
    cols.iter().map(|c| c.kind).collect()
}

/// Encode an entity's fields as column values, in [`field_cols`] order.
pub(crate) fn encode_fields<T: Entity>(data: &T) -> Result<Vec<Val>> {
    let def = T::DEF;
    let json = serde_json::to_value(data).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let obj = json
        .as_object()
        .ok_or_else(|| StoreError::Corrupt("entity is not an object".into()))?;
    let mut out = Vec::with_capacity(def.fields.len() + 2);
    for f in def.fields {
        let v = obj.get(f.name).unwrap_or(&Value::Null);
        if f.ty == FieldType::Money {
            let (minor, currency) = match v {
                Value::Null => (Val::Null(Kind::Int), Val::Null(Kind::Text)),
                v => (
                    Val::Int(v["minor"].as_i64().ok_or_else(|| bad(f.name))?),
                    Val::Text(
                        v["currency"]
                            .as_str()
                            .ok_or_else(|| bad(f.name))?
                            .to_string(),
                    ),
                ),
            };
            out.push(minor);
            out.push(currency);
        } else {
            out.push(val_from_json(f.ty, v).ok_or_else(|| bad(f.name))?);
        }
    }
    Ok(out)
}

fn bad(field: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "field {field} does not encode as its declared type"
    ))
}

/// A JSON value as a column value of type `ty`; `None` if it is not of that type.
pub(crate) fn val_from_json(ty: FieldType, v: &Value) -> Option<Val> {
    if v.is_null() && !matches!(ty, FieldType::Tags | FieldType::Json) {
        return Some(Val::Null(kind_of(ty)));
    }
    Some(match ty {
        FieldType::Ref(_) => Val::Uuid(uuid::Uuid::parse_str(v.as_str()?).ok()?),
        FieldType::Text => Val::Text(v.as_str()?.to_string()),
        FieldType::Enum(values) => {
            let s = v.as_str()?;
            values.contains(&s).then(|| Val::Text(s.to_string()))?
        }
        FieldType::Int | FieldType::Money => Val::Int(v.as_i64()?),
        FieldType::Float => Val::Float(v.as_f64()?),
        FieldType::Bool => Val::Bool(v.as_bool()?),
        FieldType::Date => Val::Date(NaiveDate::parse_from_str(v.as_str()?, "%Y-%m-%d").ok()?),
        // Both backends keep microseconds.
        FieldType::Timestamp => {
            let t = DateTime::parse_from_rfc3339(v.as_str()?)
                .ok()?
                .timestamp_micros();
            Val::Ts(DateTime::<Utc>::from_timestamp_micros(t)?)
        }
        FieldType::Tags => Val::Json(if v.is_null() {
            Value::Array(vec![])
        } else {
            v.clone()
        }),
        FieldType::Json => Val::Json(v.clone()),
    })
}

pub(crate) fn json_from_val(v: Val) -> Value {
    match v {
        Val::Null(_) => Value::Null,
        Val::Bool(b) => Value::Bool(b),
        Val::Int(i) => Value::from(i),
        Val::Float(f) => Value::from(f),
        Val::Text(s) => Value::String(s),
        Val::Uuid(u) => Value::String(u.to_string()),
        Val::Ts(t) => serde_json::to_value(t).unwrap_or(Value::Null),
        Val::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
        Val::Json(j) => j,
    }
}

/// Decode a row selected with [`all_cols`].
pub(crate) fn decode_record<T: Entity>(row: Vec<Val>) -> Result<Record<T>> {
    let mut it = row.into_iter();
    let meta = decode_meta(T::DEF, &mut it)?;
    let data: T = decode_fields(&mut it)?;
    Ok(Record {
        meta,
        data,
        custom: decode_custom(&mut it),
    })
}

/// Decode a row selected with [`all_cols`] of any entity, without its Rust type: the same
/// JSON as [`Record::to_json`] gives for it.
pub(crate) fn decode_json(def: &EntityDef, row: Vec<Val>) -> Result<Value> {
    let mut it = row.into_iter();
    let meta = decode_meta(def, &mut it)?;
    let mut out = match serde_json::to_value(&meta) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    out.extend(fields_json(def, &mut it)?);
    out.insert("custom".into(), Value::Object(decode_custom(&mut it)));
    Ok(Value::Object(out))
}

fn decode_meta(def: &EntityDef, it: &mut impl Iterator<Item = Val>) -> Result<Meta> {
    let mut next = || {
        it.next()
            .ok_or_else(|| StoreError::Corrupt("short row".into()))
    };
    let id = next()?
        .as_uuid()
        .ok_or_else(|| StoreError::Corrupt("row without id".into()))?;
    let version = next()?.as_i64().unwrap_or(0);
    let created_at = next()?.as_ts().unwrap_or_default();
    let updated_at = next()?.as_ts().unwrap_or_default();
    let deleted_at = next()?.as_ts();
    let (owner_id, team_id) = if def.scoped {
        (next()?.as_uuid().map(Id), next()?.as_uuid().map(Id))
    } else {
        (None, None)
    };
    Ok(Meta {
        id: Id(id),
        version,
        created_at,
        updated_at,
        deleted_at,
        owner_id,
        team_id,
    })
}

fn decode_custom(it: &mut impl Iterator<Item = Val>) -> Map<String, Value> {
    match it.next() {
        Some(Val::Json(Value::Object(m))) => m,
        _ => Map::new(),
    }
}

/// Decode an entity's fields from column values in [`field_cols`] order.
fn decode_fields<T: Entity>(it: &mut impl Iterator<Item = Val>) -> Result<T> {
    let def = T::DEF;
    serde_json::from_value(Value::Object(fields_json(def, it)?))
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", def.name)))
}

/// An entity's fields as JSON, from column values in [`field_cols`] order.
fn fields_json(def: &EntityDef, it: &mut impl Iterator<Item = Val>) -> Result<Map<String, Value>> {
    let mut next = || {
        it.next()
            .ok_or_else(|| StoreError::Corrupt("short row".into()))
    };
    let mut obj = Map::new();
    for f in def.fields {
        let v = next()?;
        let value = if f.ty == FieldType::Money {
            match (v, next()?) {
                (Val::Int(minor), Val::Text(c)) => {
                    serde_json::json!({ "minor": minor, "currency": c })
                }
                _ => Value::Null,
            }
        } else {
            json_from_val(v)
        };
        obj.insert(f.name.to_string(), value);
    }
    Ok(obj)
}

/// The entity exactly as storage will give it back (instants truncated to microseconds), so
/// what a write returns equals what a later read returns.
pub(crate) fn canonical<T: Entity>(data: T) -> Result<T> {
    decode_fields(&mut encode_fields(&data)?.into_iter())
}
