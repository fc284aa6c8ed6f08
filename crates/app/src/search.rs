//! The full-text index follows the change log: records in, search documents out. The
//! index stores the change-log position it has reached with each commit, so after a crash
//! or a restart it catches up from there; a record changed by an entry is read again as
//! it is now (live → upserted, gone or deleted → removed), so replaying an entry twice is
//! harmless.

use guanxi_domain::entities::{Account, Case, Contact, Interaction, Lead, Opportunity};
use guanxi_domain::filter::{Filter, ListQuery, MAX_LIMIT, Op};
use guanxi_domain::{Actor, Entity, Id, Record};
use guanxi_search::{Index, SearchDoc, Writer};
use guanxi_store::{ChangeRef, Store};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Entries read from the log per round.
const BATCH: i64 = 5_000;
/// How often the follower looks at the log when no write of this process woke it: writes
/// by other processes (a CLI import, another server on the same PostgreSQL) show this late.
const POLL: Duration = Duration::from_millis(250);

/// The searchable entities and what of each is searched.
struct Fields {
    entity: &'static str,
    title: &'static [&'static str],
    names: &'static [&'static str],
    text: &'static [&'static str],
    phones: &'static [&'static str],
    sensitive_phones: &'static [&'static str],
    emails: &'static [&'static str],
    /// The partner serving the record, for partners' scope.
    partner: Option<&'static str>,
}

const FIELDS: &[Fields] = &[
    Fields {
        entity: "account",
        title: &["name"],
        names: &["name"],
        text: &[
            "industry",
            "credit_code",
            "website",
            "province",
            "city",
            "district",
            "address",
            "tags",
        ],
        phones: &["phone"],
        sensitive_phones: &[],
        emails: &["email"],
        partner: Some("serving_partner_id"),
    },
    Fields {
        entity: "contact",
        title: &["name"],
        names: &["name"],
        text: &["title", "department", "wechat", "notes", "tags"],
        phones: &["phone", "fax"],
        sensitive_phones: &["mobile"],
        emails: &["email"],
        partner: None,
    },
    Fields {
        entity: "lead",
        title: &["name", "company"],
        names: &["name", "company"],
        text: &["title", "source", "province", "city", "notes"],
        phones: &["phone"],
        sensitive_phones: &["mobile"],
        emails: &["email"],
        partner: None,
    },
    Fields {
        entity: "opportunity",
        title: &["name"],
        names: &["name"],
        text: &["close_reason"],
        phones: &[],
        sensitive_phones: &[],
        emails: &[],
        partner: None,
    },
    Fields {
        entity: "case",
        title: &["number", "subject"],
        names: &[],
        text: &["number", "subject", "description", "category"],
        phones: &[],
        sensitive_phones: &[],
        emails: &[],
        partner: Some("partner_id"),
    },
    Fields {
        entity: "interaction",
        title: &["subject"],
        names: &[],
        text: &["subject", "body", "outcome"],
        phones: &[],
        sensitive_phones: &[],
        emails: &[],
        partner: None,
    },
];

/// The entities the index holds.
pub const KINDS: [&str; 6] = [
    "account",
    "contact",
    "lead",
    "opportunity",
    "case",
    "interaction",
];

/// Run a generic call with the entity type named by one of [`KINDS`]
/// (`by_kind!(kind, T => read::<T>(store, ids))`); an unknown name gives `$other`.
macro_rules! by_kind {
    ($kind:expr, $t:ident => $call:expr, _ => $other:expr) => {
        match $kind {
            "account" => {
                type $t = Account;
                $call
            }
            "contact" => {
                type $t = Contact;
                $call
            }
            "lead" => {
                type $t = Lead;
                $call
            }
            "opportunity" => {
                type $t = Opportunity;
                $call
            }
            "case" => {
                type $t = Case;
                $call
            }
            "interaction" => {
                type $t = Interaction;
                $call
            }
            _ => $other,
        }
    };
}

