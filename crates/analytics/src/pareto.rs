//! Pareto / 80-20: how concentrated revenue (and gross margin) is among customers.
//!
//! The Lorenz curve has the points `(i/n, L_i)` for `i = 0..=n`, where `L_i` is the share of
//! the total held by the `i` smallest customers; it is joined linearly between points. The
//! share of the top fraction `k` of customers is read off that curve, `1 − L(1 − k)`, so a
//! fraction of a customer counts in proportion (the top 20% of 3 customers is 0.6 of the
//! largest one). The Gini coefficient is
//! `1 − Σ (1/n)(L_i + L_{i−1})`, twice the area between the curve and the diagonal
//! (trapezoid rule, exact for the piecewise-linear curve); it is 0 when all are equal and
//! `1 − 1/n` when one customer holds everything.

use std::cmp::Reverse;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParetoError {
    /// No customers.
    Empty,
    /// A customer's revenue is negative: the Lorenz curve needs non-negative holdings.
    NegativeValue,
    /// The total (revenue, or margin for a margin share) is not positive.
    NonPositiveTotal,
    /// `k` is outside `[0, 1]`.
    FractionOutOfRange,
}

impl fmt::Display for ParetoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParetoError::Empty => "no customers",
            ParetoError::NegativeValue => "a customer's revenue is negative",
            ParetoError::NonPositiveTotal => "the total is not positive",
            ParetoError::FractionOutOfRange => "the top fraction must be within [0, 1]",
        })
    }
}

impl std::error::Error for ParetoError {}

fn check(values: &[i64]) -> Result<i128, ParetoError> {
    if values.is_empty() {
        return Err(ParetoError::Empty);
    }
    if values.iter().any(|&v| v < 0) {
        return Err(ParetoError::NegativeValue);
    }
    // i128: a sum of i64 cannot overflow it.
    let total: i128 = values.iter().map(|&v| v as i128).sum();
    if total <= 0 {
        return Err(ParetoError::NonPositiveTotal);
    }
    Ok(total)
}

/// The Lorenz curve points `(i/n, L_i)`, `i = 0..=n`, from `(0, 0)` to `(1, 1)`.
pub fn lorenz_curve(values: &[i64]) -> Result<Vec<(f64, f64)>, ParetoError> {
    let total = check(values)?;
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let mut points = Vec::with_capacity(n + 1);
    points.push((0.0, 0.0));
    let mut cum: i128 = 0;
    for (i, v) in sorted.iter().enumerate() {
        cum += *v as i128;
        points.push(((i + 1) as f64 / n as f64, cum as f64 / total as f64));
    }
    // Exact end point despite rounding.
    points[n] = (1.0, 1.0);
    Ok(points)
}

/// The Gini coefficient of non-negative holdings (population form, see the module docs).
pub fn gini(values: &[i64]) -> Result<f64, ParetoError> {
    let points = lorenz_curve(values)?;
    let n = values.len() as f64;
    let area2: f64 = points.windows(2).map(|w| (w[0].1 + w[1].1) / n).sum();
    Ok((1.0 - area2).max(0.0))
}

/// Shares of revenue and gross margin from the top customers by revenue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Concentration {
    pub revenue_share: f64,
    pub margin_share: f64,
}

/// Sum of the top fraction `k` of `items` (already in rank order), counting the boundary
/// customer in proportion.
fn top_sum(items: impl Iterator<Item = i64>, n: usize, k: f64) -> f64 {
    let take = k * n as f64;
    let whole = take.floor() as usize;
    let frac = take - whole as f64;
    let mut sum = 0.0;
    for (i, v) in items.enumerate() {
        if i < whole {
            sum += v as f64;
        } else {
            if i == whole {
                sum += frac * v as f64;
            }
            break;
        }
    }
    sum
}

/// The share of total revenue from the top fraction `k` (0.2 for the top 20%) of customers.
pub fn top_share(revenue: &[i64], k: f64) -> Result<f64, ParetoError> {
    let total = check(revenue)?;
    if !(0.0..=1.0).contains(&k) {
        return Err(ParetoError::FractionOutOfRange);
    }
    let mut sorted = revenue.to_vec();
    sorted.sort_unstable_by_key(|&v| Reverse(v));
    Ok(top_sum(sorted.into_iter(), revenue.len(), k) / total as f64)
}

