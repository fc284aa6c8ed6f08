//! How long a failed job waits before its next attempt: exponential backoff with full
//! jitter (AWS's "Exponential Backoff And Jitter"). The ceiling doubles with each attempt
//! up to a cap; the wait is a uniformly random point below it, so many jobs that failed
//! together (a receiver that was down) do not all come back at the same instant.
//!
//! Pure: the caller draws the random fraction, so the app and the tests share the formula.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling after the first failed attempt.
    pub base: Duration,
    /// No ceiling grows past this.
    pub cap: Duration,
}

impl Default for Backoff {
    /// 1 s, 2 s, 4 s, … up to an hour: a job with 10 attempts keeps trying for about two
    /// hours in the worst case.
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The ceiling after `attempt` failed attempts (1 for the first): `base · 2^(attempt-1)`,
    /// at most `cap`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(63);
        self.base
            .checked_mul(1u32.checked_shl(doublings).unwrap_or(u32::MAX))
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// The wait after `attempt` failed attempts, `fraction` (in `[0, 1)`, drawn by the
    /// caller) of the way up to the ceiling. A fraction outside that range is clamped.
    pub fn delay(&self, attempt: u32, fraction: f64) -> Duration {
        let f = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.ceiling(attempt).mul_f64(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        base: Duration::from_millis(500),
        cap: Duration::from_secs(60),
    };

    #[test]
    fn the_ceiling_doubles_then_stops_at_the_cap() {
        let ceilings: Vec<u64> = (1..=9).map(|a| B.ceiling(a).as_millis() as u64).collect();
        assert_eq!(
            ceilings,
            [
                500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000
            ]
        );
        assert_eq!(B.ceiling(0), B.base, "attempt 0 is taken as the first");
        assert_eq!(
            B.ceiling(u32::MAX),
            B.cap,
            "no overflow however many attempts"
        );
    }

    #[test]
    fn the_wait_is_the_fraction_of_the_ceiling() {
        assert_eq!(B.delay(3, 0.0), Duration::ZERO);
        assert_eq!(B.delay(3, 0.5), Duration::from_secs(1));
        assert_eq!(B.delay(40, 0.25), Duration::from_secs(15));
        assert_eq!(B.delay(3, 7.0), B.ceiling(3), "clamped above");
        assert_eq!(B.delay(3, -1.0), Duration::ZERO, "clamped below");
        assert_eq!(B.delay(3, f64::NAN), Duration::ZERO);
    }

    #[test]
    fn a_huge_base_is_capped() {
        let b = Backoff {
            base: Duration::from_secs(u64::MAX / 2),
            cap: Duration::from_secs(10),
        };
        assert_eq!(b.ceiling(5), Duration::from_secs(10));
    }
}
