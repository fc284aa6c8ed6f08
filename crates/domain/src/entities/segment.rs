use super::{Account, ConsentChannel, Contact};
use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*};
use crate::filter::Filter;
use crate::rules::check_condition;
use crate::{Id, ValidationErrors};
use serde::{Deserialize, Serialize};

str_enum! {
    /// What a segment holds.
    pub enum SegmentOf { Account = "account", Contact = "contact" }
}

str_enum! {
    /// A dynamic segment is its conditions, evaluated when read; a static list is the
    /// records put in it by hand, from a list's selection or a spreadsheet.
    pub enum SegmentKind { Dynamic = "dynamic", Static = "static" }
}

/// A condition on what is known about a record beyond its own fields. For a contact, its
/// orders and cases are its own and its account's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fact {
    /// Bought a product (by id) or a SKU, in an order that counts as revenue, optionally
    /// within the last `within_days`.
    Bought {
        #[serde(default)]
        product_id: Option<Id>,
        #[serde(default)]
        sku: Option<String>,
        #[serde(default)]
        within_days: Option<u32>,
    },
    /// No order that counts as revenue in the last `days` (never ordered included).
    NoOrderIn { days: u32 },
    /// Opened a case, of a category if given, optionally within the last `within_days`.
    OpenedCase {
        #[serde(default)]
        category: Option<String>,
        #[serde(default)]
        within_days: Option<u32>,
    },
    /// Took part in a campaign: an interaction recorded against it.
    InCampaign { campaign_id: Id },
    /// Consented (`given`: true) or not (refused or never asked) on a channel; for an
    /// account, whether one of its contacts did.
    Consent {
        channel: ConsentChannel,
        #[serde(default = "yes")]
        given: bool,
    },
}

fn yes() -> bool {
    true
}

/// The longest look-back a fact takes: ten years.
pub const MAX_DAYS: u32 = 3_660;
/// The most conditions and facts one segment combines.
pub const MAX_CONDITIONS: usize = 30;

/// A saved group of accounts or contacts, for campaigns and lists. A record of every
/// conditions and fact holds (they are ANDed); read through the reader's scope, so a
/// segment only ever holds records its reader may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    pub name: String,
    pub entity: SegmentOf,
    #[serde(default = "dynamic")]
    pub kind: SegmentKind,
    /// The list views' filters on the entity's fields (the analytics outputs included);
    /// a contact segment also filters on its account's fields as `account.<field>`.
    #[serde(default)]
    pub conditions: Vec<Filter>,
    #[serde(default)]
    pub facts: Vec<Fact>,
    #[serde(default)]
    pub description: Option<String>,
}

fn dynamic() -> SegmentKind {
    SegmentKind::Dynamic
}

/// The prefix that puts a contact segment's condition on the contact's account.
pub const ACCOUNT_PREFIX: &str = "account.";

impl Segment {
    pub fn new(name: impl Into<String>, entity: SegmentOf) -> Self {
        Self {
            name: name.into(),
            entity,
            kind: SegmentKind::Dynamic,
            conditions: vec![],
            facts: vec![],
            description: None,
        }
    }

    /// The description of the records it holds.
    pub fn def(&self) -> &'static EntityDef {
        match self.entity {
            SegmentOf::Account => Account::DEF,
            SegmentOf::Contact => Contact::DEF,
        }
    }

    /// The entity a condition reads and the field within it: a contact segment's
    /// `account.grade` is the account's `grade`.
    pub fn condition_target<'f>(&self, field: &'f str) -> (&'static EntityDef, &'f str) {
        match (self.entity, field.strip_prefix(ACCOUNT_PREFIX)) {
            (SegmentOf::Contact, Some(f)) => (Account::DEF, f),
            _ => (self.def(), field),
        }
    }
}

impl Entity for Segment {
    const DEF: &'static EntityDef = &EntityDef {
        name: "segment",
        table: "segments",
        scoped: true,
        fields: &[
            FieldDef::new("name", Text),
            FieldDef::new("entity", Enum(SegmentOf::VALUES)),
            FieldDef::new("kind", Enum(SegmentKind::VALUES)),
            FieldDef::new("conditions", Json),
            FieldDef::new("facts", Json),
            FieldDef::new("description", Text),
        ],
        collection: Some("segments"),
        list_columns: &["name", "entity", "kind", "updated_at"],
        ..EntityDef::PLAIN
    };

    fn normalize(&mut self) {
        self.name = self.name.trim().to_string();
        for f in &mut self.facts {
            if let Fact::Bought { sku: Some(s), .. } = f {
                *s = s.trim().to_string();
            }
            if let Fact::OpenedCase {
                category: Some(c), ..
            } = f
            {
                *c = c.trim().to_string();
            }
        }
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 200);
        e.opt_text("description", &self.description, 2000);
        match self.kind {
            SegmentKind::Static => {
                if !self.conditions.is_empty() || !self.facts.is_empty() {
                    e.add(
                        "kind",
                        "invalid",
                        "a static list holds the records put in it, not conditions",
                    );
                }
            }
            SegmentKind::Dynamic => {
                if self.conditions.is_empty() && self.facts.is_empty() {
                    e.add(
                        "conditions",
                        "required",
                        "a segment needs at least one condition: without one it would hold everyone",
                    );
                }
            }
        }
        if self.conditions.len() + self.facts.len() > MAX_CONDITIONS {
            e.add(
                "conditions",
                "too_long",
                format!("at most {MAX_CONDITIONS} conditions and facts together"),
            );
        }
        for (i, c) in self.conditions.iter().enumerate() {
            let (def, field) = self.condition_target(&c.field);
            let on = Filter {
                field: field.to_string(),
                ..c.clone()
            };
            check_condition(def, &on, &format!("conditions[{i}]"), &mut e);
        }
        for (i, f) in self.facts.iter().enumerate() {
            check_fact(f, &format!("facts[{i}]"), &mut e);
        }
        e.into_result()
    }
}

