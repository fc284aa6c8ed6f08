//! Association rules from baskets (order lines) by FP-growth (Han, Pei & Yin 2000), and
//! cross-sell suggestions from them.
//!
//! Support of an itemset = share of baskets containing it; a rule X → y has confidence
//! support(X ∪ {y}) / support(X) and lift confidence / support({y}) (Agrawal, Imieliński &
//! Swami 1993; Brin et al. 1997). Rules have one item on the right, which is what a
//! cross-sell suggestion needs and keeps their number linear in the itemsets.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

/// A frequent itemset (items sorted) and how many baskets contain it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Itemset<I> {
    pub items: Vec<I>,
    pub count: usize,
}

/// A rule `antecedent → consequent`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule<I> {
    /// Sorted, non-empty.
    pub antecedent: Vec<I>,
    pub consequent: I,
    /// Share of baskets with the antecedent and the consequent.
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
}

struct Node<I> {
    item: Option<I>,
    count: usize,
    parent: usize,
    children: HashMap<I, usize>,
}

/// FP-growth on a (conditional) database of weighted transactions: builds the FP-tree of
/// its frequent items, then for each item emits `{item} ∪ suffix` and mines the item's
/// conditional pattern base (the prefix paths above its nodes). Prefix paths only hold
/// items ranked before the item, so each itemset is found exactly once.
fn mine<I: Copy + Ord + Hash>(
    db: &[(Vec<I>, usize)],
    min_count: usize,
    suffix: &[I],
    out: &mut Vec<Itemset<I>>,
) {
    let mut counts: HashMap<I, usize> = HashMap::new();
    for (t, c) in db {
        for &i in t {
            *counts.entry(i).or_insert(0) += c;
        }
    }
    let mut frequent: Vec<(I, usize)> = counts
        .into_iter()
        .filter(|&(_, c)| c >= min_count)
        .collect();
    // Most frequent first (ties by item) shares the most prefixes.
    frequent.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let rank: HashMap<I, usize> = frequent
        .iter()
        .enumerate()
        .map(|(r, &(i, _))| (i, r))
        .collect();

    let mut nodes = vec![Node {
        item: None,
        count: 0,
        parent: 0,
        children: HashMap::new(),
    }];
    let mut header: HashMap<I, Vec<usize>> = HashMap::new();
    for (t, c) in db {
        let mut path: Vec<I> = t.iter().copied().filter(|i| rank.contains_key(i)).collect();
        path.sort_unstable_by_key(|i| rank[i]);
        let mut at = 0;
        for i in path {
            at = match nodes[at].children.get(&i) {
                Some(&child) => child,
                None => {
                    nodes.push(Node {
                        item: Some(i),
                        count: 0,
                        parent: at,
                        children: HashMap::new(),
                    });
                    let id = nodes.len() - 1;
                    nodes[at].children.insert(i, id);
                    header.entry(i).or_default().push(id);
                    id
                }
            };
            nodes[at].count += c;
        }
    }

    for &(item, count) in frequent.iter().rev() {
        let mut items: Vec<I> = suffix.to_vec();
        items.push(item);
        items.sort_unstable();
        out.push(Itemset { items, count });
        let base: Vec<(Vec<I>, usize)> = header[&item]
            .iter()
            .map(|&n| {
                let mut path = Vec::new();
                let mut at = nodes[n].parent;
                while let Some(i) = nodes[at].item {
                    path.push(i);
                    at = nodes[at].parent;
                }
                (path, nodes[n].count)
            })
            .filter(|(p, _)| !p.is_empty())
            .collect();
        if !base.is_empty() {
            let mut new_suffix = suffix.to_vec();
            new_suffix.push(item);
            mine(&base, min_count, &new_suffix, out);
        }
    }
}

