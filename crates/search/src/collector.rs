//! Top-k collection that checks visibility per document without giving up tantivy's
//! block-max WAND pruning (a `FilterCollector` or a filter clause would disable it).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, Score, SegmentReader};

use crate::visibility::{SegmentCheck, Visibility};

/// The `k` best-scoring documents that `visibility` (if any) allows.
pub struct TopVisible<'a> {
    pub k: usize,
    pub visibility: Option<&'a Visibility>,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    score: Score,
    doc: DocId,
}

impl Ord for Entry {
    /// Higher score first; on ties the lower doc id (stable across runs).
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.doc.cmp(&self.doc))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

/// Collects one segment; also usable through the plain `collect` path.
pub struct SegmentTop {
    segment_ord: u32,
    k: usize,
    heap: BinaryHeap<Reverse<Entry>>,
    check: Option<SegmentCheck>,
    /// No document of the segment is visible.
    none_visible: bool,
}

impl SegmentTop {
    /// Offers a document; returns the score a document must now beat.
    fn offer(&mut self, doc: DocId, score: Score) -> Score {
        let visible = !self.none_visible && self.check.as_ref().is_none_or(|c| c.allows(doc));
        if visible {
            let e = Entry { score, doc };
            if self.heap.len() < self.k {
                self.heap.push(Reverse(e));
            } else if self.heap.peek().is_some_and(|Reverse(min)| e > *min) {
                self.heap.pop();
                self.heap.push(Reverse(e));
            }
        }
        self.threshold()
    }

    fn threshold(&self) -> Score {
        if self.heap.len() < self.k {
            Score::MIN
        } else {
            self.heap.peek().map_or(Score::MIN, |Reverse(e)| e.score)
        }
    }
}

impl SegmentCollector for SegmentTop {
    type Fruit = Vec<(Score, DocAddress)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.offer(doc, score);
    }

    fn harvest(self) -> Self::Fruit {
        let ord = self.segment_ord;
        self.heap
            .into_iter()
            .map(|Reverse(e)| (e.score, DocAddress::new(ord, e.doc)))
            .collect()
    }
}

impl Collector for TopVisible<'_> {
    type Fruit = Vec<(Score, DocAddress)>;
    type Child = SegmentTop;

    fn for_segment(&self, segment_ord: u32, reader: &SegmentReader) -> tantivy::Result<SegmentTop> {
        let check = match self.visibility {
            Some(v) => v.for_segment(reader)?,
            None => None,
        };
        Ok(SegmentTop {
            segment_ord,
            k: self.k,
            heap: BinaryHeap::with_capacity(self.k + 1),
            none_visible: self.visibility.is_some() && check.is_none(),
            check,
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut all: Vec<(Score, DocAddress)> = fruits.into_iter().flatten().collect();
        all.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        all.truncate(self.k);
        Ok(all)
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: u32,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Fruit> {
        let mut top = self.for_segment(segment_ord, reader)?;
        if top.none_visible || self.k == 0 {
            return Ok(Vec::new());
        }
        let alive = reader.alive_bitset();
        // The callback sees only documents scoring above the returned threshold, which is
        // what lets the union of term scorers skip whole blocks.
        weight.for_each_pruning(Score::MIN, reader, &mut |doc, score| {
            if alive.is_some_and(|a| a.is_deleted(doc)) {
                return top.threshold();
            }
            top.offer(doc, score)
        })?;
        Ok(top.harvest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_k_with_stable_ties() {
        let mut top = SegmentTop {
            segment_ord: 0,
            k: 3,
            heap: BinaryHeap::new(),
            check: None,
            none_visible: false,
        };
        assert_eq!(top.threshold(), Score::MIN);
        for (doc, score) in [(1, 1.0), (2, 5.0), (3, 3.0), (4, 3.0), (5, 0.5), (6, 4.0)] {
            top.offer(doc, score);
        }
        assert_eq!(top.threshold(), 3.0);
        let c = TopVisible {
            k: 3,
            visibility: None,
        };
        let got: Vec<u32> = c
            .merge_fruits(vec![top.harvest()])
            .unwrap()
            .iter()
            .map(|(_, a)| a.doc_id)
            .collect();
        assert_eq!(got, [2, 6, 3]);
    }
}
