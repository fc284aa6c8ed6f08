//! Lifecycle stage of a customer relationship: exploration, formation, stable, decline
//! (the phases of Dwyer, Schurr & Oh 1987, as seed 004 names them), from the purchase
//! trajectory and the probability of being alive from a buy-till-you-die model.
//!
//! Rules, applied in this order (thresholds in [`Thresholds`]):
//! 1. **decline**: P(alive) below `min_p_alive`, or the recent purchase rate fell below
//!    `decline_ratio` × the earlier rate;
//! 2. **exploration**: fewer than `min_repeats` repeat purchases: the relationship is still
//!    being tried;
//! 3. **formation**: the recent rate exceeds `growth_ratio` × the earlier rate (growing;
//!    a customer with no earlier purchases but recent ones is growing);
//! 4. **stable**: otherwise.
//!
//! The rates are purchase days per day in two windows of equal length: the `window_days`
//! up to the as-of date, and the `window_days` before that ([`trajectory`]).

use chrono::NaiveDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    Exploration,
    Formation,
    Stable,
    Decline,
}

/// The thresholds of the rules in the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub min_p_alive: f64,
    pub decline_ratio: f64,
    pub growth_ratio: f64,
    pub min_repeats: u32,
}

impl Default for Thresholds {
    /// P(alive) < 0.5 or the rate halved → decline; fewer than 2 repeat purchases →
    /// exploration; the rate up by a quarter → formation.
    fn default() -> Self {
        Thresholds {
            min_p_alive: 0.5,
            decline_ratio: 0.5,
            growth_ratio: 1.25,
            min_repeats: 2,
        }
    }
}

/// Purchase rates (purchase days per day) in the earlier and the recent window: recent is
/// `(as_of − window_days, as_of]`, earlier the `window_days` before it. Several purchases
/// on one day count once; dates after `as_of` are ignored.
pub fn trajectory(purchase_dates: &[NaiveDate], as_of: NaiveDate, window_days: u32) -> (f64, f64) {
    let mut days: Vec<i64> = purchase_dates
        .iter()
        .map(|d| (as_of - *d).num_days())
        .filter(|&ago| ago >= 0)
        .collect();
    days.sort_unstable();
    days.dedup();
    let w = window_days as i64;
    let recent = days.iter().filter(|&&ago| ago < w).count();
    let earlier = days.iter().filter(|&&ago| ago >= w && ago < 2 * w).count();
    (earlier as f64 / w as f64, recent as f64 / w as f64)
}

/// The stage by the rules in the module docs.
pub fn stage(
    repeat_purchases: u32,
    p_alive: f64,
    earlier_rate: f64,
    recent_rate: f64,
    t: &Thresholds,
) -> Stage {
    if p_alive < t.min_p_alive
        || (earlier_rate > 0.0 && recent_rate < t.decline_ratio * earlier_rate)
    {
        Stage::Decline
    } else if repeat_purchases < t.min_repeats {
        Stage::Exploration
    } else if recent_rate > t.growth_ratio * earlier_rate {
        Stage::Formation
    } else {
        Stage::Stable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn trajectory_by_hand() {
        let as_of = d(2024, 3, 31);
        let dates = [
            d(2024, 3, 31), // 0 days ago: recent
            d(2024, 3, 31), // same day: once
            d(2024, 3, 2),  // 29 days ago: recent
            d(2024, 3, 1),  // 30 days ago: earlier
            d(2024, 1, 31), // 60 days ago: outside both
            d(2024, 4, 1),  // future: ignored
        ];
        assert_eq!(trajectory(&dates, as_of, 30), (1.0 / 30.0, 2.0 / 30.0));
    }

    #[test]
    fn each_rule() {
        let t = Thresholds::default();
        // Decline wins over everything: low P(alive), or the rate halved.
        assert_eq!(stage(10, 0.4, 0.1, 0.2, &t), Stage::Decline);
        assert_eq!(stage(10, 0.9, 0.1, 0.049, &t), Stage::Decline);
        assert_eq!(stage(0, 0.9, 0.1, 0.0, &t), Stage::Decline);
        // Too few repeats: exploration.
        assert_eq!(stage(1, 0.9, 0.0, 0.1, &t), Stage::Exploration);
        // Growing: formation (including from nothing).
        assert_eq!(stage(3, 0.9, 0.1, 0.2, &t), Stage::Formation);
        assert_eq!(stage(3, 0.9, 0.0, 0.1, &t), Stage::Formation);
        // Steady, or moderately down: stable.
        assert_eq!(stage(3, 0.9, 0.1, 0.1, &t), Stage::Stable);
        assert_eq!(stage(3, 0.9, 0.1, 0.05, &t), Stage::Stable);
        assert_eq!(stage(3, 0.9, 0.1, 0.125, &t), Stage::Stable);
        assert_eq!(stage(3, 0.9, 0.0, 0.0, &t), Stage::Stable);
    }
}
