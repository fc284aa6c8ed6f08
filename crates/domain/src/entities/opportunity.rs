use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*, SearchFields};
use crate::{Id, Money, ValidationErrors};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

str_enum! {
    /// Where a stage leaves a deal: still open, or closed won or lost.
    pub enum StageOutcome { Open = "open", Won = "won", Lost = "lost" }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub name_zh: Option<String>,
    /// Default win probability (0–100) for deals entering this stage.
    pub probability: i64,
    pub outcome: StageOutcome,
}

/// A sales process: an ordered list of stages, configurable per company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    pub name: String,
    pub stages: Vec<Stage>,
    #[serde(default)]
    pub is_default: bool,
}

impl Pipeline {
    pub fn stage(&self, key: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.key == key)
    }

    /// The usual B2B funnel, bilingual.
    pub fn standard() -> Self {
        let s = |key: &str, name: &str, zh: &str, probability, outcome| Stage {
            key: key.into(),
            name: name.into(),
            name_zh: Some(zh.into()),
            probability,
            outcome,
        };
        use StageOutcome::*;
        Pipeline {
            name: "Standard sales".into(),
            is_default: true,
            stages: vec![
                s("prospecting", "Prospecting", "初步接洽", 10, Open),
                s("qualification", "Qualification", "需求确认", 20, Open),
                s("proposal", "Proposal", "方案报价", 50, Open),
                s("negotiation", "Negotiation", "商务谈判", 75, Open),
                s("won", "Won", "赢单", 100, Won),
                s("lost", "Lost", "输单", 0, Lost),
            ],
        }
    }
}

impl Entity for Pipeline {
    const DEF: &'static EntityDef = &EntityDef {
        name: "pipeline",
        table: "pipelines",
        scoped: false,
        fields: &[
            FieldDef::new("name", Text),
            FieldDef::new("stages", Json),
            FieldDef::new("is_default", Bool),
        ],
        collection: Some("pipelines"),
        list_columns: &["name", "is_default"],
        ..EntityDef::PLAIN
    };

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 100);
        if self.stages.is_empty() {
            e.add("stages", "required", "a pipeline needs at least one stage");
        }
        for (i, s) in self.stages.iter().enumerate() {
            let f = format!("stages[{i}]");
            if s.key.is_empty()
                || !s
                    .key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                e.add(
                    format!("{f}.key"),
                    "invalid",
                    "a stage key is lowercase letters, digits and _",
                );
            }
            if self.stages[..i].iter().any(|o| o.key == s.key) {
                e.add(
                    format!("{f}.key"),
                    "duplicate",
                    "stage keys are unique within a pipeline",
                );
            }
            e.text(&format!("{f}.name"), &s.name, 100);
            e.range(&format!("{f}.probability"), s.probability, 0, 100);
        }
        if !self.stages.iter().any(|s| s.outcome == StageOutcome::Won) {
            e.add("stages", "invalid", "a pipeline needs a won stage");
        }
        e.into_result()
    }
}

