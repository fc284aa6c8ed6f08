use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*};
use crate::{Id, ValidationErrors};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

str_enum! {
    /// How the answer came: the e-mailed link, the customer portal, or an agent's call.
    pub enum SurveyChannel { Email = "email", Portal = "portal", Phone = "phone" }
}

/// A customer's answer to the satisfaction survey after a case was resolved: CSAT (1–5)
/// and NPS (0–10), dated, on the case, its contact and its account. Owned like the case
/// (its owner and team), so whoever sees the case sees its answers, and seen by the
/// partner that served the case. The analytics read these as dated facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Survey {
    pub case_id: Id,
    #[serde(default)]
    pub contact_id: Option<Id>,
    #[serde(default)]
    pub account_id: Option<Id>,
    /// The service partner that served the case, when one did.
    #[serde(default)]
    pub partner_id: Option<Id>,
    /// Customer satisfaction, 1 (very dissatisfied) to 5 (very satisfied).
    #[serde(default)]
    pub csat: Option<i64>,
    /// How likely the customer is to recommend us, 0 to 10.
    #[serde(default)]
    pub nps: Option<i64>,
    #[serde(default)]
    pub comment: Option<String>,
    pub answered_at: DateTime<Utc>,
    pub channel: SurveyChannel,
}

impl Survey {
    /// The NPS group of the answer: promoter (9–10), passive (7–8) or detractor (0–6).
    pub fn nps_group(&self) -> Option<&'static str> {
        self.nps.map(|n| match n {
            9.. => "promoter",
            7..=8 => "passive",
            _ => "detractor",
        })
    }
}

impl Entity for Survey {
    const DEF: &'static EntityDef = &EntityDef {
        name: "survey",
        table: "surveys",
        scoped: true,
        fields: &[
            FieldDef::new("case_id", Ref("cases")),
            FieldDef::new("contact_id", Ref("contacts")),
            FieldDef::new("account_id", Ref("accounts")),
            FieldDef::new("partner_id", Ref("accounts")),
            FieldDef::new("csat", Int),
            FieldDef::new("nps", Int),
            FieldDef::new("comment", Text),
            FieldDef::new("answered_at", Timestamp),
            FieldDef::new("channel", Enum(SurveyChannel::VALUES)),
        ],
        collection: Some("surveys"),
        title: &["channel", "answered_at"],
        list_columns: &[
            "case_id",
            "account_id",
            "csat",
            "nps",
            "channel",
            "answered_at",
        ],
        partner_field: Some("partner_id"),
        ..EntityDef::PLAIN
    };

    fn normalize(&mut self) {
        if let Some(c) = &self.comment {
            let c = c.trim();
            self.comment = (!c.is_empty()).then(|| c.to_string());
        }
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        if let Some(v) = self.csat {
            e.range("csat", v, 1, 5);
        }
        if let Some(v) = self.nps {
            e.range("nps", v, 0, 10);
        }
        if self.csat.is_none() && self.nps.is_none() {
            e.add(
                "csat",
                "required",
                "an answer needs a satisfaction score (1–5) or a recommendation score (0–10)",
            );
        }
        e.opt_text("comment", &self.comment, 5_000);
        e.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CASE: &str = "0190d6c5-0000-7000-8000-000000000001";

    fn survey(v: serde_json::Value) -> Survey {
        let mut base =
            json!({ "case_id": CASE, "answered_at": "2026-12-01T08:00:00Z", "channel": "email" });
        for (k, x) in v.as_object().unwrap() {
            base[k] = x.clone();
        }
        let mut s: Survey = serde_json::from_value(base).unwrap();
        s.normalize();
        s
    }

    fn fields(s: &Survey) -> Vec<String> {
        s.validate()
            .err()
            .map(|e| e.0.into_iter().map(|e| e.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_survey_needs_a_score_in_range() {
        let ok = survey(json!({ "csat": 5, "nps": 10, "comment": "  很满意 " }));
        assert_eq!(fields(&ok), Vec::<String>::new());
        assert_eq!(ok.comment.as_deref(), Some("很满意"));
        assert_eq!(ok.nps_group(), Some("promoter"));
        assert_eq!(fields(&survey(json!({ "nps": 0 }))), Vec::<String>::new());
        assert_eq!(fields(&survey(json!({ "csat": 1 }))), Vec::<String>::new());

        assert_eq!(fields(&survey(json!({ "comment": "no score" }))), ["csat"]);
        assert_eq!(
            fields(&survey(json!({ "csat": 0, "nps": 11 }))),
            ["csat", "nps"]
        );
        assert_eq!(fields(&survey(json!({ "csat": 6 }))), ["csat"]);
        assert_eq!(survey(json!({ "nps": 7 })).nps_group(), Some("passive"));
        assert_eq!(survey(json!({ "nps": 6 })).nps_group(), Some("detractor"));
        assert!(
            serde_json::from_value::<Survey>(json!({
                "case_id": CASE, "answered_at": "2026-12-01T08:00:00Z", "channel": "fax", "csat": 3
            }))
            .is_err()
        );
    }
}
