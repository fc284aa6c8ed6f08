use crate::dedupe::{DuplicateKeys, Reason, company_key, contact_points};
use crate::entity::{
    Entity, EntityDef, FieldDef, FieldType::*, ImportDef, PartnerPath, SearchFields,
};
use crate::headers::*;
use crate::{CreditCode, Email, Id, Money, Phone, ValidationErrors};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

str_enum! {
    /// An organisation, or a private person buying for themselves (B2C).
    pub enum AccountKind { Organisation = "organisation", Individual = "individual" }
}

str_enum! {
    pub enum Relationship {
        Customer = "customer",
        Prospect = "prospect",
        Partner = "partner",
        Supplier = "supplier",
        Competitor = "competitor",
    }
}

str_enum! {
    /// What a partner does for us; dealers sell, service stations repair.
    pub enum PartnerType {
        Dealer = "dealer",
        Distributor = "distributor",
        ServiceStation = "service_station",
        Agent = "agent",
    }
}

str_enum! {
    pub enum CompanySize {
        Micro = "micro",
        Small = "small",
        Medium = "medium",
        Large = "large",
        Enterprise = "enterprise",
    }
}

str_enum! {
    pub enum CreditStatus { Good = "good", Watch = "watch", Hold = "hold", Blocked = "blocked" }
}

str_enum! {
    /// Service tier; `key` marks a key account (大客户).
    pub enum Tier { Key = "key", Major = "major", Standard = "standard", Small = "small" }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub kind: AccountKind,
    pub name: String,
    pub relationship: Relationship,
    #[serde(default)]
    pub partner_type: Option<PartnerType>,
    #[serde(default)]
    pub parent_id: Option<Id>,
    #[serde(default)]
    pub industry: Option<String>,
    #[serde(default)]
    pub size: Option<CompanySize>,
    #[serde(default)]
    pub credit_code: Option<CreditCode>,
    #[serde(default)]
    pub phone: Option<Phone>,
    #[serde(default)]
    pub email: Option<Email>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub province: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub district: Option<String>,
    /// The 12-digit administrative division code of the district (or city).
    #[serde(default)]
    pub adcode: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub latitude: Option<f64>,
    #[serde(default)]
    pub longitude: Option<f64>,
    #[serde(default)]
    pub credit_status: Option<CreditStatus>,
    /// The dealer or service station that serves this account.
    #[serde(default)]
    pub serving_partner_id: Option<Id>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub tier: Option<Tier>,
    /// A service partner that takes cases: offered the cases nearest to it that it is
    /// qualified for (`domain::dispatch`).
    #[serde(default)]
    pub takes_cases: bool,
    /// The product lines (product categories) it serves; none: every line.
    #[serde(default)]
    pub service_lines: Vec<String>,
    /// The case categories it handles; none: every category.
    #[serde(default)]
    pub service_categories: Vec<String>,
    /// How far from it (great-circle km) it serves customers; none: no limit.
    #[serde(default)]
    pub service_radius_km: Option<f64>,
    /// How many open cases it may hold at once; none: no limit.
    #[serde(default)]
    pub service_capacity: Option<i64>,
    /// Customer analytics, computed by `guanxi analytics run` (see [`CustomerInsight`]).
    #[serde(default)]
    pub rfm_r: Option<i64>,
    #[serde(default)]
    pub rfm_f: Option<i64>,
    #[serde(default)]
    pub rfm_m: Option<i64>,
    #[serde(default)]
    pub rfm_segment: Option<RfmSegment>,
    /// Purchases expected in the next 90 days (BG/NBD).
    #[serde(default)]
    pub expected_purchases_90d: Option<f64>,
    /// Probability the customer is still active (BG/NBD).
    #[serde(default)]
    pub p_alive: Option<f64>,
    /// Discounted value of the next 12 months (BG/NBD × Gamma-Gamma).
    #[serde(default)]
    pub clv_12m: Option<Money>,
    #[serde(default)]
    pub grade: Option<CustomerGrade>,
    #[serde(default)]
    pub lifecycle_stage: Option<LifecycleStage>,
    /// Probability of leaving within 180 days (logistic model).
    #[serde(default)]
    pub churn_risk: Option<f64>,
    /// SKUs suggested by association rules over everyone's orders.
    #[serde(default)]
    pub cross_sell: Vec<String>,
    /// When the figures above were computed.
    #[serde(default)]
    pub analytics_at: Option<DateTime<Utc>>,
}

str_enum! {
    /// The standard RFM segments (the rules are in `guanxi_analytics::rfm`).
    pub enum RfmSegment {
        Champions = "champions", Loyal = "loyal", PotentialLoyalist = "potential_loyalist",
        New = "new", Promising = "promising", NeedAttention = "need_attention",
        AboutToSleep = "about_to_sleep", AtRisk = "at_risk", CannotLose = "cannot_lose",
        Hibernating = "hibernating", Lost = "lost",
    }
}

str_enum! {
    /// Weighted grade of current and future value (A best).
    pub enum CustomerGrade { A = "A", B = "B", C = "C", D = "D" }
}

