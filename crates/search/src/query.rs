//! Building tantivy queries from user input, term by term (never through the query parser,
//! so `:`, `"`, `*`, `AND` or `-` in the input are just characters).
//!
//! A query is a flat union of boosted term lookups: for each query word, the fields it can
//! match (name, pinyin, e-mail, text…), plus lookups of the query as a whole (exact name,
//! joined pinyin, phone number, address). A flat union of terms is what tantivy evaluates
//! with block-max WAND, so common words cost little. Documents matching more of the words
//! are preferred afterwards (see [`Plan::coordination`]).

use std::collections::HashMap;

use tantivy::query::{BooleanQuery, BoostQuery, EnableScoring, PhraseQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, DocSet, Searcher, Term};

use crate::analysis::{self, Cut, Tokens, email, is_han, phone, pinyin};
use crate::schema::Fields;

/// Query input beyond this many bytes is ignored (bounds the work per query).
const MAX_QUERY_BYTES: usize = 256;
/// At most this many words of a query are looked up.
const MAX_WORDS: usize = 8;
/// Longest whole-query term for the exact-name field (as in the index).
pub const MAX_EXACT_NAME: usize = 128;

// Boosts: name > pinyin > phone ≈ email > text; whole-name matches above everything.
const BOOST_NAME_EXACT: f32 = 8.0;
const BOOST_NAME: f32 = 4.0;
const BOOST_NAME_CHAR: f32 = 1.0;
const BOOST_PINYIN: f32 = 3.0;
const BOOST_PINYIN_PREFIX: f32 = 1.5;
const BOOST_PHONE: f32 = 2.5;
const BOOST_EMAIL_WHOLE: f32 = 2.5;
const BOOST_EMAIL_WORD: f32 = 2.0;
const BOOST_TEXT: f32 = 1.0;

/// The groups of fields reported in [`Hit::matched`](crate::Hit::matched).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Name,
    Pinyin,
    Phone,
    Email,
    Text,
}

