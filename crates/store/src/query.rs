//! Building the dynamic parts of SQL: the record scope, list filters, sort and cursor.
//! Both dialects share one builder; the few differences are spelled out where they occur.

use crate::codec::{json_from_val, kind_of, quote, val_from_json};
use crate::db::{Backend, Kind, Result, Val};
use crate::error::StoreError;
use guanxi_domain::custom::CustomFieldDef;
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, EntityDef, FieldType, Scope};
use serde_json::Value;

/// SQL text with its parameters; `bind` hands out the next `$n`.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub params: Vec<Val>,
}

impl Sql {
    pub fn bind(&mut self, v: Val) -> String {
        self.params.push(v);
        format!("${}", self.params.len())
    }
}

/// The predicate that limits `def`'s rows to what `actor` may see.
pub(crate) fn scope(def: &EntityDef, actor: &Actor, sql: &mut Sql) -> String {
    if !def.scoped {
        return "1=1".into();
    }
    match actor.scope() {
        Scope::All => "1=1".into(),
        Scope::Own => format!("\"owner_id\" = {}", sql.bind(Val::Uuid(actor.user_id.0))),
        Scope::Team => {
            let me = sql.bind(Val::Uuid(actor.user_id.0));
            if actor.teams.is_empty() {
                return format!("\"owner_id\" = {me}");
            }
            let teams: Vec<String> = actor
                .teams
                .iter()
                .map(|t| sql.bind(Val::Uuid(t.0)))
                .collect();
            format!(
                "(\"owner_id\" = {me} OR \"team_id\" IN ({}))",
                teams.join(", ")
            )
        }
        Scope::Partner => {
            let Some(p) = actor.partner_id else {
                return "1=0".into();
            };
            let mut ways = vec![];
            if let Some(column) = def.partner_field {
                ways.push(format!("{} = {}", quote(column), sql.bind(Val::Uuid(p.0))));
            }
            for path in def.partner_paths {
                let Some(theirs) =
                    guanxi_domain::entity::def_by_table(path.table).and_then(|d| d.partner_field)
                else {
                    continue;
                };
                ways.push(format!(
                    "{} IN (SELECT {} FROM {} WHERE {} = {} AND deleted_at IS NULL)",
                    quote(path.column),
                    quote(path.via),
                    path.table,
                    quote(theirs),
                    sql.bind(Val::Uuid(p.0))
                ));
            }
            match ways.len() {
                0 => "1=0".into(),
                1 => ways.remove(0),
                _ => format!("({})", ways.join(" OR ")),
            }
        }
    }
}

/// A field as an SQL expression and the type its values have.
pub(crate) struct Target {
    pub expr: String,
    pub ty: FieldType,
}

const META_FIELDS: &[(&str, FieldType)] = &[
    ("id", FieldType::Ref("")),
    ("version", FieldType::Int),
    ("created_at", FieldType::Timestamp),
    ("updated_at", FieldType::Timestamp),
    ("deleted_at", FieldType::Timestamp),
];

/// Resolve a field name: bookkeeping column, built-in field, or custom field
/// (`custom.<key>` or the bare key).
pub(crate) fn resolve(
    def: &EntityDef,
    custom: &[CustomFieldDef],
    backend: Backend,
    name: &str,
) -> Result<Target> {
    if let Some((_, ty)) = META_FIELDS.iter().find(|(n, _)| *n == name) {
        return Ok(Target {
            expr: quote(name),
            ty: *ty,
        });
    }
    if def.scoped && (name == "owner_id" || name == "team_id") {
        return Ok(Target {
            expr: quote(name),
            ty: FieldType::Ref(""),
        });
    }
    if let Some(f) = def.field(name) {
        // Money compares by its minor units.
        return Ok(Target {
            expr: quote(f.name),
            ty: f.ty,
        });
    }
    let key = name.strip_prefix("custom.").unwrap_or(name);
    if let Some(c) = custom.iter().find(|c| c.key == key) {
        // Keys are validated identifiers ([a-z][a-z0-9_]*), safe to splice into the path.
        let ty = c.field_type();
        let expr = match backend {
            Backend::Sqlite if ty == FieldType::Float => {
                format!("CAST(json_extract(\"custom\", '$.{key}') AS REAL)")
            }
            Backend::Sqlite => format!("json_extract(\"custom\", '$.{key}')"),
            Backend::Postgres => {
                let cast = match ty {
                    FieldType::Float => "::double precision",
                    FieldType::Bool => "::boolean",
                    FieldType::Date => "::date",
                    _ => "",
                };
                format!("(\"custom\"->>'{key}'){cast}")
            }
        };
        return Ok(Target { expr, ty });
    }
    Err(StoreError::invalid(
        name,
        "unknown_field",
        format!("{} has no field '{name}'", def.name),
    ))
}

