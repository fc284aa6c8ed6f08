//! Workflow rules, the pure part: when a rule fires on a change, whether a record meets its
//! conditions, and what its description must hold to be saved. Running the actions is the
//! application's (`guanxi_app::rules`); storing rules is the store's (they are records).
//!
//! Conditions are the list views' filter language (`field:op:value`), evaluated here on the
//! record as the change left it, with the same meaning the store gives them in SQL: `ne`
//! includes records without a value, `contains`/`starts_with` ignore case, money compares
//! by minor units, tags are contained or empty.

use crate::entity::{EntityDef, FieldType};
use crate::error::ValidationErrors;
use crate::filter::{Filter, Op};
use crate::record::Id;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Ordering;

/// When a rule is considered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "on", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    Created,
    /// Any update, or only one that changed `field` (to `to`, when given).
    Updated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<Value>,
    },
    Deleted,
    /// A deal moved to another stage (to `to`, when given).
    StageMoved {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// A time relative to a date field of the record: `offset_minutes` after it (before
    /// it, when negative). The conditions are checked when the time comes, on the record as
    /// it is then ("2 hours after `sla_due_at` if still open").
    Relative {
        field: String,
        offset_minutes: i64,
    },
    /// At a time of day (`HH:MM`, the organisation's time), on the days named (every day
    /// when none), for every record that meets the conditions then.
    Schedule {
        at: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        days: Vec<Day>,
    },
}

/// A day of the week, for schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub const ALL: [Day; 7] = [
        Day::Mon,
        Day::Tue,
        Day::Wed,
        Day::Thu,
        Day::Fri,
        Day::Sat,
        Day::Sun,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Day::Mon => "mon",
            Day::Tue => "tue",
            Day::Wed => "wed",
            Day::Thu => "thu",
            Day::Fri => "fri",
            Day::Sat => "sat",
            Day::Sun => "sun",
        }
    }

    fn of(d: chrono::Weekday) -> Day {
        Day::ALL[d.num_days_from_monday() as usize]
    }
}

/// When a date (without a time) counts from for a relative trigger: the start of the
/// working day, so that "3 days before `expected_close`" reminds in the morning.
pub const DATE_AT: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
    Some(t) => t,
    None => panic!("a valid time"),
};

/// The time of day a schedule names, if it is one (`HH:MM`).
pub fn time_of_day(at: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(at.trim(), "%H:%M").ok()
}

/// The moment a relative trigger is due for `record`: its date field plus the offset;
/// `None` while the field is empty. A date counts from [`DATE_AT`] in `zone`.
pub fn due_at(
    def: &EntityDef,
    field: &str,
    offset_minutes: i64,
    record: &Value,
    zone: FixedOffset,
) -> Option<DateTime<Utc>> {
    let v = lookup(record, field).as_str()?;
    let base = match field_type(def, field)? {
        FieldType::Timestamp => DateTime::parse_from_rfc3339(v).ok()?.to_utc(),
        FieldType::Date => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .ok()?
            .and_time(DATE_AT)
            .and_local_timezone(zone)
            .single()?
            .to_utc(),
        _ => return None,
    };
    base.checked_add_signed(Duration::minutes(offset_minutes))
}

/// The first moment after `after` a schedule names, in `zone`; `None` when `at` is no time
/// of day.
pub fn next_occurrence(
    at: &str,
    days: &[Day],
    after: DateTime<Utc>,
    zone: FixedOffset,
) -> Option<DateTime<Utc>> {
    let time = time_of_day(at)?;
    let today = after.with_timezone(&zone).date_naive();
    (0..8)
        .filter_map(|n| today.checked_add_signed(Duration::days(n)))
        .filter(|d| days.is_empty() || days.contains(&Day::of(d.weekday())))
        .filter_map(|d| d.and_time(time).and_local_timezone(zone).single())
        .map(|t| t.to_utc())
        .find(|t| *t > after)
}