impl Group {
    pub const ALL: [Group; 5] = [
        Group::Name,
        Group::Pinyin,
        Group::Phone,
        Group::Email,
        Group::Text,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Group::Name => "name",
            Group::Pinyin => "pinyin",
            Group::Phone => "phone",
            Group::Email => "email",
            Group::Text => "text",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Lookup {
    Term(Term),
    /// Terms at relative positions (phone grams).
    Phrase(Vec<(usize, Term)>),
}

/// One scored lookup.
#[derive(Debug, Clone)]
struct Clause {
    group: Group,
    lookup: Lookup,
    boost: f32,
}

impl Clause {
    fn term(group: Group, field: Field, text: &str, boost: f32) -> Clause {
        Clause {
            group,
            lookup: Lookup::Term(Term::from_field_text(field, text)),
            boost,
        }
    }

    /// A run of digits in a phone field: one gram, or the phrase of grams covering it.
    fn digits(field: Field, digits: &str) -> Option<Clause> {
        let grams = phone::covering_grams(digits);
        let mut terms: Vec<(usize, Term)> = grams
            .into_iter()
            .map(|(at, g)| (at, Term::from_field_text(field, g)))
            .collect();
        let lookup = match terms.len() {
            0 => return None,
            1 => Lookup::Term(terms.pop().expect("one term").1),
            _ => Lookup::Phrase(terms),
        };
        Some(Clause {
            group: Group::Phone,
            lookup,
            boost: BOOST_PHONE,
        })
    }

    fn query(&self) -> Box<dyn Query> {
        let q: Box<dyn Query> = match &self.lookup {
            Lookup::Term(t) => Box::new(TermQuery::new(t.clone(), IndexRecordOption::WithFreqs)),
            Lookup::Phrase(ts) => Box::new(PhraseQuery::new_with_offset(ts.clone())),
        };
        // BoostQuery passes the boost into the term scorer, which keeps WAND applicable.
        Box::new(BoostQuery::new(q, self.boost))
    }

    /// Documents containing the (rarest) term: the work this clause adds to a query.
    fn cost(&self, searcher: &Searcher) -> u64 {
        let df = |t: &Term| searcher.doc_freq(t).unwrap_or(0);
        match &self.lookup {
            Lookup::Term(t) => df(t),
            Lookup::Phrase(ts) => ts.iter().map(|(_, t)| df(t)).min().unwrap_or(0),
        }
    }
}

fn union(qs: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::union(qs))
}

/// What one hit matched: field groups, number of query words, whole-query lookups.
#[derive(Debug, Default, Clone)]
pub struct Matched {
    pub groups: Vec<&'static str>,
    pub words: usize,
    pub whole: bool,
}

/// What to look up for one query text, before it becomes a tantivy query.
#[derive(Debug, Default)]
pub struct Plan {
    /// Per query word, the clauses that can match it.
    words: Vec<Vec<Clause>>,
    /// Clauses about the query as a whole (exact name, joined pinyin, phone, address).
    whole: Vec<Clause>,
}

impl Plan {
    /// The lookups for `text`. A `wide` plan also looks up the words inside longer words
    /// and the single characters of short Chinese words (张伟 → 张, 伟, so that 张伟明 is
    /// found whatever its segmentation): better recall, but common characters make it
    /// costlier, so it is the second try when the narrow plan finds too little.
    pub fn new(f: &Fields, text: &str, sensitive: bool, wide: bool) -> Plan {
        let folded = analysis::fold(analysis::truncate(text, MAX_QUERY_BYTES));
        let mut plan = Plan::default();

        let mut tokens = Tokens::new();
        let how = if wide { Cut::WithSubwords } else { Cut::Words };
        analysis::cut(&folded, how, &mut tokens);
        let mut words: Vec<&str> = Vec::new();
        for w in tokens.iter() {
            if words.len() < MAX_WORDS && !words.contains(&w) {
                words.push(w);
            }
        }

        for &w in &words {
            let mut cs = vec![
                Clause::term(Group::Name, f.name, w, BOOST_NAME),
                Clause::term(Group::Text, f.text, w, BOOST_TEXT),
            ];
            let han = w.chars().filter(|&c| is_han(c)).count();
            if han == 0 {
                cs.push(Clause::term(Group::Email, f.email, w, BOOST_EMAIL_WORD));
                if w.bytes().all(|b| b.is_ascii_lowercase()) {
                    cs.push(Clause::term(Group::Pinyin, f.pinyin, w, BOOST_PINYIN));
                    if let Some(p) = pinyin::prefix_key(w) {
                        let boost = BOOST_PINYIN_PREFIX;
                        cs.push(Clause::term(Group::Pinyin, f.pinyin_prefix, p, boost));
                    }
                }
            } else if wide && (2..=3).contains(&han) && han == w.chars().count() {
                let mut buf = [0u8; 4];
                for c in w.chars() {
                    let c = c.encode_utf8(&mut buf);
                    cs.push(Clause::term(Group::Name, f.name, c, BOOST_NAME_CHAR));
                }
            }
            plan.words.push(cs);
        }

        let compact: String = folded.chars().filter(|c| !c.is_whitespace()).collect();
        if !compact.is_empty() && compact.len() <= MAX_EXACT_NAME && !words.is_empty() {
            let boost = BOOST_NAME_EXACT;
            plan.whole
                .push(Clause::term(Group::Name, f.name_exact, &compact, boost));
        }
        if let Some(key) = pinyin::query_key(&folded) {
            // A single word was already looked up as pinyin above.
            if words != [key.as_str()] {
                plan.whole
                    .push(Clause::term(Group::Pinyin, f.pinyin, &key, BOOST_PINYIN));
                if let Some(p) = pinyin::prefix_key(&key) {
                    let boost = BOOST_PINYIN_PREFIX;
                    plan.whole
                        .push(Clause::term(Group::Pinyin, f.pinyin_prefix, p, boost));
                }
            }
        }
        for d in phone::query_numbers(&folded) {
            plan.whole.extend(Clause::digits(f.phone, &d));
            if sensitive {
                // Only callers allowed to see hidden phones may match them.
                plan.whole.extend(Clause::digits(f.sensitive_phone, &d));
            }
        }
        for e in email::query_terms(&folded) {
            plan.whole
                .push(Clause::term(Group::Email, f.email, &e, BOOST_EMAIL_WHOLE));
        }
        plan
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.whole.is_empty()
    }

