//! Special functions the models need beyond `statrs`.

/// The Gaussian hypergeometric function ₂F₁(a, b; c; z) for |z| < 1, by its power series
/// Σₙ (a)ₙ(b)ₙ / ((c)ₙ n!) zⁿ (Abramowitz & Stegun 15.1.1).
///
/// The series converges for |z| < 1, geometrically like |z|ⁿ; BG/NBD evaluates it at
/// `z = t / (α + T + t)`, which approaches 1 only for horizons far longer than the
/// calibration period, where it needs more terms (about 40 / (1 − z)) but stays exact.
/// Returns NaN outside |z| < 1 or when `c` is 0 or a negative integer (undefined).
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if z.abs() >= 1.0 || !(a.is_finite() && b.is_finite() && c.is_finite() && z.is_finite()) {
        return f64::NAN;
    }
    if c <= 0.0 && c == c.floor() {
        return f64::NAN;
    }
    let mut sum = 1.0;
    let mut term = 1.0;
    let mut n = 0.0;
    // Enough for z = 1 − 1e-7 to reach double precision.
    for _ in 0..1_000_000_000u64 {
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        n += 1.0;
        // Past n = max(|a|, |b|, |c|) the ratio of terms tends to z from one side, so the
        // tail is about term / (1 − |z|): stop when that is below the last bit of the sum.
        let settled = n > a.abs().max(b.abs()).max(c.abs());
        if term == 0.0
            || (settled && term.abs() <= f64::EPSILON * 0.1 * sum.abs() * (1.0 - z.abs()))
        {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    #[test]
    fn closed_forms() {
        for z in [-0.9, -0.3, 0.0, 0.1, 0.5, 0.9, 0.99, 0.9999] {
            // ₂F₁(1, 1; 2; z) = −ln(1 − z) / z  (A&S 15.1.3)
            if z != 0.0 {
                assert!(
                    rel(hyp2f1(1.0, 1.0, 2.0, z), -(1.0 - z).ln() / z) < 1e-12,
                    "z={z}"
                );
            }
            // ₂F₁(a, b; b; z) = (1 − z)^(−a)  (A&S 15.1.8)
            assert!(
                rel(hyp2f1(0.7, 2.3, 2.3, z), (1.0 - z).powf(-0.7)) < 1e-12,
                "z={z}"
            );
            // ₂F₁(½, 1; 3/2; z²) = artanh(z) / z  (A&S 15.1.4)
            let x = z.abs().sqrt();
            if x > 0.0 {
                assert!(
                    rel(hyp2f1(0.5, 1.0, 1.5, x * x), x.atanh() / x) < 1e-12,
                    "z={z}"
                );
            }
        }
        // A polynomial when a is a negative integer: ₂F₁(−2, b; c; z) = 1 − 2bz/c + b(b+1)z²/(c(c+1)).
        let (b, c, z) = (1.5, 2.5, 0.4);
        let p = 1.0 - 2.0 * b * z / c + b * (b + 1.0) * z * z / (c * (c + 1.0));
        assert!(rel(hyp2f1(-2.0, b, c, z), p) < 1e-14);
    }

    #[test]
    fn undefined_cases() {
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_nan());
        assert!(hyp2f1(1.0, 1.0, -1.0, 0.5).is_nan());
        assert!(hyp2f1(1.0, 1.0, 0.0, 0.5).is_nan());
    }
}
