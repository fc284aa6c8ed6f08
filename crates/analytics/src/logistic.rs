//! Logistic regression by maximum likelihood and the AUC, the pieces of a churn-risk model
//! (the features, e.g. recency, frequency trend, complaints, satisfaction, are the
//! caller's).
//!
//! The fit is Newton–Raphson (iteratively reweighted least squares; McCullagh & Nelder
//! 1989): quadratic convergence, a handful of iterations, exact at the optimum. A
//! small ridge penalty keeps it finite on separable data, where the plain maximum
//! likelihood does not exist.

// Index loops read like the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use std::fmt;

/// A fitted model: P(y = 1 | x) = 1 / (1 + e^−(b₀ + Σ bᵢxᵢ)).
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    pub intercept: f64,
    pub coefficients: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LogisticError {
    /// No rows, or rows of different lengths.
    BadShape,
    /// A non-finite feature value.
    NonFinite,
    /// The Hessian is singular (e.g. a constant or duplicated feature without a penalty).
    Singular,
    /// Newton's method did not converge in its iterations.
    NotConverged,
}

impl fmt::Display for LogisticError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogisticError::BadShape => "no rows, or rows of different lengths",
            LogisticError::NonFinite => "a feature value is not finite",
            LogisticError::Singular => "the features are collinear or constant",
            LogisticError::NotConverged => "Newton's method did not converge",
        })
    }
}