/// All itemsets contained in at least `min_support` (a share, 0–1) of the baskets, sorted
/// by size then items. Repeated items in a basket count once. `min_support` is raised to
/// at least one basket.
pub fn frequent_itemsets<I: Copy + Ord + Hash>(
    baskets: &[Vec<I>],
    min_support: f64,
) -> Vec<Itemset<I>> {
    let min_count = ((min_support * baskets.len() as f64).ceil() as usize).max(1);
    let db: Vec<(Vec<I>, usize)> = baskets
        .iter()
        .map(|b| {
            (
                b.iter()
                    .copied()
                    .collect::<BTreeSet<I>>()
                    .into_iter()
                    .collect(),
                1,
            )
        })
        .collect();
    let mut out = Vec::new();
    mine(&db, min_count, &[], &mut out);
    out.sort_unstable_by(|a, b| {
        a.items
            .len()
            .cmp(&b.items.len())
            .then_with(|| a.items.cmp(&b.items))
    });
    out
}

/// Rules `X → y` with confidence at least `min_confidence` from the frequent itemsets of
/// `n_baskets` baskets, strongest first (confidence, then lift).
pub fn association_rules<I: Copy + Ord + Hash>(
    itemsets: &[Itemset<I>],
    n_baskets: usize,
    min_confidence: f64,
) -> Vec<Rule<I>> {
    let count: HashMap<&[I], usize> = itemsets
        .iter()
        .map(|s| (s.items.as_slice(), s.count))
        .collect();
    let n = n_baskets as f64;
    let mut rules = Vec::new();
    for s in itemsets.iter().filter(|s| s.items.len() >= 2) {
        for (k, &y) in s.items.iter().enumerate() {
            let antecedent: Vec<I> = s
                .items
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != k)
                .map(|(_, &i)| i)
                .collect();
            // Every subset of a frequent itemset is frequent, so both are present.
            let ante = count[antecedent.as_slice()] as f64;
            let cons = count[[y].as_slice()] as f64;
            let confidence = s.count as f64 / ante;
            if confidence >= min_confidence {
                rules.push(Rule {
                    antecedent,
                    consequent: y,
                    support: s.count as f64 / n,
                    confidence,
                    lift: confidence / (cons / n),
                });
            }
        }
    }
    rules.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(b.lift.total_cmp(&a.lift))
    });
    rules
}

