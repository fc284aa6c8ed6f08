//! Importing spreadsheets: a file's rows become records through a column mapping, in
//! batches that the store matches by key and writes with the job's progress. The CLI
//! (`guanxi import`) and the API (`POST /api/v1/imports`) both run [`import`].

use crate::AppError;
use crate::i18n::{Lang, Tr};
use chrono::NaiveDate;
use guanxi_domain::entities::{Account, AccountKind, Relationship};
use guanxi_domain::filter::{Filter, ListQuery, MAX_LIMIT, Op};
use guanxi_domain::{
    Actor, Currency, Entity, EntityDef, FieldType, Id, Money, NewRecord, ValidationErrors,
};
use guanxi_store::{ImportJob, ImportRow, ImportTemplate, Prepared, RowOutcome, Store, StoreError};
use guanxi_tabular::{Mapping, ResumePoint, Table};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

/// Rows per transaction: large enough that a batch's fixed costs (key look-ups, the
/// change-log entry, the commit, index pages written again) spread thin, small enough to
/// lose little to a crash and to hold little in memory (a 1M-row import: 5,000 is 9 %
/// faster than 2,000).
pub const BATCH: usize = 5_000;
/// Row problems kept in a report; the counts stay exact beyond it.
pub const MAX_PROBLEMS: usize = 1_000;

