//! Weighted customer grading (A/B/C/D) from indicators of current and future value.
//!
//! Each indicator is normalised to [0, 1] across the customers by min–max scaling, reversed
//! for indicators where less is better (marketing cost counts against a customer); a
//! customer's score is the weighted mean of their normalised indicators on a 0–100 scale,
//! and each indicator's contribution is its part of that sum, so the contributions add up
//! to the score. An indicator that is the same for everyone carries no information and
//! scores ½ for all. The grade follows from configurable score thresholds.

use std::fmt;

/// Whether more of an indicator is better or worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Gross profit, sales volume, industry position, years of cooperation, satisfaction.
    HigherIsBetter,
    /// Marketing and service cost.
    LowerIsBetter,
}

/// One indicator of the rule set.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    pub name: String,
    /// Non-negative; weights need not sum to 1 (they are divided by their sum).
    pub weight: f64,
    pub direction: Direction,
}

/// The rule set: indicators and the minimum score for A, B and C (D below C).
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub indicators: Vec<Indicator>,
    pub min_a: f64,
    pub min_b: f64,
    pub min_c: f64,
}

impl Rules {
    /// Seed 004's indicators with equal weight for current and future value (each split
    /// evenly among its three indicators) and thresholds 80 / 60 / 40.
    pub fn standard() -> Rules {
        let ind = |name: &str, direction| Indicator {
            name: name.to_owned(),
            weight: 1.0,
            direction,
        };
        Rules {
            indicators: vec![
                ind("gross_profit", Direction::HigherIsBetter),
                ind("sales_volume", Direction::HigherIsBetter),
                ind("marketing_cost", Direction::LowerIsBetter),
                ind("industry_position", Direction::HigherIsBetter),
                ind("years_of_cooperation", Direction::HigherIsBetter),
                ind("satisfaction", Direction::HigherIsBetter),
            ],
            min_a: 80.0,
            min_b: 60.0,
            min_c: 40.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grade {
    A,
    B,
    C,
    D,
}

/// One customer's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Graded {
    /// 0–100.
    pub score: f64,
    pub grade: Grade,
    /// Per indicator, in the order of the rules; they sum to `score` (up to rounding).
    pub contributions: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GradingError {
    /// No indicators, a negative or non-finite weight, or weights summing to 0.
    BadWeights,
    /// Thresholds not in the order A ≥ B ≥ C.
    BadThresholds,
    /// A customer's row does not have one finite value per indicator.
    BadRow(usize),
}

impl fmt::Display for GradingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradingError::BadWeights => {
                f.write_str("weights must be non-negative with a positive sum")
            }
            GradingError::BadThresholds => f.write_str("thresholds must satisfy A ≥ B ≥ C"),
            GradingError::BadRow(i) => {
                write!(f, "customer row {i} needs one finite value per indicator")
            }
        }
    }
}

impl std::error::Error for GradingError {}

