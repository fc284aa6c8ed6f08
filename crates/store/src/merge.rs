//! Duplicates and merge: a scan finds records of one entity (accounts, contacts, leads) that
//! look like the same customer and queues them as pairs for review; a merge folds one record
//! into another, moves everything that pointed at it, and can be undone.
//!
//! A merge is written as the survivor's `update`, one `merge` entry about the merged record
//! (which holds all an undo needs: the survivor's values before, the moved rows), and the
//! merged record's soft delete. An undo writes `restore`, `update` and `unmerge`.

use crate::changelog;
use crate::codec::kind_of;
use crate::db::{Kind, Tx, Val};
use crate::query::{self, Sql};
use crate::records::{now, require};
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use guanxi_domain::dedupe::{DuplicateKeys, Keys, Reason, name_similarity};

use guanxi_domain::entity::all_defs;
use guanxi_domain::filter::MAX_LIMIT;
use guanxi_domain::record::CustomValues;
use guanxi_domain::{Actor, Entity, EntityDef, FieldType, Id, Record, Right};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::hash::{DefaultHasher, Hash, Hasher};
use uuid::Uuid;

/// What a scan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    /// Candidate pairs among the records the actor sees, queued before or not.
    pub pairs_found: u64,
    /// Pairs queued by this scan: not offered before in any status.
    pub new: u64,
}

/// An open pair in the review queue, with both records as the API shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicatePair {
    pub id: Id,
    pub entity: String,
    pub a: Value,
    pub b: Value,
    /// 0–1: how sure the scan is that both are one customer.
    pub score: f64,
    /// What matched: `credit_code`, `email`, `phone`, `company_name`, `name`.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergeOutcome {
    /// The surviving record after the merge.
    pub survivor: Value,
    /// The rows moved from the merged record to the survivor, by `table.column`.
    pub relinked: BTreeMap<String, Vec<Id>>,
    /// The change-log position of the `merge` entry.
    pub seq: i64,
}

/// Run `$call` (a future) with `$T` the mergeable entity named `$entity`.
macro_rules! mergeable {
    ($entity:expr, $T:ident => $call:expr) => {{
        let entity: &str = $entity;
        let mergeable = guanxi_domain::entity::def_by_name(entity).filter(|d| d.duplicates.is_some());
        guanxi_domain::with_entity!(
            mergeable.map_or("", |d| d.name),
            $T => $call.await,
            _ => Err(StoreError::invalid(
                "entity",
                "unsupported",
                format!("duplicates are found and merged for {}, not '{entity}'", mergeable_names()),
            ))
        )
    }};
}