pub enum Source {
    Path(PathBuf),
    /// An upload, shared rather than copied each time the file is opened.
    Bytes {
        name: String,
        bytes: bytes::Bytes,
    },
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::Path(p) => p
                .file_name()
                .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into()),
            Source::Bytes { name, .. } => name.clone(),
        }
    }

    fn sha256(&self) -> std::io::Result<String> {
        let mut h = Sha256::new();
        match self {
            Source::Path(p) => {
                let mut f = std::fs::File::open(p)?;
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
            }
            Source::Bytes { bytes, .. } => h.update(bytes),
        }
        Ok(hex::encode(h.finalize()))
    }

    fn open(&self, resume: Option<ResumePoint>) -> guanxi_tabular::Result<Table> {
        match (self, resume) {
            (Source::Path(p), Some(r)) => guanxi_tabular::open_at(p, r),
            (Source::Path(p), None) => guanxi_tabular::open(p),
            (Source::Bytes { name, bytes }, _) => {
                guanxi_tabular::open_reader(name, std::io::Cursor::new(bytes.clone()))
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `column=field,…`; suggested from the headers when absent.
    pub mapping: Option<String>,
    /// The name of a saved mapping template to use instead of `mapping`.
    pub template: Option<String>,
    /// Save the mapping this import uses as a template of this name (on a dry run too:
    /// that is how a mapping is tried before it is kept).
    pub save_template: Option<String>,
    pub dry_run: bool,
}

/// One row that was not imported, or one field of it that was wrong.
#[derive(Debug, Clone, Serialize)]
pub struct RowProblem {
    pub row: u64,
    pub column: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnMap {
    pub column: String,
    pub field: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub kind: String,
    pub file: String,
    pub dry_run: bool,
    pub job: ImportJob,
    /// Rows read in this run (after any resume point).
    pub rows: u64,
    /// Rows the reader could not read at all (counted in `failed` as well).
    pub unreadable: u64,
    pub failed: u64,
    pub resumed_at_row: Option<u64>,
    pub mapping: Vec<ColumnMap>,
    /// The template this run saved its mapping as, when asked to.
    pub saved_template: Option<ImportTemplate>,
    pub problems: Vec<RowProblem>,
}

/// What stops an import, before it is told to the caller as an [`AppError`].
#[derive(Debug, thiserror::Error)]
enum ImportError {
    #[error("cannot import {0:?}: one of {kinds}", kinds = guanxi_domain::entity::importable().join(", "))]
    Kind(String),
    #[error("{0}")]
    File(#[from] guanxi_tabular::TabularError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The columns cannot be mapped without a person's decision.
    #[error("{message}")]
    Mapping { message: String, suggestion: String },
    #[error(transparent)]
    Store(#[from] guanxi_store::StoreError),
}

impl From<ImportError> for AppError {
    fn from(e: ImportError) -> AppError {
        let field = match e {
            ImportError::Kind(_) => "kind",
            ImportError::Mapping {
                message,
                suggestion,
            } => {
                return AppError::NeedsMapping {
                    message,
                    suggestion,
                };
            }
            ImportError::File(_) | ImportError::Io(_) => "file",
            ImportError::Store(s) => return s.into(),
        };
        AppError::invalid(field, e.to_string())
    }
}

/// How far an import has got, for progress bars.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Progress {
    pub rows: u64,
    pub bytes_read: u64,
    pub bytes_total: Option<u64>,
}

/// Whether a mapping target is something an import of `def` can fill: its own fields
/// (not computed ones), custom fields, the external id, and the company a contact or
/// order belongs to. Other targets of the spreadsheet vocabulary are shown as ignored.
fn importable(def: &EntityDef, target: &str) -> bool {
    target == "external_id"
        || target.starts_with("custom.")
        || def.import.and_then(|i| i.company) == Some(target)
        || def.field(target).is_some_and(|f| !f.computed)
}

/// The mapping from `spec` (the parameter it came from, and its text), or suggested from
/// the headers; a spec that does not fit the file is an invalid value of its parameter.
fn mapping_for(
    def: &EntityDef,
    headers: &[String],
    spec: Option<(&'static str, &str)>,
) -> Result<Mapping, ImportError> {
    let mut m = known_mapping(def, headers, spec)?;
    for c in &mut m.columns {
        if c.as_deref().is_some_and(|t| !importable(def, t)) {
            *c = None;
        }
    }
    Ok(m)
}

/// The headers an import of `def` matches (none for an entity that is not importable,
/// which `import` refuses before reading a file).
fn header_table(def: &EntityDef) -> guanxi_tabular::HeaderTable {
    def.import.map_or(&[], |i| i.headers)
}

fn known_mapping(
    def: &EntityDef,
    headers: &[String],
    spec: Option<(&'static str, &str)>,
) -> Result<Mapping, ImportError> {
    let table = header_table(def);
    if let Some((param, spec)) = spec {
        return Mapping::from_spec(def.name, table, headers, spec)
            .map_err(|e| StoreError::invalid(param, "invalid", e.to_string()).into());
    }
    let m = guanxi_tabular::suggest(table, headers);
    if m.is_unambiguous() {
        return Ok(m);
    }
    let unclear: Vec<String> = m
        .ambiguous
        .iter()
        .map(|(i, fields)| format!("“{}” could be {}", headers[*i], fields.join(" or ")))
        .collect();
    let suggestion = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let field = m
                .field_of(i)
                .map(str::to_string)
                .or_else(|| {
                    m.ambiguous
                        .iter()
                        .find(|(c, _)| *c == i)
                        .map(|(_, f)| f[0].clone())
                })
                .unwrap_or_default();
            format!("{h}={field}")
        })
        .collect::<Vec<_>>()
        .join(",");
    Err(ImportError::Mapping {
        message: format!(
            "the columns need a mapping: {}; give one with --mapping, e.g. \"{suggestion}\"",
            unclear.join("; ")
        ),
        suggestion,
    })
}

/// A mapping request, with the saved templates that fit these headers named as the
/// other way out. Only a hint: templates that cannot be read leave the request as it was.
async fn with_fitting_templates(
    store: &Store,
    actor: &Actor,
    def: &EntityDef,
    headers: &[String],
    message: String,
) -> String {
    let fitting: Vec<String> = store
        .import_templates(actor, Some(def.name))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|t| Mapping::from_spec(def.name, header_table(def), headers, &t.spec).is_ok())
        .map(|t| format!("“{}”", t.name))
        .collect();
    if fitting.is_empty() {
        message
    } else {
        format!(
            "{message}; or use a saved template that fits these columns (--template): {}",
            fitting.join(", ")
        )
    }
}

/// Import `source` as records of `kind`.
pub async fn import(
    store: &Store,
    actor: &Actor,
    kind: &str,
    source: Source,
    opts: &Options,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report, AppError> {
    let importable = guanxi_domain::entity::def_by_name(kind).filter(|d| d.import.is_some());
    let report = guanxi_domain::with_entity!(
        importable.map_or("", |d| d.name),
        T => run::<T>(store, actor, source, opts, progress).await,
        _ => Err(ImportError::Kind(kind.into()))
    );
    Ok(report?)
}

async fn run<T: Entity>(
    store: &Store,
    actor: &Actor,
    source: Source,
    opts: &Options,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report, ImportError> {
    let entity = T::DEF.name;
    let name = source.name();
    let sha = source.sha256()?;
    let first = source.open(None)?;
    let headers = first.headers.clone();
    let template;
    let spec = match (&opts.mapping, &opts.template) {
        (Some(_), Some(_)) => {
            return Err(StoreError::invalid(
                "template",
                "conflict",
                "give a mapping or a template, not both",
            )
            .into());
        }
        (None, Some(name)) => {
            template = store.import_template(actor, entity, name).await?;
            Some(("template", template.spec.as_str()))
        }
        (Some(mapping), None) => Some(("mapping", mapping.as_str())),
        (None, None) => None,
    };
    let mapping = match mapping_for(T::DEF, &headers, spec) {
        Err(ImportError::Mapping {
            message,
            suggestion,
        }) => {
            return Err(ImportError::Mapping {
                message: with_fitting_templates(store, actor, T::DEF, &headers, message).await,
                suggestion,
            });
        }
        m => m?,
    };
    let saved_template = match &opts.save_template {
        Some(name) => {
            let spec = mapping
                .to_spec(&headers)
                .map_err(|e| StoreError::invalid("save_template", "invalid", e.to_string()))?;
            Some(
                store
                    .save_import_template(actor, entity, name, &spec)
                    .await?,
            )
        }
        None => None,
    };
    let mut job = if opts.dry_run {
        ImportJob::new(entity, &name, &sha, "dry_run")
    } else {
        store.import_job(actor, entity, &name, &sha).await?
    };
    // Resume where an interrupted run of the same file stopped: CSV jumps to the byte
    // offset; workbooks skip the rows already done.
    let csv_file =
        matches!(source, Source::Path(_)) && first.format() == guanxi_tabular::Format::Csv;
    let resume = match (job.resume_offset, job.resume_row) {
        (Some(o), Some(r)) if o > 0 && csv_file => Some(ResumePoint {
            byte_offset: o as u64,
            row_number: r as u64,
        }),
        _ => None,
    };
    // Rows up to this one were imported by an earlier run.
    let done_row = job.resume_row.unwrap_or(0) as u64;
    let mut table = match resume {
        Some(r) => {
            drop(first);
            source.open(Some(r))?
        }
        None => first,
    };
    let mut report = Report {
        kind: entity.into(),
        file: name,
        dry_run: opts.dry_run,
        job: job.clone(),
        rows: 0,
        unreadable: 0,
        failed: 0,
        resumed_at_row: (job.rows_done > 0).then_some(done_row + 1),
        mapping: headers
            .iter()
            .enumerate()
            .map(|(i, h)| ColumnMap {
                column: h.clone(),
                field: mapping.field_of(i).map(str::to_string),
            })
            .collect(),
        saved_template,
        problems: vec![],
    };
    let custom = std::sync::Arc::new(store.custom_fields(entity).await?);
    let convert = std::sync::Arc::new(Convert {
        mapping,
        headers,
        row_key: format!("row:{}:", &sha[..16]),
    });
    // Two stages that overlap: reading and converting a batch (on a blocking thread) while
    // the store writes the one before; `ready` holds at most one batch between them.
    let (ready, mut batches) = tokio::sync::mpsc::channel::<Batch<T>>(1);
    let reader = convert.clone();
    let produce = async move {
        let mut accounts = AccountNames::default();
        let mut rows: Vec<guanxi_tabular::Row> = Vec::with_capacity(BATCH);
        // Rows the reader could not read since the last batch, counted into the next one.
        let mut unreadable = vec![];
        loop {
            let next = table.next();
            let done = next.is_none();
            match next {
                Some(Ok(row)) if row.number > done_row => rows.push(row),
                Some(Ok(_)) => continue,
                Some(Err(e)) => unreadable.push(RowProblem {
                    row: e.row().unwrap_or(0),
                    column: None,
                    field: None,
                    message: e.to_string(),
                }),
                None => {}
            }
            if rows.len() >= BATCH || (done && (!rows.is_empty() || !unreadable.is_empty())) {
                let linked = accounts
                    .resolve(store, actor, reader.company_names::<T>(&rows), opts.dry_run)
                    .await?;
                let (convert, custom) = (reader.clone(), custom.clone());
                let rows = std::mem::replace(&mut rows, Vec::with_capacity(BATCH));
                let unreadable = std::mem::take(&mut unreadable);
                let read = table.progress();
                let batch = tokio::task::spawn_blocking(move || {
                    convert.batch::<T>(rows, unreadable, read, &linked, &custom)
                })
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?;
                if ready.send(batch).await.is_err() {
                    break; // the writer stopped: its error is the one to report
                }
            }
            if done {
                break;
            }
        }
        Ok::<(), ImportError>(())
    };
    let write = async {
        while let Some(b) = batches.recv().await {
            report.rows += b.rows;
            report.unreadable += b.unreadable;
            let rejected = b.rejected;
            for p in b.problems {
                problem(&mut report, p);
            }
            let resume = b.resume.or(job.resume_offset.zip(job.resume_row));
            let mut failed = rejected;
            for (row, outcome) in store
                .import_batch::<T>(actor, &mut job, b.prepared, rejected, resume, opts.dry_run)
                .await?
            {
                if let RowOutcome::Failed { errors } = outcome {
                    failed += 1;
                    for e in errors.0 {
                        problem(&mut report, convert.problem(row, &e));
                    }
                }
            }
            report.failed += failed;
            progress(Progress {
                rows: report.rows,
                bytes_read: b.read.bytes_read,
                bytes_total: b.read.bytes_total,
            });
        }
        Ok::<(), ImportError>(())
    };
    tokio::try_join!(produce, write)?;
    if !opts.dry_run {
        store.finish_import(&mut job).await?;
    }
    report.job = job;
    Ok(report)
}

/// One batch on its way from the reader to the store.
struct Batch<T> {
    /// Rows read, unreadable ones included.
    rows: u64,
    unreadable: u64,
    /// Rows rejected before the store: unreadable, or cells of the wrong type.
    rejected: u64,
    /// Why, a problem per field.
    problems: Vec<RowProblem>,
    prepared: Prepared<T>,
    resume: Option<(i64, i64)>,
    /// How far the reader had got in the file after this batch.
    read: guanxi_tabular::Progress,
}

/// What turns a file's rows into records: the same for every batch of a run.
struct Convert {
    mapping: Mapping,
    headers: Vec<String>,
    /// Keys each row by file and row number (the file by a 64-bit prefix of its hash).
    row_key: String,
}

impl Convert {
    /// The column naming the account of each row, by company name.
    fn company_column(&self, def: &EntityDef) -> Option<usize> {
        self.mapping.column_of(def.import?.company?)
    }

    fn company_names<T: Entity>(&self, rows: &[guanxi_tabular::Row]) -> Vec<String> {
        let Some(col) = self.company_column(T::DEF) else {
            return vec![];
        };
        rows.iter()
            .map(|r| company_name(r.get(col)))
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// Convert rows into records and check them; CPU work only, for a blocking thread.
    fn batch<T: Entity>(
        &self,
        rows: Vec<guanxi_tabular::Row>,
        unreadable: Vec<RowProblem>,
        read: guanxi_tabular::Progress,
        accounts: &Companies,
        custom: &[guanxi_domain::custom::CustomFieldDef],
    ) -> Batch<T> {
        let resume = resume_after(&rows);
        let count = (rows.len() + unreadable.len()) as u64;
        let unreadable_count = unreadable.len() as u64;
        let mut rejected = unreadable_count;
        let mut problems = unreadable;
        let mut ready = Vec::with_capacity(rows.len());
        for row in rows {
            match record_of::<T>(&self.mapping, &row, &self.row_key, accounts) {
                Ok(r) => ready.push(r),
                Err(errors) => {
                    rejected += 1;
                    problems.extend(errors.0.iter().map(|e| self.problem(row.number, e)));
                }
            }
        }
        let mut prepared = Prepared::new(ready, custom);
        prepared.vouch(accounts.ids.values().copied());
        Batch {
            rows: count,
            unreadable: unreadable_count,
            rejected,
            problems,
            prepared,
            resume,
            read,
        }
    }

    fn problem(&self, row: u64, e: &guanxi_domain::FieldError) -> RowProblem {
        let field = e.field.split(['.', '[']).next().unwrap_or(&e.field);
        RowProblem {
            row,
            column: self
                .mapping
                .column_of(field)
                .map(|c| self.headers[c].clone()),
            field: Some(e.field.clone()),
            message: e.message.clone(),
        }
    }
}

/// Where a run interrupted after `batch` resumes: a byte offset is known only at the
/// start of a row, so at the start of the batch's last row, which is then skipped by its
/// number as every row up to it is.
fn resume_after(batch: &[guanxi_tabular::Row]) -> Option<(i64, i64)> {
    let last = batch.last()?;
    Some(match last.resume_point() {
        Some(p) => (p.byte_offset as i64, p.row_number as i64),
        None => (0, last.number as i64),
    })
}

fn problem(report: &mut Report, p: RowProblem) {
    if report.problems.len() < MAX_PROBLEMS {
        report.problems.push(p);
    }
}

/// A company name as the accounts store it (trimmed, inner runs of spaces as one).
fn company_name(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Accounts by name, looked up (and created when missing) once per name per import; each
/// batch gets the links of its own names. A company that cannot be created (a required
/// custom field of accounts, say) is remembered with why: it fails the rows that name it,
/// not the import.
#[derive(Default)]
struct AccountNames(Companies);

/// Companies by name: their accounts, or why none could be created.
#[derive(Default)]
struct Companies {
    ids: HashMap<String, Id>,
    refused: HashMap<String, String>,
}

impl AccountNames {
    async fn resolve(
        &mut self,
        store: &Store,
        actor: &Actor,
        names: Vec<String>,
        dry_run: bool,
    ) -> Result<Companies, ImportError> {
        let known = &mut self.0;
        let mut missing: Vec<String> = names
            .iter()
            .filter(|n| !known.ids.contains_key(*n) && !known.refused.contains_key(*n))
            .cloned()
            .collect();
        missing.sort();
        missing.dedup();
        for chunk in missing.chunks(MAX_LIMIT as usize) {
            let q = ListQuery::default()
                .filter(Filter {
                    field: "name".into(),
                    op: Op::In,
                    value: Value::Array(chunk.iter().map(|n| Value::String(n.clone())).collect()),
                })
                .limit(MAX_LIMIT);
            for a in store.list::<Account>(actor, &q).await?.items {
                known.ids.entry(a.data.name.clone()).or_insert(a.meta.id);
            }
        }
        let mut new: Vec<NewRecord<Account>> = missing
            .iter()
            .filter(|n| !known.ids.contains_key(*n))
            .map(|n| {
                let mut a = NewRecord::new(Account::new(
                    AccountKind::Organisation,
                    n.clone(),
                    Relationship::Customer,
                ));
                a.id = Some(Id::default());
                a
            })
            .collect();
        // Through the store's one write path (checked only, on a dry run); the companies it
        // refuses are set aside with why and the rest tried again.
        while !new.is_empty() {
            let tried = if dry_run {
                store.check_import(actor, new.clone()).await
            } else {
                store.import(actor, new.clone()).await.map(drop)
            };
            let errors = match tried {
                Ok(()) => break,
                Err(StoreError::Invalid(errors)) => errors,
                Err(e) => return Err(e.into()),
            };
            let mut by_record = guanxi_store::errors_by_record(&errors);
            by_record.retain(|i, _| *i < new.len());
            if by_record.is_empty() {
                return Err(StoreError::Invalid(errors).into());
            }
            // From the last, so that the indices still to come keep their records.
            for (i, e) in by_record.iter().rev() {
                let why: Vec<String> =
                    e.0.iter()
                        .map(|f| format!("{} {}", f.field, f.message))
                        .collect();
                known
                    .refused
                    .insert(new.remove(*i).data.name, why.join("; "));
            }
        }
        for a in &new {
            known
                .ids
                .insert(a.data.name.clone(), a.id.unwrap_or_default());
        }
        let mut linked = Companies::default();
        for n in names {
            if let Some(id) = known.ids.get(&n) {
                linked.ids.insert(n, *id);
            } else if let Some(why) = known.refused.get(&n) {
                linked.refused.insert(n, why.clone());
            }
        }
        Ok(linked)
    }
}

/// One row as a record: mapped cells converted to the fields' types; the external id
/// and the file row as keys.
fn record_of<T: Entity>(
    mapping: &Mapping,
    row: &guanxi_tabular::Row,
    row_key: &str,
    accounts: &Companies,
) -> Result<ImportRow<T>, ValidationErrors> {
    let def = T::DEF;
    let mut fields = Map::new();
    let mut custom = Map::new();
    let mut keys = vec![format!("{row_key}{}", row.number)];
    let mut errors = ValidationErrors::new();
    for (i, target) in mapping.columns.iter().enumerate() {
        let Some(target) = target else { continue };
        let raw = row.get(i).trim();
        if raw.is_empty() {
            continue;
        }
        match target.as_str() {
            "external_id" => keys.push(format!("ext:{raw}")),
            t if def.import.and_then(|i| i.company) == Some(t) => {
                let name = company_name(raw);
                if let Some(id) = accounts.ids.get(&name) {
                    fields.insert("account_id".into(), Value::String(id.to_string()));
                } else if let Some(why) = accounts.refused.get(&name) {
                    let message = format!("the company “{name}” cannot be created: {why}");
                    errors.add(target.as_str(), "invalid", message);
                }
            }
            t if t.starts_with("custom.") => {
                custom.insert(t["custom.".len()..].to_string(), Value::String(raw.into()));
            }
            t => {
                // `importable` left only fields this kind has.
                if let Some(f) = def.field(t) {
                    match cell_value(def.name, f, raw) {
                        Ok(v) => {
                            fields.insert(f.name.into(), v);
                        }
                        Err(msg) => errors.add(f.name, "invalid", msg),
                    }
                }
            }
        }
    }
    match def.name {
        "order" => order_line(&mut fields),
        // As accounts created from a contact's company column: a company we sell to.
        "account" => {
            fields
                .entry("kind")
                .or_insert(Value::String(AccountKind::Organisation.as_str().into()));
            fields
                .entry("relationship")
                .or_insert(Value::String(Relationship::Customer.as_str().into()));
        }
        _ => {}
    }
    errors.into_result()?;
    let data = crate::records::data_of::<T>(fields)?;
    let mut record = NewRecord::new(data).with_custom(custom);
    record.team_id = None;
    Ok(ImportRow {
        row: row.number,
        record,
        keys,
    })
}

/// A spreadsheet of orders gives one amount per order: it becomes the order's one line.
fn order_line(fields: &mut Map<String, Value>) {
    let total = fields.remove("total");
    if fields.contains_key("lines") {
        return;
    }
    let amount = total
        .as_ref()
        .and_then(|t| t["minor"].as_i64().or_else(|| t.as_i64()))
        .unwrap_or(0);
    fields.insert(
        "lines".into(),
        serde_json::json!([{ "sku": "IMPORT", "name": "导入订单金额 / imported amount",
                              "quantity": 1, "unit_price": amount, "unit_cost": 0 }]),
    );
    fields
        .entry("status")
        .or_insert(Value::String("confirmed".into()));
    if let Some(Value::Object(m)) = total
        && let Some(c) = m.get("currency")
    {
        fields.entry("currency").or_insert(c.clone());
    }
}

/// A cell's text as the JSON value of a field, read the lenient way spreadsheets need:
/// dates as 2024/3/5 or 2024.3.5, amounts with ¥ and thousands separators, choices by
/// their Chinese or English label.
pub fn cell_value(entity: &str, f: &guanxi_domain::FieldDef, raw: &str) -> Result<Value, String> {
    Ok(match f.ty {
        FieldType::Text => Value::String(raw.into()),
        FieldType::Int => Value::from(
            number(raw)
                .filter(|x| x.fract() == 0.0)
                .ok_or("a whole number")? as i64,
        ),
        FieldType::Float => Value::from(number(raw).ok_or("a number")?),
        FieldType::Bool => Value::Bool(match raw.to_lowercase().as_str() {
            "1" | "true" | "yes" | "y" | "是" | "对" | "启用" | "有" => true,
            "0" | "false" | "no" | "n" | "否" | "不" | "停用" | "无" => false,
            _ => return Err("yes or no (是/否)".into()),
        }),
        FieldType::Date => Value::String(date(raw).ok_or("a date such as 2024-03-05")?.to_string()),
        FieldType::Timestamp => {
            Value::String(timestamp(raw).ok_or("a date and time such as 2024-03-05 14:30")?)
        }
        FieldType::Money => {
            let cleaned: String = raw
                .chars()
                .filter(|c| !matches!(c, '¥' | '￥' | ',' | '，' | '元' | ' '))
                .collect();
            let m =
                Money::parse_decimal(&cleaned, Currency::parse("CNY").map_err(|e| e.to_string())?)
                    .map_err(|_| "an amount such as 1234.50")?;
            serde_json::to_value(m).map_err(|e| e.to_string())?
        }
        FieldType::Enum(values) => Value::String(
            choice(entity, f.name, values, raw)
                .ok_or_else(|| format!("one of {}", values.join(", ")))?,
        ),
        FieldType::Tags => Value::Array(
            raw.split([',', '，', ';', '；', '、'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.into()))
                .collect(),
        ),
        FieldType::Ref(_) => Value::String(Id::parse(raw).map_err(|_| "a record id")?.to_string()),
        FieldType::Json => serde_json::from_str(raw).map_err(|e| e.to_string())?,
    })
}

fn number(raw: &str) -> Option<f64> {
    raw.replace([',', '，'], "")
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
}

fn date(raw: &str) -> Option<NaiveDate> {
    let day = raw.split(['T', ' ']).next()?;
    let parts: Vec<&str> = day
        .split(['-', '/', '.', '年', '月', '日'])
        .filter(|s| !s.is_empty())
        .collect();
    match parts.as_slice() {
        [y, m, d] => NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?),
        _ => None,
    }
}

/// A local (UTC+8) date and time as RFC 3339 UTC.
fn timestamp(raw: &str) -> Option<String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&chrono::Utc).to_rfc3339());
    }
    let d = date(raw)?;
    let time = raw
        .split_once(['T', ' '])
        .map(|(_, t)| t.trim())
        .unwrap_or("00:00");
    let t = chrono::NaiveTime::parse_from_str(time, "%H:%M:%S")
        .or_else(|_| chrono::NaiveTime::parse_from_str(time, "%H:%M"))
        .ok()?;
    let local = d
        .and_time(t)
        .and_local_timezone(crate::i18n::display_offset())
        .single()?;
    Some(local.with_timezone(&chrono::Utc).to_rfc3339())
}

/// A choice's key from the key itself or its label in either language.
fn choice(entity: &str, field: &str, values: &[&str], raw: &str) -> Option<String> {
    let lower = raw.to_lowercase();
    values
        .iter()
        .find(|v| **v == lower)
        .or_else(|| {
            values.iter().find(|v| {
                [Lang::Zh, Lang::En]
                    .iter()
                    .any(|l| Tr::new(*l).choice(entity, field, v).to_lowercase() == lower)
            })
        })
        .map(|v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use guanxi_domain::FieldDef;

    #[test]
    fn spreadsheet_values_are_read_leniently() {
        let d = FieldDef::new("birthday", FieldType::Date);
        assert_eq!(
            cell_value("contact", &d, "1985/3/14").unwrap(),
            "1985-03-14"
        );
        assert_eq!(
            cell_value("contact", &d, "1985年3月14日").unwrap(),
            "1985-03-14"
        );
        assert!(cell_value("contact", &d, "14 March").is_err());
        let m = FieldDef::new("amount", FieldType::Money);
        assert_eq!(
            cell_value("opportunity", &m, "¥1,234.50").unwrap()["minor"],
            123450
        );
        let b = FieldDef::new("active", FieldType::Bool);
        assert_eq!(cell_value("product", &b, "是").unwrap(), true);
        let t = FieldDef::new("at", FieldType::Timestamp);
        assert_eq!(
            cell_value("interaction", &t, "2024-03-05 14:30").unwrap(),
            "2024-03-05T06:30:00+00:00"
        );
    }

    #[test]
    fn choices_are_read_by_label_in_either_language() {
        let kinds = guanxi_domain::entities::CaseStatus::VALUES;
        assert_eq!(
            choice("case", "status", kinds, "open").as_deref(),
            Some("open")
        );
        let zh = Tr::new(Lang::Zh).choice("case", "status", "open");
        assert_eq!(
            choice("case", "status", kinds, &zh).as_deref(),
            Some("open")
        );
        assert_eq!(choice("case", "status", kinds, "nonsense"), None);
    }
}
