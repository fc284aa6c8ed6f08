//! The change log: every write appends one entry in its own transaction. Entries are
//! numbered without gaps and hash-chained (each hash covers the previous one), so editing,
//! removing or reordering any entry is detected by [`verify`].

use crate::db::{Backend, Conn, Db, Kind, Result, Tx, Val};
use chrono::{DateTime, Utc};
use guanxi_domain::Id;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ChangeEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Id,
    pub entity: String,
    pub record_id: Id,
    /// `create`, `update`, `delete`, `restore`, or `import` for a bulk load.
    pub action: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    #[serde(skip)]
    pub prev_hash: String,
    #[serde(skip)]
    pub hash: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub entries: i64,
    /// The first entry whose number, link or hash is wrong; `None` if the chain is intact.
    pub first_broken: Option<i64>,
    pub reason: Option<String>,
}

struct Raw<'a> {
    seq: i64,
    at: DateTime<Utc>,
    actor: Id,
    entity: &'a str,
    record: Id,
    action: &'a str,
    before: Option<&'a str>,
    after: Option<&'a str>,
}

fn digest(prev: &str, r: &Raw<'_>) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &r.seq.to_string(),
        &r.at.timestamp_micros().to_string(),
        &r.actor.to_string(),
        r.entity,
        &r.record.to_string(),
        r.action,
        r.before.unwrap_or(""),
        r.after.unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn append(
    tx: &mut Tx,
    at: DateTime<Utc>,
    actor: Id,
    entity: &str,
    record: Id,
    action: &str,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<i64> {
    let lock = match tx.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE",
    };
    let head = tx
        .fetch(
            &format!("SELECT seq, hash FROM chain_head WHERE one = 1{lock}"),
            vec![],
            &[Kind::Int, Kind::Text],
        )
        .await?;
    let mut head = head.into_iter().next().unwrap_or_default().into_iter();
    let prev_seq = head.next().and_then(|v| v.as_i64()).unwrap_or(0);
    let prev_hash = head.next().and_then(Val::into_text).unwrap_or_default();
    let (before, after) = (before.map(Value::to_string), after.map(Value::to_string));
    let raw = Raw {
        seq: prev_seq + 1,
        at,
        actor,
        entity,
        record,
        action,
        before: before.as_deref(),
        after: after.as_deref(),
    };
    let hash = digest(&prev_hash, &raw);
    let text = |s: &Option<String>| s.clone().map_or(Val::Null(Kind::Text), Val::Text);
    tx.exec(
        "INSERT INTO changes (seq, at, actor_id, entity, record_id, action, before, after, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        vec![
            Val::Int(raw.seq),
            Val::Ts(at),
            Val::Uuid(actor.0),
            Val::Text(entity.into()),
            Val::Uuid(record.0),
            Val::Text(action.into()),
            text(&before),
            text(&after),
            Val::Text(prev_hash),
            Val::Text(hash.clone()),
        ],
    )
    .await?;
    tx.exec(
        "UPDATE chain_head SET seq = $1, hash = $2 WHERE one = 1",
        vec![Val::Int(raw.seq), Val::Text(hash)],
    )
    .await?;
    Ok(raw.seq)
}

const COLS: &str = "seq, at, actor_id, entity, record_id, action, before, after, prev_hash, hash";
const KINDS: [Kind; 10] = [
    Kind::Int,
    Kind::Ts,
    Kind::Uuid,
    Kind::Text,
    Kind::Uuid,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
];

struct Stored {
    seq: i64,
    at: DateTime<Utc>,
    actor: Id,
    entity: String,
    record: Id,
    action: String,
    before: Option<String>,
    after: Option<String>,
    prev_hash: String,
    hash: String,
}

fn stored(row: Vec<Val>) -> Stored {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Val::Null(Kind::Text));
    Stored {
        seq: next().as_i64().unwrap_or(0),
        at: next().as_ts().unwrap_or_default(),
        actor: Id(next().as_uuid().unwrap_or_default()),
        entity: next().into_text().unwrap_or_default(),
        record: Id(next().as_uuid().unwrap_or_default()),
        action: next().into_text().unwrap_or_default(),
        before: next().into_text(),
        after: next().into_text(),
        prev_hash: next().into_text().unwrap_or_default(),
        hash: next().into_text().unwrap_or_default(),
    }
}