    /// Number of lookups.
    pub fn len(&self) -> usize {
        self.clauses().count()
    }

    fn clauses(&self) -> impl Iterator<Item = &Clause> {
        self.words.iter().flatten().chain(&self.whole)
    }

    /// The scored query: a flat union of every distinct lookup.
    pub fn query(&self) -> Box<dyn Query> {
        union(self.clause_queries())
    }

    /// Every distinct lookup as a query.
    pub fn clause_queries(&self) -> Vec<Box<dyn Query>> {
        let mut distinct: Vec<&Clause> = Vec::new();
        for c in self.clauses() {
            match distinct.iter_mut().find(|d| d.lookup == c.lookup) {
                // The same term reached twice (a word that is also the whole query) counts
                // once, at its higher boost.
                Some(d) if d.boost < c.boost => *d = c,
                Some(_) => {}
                None => distinct.push(c),
            }
        }
        distinct.into_iter().map(Clause::query).collect()
    }

    /// Documents the query can touch, summed over its lookups.
    pub fn cost(&self, searcher: &Searcher) -> u64 {
        self.clauses().map(|c| c.cost(searcher)).sum()
    }

    /// Factor that prefers documents matching more of the query's words: the share of
    /// words matched, or 1 when a whole-query lookup (exact name, phone…) matched.
    pub fn coordination(&self, m: &Matched) -> f32 {
        if m.whole || self.words.len() <= 1 {
            1.0
        } else {
            m.words as f32 / self.words.len() as f32
        }
    }

    pub fn word_count(&self) -> usize {
        self.words.len()
    }