fn strings(json: &Value, names: &[&str]) -> Vec<String> {
    let mut out = vec![];
    for n in names {
        match &json[*n] {
            Value::String(s) if !s.is_empty() => out.push(s.clone()),
            Value::Array(xs) => out.extend(
                xs.iter()
                    .filter_map(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            ),
            _ => {}
        }
    }
    out
}

fn uuid(json: &Value, name: &str) -> Option<uuid::Uuid> {
    json[name].as_str().and_then(|s| s.parse().ok())
}

/// The search document of one record (as [`Record::to_json`] gives it).
pub fn doc(entity: &str, json: &Value) -> Option<SearchDoc> {
    let f = FIELDS.iter().find(|f| f.entity == entity)?;
    Some(SearchDoc {
        id: uuid(json, "id")?,
        kind: entity.to_string(),
        title: strings(json, f.title).join(" · "),
        names: strings(json, f.names),
        text: strings(json, f.text),
        phones: strings(json, f.phones),
        sensitive_phones: strings(json, f.sensitive_phones),
        emails: strings(json, f.emails),
        owner: uuid(json, "owner_id"),
        team: uuid(json, "team_id"),
        partner: f.partner.and_then(|p| uuid(json, p)),
    })
}

/// Live records of `T` among `ids`, as documents; the ids not found are to be removed.
async fn read<T: Entity>(store: &Store, ids: &[Id]) -> Result<Vec<SearchDoc>, String> {
    let mut docs = vec![];
    for chunk in ids.chunks(MAX_LIMIT as usize) {
        let q = ListQuery::default()
            .filter(Filter {
                field: "id".into(),
                op: Op::In,
                value: Value::Array(chunk.iter().map(|i| Value::String(i.to_string())).collect()),
            })
            .limit(MAX_LIMIT);
        let page = store
            .list::<T>(&Actor::system(), &q)
            .await
            .map_err(|e| e.to_string())?;
        docs.extend(
            page.items
                .iter()
                .filter_map(|r| doc(T::DEF.name, &r.to_json())),
        );
    }
    Ok(docs)
}

async fn read_any(store: &Store, entity: &str, ids: &[Id]) -> Result<Vec<SearchDoc>, String> {
    by_kind!(entity, T => read::<T>(store, ids).await, _ => Ok(vec![]))
}

/// Every record of `T` created by one bulk import: they share its time stamp, and lie
/// between its first and last id when the entry names them (a range of the primary key,
/// where the time stamp alone, not indexed, meant reading the whole table per import).
async fn imported<T: Entity>(
    store: &Store,
    at: &str,
    created: Option<(Id, Id)>,
) -> Result<Vec<Id>, String> {
    let mut ids = vec![];
    let mut q = ListQuery::default()
        .filter(Filter::new("created_at", Op::Eq, at))
        .limit(MAX_LIMIT);
    if let Some((first, last)) = created {
        q = q
            .filter(Filter::new("id", Op::Ge, first.to_string()))
            .filter(Filter::new("id", Op::Le, last.to_string()));
    }
    loop {
        let page = store
            .list::<T>(&Actor::system(), &q)
            .await
            .map_err(|e| e.to_string())?;
        ids.extend(page.items.iter().map(|r| r.meta.id));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return Ok(ids),
        }
    }
}

async fn imported_any(
    store: &Store,
    entity: &str,
    at: &str,
    created: Option<(Id, Id)>,
) -> Result<Vec<Id>, String> {
    by_kind!(entity, T => imported::<T>(store, at, created).await, _ => Ok(vec![]))
}

/// The index, its one writer, and the store it follows.
#[derive(Clone)]
pub struct Feed {
    pub index: Index,
    writer: Arc<Mutex<Writer>>,
    store: Store,
}

impl Feed {
    pub fn new(store: Store, index: Index) -> Result<Feed, String> {
        let writer = index.writer().map_err(|e| e.to_string())?;
        Ok(Feed {
            index,
            writer: Arc::new(Mutex::new(writer)),
            store,
        })
    }

    /// Apply documents and removals, then commit at `position`, off the async threads.
    async fn apply(
        &self,
        docs: Vec<SearchDoc>,
        gone: Vec<uuid::Uuid>,
        clear: bool,
        position: i64,
    ) -> Result<(), String> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
            if clear {
                w.clear().map_err(|e| e.to_string())?;
            }
            for id in gone {
                w.delete(id).map_err(|e| e.to_string())?;
            }
            w.upsert_many(docs).map_err(|e| e.to_string())?;
            w.commit(position).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Read the log from the index's position to its end; the number of entries applied.
    pub async fn catch_up(&self) -> Result<usize, String> {
        let mut applied = 0;
        loop {
            let from = self.index.position().unwrap_or(0);
            let refs = self
                .store
                .changes_after(from, BATCH)
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = refs.last().map(|r| r.seq) else {
                return Ok(applied);
            };
            applied += refs.len();
            let (docs, gone) = self.changed(&refs).await?;
            self.apply(docs, gone, false, last).await?;
        }
    }

