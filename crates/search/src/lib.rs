//! Guanxi's full-text index: the engine behind `GET /api/v1/search`.
//!
//! The server turns records into [`SearchDoc`]s and asks [`Query`]s with the caller's
//! [`Scope`]; this crate knows nothing of the database.
//!
//! Design in brief:
//! - **Terms are made here, not by tantivy tokenizers** (module `analysis`): text is folded
//!   (traditional → simplified, full-width → ASCII, lowercase), Chinese is segmented with
//!   jieba, names also get single characters and pinyin (full, syllables, initials and
//!   typeahead prefixes, for every reading of polyphones), phones 4-digit grams, e-mails
//!   their parts. Queries go through the same functions and become plain term lookups, so
//!   user input never reaches a query parser and every lookup is a dictionary hit: no
//!   wildcard, regex or fuzzy scan of the dictionary.
//! - **One field per kind of match** (module `schema`) so each has its own boost
//!   (name > pinyin > phone ≈ email > text), its own BM25 statistics, and can be reported in
//!   [`Hit::matched`]; hidden phones live in a field that is only queried for callers
//!   allowed to see them.
//! - **The query is a flat union of term lookups** (module `query`), which tantivy runs with
//!   block-max WAND: documents that cannot reach the current top `limit` are skipped unscored,
//!   so common words stay cheap. Documents matching more of the query's words are then
//!   preferred among the candidates.
//! - **Kinds and scope are enforced while tantivy collects** (modules `visibility`,
//!   `collector`, `driven`), never after: each candidate is checked on fast fields, so `limit`
//!   counts only visible documents and nothing outside the scope is returned or counted.
//!   When the scope is small (one user's records), the scope's documents are walked and
//!   looked up in the text terms instead.
//!
//! ```
//! use guanxi_search::{Index, Query, Scope, SearchDoc};
//!
//! let index = Index::in_memory()?;
//! let mut w = index.writer()?;
//! w.upsert(SearchDoc {
//!     id: uuid::Uuid::from_u128(1),
//!     kind: "contact".into(),
//!     title: "张伟".into(),
//!     names: vec!["张伟".into()],
//!     phones: vec!["+8613812345678".into()],
//!     ..SearchDoc::default()
//! })?;
//! let build = uuid::Uuid::from_u128(42);
//! w.commit(build)?;
//!
//! let hits = index.search(&Query {
//!     text: "zw",
//!     kinds: &["contact"],
//!     scope: &Scope::All,
//!     sensitive: false,
//!     limit: 10,
//! })?;
//! assert_eq!(hits[0].title, "张伟");
//! assert_eq!(hits[0].matched, ["pinyin"]);
//! assert_eq!(index.id(), Some(build));
//! # Ok::<(), guanxi_search::SearchError>(())
//! ```

mod analysis;
mod collector;
mod document;
mod driven;
mod error;
mod index;
mod query;
mod schema;
mod visibility;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use error::{Result, SearchError};
pub use index::{Index, Writer};

/// One record as the index sees it. Only `title`, `id` and `kind` are stored (for hits);
/// the other fields are searchable only. `title` itself is not searched: put what should be
/// found into `names` or `text`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchDoc {
    pub id: Uuid,
    /// "account" | "contact" | "lead" | "opportunity" | "case" | "interaction".
    pub kind: String,
    /// Display title of the hit, e.g. the company or person name, a case's subject.
    pub title: String,
    /// Person and company names: words, single characters and pinyin.
    pub names: Vec<String>,
    /// Other searchable text (subject, description, address, city, notes, tags, credit
    /// code…): words.
    pub text: Vec<String>,
    /// Phone numbers as stored ("+8613812345678", "010-62345678").
    pub phones: Vec<String>,
    /// Phone numbers only searchable by callers that may see sensitive fields.
    pub sensitive_phones: Vec<String>,
    pub emails: Vec<String>,
    pub owner: Option<Uuid>,
    pub team: Option<Uuid>,
    /// The partner serving the record (accounts and cases only).
    pub partner: Option<Uuid>,
}

/// Who asks: mirrors the CRM's record scopes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// Everything.
    All,
    /// Records owned by `user`.
    Own { user: Uuid },
    /// Records owned by `user` or belonging to one of `teams`.
    Team { user: Uuid, teams: Vec<Uuid> },
    /// Accounts and cases served by `partner` (nothing else; nothing when `None`).
    Partner { partner: Option<Uuid> },
}

/// A search request.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// What the user typed.
    pub text: &'a str,
    /// Kinds the caller may read; an empty slice gives no results.
    pub kinds: &'a [&'a str],
    pub scope: &'a Scope,
    /// Whether the caller may see sensitive fields (hidden phones).
    pub sensitive: bool,
    /// Hits wanted at most (capped at 1000).
    pub limit: usize,
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hit {
    pub id: Uuid,
    pub kind: String,
    pub title: String,
    pub score: f32,
    /// Which of "name", "pinyin", "phone", "email", "text" matched, in that order.
    pub matched: Vec<&'static str>,
}

/// Loads the Chinese segmentation dictionary now (it takes a moment) instead of on first
/// use; opening an index does this too.
pub fn warm_up() {
    analysis::warm_up();
}
