//! Which documents a caller may see: allowed kinds and the record scope.
//!
//! Visibility is enforced while tantivy collects hits, never after, so `limit` counts only
//! visible documents and nothing outside the scope can surface. It is always checked per
//! candidate document on fast fields inside the collector; what varies is which documents
//! become candidates:
//! - when the visible set is large, those of the text query, a plain union of terms that
//!   tantivy evaluates with block-max WAND, skipping most documents without scoring them;
//! - when it is small (one user's records), the documents of the scope's terms, each looked
//!   up in the text terms ([`DrivenQuery`](crate::driven::DrivenQuery)).

use std::net::Ipv6Addr;

use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, Searcher, SegmentReader, Term};

use crate::Scope;
use crate::schema::{Fields, uuid_value};

/// Records whose kinds and scope a caller may see.
#[derive(Clone, Debug)]
pub struct Visibility {
    kinds: Vec<String>,
    /// False when every document in the index has an allowed kind (checked per searcher).
    check_kinds: bool,
    scope: ScopeCheck,
}

#[derive(Clone, Debug)]
enum ScopeCheck {
    Any,
    Owner(Ipv6Addr),
    OwnerOrTeam(Ipv6Addr, Vec<Ipv6Addr>),
    Partner(Ipv6Addr),
}

fn kind_term(f: &Fields, kind: &str) -> Term {
    Term::from_field_text(f.kind, kind)
}

fn ip_term(field: Field, v: Ipv6Addr) -> Term {
    Term::from_field_ip_addr(field, v)
}

impl Visibility {
    /// `None` when the caller can see nothing at all.
    pub fn new(f: &Fields, searcher: &Searcher, kinds: &[&str], scope: &Scope) -> Option<Self> {
        let partner = matches!(scope, Scope::Partner { .. });
        let mut allowed: Vec<String> = Vec::new();
        for &k in kinds {
            // Partners only ever see accounts and cases.
            let ok = !partner || matches!(k, "account" | "case");
            if ok && !allowed.iter().any(|a| a == k) {
                allowed.push(k.to_owned());
            }
        }
        if allowed.is_empty() {
            return None;
        }
        let scope = match scope {
            Scope::All => ScopeCheck::Any,
            Scope::Own { user } => ScopeCheck::Owner(uuid_value(user)),
            Scope::Team { user, teams } => {
                let mut ts: Vec<Ipv6Addr> = teams.iter().map(uuid_value).collect();
                ts.sort_unstable();
                ts.dedup();
                if ts.is_empty() {
                    ScopeCheck::Owner(uuid_value(user))
                } else {
                    ScopeCheck::OwnerOrTeam(uuid_value(user), ts)
                }
            }
            Scope::Partner { partner: None } => return None,
            Scope::Partner { partner: Some(p) } => ScopeCheck::Partner(uuid_value(p)),
        };
        // Each document has exactly one kind, deleted ones included in both counts.
        let with_allowed_kind: u64 = allowed
            .iter()
            .map(|k| searcher.doc_freq(&kind_term(f, k)).unwrap_or(0))
            .sum();
        let all_docs: u64 = searcher
            .segment_readers()
            .iter()
            .map(|r| u64::from(r.max_doc()))
            .sum();
        Some(Visibility {
            kinds: allowed,
            check_kinds: with_allowed_kind < all_docs,
            scope,
        })
    }

    /// Whether anything is filtered out at all.
    pub fn restricts(&self) -> bool {
        self.check_kinds || !matches!(self.scope, ScopeCheck::Any)
    }

    /// The documents to walk when few are visible: those of the scope (or, for callers
    /// seeing every scope, of the allowed kinds). Kinds are then checked per document.
    pub fn driver_query(&self, f: &Fields) -> Box<dyn Query> {
        let term =
            |t: Term| -> Box<dyn Query> { Box::new(TermQuery::new(t, IndexRecordOption::Basic)) };
        let terms: Vec<Term> = match &self.scope {
            ScopeCheck::Any => self.kinds.iter().map(|k| kind_term(f, k)).collect(),
            ScopeCheck::Owner(u) => vec![ip_term(f.owner, *u)],
            ScopeCheck::OwnerOrTeam(u, ts) => std::iter::once(ip_term(f.owner, *u))
                .chain(ts.iter().map(|t| ip_term(f.team, *t)))
                .collect(),
            ScopeCheck::Partner(p) => vec![ip_term(f.partner, *p)],
        };
        let mut qs: Vec<Box<dyn Query>> = terms.into_iter().map(term).collect();
        if qs.len() == 1 {
            qs.pop().expect("one term")
        } else {
            Box::new(BooleanQuery::union(qs))
        }
    }

