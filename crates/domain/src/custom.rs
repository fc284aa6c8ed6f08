//! Administrator-defined fields: typed, validated, filterable like built-in ones.

use crate::ValidationErrors;
use crate::entity::{Entity, EntityDef, FieldDef, FieldType, FieldType::*, def_by_name};
use crate::record::CustomValues;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

str_enum! {
    pub enum CustomType { Text = "text", Number = "number", Date = "date", Boolean = "boolean", Choice = "choice" }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldDef {
    /// The entity it extends (`account`, `contact`, …).
    pub entity: String,
    /// `[a-z][a-z0-9_]*`, unique per entity; the key in `custom`.
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub label_zh: Option<String>,
    #[serde(rename = "type")]
    pub ty: CustomType,
    /// The allowed values of a choice field.
    #[serde(default)]
    pub choices: Vec<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub sensitive: bool,
}

impl CustomFieldDef {
    /// How values of this field compare in filters and sorts.
    pub fn field_type(&self) -> FieldType {
        match self.ty {
            CustomType::Text | CustomType::Choice => FieldType::Text,
            CustomType::Number => FieldType::Float,
            CustomType::Date => FieldType::Date,
            CustomType::Boolean => FieldType::Bool,
        }
    }

    /// Check one value (not null) against the definition.
    pub fn check_value(&self, v: &Value) -> Result<(), String> {
        match (self.ty, v) {
            (CustomType::Text, Value::String(s)) if s.chars().count() <= 2000 => Ok(()),
            (CustomType::Text, Value::String(_)) => Err("must be at most 2000 characters".into()),
            (CustomType::Number, Value::Number(_)) => Ok(()),
            (CustomType::Boolean, Value::Bool(_)) => Ok(()),
            (CustomType::Date, Value::String(s))
                if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() =>
            {
                Ok(())
            }
            (CustomType::Choice, Value::String(s)) if self.choices.contains(s) => Ok(()),
            (CustomType::Choice, _) => Err(format!("must be one of {}", self.choices.join(", "))),
            (CustomType::Date, _) => Err("must be a date (YYYY-MM-DD)".into()),
            (t, _) => Err(format!("must be a {t}")),
        }
    }
}

/// Validate a record's custom values against its entity's definitions: unknown keys,
/// wrong types and missing required values are errors naming `custom.<key>`.
pub fn validate_custom(
    defs: &[CustomFieldDef],
    values: &CustomValues,
) -> Result<(), ValidationErrors> {
    let mut e = ValidationErrors::new();
    for (key, v) in values {
        let field = format!("custom.{key}");
        match defs.iter().find(|d| &d.key == key) {
            None => e.add(field, "unknown_field", "no such custom field"),
            Some(_) if v.is_null() => {}
            Some(d) => {
                if let Err(msg) = d.check_value(v) {
                    e.add(field, "invalid", msg);
                }
            }
        }
    }
    for d in defs.iter().filter(|d| d.required) {
        if values.get(&d.key).is_none_or(Value::is_null) {
            e.add(format!("custom.{}", d.key), "required", "is required");
        }
    }
    e.into_result()
}

impl Entity for CustomFieldDef {
    const DEF: &'static EntityDef = &EntityDef {
        name: "custom_field",
        table: "custom_fields",
        scoped: false,
        fields: &[
            FieldDef::new("entity", Text),
            FieldDef::new("key", Text),
            FieldDef::new("label", Text),
            FieldDef::new("label_zh", Text),
            FieldDef::new("type", Enum(CustomType::VALUES)),
            FieldDef::new("choices", Json),
            FieldDef::new("required", Bool),
            FieldDef::new("sensitive", Bool),
        ],
        collection: Some("custom-fields"),
        title: &["key"],
        list_columns: &["entity", "key", "label", "type", "required", "sensitive"],
        ..EntityDef::PLAIN
    };

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        match def_by_name(&self.entity) {
            Some(def) if def.field(&self.key).is_some() => {
                e.add("key", "duplicate", "a built-in field has this name")
            }
            Some(_) => {}
            None => e.add("entity", "invalid", "no such entity"),
        }
        let mut chars = self.key.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && self.key.len() <= 40;
        if !ok {
            e.add(
                "key",
                "invalid",
                "a key is a lowercase letter, then lowercase letters, digits or _ (at most 40)",
            );
        }
        e.text("label", &self.label, 100);
        if self.ty == CustomType::Choice && self.choices.is_empty() {
            e.add("choices", "required", "a choice field needs its choices");
        }
        e.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(key: &str, ty: CustomType) -> CustomFieldDef {
        CustomFieldDef {
            entity: "account".into(),
            key: key.into(),
            label: key.into(),
            label_zh: None,
            ty,
            choices: vec!["a".into(), "b".into()],
            required: false,
            sensitive: false,
        }
    }

    #[test]
    fn values_are_checked_by_type() {
        let mut req = def("level", CustomType::Choice);
        req.required = true;
        let defs = vec![
            def("score", CustomType::Number),
            def("since", CustomType::Date),
            req,
        ];
        let ok = json!({"score": 3.5, "since": "2020-01-31", "level": "a"});
        validate_custom(&defs, ok.as_object().unwrap()).unwrap();
        let bad = json!({"score": "x", "since": "2020-02-31", "nope": 1});
        let err = validate_custom(&defs, bad.as_object().unwrap()).unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "custom.nope",
                "custom.score",
                "custom.since",
                "custom.level"
            ]
        );
    }

    #[test]
    fn keys_must_not_shadow_built_in_fields() {
        assert!(def("name", CustomType::Text).validate().is_err());
        assert!(def("Bad-Key", CustomType::Text).validate().is_err());
        def("region_code", CustomType::Text).validate().unwrap();
    }
}