    /// The documents of the records these entries touched, and the ids to remove.
    async fn changed(
        &self,
        refs: &[ChangeRef],
    ) -> Result<(Vec<SearchDoc>, Vec<uuid::Uuid>), String> {
        let mut touched: BTreeMap<&str, BTreeSet<Id>> = BTreeMap::new();
        for r in refs {
            let Some(kind) = KINDS.iter().find(|k| **k == r.entity) else {
                continue;
            };
            if r.action == "import" {
                let at = r.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                let ids = imported_any(&self.store, kind, &at, r.created).await?;
                touched.entry(kind).or_default().extend(ids);
            } else {
                touched.entry(kind).or_default().insert(r.record_id);
            }
        }
        let (mut docs, mut gone) = (vec![], vec![]);
        for (kind, ids) in touched {
            let ids: Vec<Id> = ids.into_iter().collect();
            let found = read_any(&self.store, kind, &ids).await?;
            let live: BTreeSet<uuid::Uuid> = found.iter().map(|d| d.id).collect();
            gone.extend(ids.iter().map(|i| i.0).filter(|i| !live.contains(i)));
            docs.extend(found);
        }
        Ok((docs, gone))
    }

    /// Empty the index and read every live record again (`guanxi reindex`, or an index
    /// that is new or ahead of its database). Returns the documents written.
    pub async fn rebuild(&self, progress: &(dyn Fn(&str, u64) + Sync)) -> Result<u64, String> {
        // Entries written during the scan are replayed by the next catch-up.
        let position = self.store.last_change().await.map_err(|e| e.to_string())?;
        self.apply(vec![], vec![], true, 0).await?;
        let mut total = 0;
        for kind in KINDS {
            total += by_kind!(kind, T => self.scan::<T>(progress).await?, _ => 0);
        }
        self.apply(vec![], vec![], false, position).await?;
        Ok(total)
    }

