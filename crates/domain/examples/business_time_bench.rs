//! Due-date arithmetic on business calendars, single thread.
//!
//! `cargo run --release -p guanxi-domain --example business_time_bench`
//!
//! Random starts in 2025–2026 (to the second) and targets of 1 minute to 5 business days
//! (5 × 8 h), on `china_office` and `around_the_clock`: `add`, then `minutes_between` over
//! the spans `add` gave.

use chrono::{DateTime, Utc};
use guanxi_domain::entities::{BusinessTime, Calendar};
use std::hint::black_box;
use std::time::Instant;

const N: usize = 2_000_000;

/// xorshift64*: enough for spreading inputs, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo) as u64) as i64
    }
}

fn run(name: &str, bt: &BusinessTime, inputs: &[(DateTime<Utc>, i64)]) {
    let t = Instant::now();
    let mut ends = Vec::with_capacity(inputs.len());
    for &(s, m) in inputs {
        ends.push(black_box(bt.add(black_box(s), black_box(m))));
    }
    let add = t.elapsed();

    let t = Instant::now();
    let mut total = 0i64;
    for (&(s, _), &e) in inputs.iter().zip(&ends) {
        total += black_box(bt.minutes_between(black_box(s), black_box(e)));
    }
    let between = t.elapsed();
    let expected: i64 = inputs.iter().map(|&(_, m)| m).sum();
    assert_eq!(total, expected, "minutes_between(s, add(s, m)) != m");

    let rate = |d: std::time::Duration| inputs.len() as f64 / d.as_secs_f64();
    println!(
        "{name:<17} add: {:>12.0}/s ({:>6.0} ns)   minutes_between: {:>12.0}/s ({:>6.0} ns)",
        rate(add),
        add.as_nanos() as f64 / inputs.len() as f64,
        rate(between),
        between.as_nanos() as f64 / inputs.len() as f64,
    );
}

fn main() {
    let lo = "2025-01-01T00:00:00+08:00"
        .parse::<DateTime<Utc>>()
        .unwrap()
        .timestamp();
    let hi = "2027-01-01T00:00:00+08:00"
        .parse::<DateTime<Utc>>()
        .unwrap()
        .timestamp();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let inputs: Vec<(DateTime<Utc>, i64)> = (0..N)
        .map(|_| {
            let s = DateTime::from_timestamp(rng.range(lo, hi), 0).unwrap();
            (s, rng.range(1, 5 * 8 * 60 + 1))
        })
        .collect();

    let office = Calendar::china_office("办公").business_time().unwrap();
    let hotline = Calendar::around_the_clock("热线").business_time().unwrap();
    println!("{N} computations each, starts in 2025–2026, 1 min to 5 business days");
    for _ in 0..2 {
        run("china_office", &office, &inputs);
        run("around_the_clock", &hotline, &inputs);
    }
}