    /// How many documents [`Visibility::driver_query`] walks (deleted ones included).
    pub fn driver_size(&self, f: &Fields, searcher: &Searcher) -> u64 {
        let df = |t: Term| searcher.doc_freq(&t).unwrap_or(0);
        match &self.scope {
            ScopeCheck::Any => self.kinds.iter().map(|k| df(kind_term(f, k))).sum(),
            ScopeCheck::Owner(u) => df(ip_term(f.owner, *u)),
            ScopeCheck::OwnerOrTeam(u, ts) => {
                df(ip_term(f.owner, *u)) + ts.iter().map(|t| df(ip_term(f.team, *t))).sum::<u64>()
            }
            ScopeCheck::Partner(p) => df(ip_term(f.partner, *p)),
        }
    }

    /// The per-document check for one segment; `None` when no document of the segment can
    /// be visible.
    pub fn for_segment(&self, reader: &SegmentReader) -> tantivy::Result<Option<SegmentCheck>> {
        let ff = reader.fast_fields();
        let kinds = if self.check_kinds {
            let Some(col) = ff.str("kind")? else {
                return Ok(None);
            };
            let mut ords = Vec::new();
            for k in &self.kinds {
                if let Some(o) = col.dictionary().term_ord(k.as_bytes())? {
                    ords.push(o);
                }
            }
            if ords.is_empty() {
                return Ok(None);
            }
            Some((col.ords().clone(), ords))
        } else {
            None
        };
        // A column is missing from a segment where no document has a value.
        let col = |name: &str| ff.column_opt::<Ipv6Addr>(name);
        let scope = match &self.scope {
            ScopeCheck::Any => SegmentScope::Any,
            ScopeCheck::Owner(u) => match col("owner")? {
                Some(c) => SegmentScope::Owner(c, *u),
                None => return Ok(None),
            },
            ScopeCheck::OwnerOrTeam(u, ts) => match (col("owner")?, col("team")?) {
                (None, None) => return Ok(None),
                (owner, team) => SegmentScope::OwnerOrTeam(owner, *u, team, ts.clone()),
            },
            ScopeCheck::Partner(p) => match col("partner")? {
                Some(c) => SegmentScope::Partner(c, *p),
                None => return Ok(None),
            },
        };
        Ok(Some(SegmentCheck { kinds, scope }))
    }
}

enum SegmentScope {
    Any,
    Owner(Column<Ipv6Addr>, Ipv6Addr),
    OwnerOrTeam(
        Option<Column<Ipv6Addr>>,
        Ipv6Addr,
        Option<Column<Ipv6Addr>>,
        Vec<Ipv6Addr>,
    ),
    Partner(Column<Ipv6Addr>, Ipv6Addr),
}

/// Visibility of the documents of one segment, read from fast fields.
pub struct SegmentCheck {
    kinds: Option<(Column<u64>, Vec<u64>)>,
    scope: SegmentScope,
}

impl SegmentCheck {
    pub fn allows(&self, doc: DocId) -> bool {
        if let Some((col, ords)) = &self.kinds
            && !col.first(doc).is_some_and(|o| ords.contains(&o))
        {
            return false;
        }
        match &self.scope {
            SegmentScope::Any => true,
            SegmentScope::Owner(col, u) => col.first(doc) == Some(*u),
            SegmentScope::OwnerOrTeam(owner, u, team, ts) => {
                owner.as_ref().is_some_and(|c| c.first(doc) == Some(*u))
                    || team
                        .as_ref()
                        .is_some_and(|c| c.first(doc).is_some_and(|t| ts.binary_search(&t).is_ok()))
            }
            SegmentScope::Partner(col, p) => col.first(doc) == Some(*p),
        }
    }
}
