//! RFM: recency, frequency, monetary value per customer as of a date, scored 1–5.
//!
//! Score rule (issue 5): `score = 1 + ⌊5 × worse / N⌋`, where `worse` counts the customers
//! strictly worse on that measure and `N` is the number of customers. 5 is best; tied values
//! share a score (they have the same `worse`), and the best customer of `N ≥ 1` gets at most
//! `1 + ⌊5(N−1)/N⌋ ≤ 5`. "Worse" means more days for recency, fewer transactions for
//! frequency and less total spend for monetary.
//!
//! Transactions dated after `as_of` are ignored: they were not known on that date.

use std::collections::HashMap;
use std::hash::Hash;

use chrono::NaiveDate;

use crate::Transaction;

/// The standard named RFM segments.
///
/// Segments are read from a grid of the recency score `R` and the combined
/// frequency-monetary score `FM = ⌈(F + M) / 2⌉` (the usual "R × FM" map, so that a big
/// spender who buys rarely still counts as valuable). Every (R, FM) cell has exactly one
/// segment:
///
/// | R \ FM | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | 5 | new | potential loyalist | potential loyalist | champions | champions |
/// | 4 | promising | potential loyalist | potential loyalist | loyal | loyal |
/// | 3 | about to sleep | about to sleep | need attention | loyal | loyal |
/// | 2 | hibernating | hibernating | at risk | at risk | cannot lose |
/// | 1 | lost | lost | at risk | at risk | cannot lose |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Champions,
    Loyal,
    PotentialLoyalist,
    New,
    Promising,
    NeedAttention,
    AboutToSleep,
    AtRisk,
    CannotLose,
    Hibernating,
    Lost,
}

impl Segment {
    pub const ALL: [Segment; 11] = [
        Segment::Champions,
        Segment::Loyal,
        Segment::PotentialLoyalist,
        Segment::New,
        Segment::Promising,
        Segment::NeedAttention,
        Segment::AboutToSleep,
        Segment::AtRisk,
        Segment::CannotLose,
        Segment::Hibernating,
        Segment::Lost,
    ];

    /// The segment of scores `r`, `f`, `m` (each 1–5) by the table on [`Segment`].
    ///
    /// # Panics
    /// If a score is outside 1–5.
    pub fn from_scores(r: u8, f: u8, m: u8) -> Segment {
        assert!(
            (1..=5).contains(&r) && (1..=5).contains(&f) && (1..=5).contains(&m),
            "RFM scores must be 1–5, got ({r}, {f}, {m})"
        );
        let fm = (f + m).div_ceil(2);
        match (r, fm) {
            (5, 1) => Segment::New,
            (4, 1) => Segment::Promising,
            (4..=5, 2..=3) => Segment::PotentialLoyalist,
            (5, 4..=5) => Segment::Champions,
            (3..=4, 4..=5) => Segment::Loyal,
            (3, 3) => Segment::NeedAttention,
            (3, 1..=2) => Segment::AboutToSleep,
            (1..=2, 3..=4) => Segment::AtRisk,
            (1..=2, 5) => Segment::CannotLose,
            (2, 1..=2) => Segment::Hibernating,
            (1, 1..=2) => Segment::Lost,
            _ => unreachable!("every (R, FM) in 1–5 × 1–5 is covered"),
        }
    }

    /// A stable snake_case name for files and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Segment::Champions => "champions",
            Segment::Loyal => "loyal",
            Segment::PotentialLoyalist => "potential_loyalist",
            Segment::New => "new",
            Segment::Promising => "promising",
            Segment::NeedAttention => "need_attention",
            Segment::AboutToSleep => "about_to_sleep",
            Segment::AtRisk => "at_risk",
            Segment::CannotLose => "cannot_lose",
            Segment::Hibernating => "hibernating",
            Segment::Lost => "lost",
        }
    }
}

/// One customer's RFM values and scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rfm<Id> {
    pub customer: Id,
    /// Days from the last purchase to `as_of` (0 if they bought that day).
    pub recency_days: i64,
    /// Number of transactions up to and including `as_of`.
    pub frequency: u64,
    /// Total spend up to and including `as_of`, minor units.
    pub monetary_minor: i64,
    pub r: u8,
    pub f: u8,
    pub m: u8,
    pub segment: Segment,
}

/// `1 + ⌊5 × worse / n⌋` for each value, where `worse` counts values strictly lower
/// (callers negate a measure where lower is better).
fn scores(values: &[i64]) -> Vec<u8> {
    let n = values.len();
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    values
        .iter()
        .map(|v| {
            let worse = sorted.partition_point(|w| w < v);
            // worse ≤ n − 1, so the score is at most 5.
            (1 + 5 * worse / n) as u8
        })
        .collect()
}

