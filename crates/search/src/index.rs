//! The index handle, its writer and the search entry point.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use tantivy::directory::MmapDirectory;
use tantivy::query::AllQuery;
use tantivy::schema::Value;
use tantivy::{
    DocAddress, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, TantivyError,
    Term,
};

use crate::analysis::{self, phone};
use crate::collector::TopVisible;
use crate::document::DocBuilder;
use crate::driven::DrivenQuery;
use crate::error::{Result, SearchError};
use crate::query::{Matched, Plan};
use crate::schema::Fields;
use crate::visibility::Visibility;
use crate::{Hit, Query, SearchDoc};

/// Total indexing memory of a writer, shared by its threads.
const WRITER_MEMORY: usize = 50_000_000;
/// Hits returned at most, whatever the caller asks.
const MAX_LIMIT: usize = 1_000;
/// Visible documents are walked (rather than the text terms' documents) when they are this
/// many times fewer.
const DRIVE_BELOW: u64 = 8;
/// Batches smaller than this are analysed on the calling thread.
const MIN_PARALLEL_BATCH: usize = 64;

struct Inner {
    index: tantivy::Index,
    reader: IndexReader,
    fields: Fields,
    /// The id the last commit named, kept here so `id()` does not read meta.json.
    id: Mutex<Option<uuid::Uuid>>,
}

/// A search index; cheap to clone and share between threads.
#[derive(Clone)]
pub struct Index {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("docs", &self.doc_count())
            .field("id", &self.id())
            .finish()
    }
}

/// Whether a file name is one tantivy writes in an index directory: `meta.json`,
/// `.managed.json`, lock files and `<segment id>.<ext>` segment files.
fn is_index_file(name: &str) -> bool {
    const SEGMENT_EXTS: &[&str] = &["idx", "term", "pos", "fast", "fieldnorm", "store", "del"];
    if name == "meta.json" || name == ".managed.json" || name.starts_with(".tantivy-") {
        return true;
    }
    let mut parts = name.split('.');
    let segment = parts.next().unwrap_or("");
    let ext = name.rsplit('.').next().unwrap_or("");
    segment.len() == 32
        && segment.bytes().all(|b| b.is_ascii_hexdigit())
        && SEGMENT_EXTS.contains(&ext)
}

