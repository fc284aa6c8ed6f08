//! Cohort retention: customers grouped by the month of their first purchase, and for each
//! later month the share of the cohort that bought in it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;

use chrono::{Datelike, NaiveDate};

use crate::Transaction;

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1–12.
    pub month: u32,
}

impl Month {
    pub fn of(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// Months since year 0, so that differences count months.
    fn index(self) -> i64 {
        self.year as i64 * 12 + self.month as i64 - 1
    }
}

/// One cohort's row of the retention matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cohort {
    /// The month of the first purchase.
    pub month: Month,
    /// Customers whose first purchase was in that month.
    pub size: usize,
    /// `active[k]`: customers of the cohort who bought in the k-th month after it
    /// (`active[0] == size`), for every month up to the `as_of` month.
    pub active: Vec<usize>,
}

impl Cohort {
    /// `active[k] / size`.
    pub fn retention(&self) -> Vec<f64> {
        self.active
            .iter()
            .map(|&a| a as f64 / self.size as f64)
            .collect()
    }
}

/// The retention matrix as of a date, one row per cohort in month order; transactions
/// after `as_of` are ignored. Later cohorts have shorter rows (a triangle).
pub fn cohort_retention<Id: Copy + Eq + Hash>(
    transactions: &[Transaction<Id>],
    as_of: NaiveDate,
) -> Vec<Cohort> {
    let mut months: HashMap<Id, BTreeSet<Month>> = HashMap::new();
    for t in transactions.iter().filter(|t| t.date <= as_of) {
        months
            .entry(t.customer)
            .or_default()
            .insert(Month::of(t.date));
    }
    let last = Month::of(as_of).index();
    let mut rows: BTreeMap<Month, Cohort> = BTreeMap::new();
    for bought in months.values() {
        let first = *bought
            .iter()
            .next()
            .expect("a customer has at least one month");
        let row = rows.entry(first).or_insert_with(|| Cohort {
            month: first,
            size: 0,
            active: vec![0; (last - first.index() + 1) as usize],
        });
        row.size += 1;
        for m in bought {
            row.active[(m.index() - first.index()) as usize] += 1;
        }
    }
    rows.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn triangle_by_hand() {
        let tx = [
            // Cohort 2023-12: customers 1, 2.
            Transaction::new(1u32, d(2023, 12, 5), 1),
            Transaction::new(1, d(2023, 12, 20), 1), // same month: counted once
            Transaction::new(1, d(2024, 2, 1), 1),
            Transaction::new(2, d(2023, 12, 31), 1),
            Transaction::new(2, d(2024, 1, 1), 1),
            Transaction::new(2, d(2024, 2, 29), 1),
            // Cohort 2024-02: customer 3.
            Transaction::new(3, d(2024, 2, 10), 1),
            // After as_of: ignored (customer 4 absent, customer 3's March purchase too).
            Transaction::new(3, d(2024, 3, 1), 1),
            Transaction::new(4, d(2024, 3, 1), 1),
        ];
        let m = cohort_retention(&tx, d(2024, 2, 29));
        assert_eq!(
            m,
            vec![
                Cohort {
                    month: Month {
                        year: 2023,
                        month: 12
                    },
                    size: 2,
                    active: vec![2, 1, 2],
                },
                Cohort {
                    month: Month {
                        year: 2024,
                        month: 2
                    },
                    size: 1,
                    active: vec![1],
                },
            ]
        );
        assert_eq!(m[0].retention(), vec![1.0, 0.5, 1.0]);
        assert!(cohort_retention::<u32>(&[], d(2024, 1, 1)).is_empty());
    }
}
