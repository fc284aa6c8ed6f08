//! The Gamma-Gamma model of spend per transaction (Fader & Hardie 2013, "The Gamma-Gamma
//! model of monetary value"; after Colombo & Jiang 1999): each transaction's value is
//! Gamma(p, ν) around the customer's mean, with ν ~ Gamma(q, γ) across customers.
//! Spend is assumed independent of the purchase process, so it pairs with BG/NBD.

use statrs::function::gamma::ln_gamma;

use super::{Fit, FitError};

/// Gamma-Gamma parameters. `gamma` is in the units of the spend it was fitted on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

impl GammaGamma {
    /// The log-likelihood of one customer's mean spend `z̄` over `x > 0` transactions
    /// (Fader & Hardie 2013):
    ///
    /// ln f = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln z̄ + px ln x − (px+q) ln(γ + x z̄).
    pub fn log_likelihood_one(&self, x: u32, mean_spend: f64) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        let x = x as f64;
        let px = p * x;
        ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q)
            + q * gamma.ln()
            + (px - 1.0) * mean_spend.ln()
            + px * x.ln()
            - (px + q) * (gamma + x * mean_spend).ln()
    }

    /// The total log-likelihood over `(x, z̄)` pairs with `x > 0`.
    pub fn log_likelihood(&self, data: &[(u32, f64)]) -> f64 {
        data.iter()
            .map(|&(x, m)| self.log_likelihood_one(x, m))
            .sum()
    }

    /// Maximum-likelihood fit on the customers with `x > 0` (the others carry no spend
    /// information and are skipped), on log-parameters from p = q = γ = 1.
    pub fn fit(data: &[(u32, f64)]) -> Result<Fit<GammaGamma>, FitError> {
        let repeat: Vec<(u32, f64)> = data.iter().copied().filter(|&(x, _)| x > 0).collect();
        if repeat.is_empty() {
            return Err(FitError::Empty);
        }
        if let Some(&(_, m)) = repeat.iter().find(|&&(_, m)| !(m.is_finite() && m > 0.0)) {
            return Err(FitError::InvalidSpend(m));
        }
        let params = |t: &[f64]| GammaGamma {
            p: t[0].exp(),
            q: t[1].exp(),
            gamma: t[2].exp(),
        };
        super::fit_positive::<_, 3>(
            params,
            |m| -m.log_likelihood(&repeat),
            |m| m.log_likelihood(&repeat),
        )
    }

    /// E[Z | x, z̄], the expected spend per transaction (Fader & Hardie 2013):
    /// p(γ + x z̄) / (px + q − 1), a weighted mean of the population mean pγ/(q−1) and z̄.
    /// With `x = 0` it is the population mean. Needs q > 1 (else the mean is infinite: NaN).
    pub fn expected_spend(&self, x: u32, mean_spend: f64) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        if q <= 1.0 {
            return f64::NAN;
        }
        let x = x as f64;
        let zbar = if x > 0.0 { mean_spend } else { 0.0 };
        p * (gamma + x * zbar) / (p * x + q - 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_spend_shrinks_towards_the_population_mean() {
        let m = GammaGamma {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
        };
        let population = 6.25 * 15.44 / 2.74;
        assert!((m.expected_spend(0, 123.0) - population).abs() < 1e-12);
        // More transactions → closer to the customer's own mean.
        let one = m.expected_spend(1, 100.0);
        let many = m.expected_spend(50, 100.0);
        assert!(population < one && one < many && many < 100.0);
        assert!(GammaGamma { q: 0.9, ..m }.expected_spend(1, 10.0).is_nan());
    }

    #[test]
    fn likelihood_with_one_transaction_is_a_gamma_mixture_density() {
        // x = 1: z ~ Gamma(p, ν), ν ~ Gamma(q, γ) → f(z) = Γ(p+q)/(Γ(p)Γ(q)) γ^q z^(p−1) / (γ+z)^(p+q),
        // which must integrate to 1 over z > 0.
        let m = GammaGamma {
            p: 2.0,
            q: 3.0,
            gamma: 5.0,
        };
        // Substitute z = u/(1−u) over u ∈ (0, 1): dz = du / (1−u)².
        let n = 100_000;
        let total: f64 = (0..n)
            .map(|i| {
                let u = (i as f64 + 0.5) / n as f64;
                let z = u / (1.0 - u);
                m.log_likelihood_one(1, z).exp() / ((1.0 - u) * (1.0 - u)) / n as f64
            })
            .sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
    }

    #[test]
    fn fit_needs_repeat_buyers_with_positive_spend() {
        assert_eq!(GammaGamma::fit(&[(0, 0.0)]), Err(FitError::Empty));
        assert_eq!(
            GammaGamma::fit(&[(2, 0.0)]),
            Err(FitError::InvalidSpend(0.0))
        );
    }
}