/// The entities duplicates are looked for in, for messages: `account, contact, lead`.
fn mergeable_names() -> String {
    guanxi_domain::entity::mergeable()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Find candidate duplicates among the live records of `entity` the actor sees and queue
    /// the pairs not queued before.
    pub async fn scan_duplicates(&self, actor: &Actor, entity: &str) -> Result<ScanReport> {
        mergeable!(entity, T => self.scan_as::<T>(actor))
    }

    /// Up to `limit` open pairs of `entity`, best first, whose records are both live and
    /// visible to the actor.
    pub async fn duplicate_queue(
        &self,
        actor: &Actor,
        entity: &str,
        limit: u32,
    ) -> Result<Vec<DuplicatePair>> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(StoreError::invalid(
                "limit",
                "out_of_range",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        mergeable!(entity, T => self.queue_as::<T>(actor, limit))
    }

    /// Take a pair off the queue for good: a later scan does not offer it again.
    pub async fn dismiss_duplicate(&self, actor: &Actor, candidate_id: Id) -> Result<()> {
        let rows = self
            .db
            .fetch(
                "SELECT entity, a_id, b_id, status FROM duplicate_candidates WHERE id = $1",
                vec![Val::Uuid(candidate_id.0)],
                &[Kind::Text, Kind::Uuid, Kind::Uuid, Kind::Text],
            )
            .await?;
        let not_found = || StoreError::NotFound {
            entity: "duplicate_candidate",
            id: candidate_id,
        };
        let mut row = rows.into_iter().next().ok_or_else(not_found)?.into_iter();
        let mut next = || row.next().unwrap_or(Val::Null(Kind::Text));
        let (entity, a, b) = (next().into_text().unwrap_or_default(), next(), next());
        let pair = (
            Id(a.as_uuid().unwrap_or_default()),
            Id(b.as_uuid().unwrap_or_default()),
        );
        mergeable!(entity.as_str(), T => self.may_decide::<T>(actor, pair)).map_err(
            |e| match e {
                StoreError::NotFound { .. } => not_found(),
                e => e,
            },
        )?;
        let mut tx = self.db.begin().await?;
        let n = tx
            .exec(
                "UPDATE duplicate_candidates SET status = 'dismissed', decided_at = $1, \
                 decided_by = $2 WHERE id = $3 AND status = 'open'",
                vec![
                    Val::Ts(now()),
                    Val::Uuid(actor.user_id.0),
                    Val::Uuid(candidate_id.0),
                ],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::invalid(
                "status",
                "not_open",
                "this pair was already dismissed or merged",
            ));
        }
        tx.commit().await
    }

    /// Fold `merged` into `survivor`: the survivor takes the fields named in
    /// `take_from_merged` (custom ones as `custom.<key>`) from the merged record and the tags
    /// of both; every row that referred to the merged record refers to the survivor; the
    /// merged record goes to the recycle bin. One transaction.
    pub async fn merge(
        &self,
        actor: &Actor,
        entity: &str,
        survivor: Id,
        merged: Id,
        take_from_merged: &[String],
    ) -> Result<MergeOutcome> {
        mergeable!(entity, T => self.merge_as::<T>(actor, survivor, merged, take_from_merged))
    }

    /// Undo the latest merge of `merged`: move the rows back, give the survivor its values
    /// from before and bring the merged record back. Refused with a conflict when the
    /// survivor changed since, or the merged record is live again. Returns the restored record
    /// and its entity.
    pub async fn undo_merge(&self, actor: &Actor, merged: Id) -> Result<(&'static str, Value)> {
        let entry = changelog::for_record(&self.db, merged)
            .await?
            .into_iter()
            .rev()
            .find(|e| e.action == "merge")
            .ok_or(StoreError::NotFound {
                entity: "merge",
                id: merged,
            })?;
        let log: MergeLog = entry
            .after
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| {
                StoreError::Corrupt(format!("merge entry {} is unreadable", entry.seq))
            })?;
        mergeable!(entry.entity.as_str(), T => async {
            let restored = self.undo_as::<T>(actor, merged, entry.seq, log).await?;
            Ok((T::DEF.name, restored))
        })
    }
}

// ---- Scanning ----------------------------------------------------------------------------

/// Groups sharing a key larger than this are skipped: a key that many records share (a
/// switchboard number, a placeholder e-mail) says nothing, and pairing them is quadratic.
const MAX_GROUP: usize = 50;
/// Person names at least this alike count as matching names.
const NAME_MATCH: f64 = 0.85;

/// A reason's place in a pair's mask of reasons.
fn bit(r: Reason) -> u8 {
    1 << r as u8
}

/// What a scan reads of an entity, from its description in the registry.
struct Blocking {
    /// `id`, `name`, then what the keys read.
    columns: String,
    kinds: Vec<Kind>,
    spec: &'static DuplicateKeys,
}

