//! Settings an administrator changes: for now, how customers are graded.

use crate::ValidationErrors;
use serde::{Deserialize, Serialize};

/// The weights of seed 004's six indicators and the minimum score (0–100) of each grade.
/// Marketing cost counts against a customer; the others for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GradingSettings {
    pub gross_profit: f64,
    pub sales_volume: f64,
    pub marketing_cost: f64,
    pub industry_position: f64,
    pub years_of_cooperation: f64,
    pub satisfaction: f64,
    pub min_a: f64,
    pub min_b: f64,
    pub min_c: f64,
}

impl GradingSettings {
    /// The settings key they are stored under.
    pub const KEY: &'static str = "grading";

    /// The weights in the order of the indicators above.
    pub fn weights(&self) -> [f64; 6] {
        [
            self.gross_profit,
            self.sales_volume,
            self.marketing_cost,
            self.industry_position,
            self.years_of_cooperation,
            self.satisfaction,
        ]
    }

    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        let names = [
            "gross_profit",
            "sales_volume",
            "marketing_cost",
            "industry_position",
            "years_of_cooperation",
            "satisfaction",
        ];
        for (name, w) in names.iter().zip(self.weights()) {
            if !w.is_finite() || w < 0.0 {
                e.add(*name, "out_of_range", "a weight is a number of at least 0");
            }
        }
        if self.weights().iter().sum::<f64>() <= 0.0 {
            e.add(
                "gross_profit",
                "required",
                "at least one weight must be above 0",
            );
        }
        for (name, v) in [
            ("min_a", self.min_a),
            ("min_b", self.min_b),
            ("min_c", self.min_c),
        ] {
            e.range(name, v, 0.0, 100.0);
        }
        if !(self.min_c <= self.min_b && self.min_b <= self.min_a) {
            e.add("min_b", "invalid", "thresholds must satisfy A ≥ B ≥ C");
        }
        e.into_result()
    }
}

impl Default for GradingSettings {
    /// Current and future value weigh the same (three indicators each); A from 80, B from
    /// 60, C from 40.
    fn default() -> Self {
        GradingSettings {
            gross_profit: 1.0,
            sales_volume: 1.0,
            marketing_cost: 1.0,
            industry_position: 1.0,
            years_of_cooperation: 1.0,
            satisfaction: 1.0,
            min_a: 80.0,
            min_b: 60.0,
            min_c: 40.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_settings_name_their_field() {
        GradingSettings::default().validate().unwrap();
        let bad = GradingSettings {
            marketing_cost: -1.0,
            min_b: 90.0,
            ..GradingSettings::default()
        };
        let fields: Vec<String> = bad
            .validate()
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["marketing_cost", "min_b"]);
    }
}

/// How dispatching cases to service partners behaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchSettings {
    /// Minutes a partner has to accept an offered case before it passes to the next.
    pub offer_minutes: i64,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings { offer_minutes: 120 }
    }
}

impl DispatchSettings {
    /// The settings key they are stored under.
    pub const KEY: &'static str = "dispatch";

    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.range("offer_minutes", self.offer_minutes, 1, 7 * 24 * 60);
        e.into_result()
    }
}