str_enum! {
    pub enum LifecycleStage {
        Exploration = "exploration", Formation = "formation", Stable = "stable", Decline = "decline",
    }
}

/// The computed part of an account, as `guanxi analytics run` writes it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomerInsight {
    pub rfm: Option<(i64, i64, i64, RfmSegment)>,
    pub expected_purchases_90d: Option<f64>,
    pub p_alive: Option<f64>,
    pub clv_12m: Option<Money>,
    pub grade: Option<CustomerGrade>,
    pub lifecycle_stage: Option<LifecycleStage>,
    pub churn_risk: Option<f64>,
    pub cross_sell: Vec<String>,
}

impl Account {
    pub fn new(kind: AccountKind, name: impl Into<String>, relationship: Relationship) -> Self {
        Self {
            kind,
            name: name.into(),
            relationship,
            partner_type: None,
            parent_id: None,
            industry: None,
            size: None,
            credit_code: None,
            phone: None,
            email: None,
            website: None,
            province: None,
            city: None,
            district: None,
            adcode: None,
            address: None,
            latitude: None,
            longitude: None,
            credit_status: None,
            serving_partner_id: None,
            tags: Vec::new(),
            tier: None,
            takes_cases: false,
            service_lines: Vec::new(),
            service_categories: Vec::new(),
            service_radius_km: None,
            service_capacity: None,
            rfm_r: None,
            rfm_f: None,
            rfm_m: None,
            rfm_segment: None,
            expected_purchases_90d: None,
            p_alive: None,
            clv_12m: None,
            grade: None,
            lifecycle_stage: None,
            churn_risk: None,
            cross_sell: Vec::new(),
            analytics_at: None,
        }
    }
}

pub(crate) fn check_tags(e: &mut ValidationErrors, tags: &[String]) {
    if tags.len() > 50 {
        e.add("tags", "too_long", "at most 50 tags");
    }
    for t in tags {
        if t.trim().is_empty() || t.chars().count() > 50 {
            e.add("tags", "invalid", "each tag has 1 to 50 characters");
            break;
        }
    }
}

impl Entity for Account {
    const DEF: &'static EntityDef = &EntityDef {
        name: "account",
        table: "accounts",
        scoped: true,
        fields: &[
            FieldDef::new("kind", Enum(AccountKind::VALUES)),
            FieldDef::new("name", Text),
            FieldDef::new("relationship", Enum(Relationship::VALUES)),
            FieldDef::new("partner_type", Enum(PartnerType::VALUES)),
            FieldDef::new("parent_id", Ref("accounts")),
            FieldDef::new("industry", Text),
            FieldDef::new("size", Enum(CompanySize::VALUES)),
            FieldDef::new("credit_code", Text),
            FieldDef::new("phone", Text),
            FieldDef::new("email", Text),
            FieldDef::new("website", Text),
            FieldDef::new("province", Text),
            FieldDef::new("city", Text),
            FieldDef::new("district", Text),
            FieldDef::new("adcode", Text),
            FieldDef::new("address", Text),
            FieldDef::new("latitude", Float),
            FieldDef::new("longitude", Float),
            FieldDef::new("credit_status", Enum(CreditStatus::VALUES)),
            FieldDef::new("serving_partner_id", Ref("accounts")),
            FieldDef::new("tags", Tags),
            FieldDef::new("tier", Enum(Tier::VALUES)),
            FieldDef::new("takes_cases", Bool),
            FieldDef::new("service_lines", Tags),
            FieldDef::new("service_categories", Tags),
            FieldDef::new("service_radius_km", Float),
            FieldDef::new("service_capacity", Int),
            FieldDef::computed("rfm_r", Int),
            FieldDef::computed("rfm_f", Int),
            FieldDef::computed("rfm_m", Int),
            FieldDef::computed("rfm_segment", Enum(RfmSegment::VALUES)),
            FieldDef::computed("expected_purchases_90d", Float),
            FieldDef::computed("p_alive", Float),
            FieldDef::computed("clv_12m", Money),
            FieldDef::computed("grade", Enum(CustomerGrade::VALUES)),
            FieldDef::computed("lifecycle_stage", Enum(LifecycleStage::VALUES)),
            FieldDef::computed("churn_risk", Float),
            FieldDef::computed("cross_sell", Tags),
            FieldDef::computed("analytics_at", Timestamp),
        ],
        collection: Some("accounts"),
        list_columns: &[
            "name",
            "relationship",
            "province",
            "city",
            "tier",
            "grade",
            "owner_id",
        ],
        partner_field: Some("serving_partner_id"),
        partner_paths: &[PartnerPath {
            column: "id",
            table: "cases",
            via: "account_id",
        }],
        search: Some(&SearchFields {
            title: &["name"],
            names: &["name"],
            text: &[
                "industry",
                "credit_code",
                "website",
                "province",
                "city",
                "district",
                "address",
                "tags",
            ],
            phones: &["phone"],
            sensitive_phones: &[],
            emails: &["email"],
        }),
        import: Some(&ImportDef {
            keys: &["credit_code"],
            headers: HEADERS,
            company: None,
        }),
        duplicates: Some(&DUPLICATES),
        ..EntityDef::PLAIN
    };

    fn normalize(&mut self) {
        self.name = self.name.trim().to_string();
        if self.relationship != Relationship::Partner {
            self.partner_type = None;
        }
        // A service partner is dispatched to by distance: place it from its address
        // through the region table when no coordinates were given.
        if self.takes_cases
            && self.latitude.is_none()
            && self.longitude.is_none()
            && let Some(at) = crate::geo::Regions::get().locate(
                self.adcode.as_deref(),
                self.province.as_deref(),
                self.city.as_deref(),
                self.district.as_deref(),
            )
        {
            self.latitude = Some(at.lat);
            self.longitude = Some(at.lon);
        }
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 200);
        e.opt_text("industry", &self.industry, 100);
        e.opt_text("website", &self.website, 300);
        e.opt_text("address", &self.address, 500);
        for (field, v) in [
            ("province", &self.province),
            ("city", &self.city),
            ("district", &self.district),
        ] {
            e.opt_text(field, v, 50);
        }
        if let Some(code) = &self.adcode
            && (code.len() != 12 || !code.bytes().all(|b| b.is_ascii_digit()))
        {
            e.add(
                "adcode",
                "invalid",
                "an administrative division code has 12 digits",
            );
        }
        if self.relationship == Relationship::Partner && self.partner_type.is_none() {
            e.add("partner_type", "required", "a partner needs a partner type");
        }
        if self.takes_cases {
            if self.relationship != Relationship::Partner {
                e.add(
                    "takes_cases",
                    "invalid",
                    "only a partner (a service station, a dealer) takes cases",
                );
            }
            if self.latitude.is_none() {
                e.add(
                    "latitude",
                    "required",
                    "a partner that takes cases needs coordinates, or a province, city or \
                     district to place it by",
                );
            }
        }
        if let Some(r) = self.service_radius_km {
            e.range("service_radius_km", r, 0.1, 5000.0);
        }
        if let Some(c) = self.service_capacity {
            e.range("service_capacity", c, 0, 1_000_000);
        }
        for (field, list) in [
            ("service_lines", &self.service_lines),
            ("service_categories", &self.service_categories),
        ] {
            for (i, v) in list.iter().enumerate() {
                e.text(&format!("{field}[{i}]"), v, 100);
            }
        }
        if self.kind == AccountKind::Individual && self.credit_code.is_some() {
            e.add(
                "credit_code",
                "invalid",
                "an individual has no unified social credit code",
            );
        }
        super::check_coordinates(&mut e, self.latitude, self.longitude);
        check_tags(&mut e, &self.tags);
        e.into_result()
    }
}

