//! The full-text index follows the change log as a [`Subscriber`] of the store's follower.
//! Each index carries an id (in its commits) and its position is kept in the database as
//! the subscriber `search:<id>`, so several servers on one PostgreSQL, each with its own
//! index folder, each keep their own place, and after a crash or a restart an index goes on
//! from there. A new or lost index has no id (or the database no position for it): it is
//! rebuilt under a new id. A record changed by an entry is read again as it is now (live →
//! upserted, gone or deleted → removed), so an entry delivered twice is harmless.

use guanxi_domain::filter::{Filter, ListQuery, MAX_LIMIT, Op};
use guanxi_domain::{Actor, Entity, Id, Record};
use guanxi_search::{Index, SearchDoc, Writer};
use guanxi_store::follow::{self, Follower, Subscriber};
use guanxi_store::{ChangeEvent, Store};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// The entities the index holds: those whose description says what to search.
pub fn kinds() -> Vec<&'static str> {
    guanxi_domain::entity::all_defs()
        .iter()
        .filter(|d| d.search.is_some())
        .map(|d| d.name)
        .collect()
}

/// The description of the searchable entity named `kind`.
fn searched(kind: &str) -> Option<&'static guanxi_domain::EntityDef> {
    guanxi_domain::entity::def_by_name(kind).filter(|d| d.search.is_some())
}