str_enum! {
    pub enum OpportunityStatus { Open = "open", Won = "won", Lost = "lost" }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageChange {
    pub stage: String,
    pub at: DateTime<Utc>,
    pub by: Id,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Opportunity {
    pub name: String,
    pub account_id: Id,
    #[serde(default)]
    pub contact_id: Option<Id>,
    pub pipeline_id: Id,
    pub stage: String,
    pub status: OpportunityStatus,
    pub amount: Money,
    /// 0–100.
    pub probability: i64,
    #[serde(default)]
    pub expected_close: Option<NaiveDate>,
    /// Why it was won or lost.
    #[serde(default)]
    pub close_reason: Option<String>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub lead_id: Option<Id>,
    #[serde(default)]
    pub stage_history: Vec<StageChange>,
}

impl Opportunity {
    /// Move to `stage` of `pipeline`: records the change in the stage history, takes the
    /// stage's probability and, for won/lost stages, closes the deal (a reason is required).
    pub fn move_to(
        &mut self,
        pipeline: &Pipeline,
        stage: &str,
        reason: Option<String>,
        by: Id,
        at: DateTime<Utc>,
    ) -> Result<(), ValidationErrors> {
        let Some(s) = pipeline.stage(stage) else {
            return Err(ValidationErrors::single(
                "stage",
                "invalid",
                format!("pipeline has no stage '{stage}'"),
            ));
        };
        if s.outcome != StageOutcome::Open && reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            return Err(ValidationErrors::single(
                "close_reason",
                "required",
                "closing a deal needs a reason",
            ));
        }
        if self.stage != s.key {
            self.stage_history.push(StageChange {
                stage: s.key.clone(),
                at,
                by,
            });
        }
        self.stage = s.key.clone();
        self.probability = s.probability;
        self.status = match s.outcome {
            StageOutcome::Open => OpportunityStatus::Open,
            StageOutcome::Won => OpportunityStatus::Won,
            StageOutcome::Lost => OpportunityStatus::Lost,
        };
        if s.outcome == StageOutcome::Open {
            self.closed_at = None;
            self.close_reason = None;
        } else {
            self.closed_at = Some(at);
            self.close_reason = reason;
        }
        Ok(())
    }

    /// The stage must exist in the pipeline and agree with the status.
    pub fn check_against(&self, pipeline: &Pipeline) -> Result<(), ValidationErrors> {
        let Some(s) = pipeline.stage(&self.stage) else {
            return Err(ValidationErrors::single(
                "stage",
                "invalid",
                format!("pipeline has no stage '{}'", self.stage),
            ));
        };
        let expected = match s.outcome {
            StageOutcome::Open => OpportunityStatus::Open,
            StageOutcome::Won => OpportunityStatus::Won,
            StageOutcome::Lost => OpportunityStatus::Lost,
        };
        if self.status != expected {
            return Err(ValidationErrors::single(
                "status",
                "invalid",
                format!("stage '{}' means status {expected}", s.key),
            ));
        }
        Ok(())
    }
}

impl Entity for Opportunity {
    const DEF: &'static EntityDef = &EntityDef {
        name: "opportunity",
        table: "opportunities",
        scoped: true,
        fields: &[
            FieldDef::new("name", Text),
            FieldDef::new("account_id", Ref("accounts")),
            FieldDef::new("contact_id", Ref("contacts")),
            FieldDef::new("pipeline_id", Ref("pipelines")),
            FieldDef::new("stage", Text),
            FieldDef::new("status", Enum(OpportunityStatus::VALUES)),
            FieldDef::new("amount", Money),
            FieldDef::new("probability", Int),
            FieldDef::new("expected_close", Date),
            FieldDef::new("close_reason", Text),
            FieldDef::new("closed_at", Timestamp),
            FieldDef::new("lead_id", Ref("leads")),
            FieldDef::new("stage_history", Json),
        ],
        collection: Some("opportunities"),
        list_columns: &[
            "name",
            "account_id",
            "stage",
            "amount",
            "probability",
            "expected_close",
            "owner_id",
        ],
        search: Some(&SearchFields {
            title: &["name"],
            names: &["name"],
            text: &["close_reason"],
            phones: &[],
            sensitive_phones: &[],
            emails: &[],
        }),
        ..EntityDef::PLAIN
    };

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 200);
        e.non_negative("amount", self.amount.minor);
        e.range("probability", self.probability, 0, 100);
        e.opt_text("close_reason", &self.close_reason, 1_000);
        if self.status != OpportunityStatus::Open
            && self
                .close_reason
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            e.add(
                "close_reason",
                "required",
                "a closed deal needs a won/lost reason",
            );
        }
        e.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opp() -> Opportunity {
        Opportunity {
            name: "ERP rollout".into(),
            account_id: Id::new(),
            contact_id: None,
            pipeline_id: Id::new(),
            stage: "prospecting".into(),
            status: OpportunityStatus::Open,
            amount: Money::cny(100_000_00),
            probability: 10,
            expected_close: None,
            close_reason: None,
            closed_at: None,
            lead_id: None,
            stage_history: vec![],
        }
    }

    #[test]
    fn moving_records_history_and_closing_needs_a_reason() {
        let p = Pipeline::standard();
        let mut o = opp();
        let by = Id::new();
        o.move_to(&p, "proposal", None, by, Utc::now()).unwrap();
        assert_eq!((o.probability, o.stage_history.len()), (50, 1));
        let err = o.move_to(&p, "won", None, by, Utc::now()).unwrap_err();
        assert_eq!(err.0[0].field, "close_reason");
        o.move_to(&p, "won", Some("best price".into()), by, Utc::now())
            .unwrap();
        assert_eq!(o.status, OpportunityStatus::Won);
        assert!(o.closed_at.is_some());
        o.check_against(&p).unwrap();
        assert!(o.move_to(&p, "nope", None, by, Utc::now()).is_err());
    }

    #[test]
    fn standard_pipeline_is_valid() {
        Pipeline::standard().validate().unwrap();
    }
}
