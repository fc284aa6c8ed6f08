use super::account::check_tags;
use crate::dedupe::{DuplicateKeys, Reason, contact_points, person_key, pinyin_key};
use crate::entity::{
    Entity, EntityDef, FieldDef, FieldType::*, ImportDef, PartnerPath, SearchFields,
};
use crate::headers::*;
use crate::{Email, Id, Phone, ValidationErrors};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

str_enum! {
    /// The part a person plays in a B2B purchase (the buying centre).
    pub enum BuyingRole {
        DecisionMaker = "decision_maker",
        Influencer = "influencer",
        Executor = "executor",
        Negotiator = "negotiator",
        User = "user",
    }
}

str_enum! {
    /// How a person stands toward us.
    pub enum Stance { Supporter = "supporter", Neutral = "neutral", Opponent = "opponent" }
}

/// A person. Consent per channel is tri-state: `None` means never asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default)]
    pub account_id: Option<Id>,
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub buying_role: Option<BuyingRole>,
    #[serde(default)]
    pub stance: Option<Stance>,
    #[serde(default)]
    pub mobile: Option<Phone>,
    #[serde(default)]
    pub phone: Option<Phone>,
    #[serde(default)]
    pub email: Option<Email>,
    #[serde(default)]
    pub wechat: Option<String>,
    #[serde(default)]
    pub fax: Option<Phone>,
    #[serde(default)]
    pub consent_sms: Option<bool>,
    #[serde(default)]
    pub consent_call: Option<bool>,
    #[serde(default)]
    pub consent_email: Option<bool>,
    #[serde(default)]
    pub consent_wechat: Option<bool>,
    #[serde(default)]
    pub consent_fax: Option<bool>,
    #[serde(default)]
    pub birthday: Option<NaiveDate>,
    /// 身份证号: sensitive, masked for roles without the right to see it.
    #[serde(default)]
    pub national_id: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Contact {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            account_id: None,
            name: name.into(),
            title: None,
            department: None,
            buying_role: None,
            stance: None,
            mobile: None,
            phone: None,
            email: None,
            wechat: None,
            fax: None,
            consent_sms: None,
            consent_call: None,
            consent_email: None,
            consent_wechat: None,
            consent_fax: None,
            birthday: None,
            national_id: None,
            notes: None,
            tags: Vec::new(),
        }
    }
}

/// China's resident identity number: 17 digits and a check character (ISO 7064 MOD 11-2).
pub fn valid_national_id(s: &str) -> bool {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = s.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(W)
        .map(|(d, w)| (d - b'0') as u32 * w)
        .sum();
    b[17].to_ascii_uppercase() == CHECK[(sum % 11) as usize]
}

impl Entity for Contact {
    const DEF: &'static EntityDef = &EntityDef {
        name: "contact",
        table: "contacts",
        scoped: true,
        fields: &[
            FieldDef::new("account_id", Ref("accounts")),
            FieldDef::new("name", Text),
            FieldDef::new("title", Text),
            FieldDef::new("department", Text),
            FieldDef::new("buying_role", Enum(BuyingRole::VALUES)),
            FieldDef::new("stance", Enum(Stance::VALUES)),
            FieldDef::sensitive("mobile", Text),
            FieldDef::new("phone", Text),
            FieldDef::new("email", Text),
            FieldDef::new("wechat", Text),
            FieldDef::new("fax", Text),
            FieldDef::new("consent_sms", Bool),
            FieldDef::new("consent_call", Bool),
            FieldDef::new("consent_email", Bool),
            FieldDef::new("consent_wechat", Bool),
            FieldDef::new("consent_fax", Bool),
            FieldDef::new("birthday", Date),
            FieldDef::sensitive("national_id", Text),
            FieldDef::new("notes", Text),
            FieldDef::new("tags", Tags),
        ],
        collection: Some("contacts"),
        partner_paths: &[
            PartnerPath {
                column: "account_id",
                table: "accounts",
                via: "id",
            },
            PartnerPath {
                column: "id",
                table: "cases",
                via: "contact_id",
            },
        ],
        list_columns: &[
            "name",
            "account_id",
            "title",
            "buying_role",
            "mobile",
            "email",
        ],
        search: Some(&SearchFields {
            title: &["name"],
            names: &["name"],
            text: &["title", "department", "wechat", "notes", "tags"],
            phones: &["phone", "fax"],
            sensitive_phones: &["mobile"],
            emails: &["email"],
        }),
        import: Some(&ImportDef {
            keys: &["email", "mobile"],
            headers: HEADERS,
            company: Some("company"),
        }),
        duplicates: Some(&DUPLICATES),
        ..EntityDef::PLAIN
    };

    fn normalize(&mut self) {
        self.name = self.name.trim().to_string();
        if let Some(id) = &mut self.national_id {
            *id = id.trim().to_ascii_uppercase();
        }
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 100);
        e.opt_text("title", &self.title, 100);
        e.opt_text("department", &self.department, 100);
        e.opt_text("wechat", &self.wechat, 100);
        e.opt_text("notes", &self.notes, 10_000);
        if let Some(id) = &self.national_id
            && !valid_national_id(id)
        {
            e.add(
                "national_id",
                "invalid",
                "not a valid resident identity number (check digit)",
            );
        }
        check_tags(&mut e, &self.tags);
        e.into_result()
    }
}