/// The most a relative trigger may lie from its date: a year either way.
pub const MAX_OFFSET_MINUTES: i64 = 366 * 24 * 60;

/// Who an assignment goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "how", rename_all = "snake_case", deny_unknown_fields)]
pub enum Assignee {
    /// The record's owner.
    Owner,
    User {
        user_id: Id,
    },
    /// The team's active members in turn.
    RoundRobin {
        team_id: Id,
    },
    /// The team's active member owning the fewest open records of the entity.
    LeastLoaded {
        team_id: Id,
    },
}

/// What a rule does, in order, each through the one write path as the rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    AssignOwner {
        to: Assignee,
    },
    /// A task (an interaction of kind `task`) on the record's account, due `due_in_hours`
    /// after the rule fires.
    CreateTask {
        assignee: Assignee,
        subject: String,
        #[serde(default)]
        due_in_hours: i64,
    },
    /// An in-app notification to the assignee, about the record.
    Notify {
        to: Assignee,
        message: String,
    },
    UpdateField {
        field: String,
        value: Value,
    },
    AddTag {
        tag: String,
    },
    /// Reassign the record, then tell the managers of the new owner's team.
    Escalate {
        to: Assignee,
        message: String,
    },
    /// Send the record to a webhook subscription's receiver, as its owner may read it,
    /// signed and logged like the subscription's own deliveries.
    CallWebhook {
        webhook_id: Id,
    },
    /// An e-mail from a template to the record's contact (the record itself, or the
    /// contact it names), if the template's category and the contact's consent allow it.
    SendEmail {
        template_id: Id,
    },
    /// A message about the record to a WeCom, DingTalk or Feishu group through its robot.
    PostToRobot {
        robot_id: Id,
        message: String,
    },
}

/// A change as a rule sees it.
pub struct Change<'a> {
    /// `create`, `update`, `delete`, … as the change log names it.
    pub action: &'a str,
    pub before: Option<&'a Value>,
    pub after: Option<&'a Value>,
}

impl Trigger {
    /// Whether the trigger is a time's (relative or scheduled) rather than a change's.
    pub fn is_timed(&self) -> bool {
        matches!(self, Trigger::Relative { .. } | Trigger::Schedule { .. })
    }

    /// Whether this change fires the trigger (a timed trigger fires on no change).
    pub fn fires(&self, change: &Change) -> bool {
        match self {
            Trigger::Relative { .. } | Trigger::Schedule { .. } => false,
            Trigger::Created => change.action == "create",
            Trigger::Deleted => change.action == "delete",
            Trigger::Updated { field, to } => {
                if change.action != "update" {
                    return false;
                }
                let Some(field) = field else { return true };
                let (b, a) = (
                    change.before.map(|v| lookup(v, field)),
                    change.after.map(|v| lookup(v, field)),
                );
                b != a
                    && to
                        .as_ref()
                        .is_none_or(|to| a.is_some_and(|a| loosely_eq(a, to)))
            }
            Trigger::StageMoved { to } => {
                let stage = |v: Option<&Value>| v.map(|v| v["stage"].clone());
                change.action == "update"
                    && stage(change.before) != stage(change.after)
                    && to
                        .as_ref()
                        .is_none_or(|to| change.after.is_some_and(|a| a["stage"] == **to))
            }
        }
    }
}

/// A field of a record as `Record::to_json` gives it: built-in and bookkeeping fields at
/// the top, custom ones under `custom` (named `custom.<key>` or by the bare key).
fn lookup<'v>(record: &'v Value, field: &str) -> &'v Value {
    if let Some(key) = field.strip_prefix("custom.") {
        return &record["custom"][key];
    }
    match record.get(field) {
        Some(v) => v,
        None => &record["custom"][field],
    }
}