fn remove_index_files(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() && entry.file_name().to_str().is_some_and(is_index_file) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

fn parse_id(payload: Option<&str>) -> Option<uuid::Uuid> {
    payload.and_then(|p| p.trim().parse().ok())
}

impl Index {
    /// Opens the index in `dir`, creating the directory and an empty index if needed.
    /// An index written with a different schema gives [`SearchError::Incompatible`]: delete
    /// the directory and rebuild.
    pub fn open(dir: &Path) -> Result<Index> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = Fields::schema();
        let index = tantivy::Index::open_or_create(MmapDirectory::open(dir)?, schema).map_err(
            |e| match e {
                TantivyError::SchemaError(msg) => SearchError::Incompatible(msg),
                e => e.into(),
            },
        )?;
        Self::from_tantivy(index, fields)
    }

    /// [`Index::open`], but an index written with another schema (by an older version of
    /// this crate) is deleted and replaced by an empty one, whose `id()` is `None` so
    /// that the caller rebuilds it. Only the index's own files in `dir` are removed.
    pub fn open_or_reset(dir: &Path) -> Result<Index> {
        match Index::open(dir) {
            Err(SearchError::Incompatible(_)) => {
                remove_index_files(dir)?;
                Index::open(dir)
            }
            other => other,
        }
    }

    /// A fresh index in memory (tests, tools).
    pub fn in_memory() -> Result<Index> {
        let (schema, fields) = Fields::schema();
        Self::from_tantivy(tantivy::Index::create_in_ram(schema), fields)
    }

    fn from_tantivy(index: tantivy::Index, fields: Fields) -> Result<Index> {
        analysis::warm_up();
        index
            .tokenizers()
            .register(phone::TOKENIZER, phone::GramTokenizer);
        let id = parse_id(index.load_metas()?.payload.as_deref());
        // Reloaded explicitly after each commit: searches must see a commit as soon as
        // `Writer::commit` returns.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Index {
            inner: Arc::new(Inner {
                index,
                reader,
                fields,
                id: Mutex::new(id),
            }),
        })
    }

    /// The id stored with the last commit (see [`Writer::commit`]); `None` for a new index,
    /// or one whose commits named none (written by an older version of this crate).
    pub fn id(&self) -> Option<uuid::Uuid> {
        *self.inner.id.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer. Only one can exist at a time ([`SearchError::WriterBusy`] otherwise).
    pub fn writer(&self) -> Result<Writer> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
        let writer = self
            .inner
            .index
            .writer_with_num_threads(threads, WRITER_MEMORY)
            .map_err(|e| match e {
                TantivyError::LockFailure(..) => SearchError::WriterBusy,
                e => e.into(),
            })?;
        Ok(Writer {
            inner: self.inner.clone(),
            writer,
            builder: DocBuilder::default(),
        })
    }

    /// Number of documents visible to searches.
    pub fn doc_count(&self) -> u64 {
        self.inner.reader.searcher().num_docs()
    }

    /// Best hits for `q`, most relevant first. Blank queries, no allowed kinds or a scope
    /// that sees nothing give no hits, not an error.
    pub fn search(&self, q: &Query<'_>) -> Result<Vec<Hit>> {
        let f = &self.inner.fields;
        if q.limit == 0 {
            return Ok(Vec::new());
        }
        let plan = Plan::new(f, q.text, q.sensitive, false);
        if plan.is_empty() {
            return Ok(Vec::new());
        }
        let searcher = self.inner.reader.searcher();
        let Some(visibility) = Visibility::new(f, &searcher, q.kinds, q.scope) else {
            return Ok(Vec::new());
        };
        let limit = q.limit.min(MAX_LIMIT);
        let mut ranked = self.rank(&searcher, &plan, &visibility, limit)?;
        if ranked.len() < limit {
            // Too few: try again with sub-words and single characters.
            let wide = Plan::new(f, q.text, q.sensitive, true);
            if wide.len() > plan.len() {
                ranked = self.rank(&searcher, &wide, &visibility, limit)?;
            }
        }

        let mut hits = Vec::with_capacity(ranked.len());
        for (score, address, matched) in ranked {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            let Ok(id) = uuid::Uuid::parse_str(&text(f.id)) else {
                continue; // not written by this crate
            };
            hits.push(Hit {
                id,
                kind: text(f.kind),
                title: text(f.title),
                score,
                matched: matched.groups,
            });
        }
        Ok(hits)
    }

    /// The best `limit` visible documents for `plan`, with what they matched.
    fn rank(
        &self,
        searcher: &Searcher,
        plan: &Plan,
        visibility: &Visibility,
        limit: usize,
    ) -> Result<Vec<(f32, DocAddress, Matched)>> {
        let f = &self.inner.fields;
        // Extra candidates let documents matching more words move up (coordination).
        let k = if plan.word_count() > 1 {
            (limit * 2).max(limit + 20).min(MAX_LIMIT)
        } else {
            limit
        };
        let strategy = if !visibility.restricts() {
            Strategy::Unfiltered
        } else if visibility
            .driver_size(f, searcher)
            .saturating_mul(DRIVE_BELOW)
            < plan.cost(searcher)
        {
            Strategy::Driven
        } else {
            Strategy::Checked
        };
        #[cfg(test)]
        let strategy = match crate::tests::FORCE_STRATEGY.get() {
            Some(forced) if visibility.restricts() => forced,
            _ => strategy,
        };
        let (query, check): (Box<dyn tantivy::query::Query>, _) = match strategy {
            Strategy::Unfiltered => (plan.query(), None),
            Strategy::Driven => {
                let driven = DrivenQuery {
                    driver: visibility.driver_query(f),
                    clauses: plan.clause_queries(),
                };
                (Box::new(driven), Some(visibility))
            }
            Strategy::Checked => (plan.query(), Some(visibility)),
        };
        let top = searcher.search(
            &query,
            &TopVisible {
                k,
                visibility: check,
            },
        )?;
        let addresses: Vec<DocAddress> = top.iter().map(|&(_, a)| a).collect();
        let matched = plan.matched(searcher, &addresses)?;
        let mut ranked: Vec<(f32, DocAddress, Matched)> = top
            .into_iter()
            .zip(matched)
            .map(|((score, a), m)| (score * plan.coordination(&m), a, m))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        ranked.truncate(limit);
        Ok(ranked)
    }
}

