//! Fields between records and pages: how a value is shown, how it is put into a form
//! input, and how what the user typed becomes the JSON the API also accepts. Driven by the
//! entities' field definitions, so every entity (and every custom field) gets the same
//! treatment.

use super::i18n::{Tr, display_offset};
use guanxi_domain::custom::{CustomFieldDef, CustomType};
use guanxi_domain::entity::{EntityDef, FieldDef, FieldType};
use guanxi_domain::money::{Currency, Money};
use guanxi_domain::{FieldError, Id};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Names of referenced records, by id, for showing `account_id` as the account's name.
pub type Names = HashMap<Id, String>;

/// Where a record of a table is shown.
pub fn href_of(table: &str, id: &str) -> String {
    // A collection is its table spelled with dashes (a domain test holds every entity to it).
    format!("/{}/{id}", table.replace('_', "-"))
}

/// The fields of an entity a form edits: stored by the user, not derived or kept by Guanxi.
pub fn form_fields(def: &'static EntityDef) -> Vec<&'static FieldDef> {
    def.fields
        .iter()
        .filter(|f| !f.computed && !managed(def.name, f.name))
        .collect()
}

/// Entities that take custom fields: the choices of a custom field's `entity`.
const EXTENSIBLE: &[&str] = &[
    "account",
    "contact",
    "interaction",
    "lead",
    "opportunity",
    "product",
    "order",
    "case",
    "campaign",
];

/// How a form edits a field: as its type says, except where a friendlier input fits the
/// same JSON (a custom field's choices as a comma list, its entity from a list).
pub fn form_type(entity: &str, f: &FieldDef) -> FieldType {
    match (entity, f.name) {
        ("custom_field", "choices") => FieldType::Tags,
        ("custom_field", "entity") => FieldType::Enum(EXTENSIBLE),
        _ => f.ty,
    }
}

/// Fields Guanxi maintains itself (through the kanban, conversion, totals, histories).
fn managed(entity: &str, field: &str) -> bool {
    matches!(
        (entity, field),
        (
            "opportunity",
            "status" | "closed_at" | "stage_history" | "close_reason"
        ) | ("order", "total" | "cost_total" | "status_history")
            | (
                "lead",
                "converted_account_id"
                    | "converted_contact_id"
                    | "converted_opportunity_id"
                    | "converted_at"
            )
    )
}

/// One value as text for a page.
pub struct Shown {
    pub text: String,
    pub href: Option<String>,
}

impl Shown {
    fn plain(text: impl Into<String>) -> Shown {
        Shown {
            text: text.into(),
            href: None,
        }
    }
}

fn parse_ts(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Show the value of field `f` of a record (its whole JSON is `record`, for the currency of
/// order totals).
pub fn show(t: Tr, entity: &str, f: &FieldDef, record: &Value, names: &Names) -> Shown {
    let v = record.get(f.name).unwrap_or(&Value::Null);
    if v.is_null() {
        return Shown::plain("");
    }
    match f.ty {
        FieldType::Text => Shown::plain(v.as_str().unwrap_or_default()),
        FieldType::Int if entity == "order" && matches!(f.name, "total" | "cost_total") => {
            let currency = record["currency"].as_str().unwrap_or("CNY");
            Shown::plain(t.money(v.as_i64().unwrap_or(0), currency))
        }
        FieldType::Int => Shown::plain(t.int(v.as_i64().unwrap_or(0))),
        FieldType::Float if matches!(f.name, "p_alive" | "churn_risk") => {
            Shown::plain(t.percent(v.as_f64().unwrap_or(0.0)))
        }
        FieldType::Float => Shown::plain(t.decimal(v.as_f64().unwrap_or(0.0), 2)),
        FieldType::Bool => Shown::plain(t.yes_no(v.as_bool().unwrap_or(false))),
        FieldType::Date => Shown::plain(
            v.as_str()
                .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .map_or_else(|| v.as_str().unwrap_or("").to_string(), |d| t.date(d)),
        ),
        FieldType::Timestamp => Shown::plain(
            v.as_str()
                .and_then(parse_ts)
                .map_or_else(String::new, |d| t.datetime(d)),
        ),
        FieldType::Money => Shown::plain(t.money(
            v["minor"].as_i64().unwrap_or(0),
            v["currency"].as_str().unwrap_or("CNY"),
        )),
        FieldType::Enum(_) => Shown::plain(t.choice(entity, f.name, v.as_str().unwrap_or(""))),
        FieldType::Tags => Shown::plain(tags_text(v)),
        FieldType::Ref(table) => {
            let raw = v.as_str().unwrap_or_default();
            let name = Id::parse(raw).ok().and_then(|id| names.get(&id).cloned());
            Shown {
                text: name.unwrap_or_else(|| short_id(raw)),
                href: Some(href_of(table, raw)),
            }
        }
        FieldType::Json => Shown::plain(json_summary(v)),
    }
}

/// A custom field's value as text.
pub fn show_custom(t: Tr, def: &CustomFieldDef, v: &Value) -> String {
    match (def.ty, v) {
        (_, Value::Null) => String::new(),
        (CustomType::Boolean, Value::Bool(b)) => t.yes_no(*b).into(),
        (CustomType::Number, Value::Number(n)) => {
            let x = n.as_f64().unwrap_or(0.0);
            if x.fract() == 0.0 {
                t.int(x as i64)
            } else {
                t.decimal(x, 2)
            }
        }
        (CustomType::Date, Value::String(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_or_else(|_| s.clone(), |d| t.date(d)),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

/// A custom field's label in the page's language.
pub fn custom_label(t: Tr, def: &CustomFieldDef) -> String {
    match (t.lang, &def.label_zh) {
        (super::i18n::Lang::Zh, Some(zh)) if !zh.is_empty() => zh.clone(),
        _ => def.label.clone(),
    }
}

fn tags_text(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn short_id(raw: &str) -> String {
    raw.chars().take(8).collect()
}

fn json_summary(v: &Value) -> String {
    match v {
        Value::Array(a) => format!("[{}]", a.len()),
        Value::Object(o) => format!("{{{}}}", o.len()),
        other => other.to_string(),
    }
}

/// One option of a select.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One input of a form, with what it shows now and what went wrong with it.
pub struct Input {
    /// The form field's name: the field's own, or `custom.<key>`.
    pub name: String,
    pub id: String,
    pub label: String,
    /// `text`, `textarea`, `number`, `checkbox`, `date`, `datetime-local`, `money`,
    /// `select`, `tags`, `ref`, `json`.
    pub kind: &'static str,
    pub step: &'static str,
    pub value: String,
    /// For money: the currency code.
    pub currency: String,
    pub options: Vec<Choice>,
    pub required: bool,
    pub error: Option<String>,
    /// On an edit conflict: the value saved meanwhile by someone else, as it would be typed.
    pub theirs: Option<String>,
    /// For references: the collection searched by the typeahead, and the current name.
    pub ref_collection: &'static str,
    pub ref_name: String,
}

impl Input {
    pub fn checked(&self) -> bool {
        self.value == "true"
    }
}

/// What a field holds, as the text of its input.
pub fn input_text(ty: FieldType, v: &Value) -> String {
    match (ty, v) {
        (_, Value::Null) => String::new(),
        // A stored instant, shown in local time; what a user typed comes back as typed.
        (FieldType::Timestamp, Value::String(s)) => parse_ts(s).map_or_else(
            || s.clone(),
            |t| {
                t.with_timezone(&display_offset())
                    .format("%Y-%m-%dT%H:%M")
                    .to_string()
            },
        ),
        (FieldType::Money, m) if m["typed"].is_string() => {
            m["typed"].as_str().unwrap_or_default().to_string()
        }
        (FieldType::Money, m) => {
            let minor = m["minor"].as_i64().unwrap_or(0);
            let sign = if minor < 0 { "-" } else { "" };
            format!("{sign}{}.{:02}", (minor / 100).abs(), (minor % 100).abs())
        }
        (FieldType::Tags | FieldType::Json, Value::String(typed)) => typed.clone(),
        (FieldType::Tags, v) => tags_text(v),
        (FieldType::Json, v) => serde_json::to_string_pretty(v).unwrap_or_default(),
        (FieldType::Bool, Value::Bool(b)) => b.to_string(),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

fn is_long_text(name: &str) -> bool {
    matches!(
        name,
        "notes" | "body" | "description" | "outcome" | "address" | "html" | "text"
    )
}

/// The inputs of an entity's form, filled from `values` (a record's JSON or what the user
/// sent), with errors by field.
pub fn inputs(
    t: Tr,
    def: &'static EntityDef,
    custom: &[CustomFieldDef],
    values: &Value,
    errors: &[FieldError],
    names: &Names,
) -> Vec<Input> {
    let error_of = |name: &str| {
        errors
            .iter()
            .find(|e| e.field == name || e.field.starts_with(&format!("{name}.")))
            .map(|e| message(t, e))
    };
    let mut out: Vec<Input> = form_fields(def)
        .into_iter()
        .map(|f| {
            let v = values.get(f.name).unwrap_or(&Value::Null);
            let ty = form_type(def.name, f);
            let (kind, step) = match ty {
                FieldType::Text if is_long_text(f.name) => ("textarea", ""),
                FieldType::Text => ("text", ""),
                FieldType::Int => ("number", "1"),
                FieldType::Float => ("number", "any"),
                FieldType::Bool => ("checkbox", ""),
                FieldType::Date => ("date", ""),
                FieldType::Timestamp => ("datetime-local", ""),
                FieldType::Money => ("money", "0.01"),
                FieldType::Enum(_) => ("select", ""),
                FieldType::Tags => ("tags", ""),
                FieldType::Ref(_) => ("ref", ""),
                FieldType::Json => ("json", ""),
            };
            let value = input_text(ty, v);
            let options = match ty {
                FieldType::Enum(values) => values
                    .iter()
                    .map(|o| Choice {
                        value: (*o).to_string(),
                        label: if (def.name, f.name) == ("custom_field", "entity") {
                            t.entity_one(o).to_string()
                        } else {
                            t.choice(def.name, f.name, o)
                        },
                        selected: *o == value,
                    })
                    .collect(),
                _ => vec![],
            };
            let (ref_collection, ref_name) = match ty {
                FieldType::Ref(table) => (
                    table,
                    Id::parse(&value)
                        .ok()
                        .and_then(|id| names.get(&id).cloned())
                        .unwrap_or_default(),
                ),
                _ => ("", String::new()),
            };
            Input {
                name: f.name.to_string(),
                id: format!("f-{}", f.name),
                label: t.field(def.name, f.name).to_string(),
                kind,
                step,
                currency: v["currency"].as_str().unwrap_or("CNY").to_string(),
                value,
                options,
                required: required(def.name, f.name),
                error: error_of(f.name),
                theirs: None,
                ref_collection,
                ref_name,
            }
        })
        .collect();
    for c in custom {
        let name = format!("custom.{}", c.key);
        let v = values
            .get("custom")
            .and_then(|m| m.get(&c.key))
            .unwrap_or(&Value::Null);
        let value = match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let (kind, step) = match c.ty {
            CustomType::Text => ("text", ""),
            CustomType::Number => ("number", "any"),
            CustomType::Date => ("date", ""),
            CustomType::Boolean => ("checkbox", ""),
            CustomType::Choice => ("select", ""),
        };
        let options = c
            .choices
            .iter()
            .map(|o| Choice {
                value: o.clone(),
                label: o.clone(),
                selected: *o == value,
            })
            .collect();
        out.push(Input {
            id: format!("f-custom-{}", c.key),
            label: custom_label(t, c),
            kind,
            step,
            currency: String::new(),
            value,
            options,
            required: c.required,
            error: error_of(&name),
            theirs: None,
            ref_collection: "",
            ref_name: String::new(),
            name,
        });
    }
    out
}

/// Fields the domain refuses to leave empty, marked as required on the form.
fn required(entity: &str, field: &str) -> bool {
    matches!(
        (entity, field),
        (_, "name")
            | ("account", "kind" | "relationship")
            | ("interaction", "kind" | "subject" | "at")
            | ("case", "subject" | "kind" | "priority" | "status")
            | (
                "opportunity",
                "account_id" | "pipeline_id" | "stage" | "amount"
            )
            | ("order", "account_id" | "number" | "ordered_at" | "status")
            | ("product", "sku")
            | ("user", "email" | "role" | "locale")
            | ("custom_field", "entity" | "key" | "label" | "type")
    )
}

/// A field error in the page's language: the message for its code when we have one.
pub fn message(t: Tr, e: &FieldError) -> String {
    let key = format!("error.code.{}", e.code);
    if t.has(&key) {
        let generic = t.s(&key);
        // "invalid" alone says little, nor does a merge field not named: keep the domain's
        // explanation beside it.
        if matches!(e.code, "invalid" | "unknown_merge_field") && !e.message.is_empty() {
            format!("{generic} ({})", e.message)
        } else {
            generic.to_string()
        }
    } else {
        e.message.clone()
    }
}

/// The form as a JSON object for the API's create and merge-patch: fields typed by their
/// definitions, empty inputs as `null`, custom values under `custom`. Every input that
/// does not parse is an error naming its field; nothing is written then.
pub fn json_of_form(
    def: &'static EntityDef,
    custom: &[CustomFieldDef],
    form: &super::page::FormData,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut out = Map::new();
    let mut errors = vec![];
    let mut bad = |field: &str, code: &'static str, msg: &str| {
        errors.push(FieldError {
            field: field.to_string(),
            code,
            message: msg.to_string(),
        })
    };
    // Only fields the form carried are written: a form showing some fields never clears
    // the others. Checkboxes announce themselves with a hidden `_bool` input.
    let bools: Vec<&str> = form.all("_bool").collect();
    for f in form_fields(def) {
        let ty = form_type(def.name, f);
        let raw = match (ty, form.get(f.name)) {
            (FieldType::Bool, v) if bools.contains(&f.name) => v.unwrap_or(""),
            (_, Some(v)) => v.trim(),
            (_, None) => continue,
        };
        let value = match ty {
            FieldType::Bool => Value::Bool(matches!(raw, "on" | "true" | "1")),
            FieldType::Tags if raw.is_empty() => Value::Array(vec![]),
            _ if raw.is_empty() => Value::Null,
            FieldType::Text | FieldType::Date | FieldType::Enum(_) => Value::String(raw.into()),
            FieldType::Int => match raw.parse::<i64>() {
                Ok(n) => n.into(),
                Err(_) => {
                    bad(f.name, "not_a_whole_number", "a whole number");
                    continue;
                }
            },
            FieldType::Float => match raw.parse::<f64>().ok().filter(|x| x.is_finite()) {
                Some(x) => x.into(),
                None => {
                    bad(f.name, "not_a_number", "a number");
                    continue;
                }
            },
            FieldType::Timestamp => {
                match chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
                    .or_else(|_| chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
                    .ok()
                    .and_then(|n| n.and_local_timezone(display_offset()).single())
                {
                    Some(t) => Value::String(t.with_timezone(&chrono::Utc).to_rfc3339()),
                    None => {
                        bad(f.name, "not_a_time", "a date and time");
                        continue;
                    }
                }
            }
            FieldType::Money => {
                let code = form.text(&format!("{}.currency", f.name));
                let currency = Currency::parse(if code.is_empty() { "CNY" } else { code });
                match currency.map(|c| Money::parse_decimal(&raw.replace(',', ""), c)) {
                    Ok(Ok(m)) => serde_json::to_value(m).unwrap_or_default(),
                    _ => {
                        bad(f.name, "not_an_amount", "an amount such as 1234.50");
                        continue;
                    }
                }
            }
            FieldType::Tags => Value::Array(
                raw.split([',', '，', ';', '；'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.into()))
                    .collect(),
            ),
            FieldType::Ref(_) => match Id::parse(raw) {
                Ok(id) => Value::String(id.to_string()),
                Err(_) => {
                    bad(f.name, "no_such_record", "no such record");
                    continue;
                }
            },
            FieldType::Json => match serde_json::from_str::<Value>(raw) {
                Ok(v) => v,
                Err(e) => {
                    bad(f.name, "invalid_json", &e.to_string());
                    continue;
                }
            },
        };
        out.insert(f.name.to_string(), value);
    }
    let mut values = Map::new();
    for c in custom {
        let name = format!("custom.{}", c.key);
        let raw = match (c.ty, form.get(&name)) {
            (CustomType::Boolean, v) if bools.contains(&name.as_str()) => v.unwrap_or(""),
            (_, Some(v)) => v.trim(),
            (_, None) => continue,
        };
        let value = match c.ty {
            CustomType::Boolean => Value::Bool(matches!(raw, "on" | "true" | "1")),
            _ if raw.is_empty() => Value::Null,
            CustomType::Number => match raw.parse::<f64>().ok().filter(|x| x.is_finite()) {
                Some(x) => x.into(),
                None => {
                    bad(&name, "not_a_number", "a number");
                    continue;
                }
            },
            _ => Value::String(raw.into()),
        };
        values.insert(c.key.clone(), value);
    }
    if !values.is_empty() {
        out.insert("custom".into(), Value::Object(values));
    }
    if let Some(owner) = form
        .get("owner_id")
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        out.insert("owner_id".into(), Value::String(owner.into()));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// What the user typed, as a record-shaped JSON value, to fill the form again after an
/// error: nothing typed is lost, not even input that did not parse.
pub fn typed_values(
    def: &'static EntityDef,
    custom: &[CustomFieldDef],
    form: &super::page::FormData,
) -> Value {
    let mut out = Map::new();
    let bools: Vec<&str> = form.all("_bool").collect();
    for f in form_fields(def) {
        let raw = form.get(f.name);
        let v = match f.ty {
            FieldType::Bool if bools.contains(&f.name) => {
                Value::Bool(matches!(raw, Some("on" | "true" | "1")))
            }
            FieldType::Money => match raw {
                // Kept as typed: shown again through `input_text` of a money object
                // would reformat it, so keep the text in a money-shaped holder.
                Some(r) => {
                    serde_json::json!({ "typed": r, "currency": form.text(&format!("{}.currency", f.name)) })
                }
                None => continue,
            },
            _ => match raw {
                Some(r) => Value::String(r.to_string()),
                None => continue,
            },
        };
        out.insert(f.name.to_string(), v);
    }
    let mut values = Map::new();
    for c in custom {
        let name = format!("custom.{}", c.key);
        if c.ty == CustomType::Boolean && bools.contains(&name.as_str()) {
            values.insert(c.key.clone(), Value::Bool(form.get(&name).is_some()));
        } else if let Some(r) = form.get(&name) {
            values.insert(c.key.clone(), Value::String(r.to_string()));
        }
    }
    out.insert("custom".into(), Value::Object(values));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::super::page::FormData;
    use super::*;
    use guanxi_domain::Entity;
    use guanxi_domain::entities::{Contact, Opportunity};

    fn form(pairs: &[(&str, &str)]) -> FormData {
        FormData(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_form_becomes_typed_json() {
        let f = form(&[
            ("name", " 张伟 "),
            ("title", ""),
            ("tags", "vip， 华东,key"),
            ("birthday", "1980-02-03"),
            ("_bool", "consent_sms"),
            ("consent_sms", "on"),
            ("_bool", "consent_call"),
        ]);
        let json = json_of_form(Contact::DEF, &[], &f).unwrap();
        assert_eq!(json["name"], "张伟");
        assert_eq!(json["title"], Value::Null);
        assert_eq!(json["tags"], serde_json::json!(["vip", "华东", "key"]));
        assert_eq!(json["consent_sms"], true);
        assert_eq!(json["consent_call"], false);
        assert!(
            !json.contains_key("email"),
            "fields not on the form stay untouched"
        );
    }

    #[test]
    fn money_and_times_are_read_in_the_users_terms() {
        let f = form(&[
            ("amount", "1,234.5"),
            ("amount.currency", "CNY"),
            ("expected_close", "2026-12-01"),
        ]);
        let json = json_of_form(Opportunity::DEF, &[], &f).unwrap();
        assert_eq!(
            json["amount"],
            serde_json::json!({"minor": 123450, "currency": "CNY"})
        );
        let f = form(&[("at", "2026-11-23T09:30")]);
        let json = json_of_form(guanxi_domain::entities::Interaction::DEF, &[], &f).unwrap();
        assert_eq!(json["at"], "2026-11-23T01:30:00+00:00", "shown in UTC+8");
        assert_eq!(
            input_text(FieldType::Timestamp, &json["at"]),
            "2026-11-23T09:30"
        );
    }

    #[test]
    fn input_that_does_not_parse_names_its_field() {
        let f = form(&[
            ("amount", "lots"),
            ("probability", "half"),
            ("account_id", "acme"),
        ]);
        let errors = json_of_form(Opportunity::DEF, &[], &f).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["account_id", "amount", "probability"]);
    }

    #[test]
    fn custom_fields_are_typed_by_their_definition() {
        let def = CustomFieldDef {
            entity: "contact".into(),
            key: "shoe_size".into(),
            label: "Shoe size".into(),
            label_zh: Some("鞋码".into()),
            ty: CustomType::Number,
            choices: vec![],
            required: false,
            sensitive: false,
        };
        let f = form(&[("name", "x"), ("custom.shoe_size", "42")]);
        let json = json_of_form(Contact::DEF, std::slice::from_ref(&def), &f).unwrap();
        assert_eq!(json["custom"]["shoe_size"], 42.0);
        let f = form(&[("custom.shoe_size", "big")]);
        let errors = json_of_form(Contact::DEF, &[def], &f).unwrap_err();
        assert_eq!(errors[0].field, "custom.shoe_size");
    }

    #[test]
    fn typed_tags_times_and_json_come_back_unchanged() {
        let f = form(&[("tags", "vip, 华东"), ("at", "tomorrow 9am"), ("body", "x")]);
        let v = typed_values(guanxi_domain::entities::Interaction::DEF, &[], &f);
        assert_eq!(input_text(FieldType::Timestamp, &v["at"]), "tomorrow 9am");
        let v = typed_values(Contact::DEF, &[], &f);
        assert_eq!(input_text(FieldType::Tags, &v["tags"]), "vip, 华东");
        assert_eq!(
            input_text(FieldType::Json, &Value::String("[1,".into())),
            "[1,"
        );
        let empty = json_of_form(Contact::DEF, &[], &form(&[("tags", "")])).unwrap();
        assert_eq!(empty["tags"], serde_json::json!([]), "no tags, not null");
    }

    #[test]
    fn what_was_typed_comes_back_as_typed() {
        let f = form(&[
            ("amount", "lots"),
            ("amount.currency", "CNY"),
            ("name", "大单"),
        ]);
        let v = typed_values(Opportunity::DEF, &[], &f);
        assert_eq!(v["name"], "大单");
        assert_eq!(v["amount"]["typed"], "lots");
    }
}
