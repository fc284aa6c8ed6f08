//! Whether two response rates differ by more than chance: the two-proportion z-test (pooled
//! variance), as a campaign's A/B variants are compared.

use statrs::function::erf::erfc;

/// Two rates compared: each rate, the z statistic of the difference (a − b) and the
/// two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub rate_a: f64,
    pub rate_b: f64,
    pub z: f64,
    pub p_value: f64,
}

/// `x_a` responses of `n_a` against `x_b` of `n_b`; `None` when a side is empty or no one
/// (or everyone) responded on both, where the test says nothing.
pub fn two_proportions(x_a: u64, n_a: u64, x_b: u64, n_b: u64) -> Option<Comparison> {
    if n_a == 0 || n_b == 0 || x_a > n_a || x_b > n_b {
        return None;
    }
    let (na, nb) = (n_a as f64, n_b as f64);
    let (ra, rb) = (x_a as f64 / na, x_b as f64 / nb);
    let pooled = (x_a + x_b) as f64 / (na + nb);
    let se = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    if se == 0.0 {
        return None;
    }
    let z = (ra - rb) / se;
    Some(Comparison {
        rate_a: ra,
        rate_b: rb,
        z,
        p_value: erfc(z.abs() / std::f64::consts::SQRT_2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_textbook_case() {
        // 20 % of 1,000 against 25 % of 1,000: z = −2.68, p = 0.0074.
        let c = two_proportions(200, 1000, 250, 1000).unwrap();
        assert!((c.z + 2.6774).abs() < 1e-3, "{c:?}");
        assert!((c.p_value - 0.00742).abs() < 1e-4, "{c:?}");
        let same = two_proportions(50, 500, 50, 500).unwrap();
        assert_eq!((same.z, same.p_value), (0.0, 1.0));
        assert_eq!(two_proportions(0, 100, 0, 100), None);
        assert_eq!(two_proportions(1, 0, 1, 10), None);
    }
}
