//! `GET /{collection}/export?format=csv|xlsx&columns=a,b,custom.x&labels=zh|en`, with the
//! list's own `filter`, `sort` and `deleted`: every record of that view the caller may see,
//! masked as the API masks it, as a CSV (UTF-8 with BOM, for Excel) or .xlsx download. The
//! export is written to the change log before the first byte leaves.

use super::auth::Authed;
use super::records::{list_query, refuse_sensitive_filters};
use crate::access::present;
use crate::problem::Problem;
use crate::web::i18n::{Lang, Tr};
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use guanxi_domain::custom::CustomFieldDef;
use guanxi_domain::filter::{ListQuery, MAX_LIMIT, Page};
use guanxi_domain::{Actor, Currency, Entity, EntityDef, FieldDef, FieldType, Record};
use guanxi_store::Store;
use guanxi_tabular::{Cell, CsvWriter, XlsxWriter};
use serde_json::{Value, json};
use std::io::{self, BufWriter, Write};
use tokio::sync::mpsc;

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Csv,
    Xlsx,
}

/// The export's own parameters; the rest is the list's query.
struct Request {
    format: Format,
    columns: Option<Vec<String>>,
    labels: Option<Lang>,
    list: String,
}

fn unprocessable(field: &str, msg: String) -> Problem {
    Problem::field(StatusCode::UNPROCESSABLE_ENTITY, field, "invalid", msg)
}