/// How duplicate contacts are found: by phone, e-mail, and by name within one account (two
/// 张伟 at different companies are most likely two people).
const DUPLICATES: DuplicateKeys = DuplicateKeys {
    reads: &["account_id", "mobile", "phone", "email"],
    person: true,
    keys: |name, v, out| {
        contact_points(&[v[1], v[2]], v[3], out);
        if let Some(account) = v[0] {
            for key in [person_key(name), pinyin_key(name)] {
                if !key.is_empty() {
                    out.push((Reason::Name, format!("{account}|{key}")));
                }
            }
        }
    },
};

/// What people write above the columns an import fills.
const HEADERS: HeaderTable = &[
    ("name", PERSON_NAME),
    ("mobile", MOBILE),
    ("mobile", ANY_PHONE),
    ("phone", PHONE),
    ("phone", ANY_PHONE),
    ("email", EMAIL),
    ("wechat", WECHAT),
    ("title", TITLE),
    ("department", DEPARTMENT),
    ("company", COMPANY),
    ("gender", GENDER),
    ("birthday", BIRTHDAY),
    ("address", ADDRESS),
    ("province", PROVINCE),
    ("city", CITY),
    ("district", DISTRICT),
    ("notes", NOTES),
    ("tags", TAGS),
    ("external_id", EXTERNAL_ID),
];

str_enum! {
    /// The channels a contact consents to (the contact's `consent_<channel>` fields).
    pub enum ConsentChannel {
        Email = "email",
        Sms = "sms",
        Call = "call",
        Wechat = "wechat",
        Fax = "fax",
    }
}

impl ConsentChannel {
    /// The contact field holding this channel's consent.
    pub fn field(self) -> &'static str {
        match self {
            ConsentChannel::Email => "consent_email",
            ConsentChannel::Sms => "consent_sms",
            ConsentChannel::Call => "consent_call",
            ConsentChannel::Wechat => "consent_wechat",
            ConsentChannel::Fax => "consent_fax",
        }
    }

    /// The contact's answer on this channel: `None` when it was never asked.
    pub fn of(self, c: &Contact) -> Option<bool> {
        match self {
            ConsentChannel::Email => c.consent_email,
            ConsentChannel::Sms => c.consent_sms,
            ConsentChannel::Call => c.consent_call,
            ConsentChannel::Wechat => c.consent_wechat,
            ConsentChannel::Fax => c.consent_fax,
        }
    }

    /// Record the contact's answer on this channel.
    pub fn set(self, c: &mut Contact, given: bool) {
        *self.slot(c) = Some(given);
    }

    fn slot(self, c: &mut Contact) -> &mut Option<bool> {
        match self {
            ConsentChannel::Email => &mut c.consent_email,
            ConsentChannel::Sms => &mut c.consent_sms,
            ConsentChannel::Call => &mut c.consent_call,
            ConsentChannel::Wechat => &mut c.consent_wechat,
            ConsentChannel::Fax => &mut c.consent_fax,
        }
    }
}

str_enum! {
    /// Where a change of consent came from, kept with it in the consent history.
    pub enum ConsentSource {
        /// The one-click unsubscribe address of a marketing mail.
        UnsubscribeLink = "unsubscribe_link",
        /// The contact's own preferences page.
        Preferences = "preferences",
        /// A user recording what the customer said or signed (the evidence names it).
        Recorded = "recorded",
        /// A complaint (a "this is spam" report) sent back by the mailbox provider.
        Complaint = "complaint",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_id_check_digit() {
        // GB 11643 example number.
        assert!(valid_national_id("11010519491231002X"));
        assert!(valid_national_id("11010519491231002x"));
        assert!(!valid_national_id("110105194912310021"));
        assert!(!valid_national_id("1101051949123100"));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<Contact>(r#"{"name":"张伟","nmae":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("nmae"));
    }
}
