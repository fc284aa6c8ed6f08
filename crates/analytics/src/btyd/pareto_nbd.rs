//! The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987): while alive a customer buys
//! as a Poisson process with rate λ ~ Gamma(r, α); the lifetime is exponential with rate
//! μ ~ Gamma(s, β), independent of λ. Expressions from Fader & Hardie (2005), "A note on
//! deriving the Pareto/NBD model and related expressions".

use statrs::function::gamma::ln_gamma;

use super::bgnbd::log_add_exp;
use super::{Fit, FitError, Summary, aggregate, hyp2f1};

/// Pareto/NBD parameters: λ ~ Gamma(shape `r`, rate `alpha`), μ ~ Gamma(shape `s`, rate
/// `beta`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParetoNbd {
    pub r: f64,
    pub alpha: f64,
    pub s: f64,
    pub beta: f64,
}

/// ln(eᵘ − eᵛ) for u ≥ v; −∞ when they are equal.
fn log_sub_exp(u: f64, v: f64) -> f64 {
    if v == f64::NEG_INFINITY {
        return u;
    }
    u + (-(v - u).exp_m1()).ln()
}

impl ParetoNbd {
    /// ln of the two pieces of the likelihood without the common factor Γ(r+x)α^rβ^s/Γ(r):
    /// `alive` = −(r+x) ln(α+T) − s ln(β+T) and `dead` = ln(s/(r+s+x)) + ln A₀, where
    /// (Fader & Hardie 2005; the ₂F₁ argument is in [0, 1) on each branch)
    ///
    /// α ≥ β: A₀ = ₂F₁(r+s+x, s+1; r+s+x+1; (α−β)/(α+tₓ)) / (α+tₓ)^(r+s+x)
    ///           − ₂F₁(r+s+x, s+1; r+s+x+1; (α−β)/(α+T)) / (α+T)^(r+s+x),
    /// α < β: A₀ = ₂F₁(r+s+x, r+x; r+s+x+1; (β−α)/(β+tₓ)) / (β+tₓ)^(r+s+x)
    ///           − ₂F₁(r+s+x, r+x; r+s+x+1; (β−α)/(β+T)) / (β+T)^(r+s+x).
    ///
    /// A₀ = ∫_{tₓ}^{T} (α+τ)^(−(r+x)) (β+τ)^(−(s+1)) dτ · (r+s+x), the chance of dying
    /// between the last purchase and T; it is 0 when tₓ = T.
    fn log_pieces(&self, s: &Summary) -> (f64, f64) {
        let ParetoNbd {
            r,
            alpha,
            s: sh,
            beta,
        } = *self;
        let x = s.frequency as f64;
        let m = r + sh + x;
        let alive = -(r + x) * (alpha + s.age).ln() - sh * (beta + s.age).ln();
        let (big, b2) = if alpha >= beta {
            (alpha, sh + 1.0)
        } else {
            (beta, r + x)
        };
        let diff = (alpha - beta).abs();
        let term = |t: f64| hyp2f1(m, b2, m + 1.0, diff / (big + t)).ln() - m * (big + t).ln();
        let a0 = if s.recency == s.age {
            f64::NEG_INFINITY
        } else {
            log_sub_exp(term(s.recency), term(s.age))
        };
        (alive, (sh / m).ln() + a0)
    }

    /// The log-likelihood of one customer: ln Γ(r+x) − ln Γ(r) + r ln α + s ln β +
    /// ln(e^alive + e^dead) with the pieces of `log_pieces`.
    pub fn log_likelihood_one(&self, s: &Summary) -> f64 {
        let x = s.frequency as f64;
        let (alive, dead) = self.log_pieces(s);
        ln_gamma(self.r + x) - ln_gamma(self.r)
            + self.r * self.alpha.ln()
            + self.s * self.beta.ln()
            + log_add_exp(alive, dead)
    }

    /// The total log-likelihood of `data`.
    pub fn log_likelihood(&self, data: &[Summary]) -> f64 {
        data.iter().map(|s| self.log_likelihood_one(s)).sum()
    }

    /// Maximum-likelihood fit on (ln r, ln α, ln s, ln β) from all ones. The likelihood is
    /// nearly flat along β on CDNOW, so the optimiser's restarts matter here.
    pub fn fit(data: &[Summary]) -> Result<Fit<ParetoNbd>, FitError> {
        let groups = aggregate(data)?;
        let params = |t: &[f64]| ParetoNbd {
            r: t[0].exp(),
            alpha: t[1].exp(),
            s: t[2].exp(),
            beta: t[3].exp(),
        };
        super::fit_positive::<_, 4>(
            params,
            |m| {
                -groups
                    .iter()
                    .map(|(s, w)| w * m.log_likelihood_one(s))
                    .sum::<f64>()
            },
            |m| m.log_likelihood(data),
        )
    }

