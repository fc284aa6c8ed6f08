//! Imports in batches: each row is matched to an existing record by its keys (a natural
//! key such as the e-mail or the credit code, or a key the importer gives: the external
//! id, the file and row it came from), then created, updated or left alone. A batch is one
//! transaction with its keys and the job's progress, so a crash loses at most the batch
//! in flight and running it again finds its rows already there.

use crate::codec::encode_fields;
use crate::db::{Kind, Tx, Val};
use crate::records::{insert_imported, now, reference_errors, require};
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use guanxi_domain::custom::CustomFieldDef;
use guanxi_domain::{Actor, Entity, Id, Meta, NewRecord, Record, Right, ValidationErrors};
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// One row to import: where it came from, the record, and the keys given by the importer
/// (natural keys are found by the store itself, after normalisation).
pub struct ImportRow<T> {
    pub row: u64,
    pub record: NewRecord<T>,
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RowOutcome {
    Created { id: Id },
    Updated { id: Id },
    Unchanged { id: Id },
    Failed { errors: ValidationErrors },
}

/// An import of one file, resumable: found again by the file's hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportJob {
    pub id: Id,
    pub entity: String,
    pub file_name: String,
    pub file_sha256: String,
    /// `running`, `done`, or `dry_run`.
    pub status: String,
    pub rows_done: i64,
    /// Where to continue reading the file: the byte offset and row number of the first
    /// row not yet imported (CSV).
    pub resume_offset: Option<i64>,
    pub resume_row: Option<i64>,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub failed: i64,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ImportJob {
    /// A job that has imported nothing yet, in `status` (`running`, or `dry_run` for a trial
    /// that is never saved).
    pub fn new(entity: &str, file_name: &str, file_sha256: &str, status: &str) -> ImportJob {
        let at = now();
        ImportJob {
            id: Id::default(),
            entity: entity.into(),
            file_name: file_name.into(),
            file_sha256: file_sha256.into(),
            status: status.into(),
            rows_done: 0,
            resume_offset: None,
            resume_row: None,
            created: 0,
            updated: 0,
            unchanged: 0,
            failed: 0,
            started_at: at,
            updated_at: at,
        }
    }
}

/// The new records of a batch whose references name records the importer may not read (or
/// that do not exist), with the errors a single create would give; a reference to another
/// new record of the batch, or to one the importer `vouched` for, holds.
async fn unseen_references<T: Entity>(
    tx: &mut Tx,
    actor: &Actor,
    rows: &[Record<T>],
    vouched: &HashSet<Uuid>,
) -> Result<HashMap<Id, ValidationErrors>> {
    let new_ids: HashSet<Uuid> = rows.iter().map(|r| r.meta.id.0).collect();
    let writes: Vec<_> = rows.iter().map(|r| (r.meta.id, &r.data, None)).collect();
    let errors = reference_errors(tx, actor, &writes, &new_ids, vouched).await?;
    Ok(rows
        .iter()
        .zip(errors)
        .filter(|(_, e)| !e.0.is_empty())
        .map(|(r, e)| (r.meta.id, e))
        .collect())
}

/// The columns an entity's rows are matched by, best first.
pub fn natural_keys(entity: &str) -> &'static [&'static str] {
    guanxi_domain::entity::def_by_name(entity)
        .and_then(|d| d.import)
        .map_or(&[], |i| i.keys)
}

const JOB_COLS: &str = "id, entity, file_name, file_sha256, status, rows_done, resume_offset, resume_row, \
                        created, updated, unchanged, failed, started_at, updated_at";
const JOB_KINDS: [Kind; 14] = [
    Kind::Uuid,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Ts,
    Kind::Ts,
];

fn job_of(row: Vec<Val>) -> ImportJob {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Val::Null(Kind::Text));
    ImportJob {
        id: Id(next().as_uuid().unwrap_or_default()),
        entity: next().into_text().unwrap_or_default(),
        file_name: next().into_text().unwrap_or_default(),
        file_sha256: next().into_text().unwrap_or_default(),
        status: next().into_text().unwrap_or_default(),
        rows_done: next().as_i64().unwrap_or(0),
        resume_offset: next().as_i64(),
        resume_row: next().as_i64(),
        created: next().as_i64().unwrap_or(0),
        updated: next().as_i64().unwrap_or(0),
        unchanged: next().as_i64().unwrap_or(0),
        failed: next().as_i64().unwrap_or(0),
        started_at: next().as_ts().unwrap_or_default(),
        updated_at: next().as_ts().unwrap_or_default(),
    }
}

