//! Exporting a list view: every record of the view the actor may see, masked as the API
//! masks it, as a CSV (UTF-8 with BOM, for Excel) or .xlsx file. The one way to export,
//! shared by `GET /api/v1/{collection}/export` and `guanxi export`:
//!
//! 1. [`ExportRequest::from_pairs`] reads the parameters (format, columns, labels, and the
//!    list's own `filter`, `sort` and `deleted`, read by the list API's parser);
//! 2. [`prepare`] checks the right to read, the filters, the sort and the columns, then
//!    writes the export to the change log, before any row is written;
//! 3. [`Prepared::write`] pages through the view with the list cursor, writing each page as
//!    it arrives: memory holds one page and the writer's buffer, whatever the export's size.
//!
//! [`export`] does all three for a known entity, [`export_kind`] for an entity named at run
//! time (`contacts` or `contact`).

use crate::AppError;
use crate::access::present;
use crate::i18n::Tr;
use crate::listing::{list_query, refuse_sensitive_filters};
use guanxi_domain::custom::CustomFieldDef;
use guanxi_domain::filter::{ListQuery, MAX_LIMIT, Page};
use guanxi_domain::{Actor, Currency, Entity, EntityDef, FieldDef, FieldType, Record};
use guanxi_store::Store;
use guanxi_tabular::{Cell, CsvWriter, XlsxWriter};
use serde_json::{Value, json};
use std::io::{BufWriter, Write};

/// The language of the header row and of enum values; without it, field keys and raw
/// values (what an import reads back).
pub use crate::i18n::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// The file extension, as the `format` parameter names it.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// What to export: the export's own parameters and the list's query.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub format: Format,
    /// `None`: every field (built-in, then custom) but nested JSON.
    pub columns: Option<Vec<String>>,
    pub labels: Option<Lang>,
    pub query: ListQuery,
}

fn unprocessable(field: &str, msg: String) -> AppError {
    AppError::invalid(field, msg)
}

impl ExportRequest {
    /// A request from a query string (`format=xlsx&columns=name,mobile&filter=…`).
    pub fn from_query(raw: Option<&str>) -> Result<ExportRequest, AppError> {
        Self::from_pairs(form_urlencoded::parse(raw.unwrap_or("").as_bytes()))
    }

    /// A request from parameter pairs, as the query string names them: `format` (csv,
    /// xlsx), `columns` (comma-separated), `labels` (zh, en); everything else is the
    /// list's query (`filter`, `sort`, `deleted`), read by the list API's own parser. A
    /// list's paging parameters do not apply: an export is the whole view.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<ExportRequest, AppError> {
        let mut format = Format::Csv;
        let (mut columns, mut labels) = (None, None);
        let mut list = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            let (k, v) = (k.as_ref(), v.as_ref());
            match k {
                "format" => {
                    format = match v {
                        "csv" => Format::Csv,
                        "xlsx" => Format::Xlsx,
                        other => {
                            return Err(unprocessable(
                                "format",
                                format!("'{other}' is not csv or xlsx"),
                            ));
                        }
                    }
                }
                "columns" => {
                    let cols: Vec<String> = v
                        .split(',')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_string)
                        .collect();
                    if cols.is_empty() {
                        return Err(unprocessable("columns", "name at least one column".into()));
                    }
                    columns = Some(cols);
                }
                "labels" => {
                    labels = Some(match v {
                        "zh" => Lang::Zh,
                        "en" => Lang::En,
                        other => {
                            return Err(unprocessable(
                                "labels",
                                format!("'{other}' is not zh or en"),
                            ));
                        }
                    })
                }
                "limit" | "cursor" | "count" => {}
                _ => {
                    list.append_pair(k, v);
                }
            }
        }
        let query = list_query(Some(&list.finish()))?;
        Ok(ExportRequest {
            format,
            columns,
            labels,
            query,
        })
    }
}

/// What an export did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// The entity (`contact`).
    pub entity: &'static str,
    pub format: Format,
    /// The column keys (`name`, `custom.level`).
    pub columns: Vec<String>,
    /// The change-log entry of the export.
    pub log_seq: i64,
    /// The rows written, the header not counted.
    pub rows: u64,
}