impl Request {
    fn parse(raw: Option<&str>) -> Result<Request, Problem> {
        let mut req = Request {
            format: Format::Csv,
            columns: None,
            labels: None,
            list: String::new(),
        };
        let mut list = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "format" => {
                    req.format = match v.as_ref() {
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
                    req.columns = Some(cols);
                }
                "labels" => {
                    req.labels = Some(match v.as_ref() {
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
                // An export is the whole view: a list URL's paging parameters do not apply.
                "limit" | "cursor" | "count" => {}
                _ => {
                    list.append_pair(&k, &v);
                }
            }
        }
        req.list = list.finish();
        Ok(req)
    }
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
) -> Result<Vec<Column>, Problem> {
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

/// Hands what a writer produces to the response body. Only used on a blocking thread.
struct Channel(mpsc::Sender<io::Result<Bytes>>);

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Sheet {
    Csv(CsvWriter<Channel>),
    /// rust_xlsxwriter's constant-memory mode keeps rows in a temp file and can only write
    /// the package once every row is in, so .xlsx bytes start flowing at the end.
    Xlsx(Box<XlsxWriter>, Channel),
}

impl Sheet {
    fn new(format: Format, headers: &[String], out: Channel) -> Result<Sheet, String> {
        Ok(match format {
            Format::Csv => {
                let mut w = CsvWriter::new(out).map_err(|e| e.to_string())?;
                w.write_row(headers).map_err(|e| e.to_string())?;
                Sheet::Csv(w)
            }
            Format::Xlsx => Sheet::Xlsx(
                Box::new(XlsxWriter::new(headers).map_err(|e| e.to_string())?),
                out,
            ),
        })
    }

    fn row(&mut self, cells: &[Out]) -> Result<(), String> {
        match self {
            Sheet::Csv(w) => {
                let texts: Vec<String> = cells.iter().map(Out::csv).collect();
                w.write_row(&texts).map_err(|e| e.to_string())
            }
            Sheet::Xlsx(w, _) => {
                let cells: Vec<Cell> = cells.iter().map(Out::cell).collect();
                w.write_row(&cells).map_err(|e| e.to_string())
            }
        }
    }

    fn finish(self) -> Result<(), String> {
        match self {
            Sheet::Csv(w) => w.finish().map(drop).map_err(|e| e.to_string()),
            Sheet::Xlsx(w, out) => {
                let mut out = BufWriter::with_capacity(64 << 10, out);
                w.finish_to_writer(&mut out).map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())
            }
        }
    }
}

/// Everything the writing thread needs.
struct Job<T> {
    store: Store,
    actor: Actor,
    query: ListQuery,
    /// The page already read to count and check the view.
    page: Page<Record<T>>,
    columns: Vec<Column>,
    custom: guanxi_store::CustomDefs,
    tr: Option<Tr>,
    format: Format,
}

impl<T: Entity> Job<T> {
    /// Page through the view with the list cursor, writing each page as it arrives: memory
    /// holds one page and the writer's buffer, whatever the size of the export. Runs on a
    /// blocking thread (the writers are synchronous) and waits for the store there.
    fn run(self, out: Channel) -> Result<(), String> {
        let Job {
            store,
            actor,
            mut query,
            mut page,
            columns,
            custom,
            tr,
            format,
        } = self;
        let rt = tokio::runtime::Handle::current();
        let entity = T::DEF.name;
        let headers: Vec<String> = columns.iter().map(|c| c.header(tr, entity)).collect();
        let mut sheet = Sheet::new(format, &headers, out)?;
        loop {
            for r in &page.items {
                let json = present(&actor, &custom, r);
                let cells: Vec<Out> = columns.iter().map(|c| c.value(tr, entity, &json)).collect();
                sheet.row(&cells)?;
            }
            let Some(cursor) = page.next_cursor.take() else {
                break;
            };
            query.cursor = Some(cursor);
            page = rt
                .block_on(store.list::<T>(&actor, &query))
                .map_err(|e| e.to_string())?;
        }
        sheet.finish()
    }
}

pub async fn export<T: Entity>(
    State(store): State<Store>,
    Authed(actor): Authed,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let def = T::DEF;
    let req = Request::parse(raw.as_deref())?;
    let custom = store.custom_fields(def.name).await?;
    let mut query = list_query(Some(&req.list))?;
    refuse_sensitive_filters(&actor, def, &custom, &query)?;
    let columns = columns(def, &custom, req.columns.as_deref())?;
    query.limit = MAX_LIMIT;
    // The first page checks the right to read, the filters and the sort before anything
    // is logged or sent, and counts the rows for the log.
    query.with_count = true;
    let first = store.list::<T>(&actor, &query).await?;
    query.with_count = false;
    let format = req.format;
    let (ext, content_type) = match format {
        Format::Csv => ("csv", "text/csv; charset=utf-8"),
        Format::Xlsx => (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    };
    let keys: Vec<String> = columns.iter().map(Column::key).collect();
    store
        .log_export(
            &actor,
            def.name,
            json!({
                "format": ext,
                "filters": query.filters,
                "sort": query.sort,
                "deleted": query.deleted,
                "columns": keys,
                "count": first.total,
            }),
        )
        .await?;
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
    let job = Job::<T> {
        store,
        actor,
        query,
        page: first,
        columns,
        custom,
        tr: req.labels.map(Tr::new),
        format,
    };
    tokio::task::spawn_blocking(move || {
        let out = Channel(tx.clone());
        if let Err(e) = job.run(out) {
            // Headers are gone already: end the body with an error so the client sees a
            // broken download rather than a short file that looks complete.
            tracing::warn!("export of {} failed: {e}", T::DEF.name);
            let _ = tx.blocking_send(Err(io::Error::other(e)));
        }
    });
    let day = chrono::Utc::now().with_timezone(&crate::web::i18n::display_offset());
    let filename = format!(
        "{}-{}.{ext}",
        def.table.replace('_', "-"),
        day.format("%Y%m%d")
    );
    let mut res =
        Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
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
        let r = Request::parse(Some(
            "format=xlsx&columns=name,%20custom.level&filter=city:eq:x&limit=5&cursor=c",
        ))
        .unwrap();
        assert!(r.format == Format::Xlsx);
        assert_eq!(r.columns.unwrap(), ["name", "custom.level"]);
        assert_eq!(r.list, "filter=city%3Aeq%3Ax");
        assert!(Request::parse(Some("format=pdf")).is_err());
        assert!(Request::parse(Some("labels=fr")).is_err());
    }
}