fn check_fact(f: &Fact, path: &str, e: &mut ValidationErrors) {
    let days = |e: &mut ValidationErrors, name: &str, d: Option<u32>| {
        if let Some(d) = d
            && !(1..=MAX_DAYS).contains(&d)
        {
            e.add(
                format!("{path}.{name}"),
                "out_of_range",
                format!("between 1 and {MAX_DAYS} days"),
            );
        }
    };
    match f {
        Fact::Bought {
            product_id,
            sku,
            within_days,
        } => {
            let sku = sku.as_deref().filter(|s| !s.is_empty());
            if product_id.is_none() && sku.is_none() {
                e.add(
                    format!("{path}.sku"),
                    "required",
                    "name the product or the SKU bought",
                );
            }
            if sku.is_some_and(|s| s.chars().count() > 100) {
                e.add(format!("{path}.sku"), "too_long", "at most 100 characters");
            }
            days(e, "within_days", *within_days);
        }
        Fact::NoOrderIn { days: d } => days(e, "days", Some(*d)),
        Fact::OpenedCase {
            category,
            within_days,
        } => {
            if category.as_ref().is_some_and(|c| c.chars().count() > 100) {
                e.add(
                    format!("{path}.category"),
                    "too_long",
                    "at most 100 characters",
                );
            }
            days(e, "within_days", *within_days);
        }
        Fact::InCampaign { .. } | Fact::Consent { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Op;

    fn refused(s: &Segment) -> Vec<String> {
        s.validate()
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_dynamic_segment_needs_a_condition_and_a_static_list_takes_none() {
        let mut s = Segment::new("高价值流失风险", SegmentOf::Account);
        assert_eq!(refused(&s), ["conditions"]);
        s.conditions
            .push(Filter::new("churn_risk", Op::Ge, serde_json::json!(0.5)));
        s.validate().unwrap();
        s.kind = SegmentKind::Static;
        assert_eq!(refused(&s), ["kind"]);
        s.conditions.clear();
        s.validate().unwrap();
    }

    #[test]
    fn conditions_are_checked_against_the_entity_and_named_by_path() {
        let mut s = Segment::new("x", SegmentOf::Contact);
        s.conditions = vec![
            Filter::new("account.grade", Op::In, serde_json::json!(["A", "B"])),
            Filter::new("account.nonsense", Op::Eq, "1"),
            Filter::new("grade", Op::Eq, "A"),
        ];
        assert_eq!(
            refused(&s),
            ["conditions[1].field", "conditions[2].field"],
            "contacts have no grade; their account has"
        );
        let mut a = Segment::new("x", SegmentOf::Account);
        a.conditions = vec![Filter::new("account.grade", Op::Eq, "A")];
        assert_eq!(refused(&a), ["conditions[0].field"]);
    }

    #[test]
    fn facts_name_what_is_wrong() {
        let mut s = Segment::new("x", SegmentOf::Account);
        s.facts = vec![
            Fact::Bought {
                product_id: None,
                sku: Some("  ".into()),
                within_days: Some(0),
            },
            Fact::NoOrderIn { days: 90 },
            Fact::OpenedCase {
                category: None,
                within_days: Some(MAX_DAYS + 1),
            },
        ];
        s.normalize();
        assert_eq!(
            refused(&s),
            [
                "facts[0].sku",
                "facts[0].within_days",
                "facts[2].within_days"
            ]
        );
    }

    #[test]
    fn facts_read_from_json_by_kind() {
        let s: Segment = serde_json::from_value(serde_json::json!({
            "name": "x", "entity": "contact",
            "facts": [{"kind": "consent", "channel": "email"}, {"kind": "no_order_in", "days": 180}]
        }))
        .unwrap();
        assert_eq!(s.kind, SegmentKind::Dynamic);
        assert_eq!(
            s.facts[0],
            Fact::Consent {
                channel: ConsentChannel::Email,
                given: true
            }
        );
        assert!(
            serde_json::from_value::<Fact>(serde_json::json!({"kind": "sold"})).is_err(),
            "an unknown kind is refused"
        );
    }
}
