//! Buy-till-you-die models: who is still a customer and how much they will buy.
//!
//! The models see each customer through a summary `(x, t_x, T)`: `x` repeat purchases,
//! the last at `t_x` after the first purchase, observed for `T` since the first purchase,
//! in periods (days, weeks or months). [`summarise`] builds it from a transaction log.
//!
//! Models: [`BgNbd`], [`MbgNbd`] and [`ParetoNbd`] for purchases and dropout, [`GammaGamma`]
//! for spend per purchase, [`clv`] to combine them. Each fits by maximum likelihood on
//! log-parameters with [`crate::optimize::minimize`].

mod bgnbd;
mod gamma_gamma;
mod mbgnbd;
mod pareto_nbd;
mod special;

pub use bgnbd::BgNbd;
pub use gamma_gamma::GammaGamma;
pub use mbgnbd::MbgNbd;
pub use pareto_nbd::ParetoNbd;
pub use special::hyp2f1;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;

use chrono::NaiveDate;

use crate::Transaction;

/// The unit of time for `t_x` and `T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    /// The mean Gregorian month, 365.25 / 12 = 30.4375 days.
    Month,
}

impl Period {
    /// Length in days.
    pub fn days(self) -> f64 {
        match self {
            Period::Day => 1.0,
            Period::Week => 7.0,
            Period::Month => 365.25 / 12.0,
        }
    }

    /// Periods in a month for discounting CLV month by month: 30 days, 4.345 weeks, 1 month
    /// (the convention of the Python `lifetimes` package, so results compare with it).
    pub fn per_month(self) -> f64 {
        match self {
            Period::Day => 30.0,
            Period::Week => 4.345,
            Period::Month => 1.0,
        }
    }
}

/// What the models see of one customer (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// `x`: number of repeat purchases (purchase days after the first).
    pub frequency: u32,
    /// `t_x`: time from the first to the last purchase; 0 when `x = 0`.
    pub recency: f64,
    /// `T`: time from the first purchase to the end of calibration.
    pub age: f64,
}

impl Summary {
    pub fn new(frequency: u32, recency: f64, age: f64) -> Self {
        Summary {
            frequency,
            recency,
            age,
        }
    }

    fn check(&self) -> Result<(), FitError> {
        let ok = self.recency.is_finite()
            && self.age.is_finite()
            && self.recency >= 0.0
            && self.recency <= self.age
            && (self.frequency > 0 || self.recency == 0.0);
        if ok {
            Ok(())
        } else {
            Err(FitError::InvalidSummary(*self))
        }
    }
}

/// A customer's summary with who they are and their mean repeat spend.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerSummary<Id> {
    pub customer: Id,
    pub summary: Summary,
    /// Mean spend per repeat purchase day, minor units (the first purchase is left out, as
    /// the Gamma-Gamma model expects); 0 when `x = 0`.
    pub mean_repeat_spend: f64,
}

/// Builds the summaries for the calibration period ending on `calibration_end`
/// (inclusive), sorted by customer id.
///
/// Purchases on the same day count as one purchase whose amount is their sum, as the
/// literature does for CDNOW, whatever the period: times are day counts divided by the
/// period's length, so `t_x = (last − first) / period` and `T = (end − first) / period`.
/// Customers whose first purchase is after `calibration_end` are left out.
pub fn summarise<Id: Copy + Ord + Hash>(
    transactions: &[Transaction<Id>],
    calibration_end: NaiveDate,
    period: Period,
) -> Vec<CustomerSummary<Id>> {
    // customer → day → amount on that day.
    let mut days: HashMap<Id, BTreeMap<NaiveDate, i64>> = HashMap::new();
    for t in transactions.iter().filter(|t| t.date <= calibration_end) {
        *days
            .entry(t.customer)
            .or_default()
            .entry(t.date)
            .or_insert(0) += t.amount_minor;
    }
    let len = period.days();
    let mut out: Vec<CustomerSummary<Id>> = days
        .into_iter()
        .map(|(customer, days)| {
            let first = *days.keys().next().expect("a customer has at least one day");
            let last = *days
                .keys()
                .next_back()
                .expect("a customer has at least one day");
            let x = (days.len() - 1) as u32;
            let repeat_total: i64 = days.values().skip(1).sum();
            CustomerSummary {
                customer,
                summary: Summary {
                    frequency: x,
                    recency: (last - first).num_days() as f64 / len,
                    age: (calibration_end - first).num_days() as f64 / len,
                },
                mean_repeat_spend: if x > 0 {
                    repeat_total as f64 / x as f64
                } else {
                    0.0
                },
            }
        })
        .collect();
    out.sort_unstable_by_key(|c| c.customer);
    out
}