/// A field's stored text, for matching. E-mail addresses match whatever their case (the
/// store keeps the local part as typed; rows are looked up by the lower-case form).
fn key_text(col: &str, v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() && col == "email" => Some(s.to_lowercase()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Store {
    /// The unfinished import of this file by this user, to resume; or a new one.
    pub async fn import_job(
        &self,
        actor: &Actor,
        entity: &'static str,
        file_name: &str,
        file_sha256: &str,
    ) -> Result<ImportJob> {
        require(actor, entity, Right::Create)?;
        let rows = self
            .db
            .fetch(
                &format!(
                    "SELECT {JOB_COLS} FROM import_jobs WHERE file_sha256 = $1 AND entity = $2 \
                     AND actor_id = $3 AND status = 'running' ORDER BY started_at DESC LIMIT 1"
                ),
                vec![
                    Val::Text(file_sha256.into()),
                    Val::Text(entity.into()),
                    Val::Uuid(actor.user_id.0),
                ],
                &JOB_KINDS,
            )
            .await?;
        if let Some(job) = rows.into_iter().next() {
            return Ok(job_of(job));
        }
        let job = ImportJob::new(entity, file_name, file_sha256, "running");
        let mut tx = self.db.begin().await?;
        tx.exec(
                "INSERT INTO import_jobs (id, entity, file_name, file_sha256, actor_id, status, \
                 rows_done, resume_offset, resume_row, created, updated, unchanged, failed, started_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, 'running', 0, NULL, NULL, 0, 0, 0, 0, $6, $6)",
                vec![
                    Val::Uuid(job.id.0),
                    Val::Text(entity.into()),
                    Val::Text(file_name.into()),
                    Val::Text(file_sha256.into()),
                    Val::Uuid(actor.user_id.0),
                    Val::Ts(job.started_at),
                ],
        )
        .await?;
        tx.commit().await?;
        Ok(job)
    }

    /// The actor's imports, newest first.
    pub async fn import_jobs(&self, actor: &Actor, limit: i64) -> Result<Vec<ImportJob>> {
        let rows = self
            .db
            .fetch(
                &format!(
                    "SELECT {JOB_COLS} FROM import_jobs WHERE actor_id = $1 \
                     ORDER BY started_at DESC LIMIT $2"
                ),
                vec![Val::Uuid(actor.user_id.0), Val::Int(limit)],
                &JOB_KINDS,
            )
            .await?;
        Ok(rows.into_iter().map(job_of).collect())
    }

    /// Mark an import finished.
    pub async fn finish_import(&self, job: &mut ImportJob) -> Result<()> {
        job.status = "done".into();
        job.updated_at = now();
        let mut tx = self.db.begin().await?;
        tx.exec(
            "UPDATE import_jobs SET status = 'done', updated_at = $2 WHERE id = $1",
            vec![Val::Uuid(job.id.0), Val::Ts(job.updated_at)],
        )
        .await?;
        tx.commit().await
    }

    /// Import one batch: match, create, update; record the keys and the job's progress
    /// (`rows_done`, `resume_offset`) in the same transaction. `rejected` rows of the batch
    /// failed before reaching the store (unreadable, or cells of the wrong type): they
    /// count as done and failed. With `dry_run` everything is checked the same way and
    /// then rolled back.
    #[allow(clippy::too_many_arguments)]
    pub async fn import_batch<T: Entity>(
        &self,
        actor: &Actor,
        job: &mut ImportJob,
        batch: Prepared<T>,
        rejected: u64,
        resume: Option<(i64, i64)>,
        dry_run: bool,
    ) -> Result<Vec<(u64, RowOutcome)>> {
        let def = T::DEF;
        require(actor, def.name, Right::Create)?;
        let defs = self.custom_fields(def.name).await?;
        let natural = natural_keys(def.name);
        let mut tx = self.db.begin().await?;
        let Prepared {
            rows: prepared,
            failed: mut out,
            vouched,
        } = batch;
        let mut known = self
            .known_keys(&mut tx, def, natural, prepared.iter().flat_map(|p| &p.keys))
            .await?;

        let at = now();
        let mut new_rows: Vec<Record<T>> = vec![];
        // Their encode_fields, prepared with the batch and redone only when merged here.
        let mut new_fields: Vec<Vec<Val>> = vec![];
        let mut keys_to_add: Vec<(String, Id)> = vec![];
        for PreparedRow {
            row,
            record,
            keys,
            fields,
        } in prepared
        {
            let found = keys.iter().find_map(|k| known.get(k).copied());
            let pending = found.and_then(|id| new_rows.iter().position(|n| n.meta.id == id));
            let outcome = match (found, pending) {
                // This very row of this very file was imported before.
                (Some(id), _)
                    if keys
                        .iter()
                        .any(|k| k.starts_with("row:") && known.contains_key(k)) =>
                {
                    RowOutcome::Unchanged { id }
                }
                // The same key as an earlier row of this batch: merged into it.
                (Some(id), Some(i)) => {
                    let mut merged = new_rows[i].clone();
                    overlay(&mut merged, &record)?;
                    match Self::check(&mut merged.data, &merged.custom, &defs) {
                        Ok(()) => {
                            new_fields[i] = encode_fields(&merged.data)?;
                            new_rows[i] = merged;
                            RowOutcome::Updated { id }
                        }
                        Err(StoreError::Invalid(errors)) => RowOutcome::Failed { errors },
                        Err(e) => return Err(e),
                    }
                }
                (Some(id), None) => self.merge_into(&mut tx, actor, id, record, &defs).await?,
                (None, _) => {
                    let id = record.id.unwrap_or_default();
                    new_rows.push(Record {
                        meta: Meta {
                            id,
                            version: 1,
                            created_at: at,
                            updated_at: at,
                            deleted_at: None,
                            owner_id: def.scoped.then(|| record.owner_id.unwrap_or(actor.user_id)),
                            team_id: if def.scoped {
                                record.team_id.or(actor.team_id)
                            } else {
                                None
                            },
                        },
                        data: record.data,
                        custom: record.custom,
                    });
                    new_fields.push(fields);
                    RowOutcome::Created { id }
                }
            };
            if let RowOutcome::Created { id }
            | RowOutcome::Updated { id }
            | RowOutcome::Unchanged { id } = &outcome
            {
                for k in keys {
                    if !known.contains_key(&k) {
                        known.insert(k.clone(), *id);
                        keys_to_add.push((k, *id));
                    }
                }
            }
            out.push((row, outcome));
        }
        let refused = unseen_references(&mut tx, actor, &new_rows, &vouched).await?;
        if !refused.is_empty() {
            for (_, outcome) in &mut out {
                if let RowOutcome::Created { id } | RowOutcome::Updated { id } = outcome
                    && let Some(errors) = refused.get(id)
                {
                    *outcome = RowOutcome::Failed {
                        errors: errors.clone(),
                    };
                }
            }
            (new_rows, new_fields) = new_rows
                .into_iter()
                .zip(new_fields)
                .filter(|(r, _)| !refused.contains_key(&r.meta.id))
                .unzip();
            keys_to_add.retain(|(_, id)| !refused.contains_key(id));
        }
        insert_imported(&mut tx, at, actor, &new_rows, new_fields, Some(job.id)).await?;
        Self::add_keys(&mut tx, def.name, &keys_to_add).await?;

        out.sort_by_key(|(row, _)| *row);
        let mut progress = job.clone();
        progress.rows_done += out.len() as i64 + rejected as i64;
        progress.failed += rejected as i64;
        progress.resume_offset = resume.map(|r| r.0);
        progress.resume_row = resume.map(|r| r.1);
        for (_, o) in &out {
            match o {
                RowOutcome::Created { .. } => progress.created += 1,
                RowOutcome::Updated { .. } => progress.updated += 1,
                RowOutcome::Unchanged { .. } => progress.unchanged += 1,
                RowOutcome::Failed { .. } => progress.failed += 1,
            }
        }
        progress.updated_at = now();
        if dry_run {
            // Dropping the transaction rolls it back.
            drop(tx);
            *job = progress;
            return Ok(out);
        }
        tx.exec(
            "UPDATE import_jobs SET rows_done = $2, resume_offset = $3, resume_row = $9, \
             created = $4, updated = $5, unchanged = $6, failed = $7, updated_at = $8 \
             WHERE id = $1",
            vec![
                Val::Uuid(job.id.0),
                Val::Int(progress.rows_done),
                progress
                    .resume_offset
                    .map_or(Val::Null(Kind::Int), Val::Int),
                Val::Int(progress.created),
                Val::Int(progress.updated),
                Val::Int(progress.unchanged),
                Val::Int(progress.failed),
                Val::Ts(progress.updated_at),
                progress.resume_row.map_or(Val::Null(Kind::Int), Val::Int),
            ],
        )
        .await?;
        tx.commit().await?;
        *job = progress;
        self.written(def.name);
        Ok(out)
    }

    /// Record ids by key: the importer's keys from `import_keys`, natural keys from the
    /// entity's own columns (live records only).
    async fn known_keys<'a>(
        &self,
        tx: &mut Tx,
        def: &guanxi_domain::EntityDef,
        natural: &[&str],
        keys: impl Iterator<Item = &'a String>,
    ) -> Result<HashMap<String, Id>> {
        let mut given = vec![];
        let mut by_col: HashMap<&str, Vec<String>> = HashMap::new();
        for k in keys {
            match natural.iter().find(|c| k.starts_with(&format!("{c}:"))) {
                Some(c) => by_col
                    .entry(c)
                    .or_default()
                    .push(k[c.len() + 1..].to_string()),
                None => given.push(k.clone()),
            }
        }
        let mut known = HashMap::new();
        for chunk in given.chunks(500) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let mut params = vec![Val::Text(def.name.into())];
            params.extend(chunk.iter().map(|k| Val::Text(k.clone())));
            for r in tx
                .fetch(
                    &format!(
                        "SELECT key, record_id FROM import_keys WHERE entity = $1 AND key IN ({})",
                        marks.join(", ")
                    ),
                    params,
                    &[Kind::Text, Kind::Uuid],
                )
                .await?
            {
                let mut r = r.into_iter();
                if let (Some(k), Some(id)) = (
                    r.next().and_then(Val::into_text),
                    r.next().and_then(|v| v.as_uuid()),
                ) {
                    known.insert(k, Id(id));
                }
            }
        }
        for (col, values) in by_col {
            for chunk in values.chunks(500) {
                let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 1)).collect();
                for r in tx
                    .fetch(
                        &format!(
                            "SELECT \"{col}\", id FROM {} WHERE \"{col}\" IN ({}) AND deleted_at IS NULL",
                            def.table,
                            marks.join(", ")
                        ),
                        chunk.iter().map(|v| Val::Text(v.clone())).collect(),
                        &[Kind::Text, Kind::Uuid],
                    )
                    .await?
                {
                    let mut r = r.into_iter();
                    if let (Some(v), Some(id)) = (
                        r.next().and_then(Val::into_text),
                        r.next().and_then(|v| v.as_uuid()),
                    ) && let Some(v) = key_text(col, &Value::String(v))
                    {
                        known.entry(format!("{col}:{v}")).or_insert(Id(id));
                    }
                }
            }
        }
        Ok(known)
    }

    /// Write the imported fields that are set over the existing record; unchanged when
    /// that changes nothing.
    async fn merge_into<T: Entity>(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        id: Id,
        record: NewRecord<T>,
        defs: &[CustomFieldDef],
    ) -> Result<RowOutcome> {
        let version: i64 = {
            let rows = tx
                .fetch(
                    &format!("SELECT version FROM {} WHERE id = $1", T::DEF.table),
                    vec![Val::Uuid(id.0)],
                    &[Kind::Int],
                )
                .await?;
            rows.into_iter()
                .next()
                .and_then(|r| r[0].as_i64())
                .unwrap_or(0)
        };
        let before = match self.locked::<T>(tx, actor, id, version, false).await {
            Ok(r) => r,
            // Matched a record the importer may not see: report it, do not touch it.
            Err(StoreError::NotFound { .. }) => {
                return Ok(RowOutcome::Failed {
                    errors: ValidationErrors::single(
                        "id",
                        "not_visible",
                        "matches a record you may not change",
                    ),
                });
            }
            Err(e) => return Err(e),
        };
        let mut after = before.clone();
        overlay(&mut after, &record)?;
        if let Err(e) = Self::check(&mut after.data, &after.custom, defs) {
            return match e {
                StoreError::Invalid(errors) => Ok(RowOutcome::Failed { errors }),
                e => Err(e),
            };
        }
        if serde_json::to_value(&after.data).ok() == serde_json::to_value(&before.data).ok()
            && after.custom == before.custom
        {
            return Ok(RowOutcome::Unchanged { id });
        }
        require(actor, T::DEF.name, Right::Update)?;
        Self::rewrite_in(tx, actor, &before, after).await?;
        Ok(RowOutcome::Updated { id })
    }

    async fn add_keys(tx: &mut Tx, entity: &str, keys: &[(String, Id)]) -> Result<()> {
        // Natural keys live in the records themselves.
        let given: Vec<&(String, Id)> = keys
            .iter()
            .filter(|(k, _)| {
                !natural_keys(entity)
                    .iter()
                    .any(|c| k.starts_with(&format!("{c}:")))
            })
            .collect();
        for chunk in given.chunks(300) {
            let mut params = vec![];
            let mut tuples = vec![];
            for (i, (k, id)) in chunk.iter().enumerate() {
                tuples.push(format!("(${}, ${}, ${})", i * 3 + 1, i * 3 + 2, i * 3 + 3));
                params.extend([
                    Val::Text(entity.into()),
                    Val::Text(k.clone()),
                    Val::Uuid(id.0),
                ]);
            }
            tx.exec(
                &format!(
                    "INSERT INTO import_keys (entity, key, record_id) VALUES {} \
                     ON CONFLICT DO NOTHING",
                    tuples.join(", ")
                ),
                params,
            )
            .await?;
        }
        Ok(())
    }
}