fn parse(s: &Option<String>) -> Option<Value> {
    s.as_deref().and_then(|s| serde_json::from_str(s).ok())
}

impl From<Stored> for ChangeEntry {
    fn from(s: Stored) -> Self {
        ChangeEntry {
            before: parse(&s.before),
            after: parse(&s.after),
            seq: s.seq,
            at: s.at,
            actor_id: s.actor,
            entity: s.entity,
            record_id: s.record,
            action: s.action,
            prev_hash: s.prev_hash,
            hash: s.hash,
        }
    }
}

/// One change as a follower of the log sees it: the entry itself, or, for a bulk import's one
/// entry, one `create` per record the import created (all with the import entry's `seq`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeEvent {
    /// The change-log entry this event comes from: events are delivered in its order.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Id,
    /// The entity's singular name (`account`).
    pub entity: String,
    pub record_id: Id,
    /// `create`, `update`, `delete`, `restore`, `merge`, … as the entry names it; `create`
    /// for each record of a bulk import.
    pub action: String,
    pub before: Option<Value>,
    /// For an import's records: the record as it is stored *now* (as `Record::to_json`
    /// gives it), which later entries may have changed since; the import entry itself keeps
    /// no per-record bodies.
    pub after: Option<Value>,
    /// Set when the event was expanded from a bulk import's entry.
    pub import: Option<ImportBatch>,
}

/// The bulk import an event came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportBatch {
    /// How many records the import entry created (its events, unless some were purged).
    pub count: i64,
    /// The import job, when the batch was part of one.
    pub job: Option<Id>,
}

/// What an `import` entry's summary names.
struct Summary {
    count: i64,
    /// The lowest and highest new id, when named.
    range: Option<(Id, Id)>,
    job: Option<Id>,
}

fn summary(after: &Option<Value>) -> Summary {
    let v = after.as_ref().unwrap_or(&Value::Null);
    let id = |k: &str| v[k].as_str().and_then(|t| Id::parse(t).ok());
    Summary {
        count: v["count"].as_i64().unwrap_or(0),
        // Ordered here too: entries written before the summary named lowest and highest
        // give the first and last record, which caller-chosen ids need not keep in order.
        range: id("first_id")
            .zip(id("last_id"))
            .map(|(a, b)| (a.min(b), a.max(b))),
        job: id("job"),
    }
}

/// Rows of one import's records read per query.
const IMPORT_CHUNK: i64 = 5_000;

/// Whole entries of the log as events, oldest first: what [`events_after`] read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangeEvents {
    pub events: Vec<ChangeEvent>,
    /// The last entry read, `None` when there was none. An entry may give no event (an
    /// import whose records were since purged), so a follower moves on to this, not to the
    /// last event's `seq`.
    pub through: Option<i64>,
}

/// Whole entries after `seq`, oldest first, as events (see [`ChangeEvent`]): about `limit`
/// events, and never an entry split, so an import larger than `limit` comes whole and alone.
pub(crate) async fn events_after(db: &Db, seq: i64, limit: i64) -> Result<ChangeEvents> {
    let limit = limit.max(1);
    // One connection for the whole read; an import's records are read while the entry
    // is in hand, a range query per chunk of its records.
    let mut conn = db.reader().await?;
    let rows = conn
        .fetch(
            &format!("SELECT {COLS} FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2"),
            vec![Val::Int(seq), Val::Int(limit)],
            &KINDS,
        )
        .await?;
    let mut out: Vec<ChangeEvent> = vec![];
    let mut through = None;
    let mut size = 0;
    for row in rows {
        let e: ChangeEntry = stored(row).into();
        if e.action != "import" {
            if size >= limit {
                break;
            }
            size += 1;
            through = Some(e.seq);
            out.push(ChangeEvent {
                seq: e.seq,
                at: e.at,
                actor_id: e.actor_id,
                entity: e.entity,
                record_id: e.record_id,
                action: e.action,
                before: e.before,
                after: e.after,
                import: None,
            });
            continue;
        }
        let s = summary(&e.after);
        if size > 0 && size + s.count > limit {
            break;
        }
        size += s.count.max(1);
        through = Some(e.seq);
        let Some(def) = guanxi_domain::entity::def_by_name(&e.entity) else {
            continue;
        };
        let batch = ImportBatch {
            count: s.count,
            job: s.job,
        };
        for (id, after) in imported(&mut conn, def, e.at, s.range).await? {
            out.push(ChangeEvent {
                seq: e.seq,
                at: e.at,
                actor_id: e.actor_id,
                entity: e.entity.clone(),
                record_id: id,
                action: "create".into(),
                before: None,
                after: Some(after),
                import: Some(batch.clone()),
            });
        }
    }
    Ok(ChangeEvents {
        events: out,
        through,
    })
}