    /// For each hit: which groups, how many words and whether a whole-query lookup matched.
    /// One unscored scorer per sub-query and segment, seeking only to the hits' documents.
    pub fn matched(
        &self,
        searcher: &Searcher,
        hits: &[DocAddress],
    ) -> tantivy::Result<Vec<Matched>> {
        let mut out = vec![Matched::default(); hits.len()];
        let mut by_segment: HashMap<u32, Vec<(u32, usize)>> = HashMap::new();
        for (i, a) in hits.iter().enumerate() {
            by_segment
                .entry(a.segment_ord)
                .or_default()
                .push((a.doc_id, i));
        }
        for docs in by_segment.values_mut() {
            docs.sort_unstable();
        }
        let subset = |keep: &dyn Fn(&Clause) -> bool, from: &mut dyn Iterator<Item = &Clause>| {
            let qs: Vec<Box<dyn Query>> = from.filter(|c| keep(c)).map(Clause::query).collect();
            (!qs.is_empty()).then(|| union(qs))
        };
        enum Target {
            Group(&'static str),
            Word,
            Whole,
        }
        let mut checks: Vec<(Target, Box<dyn Query>)> = Vec::new();
        for g in Group::ALL {
            if let Some(q) = subset(&|c| c.group == g, &mut self.clauses()) {
                checks.push((Target::Group(g.as_str()), q));
            }
        }
        if self.words.len() > 1 {
            for w in &self.words {
                if let Some(q) = subset(&|_| true, &mut w.iter()) {
                    checks.push((Target::Word, q));
                }
            }
        }
        if let Some(q) = subset(&|_| true, &mut self.whole.iter()) {
            checks.push((Target::Whole, q));
        }
        for (target, q) in checks {
            let weight = q.weight(EnableScoring::disabled_from_searcher(searcher))?;
            for (&segment, docs) in &by_segment {
                let mut scorer = weight.scorer(searcher.segment_reader(segment), 1.0)?;
                for &(doc, i) in docs {
                    // `seek` must not go backwards; a scorer already past `doc` missed it.
                    if scorer.doc() <= doc && scorer.seek(doc) == doc {
                        match target {
                            Target::Group(g) => out[i].groups.push(g),
                            Target::Word => out[i].words += 1,
                            Target::Whole => out[i].whole = true,
                        }
                    }
                }
            }
        }
        for m in &mut out {
            // Group order as in `Group::ALL`, whatever the order of checks.
            m.groups
                .sort_by_key(|g| Group::ALL.iter().position(|x| x.as_str() == *g));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Plan {
        let (_, f) = Fields::schema();
        Plan::new(&f, text, true, true)
    }

    fn groups(p: &Plan) -> Vec<Group> {
        let mut gs: Vec<Group> = p.clauses().map(|c| c.group).collect();
        gs.dedup();
        gs
    }

    #[test]
    fn blank_queries_plan_nothing() {
        assert!(plan("").is_empty());
        assert!(plan("   \t ").is_empty());
        assert!(plan("：，。 ").is_empty());
    }

    #[test]
    fn pinyin_only_for_latin_words_and_phone_only_for_digits() {
        let p = plan("张伟");
        assert!(!groups(&p).contains(&Group::Pinyin));
        assert!(!groups(&p).contains(&Group::Phone));
        let p = plan("zhang wei");
        assert!(groups(&p).contains(&Group::Pinyin));
        let (_, f) = Fields::schema();
        let joined = Lookup::Term(Term::from_field_text(f.pinyin, "zhangwei"));
        assert!(p.whole.iter().any(|c| c.lookup == joined));
        assert!(groups(&plan("138 1234 5678")).contains(&Group::Phone));
        assert!(!groups(&plan("room 1234")).contains(&Group::Phone));
    }

    #[test]
    fn phone_lookups_are_grams() {
        let p = plan("5678");
        assert!(matches!(p.whole[1].lookup, Lookup::Term(_)));
        let p = plan("13812345678");
        assert!(
            p.whole
                .iter()
                .any(|c| matches!(&c.lookup, Lookup::Phrase(ts) if ts.len() == 3))
        );
    }

    #[test]
    fn sensitive_phones_only_when_allowed() {
        let (_, f) = Fields::schema();
        let fields = |s| -> Vec<Field> {
            Plan::new(&f, "13812345678", s, false)
                .whole
                .iter()
                .map(|c| match &c.lookup {
                    Lookup::Phrase(ts) => ts[0].1.field(),
                    Lookup::Term(t) => t.field(),
                })
                .collect()
        };
        assert!(fields(true).contains(&f.sensitive_phone));
        assert!(!fields(false).contains(&f.sensitive_phone));
    }

    #[test]
    fn query_size_is_bounded() {
        let p = plan(&"北京 上海 广州 深圳 杭州 南京 苏州 武汉 成都 西安 ".repeat(20));
        assert!(p.words.len() <= MAX_WORDS);
        assert!(p.clauses().count() <= MAX_WORDS * 6 + 10);
    }

    #[test]
    fn wide_plans_add_subwords_and_characters() {
        let (_, f) = Fields::schema();
        let narrow = Plan::new(&f, "北京大学", false, false);
        let wide = Plan::new(&f, "北京大学", false, true);
        assert_eq!(narrow.word_count(), 1);
        assert!(wide.word_count() > 1 && wide.len() > narrow.len());
        let chars = Lookup::Term(Term::from_field_text(f.name, "伟"));
        let has_chars = |p: &Plan| p.clauses().any(|c| c.lookup == chars);
        assert!(!has_chars(&Plan::new(&f, "张伟", false, false)));
        assert!(has_chars(&Plan::new(&f, "张伟", false, true)));
    }

    #[test]
    fn coordination_prefers_more_words() {
        let p = plan("华为 深圳");
        assert_eq!(p.word_count(), 2);
        let m = |words, whole| Matched {
            groups: vec![],
            words,
            whole,
        };
        assert_eq!(p.coordination(&m(2, false)), 1.0);
        assert_eq!(p.coordination(&m(1, false)), 0.5);
        assert_eq!(p.coordination(&m(0, true)), 1.0);
    }
}