impl Blocking {
    fn of(def: &EntityDef, spec: &'static DuplicateKeys) -> Blocking {
        let mut columns = String::from(r#""id", "name""#);
        let mut kinds = vec![Kind::Uuid, Kind::Text];
        for f in spec.reads {
            columns.push_str(&format!(r#", "{f}""#));
            kinds.push(def.field(f).map_or(Kind::Text, |f| kind_of(f.ty)));
        }
        Blocking {
            columns,
            kinds,
            spec,
        }
    }
}

fn text(v: &Val) -> Option<&str> {
    match v {
        Val::Text(s) if !s.trim().is_empty() => Some(s),
        _ => None,
    }
}

/// Every record's keys as hashes, sorted so records sharing a key sit side by side: 16
/// bytes a key instead of a map of strings, so a million accounts fit in well under 100 MB.
/// (A 64-bit hash collision, about one in 10^7 scans of a million records, only adds a
/// candidate for a person to dismiss.)
#[derive(Default)]
struct Blocks {
    ids: Vec<Uuid>,
    /// Person names, for grading pairs; empty for companies.
    names: Vec<Box<str>>,
    keys: Vec<(u64, u32, Reason)>,
    /// A row's values as text, reused from row to row.
    texts: Vec<String>,
}

impl Blocks {
    fn add(&mut self, b: &Blocking, row: Vec<Val>, scratch: &mut Keys) {
        let Some(id) = row[0].as_uuid() else { return };
        let name = text(&row[1]).unwrap_or("");
        self.texts.resize(row.len() - 2, String::new());
        for (t, v) in self.texts.iter_mut().zip(&row[2..]) {
            t.clear();
            match v {
                Val::Uuid(u) => write!(t, "{u}").unwrap_or_default(),
                v => t.push_str(text(v).unwrap_or("")),
            }
        }
        let values: Vec<Option<&str>> = self
            .texts
            .iter()
            .map(|t| (!t.is_empty()).then_some(t.as_str()))
            .collect();
        scratch.clear();
        (b.spec.keys)(name, &values, scratch);
        scratch.sort();
        scratch.dedup();
        let index = self.ids.len() as u32;
        self.ids.push(id);
        self.names.push(if b.spec.person {
            name.into()
        } else {
            "".into()
        });
        for (reason, key) in scratch.iter() {
            let mut h = DefaultHasher::new();
            (*reason as u8, key).hash(&mut h);
            self.keys.push((h.finish(), index, *reason));
        }
    }

    /// Pairs of record indexes (smaller id first) and the reasons they were paired for.
    fn pairs(&mut self) -> HashMap<(u32, u32), u8> {
        self.keys.sort_unstable();
        let mut out: HashMap<(u32, u32), u8> = HashMap::new();
        for group in self.keys.chunk_by(|x, y| x.0 == y.0) {
            if group.len() > MAX_GROUP {
                continue;
            }
            for (i, x) in group.iter().enumerate() {
                for y in &group[i + 1..] {
                    let pair = if self.ids[x.1 as usize] < self.ids[y.1 as usize] {
                        (x.1, y.1)
                    } else {
                        (y.1, x.1)
                    };
                    *out.entry(pair).or_default() |= bit(x.2);
                }
            }
        }
        out
    }
}

struct Candidate {
    a: Uuid,
    b: Uuid,
    score: f64,
    reasons: Vec<&'static str>,
}

/// Score a pair: reasons combine like independent evidence, 1 − Π(1 − weight). Person names
/// are a reason when they are alike, whichever key paired the records.
fn grade(mask: u8, names: Option<(&str, &str)>) -> Option<(f64, Vec<&'static str>)> {
    let mut mask = mask;
    let mut similarity = 1.0;
    if let Some((a, b)) = names {
        similarity = name_similarity(a, b);
        mask &= !bit(Reason::Name);
        if similarity >= NAME_MATCH {
            mask |= bit(Reason::Name);
        }
    }
    let found: Vec<Reason> = Reason::ALL
        .into_iter()
        .filter(|r| mask & bit(*r) != 0)
        .collect();
    if found.is_empty() {
        return None;
    }
    let unlikely: f64 = found.iter().map(|r| 1.0 - r.weight(similarity)).product();
    let score = ((1.0 - unlikely) * 1000.0).round() / 1000.0;
    Some((score, found.into_iter().map(Reason::label).collect()))
}

impl Store {
    async fn scan_as<T: Entity>(&self, actor: &Actor) -> Result<ScanReport> {
        let def = T::DEF;
        require(actor, def.name, Right::Read)?;
        let Some(keys) = def.duplicates else {
            let why = format!("duplicates are not looked for in {}", def.name);
            return Err(StoreError::invalid("entity", "unsupported", why));
        };
        let spec = Blocking::of(def, keys);
        let mut sql = Sql::default();
        let scope = query::scope(def, actor, &mut sql);
        let text = format!(
            "SELECT {} FROM {} WHERE deleted_at IS NULL AND {scope}",
            spec.columns, def.table
        );
        let mut blocks = Blocks::default();
        let mut scratch = Keys::new();
        self.db
            .reader()
            .await?
            .for_each(&text, sql.params, &spec.kinds, |row| {
                blocks.add(&spec, row, &mut scratch);
                Ok(())
            })
            .await?;
        let mut candidates = vec![];
        for ((i, j), mask) in blocks.pairs() {
            let (i, j) = (i as usize, j as usize);
            let names = spec
                .spec
                .person
                .then(|| (&*blocks.names[i], &*blocks.names[j]));
            if let Some((score, reasons)) = grade(mask, names) {
                let (a, b) = (blocks.ids[i], blocks.ids[j]);
                candidates.push(Candidate {
                    a,
                    b,
                    score,
                    reasons,
                });
            }
        }
        let pairs_found = candidates.len() as u64;
        let new = self.queue_candidates(def.name, candidates).await?;
        Ok(ScanReport { pairs_found, new })
    }

    /// Insert the pairs not queued before, in any status; returns how many were new.
    async fn queue_candidates(&self, entity: &str, candidates: Vec<Candidate>) -> Result<u64> {
        const ROWS_PER_STATEMENT: usize = 200;
        let at = now();
        let mut tx = self.db.begin().await?;
        let mut new = 0;
        for chunk in candidates.chunks(ROWS_PER_STATEMENT) {
            let mut sql = Sql::default();
            let mut tuples = Vec::with_capacity(chunk.len());
            for c in chunk {
                let vals = [
                    Val::Uuid(Id::new().0),
                    Val::Text(entity.into()),
                    Val::Uuid(c.a),
                    Val::Uuid(c.b),
                    Val::Float(c.score),
                    Val::Text(json!(c.reasons).to_string()),
                    Val::Text("open".into()),
                    Val::Ts(at),
                ];
                let ps: Vec<String> = vals.into_iter().map(|v| sql.bind(v)).collect();
                tuples.push(format!("({})", ps.join(", ")));
            }
            let text = format!(
                "INSERT INTO duplicate_candidates \
                 (id, entity, a_id, b_id, score, reasons, status, created_at) VALUES {} \
                 ON CONFLICT (entity, a_id, b_id) DO NOTHING",
                tuples.join(", ")
            );
            new += tx.exec(&text, sql.params).await?;
        }
        tx.commit().await?;
        Ok(new)
    }
}

// ---- The queue ---------------------------------------------------------------------------

/// A predicate: the record `column` names is live and in the actor's scope (`scope` was
/// built for `table`, whose columns it names unqualified).
fn live_in(table: &str, column: &str, scope: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM {table} x WHERE x.id = {column} AND x.deleted_at IS NULL AND {scope})"
    )
}

impl Store {
    async fn queue_as<T: Entity>(&self, actor: &Actor, limit: u32) -> Result<Vec<DuplicatePair>> {
        let def = T::DEF;
        require(actor, def.name, Right::Read)?;
        let mut sql = Sql::default();
        let entity = sql.bind(Val::Text(def.name.into()));
        let a = live_in(def.table, "c.a_id", &query::scope(def, actor, &mut sql));
        let b = live_in(def.table, "c.b_id", &query::scope(def, actor, &mut sql));
        let text = format!(
            "SELECT c.id, c.a_id, c.b_id, c.score, c.reasons FROM duplicate_candidates c \
             WHERE c.entity = {entity} AND c.status = 'open' AND {a} AND {b} \
             ORDER BY c.score DESC, c.id LIMIT {limit}"
        );
        let cols = [Kind::Uuid, Kind::Uuid, Kind::Uuid, Kind::Float, Kind::Text];
        let rows = self.db.fetch(&text, sql.params, &cols).await?;
        let ids: Vec<Uuid> = rows
            .iter()
            .flat_map(|r| [r[1].as_uuid(), r[2].as_uuid()])
            .flatten()
            .collect();
        let records = self.visible_json::<T>(actor, &ids).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                // Both were visible a moment ago; one may have gone since.
                let a = records.get(&r[1].as_uuid()?)?.clone();
                let b = records.get(&r[2].as_uuid()?)?.clone();
                let reasons = r[4].clone().into_text().unwrap_or_default();
                Some(DuplicatePair {
                    id: Id(r[0].as_uuid()?),
                    entity: def.name.into(),
                    a,
                    b,
                    score: r[3].as_f64().unwrap_or(0.0),
                    reasons: serde_json::from_str(&reasons).unwrap_or_default(),
                })
            })
            .collect())
    }

    /// The live records among `ids` the actor sees, as JSON.
    async fn visible_json<T: Entity>(
        &self,
        actor: &Actor,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Value>> {
        let ids: Vec<Id> = ids.iter().map(|i| Id(*i)).collect();
        Ok(self
            .get_many::<T>(actor, &ids)
            .await?
            .into_iter()
            .map(|r| (r.meta.id.0, r.to_json()))
            .collect())
    }

    /// A queue decision needs the right to change the entity and both records in sight
    /// (live or not: one may have been merged away meanwhile).
    async fn may_decide<T: Entity>(&self, actor: &Actor, (a, b): (Id, Id)) -> Result<()> {
        require_unseen(actor, T::DEF.name, Right::Update)?;
        self.get_any::<T>(actor, a).await?;
        self.get_any::<T>(actor, b).await?;
        require(actor, T::DEF.name, Right::Update)
    }
}

