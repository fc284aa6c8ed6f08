//! Whether response rates differ by more than chance: the two-proportion z-test (pooled
//! variance), as a campaign's A/B variants are compared; the Wilson interval of one rate;
//! and the chi-square test of whether an attribute's groups respond alike, as responders
//! are profiled against non-responders.

use statrs::function::erf::erfc;
use statrs::function::gamma::checked_gamma_ur;

/// The 95 % Wilson score interval of `x` responses of `n` (`None` for no one): unlike the
/// normal approximation it stays inside 0..1 and is sound for small groups and rare events.
pub fn wilson(x: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 || x > n {
        return None;
    }
    const Z: f64 = 1.959_963_984_540_054;
    let (n, p) = (n as f64, x as f64 / n as f64);
    let z2 = Z * Z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// Pearson's chi-square test of independence on a 2 × k table: does the response rate
/// depend on the group? With Cramér's V, the strength of the association (0..1), which
/// ranks attributes whatever their number of groups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Independence {
    pub chi2: f64,
    pub df: u32,
    pub p_value: f64,
    pub cramers_v: f64,
    /// Cochran's rule holds: no expected count below 1 and at most a fifth below 5. When
    /// it does not (few responses spread over many groups) the p-value and V overstate.
    pub reliable: bool,
}

/// `groups` as (members, responders); groups without members are left out. `None` with
/// fewer than two groups, or when no one (or everyone) responded.
pub fn independence(groups: &[(u64, u64)]) -> Option<Independence> {
    let groups: Vec<(f64, f64)> = groups
        .iter()
        .filter(|(n, x)| *n > 0 && x <= n)
        .map(|&(n, x)| (n as f64, x as f64))
        .collect();
    let n: f64 = groups.iter().map(|g| g.0).sum();
    let x: f64 = groups.iter().map(|g| g.1).sum();
    if groups.len() < 2 || x == 0.0 || x == n {
        return None;
    }
    let rate = x / n;
    let expected: Vec<f64> = groups
        .iter()
        .flat_map(|&(gn, _)| [gn * rate, gn * (1.0 - rate)])
        .collect();
    let small = expected.iter().filter(|e| **e < 5.0).count();
    let reliable = expected.iter().all(|e| *e >= 1.0) && small * 5 <= expected.len();
    let chi2: f64 = groups
        .iter()
        .map(|&(gn, gx)| {
            let (e1, e0) = (gn * rate, gn * (1.0 - rate));
            (gx - e1).powi(2) / e1 + ((gn - gx) - e0).powi(2) / e0
        })
        .sum();
    let df = (groups.len() - 1) as u32;
    Some(Independence {
        chi2,
        df,
        // No deviation at all is p = 1 (the function refuses x = 0).
        p_value: if chi2 > 0.0 {
            checked_gamma_ur(f64::from(df) / 2.0, chi2 / 2.0).unwrap_or(f64::NAN)
        } else {
            1.0
        },
        cramers_v: (chi2 / n).sqrt(),
        reliable,
    })
}

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

    #[test]
    fn wilson_intervals_as_published() {
        // Newcombe (1998), Statistics in Medicine 17, table I: 81/263 → 0.2553–0.3662, and
        // 0/10 → 0–0.2775.
        let (lo, hi) = wilson(81, 263).unwrap();
        assert!(
            (lo - 0.2553).abs() < 1e-4 && (hi - 0.3662).abs() < 1e-4,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(0, 10).unwrap();
        assert!(lo == 0.0 && (hi - 0.2775).abs() < 1e-4, "{hi}");
        assert_eq!(wilson(1, 0), None);
    }

    #[test]
    fn chi_square_on_a_textbook_table() {
        // 2 × 2: 30/100 against 10/100 respond. χ² = 12.5, p = 0.000407, V = 0.25.
        let t = independence(&[(100, 30), (100, 10)]).unwrap();
        assert!((t.chi2 - 12.5).abs() < 1e-9, "{t:?}");
        assert_eq!(t.df, 1);
        assert!((t.p_value - 0.000_407).abs() < 1e-5, "{t:?}");
        assert!((t.cramers_v - 0.25).abs() < 1e-9);
        assert!(t.reliable);
        // One responder among many small groups: the test would overstate.
        let sparse = independence(&[(9, 0), (8, 0), (3, 1), (5, 0)]).unwrap();
        assert!(!sparse.reliable, "{sparse:?}");
        // Three groups responding alike: nothing to see.
        let same = independence(&[(100, 10), (200, 20), (50, 5)]).unwrap();
        assert!(same.chi2.abs() < 1e-12 && (same.p_value - 1.0).abs() < 1e-12);
        assert_eq!(independence(&[(100, 10)]), None);
        assert_eq!(independence(&[(100, 0), (50, 0)]), None);
    }
}