/// A batch normalised, validated and keyed: the half of an import that needs no database,
/// so that it can run on another core while the batch before it is written.
pub struct Prepared<T> {
    rows: Vec<PreparedRow<T>>,
    failed: Vec<(u64, RowOutcome)>,
    /// Records the importer itself linked the rows to (accounts found by name in the
    /// importer's scope, or made for this import and not yet written in a dry run).
    vouched: HashSet<Uuid>,
}

/// A row that passed its checks.
struct PreparedRow<T> {
    row: u64,
    record: NewRecord<T>,
    /// Every key the record may be known by.
    keys: Vec<String>,
    /// Its fields encoded for the database: work taken off the writer's path.
    fields: Vec<Val>,
}

impl<T: Entity> Prepared<T> {
    /// Let references to `ids` through: the importer resolved them itself, within the
    /// importer's scope. Never ids read from the file.
    pub fn vouch(&mut self, ids: impl IntoIterator<Item = Id>) {
        self.vouched.extend(ids.into_iter().map(|id| id.0));
    }

    /// Check each row against the entity and its custom fields (`defs`); add the natural
    /// keys, compared as stored.
    pub fn new(rows: Vec<ImportRow<T>>, defs: &[CustomFieldDef]) -> Prepared<T> {
        let natural = natural_keys(T::DEF.name);
        let mut batch = Prepared {
            rows: Vec::with_capacity(rows.len()),
            failed: vec![],
            vouched: HashSet::new(),
        };
        for mut r in rows {
            let checked = Store::check(&mut r.record.data, &r.record.custom, defs)
                .and_then(|()| encode_fields(&r.record.data));
            let errors = match checked {
                Ok(fields) => {
                    let json = serde_json::to_value(&r.record.data).unwrap_or_default();
                    let mut keys = r.keys;
                    for col in natural {
                        if let Some(v) = key_text(col, &json[*col]) {
                            keys.push(format!("{col}:{v}"));
                        }
                    }
                    batch.rows.push(PreparedRow {
                        row: r.row,
                        record: r.record,
                        keys,
                        fields,
                    });
                    continue;
                }
                Err(StoreError::Invalid(errors)) => errors,
                Err(e) => ValidationErrors::single("record", "invalid", e.to_string()),
            };
            batch.failed.push((r.row, RowOutcome::Failed { errors }));
        }
        batch
    }
}

/// Write the fields the row sets (not empty) over `target`.
fn overlay<T: Entity>(target: &mut Record<T>, row: &NewRecord<T>) -> Result<()> {
    let mut data = serde_json::to_value(&target.data).unwrap_or_default();
    if let (Value::Object(d), Ok(Value::Object(new))) = (&mut data, serde_json::to_value(&row.data))
    {
        for (k, v) in new {
            let empty = v.is_null() || v.as_array().is_some_and(Vec::is_empty);
            if !empty {
                d.insert(k, v);
            }
        }
    }
    target.data = serde_json::from_value(data).map_err(|e| {
        StoreError::invalid("record", "invalid", format!("cannot merge the row: {e}"))
    })?;
    for (k, v) in &row.custom {
        if !v.is_null() {
            target.custom.insert(k.clone(), v.clone());
        }
    }
    Ok(())
}