// ---- Merging -----------------------------------------------------------------------------

/// The `after` of a `merge` entry: what happened, and all an undo needs.
#[derive(Debug, Serialize, Deserialize)]
struct MergeLog {
    survivor: Id,
    /// The survivor as it was before the merge.
    survivor_before: Value,
    relinked: BTreeMap<String, Vec<Id>>,
    took: Vec<String>,
    /// The survivor's and the merged record's versions the merge left: an undo requires
    /// both unchanged.
    survivor_version: i64,
    merged_version: i64,
    /// Queue pairs the merge closed, reopened by an undo.
    candidates: Vec<Id>,
}

/// Refuse outright only a role that may not even read the entity; others learn about
/// rights after their records were found, so a 403 never tells that a record exists.
fn require_unseen(actor: &Actor, entity: &'static str, right: Right) -> Result<()> {
    if actor.may(entity, Right::Read) {
        Ok(())
    } else {
        require(actor, entity, right)
    }
}

/// Merging moves rows and deletes one record: it needs both rights.
fn require_merge(actor: &Actor, entity: &'static str) -> Result<()> {
    require(actor, entity, Right::Update)?;
    require(actor, entity, Right::Delete)
}

/// Every column that refers to records of `table`: (table, column, entity).
fn references(table: &str) -> Vec<(&'static str, &'static str, &'static str)> {
    all_defs()
        .iter()
        .flat_map(|d| {
            d.fields
                .iter()
                .filter(move |f| matches!(f.ty, FieldType::Ref(t) if t == table))
                .map(move |f| (d.table, f.name, d.name))
        })
        .collect()
}

