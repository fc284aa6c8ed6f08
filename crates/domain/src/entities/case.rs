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
    /// Where a case stands against its SLA policy's targets (`domain::sla`).
    pub enum SlaState {
        OnTrack = "on_track", Warning = "warning", Breached = "breached", Paused = "paused",
        Met = "met", Missed = "missed",
    }
}

str_enum! {
    /// Where dispatching the case to a service partner stands (`domain::dispatch`).
    pub enum DispatchStatus {
        /// Offered to `partner_id`, waiting for its answer.
        Offered = "offered",
        Accepted = "accepted",
        /// Declined by, or not answered in time by, `partner_id`: passed on next.
        Declined = "declined",
        /// Set by a dispatcher by hand; never passed on automatically.
        Manual = "manual",
        /// No qualified partner with capacity in range.
        Unmatched = "unmatched",
    }
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
    /// The product the case is about, and the order it was bought with (purchase date, dealer).
    #[serde(default)]
    pub product_id: Option<Id>,
    #[serde(default)]
    pub order_id: Option<Id>,
    /// When the case must be resolved: set by its SLA policy when one covers it, else by hand.
    #[serde(default)]
    pub sla_due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// How it was resolved.
    #[serde(default)]
    pub resolution: Option<String>,
    /// Customer satisfaction after resolution, 1–5 (the survey's CSAT when one was answered).
    #[serde(default)]
    pub satisfaction: Option<i64>,
    /// The knowledge-base article that resolved it: how an article's usage is counted.
    #[serde(default)]
    pub article_id: Option<Id>,
    /// The SLA clock, kept by Guanxi (`domain::sla`): the policy that covers the case, …
    #[serde(default)]
    pub sla_policy_id: Option<Id>,
    /// … when the first response is due and when it came (the case leaving `new`), …
    #[serde(default)]
    pub first_response_due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub first_response_at: Option<DateTime<Utc>>,
    /// … where it stands, …
    #[serde(default)]
    pub sla_state: Option<SlaState>,
    /// … the business minutes of the resolution target used before `sla_since`, when the
    /// clock last started or stopped, …
    #[serde(default)]
    pub sla_used_minutes: Option<i64>,
    #[serde(default)]
    pub sla_since: Option<DateTime<Utc>>,
    /// … and the next moment its state changes by itself (a warning, a breach).
    #[serde(default)]
    pub sla_next_at: Option<DateTime<Utc>>,
    /// Dispatch to a service partner, kept by Guanxi (`domain::dispatch`): where it stands, …
    #[serde(default)]
    pub dispatch_status: Option<DispatchStatus>,
    /// … when `partner_id` was offered the case, …
    #[serde(default)]
    pub dispatch_offered_at: Option<DateTime<Utc>>,
    /// … the partners that declined it or let the offer lapse, …
    #[serde(default)]
    pub dispatch_passed: Vec<Id>,
    /// … and why the last decision was taken, for the case's timeline.
    #[serde(default)]
    pub dispatch_reason: Option<DispatchReason>,
}

/// One dispatch decision and why it was taken: "offered to 上海浦东服务站, the nearest
/// qualified, 4.2 km; 2 nearer stations not qualified for 空调". Kept as facts, worded in
/// the reader's language when shown.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchReason {
    /// `offered`, `accepted`, `declined`, `lapsed` (no answer in time), `manual`,
    /// `unmatched` (no partner fits), `no_address` (the customer cannot be placed).
    pub event: String,
    /// The partner the decision is about, with its name then.
    #[serde(default)]
    pub partner_id: Option<Id>,
    #[serde(default)]
    pub partner: Option<String>,
    /// Great-circle distance from the customer, km.
    #[serde(default)]
    pub km: Option<f64>,
    /// Partners nearer than the one offered (all, when none was), by why they were passed over.
    #[serde(default)]
    pub not_qualified: usize,
    #[serde(default)]
    pub full: usize,
    #[serde(default)]
    pub out_of_range: usize,
    #[serde(default)]
    pub passed: usize,
    /// What the case needs, as matched: its product line and category.
    #[serde(default)]
    pub product_line: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    /// Who decided (a dispatcher, a partner user), and what they said.
    #[serde(default)]
    pub by: Option<Id>,
    #[serde(default)]
    pub comment: Option<String>,
}

impl Case {
    /// A case with only what every case has; the rest empty.
    pub fn new(
        number: impl Into<String>,
        subject: impl Into<String>,
        kind: CaseKind,
        priority: Priority,
        status: CaseStatus,
    ) -> Case {
        Case {
            number: number.into(),
            subject: subject.into(),
            description: None,
            kind,
            category: None,
            priority,
            status,
            channel: None,
            account_id: None,
            contact_id: None,
            assignee_id: None,
            partner_id: None,
            product_id: None,
            order_id: None,
            sla_due_at: None,
            resolved_at: None,
            resolution: None,
            satisfaction: None,
            article_id: None,
            sla_policy_id: None,
            first_response_due_at: None,
            first_response_at: None,
            sla_state: None,
            sla_used_minutes: None,
            sla_since: None,
            sla_next_at: None,
            dispatch_status: None,
            dispatch_offered_at: None,
            dispatch_passed: Vec::new(),
            dispatch_reason: None,
        }
    }

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
            FieldDef::new("product_id", Ref("products")),
            FieldDef::new("order_id", Ref("orders")),
            FieldDef::new("sla_due_at", Timestamp),
            FieldDef::new("resolved_at", Timestamp),
            FieldDef::new("resolution", Text),
            FieldDef::new("satisfaction", Int),
            FieldDef::new("article_id", Ref("articles")),
            FieldDef::computed("sla_policy_id", Ref("sla_policies")),
            FieldDef::computed("first_response_due_at", Timestamp),
            FieldDef::computed("first_response_at", Timestamp),
            FieldDef::computed("sla_state", Enum(SlaState::VALUES)),
            FieldDef::computed("sla_used_minutes", Int),
            FieldDef::computed("sla_since", Timestamp),
            FieldDef::computed("sla_next_at", Timestamp),
            FieldDef::computed("dispatch_status", Enum(DispatchStatus::VALUES)),
            FieldDef::computed("dispatch_offered_at", Timestamp),
            FieldDef::computed("dispatch_passed", Json),
            FieldDef::computed("dispatch_reason", Json),
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
        e.opt_text("resolution", &self.resolution, 10_000);
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
