//! How long choosing a partner takes among 5,000, and locating a place by its names.
//!
//! `cargo run --release -p guanxi-domain --example dispatch_bench`
//!
//! 5,000 candidates at random districts of the region table (a few without coordinates),
//! with random product lines (of 10), categories (of 6), radius and capacity; 10,000 needs
//! at random districts, each with a random product line and category and a few partners
//! that passed. Prints p50/p99/max of `dispatch::choose` and of `Regions::locate` by names
//! (as the table writes them and in their short forms), in microseconds.

use guanxi_domain::Id;
use guanxi_domain::dispatch::{Candidate, Need, choose};
use guanxi_domain::geo::{District, Regions, short_name};
use std::hint::black_box;
use std::time::{Duration, Instant};

const CANDIDATES: usize = 5_000;
const NEEDS: usize = 10_000;

/// splitmix64: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
    }
    /// A few distinct items of a list.
    fn some_of(&mut self, list: &[String], most: usize) -> Vec<String> {
        let mut picked: Vec<String> = vec![];
        for _ in 0..=self.below(most) {
            let item = &list[self.below(list.len())];
            if !picked.contains(item) {
                picked.push(item.clone());
            }
        }
        picked
    }
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |q: f64| us(times[((times.len() - 1) as f64 * q).round() as usize]);
    println!(
        "{what:<44} n={:>6}  p50 {:>8.1} µs  p99 {:>8.1} µs  max {:>8.1} µs",
        times.len(),
        at(0.50),
        at(0.99),
        us(*times.last().unwrap()),
    );
}

fn main() {
    let mut rng = Rng(0x5eed_2026);
    let started = Instant::now();
    let regions = Regions::get();
    println!(
        "region table parsed in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let districts: Vec<District> = regions.districts().filter(|d| d.at.is_some()).collect();
    let lines: Vec<String> = [
        "空调",
        "冰箱",
        "洗衣机",
        "热水器",
        "燃气灶",
        "净水器",
        "电视",
        "油烟机",
        "扫地机",
        "新风",
    ]
    .map(String::from)
    .to_vec();
    let categories: Vec<String> = ["安装", "维修", "保养", "移机", "清洗", "投诉"]
        .map(String::from)
        .to_vec();

    // Each partner's lists live here; the candidates borrow them.
    struct Partner {
        id: Id,
        at: Option<(f64, f64)>,
        lines: Vec<String>,
        categories: Vec<String>,
        radius_km: Option<f64>,
        capacity: Option<i64>,
        open_cases: i64,
    }
    let partners: Vec<Partner> = (0..CANDIDATES)
        .map(|_| {
            let d = &districts[rng.below(districts.len())];
            let capacity = rng.chance(0.7).then(|| 5 + rng.below(30) as i64);
            Partner {
                id: Id::new(),
                at: d.at.filter(|_| !rng.chance(0.02)),
                // One in five serves every product line, one in three every category.
                lines: if rng.chance(0.2) {
                    vec![]
                } else {
                    rng.some_of(&lines, 3)
                },
                categories: if rng.chance(0.33) {
                    vec![]
                } else {
                    rng.some_of(&categories, 3)
                },
                radius_km: rng.chance(0.6).then(|| 30.0 + rng.below(300) as f64),
                open_cases: capacity
                    .map_or(rng.below(20) as i64, |c| rng.below(c as usize + 3) as i64),
                capacity,
            }
        })
        .collect();
    let candidates: Vec<Candidate> = partners
        .iter()
        .enumerate()
        .map(|(n, p)| Candidate {
            id: p.id,
            name: if n % 2 == 0 { "站" } else { "服务商" },
            at: p.at,
            product_lines: &p.lines,
            categories: &p.categories,
            radius_km: p.radius_km,
            capacity: p.capacity,
            open_cases: p.open_cases,
        })
        .collect();

    struct Case {
        at: (f64, f64),
        line: Option<usize>,
        category: Option<usize>,
        passed: Vec<Id>,
    }
    let cases: Vec<Case> = (0..NEEDS)
        .map(|_| Case {
            at: districts[rng.below(districts.len())].at.unwrap(),
            line: rng.chance(0.9).then(|| rng.below(lines.len())),
            category: rng.chance(0.8).then(|| rng.below(categories.len())),
            passed: (0..rng.below(4))
                .map(|_| candidates[rng.below(CANDIDATES)].id)
                .collect(),
        })
        .collect();

    // Warm up, then time each call.
    for case in cases.iter().take(200) {
        black_box(choose(
            &Need {
                at: case.at,
                product_line: case.line.map(|l| lines[l].as_str()),
                category: case.category.map(|c| categories[c].as_str()),
                passed: &case.passed,
            },
            &candidates,
        ));
    }
    let (mut chosen, mut km_total, mut skipped) = (0usize, 0.0, 0usize);
    let times: Vec<Duration> = cases
        .iter()
        .map(|case| {
            let need = Need {
                at: case.at,
                product_line: case.line.map(|l| lines[l].as_str()),
                category: case.category.map(|c| categories[c].as_str()),
                passed: &case.passed,
            };
            let t = Instant::now();
            let choice = black_box(choose(black_box(&need), black_box(&candidates)));
            let took = t.elapsed();
            if let Some((_, km)) = choice.chosen {
                chosen += 1;
                km_total += km;
            }
            skipped += choice.skipped();
            took
        })
        .collect();
    report(&format!("choose among {CANDIDATES} candidates"), times);
    println!(
        "  {chosen} of {NEEDS} needs found a partner, {:.1} km away on average; {:.1} nearer ones skipped per need",
        km_total / chosen.max(1) as f64,
        skipped as f64 / NEEDS as f64
    );

    // Locating by names, as the table writes them and as people shorten them.
    let all: Vec<District> = regions.districts().collect();
    for (label, short) in [
        ("locate by full names", false),
        ("locate by short names", true),
    ] {
        let (mut found, mut as_district) = (0, 0);
        let queries: Vec<(String, Option<String>, String)> = (0..NEEDS)
            .map(|_| {
                let d = &all[rng.below(all.len())];
                let cut = |s: &str| {
                    if short {
                        short_name(s).to_string()
                    } else {
                        s.to_string()
                    }
                };
                (cut(d.province), d.city.map(cut), cut(d.district))
            })
            .collect();
        let times: Vec<Duration> = queries
            .iter()
            .map(|(p, c, d)| {
                let t = Instant::now();
                let located =
                    black_box(regions.locate(None, Some(black_box(p)), c.as_deref(), Some(d)));
                let took = t.elapsed();
                if let Some(l) = located {
                    found += 1;
                    as_district += usize::from(l.level == guanxi_domain::geo::Level::District);
                }
                took
            })
            .collect();
        report(label, times);
        println!("  {found} of {NEEDS} located, {as_district} to the district");
    }
}