fn fields_of<T: Entity>(data: &T) -> Result<Map<String, Value>> {
    match serde_json::to_value(data) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(StoreError::Corrupt(format!(
            "{} is not an object",
            T::DEF.name
        ))),
    }
}

/// The survivor with the chosen fields of the merged record and the tags of both. A
/// reference of the survivor to either record (its parent was the merged one) is dropped:
/// after the merge it would point at itself.
fn combined<T: Entity>(s: &Record<T>, m: &Record<T>, take: &[String]) -> Result<Record<T>> {
    let def = T::DEF;
    let mut fields = fields_of(&s.data)?;
    let theirs = fields_of(&m.data)?;
    let mut custom = s.custom.clone();
    for name in take {
        if let Some(key) = name.strip_prefix("custom.") {
            match m.custom.get(key) {
                Some(v) => custom.insert(key.to_string(), v.clone()),
                None => custom.remove(key),
            };
            continue;
        }
        match def.field(name) {
            Some(f) if !f.computed => {
                let v = theirs.get(name).cloned().unwrap_or(Value::Null);
                fields.insert(name.clone(), v);
            }
            _ => {
                return Err(StoreError::invalid(
                    "take_from_merged",
                    "unknown_field",
                    format!("{} has no field '{name}' to take", def.name),
                ));
            }
        }
    }
    for f in def.fields {
        let v = fields.get_mut(f.name);
        match (f.ty, v) {
            (FieldType::Tags, Some(Value::Array(mine))) if !f.computed => {
                for tag in theirs[f.name].as_array().into_iter().flatten() {
                    if !mine.contains(tag) {
                        mine.push(tag.clone());
                    }
                }
            }
            (FieldType::Ref(t), Some(v)) if t == def.table => {
                let either = [s.meta.id, m.meta.id].map(|i| Value::String(i.to_string()));
                if either.contains(v) {
                    *v = Value::Null;
                }
            }
            _ => {}
        }
    }
    let data = serde_json::from_value(Value::Object(fields))
        .map_err(|e| StoreError::invalid("take_from_merged", "invalid", e.to_string()))?;
    Ok(Record {
        meta: s.meta.clone(),
        data,
        custom,
    })
}