/// Revenue and gross-margin shares of the top fraction `k` of customers ranked by revenue,
/// from `(revenue, margin)` per customer (minor units). Margins may be negative for some
/// customers, but their total must be positive. Customers with equal revenue are ranked by
/// margin, higher first, so the result does not depend on input order.
pub fn concentration(customers: &[(i64, i64)], k: f64) -> Result<Concentration, ParetoError> {
    let revenue: Vec<i64> = customers.iter().map(|c| c.0).collect();
    let total_revenue = check(&revenue)?;
    if !(0.0..=1.0).contains(&k) {
        return Err(ParetoError::FractionOutOfRange);
    }
    let total_margin: i128 = customers.iter().map(|c| c.1 as i128).sum();
    if total_margin <= 0 {
        return Err(ParetoError::NonPositiveTotal);
    }
    let mut ranked = customers.to_vec();
    ranked.sort_unstable_by_key(|&(r, m)| Reverse((r, m)));
    let n = ranked.len();
    Ok(Concentration {
        revenue_share: top_sum(ranked.iter().map(|c| c.0), n, k) / total_revenue as f64,
        margin_share: top_sum(ranked.iter().map(|c| c.1), n, k) / total_margin as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn hand_computed_case() {
        // 1, 2, 3, 4 (total 10): L = 0, .1, .3, .6, 1.
        let v = [3, 1, 4, 2];
        let l = lorenz_curve(&v).unwrap();
        let expect = [(0.0, 0.0), (0.25, 0.1), (0.5, 0.3), (0.75, 0.6), (1.0, 1.0)];
        for (p, e) in l.iter().zip(expect) {
            assert!(close(p.0, e.0) && close(p.1, e.1), "{p:?} vs {e:?}");
        }
        // Gini = 1 − (.1 + .4 + .9 + 1.6)/4 = 0.25; also Σ|xi − xj| / (2n²μ) = 20/80.
        assert!(close(gini(&v).unwrap(), 0.25));
        // Top 25% = the 4: 0.4. Top 50% = 4 + 3: 0.7. Top 10% = 0.4 of the 4: 0.16.
        assert!(close(top_share(&v, 0.25).unwrap(), 0.4));
        assert!(close(top_share(&v, 0.5).unwrap(), 0.7));
        assert!(close(top_share(&v, 0.1).unwrap(), 0.16));
        assert!(close(top_share(&v, 0.0).unwrap(), 0.0));
        assert!(close(top_share(&v, 1.0).unwrap(), 1.0));
        // Top share agrees with the Lorenz curve: 1 − L(1 − k).
        assert!(close(top_share(&v, 0.25).unwrap(), 1.0 - l[3].1));
    }

    #[test]
    fn eighty_twenty() {
        // 10 customers: 2 hold 80 each, 8 hold 5 each → total 200, top 20% hold 80%.
        let mut v = vec![5; 8];
        v.extend([80, 80]);
        assert!(close(top_share(&v, 0.2).unwrap(), 0.8));
    }

    #[test]
    fn gini_extremes() {
        assert!(close(gini(&[7; 50]).unwrap(), 0.0));
        // One holder of n: 1 − 1/n, which tends to 1.
        for n in [2usize, 10, 1000] {
            let mut v = vec![0; n];
            v[0] = 100;
            assert!(close(gini(&v).unwrap(), 1.0 - 1.0 / n as f64), "n={n}");
        }
    }

    #[test]
    fn lorenz_is_monotone_convex_and_ends_at_one() {
        // A deterministic pseudo-random mix of sizes.
        let mut x: u64 = 12345;
        let v: Vec<i64> = (0..500)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 33) % 10_000) as i64 * ((x >> 20) % 3) as i64
            })
            .collect();
        let l = lorenz_curve(&v).unwrap();
        assert_eq!(l[0], (0.0, 0.0));
        assert_eq!(*l.last().unwrap(), (1.0, 1.0));
        for w in l.windows(2) {
            assert!(w[1].0 > w[0].0 && w[1].1 >= w[0].1);
            // Below the diagonal.
            assert!(w[1].1 <= w[1].0 + 1e-12);
        }
        // Convex: slopes (equal steps in x) never decrease.
        for w in l.windows(3) {
            assert!(w[2].1 - w[1].1 >= w[1].1 - w[0].1 - 1e-12);
        }
        let g = gini(&v).unwrap();
        assert!((0.0..1.0).contains(&g));
    }

    #[test]
    fn margin_share() {
        // (revenue, margin): the top customer by revenue has a thin margin.
        let c = [(100, 5), (50, 20), (30, 15), (20, 10)];
        let top = concentration(&c, 0.25).unwrap();
        assert!(close(top.revenue_share, 0.5));
        assert!(close(top.margin_share, 0.1));
        let half = concentration(&c, 0.5).unwrap();
        assert!(close(half.revenue_share, 0.75));
        assert!(close(half.margin_share, 0.5));
        // Negative margins are allowed when the total is positive.
        let c = [(100, -10), (10, 30)];
        let top = concentration(&c, 0.5).unwrap();
        assert!(close(top.margin_share, -0.5));
    }

    #[test]
    fn errors() {
        assert_eq!(gini(&[]), Err(ParetoError::Empty));
        assert_eq!(gini(&[1, -1]), Err(ParetoError::NegativeValue));
        assert_eq!(gini(&[0, 0]), Err(ParetoError::NonPositiveTotal));
        assert_eq!(top_share(&[1], 1.5), Err(ParetoError::FractionOutOfRange));
        assert_eq!(
            concentration(&[(1, 0)], 0.2),
            Err(ParetoError::NonPositiveTotal)
        );
    }
}
