use super::{CaseStatus, CustomerGrade, Priority, Tier};
use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*};
use crate::{Id, ValidationErrors};
use serde::{Deserialize, Serialize};

/// A service-level agreement: the cases it covers (by category, priority, the account's
/// tier and grade, and channel; an empty list covers every value), its targets in the
/// business time of its calendar, and the statuses in which the resolution clock stops.
/// The first active policy by `rank` that covers a case applies (`domain::sla`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    pub name: String,
    /// Lower first: the first active policy that covers a case applies.
    #[serde(default)]
    pub rank: i64,
    #[serde(default = "yes")]
    pub active: bool,
    /// The business calendar the targets count in.
    pub calendar_id: Id,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub priorities: Vec<String>,
    #[serde(default)]
    pub tiers: Vec<String>,
    #[serde(default)]
    pub grades: Vec<String>,
    #[serde(default)]
    pub channels: Vec<String>,
    /// Business minutes from opening to the first response (the case leaving `new`).
    #[serde(default)]
    pub first_response_minutes: Option<i64>,
    /// Business minutes from opening to resolution, not counting paused time.
    #[serde(default)]
    pub resolution_minutes: Option<i64>,
    /// The case is in warning when this many business minutes or fewer are left.
    #[serde(default)]
    pub warn_before_minutes: Option<i64>,
    /// Statuses in which the resolution clock stops ("pending": waiting for the customer).
    #[serde(default = "pending")]
    pub pause_statuses: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}

fn pending() -> Vec<String> {
    vec![CaseStatus::Pending.as_str().to_string()]
}

/// A target longer than this (a year of round-the-clock minutes) is a typing error.
pub const MAX_TARGET_MINUTES: i64 = 366 * 24 * 60;

impl Entity for SlaPolicy {
    const DEF: &'static EntityDef = &EntityDef {
        name: "sla_policy",
        table: "sla_policies",
        scoped: false,
        fields: &[
            FieldDef::new("name", Text),
            FieldDef::new("rank", Int),
            FieldDef::new("active", Bool),
            FieldDef::new("calendar_id", Ref("calendars")),
            FieldDef::new("categories", Tags),
            FieldDef::new("priorities", Tags),
            FieldDef::new("tiers", Tags),
            FieldDef::new("grades", Tags),
            FieldDef::new("channels", Tags),
            FieldDef::new("first_response_minutes", Int),
            FieldDef::new("resolution_minutes", Int),
            FieldDef::new("warn_before_minutes", Int),
            FieldDef::new("pause_statuses", Tags),
            FieldDef::new("description", Text),
        ],
        collection: Some("sla-policies"),
        list_columns: &[
            "rank",
            "name",
            "priorities",
            "first_response_minutes",
            "resolution_minutes",
            "active",
        ],
        ..EntityDef::PLAIN
    };

    fn normalize(&mut self) {
        self.name = self.name.trim().to_string();
        for list in [
            &mut self.categories,
            &mut self.priorities,
            &mut self.tiers,
            &mut self.grades,
            &mut self.channels,
            &mut self.pause_statuses,
        ] {
            for v in list.iter_mut() {
                *v = v.trim().to_string();
            }
            list.retain(|v| !v.is_empty());
            list.dedup();
        }
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 200);
        e.opt_text("description", &self.description, 2000);
        if self.first_response_minutes.is_none() && self.resolution_minutes.is_none() {
            e.add(
                "resolution_minutes",
                "required",
                "a policy needs a first-response or a resolution target",
            );
        }
        for (field, v) in [
            ("first_response_minutes", self.first_response_minutes),
            ("resolution_minutes", self.resolution_minutes),
            ("warn_before_minutes", self.warn_before_minutes),
        ] {
            if let Some(v) = v {
                e.range(field, v, 1, MAX_TARGET_MINUTES);
            }
        }
        let longest = self.first_response_minutes.max(self.resolution_minutes);
        if let (Some(w), Some(t)) = (self.warn_before_minutes, longest)
            && w >= t
        {
            e.add(
                "warn_before_minutes",
                "invalid",
                format!("a warning {w} minutes before a {t}-minute target would come at once"),
            );
        }
        let closed = [CaseStatus::Resolved.as_str(), CaseStatus::Closed.as_str()];
        let pausable: Vec<&str> = CaseStatus::VALUES
            .iter()
            .copied()
            .filter(|s| !closed.contains(s))
            .collect();
        for (field, list, allowed) in [
            ("priorities", &self.priorities, Priority::VALUES),
            ("tiers", &self.tiers, Tier::VALUES),
            ("grades", &self.grades, CustomerGrade::VALUES),
            ("pause_statuses", &self.pause_statuses, &pausable[..]),
        ] {
            for (i, v) in list.iter().enumerate() {
                if !allowed.contains(&v.as_str()) {
                    e.add(
                        format!("{field}[{i}]"),
                        "invalid",
                        format!("'{v}' is none of {}", allowed.join(", ")),
                    );
                }
            }
        }
        for (field, list) in [
            ("categories", &self.categories),
            ("channels", &self.channels),
        ] {
            for (i, v) in list.iter().enumerate() {
                e.max_len(&format!("{field}[{i}]"), v, 100);
            }
        }
        e.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(v: serde_json::Value) -> SlaPolicy {
        let mut base = json!({ "name": "Key accounts", "calendar_id": Id::new() });
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    fn fields(p: &SlaPolicy) -> Vec<String> {
        match p.validate() {
            Ok(()) => vec![],
            Err(e) => e.0.into_iter().map(|f| f.field).collect(),
        }
    }

    #[test]
    fn a_policy_needs_a_target() {
        assert_eq!(fields(&policy(json!({}))), ["resolution_minutes"]);
        let p = policy(json!({ "first_response_minutes": 60 }));
        assert!(fields(&p).is_empty());
        assert_eq!(
            p.pause_statuses,
            ["pending"],
            "waiting for the customer pauses"
        );
    }

    #[test]
    fn refusals_name_the_field() {
        let p = policy(json!({
            "resolution_minutes": 0,
            "priorities": ["high", "urgentest"],
            "grades": ["E"],
            "pause_statuses": ["resolved"],
        }));
        assert_eq!(
            fields(&p),
            [
                "resolution_minutes",
                "priorities[1]",
                "grades[0]",
                "pause_statuses[0]"
            ]
        );
        let p = policy(json!({ "resolution_minutes": 240, "warn_before_minutes": 240 }));
        assert_eq!(fields(&p), ["warn_before_minutes"]);
    }
}
