//! A query for small visible sets: walk the visible documents and look each one up in the
//! text clauses.
//!
//! Tantivy's own `filter AND (t₁ OR t₂ …)` seeks into a buffered union, which refills a
//! window of thousands of documents on every far seek; with a sparse filter that costs
//! microseconds per visible document. Seeking each term scorer directly costs a skip-list
//! step per clause.

use std::fmt;

use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError};

/// The documents of `driver` matching at least one of `clauses`, scored by the sum of the
/// matching clauses (the driver does not score).
pub struct DrivenQuery {
    pub driver: Box<dyn Query>,
    pub clauses: Vec<Box<dyn Query>>,
}

impl Clone for DrivenQuery {
    fn clone(&self) -> Self {
        DrivenQuery {
            driver: self.driver.box_clone(),
            clauses: self.clauses.iter().map(|c| c.box_clone()).collect(),
        }
    }
}

impl fmt::Debug for DrivenQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DrivenQuery")
            .field("driver", &self.driver)
            .field("clauses", &self.clauses)
            .finish()
    }
}

impl Query for DrivenQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let unscored = EnableScoring::disabled_from_schema(scoring.schema());
        Ok(Box::new(DrivenWeight {
            driver: self.driver.weight(unscored)?,
            clauses: self
                .clauses
                .iter()
                .map(|c| c.weight(scoring))
                .collect::<tantivy::Result<_>>()?,
        }))
    }
}

struct DrivenWeight {
    driver: Box<dyn Weight>,
    clauses: Vec<Box<dyn Weight>>,
}

impl Weight for DrivenWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut scorer = DrivenScorer {
            driver: self.driver.scorer(reader, 1.0)?,
            clauses: self
                .clauses
                .iter()
                .map(|w| w.scorer(reader, boost))
                .collect::<tantivy::Result<_>>()?,
            doc: TERMINATED,
            score: 0.0,
        };
        let first = scorer.driver.doc();
        scorer.settle(first);
        Ok(Box::new(scorer))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.doc() > doc || scorer.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!(
                "document #{doc} does not match"
            )));
        }
        Ok(Explanation::new("sum of matching clauses", scorer.score()))
    }
}

struct DrivenScorer {
    driver: Box<dyn Scorer>,
    clauses: Vec<Box<dyn Scorer>>,
    doc: DocId,
    score: Score,
}

impl DrivenScorer {
    /// From driver document `d` on, stops at the first one some clause matches.
    fn settle(&mut self, mut d: DocId) -> DocId {
        while d != TERMINATED {
            let mut matched = false;
            let mut score = 0.0;
            for c in &mut self.clauses {
                let mut at = c.doc();
                if at < d {
                    at = c.seek(d);
                }
                if at == d {
                    matched = true;
                    score += c.score();
                }
            }
            if matched {
                self.doc = d;
                self.score = score;
                return d;
            }
            d = self.driver.advance();
        }
        self.doc = TERMINATED;
        TERMINATED
    }
}

impl DocSet for DrivenScorer {
    fn advance(&mut self) -> DocId {
        if self.doc == TERMINATED {
            return TERMINATED;
        }
        let d = self.driver.advance();
        self.settle(d)
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        let d = self.driver.seek(target);
        self.settle(d)
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.driver.size_hint()
    }
}

impl Scorer for DrivenScorer {
    fn score(&mut self) -> Score {
        self.score
    }
}

#[cfg(test)]
mod tests {
    use tantivy::collector::TopDocs;
    use tantivy::query::TermQuery;
    use tantivy::schema::{IndexRecordOption, STRING, Schema};
    use tantivy::{Index, IndexWriter, TantivyDocument, Term};

    use super::*;

    #[test]
    fn visits_driver_docs_matching_a_clause() {
        let mut b = Schema::builder();
        let owner = b.add_text_field("owner", STRING);
        let word = b.add_text_field("word", STRING);
        let index = Index::create_in_ram(b.build());
        let mut w: IndexWriter<TantivyDocument> =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        for (o, ws) in [
            ("me", "a b"),
            ("you", "a"),
            ("me", "c"),
            ("me", "b"),
            ("me", "a"),
        ] {
            let mut d = TantivyDocument::new();
            d.add_text(owner, o);
            for x in ws.split(' ') {
                d.add_text(word, x);
            }
            w.add_document(d).unwrap();
        }
        w.commit().unwrap();
        let term = |f, t: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(f, t),
                IndexRecordOption::WithFreqs,
            ))
        };
        let q = DrivenQuery {
            driver: term(owner, "me"),
            clauses: vec![term(word, "a"), term(word, "b")],
        };
        let searcher = index.reader().unwrap().searcher();
        let top = searcher
            .search(&q, &TopDocs::with_limit(10).order_by_score())
            .unwrap();
        let mut docs: Vec<u32> = top.iter().map(|(_, a)| a.doc_id).collect();
        // Doc 0 matches both clauses and ranks first.
        assert_eq!(docs[0], 0);
        docs.sort();
        assert_eq!(docs, [0, 3, 4]);
        assert!(q.explain(&searcher, top[0].1).is_ok());
    }
}