/// What a purchase model (BG/NBD, MBG/NBD, Pareto/NBD) predicts for one customer; [`clv`]
/// works with any of them.
pub trait PurchaseModel {
    /// Expected purchases in the next `t` periods, E[Y(t) | x, tₓ, T].
    fn expected_purchases(&self, s: &Summary, t: f64) -> f64;
    /// P(alive | x, tₓ, T).
    fn p_alive(&self, s: &Summary) -> f64;
}

macro_rules! purchase_model {
    ($($model:ty),*) => {$(
        impl PurchaseModel for $model {
            fn expected_purchases(&self, s: &Summary, t: f64) -> f64 {
                <$model>::expected_purchases(self, s, t)
            }
            fn p_alive(&self, s: &Summary) -> f64 {
                <$model>::p_alive(self, s)
            }
        }
    )*};
}
purchase_model!(BgNbd, MbgNbd, ParetoNbd);

/// Discounted customer lifetime value over `months` months: month m's expected purchases,
/// E[Y(m·L)] − E[Y((m−1)·L)] with L = [`Period::per_month`] periods, times the expected
/// spend per purchase from `spend_model`, discounted by (1 + `monthly_discount_rate`)^m.
/// This is the `lifetimes` package's convention, so results compare with it. Money is in
/// the units `mean_spend` (and the spend model) use.
pub fn clv<M: PurchaseModel + ?Sized>(
    model: &M,
    spend_model: &GammaGamma,
    summary: &Summary,
    mean_spend: f64,
    period: Period,
    months: u32,
    monthly_discount_rate: f64,
) -> f64 {
    let spend = spend_model.expected_spend(summary.frequency, mean_spend);
    clv_with_spend(model, summary, spend, period, months, monthly_discount_rate)
}

/// Lifetime value over `months` for a given expected spend per transaction: the purchase
/// model's expected purchases in each month, discounted monthly.
pub fn clv_with_spend<M: PurchaseModel + ?Sized>(
    model: &M,
    summary: &Summary,
    spend: f64,
    period: Period,
    months: u32,
    monthly_discount_rate: f64,
) -> f64 {
    let l = period.per_month();
    let mut before = 0.0;
    let mut value = 0.0;
    for m in 1..=months {
        let cumulative = model.expected_purchases(summary, m as f64 * l);
        value += spend * (cumulative - before) / (1.0 + monthly_discount_rate).powi(m as i32);
        before = cumulative;
    }
    value
}

/// A fitted model and how well it fits.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit<M> {
    pub params: M,
    pub log_likelihood: f64,
    /// Likelihood evaluations the optimiser used.
    pub evaluations: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FitError {
    /// Nothing to fit (for Gamma-Gamma: no customer with a repeat purchase).
    Empty,
    /// A summary that cannot occur: `t_x` outside `[0, T]`, or `t_x > 0` with `x = 0`.
    InvalidSummary(Summary),
    /// A mean spend that is not positive and finite for a customer with `x > 0`.
    InvalidSpend(f64),
    /// The optimiser did not converge (the data may not identify the model).
    NotConverged,
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::Empty => f.write_str("no data to fit"),
            FitError::InvalidSummary(s) => write!(
                f,
                "invalid summary: frequency {}, recency {}, T {}",
                s.frequency, s.recency, s.age
            ),
            FitError::InvalidSpend(m) => write!(f, "invalid mean spend {m}"),
            FitError::NotConverged => f.write_str("the maximum-likelihood search did not converge"),
        }
    }
}

impl std::error::Error for FitError {}

/// Identical summaries with their counts: the likelihood is a sum over customers, and
/// real data repeat `(x, t_x, T)` often (everyone with `x = 0` and the same first day).
/// Maximum likelihood over log-parameters (every parameter stays positive and the surface
/// is better scaled), from all parameters = 1. `params` builds the model from log-values;
/// the fit reports `ll`, the log-likelihood of the data at the optimum.
fn fit_positive<M: Copy, const N: usize>(
    params: impl Fn(&[f64]) -> M,
    neg_ll: impl Fn(&M) -> f64,
    ll: impl Fn(&M) -> f64,
) -> Result<Fit<M>, FitError> {
    let m = crate::optimize::minimize(
        |t| neg_ll(&params(t)),
        &[0.0; N],
        crate::optimize::Options::default(),
    );
    if !m.converged || !m.f.is_finite() {
        return Err(FitError::NotConverged);
    }
    let p = params(&m.x);
    Ok(Fit {
        params: p,
        log_likelihood: ll(&p),
        evaluations: m.evaluations,
    })
}