/// The entity's fields and custom values from a record's JSON (as [`Record::to_json`]
/// wrote it into the change log).
fn from_json<T: Entity>(v: &Value) -> Result<(T, CustomValues)> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("merge entry: {what}"));
    let obj = v
        .as_object()
        .ok_or_else(|| corrupt("survivor is not an object"))?;
    let fields: Map<String, Value> = T::DEF
        .fields
        .iter()
        .filter_map(|f| Some((f.name.to_string(), obj.get(f.name)?.clone())))
        .collect();
    let data =
        serde_json::from_value(Value::Object(fields)).map_err(|e| corrupt(&e.to_string()))?;
    let custom = match obj.get("custom") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    Ok((data, custom))
}

/// Point every row referring to `from` at `to` instead, bumping its version so concurrent
/// edits of it are detected. `to` itself is skipped (its own reference was settled by
/// [`combined`]). Deleted rows move too, so restoring one later finds a live record.
async fn relink(
    tx: &mut Tx,
    table: &str,
    from: Id,
    to: Id,
    at: DateTime<Utc>,
) -> Result<BTreeMap<String, Vec<Id>>> {
    let mut out = BTreeMap::new();
    for (t, column, _) in references(table) {
        let mut sql = Sql::default();
        let text = format!(
            "UPDATE {t} SET \"{column}\" = {}, version = version + 1, updated_at = {} \
             WHERE \"{column}\" = {} AND id <> {} RETURNING id",
            sql.bind(Val::Uuid(to.0)),
            sql.bind(Val::Ts(at)),
            sql.bind(Val::Uuid(from.0)),
            sql.bind(Val::Uuid(to.0)),
        );
        let mut ids: Vec<Id> = tx
            .fetch(&text, sql.params, &[Kind::Uuid])
            .await?
            .iter()
            .filter_map(|r| r[0].as_uuid().map(Id))
            .collect();
        if !ids.is_empty() {
            ids.sort();
            out.insert(format!("{t}.{column}"), ids);
        }
    }
    Ok(out)
}

/// Undo [`relink`]: the listed rows that still refer to `from` refer to `to` again.
async fn relink_back(
    tx: &mut Tx,
    table: &str,
    moved: &BTreeMap<String, Vec<Id>>,
    from: Id,
    to: Id,
    at: DateTime<Utc>,
) -> Result<BTreeMap<String, Vec<Id>>> {
    const IDS_PER_STATEMENT: usize = 500;
    let known = references(table);
    let mut out = BTreeMap::new();
    for (place, ids) in moved {
        // The names come from the log: only known references are spliced into SQL.
        let (t, column, _) = *known
            .iter()
            .find(|(t, c, _)| format!("{t}.{c}") == *place)
            .ok_or_else(|| StoreError::Corrupt(format!("merge entry names '{place}'")))?;
        let mut back = vec![];
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let mut sql = Sql::default();
            let head = format!(
                "UPDATE {t} SET \"{column}\" = {}, version = version + 1, updated_at = {} \
                 WHERE \"{column}\" = {}",
                sql.bind(Val::Uuid(to.0)),
                sql.bind(Val::Ts(at)),
                sql.bind(Val::Uuid(from.0)),
            );
            let list: Vec<String> = chunk.iter().map(|i| sql.bind(Val::Uuid(i.0))).collect();
            let text = format!("{head} AND id IN ({}) RETURNING id", list.join(", "));
            let rows = tx.fetch(&text, sql.params, &[Kind::Uuid]).await?;
            back.extend(rows.iter().filter_map(|r| r[0].as_uuid().map(Id)));
        }
        if !back.is_empty() {
            back.sort();
            out.insert(place.clone(), back);
        }
    }
    Ok(out)
}