impl std::error::Error for LogisticError {}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Solves `a x = b` for symmetric positive definite `a` (Cholesky); None if it is not.
fn solve_spd(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = a[i][i] - s;
                // Relative pivot test: a pivot lost to rounding means a singular matrix.
                if d <= 1e-12 * a[i][i].abs().max(1e-300) {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    Some(x)
}

impl Logistic {
    /// Fits by penalised maximum likelihood: maximises Σ [yᵢ ln pᵢ + (1−yᵢ) ln(1−pᵢ)]
    /// − (ridge/2) Σ bⱼ² (the intercept is not penalised; `ridge = 0` is plain maximum
    /// likelihood). Scale features to comparable ranges when `ridge > 0`.
    pub fn fit(x: &[Vec<f64>], y: &[bool], ridge: f64) -> Result<Logistic, LogisticError> {
        let n = x.len();
        if n == 0 || y.len() != n {
            return Err(LogisticError::BadShape);
        }
        let k = x[0].len();
        if x.iter().any(|r| r.len() != k) {
            return Err(LogisticError::BadShape);
        }
        if x.iter().flatten().any(|v| !v.is_finite()) {
            return Err(LogisticError::NonFinite);
        }
        // β = (intercept, coefficients…); the design row is (1, x…).
        let mut beta = vec![0.0; k + 1];
        for _ in 0..100 {
            let mut grad = vec![0.0; k + 1];
            let mut hess = vec![vec![0.0; k + 1]; k + 1];
            for (row, &yi) in x.iter().zip(y) {
                let z = beta[0] + row.iter().zip(&beta[1..]).map(|(a, b)| a * b).sum::<f64>();
                let p = sigmoid(z);
                let w = p * (1.0 - p);
                let r = if yi { 1.0 } else { 0.0 } - p;
                let design = |j: usize| if j == 0 { 1.0 } else { row[j - 1] };
                for i in 0..=k {
                    grad[i] += r * design(i);
                    for j in 0..=i {
                        hess[i][j] += w * design(i) * design(j);
                    }
                }
            }
            for i in 0..=k {
                for j in 0..i {
                    hess[j][i] = hess[i][j];
                }
            }
            for j in 1..=k {
                grad[j] -= ridge * beta[j];
                hess[j][j] += ridge;
            }
            let step = solve_spd(&hess, &grad).ok_or(LogisticError::Singular)?;
            for (b, s) in beta.iter_mut().zip(&step) {
                *b += s;
            }
            if step.iter().map(|s| s.abs()).fold(0.0, f64::max) < 1e-10 {
                return Ok(Logistic {
                    intercept: beta[0],
                    coefficients: beta[1..].to_vec(),
                });
            }
        }
        Err(LogisticError::NotConverged)
    }

    /// P(y = 1 | x).
    pub fn predict(&self, x: &[f64]) -> f64 {
        sigmoid(
            self.intercept
                + x.iter()
                    .zip(&self.coefficients)
                    .map(|(a, b)| a * b)
                    .sum::<f64>(),
        )
    }
}

/// The area under the ROC curve: the probability that a random positive scores above a
/// random negative, ties counting ½ (the Mann–Whitney U statistic over n₊n₋). None without
/// both a positive and a negative.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let mut pairs: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = pairs.iter().filter(|p| p.1).count();
    let negatives = pairs.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Walk groups of equal scores: each positive beats every negative below its group and
    // ties with half of those in it.
    let mut below_neg = 0usize;
    let mut u = 0.0;
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i;
        while j < pairs.len() && pairs[j].0 == pairs[i].0 {
            j += 1;
        }
        let pos = pairs[i..j].iter().filter(|p| p.1).count();
        let neg = (j - i) - pos;
        u += pos as f64 * (below_neg as f64 + 0.5 * neg as f64);
        below_neg += neg;
        i = j;
    }
    Some(u / (positives as f64 * negatives as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logit(p: f64) -> f64 {
        (p / (1.0 - p)).ln()
    }

    #[test]
    fn one_binary_feature_has_a_closed_form() {
        // Group x = 0: 3 of 10 churn; group x = 1: 6 of 8. The MLE reproduces the groups'
        // log-odds: b₀ = logit(0.3), b₁ = logit(0.75) − logit(0.3).
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..10 {
            x.push(vec![0.0]);
            y.push(i < 3);
        }
        for i in 0..8 {
            x.push(vec![1.0]);
            y.push(i < 6);
        }
        let m = Logistic::fit(&x, &y, 0.0).unwrap();
        assert!((m.intercept - logit(0.3)).abs() < 1e-9);
        assert!((m.coefficients[0] - (logit(0.75) - logit(0.3))).abs() < 1e-9);
        assert!((m.predict(&[1.0]) - 0.75).abs() < 1e-9);
    }

    #[test]
    fn gradient_is_zero_at_the_fit() {
        // Deterministic, overlapping classes with two features.
        let mut s: u64 = 7;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..400 {
            let a = next() * 4.0 - 2.0;
            let b = next() * 4.0 - 2.0;
            let p = sigmoid(0.5 + 1.5 * a - 0.8 * b);
            y.push(next() < p);
            x.push(vec![a, b]);
        }
        let m = Logistic::fit(&x, &y, 0.0).unwrap();
        let mut g = [0.0; 3];
        for (row, &yi) in x.iter().zip(&y) {
            let r = if yi { 1.0 } else { 0.0 } - m.predict(row);
            g[0] += r;
            g[1] += r * row[0];
            g[2] += r * row[1];
        }
        assert!(g.iter().all(|v| v.abs() < 1e-8), "{g:?}");
        // Signs recovered from the generating model.
        assert!(m.coefficients[0] > 0.0 && m.coefficients[1] < 0.0);
        let scores: Vec<f64> = x.iter().map(|r| m.predict(r)).collect();
        assert!(auc(&scores, &y).unwrap() > 0.75);
    }

    #[test]
    fn separable_data_needs_the_ridge() {
        let x = vec![vec![-1.0], vec![-0.5], vec![0.5], vec![1.0]];
        let y = [false, false, true, true];
        assert!(Logistic::fit(&x, &y, 0.0).is_err());
        let m = Logistic::fit(&x, &y, 0.1).unwrap();
        assert!(m.coefficients[0] > 0.0 && m.predict(&[1.0]) > 0.9);
    }

    #[test]
    fn bad_input() {
        assert_eq!(Logistic::fit(&[], &[], 0.0), Err(LogisticError::BadShape));
        assert_eq!(
            Logistic::fit(&[vec![1.0], vec![]], &[true, false], 0.0),
            Err(LogisticError::BadShape)
        );
        assert_eq!(
            Logistic::fit(&[vec![f64::NAN]], &[true], 0.0),
            Err(LogisticError::NonFinite)
        );
        // A constant feature duplicates the intercept.
        let x = vec![vec![1.0], vec![1.0], vec![1.0]];
        assert_eq!(
            Logistic::fit(&x, &[true, false, true], 0.0),
            Err(LogisticError::Singular)
        );
    }

    #[test]
    fn auc_by_hand() {
        // Perfect, reversed, and ties.
        assert_eq!(
            auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            Some(1.0)
        );
        assert_eq!(
            auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]),
            Some(0.0)
        );
        assert_eq!(auc(&[0.5, 0.5], &[true, false]), Some(0.5));
        // Positives 0.8, 0.4; negatives 0.6, 0.4, 0.2: pairs won 3 + 1.5 (0.4 beats 0.2, ties 0.4) = 4.5 of 6.
        assert_eq!(
            auc(
                &[0.8, 0.4, 0.6, 0.4, 0.2],
                &[true, true, false, false, false]
            ),
            Some(0.75)
        );
        assert_eq!(auc(&[0.1], &[true]), None);
    }
}
