//! Choosing the partner a service case is offered to: the nearest one that serves the case's
//! product line and category, covers the place, has room for another case and has not
//! already declined it (or let the offer lapse).
//!
//! A plain scan, with no allocation per candidate (one buffer per call, for counting why the
//! nearer ones were passed over), computing a great-circle distance only for candidates whose
//! latitude alone does not already put them beyond the nearest eligible one found so far.
//! Figures: `examples/dispatch_bench.rs`.

use crate::geo;
use crate::record::Id;
use std::cmp::Ordering;

/// A partner that might take the case.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub id: Id,
    pub name: &'a str,
    /// (latitude, longitude). `None` (or not finite): never chosen, counted in
    /// [`Choice::no_coordinates`].
    pub at: Option<(f64, f64)>,
    /// The product lines it serves; empty = every product line.
    pub product_lines: &'a [String],
    /// The case categories it handles; empty = every category.
    pub categories: &'a [String],
    /// How far from its place it works; `None` = no limit.
    pub radius_km: Option<f64>,
    /// How many open cases it may hold; `None` = no limit.
    pub capacity: Option<i64>,
    pub open_cases: i64,
}

/// The case to place.
#[derive(Debug, Clone, Copy)]
pub struct Need<'a> {
    /// (latitude, longitude) of the customer.
    pub at: (f64, f64),
    /// `None` (or blank): any partner's product lines will do.
    pub product_line: Option<&'a str>,
    /// `None` (or blank): any partner's categories will do.
    pub category: Option<&'a str>,
    /// Partners that declined the case or let the offer lapse.
    pub passed: &'a [Id],
}

/// The partner chosen, and why the nearer ones were not.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Choice {
    /// The chosen partner and its distance in kilometres.
    pub chosen: Option<(Id, f64)>,
    /// Candidates nearer than the chosen one (or all, when none is chosen), by why they were
    /// passed over, each counted once, under the first reason in this order: passed, not
    /// qualified, out of range, full.
    pub not_qualified: usize,
    pub full: usize,
    pub out_of_range: usize,
    pub passed: usize,
    /// Candidates without coordinates, counted over all candidates.
    pub no_coordinates: usize,
}

impl Choice {
    /// How many candidates nearer than the chosen one (all, when none was chosen) were passed
    /// over: passed, not qualified, out of range or full. Candidates without coordinates are
    /// not among them (they are nowhere): see [`Choice::no_coordinates`].
    pub fn skipped(&self) -> usize {
        self.passed + self.not_qualified + self.out_of_range + self.full
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Passed,
    NotQualified,
    OutOfRange,
    Full,
}

/// Whether a character lower-cases one to one the ASCII way: ASCII itself, and the CJK blocks
/// (U+3000..U+A63F: punctuation, kana, Hangul jamo, ideographs, Yi), which have no case.
fn simple(c: char) -> bool {
    c.is_ascii() || ('\u{3000}'..'\u{A640}').contains(&c)
}

/// Whether a typed value names the wanted one: trimmed, case-insensitive.
fn same(value: &str, wanted: &str) -> bool {
    let value = value.trim();
    let (mut a, mut b) = (value.chars(), wanted.chars());
    // Character by character while lower-casing maps one to one (ASCII, CJK), which decides
    // most comparisons at their first character; the rest compared lower-cased in full.
    loop {
        let (rest_a, rest_b) = (a.as_str(), b.as_str());
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) if simple(x) && simple(y) => {
                if !x.eq_ignore_ascii_case(&y) {
                    return false;
                }
            }
            // Every character lower-cases to at least one.
            (None, Some(_)) | (Some(_), None) => return false,
            _ => {
                return rest_a
                    .chars()
                    .flat_map(char::to_lowercase)
                    .eq(rest_b.chars().flat_map(char::to_lowercase));
            }
        }
    }
}