    async fn scan<T: Entity>(&self, progress: &(dyn Fn(&str, u64) + Sync)) -> Result<u64, String> {
        let mut q = ListQuery::default().limit(MAX_LIMIT);
        let mut n = 0u64;
        let mut docs = Vec::with_capacity(20_000);
        loop {
            let page = self
                .store
                .list::<T>(&Actor::system(), &q)
                .await
                .map_err(|e| e.to_string())?;
            n += page.items.len() as u64;
            docs.extend(
                page.items
                    .iter()
                    .filter_map(|r: &Record<T>| doc(T::DEF.name, &r.to_json())),
            );
            if docs.len() >= 20_000 || page.next_cursor.is_none() {
                let batch = std::mem::take(&mut docs);
                let writer = self.writer.clone();
                // The index was cleared first: plain inserts, analysed on every core.
                tokio::task::spawn_blocking(move || {
                    writer
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert_many(batch)
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
                progress(T::DEF.name, n);
            }
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => return Ok(n),
            }
        }
    }

    /// Open the index for `store`: rebuilt when new or when it is ahead of the database
    /// (the database was replaced), then caught up.
    pub async fn open(store: Store, index: Index) -> Result<Feed, String> {
        let feed = Feed::new(store, index)?;
        let last = feed.store.last_change().await.map_err(|e| e.to_string())?;
        match feed.index.position() {
            Some(p) if p <= last => {}
            _ => {
                tracing::info!("building the search index");
                let n = feed.rebuild(&|_, _| {}).await?;
                tracing::info!("search index built: {n} records");
            }
        }
        feed.catch_up().await?;
        Ok(feed)
    }

    /// Follow the log for as long as the process runs: woken by this process's writes,
    /// and every [`POLL`] for other processes' writes.
    pub fn follow(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.catch_up().await {
                    tracing::warn!("search index: {e}");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                tokio::select! {
                    () = self.store.wait_for_write() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        })
    }
}

/// One search result as the caller may see it.
#[derive(Debug, serde::Serialize)]
pub struct Found {
    pub kind: &'static str,
    pub id: String,
    pub title: String,
    pub score: f32,
    /// Which of name, pinyin, phone, email, text matched.
    pub matched: Vec<&'static str>,
    /// The record, with sensitive fields masked for roles without the right.
    pub record: Value,
}

/// Records of `T` among `ids` the actor may see, presented (masked) for them.
async fn visible<T: Entity>(
    store: &Store,
    actor: &Actor,
    ids: &[uuid::Uuid],
) -> Result<BTreeMap<uuid::Uuid, Value>, crate::AppError> {
    let q = ListQuery::default()
        .filter(Filter {
            field: "id".into(),
            op: Op::In,
            value: Value::Array(ids.iter().map(|i| Value::String(i.to_string())).collect()),
        })
        .limit(MAX_LIMIT);
    let page = store.list::<T>(actor, &q).await?;
    let masks = crate::access::Masks::load(store, actor, &[T::DEF.name]).await?;
    Ok(page
        .items
        .iter()
        .map(|r| (r.meta.id.0, masks.present(actor, r)))
        .collect())
}

/// Search what the actor may see: the index filters by their scope and rights, and each
/// hit is read back through the store (the same scope again) and masked for them.
pub async fn find(
    store: &Store,
    index: &Index,
    actor: &Actor,
    text: &str,
    kinds: &[&str],
    limit: usize,
) -> Result<Vec<Found>, crate::AppError> {
    use guanxi_domain::{Right, Scope};
    let kinds: Vec<&str> = kinds
        .iter()
        .copied()
        .filter(|k| KINDS.contains(k) && actor.may(k, Right::Read))
        .collect();
    let scope = match actor.scope() {
        Scope::All => guanxi_search::Scope::All,
        Scope::Own => guanxi_search::Scope::Own {
            user: actor.user_id.0,
        },
        Scope::Team => guanxi_search::Scope::Team {
            user: actor.user_id.0,
            teams: actor.teams.iter().map(|t| t.0).collect(),
        },
        Scope::Partner => guanxi_search::Scope::Partner {
            partner: actor.partner_id.map(|p| p.0),
        },
    };
    let hits = {
        let index = index.clone();
        let query_text = text.to_string();
        let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        let sensitive = actor.role.see_sensitive;
        tokio::task::spawn_blocking(move || {
            let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
            index.search(&guanxi_search::Query {
                text: &query_text,
                kinds: &kinds,
                scope: &scope,
                sensitive,
                limit,
            })
        })
        .await
        .map_err(internal)?
        .map_err(internal)?
    };
    let mut by_kind: BTreeMap<&str, Vec<uuid::Uuid>> = BTreeMap::new();
    for h in &hits {
        if let Some(k) = KINDS.iter().find(|k| **k == h.kind) {
            by_kind.entry(k).or_default().push(h.id);
        }
    }
    let mut records: BTreeMap<uuid::Uuid, Value> = BTreeMap::new();
    for (kind, ids) in by_kind {
        records.extend(
            by_kind!(kind, T => visible::<T>(store, actor, &ids).await?, _ => BTreeMap::new()),
        );
    }
    Ok(hits
        .into_iter()
        .filter_map(|h| {
            let record = records.remove(&h.id)?;
            let kind = KINDS.iter().find(|k| **k == h.kind)?;
            Some(Found {
                kind,
                id: h.id.to_string(),
                title: h.title,
                score: h.score,
                matched: h.matched,
                record,
            })
        })
        .collect())
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> crate::AppError {
    crate::AppError::failed("search failed", e)
}

/// The collection path of a searchable entity (`account` → `accounts`).
pub fn collection(kind: &str) -> &'static str {
    match kind {
        "account" => "accounts",
        "contact" => "contacts",
        "lead" => "leads",
        "opportunity" => "opportunities",
        "case" => "cases",
        _ => "interactions",
    }
}

/// The index as the handlers reach it; `None` when the server runs without one.
#[derive(Clone, Default)]
pub struct Searcher(pub Option<Index>);

impl Searcher {
    pub fn index(&self) -> Result<&Index, crate::AppError> {
        self.0.as_ref().ok_or_else(|| {
            crate::AppError::Unavailable("this server runs without a search index".into())
        })
    }
}