fn aggregate(data: &[Summary]) -> Result<Vec<(Summary, f64)>, FitError> {
    if data.is_empty() {
        return Err(FitError::Empty);
    }
    let mut groups: HashMap<(u32, u64, u64), (Summary, f64)> = HashMap::new();
    for s in data {
        s.check()?;
        groups
            .entry((s.frequency, s.recency.to_bits(), s.age.to_bits()))
            .or_insert((*s, 0.0))
            .1 += 1.0;
    }
    let mut out: Vec<_> = groups.into_values().collect();
    // Deterministic summation order, so a fit is reproducible to the last bit.
    out.sort_by(|a, b| {
        (a.0.frequency, a.0.recency, a.0.age)
            .partial_cmp(&(b.0.frequency, b.0.recency, b.0.age))
            .expect("summaries are finite")
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn summary_collapses_same_day_purchases() {
        let tx = [
            Transaction::new(7u64, d(2024, 1, 1), 10_00),
            Transaction::new(7, d(2024, 1, 1), 5_00),
            Transaction::new(7, d(2024, 1, 15), 20_00),
            Transaction::new(7, d(2024, 1, 15), 2_00),
            Transaction::new(7, d(2024, 1, 29), 30_00),
            // After the end: ignored.
            Transaction::new(7, d(2024, 3, 1), 1_000_00),
            Transaction::new(8, d(2024, 2, 1), 1_00),
            Transaction::new(9, d(2024, 3, 1), 1_00),
        ];
        let s = summarise(&tx, d(2024, 2, 12), Period::Week);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].customer, 7);
        assert_eq!(s[0].summary, Summary::new(2, 4.0, 6.0));
        // Repeat days: 22.00 and 30.00 → mean 26.00.
        assert_eq!(s[0].mean_repeat_spend, 26_00.0);
        assert_eq!(s[1].summary, Summary::new(0, 0.0, 11.0 / 7.0));
        assert_eq!(s[1].mean_repeat_spend, 0.0);

        let days = summarise(&tx, d(2024, 2, 12), Period::Day);
        assert_eq!(days[0].summary, Summary::new(2, 28.0, 42.0));
        let months = summarise(&tx, d(2024, 2, 12), Period::Month);
        assert!((months[0].summary.age - 42.0 / 30.4375).abs() < 1e-12);
    }

    #[test]
    fn clv_discounts_month_by_month() {
        let bg = BgNbd {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        let gg = GammaGamma {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
        };
        let s = Summary::new(2, 30.43, 38.86);
        let spend = gg.expected_spend(2, 22.35);
        // Undiscounted, the months telescope to E[Y(12 · 4.345)] × spend.
        let flat = clv(&bg, &gg, &s, 22.35, Period::Week, 12, 0.0);
        let whole = bg.expected_purchases(&s, 12.0 * 4.345) * spend;
        assert!((flat - whole).abs() < 1e-9 * whole);
        // Two months at 1%: by hand.
        let y1 = bg.expected_purchases(&s, 4.345);
        let y2 = bg.expected_purchases(&s, 8.69);
        let by_hand = spend * (y1 / 1.01 + (y2 - y1) / 1.01f64.powi(2));
        assert!((clv(&bg, &gg, &s, 22.35, Period::Week, 2, 0.01) - by_hand).abs() < 1e-12);
        assert!(clv(&bg, &gg, &s, 22.35, Period::Week, 12, 0.01) < flat);
        assert_eq!(clv(&bg, &gg, &s, 22.35, Period::Week, 0, 0.01), 0.0);
    }

    #[test]
    fn clv_works_with_every_purchase_model() {
        let gg = GammaGamma {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
        };
        let s = Summary::new(2, 30.43, 38.86);
        let spend = gg.expected_spend(2, 22.35);
        let models: [&dyn PurchaseModel; 2] = [
            &MbgNbd {
                r: 0.525,
                alpha: 6.183,
                a: 0.891,
                b: 1.614,
            },
            &ParetoNbd {
                r: 0.553,
                alpha: 10.578,
                s: 0.606,
                beta: 11.669,
            },
        ];
        for m in models {
            // Undiscounted, the months telescope to E[Y(12 months)] × spend.
            let flat = clv(m, &gg, &s, 22.35, Period::Day, 12, 0.0);
            let whole = m.expected_purchases(&s, 360.0) * spend;
            assert!(whole > 0.0 && (flat - whole).abs() < 1e-9 * whole);
            assert!(clv(m, &gg, &s, 22.35, Period::Day, 12, 0.01) < flat);
        }
    }

    #[test]
    fn invalid_summaries_are_rejected() {
        assert!(aggregate(&[]).is_err());
        for bad in [
            Summary::new(1, 5.0, 4.0),
            Summary::new(0, 1.0, 4.0),
            Summary::new(1, -1.0, 4.0),
            Summary::new(1, f64::NAN, 4.0),
        ] {
            assert!(
                matches!(aggregate(&[bad]), Err(FitError::InvalidSummary(_))),
                "{bad:?}"
            );
        }
        let g = aggregate(&[
            Summary::new(0, 0.0, 3.0),
            Summary::new(0, 0.0, 3.0),
            Summary::new(1, 1.0, 3.0),
        ])
        .unwrap();
        assert_eq!(
            g,
            vec![
                (Summary::new(0, 0.0, 3.0), 2.0),
                (Summary::new(1, 1.0, 3.0), 1.0)
            ]
        );
    }
}
