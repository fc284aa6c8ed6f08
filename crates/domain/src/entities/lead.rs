use crate::dedupe::{DuplicateKeys, Reason, company_key, contact_points, pinyin_key};
use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*, ImportDef, SearchFields};
use crate::headers::*;
use crate::{Email, Id, Phone, ValidationErrors};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

str_enum! {
    pub enum LeadSource {
        Web = "web",
        Referral = "referral",
        Event = "event",
        ColdCall = "cold_call",
        Advertising = "advertising",
        Partner = "partner",
        Social = "social",
        Other = "other",
    }
}

str_enum! {
    pub enum LeadStatus {
        New = "new",
        Working = "working",
        Qualified = "qualified",
        Unqualified = "unqualified",
        Converted = "converted",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lead {
    pub name: String,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub mobile: Option<Phone>,
    #[serde(default)]
    pub phone: Option<Phone>,
    #[serde(default)]
    pub email: Option<Email>,
    pub source: LeadSource,
    pub status: LeadStatus,
    /// 0–100: how promising, by a scoring model or by hand.
    #[serde(default)]
    pub score: i64,
    #[serde(default)]
    pub province: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub converted_account_id: Option<Id>,
    #[serde(default)]
    pub converted_contact_id: Option<Id>,
    #[serde(default)]
    pub converted_opportunity_id: Option<Id>,
    #[serde(default)]
    pub converted_at: Option<DateTime<Utc>>,
}

impl Entity for Lead {
    const DEF: &'static EntityDef = &EntityDef {
        name: "lead",
        table: "leads",
        scoped: true,
        fields: &[
            FieldDef::new("name", Text),
            FieldDef::new("company", Text),
            FieldDef::new("title", Text),
            FieldDef::sensitive("mobile", Text),
            FieldDef::new("phone", Text),
            FieldDef::new("email", Text),
            FieldDef::new("source", Enum(LeadSource::VALUES)),
            FieldDef::new("status", Enum(LeadStatus::VALUES)),
            FieldDef::new("score", Int),
            FieldDef::new("province", Text),
            FieldDef::new("city", Text),
            FieldDef::new("notes", Text),
            FieldDef::new("converted_account_id", Ref("accounts")),
            FieldDef::new("converted_contact_id", Ref("contacts")),
            FieldDef::new("converted_opportunity_id", Ref("opportunities")),
            FieldDef::new("converted_at", Timestamp),
        ],
        collection: Some("leads"),
        list_columns: &[
            "name", "company", "source", "status", "score", "city", "owner_id",
        ],
        search: Some(&SearchFields {
            title: &["name", "company"],
            names: &["name", "company"],
            text: &["title", "source", "province", "city", "notes"],
            phones: &["phone"],
            sensitive_phones: &["mobile"],
            emails: &["email"],
        }),
        import: Some(&ImportDef {
            keys: &["email", "mobile"],
            headers: HEADERS,
            company: None,
        }),
        duplicates: Some(&DUPLICATES),
        ..EntityDef::PLAIN
    };

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 100);
        e.opt_text("company", &self.company, 200);
        e.opt_text("title", &self.title, 100);
        e.opt_text("notes", &self.notes, 10_000);
        e.range("score", self.score, 0, 100);
        let converted = self.converted_account_id.is_some() || self.converted_at.is_some();
        if (self.status == LeadStatus::Converted) != converted {
            e.add(
                "status",
                "invalid",
                "a lead is converted exactly when it has conversion links",
            );
        }
        e.into_result()
    }
}

/// How duplicate leads are found: by phone, e-mail, and by company together with the
/// person's name (two leads from one company are usually two colleagues).
const DUPLICATES: DuplicateKeys = DuplicateKeys {
    reads: &["company", "mobile", "phone", "email"],
    person: true,
    keys: |name, v, out| {
        contact_points(&[v[1], v[2]], v[3], out);
        let company = v[0].map(company_key).unwrap_or_default();
        let person = pinyin_key(name);
        if !company.is_empty() && !person.is_empty() {
            out.push((Reason::CompanyName, format!("{company}|{person}")));
        }
    },
};

/// What people write above the columns an import fills.
const HEADERS: HeaderTable = &[
    ("name", PERSON_NAME),
    ("company", COMPANY),
    ("mobile", MOBILE),
    ("mobile", ANY_PHONE),
    ("phone", PHONE),
    ("phone", ANY_PHONE),
    ("email", EMAIL),
    ("source", LEAD_SOURCE),
    ("province", PROVINCE),
    ("city", CITY),
    ("notes", NOTES),
    ("tags", TAGS),
    ("external_id", EXTERNAL_ID),
    ("title", TITLE),
];