/// How a search finds its candidates (all give the same hits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// The caller sees every document: the text union runs with WAND.
    Unfiltered,
    /// Few visible documents: walk them and look each up in the text terms.
    Driven,
    /// Many visible documents: the text union runs with WAND, each candidate is checked.
    Checked,
}

/// Adds, replaces and deletes documents; changes become visible at [`Writer::commit`].
pub struct Writer {
    inner: Arc<Inner>,
    writer: IndexWriter<TantivyDocument>,
    builder: DocBuilder,
}

impl Writer {
    fn id_term(&self, id: uuid::Uuid) -> Term {
        let mut buf = [0u8; uuid::fmt::Simple::LENGTH];
        Term::from_field_text(self.inner.fields.id, id.simple().encode_lower(&mut buf))
    }

    /// Adds `doc`, replacing any document with the same id.
    pub fn upsert(&mut self, doc: SearchDoc) -> Result<()> {
        let built = self.builder.build(&self.inner.fields, &doc);
        self.writer.delete_term(self.id_term(doc.id));
        self.writer.add_document(built)?;
        Ok(())
    }

    /// Upserts a batch, analysing the documents on all cores (the analysis, jieba above all,
    /// is the bulk of the indexing cost). Later documents win over earlier ones with the
    /// same id, as with repeated [`Writer::upsert`].
    pub fn upsert_many(&mut self, docs: Vec<SearchDoc>) -> Result<()> {
        self.add_batch(docs, true)
    }

    /// Adds a batch without deleting older versions: only for ids known to be absent, such
    /// as during a rebuild right after [`Writer::clear`]. Skipping the deletes saves applying
    /// millions of delete terms to every segment.
    pub fn insert_many(&mut self, docs: Vec<SearchDoc>) -> Result<()> {
        self.add_batch(docs, false)
    }

    fn add_batch(&mut self, docs: Vec<SearchDoc>, replace: bool) -> Result<()> {
        let fields = self.inner.fields;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let built: Vec<(uuid::Uuid, TantivyDocument)> =
            if threads < 2 || docs.len() < MIN_PARALLEL_BATCH {
                docs.iter()
                    .map(|d| (d.id, self.builder.build(&fields, d)))
                    .collect()
            } else {
                let chunk = docs.len().div_ceil(threads);
                std::thread::scope(|s| {
                    let handles: Vec<_> = docs
                        .chunks(chunk)
                        .map(|part| {
                            s.spawn(move || {
                                let mut b = DocBuilder::default();
                                part.iter()
                                    .map(|d| (d.id, b.build(&fields, d)))
                                    .collect::<Vec<_>>()
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .flat_map(|h| h.join().expect("document analysis panicked"))
                        .collect()
                })
            };
        // Operations are applied in batch order, so duplicates resolve as sequential upserts.
        for (id, doc) in built {
            if replace {
                self.writer.delete_term(self.id_term(id));
            }
            self.writer.add_document(doc)?;
        }
        Ok(())
    }

    /// Deletes the document with this id, if any.
    pub fn delete(&mut self, id: uuid::Uuid) -> Result<()> {
        self.writer.delete_term(self.id_term(id));
        Ok(())
    }

    /// Deletes every document (including ones added earlier in this uncommitted batch), for
    /// a rebuild.
    pub fn clear(&mut self) -> Result<()> {
        // A delete operation rather than `delete_all_documents`, which would not catch
        // documents still buffered in the indexing threads.
        self.writer.delete_query(Box::new(AllQuery))?;
        Ok(())
    }

    /// Commits, naming the index `id` (kept in the commit's payload): the caller's name for
    /// what this index holds, e.g. which build of it, to find its place in what it follows.
    /// Searches see the changes when this returns.
    pub fn commit(&mut self, id: uuid::Uuid) -> Result<()> {
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&id.to_string());
        prepared.commit()?;
        self.inner.reader.reload()?;
        *self.inner.id.lock().unwrap_or_else(PoisonError::into_inner) = Some(id);
        Ok(())
    }

    /// Drops the changes made since the last commit.
    pub fn rollback(&mut self) -> Result<()> {
        self.writer.rollback()?;
        Ok(())
    }
}
