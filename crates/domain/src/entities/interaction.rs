use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*, PartnerPath, SearchFields};
use crate::{Id, ValidationErrors};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

str_enum! {
    /// Every way we touch a customer; `task` is a to-do with a due time.
    pub enum InteractionKind {
        Call = "call",
        Email = "email",
        Meeting = "meeting",
        Visit = "visit",
        Fax = "fax",
        Wechat = "wechat",
        Sms = "sms",
        WebVisit = "web_visit",
        /// A message written in, or to, the customer portal.
        Portal = "portal",
        Note = "note",
        Task = "task",
    }
}

str_enum! {
    pub enum Direction { Inbound = "inbound", Outbound = "outbound", Internal = "internal" }
}

str_enum! {
    pub enum InteractionStatus { Planned = "planned", Done = "done", Cancelled = "cancelled" }
}

/// A touchpoint. `at` is when it happened, or when it is due while planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interaction {
    pub kind: InteractionKind,
    #[serde(default)]
    pub direction: Option<Direction>,
    pub status: InteractionStatus,
    pub at: DateTime<Utc>,
    pub subject: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub account_id: Option<Id>,
    #[serde(default)]
    pub contact_id: Option<Id>,
    #[serde(default)]
    pub opportunity_id: Option<Id>,
    #[serde(default)]
    pub case_id: Option<Id>,
    /// The campaign it answers or belongs to (a reply, a visit to an event, a send).
    #[serde(default)]
    pub campaign_id: Option<Id>,
    /// Spare parts used on a service visit or repair.
    #[serde(default)]
    pub parts: Vec<PartUsed>,
}

/// A spare part a service visit used: its SKU, a name as the engineer wrote it, how many.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartUsed {
    pub sku: String,
    #[serde(default)]
    pub name: Option<String>,
    pub quantity: i64,
}

impl Entity for Interaction {
    const DEF: &'static EntityDef = &EntityDef {
        name: "interaction",
        table: "interactions",
        scoped: true,
        fields: &[
            FieldDef::new("kind", Enum(InteractionKind::VALUES)),
            FieldDef::new("direction", Enum(Direction::VALUES)),
            FieldDef::new("status", Enum(InteractionStatus::VALUES)),
            FieldDef::new("at", Timestamp),
            FieldDef::new("subject", Text),
            FieldDef::new("body", Text),
            FieldDef::new("outcome", Text),
            FieldDef::new("account_id", Ref("accounts")),
            FieldDef::new("contact_id", Ref("contacts")),
            FieldDef::new("opportunity_id", Ref("opportunities")),
            FieldDef::new("case_id", Ref("cases")),
            FieldDef::new("campaign_id", Ref("campaigns")),
            FieldDef::new("parts", Json),
        ],
        collection: Some("interactions"),
        partner_paths: &[
            PartnerPath {
                column: "case_id",
                table: "cases",
                via: "id",
            },
            PartnerPath {
                column: "account_id",
                table: "accounts",
                via: "id",
            },
        ],
        title: &["subject"],
        list_columns: &["at", "kind", "subject", "account_id", "status", "owner_id"],
        search: Some(&SearchFields {
            title: &["subject"],
            names: &[],
            text: &["subject", "body", "outcome"],
            phones: &[],
            sensitive_phones: &[],
            emails: &[],
        }),
        ..EntityDef::PLAIN
    };

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("subject", &self.subject, 300);
        e.opt_text("body", &self.body, 100_000);
        e.opt_text("outcome", &self.outcome, 2_000);
        for (i, p) in self.parts.iter().enumerate() {
            e.text(&format!("parts[{i}].sku"), &p.sku, 64);
            e.opt_text(&format!("parts[{i}].name"), &p.name, 200);
            e.range(&format!("parts[{i}].quantity"), p.quantity, 1, 10_000);
        }
        if self.account_id.is_none()
            && self.contact_id.is_none()
            && self.opportunity_id.is_none()
            && self.case_id.is_none()
            && self.kind != InteractionKind::Task
            && self.kind != InteractionKind::Note
        {
            e.add(
                "account_id",
                "required",
                "an interaction concerns an account, contact, opportunity or case",
            );
        }
        e.into_result()
    }
}