/// The records one bulk import created, by id, as they are now: they share the entry's
/// time stamp and lie in its id range (a range of the primary key; the time stamp alone,
/// not indexed, would mean reading the whole table, which only entries without a range do).
async fn imported(
    conn: &mut Conn,
    def: &guanxi_domain::EntityDef,
    at: DateTime<Utc>,
    range: Option<(Id, Id)>,
) -> Result<Vec<(Id, Value)>> {
    let cols = crate::codec::all_cols(def);
    let kinds = crate::codec::kinds(&cols);
    let select = format!(
        "SELECT {} FROM {} WHERE created_at = $1",
        crate::codec::select_list(&cols),
        def.table
    );
    let mut out = vec![];
    // Keyset pages: after the last id read, up to the range's end.
    let (mut from, last) = match range {
        Some((first, last)) => (first.0, Some(last.0)),
        None => (uuid::Uuid::nil(), None),
    };
    let mut inclusive = true;
    loop {
        let mut params = vec![Val::Ts(at), Val::Uuid(from)];
        let lower = if inclusive { ">=" } else { ">" };
        let upper = match last {
            Some(l) => {
                params.push(Val::Uuid(l));
                " AND id <= $3"
            }
            None => "",
        };
        let rows = conn
            .fetch(
                &format!("{select} AND id {lower} $2{upper} ORDER BY id LIMIT {IMPORT_CHUNK}"),
                params,
                &kinds,
            )
            .await?;
        let n = rows.len() as i64;
        for row in rows {
            let json = crate::codec::decode_json(def, row)?;
            let id = json["id"].as_str().and_then(|s| Id::parse(s).ok());
            let id = id.ok_or_else(|| crate::StoreError::Corrupt("row without id".into()))?;
            from = id.0;
            out.push((id, json));
        }
        if n < IMPORT_CHUNK {
            return Ok(out);
        }
        inclusive = false;
    }
}

/// The number of the newest entry (0 for an empty log).
pub(crate) async fn last_seq(db: &Db) -> Result<i64> {
    let rows = db
        .fetch("SELECT MAX(seq) FROM changes", vec![], &[Kind::Int])
        .await?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|r| r[0].as_i64())
        .unwrap_or(0))
}

/// The newest `limit` entries about `record` with `action`, newest first; only those by
/// `actor` when given.
pub(crate) async fn latest_of_action(
    db: &Db,
    record: Id,
    action: &str,
    actor: Option<Id>,
    limit: u32,
) -> Result<Vec<ChangeEntry>> {
    let mut params = vec![Val::Uuid(record.0), Val::Text(action.into())];
    let by = match actor {
        Some(a) => {
            params.push(Val::Uuid(a.0));
            " AND actor_id = $3"
        }
        None => "",
    };
    let rows = db
        .fetch(
            &format!(
                "SELECT {COLS} FROM changes WHERE record_id = $1 AND action = $2{by} \
                 ORDER BY seq DESC LIMIT {limit}"
            ),
            params,
            &KINDS,
        )
        .await?;
    Ok(rows.into_iter().map(|r| stored(r).into()).collect())
}

/// The entries about one record, oldest first.
pub(crate) async fn for_record(db: &Db, record: Id) -> Result<Vec<ChangeEntry>> {
    let rows = db
        .fetch(
            &format!("SELECT {COLS} FROM changes WHERE record_id = $1 ORDER BY seq"),
            vec![Val::Uuid(record.0)],
            &KINDS,
        )
        .await?;
    Ok(rows.into_iter().map(|r| stored(r).into()).collect())
}