/// RFM for every customer with a transaction on or before `as_of`, sorted by customer id.
pub fn rfm<Id: Copy + Ord + Hash>(
    transactions: &[Transaction<Id>],
    as_of: NaiveDate,
) -> Vec<Rfm<Id>> {
    // customer → (last date, count, total)
    let mut acc: HashMap<Id, (NaiveDate, u64, i64)> = HashMap::new();
    for t in transactions.iter().filter(|t| t.date <= as_of) {
        let e = acc.entry(t.customer).or_insert((t.date, 0, 0));
        e.0 = e.0.max(t.date);
        e.1 += 1;
        e.2 += t.amount_minor;
    }
    let mut rows: Vec<(Id, i64, u64, i64)> = acc
        .into_iter()
        .map(|(id, (last, n, total))| (id, (as_of - last).num_days(), n, total))
        .collect();
    rows.sort_unstable_by_key(|r| r.0);

    // Fewer days is better, so negate recency to make "strictly lower" mean "worse".
    let r = scores(&rows.iter().map(|r| -r.1).collect::<Vec<_>>());
    let f = scores(&rows.iter().map(|r| r.2 as i64).collect::<Vec<_>>());
    let m = scores(&rows.iter().map(|r| r.3).collect::<Vec<_>>());
    rows.into_iter()
        .enumerate()
        .map(
            |(i, (customer, recency_days, frequency, monetary_minor))| Rfm {
                customer,
                recency_days,
                frequency,
                monetary_minor,
                r: r[i],
                f: f[i],
                m: m[i],
                segment: Segment::from_scores(r[i], f[i], m[i]),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn values_per_customer() {
        let tx = [
            Transaction::new(1u64, d(2024, 1, 1), 100_00),
            Transaction::new(1, d(2024, 3, 1), 50_00),
            Transaction::new(2, d(2024, 2, 1), 10_00),
            // After as_of: ignored, and customer 3 is absent.
            Transaction::new(1, d(2024, 5, 1), 999_00),
            Transaction::new(3, d(2024, 5, 1), 1_00),
        ];
        let out = rfm(&tx, d(2024, 3, 31));
        assert_eq!(out.len(), 2);
        assert_eq!(
            (
                out[0].customer,
                out[0].recency_days,
                out[0].frequency,
                out[0].monetary_minor
            ),
            (1, 30, 2, 150_00)
        );
        assert_eq!(
            (
                out[1].customer,
                out[1].recency_days,
                out[1].frequency,
                out[1].monetary_minor
            ),
            (2, 59, 1, 10_00)
        );
        // N = 2: the better gets 1 + ⌊5·1/2⌋ = 3, the worse 1.
        assert_eq!((out[0].r, out[0].f, out[0].m), (3, 3, 3));
        assert_eq!((out[1].r, out[1].f, out[1].m), (1, 1, 1));
    }

    #[test]
    fn scores_follow_the_formula_with_ties() {
        // Ten distinct values: worse = 0..9 → 1 + ⌊worse/2⌋ = 1,1,2,2,3,3,4,4,5,5.
        let v: Vec<i64> = (0..10).collect();
        assert_eq!(scores(&v), vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        // Ties share the score of their count of strictly worse values.
        assert_eq!(scores(&[7, 7, 7]), vec![1, 1, 1]);
        // values 1,2,2,2,3: worse = 0,1,1,1,4 → 1, 2, 2, 2, 5.
        assert_eq!(scores(&[2, 1, 2, 3, 2]), vec![2, 1, 2, 5, 2]);
        assert_eq!(scores(&[5]), vec![1]);
    }

    #[test]
    fn recency_fewer_days_is_better() {
        let as_of = d(2024, 12, 31);
        let tx: Vec<_> = (0..5u64)
            .map(|i| Transaction::new(i, as_of - chrono::Days::new(10 * i), 1_00))
            .collect();
        let out = rfm(&tx, as_of);
        // Customer 0 bought on as_of (recency 0): 4 customers are worse → 1 + ⌊20/5⌋ = 5.
        let r: Vec<u8> = out.iter().map(|x| x.r).collect();
        assert_eq!(r, vec![5, 4, 3, 2, 1]);
        assert_eq!(out[0].recency_days, 0);
        assert_eq!(out[4].recency_days, 40);
    }

    #[test]
    fn segment_table() {
        use Segment::*;
        // Rows R = 5..1, columns FM = 1..5 (F = M = FM), as in the table on `Segment`.
        let table = [
            [
                New,
                PotentialLoyalist,
                PotentialLoyalist,
                Champions,
                Champions,
            ],
            [
                Promising,
                PotentialLoyalist,
                PotentialLoyalist,
                Loyal,
                Loyal,
            ],
            [AboutToSleep, AboutToSleep, NeedAttention, Loyal, Loyal],
            [Hibernating, Hibernating, AtRisk, AtRisk, CannotLose],
            [Lost, Lost, AtRisk, AtRisk, CannotLose],
        ];
        for (i, row) in table.iter().enumerate() {
            let r = 5 - i as u8;
            for (j, seg) in row.iter().enumerate() {
                let fm = j as u8 + 1;
                assert_eq!(Segment::from_scores(r, fm, fm), *seg, "R={r} FM={fm}");
            }
        }
        // FM rounds up: F=5, M=2 → FM 4.
        assert_eq!(Segment::from_scores(5, 5, 2), Champions);
        assert_eq!(Segment::from_scores(1, 1, 2), Lost);
        assert_eq!(Segment::from_scores(1, 5, 4), CannotLose);
        // Every segment is reachable and every score combination maps to one.
        let mut seen = std::collections::BTreeSet::new();
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    seen.insert(Segment::from_scores(r, f, m));
                }
            }
        }
        assert_eq!(seen.len(), Segment::ALL.len());
        let names: std::collections::BTreeSet<_> =
            Segment::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names.len(), 11);
    }

    #[test]
    #[should_panic(expected = "RFM scores must be 1–5")]
    fn segment_rejects_bad_scores() {
        Segment::from_scores(0, 3, 3);
    }

    #[test]
    fn generic_ids_and_empty_input() {
        let tx = [
            Transaction::new("b", d(2024, 1, 2), 5),
            Transaction::new("a", d(2024, 1, 1), 7),
        ];
        let out = rfm(&tx, d(2024, 1, 2));
        assert_eq!(
            out.iter().map(|x| x.customer).collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        assert!(rfm::<u64>(&[], d(2024, 1, 1)).is_empty());
    }
}
