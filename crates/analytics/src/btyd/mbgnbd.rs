//! The MBG/NBD model (Batislam, Denizel & Filiztekin 2007; Hoppe & Wagner 2007): BG/NBD
//! with one change, a customer may also drop out right after the first purchase (at time
//! 0), so someone who never came back can be counted as gone. Same parameters: λ ~
//! Gamma(r, α) while alive, dropout p ~ Beta(a, b) after every purchase including the first.

use statrs::function::gamma::ln_gamma;

use super::bgnbd::log_add_exp;
use super::{Fit, FitError, Summary, aggregate, hyp2f1};

/// MBG/NBD parameters: λ ~ Gamma(shape `r`, rate `alpha`), p ~ Beta(`a`, `b`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MbgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl MbgNbd {
    /// The log-likelihood of one customer (Batislam et al. 2007):
    ///
    /// L = B(a, b+x+1)/B(a, b) · Γ(r+x)α^r / (Γ(r)(α+T)^(r+x))
    ///   + B(a+1, b+x)/B(a, b) · Γ(r+x)α^r / (Γ(r)(α+tₓ)^(r+x)),
    ///
    /// the second term (dropout after the last purchase) present for every x, x = 0 included.
    /// In logs: A₁ + A₂ + A₃ + ln(1 + e^A₄) with A₁ = ln Γ(r+x) − ln Γ(r) + r ln α,
    /// A₂ = ln Γ(a+b) + ln Γ(b+x+1) − ln Γ(b) − ln Γ(a+b+x+1), A₃ = −(r+x) ln(α+T),
    /// A₄ = ln a − ln(b+x) + (r+x)(ln(α+T) − ln(α+tₓ)).
    pub fn log_likelihood_one(&self, s: &Summary) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        let x = s.frequency as f64;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_gamma(a + b) + ln_gamma(b + x + 1.0) - ln_gamma(b) - ln_gamma(a + b + x + 1.0);
        let a3 = -(r + x) * (alpha + s.age).ln();
        let a4 =
            a.ln() - (b + x).ln() + (r + x) * ((alpha + s.age).ln() - (alpha + s.recency).ln());
        a1 + a2 + a3 + log_add_exp(a4, 0.0)
    }

    /// The total log-likelihood of `data`.
    pub fn log_likelihood(&self, data: &[Summary]) -> f64 {
        data.iter().map(|s| self.log_likelihood_one(s)).sum()
    }

    /// Maximum-likelihood fit on (ln r, ln α, ln a, ln b) from all ones, as for BG/NBD.
    pub fn fit(data: &[Summary]) -> Result<Fit<MbgNbd>, FitError> {
        let groups = aggregate(data)?;
        let params = |t: &[f64]| MbgNbd {
            r: t[0].exp(),
            alpha: t[1].exp(),
            a: t[2].exp(),
            b: t[3].exp(),
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

    /// P(alive | x, tₓ, T) = 1 / (1 + a/(b+x) · ((α+T)/(α+tₓ))^(r+x)); below 1 even for
    /// x = 0, unlike BG/NBD.
    pub fn p_alive(&self, s: &Summary) -> f64 {
        let x = s.frequency as f64;
        let odds_dead = self.a / (self.b + x)
            * ((self.r + x) * ((self.alpha + s.age) / (self.alpha + s.recency)).ln()).exp();
        1.0 / (1.0 + odds_dead)
    }

    /// Expected purchases in the next `t` periods (Batislam et al. 2007):
    ///
    /// (a+b+x)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x+1; a+b+x; t/(α+T+t))] · P(alive).
    ///
    /// As for BG/NBD, valid for a ≠ 1 (NaN at exactly a = 1).
    pub fn expected_purchases(&self, s: &Summary, t: f64) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        if t == 0.0 {
            return 0.0;
        }
        let x = s.frequency as f64;
        let z = t / (alpha + s.age + t);
        let ratio = ((r + x) * ((alpha + s.age) / (alpha + s.age + t)).ln()).exp();
        let bracket = 1.0 - ratio * hyp2f1(r + x, b + x + 1.0, a + b + x, z);
        (a + b + x) / (a - 1.0) * bracket * self.p_alive(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CDNOW: MbgNbd = MbgNbd {
        r: 0.525,
        alpha: 6.183,
        a: 0.891,
        b: 1.614,
    };

    #[test]
    fn likelihood_by_hand() {
        // r = α = a = b = 1, x = 0, T = 3: L = B(1,2)/B(1,1) · 1/(1+T) + B(2,1)/B(1,1) · 1/(1+0)
        // = ½ · ¼ + ½.
        let m = MbgNbd {
            r: 1.0,
            alpha: 1.0,
            a: 1.0,
            b: 1.0,
        };
        let l: f64 = 0.5 * 0.25 + 0.5;
        assert!((m.log_likelihood_one(&Summary::new(0, 0.0, 3.0)) - l.ln()).abs() < 1e-12);
        // x = 1, tₓ = 2, T = 5: B(1,3)/B(1,1) · Γ(2)/(1+5)² + B(2,2)/B(1,1) · Γ(2)/(1+2)²
        // = ⅓/36 + ⅙/9.
        let l: f64 = 1.0 / 3.0 / 36.0 + 1.0 / 6.0 / 9.0;
        assert!((m.log_likelihood_one(&Summary::new(1, 2.0, 5.0)) - l.ln()).abs() < 1e-12);
    }

    #[test]
    fn p_alive_below_one_without_repeats() {
        let p = CDNOW.p_alive(&Summary::new(0, 0.0, 38.0));
        // 1 / (1 + a/b · ((α+T)/α)^r)
        let by_hand = 1.0 / (1.0 + 0.891 / 1.614 * (44.183f64 / 6.183).powf(0.525));
        assert!((p - by_hand).abs() < 1e-12);
        assert!(
            CDNOW.p_alive(&Summary::new(3, 37.0, 38.0))
                > CDNOW.p_alive(&Summary::new(3, 5.0, 38.0))
        );
    }

    /// As for BG/NBD: given λ, p and alive at T, expected purchases in (T, T+t] are
    /// (1 − e^(−λpt))/p; λ integrates in closed form, p ~ Beta(a, b) numerically. Alive at T
    /// has likelihood (1−p)^(x+1) λ^x e^(−λT), dead p(1−p)^x λ^x e^(−λtₓ).
    fn expected_by_integration(m: &MbgNbd, s: &Summary, t: f64) -> f64 {
        let MbgNbd { r, alpha, a, b } = *m;
        let x = s.frequency as f64;
        let g = |u: f64| (-(r + x) * (alpha + u).ln()).exp();
        let n = 200_000;
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..n {
            // p = v^(1/a) removes the p^(a−1) singularity; the Beta weight becomes (1−p)^(b−1)/a.
            let v = (i as f64 + 0.5) / n as f64;
            let p = v.powf(1.0 / a);
            let w = (1.0 - p).powf(b - 1.0) / a;
            let alive = (1.0 - p).powf(x + 1.0) * g(s.age);
            let dead = p * (1.0 - p).powf(x) * g(s.recency);
            num += w * (1.0 - p).powf(x + 1.0) * (g(s.age) - g(s.age + p * t)) / p;
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
        ] {
            let closed = CDNOW.expected_purchases(&s, t);
            let numeric = expected_by_integration(&CDNOW, &s, t);
            assert!(
                (closed - numeric).abs() < 1e-4 * numeric,
                "{s:?} t={t}: {closed} vs {numeric}"
            );
        }
    }
}