fn value(field: &str, ty: FieldType, v: &Value) -> Result<Val> {
    // Query strings carry every value as text: read numbers and booleans from it too.
    let from_text = || {
        let s = v.as_str()?.trim();
        let parsed = match ty {
            FieldType::Int | FieldType::Money => Value::from(s.parse::<i64>().ok()?),
            FieldType::Float => Value::from(s.parse::<f64>().ok()?),
            FieldType::Bool => Value::from(s.parse::<bool>().ok()?),
            _ => return None,
        };
        val_from_json(ty, &parsed)
    };
    match val_from_json(ty, v).or_else(from_text) {
        Some(Val::Null(_)) | None => Err(StoreError::invalid(
            field,
            "invalid_filter",
            format!("'{v}' is not a valid value for {field}{}", expected(ty)),
        )),
        Some(val) => Ok(val),
    }
}

fn expected(ty: FieldType) -> String {
    match ty {
        FieldType::Enum(values) => format!(" (one of {})", values.join(", ")),
        FieldType::Date => " (YYYY-MM-DD)".into(),
        FieldType::Timestamp => " (an RFC 3339 time)".into(),
        FieldType::Ref(_) => " (an id)".into(),
        _ => String::new(),
    }
}

fn like_pattern(s: &str, prefix_only: bool) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    if prefix_only {
        format!("{escaped}%")
    } else {
        format!("%{escaped}%")
    }
}

/// One filter as a predicate.
pub(crate) fn filter(
    def: &EntityDef,
    custom: &[CustomFieldDef],
    backend: Backend,
    f: &Filter,
    sql: &mut Sql,
) -> Result<String> {
    let t = resolve(def, custom, backend, &f.field)?;
    let field = f.field.as_str();
    let op_err = || {
        StoreError::invalid(
            field,
            "invalid_filter",
            format!("operator '{}' does not apply to {field}", f.op),
        )
    };
    // Ids are UUIDv7, ordered by creation time, so a range of them means something (the
    // search index reads a bulk import's records by the range of ids it created).
    let ordered = field == "id"
        || !matches!(
            t.ty,
            FieldType::Bool
                | FieldType::Enum(_)
                | FieldType::Ref(_)
                | FieldType::Tags
                | FieldType::Json
        );
    let e = &t.expr;
    Ok(match f.op {
        Op::IsNull => {
            let want = f.value.as_bool().ok_or_else(|| {
                StoreError::invalid(field, "invalid_filter", "is_null takes true or false")
            })?;
            match (t.ty, want) {
                (FieldType::Json, _) => return Err(op_err()),
                (FieldType::Tags, true) => format!("({e} IS NULL OR {})", empty_array(e, backend)),
                (FieldType::Tags, false) => {
                    format!("NOT ({e} IS NULL OR {})", empty_array(e, backend))
                }
                (_, true) => format!("{e} IS NULL"),
                (_, false) => format!("{e} IS NOT NULL"),
            }
        }
        Op::Contains if t.ty == FieldType::Tags => {
            let tag = f.value.as_str().ok_or_else(op_err)?.to_string();
            let p = sql.bind(Val::Text(tag));
            match backend {
                Backend::Sqlite => {
                    format!("EXISTS (SELECT 1 FROM json_each({e}) WHERE json_each.value = {p})")
                }
                Backend::Postgres => format!("{e} @> jsonb_build_array({p}::text)"),
            }
        }
        Op::Contains | Op::StartsWith => {
            if t.ty != FieldType::Text {
                return Err(op_err());
            }
            let s = f.value.as_str().ok_or_else(op_err)?;
            let p = sql.bind(Val::Text(like_pattern(s, f.op == Op::StartsWith)));
            let like = if backend == Backend::Postgres {
                "ILIKE"
            } else {
                "LIKE"
            };
            format!("{e} {like} {p} ESCAPE '\\'")
        }
        Op::In => {
            if matches!(t.ty, FieldType::Tags | FieldType::Json) {
                return Err(op_err());
            }
            let items = f.value.as_array().ok_or_else(|| {
                StoreError::invalid(field, "invalid_filter", "'in' takes a list of values")
            })?;
            if items.is_empty() || items.len() > 1000 {
                return Err(StoreError::invalid(
                    field,
                    "invalid_filter",
                    "'in' takes 1 to 1000 values",
                ));
            }
            let mut ps = Vec::with_capacity(items.len());
            for v in items {
                ps.push(sql.bind(value(field, t.ty, v)?));
            }
            format!("{e} IN ({})", ps.join(", "))
        }
        Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            if matches!(t.ty, FieldType::Tags | FieldType::Json) {
                return Err(op_err());
            }
            if !ordered && !matches!(f.op, Op::Eq | Op::Ne) {
                return Err(op_err());
            }
            let p = sql.bind(value(field, t.ty, &f.value)?);
            match f.op {
                // "not X" includes records without a value, as a user expects.
                Op::Ne => format!("({e} IS NULL OR {e} <> {p})"),
                Op::Eq => format!("{e} = {p}"),
                Op::Lt => format!("{e} < {p}"),
                Op::Le => format!("{e} <= {p}"),
                Op::Gt => format!("{e} > {p}"),
                _ => format!("{e} >= {p}"),
            }
        }
    })
}

