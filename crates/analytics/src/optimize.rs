//! Unconstrained minimisation by the Nelder–Mead simplex method (Nelder & Mead 1965, with
//! the standard coefficients: reflection 1, expansion 2, contraction ½, shrink ½, as in
//! Lagarias et al. 1998).
//!
//! The likelihoods here are smooth, have few parameters and are optimised on
//! log-parameters, where the simplex method is robust. It can stall before the optimum on
//! a narrow valley, so [`minimize`] restarts from the best point with a fresh simplex until
//! a restart no longer improves the value: the usual remedy, and cheap at this size.

/// Settings for [`minimize`].
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Size of the initial simplex's steps along each axis.
    pub step: f64,
    /// Stop when the spread of values over the simplex is below this (relative to
    /// `1 + |best value|`) …
    pub f_tol: f64,
    /// … and every vertex is this close to the best in every coordinate.
    pub x_tol: f64,
    /// Most iterations per run (one run between restarts).
    pub max_iter: usize,
    /// Most restarts after the first run.
    pub max_restarts: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            step: 0.1,
            f_tol: 1e-12,
            x_tol: 1e-10,
            max_iter: 20_000,
            max_restarts: 20,
        }
    }
}

/// The point found and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub f: f64,
    /// Whether the last run met the tolerances (rather than running out of iterations).
    pub converged: bool,
    pub evaluations: usize,
}

/// Minimises `f` from `x0`. A non-finite value counts as +∞, so the search steps away
/// from where `f` is undefined.
pub fn minimize(mut f: impl FnMut(&[f64]) -> f64, x0: &[f64], opts: Options) -> Minimum {
    let mut evaluations = 0;
    let mut eval = |x: &[f64]| {
        evaluations += 1;
        let v = f(x);
        if v.is_finite() { v } else { f64::INFINITY }
    };
    let (mut x, mut fx, mut converged) = run(&mut eval, x0, opts);
    for _ in 0..opts.max_restarts {
        let (x2, f2, c2) = run(&mut eval, &x, opts);
        let improved = f2 < fx - opts.f_tol.max(fx.abs() * 1e-15);
        if f2 <= fx {
            x = x2;
            fx = f2;
            converged = c2;
        }
        if !improved {
            break;
        }
    }
    Minimum {
        x,
        f: fx,
        converged,
        evaluations,
    }
}

fn run(f: &mut impl FnMut(&[f64]) -> f64, x0: &[f64], opts: Options) -> (Vec<f64>, f64, bool) {
    let n = x0.len();
    let mut simplex: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
    simplex.push(x0.to_vec());
    for i in 0..n {
        let mut v = x0.to_vec();
        v[i] += opts.step;
        simplex.push(v);
    }
    let mut values: Vec<f64> = simplex.iter().map(|v| f(v)).collect();

    let point = |c: &[f64], w: &[f64], t: f64| -> Vec<f64> {
        // c + t (w − c)
        c.iter().zip(w).map(|(ci, wi)| ci + t * (wi - ci)).collect()
    };

    for _ in 0..opts.max_iter {
        // Order best to worst.
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        simplex = order.iter().map(|&i| simplex[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();

        let spread = values[n] - values[0];
        let size = simplex[1..]
            .iter()
            .flat_map(|v| v.iter().zip(&simplex[0]).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        // Relative in f: a log-likelihood of −9582 cannot be resolved below ~1e-12.
        if spread <= opts.f_tol * (1.0 + values[0].abs()) && size <= opts.x_tol {
            return (simplex.swap_remove(0), values[0], true);
        }

        // Centroid of all but the worst.
        let mut c = vec![0.0; n];
        for v in &simplex[..n] {
            for (ci, vi) in c.iter_mut().zip(v) {
                *ci += vi / n as f64;
            }
        }
        let worst = simplex[n].clone();
        let xr = point(&c, &worst, -1.0);
        let fr = f(&xr);
        if fr < values[0] {
            let xe = point(&c, &worst, -2.0);
            let fe = f(&xe);
            if fe < fr {
                simplex[n] = xe;
                values[n] = fe;
            } else {
                simplex[n] = xr;
                values[n] = fr;
            }
        } else if fr < values[n - 1] {
            simplex[n] = xr;
            values[n] = fr;
        } else {
            // Contract: outside if the reflection beat the worst, inside otherwise.
            let (xc, fc) = if fr < values[n] {
                let xc = point(&c, &worst, -0.5);
                let fc = f(&xc);
                (xc, fc)
            } else {
                let xc = point(&c, &worst, 0.5);
                let fc = f(&xc);
                (xc, fc)
            };
            if fc < fr.min(values[n]) {
                simplex[n] = xc;
                values[n] = fc;
            } else {
                // Shrink towards the best.
                let best = simplex[0].clone();
                for i in 1..=n {
                    simplex[i] = point(&best, &simplex[i], 0.5);
                    values[i] = f(&simplex[i]);
                }
            }
        }
    }
    let best = (0..=n)
        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0);
    (simplex.swap_remove(best), values[best], false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadratic() {
        let m = minimize(
            |x| (x[0] - 3.0).powi(2) + 10.0 * (x[1] + 1.0).powi(2) + 0.5 * (x[2] - 0.25).powi(2),
            &[0.0, 0.0, 0.0],
            Options::default(),
        );
        assert!(m.converged);
        assert!(
            (m.x[0] - 3.0).abs() < 1e-5
                && (m.x[1] + 1.0).abs() < 1e-5
                && (m.x[2] - 0.25).abs() < 1e-5,
            "{m:?}"
        );
        assert!(m.f < 1e-10);
    }

    #[test]
    fn rosenbrock() {
        let m = minimize(
            |x| 100.0 * (x[1] - x[0] * x[0]).powi(2) + (1.0 - x[0]).powi(2),
            &[-1.2, 1.0],
            Options::default(),
        );
        assert!(
            (m.x[0] - 1.0).abs() < 1e-5 && (m.x[1] - 1.0).abs() < 1e-5,
            "{m:?}"
        );
    }

    #[test]
    fn four_dimensional_rosenbrock() {
        let f = |x: &[f64]| -> f64 {
            x.windows(2)
                .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
                .sum()
        };
        let m = minimize(f, &[-1.0, 0.5, -0.5, 1.5], Options::default());
        for xi in &m.x {
            assert!((xi - 1.0).abs() < 1e-4, "{m:?}");
        }
    }

    #[test]
    fn non_finite_values_are_avoided() {
        // ln is undefined below 0; the minimum of x − ln x is at x = 1.
        let m = minimize(
            |x| x[0] - x[0].ln(),
            &[0.05],
            Options {
                step: 1.0,
                ..Options::default()
            },
        );
        assert!((m.x[0] - 1.0).abs() < 1e-5, "{m:?}");
    }
}
