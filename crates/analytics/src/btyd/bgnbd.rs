//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way",
//! Marketing Science 24(2)): while alive a customer buys as a Poisson process with rate
//! λ ~ Gamma(r, α); after each purchase they drop out with probability p ~ Beta(a, b).

use statrs::function::gamma::ln_gamma;

use super::{Fit, FitError, Summary, aggregate, hyp2f1};

/// BG/NBD parameters: λ ~ Gamma(shape `r`, rate `alpha`), p ~ Beta(`a`, `b`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// ln(eᵘ + eᵛ) without overflow.
pub(super) fn log_add_exp(u: f64, v: f64) -> f64 {
    let m = u.max(v);
    m + ((u - m).exp() + (v - m).exp()).ln()
}

impl BgNbd {
    /// The log-likelihood of one customer, FHL 2005 in logs (as in Fader, Hardie &
    /// Lee's note "Implementing the BG/NBD model"):
    ///
    /// ln L = A₁ + A₂ + ln(e^A₃ + δ_{x>0} e^A₄), where
    /// A₁ = ln Γ(r+x) − ln Γ(r) + r ln α,
    /// A₂ = ln Γ(a+b) + ln Γ(b+x) − ln Γ(b) − ln Γ(a+b+x),
    /// A₃ = −(r+x) ln(α+T),
    /// A₄ = ln a − ln(b+x−1) − (r+x) ln(α+tₓ).
    pub fn log_likelihood_one(&self, s: &Summary) -> f64 {
        let consts = self.constants();
        self.ll_with(&consts, s)
    }

    /// The terms that do not depend on the customer: ln Γ(r), r ln α, ln Γ(a+b) − ln Γ(b).
    fn constants(&self) -> (f64, f64) {
        (
            -ln_gamma(self.r) + self.r * self.alpha.ln(),
            ln_gamma(self.a + self.b) - ln_gamma(self.b),
        )
    }