/// Up to `top` items to suggest to a customer who has bought `owned`: the consequents of
/// rules whose antecedent they have all bought and whose consequent they have not, each
/// with its strongest rule's (confidence, lift), strongest first.
pub fn suggestions<I: Copy + Ord + Hash>(
    rules: &[Rule<I>],
    owned: &[I],
    top: usize,
) -> Vec<(I, f64, f64)> {
    let owned: BTreeSet<I> = owned.iter().copied().collect();
    let mut best: HashMap<I, (f64, f64)> = HashMap::new();
    for r in rules {
        if owned.contains(&r.consequent) || !r.antecedent.iter().all(|i| owned.contains(i)) {
            continue;
        }
        let e = best.entry(r.consequent).or_insert((r.confidence, r.lift));
        if (r.confidence, r.lift) > *e {
            *e = (r.confidence, r.lift);
        }
    }
    let mut out: Vec<(I, f64, f64)> = best.into_iter().map(|(i, (c, l))| (i, c, l)).collect();
    out.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then(b.2.total_cmp(&a.2))
            .then(a.0.cmp(&b.0))
    });
    out.truncate(top);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Han, Pei & Yin's example database (Table 1 of the FP-growth paper), items as chars.
    fn paper_db() -> Vec<Vec<char>> {
        ["facdgimp", "abcflmo", "bfhjo", "bcksp", "afcelpmn"]
            .iter()
            .map(|s| s.chars().collect())
            .collect()
    }

    fn brute_force(baskets: &[Vec<u8>], universe: u8, min_count: usize) -> Vec<Itemset<u8>> {
        let mut out = Vec::new();
        for mask in 1u32..(1 << universe) {
            let items: Vec<u8> = (0..universe).filter(|i| mask & (1 << i) != 0).collect();
            let count = baskets
                .iter()
                .filter(|b| items.iter().all(|i| b.contains(i)))
                .count();
            if count >= min_count {
                out.push(Itemset { items, count });
            }
        }
        out.sort_unstable_by(|a, b| {
            a.items
                .len()
                .cmp(&b.items.len())
                .then_with(|| a.items.cmp(&b.items))
        });
        out
    }

    #[test]
    fn the_papers_example() {
        // Minimum support 3 of 5: the paper's frequent items are f:4, c:4, a:3, b:3, m:3, p:3,
        // and the longest pattern is fcam:3.
        let sets = frequent_itemsets(&paper_db(), 0.6);
        let singles: Vec<(char, usize)> = sets
            .iter()
            .filter(|s| s.items.len() == 1)
            .map(|s| (s.items[0], s.count))
            .collect();
        assert_eq!(
            singles,
            vec![('a', 3), ('b', 3), ('c', 4), ('f', 4), ('m', 3), ('p', 3)]
        );
        let longest = sets.iter().max_by_key(|s| s.items.len()).unwrap();
        assert_eq!(
            longest,
            &Itemset {
                items: vec!['a', 'c', 'f', 'm'],
                count: 3
            }
        );
        assert!(sets.contains(&Itemset {
            items: vec!['c', 'p'],
            count: 3
        }));
        assert_eq!(sets.len(), 18);
    }

    #[test]
    fn agrees_with_brute_force() {
        let mut s: u64 = 99;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as u32
        };
        let baskets: Vec<Vec<u8>> = (0..300)
            .map(|_| {
                (0..8u8)
                    .filter(|i| next() % 100 < 20 + 8 * *i as u32)
                    .collect()
            })
            .collect();
        for min_count in [1usize, 15, 40, 90] {
            let ours = frequent_itemsets(&baskets, min_count as f64 / 300.0);
            assert_eq!(
                ours,
                brute_force(&baskets, 8, min_count),
                "min_count {min_count}"
            );
        }
    }

    #[test]
    fn rules_and_suggestions_by_hand() {
        // 4 baskets: {bread, butter} ×2, {bread, milk}, {milk}.
        let baskets = vec![
            vec!["bread", "butter"],
            vec!["bread", "butter"],
            vec!["bread", "milk"],
            vec!["milk"],
        ];
        let sets = frequent_itemsets(&baskets, 0.25);
        let rules = association_rules(&sets, 4, 0.5);
        let find = |a: &str, c: &str| {
            rules
                .iter()
                .find(|r| r.antecedent == [a] && r.consequent == c)
                .cloned()
        };
        // butter → bread: support 2/4, confidence 2/2, lift 1 / (3/4).
        let r = find("butter", "bread").unwrap();
        assert_eq!((r.support, r.confidence), (0.5, 1.0));
        assert!((r.lift - 4.0 / 3.0).abs() < 1e-12);
        // bread → butter: confidence 2/3, lift (2/3)/(2/4).
        let r = find("bread", "butter").unwrap();
        assert!((r.confidence - 2.0 / 3.0).abs() < 1e-12 && (r.lift - 4.0 / 3.0).abs() < 1e-12);
        // milk → bread: confidence 1/2, kept at min 0.5; bread → milk 1/3 is not.
        assert!(find("milk", "bread").is_some() && find("bread", "milk").is_none());
        assert_eq!(rules[0].confidence, 1.0);

        // A customer with bread is offered butter; one with everything gets nothing.
        let s = suggestions(&rules, &["bread"], 5);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0, "butter");
        assert!(suggestions(&rules, &["bread", "butter", "milk"], 5).is_empty());
        // Duplicates in a basket count once.
        let dup = frequent_itemsets(&[vec![1, 1, 2]], 1.0);
        assert_eq!(
            dup.iter().map(|s| s.count).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
    }
}