/// A failure while writing, after the export was logged: the output is incomplete.
fn failed(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> AppError {
    AppError::failed("the export stopped part-way", e)
}

/// One column of the export: a bookkeeping column, a built-in field or a custom field.
enum Column {
    Meta(&'static str),
    Field(&'static FieldDef),
    Custom(CustomFieldDef),
}

impl Column {
    fn key(&self) -> String {
        match self {
            Column::Meta(name) => (*name).to_string(),
            Column::Field(f) => f.name.to_string(),
            Column::Custom(c) => format!("custom.{}", c.key),
        }
    }

    fn header(&self, tr: Option<Tr>, entity: &str) -> String {
        match (self, tr) {
            (Column::Meta(name), Some(t)) => t.field(entity, name).to_string(),
            (Column::Field(f), Some(t)) => t.field(entity, f.name).to_string(),
            (Column::Custom(c), Some(t)) => match (&c.label_zh, t.lang) {
                (Some(zh), Lang::Zh) if !zh.is_empty() => zh.clone(),
                _ => c.label.clone(),
            },
            (_, None) => self.key(),
        }
    }

    /// The column's value in a presented (already masked) record.
    fn value(&self, tr: Option<Tr>, entity: &str, json: &Value) -> Out {
        let (v, ty) = match self {
            Column::Meta(name) => (&json[*name], None),
            Column::Field(f) => (&json[f.name], Some(f.ty)),
            Column::Custom(c) => (&json["custom"][&c.key], None),
        };
        match (v, ty) {
            (Value::Null, _) => Out::Empty,
            (Value::String(s), Some(FieldType::Enum(_))) => match (tr, self) {
                (Some(t), Column::Field(f)) => Out::Text(t.choice(entity, f.name, s)),
                _ => Out::Text(s.clone()),
            },
            (Value::String(s), _) => Out::Text(s.clone()),
            (Value::Bool(b), _) => Out::Text(match tr {
                Some(t) => t.yes_no(*b).to_string(),
                None => b.to_string(),
            }),
            (Value::Number(n), _) => match n.as_i64() {
                Some(i) => Out::Int(i),
                None => Out::Float(n.as_f64().unwrap_or(f64::NAN), n.to_string()),
            },
            (Value::Object(m), Some(FieldType::Money)) => {
                let minor = m.get("minor").and_then(Value::as_i64).unwrap_or(0);
                let digits = m
                    .get("currency")
                    .and_then(Value::as_str)
                    .and_then(|c| Currency::parse(c).ok())
                    .map_or(2, |c| c.minor_digits());
                Out::Money(minor, digits)
            }
            (Value::Array(items), Some(FieldType::Tags)) => Out::Text(
                items
                    .iter()
                    .map(|t| t.as_str().map_or_else(|| t.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            // Structured data (order lines, histories) stays JSON text.
            (other, _) => Out::Text(other.to_string()),
        }
    }
}

/// The columns asked for, or every field the entity has (built-in, then custom). Nested
/// JSON fields are left out of the default: they do not fit a cell.
fn columns(
    def: &'static EntityDef,
    custom: &[CustomFieldDef],
    asked: Option<&[String]>,
) -> Result<Vec<Column>, AppError> {
    let Some(asked) = asked else {
        let fields = def.fields.iter().filter(|f| f.ty != FieldType::Json);
        return Ok(fields
            .map(Column::Field)
            .chain(custom.iter().cloned().map(Column::Custom))
            .collect());
    };
    let meta: &[&'static str] = if def.scoped {
        &["id", "created_at", "updated_at", "owner_id", "team_id"]
    } else {
        &["id", "created_at", "updated_at"]
    };
    asked
        .iter()
        .map(|name| {
            if let Some(m) = meta.iter().copied().find(|m| *m == name.as_str()) {
                return Ok(Column::Meta(m));
            }
            if let Some(f) = def.field(name) {
                return Ok(Column::Field(f));
            }
            let key = name.strip_prefix("custom.").unwrap_or(name);
            custom
                .iter()
                .find(|c| c.key == key)
                .map(|c| Column::Custom(c.clone()))
                .ok_or_else(|| {
                    unprocessable("columns", format!("{} has no field '{name}'", def.name))
                })
        })
        .collect()
}

/// A cell before it is written: money keeps its exact decimal text for CSV and becomes a
/// number of yuan (minor units over 100 for CNY) in .xlsx.
enum Out {
    Empty,
    Text(String),
    Int(i64),
    Float(f64, String),
    Money(i64, u8),
}

impl Out {
    fn csv(&self) -> String {
        match self {
            Out::Empty => String::new(),
            Out::Text(s) | Out::Float(_, s) => s.clone(),
            Out::Int(i) => i.to_string(),
            Out::Money(minor, 0) => minor.to_string(),
            Out::Money(minor, digits) => {
                let scale = 10u64.pow(u32::from(*digits));
                let (abs, sign) = (minor.unsigned_abs(), if *minor < 0 { "-" } else { "" });
                let width = usize::from(*digits);
                format!("{sign}{}.{:0width$}", abs / scale, abs % scale)
            }
        }
    }

    fn cell(&self) -> Cell {
        match self {
            Out::Empty => Cell::Empty,
            Out::Text(s) => Cell::Text(s.clone()),
            Out::Int(i) => Cell::from(*i),
            Out::Float(f, _) => Cell::Number(*f),
            Out::Money(minor, digits) => {
                Cell::Number(*minor as f64 / 10f64.powi(i32::from(*digits)))
            }
        }
    }
}

enum Sheet<W: Write + Send> {
    Csv(CsvWriter<W>),
    /// rust_xlsxwriter's constant-memory mode keeps rows in a temp file and can only write
    /// the package once every row is in, so .xlsx bytes start flowing at the end.
    Xlsx(Box<XlsxWriter>, W),
}

impl<W: Write + Send> Sheet<W> {
    fn new(format: Format, headers: &[String], out: W) -> Result<Sheet<W>, AppError> {
        Ok(match format {
            Format::Csv => {
                let mut w = CsvWriter::new(out).map_err(failed)?;
                w.write_row(headers).map_err(failed)?;
                Sheet::Csv(w)
            }
            Format::Xlsx => Sheet::Xlsx(Box::new(XlsxWriter::new(headers).map_err(failed)?), out),
        })
    }

    fn row(&mut self, cells: &[Out]) -> Result<(), AppError> {
        match self {
            Sheet::Csv(w) => {
                let texts: Vec<String> = cells.iter().map(Out::csv).collect();
                w.write_row(&texts).map_err(failed)
            }
            Sheet::Xlsx(w, _) => {
                let cells: Vec<Cell> = cells.iter().map(Out::cell).collect();
                w.write_row(&cells).map_err(failed)
            }
        }
    }

    fn finish(self) -> Result<(), AppError> {
        match self {
            Sheet::Csv(w) => {
                let mut out = w.finish().map_err(failed)?;
                out.flush().map_err(failed)
            }
            Sheet::Xlsx(w, out) => {
                let mut out = BufWriter::with_capacity(64 << 10, out);
                w.finish_to_writer(&mut out).map_err(failed)?;
                out.flush().map_err(failed)
            }
        }
    }
}

/// An export checked and logged, its first page read: what is left is writing it.
pub struct Prepared<T: Entity> {
    store: Store,
    actor: Actor,
    query: ListQuery,
    /// The page already read to count and check the view.
    page: Page<Record<T>>,
    columns: Vec<Column>,
    custom: guanxi_store::CustomDefs,
    tr: Option<Tr>,
    summary: ExportSummary,
}

/// Check an export of `T` by `actor` and write it to the change log: the right to read
/// (and the sensitive fields' right for filters on them), the filters, the sort and the
/// columns are checked before anything is logged; the log entry needs the right to export.
/// Nothing is written yet: see [`Prepared::write`].
pub async fn prepare<T: Entity>(
    store: &Store,
    actor: &Actor,
    request: ExportRequest,
) -> Result<Prepared<T>, AppError> {
    let def = T::DEF;
    let ExportRequest {
        format,
        columns: asked,
        labels,
        mut query,
    } = request;
    let custom = store.custom_fields(def.name).await?;
    refuse_sensitive_filters(actor, def, &custom, &query)?;
    let columns = columns(def, &custom, asked.as_deref())?;
    query.limit = MAX_LIMIT;
    query.cursor = None;
    // The first page checks the right to read, the filters and the sort before anything
    // is logged or sent, and counts the rows for the log.
    query.with_count = true;
    let page = store.list::<T>(actor, &query).await?;
    query.with_count = false;
    let keys: Vec<String> = columns.iter().map(Column::key).collect();
    let log_seq = store
        .log_export(
            actor,
            def.name,
            json!({
                "format": format.ext(),
                "filters": query.filters,
                "sort": query.sort,
                "deleted": query.deleted,
                "columns": keys,
                "count": page.total,
            }),
        )
        .await?;
    Ok(Prepared {
        store: store.clone(),
        actor: actor.clone(),
        query,
        page,
        columns,
        custom,
        tr: labels.map(Tr::new),
        summary: ExportSummary {
            entity: def.name,
            format,
            columns: keys,
            log_seq,
            rows: 0,
        },
    })
}

impl<T: Entity> Prepared<T> {
    pub fn summary(&self) -> &ExportSummary {
        &self.summary
    }

    /// Write the header and every row into `out`, page by page, and flush it. Blocking (the
    /// writers are synchronous): call it on a blocking thread of a Tokio runtime, where it
    /// waits for the store's next pages.
    pub fn write<W: Write + Send>(self, out: W) -> Result<ExportSummary, AppError> {
        let Prepared {
            store,
            actor,
            mut query,
            mut page,
            columns,
            custom,
            tr,
            mut summary,
        } = self;
        let rt = tokio::runtime::Handle::current();
        let entity = T::DEF.name;
        let headers: Vec<String> = columns.iter().map(|c| c.header(tr, entity)).collect();
        let mut sheet = Sheet::new(summary.format, &headers, out)?;
        loop {
            for r in &page.items {
                let json = present(&actor, &custom, r);
                let cells: Vec<Out> = columns.iter().map(|c| c.value(tr, entity, &json)).collect();
                sheet.row(&cells)?;
                summary.rows += 1;
            }
            let Some(cursor) = page.next_cursor.take() else {
                break;
            };
            query.cursor = Some(cursor);
            page = rt
                .block_on(store.list::<T>(&actor, &query))
                .map_err(failed)?;
        }
        sheet.finish()?;
        Ok(summary)
    }
}

/// [`prepare`] and [`Prepared::write`] into `out` on a blocking thread, waiting for the end.
pub async fn export<T: Entity, W: Write + Send + 'static>(
    store: &Store,
    actor: &Actor,
    request: ExportRequest,
    out: W,
) -> Result<ExportSummary, AppError> {
    let prepared = prepare::<T>(store, actor, request).await?;
    tokio::task::spawn_blocking(move || prepared.write(out))
        .await
        .map_err(failed)?
}

/// [`export`] of the collection named `kind`: its path as the API serves it (`contacts`,
/// `custom-fields`) or its entity's name (`contact`, `custom_field`).
pub async fn export_kind<W: Write + Send + 'static>(
    store: &Store,
    actor: &Actor,
    kind: &str,
    request: ExportRequest,
    out: W,
) -> Result<ExportSummary, AppError> {
    let unknown = || {
        let paths: Vec<&str> = guanxi_domain::entity::collections()
            .map(|(c, _)| c)
            .collect();
        AppError::invalid(
            "kind",
            format!(
                "there is no collection '{kind}': one of {}",
                paths.join(", ")
            ),
        )
    };
    let def = guanxi_domain::entity::def_by_collection_or_name(kind)
        .filter(|d| d.collection.is_some())
        .ok_or_else(unknown)?;
    guanxi_domain::with_entity!(
        def.name,
        T => export::<T, W>(store, actor, request, out).await,
        _ => Err(unknown())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact_in_csv_and_a_number_in_xlsx() {
        assert_eq!(Out::Money(123450, 2).csv(), "1234.50");
        assert_eq!(Out::Money(-5, 2).csv(), "-0.05");
        assert_eq!(Out::Money(7, 0).csv(), "7");
        assert_eq!(Out::Money(123450, 2).cell(), Cell::Number(1234.5));
    }

    #[test]
    fn export_parameters_are_split_from_the_list_query() {
        let r = ExportRequest::from_query(Some(
            "format=xlsx&columns=name,%20custom.level&filter=city:eq:x&sort=-name&limit=5&cursor=c",
        ))
        .unwrap();
        assert_eq!(r.format, Format::Xlsx);
        assert_eq!(r.columns.unwrap(), ["name", "custom.level"]);
        assert_eq!(r.query.filters.len(), 1);
        assert_eq!(r.query.filters[0].field, "city");
        assert!(r.query.sort.as_ref().is_some_and(|s| s.desc));
        assert_eq!(r.query.cursor, None, "paging parameters do not apply");
        assert!(ExportRequest::from_query(Some("format=pdf")).is_err());
        assert!(ExportRequest::from_query(Some("labels=fr")).is_err());
        assert!(ExportRequest::from_query(Some("columns=,")).is_err());
        assert!(ExportRequest::from_query(Some("filter=nocolon")).is_err());
        assert!(ExportRequest::from_query(Some("bogus=1")).is_err());
    }

    #[test]
    fn pairs_read_like_a_query_string() {
        let r = ExportRequest::from_pairs([
            ("labels", "zh"),
            ("filter", "name:in:张伟,王芳"),
            ("filter", "email:contains:a&b=c"),
            ("deleted", "true"),
        ])
        .unwrap();
        assert_eq!(r.format, Format::Csv);
        assert_eq!(r.labels, Some(Lang::Zh));
        assert_eq!(r.query.filters.len(), 2);
        assert_eq!(r.query.filters[0].value, json!(["张伟", "王芳"]));
        assert_eq!(
            r.query.filters[1].value,
            json!("a&b=c"),
            "values are escaped"
        );
        assert!(r.query.deleted);
    }
}