    fn ll_with(&self, (c1, c2): &(f64, f64), s: &Summary) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let x = s.frequency as f64;
        let a1 = ln_gamma(r + x) + c1;
        let a2 = c2 + ln_gamma(b + x) - ln_gamma(a + b + x);
        let a3 = -(r + x) * (alpha + s.age).ln();
        if s.frequency == 0 {
            a1 + a2 + a3
        } else {
            let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + s.recency).ln();
            a1 + a2 + log_add_exp(a3, a4)
        }
    }

    /// The total log-likelihood of `data`.
    pub fn log_likelihood(&self, data: &[Summary]) -> f64 {
        let consts = self.constants();
        data.iter().map(|s| self.ll_with(&consts, s)).sum()
    }

    fn weighted_ll(&self, groups: &[(Summary, f64)]) -> f64 {
        let consts = self.constants();
        groups
            .iter()
            .map(|(s, w)| w * self.ll_with(&consts, s))
            .sum()
    }

    /// Maximum-likelihood fit. The search runs on (ln r, ln α, ln a, ln b), which keeps the
    /// parameters positive and the surface better scaled, from r = α = a = b = 1 (the
    /// start `lifetimes` uses too).
    pub fn fit(data: &[Summary]) -> Result<Fit<BgNbd>, FitError> {
        let groups = aggregate(data)?;
        let params = |t: &[f64]| BgNbd {
            r: t[0].exp(),
            alpha: t[1].exp(),
            a: t[2].exp(),
            b: t[3].exp(),
        };
        super::fit_positive::<_, 4>(
            params,
            |m| -m.weighted_ll(&groups),
            |m| m.log_likelihood(data),
        )
    }

    /// P(alive | x, tₓ, T), FHL 2005:
    /// 1 / (1 + δ_{x>0} · a / (b+x−1) · ((α+T)/(α+tₓ))^(r+x)).
    pub fn p_alive(&self, s: &Summary) -> f64 {
        if s.frequency == 0 {
            return 1.0;
        }
        let x = s.frequency as f64;
        let odds_dead = self.a / (self.b + x - 1.0)
            * ((self.r + x) * ((self.alpha + s.age) / (self.alpha + s.recency)).ln()).exp();
        1.0 / (1.0 + odds_dead)
    }

    /// Expected purchases in the next `t` periods, E[Y(t) | x, tₓ, T], FHL 2005:
    ///
    /// (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))]
    /// / (1 + δ_{x>0} · a/(b+x−1) · ((α+T)/(α+tₓ))^(r+x)).
    ///
    /// The formula needs a > 1 as written; for a ≤ 1 (and a + b + x − 1 not a non-positive
    /// integer) it still holds by continuity of the bracket, which has a zero of the same
    /// order as a − 1, except at exactly a = 1, where this returns NaN.
    pub fn expected_purchases(&self, s: &Summary, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        if t == 0.0 {
            return 0.0;
        }
        let x = s.frequency as f64;
        let z = t / (alpha + s.age + t);
        let ratio = ((r + x) * ((alpha + s.age) / (alpha + s.age + t)).ln()).exp();
        let bracket = 1.0 - ratio * hyp2f1(r + x, b + x, a + b + x - 1.0, z);
        (a + b + x - 1.0) / (a - 1.0) * bracket * self.p_alive(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CDNOW: BgNbd = BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };

    #[test]
    fn likelihood_of_a_single_customer_by_hand() {
        // x = 0: L = B(a, b)/B(a, b) · Γ(r)α^r / (Γ(r)(α+T)^r) = (α/(α+T))^r.
        let m = BgNbd {
            r: 0.5,
            alpha: 2.0,
            a: 0.7,
            b: 3.0,
        };
        let s = Summary::new(0, 0.0, 10.0);
        assert!((m.log_likelihood_one(&s) - 0.5 * (2.0f64 / 12.0).ln()).abs() < 1e-12);
        // x = 1, r = α = a = b = 1: L = B(1,2)/B(1,1) · Γ(2)/(1+T)² + B(2,1)/B(1,1) · Γ(2)/(1+tₓ)²
        // = ½/(1+T)² + ½/(1+tₓ)².
        let m = BgNbd {
            r: 1.0,
            alpha: 1.0,
            a: 1.0,
            b: 1.0,
        };
        let s = Summary::new(1, 2.0, 5.0);
        let l: f64 = 0.5 / 36.0 + 0.5 / 9.0;
        assert!((m.log_likelihood_one(&s) - l.ln()).abs() < 1e-12);
    }

    #[test]
    fn p_alive_is_one_without_repeats_and_falls_with_silence() {
        assert_eq!(CDNOW.p_alive(&Summary::new(0, 0.0, 38.0)), 1.0);
        let recent = CDNOW.p_alive(&Summary::new(3, 37.0, 38.0));
        let silent = CDNOW.p_alive(&Summary::new(3, 5.0, 38.0));
        assert!(recent > silent && silent > 0.0 && recent < 1.0);
        // Bought at the end of the period: 1 / (1 + a/(b+x−1)).
        let at_end = CDNOW.p_alive(&Summary::new(3, 38.0, 38.0));
        assert!((at_end - 1.0 / (1.0 + 0.793 / 4.426)).abs() < 1e-12);
    }

    #[test]
    fn expected_purchases_grow_with_the_horizon() {
        let s = Summary::new(2, 30.43, 38.86);
        assert_eq!(CDNOW.expected_purchases(&s, 0.0), 0.0);
        let mut last = 0.0;
        for t in [1.0, 10.0, 39.0, 100.0, 1000.0] {
            let e = CDNOW.expected_purchases(&s, t);
            assert!(e > last, "t={t}: {e} ≤ {last}");
            last = e;
        }
    }

    /// E[Y(t) | x, tₓ, T] by a route independent of ₂F₁: alive at T with rate λ and dropout
    /// p, the expected purchases in (T, T+t] are (1 − e^(−λpt))/p; integrating λ against its
    /// posterior in closed form leaves one integral over p ~ Beta(a, b), done numerically.
    fn expected_by_integration(m: &BgNbd, s: &Summary, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *m;
        let x = s.frequency as f64;
        let k = r + x;
        // ∫ λ^x e^{−λu} Gamma(λ; r, α) dλ ∝ (α+u)^{−k}; the common factor cancels.
        let g = |u: f64| (-k * (alpha + u).ln()).exp();
        // Substitute p = v^(1/a) to remove the p^(a−1) singularity at 0: dp = p/(a v) dv.
        let n = 200_000;
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..n {
            let v = (i as f64 + 0.5) / n as f64; // midpoint rule
            let p = v.powf(1.0 / a);
            // Beta density without its constant, times dp/dv: p^(a−1)(1−p)^(b−1) · p/(a v).
            let w = (1.0 - p).powf(b - 1.0) / a;
            let alive = (1.0 - p).powf(x) * g(s.age);
            let dead = if s.frequency > 0 {
                p * (1.0 - p).powf(x - 1.0) * g(s.recency)
            } else {
                0.0
            };
            let future = (1.0 - p).powf(x) * (g(s.age) - g(s.age + p * t)) / p;
            num += w * future;
            den += w * (alive + dead);
        }
        num / den
    }

    #[test]
    fn expected_purchases_agree_with_direct_integration() {
        for (s, t) in [
            (Summary::new(2, 30.43, 38.86), 39.0),
            (Summary::new(0, 0.0, 38.86), 39.0),
            (Summary::new(7, 35.0, 38.0), 10.0),
            (Summary::new(1, 1.71, 38.86), 100.0),
        ] {
            let closed = CDNOW.expected_purchases(&s, t);
            let numeric = expected_by_integration(&CDNOW, &s, t);
            assert!(
                (closed - numeric).abs() < 1e-4 * numeric.max(1e-3),
                "{s:?} t={t}: {closed} vs {numeric}"
            );
        }
    }

    #[test]
    fn fit_rejects_bad_input() {
        assert_eq!(BgNbd::fit(&[]), Err(FitError::Empty));
        let bad = Summary::new(0, 1.0, 2.0);
        assert_eq!(BgNbd::fit(&[bad]), Err(FitError::InvalidSummary(bad)));
    }
}