/// Grades each customer's row of indicator values (in the order of `rules.indicators`).
pub fn grade(rules: &Rules, rows: &[Vec<f64>]) -> Result<Vec<Graded>, GradingError> {
    let k = rules.indicators.len();
    let total_weight: f64 = rules.indicators.iter().map(|i| i.weight).sum();
    if k == 0
        || rules
            .indicators
            .iter()
            .any(|i| !(i.weight.is_finite() && i.weight >= 0.0))
        || total_weight <= 0.0
    {
        return Err(GradingError::BadWeights);
    }
    if !(rules.min_a >= rules.min_b && rules.min_b >= rules.min_c) {
        return Err(GradingError::BadThresholds);
    }
    if let Some(i) = rows
        .iter()
        .position(|r| r.len() != k || r.iter().any(|v| !v.is_finite()))
    {
        return Err(GradingError::BadRow(i));
    }
    let range: Vec<(f64, f64)> = (0..k)
        .map(|j| {
            rows.iter()
                .map(|r| r[j])
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                })
        })
        .collect();
    Ok(rows
        .iter()
        .map(|r| {
            let weighted: Vec<f64> = rules
                .indicators
                .iter()
                .enumerate()
                .map(|(j, ind)| {
                    let (lo, hi) = range[j];
                    let up = if hi > lo {
                        (r[j] - lo) / (hi - lo)
                    } else {
                        0.5
                    };
                    let norm = match ind.direction {
                        Direction::HigherIsBetter => up,
                        Direction::LowerIsBetter => 1.0 - up,
                    };
                    ind.weight * norm
                })
                .collect();
            // One division for the score, so round weights give round scores and a score
            // exactly on a threshold is not pushed below it by rounding.
            let score = 100.0 * weighted.iter().sum::<f64>() / total_weight;
            let contributions = weighted.iter().map(|w| 100.0 * w / total_weight).collect();
            let grade = if score >= rules.min_a {
                Grade::A
            } else if score >= rules.min_b {
                Grade::B
            } else if score >= rules.min_c {
                Grade::C
            } else {
                Grade::D
            };
            Graded {
                score,
                grade,
                contributions,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        // Two indicators: profit (weight 3, higher better), cost (weight 1, lower better).
        let rules = Rules {
            indicators: vec![
                Indicator {
                    name: "profit".into(),
                    weight: 3.0,
                    direction: Direction::HigherIsBetter,
                },
                Indicator {
                    name: "cost".into(),
                    weight: 1.0,
                    direction: Direction::LowerIsBetter,
                },
            ],
            min_a: 80.0,
            min_b: 60.0,
            min_c: 40.0,
        };
        let rows = vec![vec![100.0, 10.0], vec![50.0, 30.0], vec![0.0, 20.0]];
        let g = grade(&rules, &rows).unwrap();
        // Profit normalises to 1, .5, 0; cost (reversed) to 1, 0, .5.
        // Scores: 75 + 25 = 100; 37.5 + 0 = 37.5; 0 + 12.5 = 12.5.
        assert_eq!(g[0].contributions, vec![75.0, 25.0]);
        assert_eq!(g[1].contributions, vec![37.5, 0.0]);
        assert_eq!(g[2].contributions, vec![0.0, 12.5]);
        assert_eq!(
            g.iter().map(|x| x.score).collect::<Vec<_>>(),
            vec![100.0, 37.5, 12.5]
        );
        assert_eq!(
            g.iter().map(|x| x.grade).collect::<Vec<_>>(),
            vec![Grade::A, Grade::D, Grade::D]
        );
    }

    #[test]
    fn thresholds_and_constant_indicators() {
        let mut rules = Rules::standard();
        // Everyone equal on every indicator: all score 50 → C.
        let g = grade(&rules, &[vec![1.0; 6], vec![1.0; 6]]).unwrap();
        assert!(g.iter().all(|x| x.score == 50.0 && x.grade == Grade::C));
        // Boundaries are inclusive.
        rules.min_c = 50.0;
        rules.min_b = 50.0;
        assert_eq!(grade(&rules, &[vec![1.0; 6]]).unwrap()[0].grade, Grade::B);
    }

    #[test]
    fn standard_rules_grade_a_clear_best_customer_a() {
        let rows = vec![
            vec![500.0, 90.0, 10.0, 5.0, 12.0, 9.5],
            vec![100.0, 20.0, 80.0, 2.0, 1.0, 4.0],
            vec![300.0, 50.0, 40.0, 3.0, 6.0, 7.0],
        ];
        let g = grade(&Rules::standard(), &rows).unwrap();
        assert_eq!((g[0].grade, g[1].grade), (Grade::A, Grade::D));
        assert!((g[0].score - 100.0).abs() < 1e-9 && g[1].score.abs() < 1e-9);
        for x in &g {
            assert!((x.contributions.iter().sum::<f64>() - x.score).abs() < 1e-9);
        }
    }

    #[test]
    fn bad_rules_and_rows() {
        let mut r = Rules::standard();
        assert_eq!(grade(&r, &[vec![1.0; 5]]), Err(GradingError::BadRow(0)));
        assert_eq!(
            grade(&r, &[vec![1.0; 6], vec![f64::NAN; 6]]),
            Err(GradingError::BadRow(1))
        );
        r.min_b = 90.0;
        assert_eq!(grade(&r, &[]), Err(GradingError::BadThresholds));
        let mut r = Rules::standard();
        r.indicators[0].weight = -1.0;
        assert_eq!(grade(&r, &[]), Err(GradingError::BadWeights));
        r.indicators.clear();
        assert_eq!(grade(&r, &[]), Err(GradingError::BadWeights));
    }
}