/// Run `$body` with `$t` the searchable entity named `$kind`, or `$other` for any other
/// name.
macro_rules! searchable {
    ($kind:expr, $t:ident => $body:expr, _ => $other:expr) => {
        guanxi_domain::with_entity!(searched($kind).map_or("", |d| d.name), $t => $body, _ => $other)
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
    let def = searched(entity)?;
    let f = def.search?;
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
        partner: def.partner_field.and_then(|p| uuid(json, p)),
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
    searchable!(entity, T => read::<T>(store, ids).await, _ => Ok(vec![]))
}

/// The subscriber name under which the index with this id keeps its position.
fn subscriber(id: uuid::Uuid) -> String {
    format!("search:{id}")
}

/// The index, its one writer, the store it follows, and the id its position is kept under.
pub struct Feed {
    pub index: Index,
    writer: Arc<Mutex<Writer>>,
    store: Store,
    /// The index's id (a new one until the first commit of an index that has none).
    id: uuid::Uuid,
    name: String,
}

impl Feed {
    /// Take the index's writer (one process at a time) to feed it from `store`.
    pub fn new(store: Store, index: Index) -> Result<Feed, String> {
        let writer = index.writer().map_err(|e| e.to_string())?;
        let id = index.id().unwrap_or_else(uuid::Uuid::now_v7);
        Ok(Feed {
            index,
            writer: Arc::new(Mutex::new(writer)),
            store,
            id,
            name: subscriber(id),
        })
    }

    /// Open the index for `store`, rebuilt first when it has no id (new, or its folder was
    /// deleted) or the database keeps no position for its id (another database, or a
    /// rebuild that did not finish). Then [`Feed::follow`] or [`Feed::catch_up`] it.
    pub async fn open(store: Store, index: Index) -> Result<Feed, String> {
        let mut feed = Feed::new(store, index)?;
        // 0 is also "never ran": an index is only ever given its id with a position, and
        // one built on an empty log is rebuilt at no cost.
        let position = match feed.index.id() {
            Some(_) => feed
                .store
                .subscriber_position(&feed.name)
                .await
                .map_err(|e| e.to_string())?,
            None => 0,
        };
        if position == 0 {
            tracing::info!("building the search index");
            let n = feed.rebuild(&|_, _| {}).await?;
            tracing::info!("search index built: {n} records");
        }
        Ok(feed)
    }

    /// Follow the log from the index's position on the store's follower, for as long as
    /// the process runs or until stopped.
    pub fn follow(self) -> Follower<Feed> {
        let store = self.store.clone();
        follow::follow(store, self, follow::Options::default())
    }

    /// Bring the index up to the log's end here and now, with no follower running (a
    /// command line search or reindex); the position reached.
    pub async fn catch_up(&mut self) -> Result<i64, String> {
        let store = self.store.clone();
        follow::catch_up(&store, self, follow::Options::default().batch)
            .await
            .map_err(|e| e.to_string())
    }

    /// Apply documents and removals, then commit, off the async threads.
    async fn apply(&self, docs: Vec<SearchDoc>, gone: Vec<uuid::Uuid>) -> Result<(), String> {
        let (writer, id) = (self.writer.clone(), self.id);
        tokio::task::spawn_blocking(move || {
            let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
            for record in gone {
                w.delete(record).map_err(|e| e.to_string())?;
            }
            w.upsert_many(docs).map_err(|e| e.to_string())?;
            w.commit(id).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// The documents of the records these events touched, and the ids to remove.
    async fn changed(
        &self,
        events: &[ChangeEvent],
    ) -> Result<(Vec<SearchDoc>, Vec<uuid::Uuid>), String> {
        let mut touched: BTreeMap<&str, BTreeSet<Id>> = BTreeMap::new();
        for e in events {
            if let Some(kind) = searched(&e.entity).map(|d| d.name) {
                touched.entry(kind).or_default().insert(e.record_id);
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

    /// Read every live record into an emptied index under a new id (`guanxi reindex`, or an
    /// index [`Feed::open`] finds without a place in the log), whose position is the log's
    /// end when the scan began: entries written during the scan are applied again after it,
    /// which reading records as they are now makes harmless. Returns the documents written.
    pub async fn rebuild(&mut self, progress: &(dyn Fn(&str, u64) + Sync)) -> Result<u64, String> {
        let position = self.store.last_change().await.map_err(|e| e.to_string())?;
        let total = match self.fill(progress).await {
            Ok(n) => n,
            Err(e) => {
                // Or the next commit would publish the half-filled index under its old id.
                let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
                w.rollback().map_err(|e| e.to_string())?;
                return Err(e);
            }
        };
        // The position first, then the commit that names the id: a crash in between leaves
        // the index under its old id (or none), as it was, never an id without a position.
        let id = uuid::Uuid::now_v7();
        self.store
            .reset_subscriber(&subscriber(id), position)
            .await
            .map_err(|e| e.to_string())?;
        (self.id, self.name) = (id, subscriber(id));
        self.apply(vec![], vec![]).await?;
        Ok(total)
    }

    /// Empty the index and add every live record, uncommitted.
    async fn fill(&self, progress: &(dyn Fn(&str, u64) + Sync)) -> Result<u64, String> {
        self.writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear()
            .map_err(|e| e.to_string())?;
        let mut total = 0;
        for kind in kinds() {
            total += searchable!(kind, T => self.scan::<T>(progress).await?, _ => 0);
        }
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
}

impl Subscriber for Feed {
    type Error = String;

    fn name(&self) -> &str {
        &self.name
    }

    async fn handle(&mut self, events: &[ChangeEvent]) -> Result<(), String> {
        let (docs, gone) = self.changed(events).await?;
        self.apply(docs, gone).await
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
        .filter(|k| searched(k).is_some() && actor.may(k, Right::Read))
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
        if let Some(k) = searched(&h.kind).map(|d| d.name) {
            by_kind.entry(k).or_default().push(h.id);
        }
    }
    let mut records: BTreeMap<uuid::Uuid, Value> = BTreeMap::new();
    for (kind, ids) in by_kind {
        records.extend(
            searchable!(kind, T => visible::<T>(store, actor, &ids).await?, _ => BTreeMap::new()),
        );
    }
    Ok(hits
        .into_iter()
        .filter_map(|h| {
            let record = records.remove(&h.id)?;
            let kind = searched(&h.kind)?.name;
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
    searched(kind)
        .and_then(|d| d.collection)
        .unwrap_or_default()
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