/// How duplicate accounts are found: by credit code, phone, e-mail and company name.
/// Individuals have no company name to compare.
const DUPLICATES: DuplicateKeys = DuplicateKeys {
    reads: &["kind", "credit_code", "phone", "email"],
    person: false,
    keys: |name, v, out| {
        if let Some(code) = v[1] {
            out.push((Reason::CreditCode, code.to_string()));
        }
        contact_points(&[v[2]], v[3], out);
        let company = company_key(name);
        if v[0] != Some("individual") && !company.is_empty() {
            out.push((Reason::CompanyName, company));
        }
    },
};

/// What people write above the columns an import fills.
const HEADERS: HeaderTable = &[
    (
        "name",
        &[
            "公司",
            "公司名称",
            "客户名称",
            "企业名称",
            "单位名称",
            "名称",
            "客户",
            "Name",
            "Company",
            "Company name",
            "Account",
            "Account name",
            "Customer",
            "Customer name",
        ],
    ),
    (
        "credit_code",
        &[
            "统一社会信用代码",
            "社会信用代码",
            "信用代码",
            "税号",
            "纳税人识别号",
            "Credit code",
            "USCC",
            "Tax ID",
        ],
    ),
    ("industry", &["行业", "所属行业", "Industry"]),
    ("phone", PHONE),
    ("phone", ANY_PHONE),
    ("email", EMAIL),
    (
        "website",
        &[
            "网址",
            "网站",
            "官网",
            "公司网址",
            "Website",
            "URL",
            "Web",
            "Homepage",
        ],
    ),
    ("address", ADDRESS),
    ("province", PROVINCE),
    ("city", CITY),
    ("district", DISTRICT),
    (
        "employees",
        &[
            "员工数",
            "人数",
            "员工人数",
            "Employees",
            "Headcount",
            "Number of employees",
        ],
    ),
    (
        "annual_revenue",
        &[
            "年营业额",
            "营收",
            "年营收",
            "营业收入",
            "Annual revenue",
            "Revenue",
        ],
    ),
    ("notes", NOTES),
    ("tags", TAGS),
    ("external_id", EXTERNAL_ID),
    (
        "kind",
        &[
            "类型",
            "客户类型",
            "客户类别",
            "Type",
            "Account type",
            "Customer type",
        ],
    ),
    (
        "relationship",
        &["关系", "关系类型", "客户关系", "往来关系", "Relationship"],
    ),
    (
        "partner_type",
        &["伙伴类型", "合作伙伴类型", "合作类型", "Partner type"],
    ),
];