/// Whether a list (empty = everything) covers a wanted value (`None` = anything).
fn covers(list: &[String], wanted: Option<&str>) -> bool {
    match wanted {
        None => true,
        Some(w) => list.is_empty() || list.iter().any(|v| same(v, w)),
    }
}

/// Nearer first; at the same distance, the smaller id.
fn order(a: (f64, Id), b: (f64, Id)) -> Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// The nearest qualified, in-range partner with room that has not passed on the case (ties by
/// id), and counts of the nearer ones passed over. A need whose point is not finite finds
/// nobody in range.
pub fn choose(need: &Need, candidates: &[Candidate]) -> Choice {
    let line = need.product_line.map(str::trim).filter(|s| !s.is_empty());
    let category = need.category.map(str::trim).filter(|s| !s.is_empty());
    let from = geo::Origin::new(need.at);
    // Many partners passing on one case is rare; past a few, search them sorted.
    let mut passed_sorted = Vec::new();
    if need.passed.len() > 16 {
        passed_sorted.extend_from_slice(need.passed);
        passed_sorted.sort_unstable();
    }
    let has_passed = |id: &Id| {
        if passed_sorted.is_empty() {
            need.passed.contains(id)
        } else {
            passed_sorted.binary_search(id).is_ok()
        }
    };

    let mut choice = Choice::default();
    let mut best: Option<(f64, Id)> = None;
    let beats =
        |km: f64, id: Id, best: Option<(f64, Id)>| best.is_none_or(|b| order((km, id), b).is_lt());
    // Distances cost trigonometry; a lower bound (the difference in latitude) does not. A
    // candidate whose bound lies beyond the nearest eligible one found so far can neither be
    // chosen nor be nearer than the one finally chosen, so its distance is never needed.
    let beyond = |bound: f64, best: Option<(f64, Id)>| best.is_some_and(|b| bound > b.0);
    // The candidates passed over, with their distance (or, for those passed over before
    // their distance mattered, its bound): which of them were nearer is known only at the
    // end.
    let mut over: Vec<(f64, bool, &Candidate, Reason)> = Vec::with_capacity(candidates.len());
    for c in candidates {
        let Some(at) = c.at.filter(|(lat, lon)| lat.is_finite() && lon.is_finite()) else {
            choice.no_coordinates += 1;
            continue;
        };
        let bound = from.km_bound(at);
        if has_passed(&c.id) {
            over.push((bound, false, c, Reason::Passed));
            continue;
        }
        if !covers(c.product_lines, line) || !covers(c.categories, category) {
            over.push((bound, false, c, Reason::NotQualified));
            continue;
        }
        if beyond(bound, best) {
            continue;
        }
        let km = from.km_to(at);
        if !km.is_finite() || c.radius_km.is_some_and(|r| km > r) {
            over.push((km, true, c, Reason::OutOfRange));
        } else if c.capacity.is_some_and(|cap| c.open_cases >= cap) {
            over.push((km, true, c, Reason::Full));
        } else if beats(km, c.id, best) {
            best = Some((km, c.id));
        }
    }
    for &(km, exact, c, reason) in &over {
        if beyond(km, best) {
            continue;
        }
        let km = if exact {
            km
        } else {
            // Only a located candidate is in `over`.
            c.at.map_or(f64::NAN, |at| from.km_to(at))
        };
        if !beats(km, c.id, best) {
            continue;
        }
        match reason {
            Reason::Passed => choice.passed += 1,
            Reason::NotQualified => choice.not_qualified += 1,
            Reason::OutOfRange => choice.out_of_range += 1,
            Reason::Full => choice.full += 1,
        }
    }
    choice.chosen = best.map(|(km, id)| (id, km));
    choice
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::{Regions, distance_km};
    use proptest::prelude::*;

    fn id(n: u128) -> Id {
        Id(uuid::Uuid::from_u128(n))
    }

    fn at(province: &str, city: Option<&str>, district: Option<&str>) -> (f64, f64) {
        let l = Regions::get()
            .locate(None, Some(province), city, district)
            .unwrap();
        (l.lat, l.lon)
    }

    fn candidate<'a>(n: u128, at: (f64, f64), lines: &'a [String]) -> Candidate<'a> {
        Candidate {
            id: id(n),
            name: "",
            at: Some(at),
            product_lines: lines,
            categories: &[],
            radius_km: None,
            capacity: None,
            open_cases: 0,
        }
    }

    #[test]
    fn the_nearest_qualified_station_with_room_is_chosen_and_the_nearer_ones_counted() {
        let customer = at("上海", None, Some("浦东新区"));
        let pudong = at("上海市", None, Some("浦东"));
        let minhang = at("上海", Some("上海"), Some("闵行区"));
        let xuhui = at("上海", None, Some("徐汇"));
        let hangzhou = at("浙江", Some("杭州"), None);
        let beijing = at("北京", None, None);

        let d = distance_km(customer, hangzhou);
        assert!((160.0..175.0).contains(&d), "上海浦东 → 杭州: {d} km");
        let to_minhang = distance_km(customer, minhang);
        assert!((10.0..30.0).contains(&to_minhang), "{to_minhang}");

        let aircon = vec!["空调".to_string()];
        let fridges = vec!["冰箱".to_string(), "洗衣机".to_string()];
        let all: Vec<String> = vec![];
        let stations = [
            // Passed on this case already.
            candidate(1, pudong, &all),
            // Near, but does not do air conditioners.
            candidate(2, minhang, &fridges),
            // Does, but is full.
            Candidate {
                capacity: Some(5),
                open_cases: 5,
                ..candidate(3, xuhui, &aircon)
            },
            candidate(4, hangzhou, &aircon),
            // Farther than the chosen one: not counted.
            candidate(5, beijing, &fridges),
            Candidate {
                at: None,
                ..candidate(6, hangzhou, &all)
            },
        ];
        let passed = [id(1)];
        let need = Need {
            at: customer,
            product_line: Some(" 空调 "),
            category: None,
            passed: &passed,
        };
        let choice = choose(&need, &stations);
        let (chosen, km) = choice.chosen.unwrap();
        assert_eq!(chosen, id(4));
        assert!((km - d).abs() < 1e-9);
        assert_eq!(
            (
                choice.passed,
                choice.not_qualified,
                choice.out_of_range,
                choice.full,
                choice.no_coordinates
            ),
            (1, 1, 0, 1, 1)
        );
        assert_eq!(choice.skipped(), 3);

        // Hangzhou only works within 100 km: nobody is chosen and everyone is counted.
        let stations_in_range = [
            stations[0],
            stations[1],
            stations[2],
            Candidate {
                radius_km: Some(100.0),
                ..stations[3]
            },
            stations[4],
            stations[5],
        ];
        let choice = choose(&need, &stations_in_range);
        assert_eq!(choice.chosen, None);
        assert_eq!(
            (
                choice.passed,
                choice.not_qualified,
                choice.out_of_range,
                choice.full,
                choice.no_coordinates
            ),
            (1, 2, 1, 1, 1)
        );

        // A case without a product line: Minhang takes it, past Pudong (passed) and Xuhui
        // (full, and nearer than Minhang).
        let any = Need {
            product_line: None,
            ..need
        };
        let choice = choose(&any, &stations);
        assert_eq!(choice.chosen.map(|c| c.0), Some(id(2)));
        assert!(distance_km(customer, xuhui) < to_minhang);
        assert_eq!((choice.passed, choice.full, choice.skipped()), (1, 1, 2));
    }

    #[test]
    fn qualifications_are_trimmed_and_case_insensitive_and_empty_lists_serve_everything() {
        let lines = vec![" HVAC ".to_string(), "Ärzte".to_string()];
        let cats = vec!["installation".to_string()];
        let c = Candidate {
            categories: &cats,
            ..candidate(1, (31.0, 121.0), &lines)
        };
        let need = |line: Option<&'static str>, category: Option<&'static str>| Need {
            at: (31.0, 121.0),
            product_line: line,
            category,
            passed: &[],
        };
        let chosen = |n: Need| choose(&n, &[c]).chosen.is_some();
        assert!(chosen(need(Some("hvac"), Some("Installation "))));
        assert!(chosen(need(Some("ärzte"), None)));
        assert!(chosen(need(None, None)));
        assert!(chosen(need(Some("  "), Some(""))));
        assert!(!chosen(need(Some("hvac"), Some("repair"))));
        assert!(!chosen(need(Some("lighting"), None)));
        let open = Candidate {
            product_lines: &[],
            categories: &[],
            ..c
        };
        assert!(
            choose(&need(Some("lighting"), Some("repair")), &[open])
                .chosen
                .is_some()
        );
    }

    #[test]
    fn names_compare_trimmed_and_case_insensitive() {
        assert!(same(" 空调 ", "空调"));
        assert!(same("HVAC", "hvac"));
        assert!(same("Ärzte", "äRZTE"));
        assert!(same("空调Pro", "空调pro"));
        // The Kelvin sign lower-cases to an ASCII k.
        assert!(same("\u{212A}W", "kw"));
        assert!(!same("空调", "冰箱"));
        assert!(!same("空调", "空调机"));
        assert!(!same("空调机", "空调"));
        assert!(!same("Ärzte", "Arzte"));
        assert!(!same("", "a"));
        assert!(same("  ", ""));
    }

    #[test]
    fn ties_go_to_the_smaller_id_and_reasons_count_in_order() {
        let all: Vec<String> = vec![];
        let p = (30.0, 120.0);
        let cs = [
            candidate(7, p, &all),
            candidate(3, p, &all),
            candidate(5, p, &all),
        ];
        let need = Need {
            at: (30.1, 120.1),
            product_line: None,
            category: None,
            passed: &[],
        };
        assert_eq!(choose(&need, &cs).chosen.unwrap().0, id(3));
        // Passed and full: counted as passed only. Out of range and full: out of range.
        let both = [
            Candidate {
                capacity: Some(0),
                ..candidate(1, p, &all)
            },
            Candidate {
                capacity: Some(1),
                open_cases: 2,
                radius_km: Some(1.0),
                ..candidate(2, p, &all)
            },
        ];
        let need = Need {
            passed: &[id(1)],
            ..need
        };
        let choice = choose(&need, &both);
        assert_eq!(
            (
                choice.chosen,
                choice.passed,
                choice.out_of_range,
                choice.full
            ),
            (None, 1, 1, 0)
        );
        // No candidates at all.
        assert_eq!(choose(&need, &[]), Choice::default());
    }

    #[test]
    fn many_passed_partners_are_found_too() {
        let all: Vec<String> = vec![];
        let cs: Vec<Candidate> = (0..100)
            .map(|n| candidate(n, (30.0 + n as f64 * 0.01, 120.0), &all))
            .collect();
        let passed: Vec<Id> = (0..40).rev().map(id).collect();
        let need = Need {
            at: (30.0, 120.0),
            product_line: None,
            category: None,
            passed: &passed,
        };
        let choice = choose(&need, &cs);
        assert_eq!(choice.chosen.unwrap().0, id(40));
        assert_eq!(choice.passed, 40);
    }

    #[derive(Debug, Clone)]
    struct Gen {
        at: Option<(f64, f64)>,
        lines: Vec<String>,
        cats: Vec<String>,
        radius: Option<f64>,
        capacity: Option<i64>,
        open: i64,
        passed: bool,
    }

    fn gen_candidate() -> impl Strategy<Value = Gen> {
        let words =
            |n: usize| prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "d"]), 0..n);
        (
            prop::option::weighted(0.9, (20.0..45.0f64, 100.0..125.0f64)),
            words(3),
            words(2),
            prop::option::of(0.0..1500.0f64),
            prop::option::of(0..4i64),
            0..4i64,
            prop::bool::weighted(0.1),
        )
            .prop_map(|(at, lines, cats, radius, capacity, open, passed)| Gen {
                at,
                lines: lines.into_iter().map(String::from).collect(),
                cats: cats.into_iter().map(String::from).collect(),
                radius,
                capacity,
                open,
                passed,
            })
    }

    proptest! {
        #[test]
        fn the_chosen_one_is_never_farther_than_an_eligible_one(
            gens in prop::collection::vec(gen_candidate(), 0..60),
            at in (20.0..45.0f64, 100.0..125.0f64),
            line in prop::option::of(prop::sample::select(vec!["a", "B", "c ", "e"])),
            category in prop::option::of(prop::sample::select(vec!["a", "b", "z"])),
        ) {
            let cs: Vec<Candidate> = gens.iter().enumerate().map(|(n, g)| Candidate {
                id: id(n as u128 * 7 % 61),
                name: "",
                at: g.at,
                product_lines: &g.lines,
                categories: &g.cats,
                radius_km: g.radius,
                capacity: g.capacity,
                open_cases: g.open,
            }).collect();
            let passed: Vec<Id> = cs.iter().zip(&gens).filter(|(_, g)| g.passed).map(|(c, _)| c.id).collect();
            let need = Need { at, product_line: line, category, passed: &passed };
            let choice = choose(&need, &cs);

            let low = |s: &str| s.trim().to_lowercase();
            let reason = |c: &Candidate| -> Option<Reason> {
                let d = distance_km(at, c.at.unwrap());
                let ok = |list: &[String], want: Option<&str>| want.is_none()
                    || list.is_empty() || list.iter().any(|v| low(v) == low(want.unwrap()));
                if passed.contains(&c.id) { Some(Reason::Passed) }
                else if !ok(c.product_lines, line) || !ok(c.categories, category) { Some(Reason::NotQualified) }
                else if c.radius_km.is_some_and(|r| d > r) { Some(Reason::OutOfRange) }
                else if c.capacity.is_some_and(|cap| c.open_cases >= cap) { Some(Reason::Full) }
                else { None }
            };
            let located: Vec<&Candidate> = cs.iter().filter(|c| c.at.is_some()).collect();
            prop_assert_eq!(choice.no_coordinates, cs.len() - located.len());
            let eligible: Vec<&&Candidate> = located.iter().filter(|c| reason(c).is_none()).collect();
            match choice.chosen {
                None => prop_assert!(eligible.is_empty()),
                Some((chosen, km)) => {
                    let c = located.iter().find(|c| c.id == chosen && reason(c).is_none());
                    prop_assert!(c.is_some(), "the chosen one is eligible");
                    prop_assert!((distance_km(at, c.unwrap().at.unwrap()) - km).abs() < 1e-9);
                    for e in &eligible {
                        prop_assert!(km <= distance_km(at, e.at.unwrap()), "{} nearer than {}", e.id, chosen);
                    }
                }
            }
            // The counts are the nearer candidates passed over, by their first reason.
            let nearer = |c: &Candidate| match choice.chosen {
                None => true,
                Some((chosen, km)) => order((distance_km(at, c.at.unwrap()), c.id), (km, chosen)).is_lt(),
            };
            let count = |r: Reason| located.iter().filter(|c| nearer(c) && reason(c) == Some(r)).count();
            prop_assert_eq!(choice.passed, count(Reason::Passed));
            prop_assert_eq!(choice.not_qualified, count(Reason::NotQualified));
            prop_assert_eq!(choice.out_of_range, count(Reason::OutOfRange));
            prop_assert_eq!(choice.full, count(Reason::Full));
        }
    }
}