/// The newest entry about one record with this entity and action.
pub(crate) async fn latest(
    db: &Db,
    record: Id,
    entity: &str,
    action: &str,
) -> Result<Option<ChangeEntry>> {
    let rows = db
        .fetch(
            &format!(
                "SELECT {COLS} FROM changes WHERE record_id = $1 AND entity = $2 AND action = $3 \
                 ORDER BY seq DESC LIMIT 1"
            ),
            vec![
                Val::Uuid(record.0),
                Val::Text(entity.into()),
                Val::Text(action.into()),
            ],
            &KINDS,
        )
        .await?;
    Ok(rows.into_iter().next().map(|r| stored(r).into()))
}

/// The newest entries about one record made before `before`, newest first.
pub(crate) async fn for_record_before(
    conn: &mut Conn,
    record: Id,
    before: Option<DateTime<Utc>>,
    limit: u32,
) -> Result<Vec<ChangeEntry>> {
    let mut params = vec![Val::Uuid(record.0)];
    let time = match before {
        Some(t) => {
            params.push(Val::Ts(t));
            " AND at < $2"
        }
        None => "",
    };
    let rows = conn
        .fetch(
            &format!("SELECT {COLS} FROM changes WHERE record_id = $1{time} ORDER BY seq DESC LIMIT {limit}"),
            params,
            &KINDS,
        )
        .await?;
    Ok(rows.into_iter().map(|r| stored(r).into()).collect())
}

/// The newest `limit` entries about one record, newest first, and whether older ones exist:
/// one bounded read however long the record's history is.
pub(crate) async fn newest_for_record(
    conn: &mut Conn,
    record: Id,
    limit: u32,
) -> Result<(Vec<ChangeEntry>, bool)> {
    let mut items = for_record_before(conn, record, None, limit + 1).await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Ok((items, more))
}

/// Walk the whole chain in order and recompute every link.
pub(crate) async fn verify(db: &Db) -> Result<ChainReport> {
    const BATCH: i64 = 5_000;
    let mut prev_hash = String::new();
    let mut expected = 1i64;
    loop {
        let rows = db
            .fetch(
                &format!("SELECT {COLS} FROM changes WHERE seq >= $1 ORDER BY seq LIMIT {BATCH}"),
                vec![Val::Int(expected)],
                &KINDS,
            )
            .await?;
        let n = rows.len() as i64;
        for row in rows {
            let s = stored(row);
            let broken = |reason: &str| ChainReport {
                entries: s.seq,
                first_broken: Some(s.seq.min(expected)),
                reason: Some(reason.into()),
            };
            if s.seq != expected {
                return Ok(broken(&format!("entry {expected} is missing")));
            }
            if s.prev_hash != prev_hash {
                return Ok(broken("link to the previous entry does not match"));
            }
            let raw = Raw {
                seq: s.seq,
                at: s.at,
                actor: s.actor,
                entity: &s.entity,
                record: s.record,
                action: &s.action,
                before: s.before.as_deref(),
                after: s.after.as_deref(),
            };
            if digest(&prev_hash, &raw) != s.hash {
                return Ok(broken("content does not match its hash"));
            }
            prev_hash = s.hash;
            expected += 1;
        }
        if n < BATCH {
            break;
        }
    }
    let head = db
        .fetch(
            "SELECT seq, hash FROM chain_head WHERE one = 1",
            vec![],
            &[Kind::Int, Kind::Text],
        )
        .await?;
    let mut head = head.into_iter().next().unwrap_or_default().into_iter();
    let head_seq = head.next().and_then(|v| v.as_i64()).unwrap_or(0);
    let head_hash = head.next().and_then(Val::into_text).unwrap_or_default();
    if head_seq != expected - 1 || head_hash != prev_hash {
        return Ok(ChainReport {
            entries: expected - 1,
            first_broken: Some(expected),
            reason: Some(
                "the chain's head does not match its last entry (entries removed from the end)"
                    .into(),
            ),
        });
    }
    Ok(ChainReport {
        entries: expected - 1,
        first_broken: None,
        reason: None,
    })
}
