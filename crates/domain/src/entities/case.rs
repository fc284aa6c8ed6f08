use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*, SearchFields};
use crate::{Id, ValidationErrors};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

str_enum! {
    pub enum CaseKind { Complaint = "complaint", Request = "request", Repair = "repair", Enquiry = "enquiry" }
}

str_enum! {
    pub enum Priority { Low = "low", Normal = "normal", High = "high", Urgent = "urgent" }
}

str_enum! {
    pub enum CaseStatus {
        New = "new",
        Open = "open",
        Pending = "pending",
        Resolved = "resolved",
        Closed = "closed",
    }
}

/// A service case: complaint, request, repair or enquiry, handled by a user or a partner
/// (a service station) under an SLA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The human case number (CS-2026-000123), unique.
    pub number: String,
    pub subject: String,
    #[serde(default)]
    pub description: Option<String>,
    pub kind: CaseKind,
    #[serde(default)]
    pub category: Option<String>,
    pub priority: Priority,
    pub status: CaseStatus,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub account_id: Option<Id>,
    #[serde(default)]
    pub contact_id: Option<Id>,
    #[serde(default)]
    pub assignee_id: Option<Id>,
    /// The service partner (an account) the case was dispatched to.
    #[serde(default)]
    pub partner_id: Option<Id>,
    #[serde(default)]
    pub sla_due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Customer satisfaction after resolution, 1–5.
    #[serde(default)]
    pub satisfaction: Option<i64>,
}

impl Case {
    pub fn is_open(&self) -> bool {
        !matches!(self.status, CaseStatus::Resolved | CaseStatus::Closed)
    }
}

impl Entity for Case {
    const DEF: &'static EntityDef = &EntityDef {
        name: "case",
        table: "cases",
        scoped: true,
        fields: &[
            FieldDef::new("number", Text),
            FieldDef::new("subject", Text),
            FieldDef::new("description", Text),
            FieldDef::new("kind", Enum(CaseKind::VALUES)),
            FieldDef::new("category", Text),
            FieldDef::new("priority", Enum(Priority::VALUES)),
            FieldDef::new("status", Enum(CaseStatus::VALUES)),
            FieldDef::new("channel", Text),
            FieldDef::new("account_id", Ref("accounts")),
            FieldDef::new("contact_id", Ref("contacts")),
            FieldDef::new("assignee_id", Ref("users")),
            FieldDef::new("partner_id", Ref("accounts")),
            FieldDef::new("sla_due_at", Timestamp),
            FieldDef::new("resolved_at", Timestamp),
            FieldDef::new("satisfaction", Int),
        ],
        collection: Some("cases"),
        title: &["number", "subject"],
        list_columns: &[
            "number",
            "subject",
            "account_id",
            "priority",
            "status",
            "sla_due_at",
        ],
        partner_field: Some("partner_id"),
        search: Some(&SearchFields {
            title: &["number", "subject"],
            names: &[],
            text: &["number", "subject", "description", "category"],
            phones: &[],
            sensitive_phones: &[],
            emails: &[],
        }),
        ..EntityDef::PLAIN
    };

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("number", &self.number, 64);
        e.text("subject", &self.subject, 300);
        e.opt_text("description", &self.description, 100_000);
        e.opt_text("category", &self.category, 100);
        if let Some(s) = self.satisfaction {
            e.range("satisfaction", s, 1, 5);
        }
        if !self.is_open() && self.resolved_at.is_none() {
            e.add(
                "resolved_at",
                "required",
                "a resolved or closed case has a resolution time",
            );
        }
        e.into_result()
    }
}