fn empty_array(e: &str, backend: Backend) -> String {
    match backend {
        Backend::Sqlite => format!("{e} = '[]'"),
        Backend::Postgres => format!("{e} = '[]'::jsonb"),
    }
}

/// The sort of a list: expression, type, direction. Ties break on id, in the same direction.
pub(crate) struct Order {
    pub target: Target,
    pub desc: bool,
}

pub(crate) fn order(
    def: &EntityDef,
    custom: &[CustomFieldDef],
    backend: Backend,
    q: &ListQuery,
) -> Result<Order> {
    let Some(s) = &q.sort else {
        // Newest first: ids are UUIDv7, so id order is creation order.
        return Ok(Order {
            target: Target {
                expr: quote("id"),
                ty: FieldType::Ref(""),
            },
            desc: true,
        });
    };
    let target = resolve(def, custom, backend, &s.field)?;
    if matches!(target.ty, FieldType::Tags | FieldType::Json) {
        return Err(StoreError::invalid(
            &s.field,
            "invalid_sort",
            format!("cannot sort by {}", s.field),
        ));
    }
    Ok(Order {
        target,
        desc: s.desc,
    })
}

impl Order {
    pub fn kind(&self) -> Kind {
        kind_of(self.target.ty)
    }

    /// NULLs sort as the smallest values on both backends (SQLite's own rule).
    pub fn clause(&self, backend: Backend) -> String {
        let e = &self.target.expr;
        let (dir, nulls) = match (self.desc, backend) {
            (false, Backend::Postgres) => ("ASC", " NULLS FIRST"),
            (true, Backend::Postgres) => ("DESC", " NULLS LAST"),
            (false, Backend::Sqlite) => ("ASC", ""),
            (true, Backend::Sqlite) => ("DESC", ""),
        };
        if e == "\"id\"" {
            format!("\"id\" {dir}")
        } else {
            format!("{e} {dir}{nulls}, \"id\" {dir}")
        }
    }

    /// Rows strictly after the cursor's position in this order.
    pub fn after(&self, cursor: &str, sql: &mut Sql) -> Result<String> {
        let bad = || {
            StoreError::invalid(
                "cursor",
                "invalid_cursor",
                "this cursor is not from this list",
            )
        };
        let bytes = hex::decode(cursor).map_err(|_| bad())?;
        let (last, id): (Value, String) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let id = uuid::Uuid::parse_str(&id).map_err(|_| bad())?;
        let e = &self.target.expr;
        let cmp = if self.desc { "<" } else { ">" };
        let pid = sql.bind(Val::Uuid(id));
        if e == "\"id\"" {
            return Ok(format!("\"id\" {cmp} {pid}"));
        }
        Ok(match (last.is_null(), self.desc) {
            (true, false) => format!("(({e} IS NULL AND \"id\" > {pid}) OR {e} IS NOT NULL)"),
            (true, true) => format!("({e} IS NULL AND \"id\" < {pid})"),
            (false, desc) => {
                let v = val_from_json(self.target.ty, &last).ok_or_else(bad)?;
                let p = sql.bind(v);
                let p2 = sql.bind(val_from_json(self.target.ty, &last).ok_or_else(bad)?);
                let tail = if desc {
                    format!(" OR {e} IS NULL")
                } else {
                    String::new()
                };
                format!("({e} {cmp} {p} OR ({e} = {p2} AND \"id\" {cmp} {pid}){tail})")
            }
        })
    }

    /// The cursor that continues after a row whose sort value is `last`.
    pub fn cursor(&self, last: Val, id: uuid::Uuid) -> String {
        let v = json_from_val(last);
        hex::encode(serde_json::to_vec(&(v, id.to_string())).unwrap_or_default())
    }
}