/// Move a locked record to the recycle bin or back, without logging: the caller's entry
/// covers it.
async fn set_deleted_in<T: Entity>(
    tx: &mut Tx,
    record: &Record<T>,
    delete: bool,
    at: DateTime<Utc>,
) -> Result<Record<T>> {
    let mut after = record.clone();
    after.meta.version += 1;
    after.meta.updated_at = at;
    after.meta.deleted_at = delete.then_some(at);
    tx.exec(
        &format!(
            "UPDATE {} SET deleted_at = $1, version = $2, updated_at = $3 WHERE id = $4",
            T::DEF.table
        ),
        vec![
            Val::opt_ts(after.meta.deleted_at),
            Val::Int(after.meta.version),
            Val::Ts(at),
            Val::Uuid(record.meta.id.0),
        ],
    )
    .await?;
    Ok(after)
}

/// Close the open queue pairs of a merged record; returns their ids.
async fn close_pairs(
    tx: &mut Tx,
    entity: &str,
    merged: Id,
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<Vec<Id>> {
    let rows = tx
        .fetch(
            "UPDATE duplicate_candidates SET status = 'merged', decided_at = $1, decided_by = $2 \
             WHERE entity = $3 AND status = 'open' AND (a_id = $4 OR b_id = $5) RETURNING id",
            vec![
                Val::Ts(at),
                Val::Uuid(actor.user_id.0),
                Val::Text(entity.into()),
                Val::Uuid(merged.0),
                Val::Uuid(merged.0),
            ],
            &[Kind::Uuid],
        )
        .await?;
    Ok(rows.iter().filter_map(|r| r[0].as_uuid().map(Id)).collect())
}

/// Reopen the queue pairs a merge closed.
async fn reopen_pairs(tx: &mut Tx, ids: &[Id]) -> Result<()> {
    for id in ids {
        tx.exec(
            "UPDATE duplicate_candidates SET status = 'open', decided_at = NULL, decided_by = NULL \
             WHERE id = $1 AND status = 'merged'",
            vec![Val::Uuid(id.0)],
        )
        .await?;
    }
    Ok(())
}

impl Store {
    /// Lock two records in id order (two merges of one pair in opposite directions must
    /// not deadlock), each at the version just read; `deleted` selects the recycle bin.
    async fn lock_both<T: Entity>(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        first: (&Record<T>, bool),
        second: (&Record<T>, bool),
    ) -> Result<(Record<T>, Record<T>)> {
        let (x, y) = if first.0.meta.id < second.0.meta.id {
            (first, second)
        } else {
            (second, first)
        };
        let x = self
            .locked::<T>(tx, actor, x.0.meta.id, x.0.meta.version, x.1)
            .await?;
        let y = self
            .locked::<T>(tx, actor, y.0.meta.id, y.0.meta.version, y.1)
            .await?;
        Ok(if x.meta.id == first.0.meta.id {
            (x, y)
        } else {
            (y, x)
        })
    }

    /// After a commit that touched `entity` and the tables in `moved`.
    fn written_all(&self, entity: &str, moved: &BTreeMap<String, Vec<Id>>, table: &str) {
        self.written(entity);
        for (t, c, e) in references(table) {
            if moved.contains_key(&format!("{t}.{c}")) {
                self.written(e);
            }
        }
    }

    async fn merge_as<T: Entity>(
        &self,
        actor: &Actor,
        survivor: Id,
        merged: Id,
        take: &[String],
    ) -> Result<MergeOutcome> {
        let def = T::DEF;
        if survivor == merged {
            return Err(StoreError::invalid(
                "merged",
                "invalid",
                "a record cannot be merged into itself",
            ));
        }
        require_unseen(actor, def.name, Right::Update)?;
        let defs = self.custom_fields(def.name).await?;
        let s = self.get::<T>(actor, survivor).await?;
        let m = self.get::<T>(actor, merged).await?;
        require_merge(actor, def.name)?;
        let mut tx = self.db.begin().await?;
        let (s, m) = self
            .lock_both(&mut tx, actor, (&s, false), (&m, false))
            .await?;
        let mut after = combined(&s, &m, take)?;
        Self::check(&mut after.data, &after.custom, &defs)?;
        let after = Self::rewrite_in(&mut tx, actor, &s, after).await?;
        let at = now();
        let relinked = relink(&mut tx, def.table, merged, survivor, at).await?;
        let gone = set_deleted_in(&mut tx, &m, true, at).await?;
        let candidates = close_pairs(&mut tx, def.name, merged, actor, at).await?;
        let log = MergeLog {
            survivor,
            survivor_before: s.to_json(),
            relinked: relinked.clone(),
            took: take.to_vec(),
            survivor_version: after.meta.version,
            merged_version: gone.meta.version,
            candidates,
        };
        let log = serde_json::to_value(&log).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (who, before) = (actor.user_id, m.to_json());
        let seq = changelog::append(
            &mut tx,
            at,
            who,
            def.name,
            merged,
            "merge",
            Some(&before),
            Some(&log),
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::from_write(e, def.name))?;
        self.written_all(def.name, &relinked, def.table);
        Ok(MergeOutcome {
            survivor: after.to_json(),
            relinked,
            seq,
        })
    }

    async fn undo_as<T: Entity>(
        &self,
        actor: &Actor,
        merged: Id,
        merge_seq: i64,
        log: MergeLog,
    ) -> Result<Value> {
        let def = T::DEF;
        require_unseen(actor, def.name, Right::Update)?;
        let defs = self.custom_fields(def.name).await?;
        let s = self.get_any::<T>(actor, log.survivor).await?;
        let m = self.get_any::<T>(actor, merged).await?;
        require_merge(actor, def.name)?;
        let changed = |id, expected, actual| StoreError::Conflict {
            entity: def.name,
            id,
            expected,
            actual,
        };
        if s.meta.deleted_at.is_some() || s.meta.version != log.survivor_version {
            return Err(changed(log.survivor, log.survivor_version, s.meta.version));
        }
        if m.meta.deleted_at.is_none() || m.meta.version != log.merged_version {
            return Err(changed(merged, log.merged_version, m.meta.version));
        }
        let mut tx = self.db.begin().await?;
        let (s, m) = self
            .lock_both(&mut tx, actor, (&s, false), (&m, true))
            .await?;
        let at = now();
        let moved =
            relink_back(&mut tx, def.table, &log.relinked, log.survivor, merged, at).await?;
        // The merged record first: the survivor's old values may refer to it (its parent).
        let restored = set_deleted_in(&mut tx, &m, false, at).await?;
        let who = actor.user_id;
        let (before, after) = (m.to_json(), restored.to_json());
        changelog::append(
            &mut tx,
            at,
            who,
            def.name,
            merged,
            "restore",
            Some(&before),
            Some(&after),
        )
        .await?;
        let (data, custom) = from_json::<T>(&log.survivor_before)?;
        let mut back = Record {
            data,
            custom,
            ..s.clone()
        };
        Self::check(&mut back.data, &back.custom, &defs)?;
        Self::rewrite_in(&mut tx, actor, &s, back).await?;
        reopen_pairs(&mut tx, &log.candidates).await?;
        let what = json!({ "merge_seq": merge_seq, "survivor": log.survivor });
        let done = json!({ "survivor": log.survivor, "moved_back": moved });
        changelog::append(
            &mut tx,
            now(),
            who,
            def.name,
            merged,
            "unmerge",
            Some(&what),
            Some(&done),
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::from_write(e, def.name))?;
        self.written_all(def.name, &moved, def.table);
        Ok(after)
    }
}