    /// P(alive | x, tₓ, T) = 1 / (1 + (s/(r+s+x)) (α+T)^(r+x) (β+T)^s A₀) (Fader & Hardie
    /// 2005): the alive share of the likelihood.
    pub fn p_alive(&self, s: &Summary) -> f64 {
        let (alive, dead) = self.log_pieces(s);
        1.0 / (1.0 + (dead - alive).exp())
    }

    /// Expected purchases in the next `t` periods (Schmittlein et al. 1987; Fader & Hardie
    /// 2005): (r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)] · P(alive),
    /// with its limit (r+x)(β+T)/(α+T) · ln((β+T+t)/(β+T)) at s = 1.
    pub fn expected_purchases(&self, s: &Summary, t: f64) -> f64 {
        let ParetoNbd {
            r,
            alpha,
            s: sh,
            beta,
        } = *self;
        let x = s.frequency as f64;
        let ln_q = ((beta + s.age) / (beta + s.age + t)).ln();
        let k = sh - 1.0;
        // [1 − q^k] / k, stable as k → 0.
        let bracket = if k.abs() < 1e-12 {
            -ln_q
        } else {
            -(k * ln_q).exp_m1() / k
        };
        (r + x) * (beta + s.age) / (alpha + s.age) * bracket * self.p_alive(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CDNOW: ParetoNbd = ParetoNbd {
        r: 0.553,
        alpha: 10.578,
        s: 0.606,
        beta: 11.669,
    };

    /// Simpson's rule on [lo, hi] with n (even) intervals.
    fn simpson(f: impl Fn(f64) -> f64, lo: f64, hi: f64, n: usize) -> f64 {
        let h = (hi - lo) / n as f64;
        let mut sum = f(lo) + f(hi);
        for i in 1..n {
            sum += f(lo + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        sum * h / 3.0
    }

    /// The likelihood from its definition, independent of ₂F₁: integrating λ and μ out of
    /// "alive at T" and "died at τ ∈ (tₓ, T)" gives
    /// L = Γ(r+x)α^r/Γ(r) · [β^s / ((α+T)^(r+x)(β+T)^s) + sβ^s ∫_{tₓ}^{T} (α+τ)^(−(r+x)) (β+τ)^(−(s+1)) dτ].
    fn likelihood_by_integration(m: &ParetoNbd, s: &Summary) -> f64 {
        let ParetoNbd {
            r,
            alpha,
            s: sh,
            beta,
        } = *m;
        let x = s.frequency as f64;
        let c = (ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln()).exp();
        let alive = beta.powf(sh) / ((alpha + s.age).powf(r + x) * (beta + s.age).powf(sh));
        let dead = sh
            * beta.powf(sh)
            * simpson(
                |tau| (alpha + tau).powf(-(r + x)) * (beta + tau).powf(-(sh + 1.0)),
                s.recency,
                s.age,
                2000,
            );
        c * (alive + dead)
    }

    #[test]
    fn likelihood_agrees_with_direct_integration_on_both_branches() {
        let models = [
            CDNOW, // α < β
            ParetoNbd {
                alpha: 15.0,
                ..CDNOW
            }, // α > β
            ParetoNbd {
                alpha: 11.669,
                ..CDNOW
            }, // α = β
            ParetoNbd {
                r: 2.0,
                alpha: 3.0,
                s: 1.5,
                beta: 40.0,
            },
        ];
        for m in models {
            for s in [
                Summary::new(0, 0.0, 38.86),
                Summary::new(2, 30.43, 38.86),
                Summary::new(12, 20.0, 38.0),
                Summary::new(3, 38.0, 38.0),
            ] {
                let ours = m.log_likelihood_one(&s);
                let direct = likelihood_by_integration(&m, &s).ln();
                assert!(
                    (ours - direct).abs() < 1e-9,
                    "{m:?} {s:?}: {ours} vs {direct}"
                );
            }
        }
    }

    #[test]
    fn p_alive_and_expected_purchases() {
        // Bought at T: certainly alive.
        assert_eq!(CDNOW.p_alive(&Summary::new(3, 38.0, 38.0)), 1.0);
        let recent = CDNOW.p_alive(&Summary::new(3, 37.0, 38.0));
        let silent = CDNOW.p_alive(&Summary::new(3, 5.0, 38.0));
        assert!(recent > silent && silent > 0.0 && recent < 1.0);

        // Given alive, λ ~ Gamma(r+x, α+T) and μ ~ Gamma(s, β+T) independently, and
        // E[(1 − e^(−μt))/μ] = ∫₀ᵗ ((β+T)/(β+T+u))^s du.
        let s = Summary::new(2, 30.43, 38.86);
        for m in [CDNOW, ParetoNbd { s: 1.0, ..CDNOW }] {
            let bt = m.beta + s.age;
            let integral = simpson(|u| (bt / (bt + u)).powf(m.s), 0.0, 39.0, 2000);
            let direct = (m.r + 2.0) / (m.alpha + s.age) * integral * m.p_alive(&s);
            let ours = m.expected_purchases(&s, 39.0);
            assert!(
                (ours - direct).abs() < 1e-9 * direct,
                "{m:?}: {ours} vs {direct}"
            );
        }
    }
}