/// The type of a condition's field: built-in fields by their description, bookkeeping
/// columns as the store has them, custom fields by what their value holds (`None`).
fn field_type(def: &EntityDef, field: &str) -> Option<FieldType> {
    match field {
        "id" | "owner_id" | "team_id" => Some(FieldType::Ref("")),
        "version" => Some(FieldType::Int),
        "created_at" | "updated_at" | "deleted_at" => Some(FieldType::Timestamp),
        _ => def.field(field).map(|f| f.ty),
    }
}

/// Whether `field` is a date or a time a relative trigger can count from.
pub fn dated_field(def: &EntityDef, field: &str) -> bool {
    matches!(
        field_type(def, field),
        Some(FieldType::Date | FieldType::Timestamp)
    ) && field != "deleted_at"
}

/// Whether `field` names something a condition on `def` can read.
pub fn known_field(def: &EntityDef, field: &str) -> bool {
    field_type(def, field).is_some()
        || field.strip_prefix("custom.").is_some_and(|k| {
            k.starts_with(|c: char| c.is_ascii_lowercase())
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// A number from a JSON value: money by its minor units, text parsed.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Object(m) => m.get("minor").and_then(Value::as_f64),
        _ => None,
    }
}

fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Equal as a person means it: `5` and `"5"`, `true` and `"true"` are the same value.
fn loosely_eq(a: &Value, b: &Value) -> bool {
    compare(None, a, b) == Some(Ordering::Equal)
}

/// Order two values of a field of type `ty`; `None` when they cannot be compared.
fn compare(ty: Option<FieldType>, a: &Value, b: &Value) -> Option<Ordering> {
    if a.is_null() || b.is_null() {
        return None;
    }
    match ty {
        Some(FieldType::Timestamp) => {
            let t = |v: &Value| DateTime::parse_from_rfc3339(v.as_str()?).ok();
            Some(t(a)?.cmp(&t(b)?))
        }
        Some(FieldType::Date) => {
            let d = |v: &Value| NaiveDate::parse_from_str(v.as_str()?, "%Y-%m-%d").ok();
            Some(d(a)?.cmp(&d(b)?))
        }
        Some(FieldType::Int | FieldType::Float | FieldType::Money) => {
            number(a)?.partial_cmp(&number(b)?)
        }
        Some(FieldType::Bool) => Some(boolean(a)?.cmp(&boolean(b)?)),
        _ => match (a, b) {
            (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
            (Value::Bool(_), _) | (_, Value::Bool(_)) => Some(boolean(a)?.cmp(&boolean(b)?)),
            _ => number(a)?.partial_cmp(&number(b)?),
        },
    }
}

fn empty(v: &Value) -> bool {
    v.is_null() || v.as_array().is_some_and(Vec::is_empty)
}

/// Whether `record` (as `Record::to_json` gives it) meets one condition.
pub fn meets(def: &EntityDef, f: &Filter, record: &Value) -> bool {
    let ty = field_type(def, &f.field);
    let v = lookup(record, &f.field);
    let lower = |v: &Value| v.as_str().map(str::to_lowercase);
    match f.op {
        Op::IsNull => boolean(&f.value) == Some(empty(v)),
        Op::Contains if ty == Some(FieldType::Tags) || v.is_array() => v
            .as_array()
            .is_some_and(|tags| tags.iter().any(|t| loosely_eq(t, &f.value))),
        Op::Contains => match (lower(v), lower(&f.value)) {
            (Some(v), Some(s)) => v.contains(&s),
            _ => false,
        },
        Op::StartsWith => match (lower(v), lower(&f.value)) {
            (Some(v), Some(s)) => v.starts_with(&s),
            _ => false,
        },
        Op::In => f.value.as_array().is_some_and(|items| {
            items
                .iter()
                .any(|i| compare(ty, v, i) == Some(Ordering::Equal))
        }),
        // "not X" includes records without a value, as in the list views.
        Op::Ne => compare(ty, v, &f.value) != Some(Ordering::Equal),
        Op::Eq => compare(ty, v, &f.value) == Some(Ordering::Equal),
        Op::Lt => compare(ty, v, &f.value) == Some(Ordering::Less),
        Op::Le => matches!(
            compare(ty, v, &f.value),
            Some(Ordering::Less | Ordering::Equal)
        ),
        Op::Gt => compare(ty, v, &f.value) == Some(Ordering::Greater),
        Op::Ge => matches!(
            compare(ty, v, &f.value),
            Some(Ordering::Greater | Ordering::Equal)
        ),
    }
}

/// Whether `record` meets every condition.
pub fn meets_all(def: &EntityDef, conditions: &[Filter], record: &Value) -> bool {
    conditions.iter().all(|f| meets(def, f, record))
}

/// Check a condition on `def` as the list views would: the field exists, the operator
/// applies to its type, the value fits it. Errors name `path` (`conditions[0]`).
pub fn check_condition(def: &EntityDef, f: &Filter, path: &str, e: &mut ValidationErrors) {
    if !known_field(def, &f.field) {
        e.add(
            format!("{path}.field"),
            "unknown_field",
            format!("{} has no field '{}'", def.name, f.field),
        );
        return;
    }
    let ty = field_type(def, &f.field);
    let bad_op = || {
        (
            format!("{path}.op"),
            "invalid",
            format!("operator '{}' does not apply to {}", f.op, f.field),
        )
    };
    let ordered = !matches!(
        ty,
        Some(
            FieldType::Bool
                | FieldType::Enum(_)
                | FieldType::Ref(_)
                | FieldType::Tags
                | FieldType::Json
        )
    ) || f.field == "id";
    let refused = match (f.op, ty) {
        (_, Some(FieldType::Json)) => true,
        (Op::Contains, Some(FieldType::Tags | FieldType::Text) | None) => false,
        (Op::StartsWith, Some(FieldType::Text) | None) => false,
        (Op::Contains | Op::StartsWith, _) => true,
        (Op::IsNull, _) => false,
        (_, Some(FieldType::Tags)) => true,
        (Op::Lt | Op::Le | Op::Gt | Op::Ge, _) => !ordered,
        _ => false,
    };
    if refused {
        let (field, code, message) = bad_op();
        e.add(field, code, message);
        return;
    }
    let values: Vec<&Value> = match f.op {
        Op::IsNull => {
            if boolean(&f.value).is_none() {
                e.add(
                    format!("{path}.value"),
                    "invalid",
                    "is_null takes true or false",
                );
            }
            return;
        }
        Op::In => match f.value.as_array() {
            Some(items) if !items.is_empty() && items.len() <= 1000 => items.iter().collect(),
            _ => {
                e.add(
                    format!("{path}.value"),
                    "invalid",
                    "'in' takes 1 to 1000 values",
                );
                return;
            }
        },
        _ => vec![&f.value],
    };
    for v in values {
        if let Some(ty) = ty
            && !fits(ty, v)
        {
            e.add(
                format!("{path}.value"),
                "invalid",
                format!("'{v}' is not a valid value for {}", f.field),
            );
            return;
        }
    }
}

/// Whether a value (as typed into a filter or a rule) fits a field of type `ty`.
pub fn fits(ty: FieldType, v: &Value) -> bool {
    match ty {
        FieldType::Text | FieldType::Json => v.is_string() || ty == FieldType::Json,
        FieldType::Int | FieldType::Money => number(v).is_some_and(|n| n.fract() == 0.0),
        FieldType::Float => number(v).is_some(),
        FieldType::Bool => boolean(v).is_some(),
        FieldType::Date => v
            .as_str()
            .is_some_and(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()),
        FieldType::Timestamp => v
            .as_str()
            .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok()),
        FieldType::Enum(values) => v.as_str().is_some_and(|s| values.contains(&s)),
        FieldType::Ref(_) => v.as_str().is_some_and(|s| Id::parse(s).is_ok()),
        FieldType::Tags => {
            v.is_string() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
        }
    }
}

/// The member whose turn it is, after the one who had the last turn (`last`): members in
/// the order given, wrapping around; the first when `last` is not (or no longer) a member.
pub fn next_in_turn(members: &[Id], last: Option<Id>) -> Option<Id> {
    let after = last.and_then(|l| members.iter().position(|m| *m == l));
    match after {
        Some(i) => members.get((i + 1) % members.len()).copied(),
        None => members.first().copied(),
    }
}

/// The member with the fewest open records (`load` by member); ties go to the first in
/// `members`' order, so the choice is stable.
pub fn least_loaded(members: &[Id], load: impl Fn(Id) -> u64) -> Option<Id> {
    members.iter().copied().min_by_key(|m| load(*m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Entity;
    use crate::entities::{Account, Case, Opportunity};
    use serde_json::json;

    fn f(field: &str, op: Op, value: Value) -> Filter {
        Filter::new(field, op, value)
    }

    fn case() -> Value {
        json!({
            "id": "0190d6c5-0000-7000-8000-000000000001",
            "status": "open", "priority": "high", "subject": "打印机 Broken",
            "satisfaction": 4, "sla_due_at": "2026-12-01T08:00:00Z",
            "tags": ["vip", "北京"], "assignee_id": null,
            "custom": { "region": "north", "score": 7 }
        })
    }

    #[test]
    fn conditions_mean_what_the_list_views_mean() {
        let d = Case::DEF;
        let r = case();
        assert!(meets(d, &f("status", Op::Eq, json!("open")), &r));
        assert!(!meets(d, &f("status", Op::Eq, json!("closed")), &r));
        assert!(meets(d, &f("status", Op::In, json!(["new", "open"])), &r));
        // "not X" includes records without a value.
        assert!(meets(
            d,
            &f(
                "assignee_id",
                Op::Ne,
                json!("0190d6c5-0000-7000-8000-000000000002")
            ),
            &r
        ));
        assert!(meets(d, &f("assignee_id", Op::IsNull, json!(true)), &r));
        assert!(meets(d, &f("subject", Op::Contains, json!("broken")), &r));
        assert!(meets(d, &f("subject", Op::StartsWith, json!("打印")), &r));
        assert!(!meets(
            d,
            &f("subject", Op::StartsWith, json!("Broken")),
            &r
        ));
        assert!(meets(d, &f("satisfaction", Op::Ge, json!("4")), &r));
        assert!(!meets(d, &f("satisfaction", Op::Gt, json!(4)), &r));
        // Times compare as instants, whatever their offsets.
        assert!(!meets(
            d,
            &f("sla_due_at", Op::Lt, json!("2026-12-01T09:00:00+01:00")),
            &r
        ));
        assert!(meets(
            d,
            &f("sla_due_at", Op::Lt, json!("2026-12-01T17:00:00+08:00")),
            &r
        ));
        assert!(meets(
            d,
            &f("sla_due_at", Op::Le, json!("2026-12-01T16:00:00+08:00")),
            &r
        ));
        assert!(meets(d, &f("tags", Op::Contains, json!("北京")), &r));
        assert!(!meets(d, &f("tags", Op::IsNull, json!(true)), &r));
        assert!(meets(d, &f("custom.region", Op::Eq, json!("north")), &r));
        assert!(meets(d, &f("region", Op::Eq, json!("north")), &r));
        assert!(meets(d, &f("custom.score", Op::Gt, json!("6")), &r));
        assert!(!meets(d, &f("custom.missing", Op::Eq, json!("x")), &r));
        assert!(meets_all(
            d,
            &[
                f("status", Op::Eq, json!("open")),
                f("priority", Op::Eq, json!("high"))
            ],
            &r
        ));
        assert!(!meets_all(
            d,
            &[
                f("status", Op::Eq, json!("open")),
                f("priority", Op::Eq, json!("low"))
            ],
            &r
        ));
    }

    #[test]
    fn money_compares_by_minor_units() {
        let deal = json!({ "amount": { "minor": 5_000_00, "currency": "CNY" }, "custom": {} });
        let d = Opportunity::DEF;
        assert!(meets(d, &f("amount", Op::Ge, json!(5_000_00)), &deal));
        assert!(!meets(d, &f("amount", Op::Gt, json!("500000")), &deal));
    }

    #[test]
    fn bad_conditions_name_the_part_that_is_wrong() {
        let check_on = |d: &EntityDef, c: Filter| {
            let mut e = ValidationErrors::new();
            check_condition(d, &c, "conditions[0]", &mut e);
            e.0.into_iter().map(|e| e.field).collect::<Vec<_>>()
        };
        let check = |c: Filter| check_on(Case::DEF, c);
        assert_eq!(check(f("nope", Op::Eq, json!(1))), ["conditions[0].field"]);
        assert_eq!(
            check(f("custom.Bad-Key", Op::Eq, json!(1))),
            ["conditions[0].field"]
        );
        assert_eq!(
            check(f("status", Op::Eq, json!("unknown"))),
            ["conditions[0].value"]
        );
        assert_eq!(
            check(f("status", Op::Gt, json!("open"))),
            ["conditions[0].op"]
        );
        assert_eq!(
            check(f("satisfaction", Op::Eq, json!("many"))),
            ["conditions[0].value"]
        );
        assert_eq!(
            check(f("sla_due_at", Op::Lt, json!("tomorrow"))),
            ["conditions[0].value"]
        );
        let tags = |op, v| check_on(Account::DEF, f("tags", op, v));
        assert_eq!(tags(Op::Gt, json!("x")), ["conditions[0].op"]);
        assert!(tags(Op::Contains, json!("vip")).is_empty());
        assert_eq!(
            check(f("status", Op::In, json!([]))),
            ["conditions[0].value"]
        );
        assert!(check(f("status", Op::In, json!(["open", "new"]))).is_empty());
        assert!(check(f("custom.region", Op::Contains, json!("n"))).is_empty());
        assert!(check(f("owner_id", Op::IsNull, json!(false))).is_empty());
    }

    #[test]
    fn triggers_fire_on_the_changes_they_name() {
        let before = json!({ "status": "open", "stage": "qualification", "custom": {} });
        let after = json!({ "status": "closed", "stage": "proposal", "custom": {} });
        let upd = Change {
            action: "update",
            before: Some(&before),
            after: Some(&after),
        };
        let create = Change {
            action: "create",
            before: None,
            after: Some(&after),
        };
        assert!(Trigger::Created.fires(&create));
        assert!(!Trigger::Created.fires(&upd));
        let any = Trigger::Updated {
            field: None,
            to: None,
        };
        assert!(any.fires(&upd) && !any.fires(&create));
        let status = Trigger::Updated {
            field: Some("status".into()),
            to: None,
        };
        assert!(status.fires(&upd));
        let to_closed = Trigger::Updated {
            field: Some("status".into()),
            to: Some(json!("closed")),
        };
        assert!(to_closed.fires(&upd));
        let to_open = Trigger::Updated {
            field: Some("status".into()),
            to: Some(json!("open")),
        };
        assert!(!to_open.fires(&upd));
        let same = json!({ "status": "open", "stage": "qualification", "custom": {} });
        let unchanged = Change {
            action: "update",
            before: Some(&before),
            after: Some(&same),
        };
        assert!(!status.fires(&unchanged));
        assert!(Trigger::StageMoved { to: None }.fires(&upd));
        assert!(
            Trigger::StageMoved {
                to: Some("proposal".into())
            }
            .fires(&upd)
        );
        assert!(
            !Trigger::StageMoved {
                to: Some("won".into())
            }
            .fires(&upd)
        );
        assert!(!Trigger::StageMoved { to: None }.fires(&unchanged));
        let del = Change {
            action: "delete",
            before: Some(&before),
            after: None,
        };
        assert!(Trigger::Deleted.fires(&del));
    }

    #[test]
    fn relative_times_count_from_the_date_field() {
        let zone = FixedOffset::east_opt(8 * 3600).unwrap();
        let d = Opportunity::DEF;
        let deal = json!({ "expected_close": "2026-12-10", "custom": {} });
        // A date counts from 09:00 China time: 01:00 UTC; three days before.
        assert_eq!(
            due_at(d, "expected_close", -3 * 24 * 60, &deal, zone).unwrap(),
            "2026-12-07T01:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let c = Case::DEF;
        assert_eq!(
            due_at(c, "sla_due_at", 120, &case(), zone).unwrap(),
            "2026-12-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let empty = json!({ "sla_due_at": null, "custom": {} });
        assert_eq!(due_at(c, "sla_due_at", 120, &empty, zone), None);
        assert_eq!(due_at(c, "subject", 0, &case(), zone), None);
        assert!(dated_field(c, "sla_due_at") && dated_field(c, "created_at"));
        assert!(!dated_field(c, "subject") && !dated_field(c, "deleted_at"));
    }

    #[test]
    fn schedules_name_the_next_moment_in_the_organisations_time() {
        let zone = FixedOffset::east_opt(8 * 3600).unwrap();
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // Monday 2026-12-07 08:00 China time.
        let now = t("2026-12-07T00:00:00Z");
        assert_eq!(
            next_occurrence("09:00", &[], now, zone),
            Some(t("2026-12-07T01:00:00Z"))
        );
        // Exactly at the time: the next one, so an occurrence never repeats.
        assert_eq!(
            next_occurrence("09:00", &[], t("2026-12-07T01:00:00Z"), zone),
            Some(t("2026-12-08T01:00:00Z"))
        );
        // Fridays only: the 11th.
        assert_eq!(
            next_occurrence("18:30", &[Day::Fri], now, zone),
            Some(t("2026-12-11T10:30:00Z"))
        );
        // Monday past 09:00 with Mondays only: a week on.
        assert_eq!(
            next_occurrence("09:00", &[Day::Mon], t("2026-12-07T02:00:00Z"), zone),
            Some(t("2026-12-14T01:00:00Z"))
        );
        assert_eq!(next_occurrence("9 am", &[], now, zone), None);
        assert_eq!(next_occurrence("25:00", &[], now, zone), None);
    }

    #[test]
    fn timed_triggers_fire_on_no_change() {
        let after = json!({ "custom": {} });
        let create = Change {
            action: "create",
            before: None,
            after: Some(&after),
        };
        let rel = Trigger::Relative {
            field: "sla_due_at".into(),
            offset_minutes: 0,
        };
        let sched = Trigger::Schedule {
            at: "09:00".into(),
            days: vec![],
        };
        assert!(!rel.fires(&create) && !sched.fires(&create));
        assert!(rel.is_timed() && sched.is_timed() && !Trigger::Created.is_timed());
        let parsed: Trigger = serde_json::from_value(
            json!({"on": "schedule", "at": "09:00", "days": ["mon", "fri"]}),
        )
        .unwrap();
        assert_eq!(
            parsed,
            Trigger::Schedule {
                at: "09:00".into(),
                days: vec![Day::Mon, Day::Fri]
            }
        );
    }

    #[test]
    fn round_robin_and_least_loaded() {
        let ids: Vec<Id> = (0..3).map(|_| Id::new()).collect();
        assert_eq!(next_in_turn(&ids, None), Some(ids[0]));
        assert_eq!(next_in_turn(&ids, Some(ids[0])), Some(ids[1]));
        assert_eq!(next_in_turn(&ids, Some(ids[2])), Some(ids[0]));
        assert_eq!(next_in_turn(&ids, Some(Id::new())), Some(ids[0]));
        assert_eq!(next_in_turn(&[], None), None);
        // Ties go to the first of the least loaded.
        let load = |m: Id| if m == ids[0] { 5 } else { 2 };
        assert_eq!(least_loaded(&ids, load), Some(ids[1]));
    }
}
