use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*, all_defs};
use crate::filter::Filter;
use crate::rules::{
    Action, MAX_OFFSET_MINUTES, Trigger, check_condition, dated_field, fits, known_field,
    time_of_day,
};
use crate::{EntityDef as Def, ValidationErrors};
use serde::{Deserialize, Serialize};

/// A workflow rule: when `trigger` fires on a record of `entity` that meets every
/// condition, the actions run, in order, each written as the rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    /// The records it watches (`case`, `lead`, …): a customer record's entity.
    pub entity: String,
    pub trigger: Trigger,
    /// The list views' filters, all of which the record must meet after the change.
    #[serde(default)]
    pub conditions: Vec<Filter>,
    pub actions: Vec<Action>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}

/// The most actions one rule runs.
pub const MAX_ACTIONS: usize = 20;

impl Rule {
    /// The description of the entity the rule watches, if it is one rules may watch.
    pub fn target(&self) -> Option<&'static Def> {
        rule_targets().find(|d| d.name == self.entity)
    }
}

/// The entities rules may watch: customer records (owned and scoped), not the
/// organisation's own set-up.
pub fn rule_targets() -> impl Iterator<Item = &'static Def> {
    all_defs().iter().copied().filter(|d| d.scoped)
}

impl Entity for Rule {
    const DEF: &'static EntityDef = &EntityDef {
        name: "rule",
        table: "rules",
        scoped: false,
        fields: &[
            FieldDef::new("name", Text),
            FieldDef::new("entity", Text),
            FieldDef::new("trigger", Json),
            FieldDef::new("conditions", Json),
            FieldDef::new("actions", Json),
            FieldDef::new("active", Bool),
            FieldDef::new("description", Text),
        ],
        collection: Some("rules"),
        list_columns: &["name", "entity", "active", "updated_at"],
        ..EntityDef::PLAIN
    };

    fn normalize(&mut self) {
        self.name = self.name.trim().to_string();
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 200);
        e.opt_text("description", &self.description, 2000);
        let Some(def) = self.target() else {
            let names: Vec<&str> = rule_targets().map(|d| d.name).collect();
            e.add(
                "entity",
                "invalid",
                format!("rules watch one of {}", names.join(", ")),
            );
            return e.into_result();
        };
        check_trigger(def, &self.trigger, &mut e);
        for (i, c) in self.conditions.iter().enumerate() {
            check_condition(def, c, &format!("conditions[{i}]"), &mut e);
        }
        if self.actions.is_empty() {
            e.add("actions", "required", "a rule does at least one thing");
        }
        if self.actions.len() > MAX_ACTIONS {
            e.add(
                "actions",
                "too_long",
                format!("at most {MAX_ACTIONS} actions"),
            );
        }
        for (i, a) in self.actions.iter().enumerate() {
            check_action(def, a, &format!("actions[{i}]"), &mut e);
        }
        e.into_result()
    }
}

fn check_trigger(def: &Def, t: &Trigger, e: &mut ValidationErrors) {
    match t {
        Trigger::Updated {
            field: Some(field),
            to,
        } => {
            if !known_field(def, field) {
                e.add(
                    "trigger.field",
                    "unknown_field",
                    format!("{} has no field '{field}'", def.name),
                );
            } else if let (Some(to), Some(f)) = (to, def.field(field))
                && !fits(f.ty, to)
            {
                e.add(
                    "trigger.to",
                    "invalid",
                    format!("'{to}' is not a valid value for {field}"),
                );
            }
        }
        Trigger::Relative {
            field,
            offset_minutes,
        } => {
            if !dated_field(def, field) {
                e.add(
                    "trigger.field",
                    "invalid",
                    format!("{} has no date field '{field}'", def.name),
                );
            }
            e.range(
                "trigger.offset_minutes",
                *offset_minutes,
                -MAX_OFFSET_MINUTES,
                MAX_OFFSET_MINUTES,
            );
        }
        Trigger::Schedule { at, .. } if time_of_day(at).is_none() => {
            e.add(
                "trigger.at",
                "invalid",
                "a time of day as HH:MM, e.g. 09:00",
            );
        }
        Trigger::StageMoved { .. } if def.field("stage").is_none() => {
            e.add(
                "trigger.on",
                "invalid",
                format!("{} records have no stage", def.name),
            );
        }
        _ => {}
    }
}

pub(crate) fn check_action(def: &Def, a: &Action, path: &str, e: &mut ValidationErrors) {
    match a {
        // Who an assignee names is checked when the rule runs: users and teams change; so
        // is the webhook a call names (it may be switched off or deleted meanwhile).
        Action::AssignOwner { .. } | Action::CallWebhook { .. } => {}
        Action::CreateTask {
            subject,
            due_in_hours,
            ..
        } => {
            e.text(&format!("{path}.subject"), subject, 200);
            e.range(&format!("{path}.due_in_hours"), *due_in_hours, 0, 24 * 365);
        }
        Action::Notify { message, .. }
        | Action::Escalate { message, .. }
        | Action::PostToRobot { message, .. } => {
            e.text(&format!("{path}.message"), message, 1000);
        }
        Action::UpdateField { field, value } => {
            let builtin = def.field(field);
            let writable = match builtin {
                Some(f) => !f.computed && f.ty != Json,
                None => field.starts_with("custom.") && known_field(def, field),
            };
            if !writable {
                e.add(
                    format!("{path}.field"),
                    "unknown_field",
                    format!("{} has no field '{field}' a rule may set", def.name),
                );
            } else if let Some(f) = builtin
                && !value.is_null()
                && !fits(f.ty, value)
            {
                e.add(
                    format!("{path}.value"),
                    "invalid",
                    format!("'{value}' is not a valid value for {field}"),
                );
            }
        }
        // Whether the template is there is checked when the rule runs, as for users.
        Action::SendEmail { .. } => {
            if def.name != "contact" && def.field("contact_id").is_none() {
                e.add(
                    format!("{path}.type"),
                    "invalid",
                    format!("{} records name no contact to send to", def.name),
                );
            }
        }
        Action::AddTag { tag } => {
            if def.field("tags").map(|f| f.ty) != Some(Tags) {
                e.add(
                    format!("{path}.type"),
                    "invalid",
                    format!("{} records have no tags", def.name),
                );
            }
            e.text(&format!("{path}.tag"), tag, 50);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Op;
    use serde_json::json;

    fn rule(v: serde_json::Value) -> Result<Rule, String> {
        serde_json::from_value::<Rule>(v).map_err(|e| e.to_string())
    }

    fn fields(r: &Rule) -> Vec<String> {
        r.validate()
            .err()
            .map(|e| e.0.into_iter().map(|e| e.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_rule_reads_as_an_administrator_writes_it() {
        let r = rule(json!({
            "name": "VIP cases to the senior team",
            "entity": "case",
            "trigger": { "on": "created" },
            "conditions": [{ "field": "priority", "op": "eq", "value": "urgent" }],
            "actions": [
                { "type": "assign_owner", "to": { "how": "round_robin", "team_id": "0190d6c5-0000-7000-8000-000000000009" } },
                { "type": "create_task", "assignee": { "how": "owner" }, "subject": "回电", "due_in_hours": 2 },
                { "type": "update_field", "field": "priority", "value": "high" }
            ]
        }))
        .unwrap();
        assert!(r.active);
        assert_eq!(r.conditions[0].op, Op::Eq);
        assert_eq!(fields(&r), Vec::<String>::new());
    }

    #[test]
    fn what_is_wrong_is_named() {
        let r = rule(json!({
            "name": " ",
            "entity": "case",
            "trigger": { "on": "updated", "field": "status", "to": "gone" },
            "conditions": [{ "field": "colour", "op": "eq", "value": "red" }],
            "actions": [
                { "type": "update_field", "field": "nope", "value": 1 },
                { "type": "update_field", "field": "satisfaction", "value": "many" },
                { "type": "create_task", "assignee": { "how": "owner" }, "subject": "", "due_in_hours": -1 },
                { "type": "add_tag", "tag": "vip" }
            ]
        }))
        .unwrap();
        assert_eq!(
            fields(&r),
            [
                "name",
                "trigger.to",
                "conditions[0].field",
                "actions[0].field",
                "actions[1].value",
                "actions[2].subject",
                "actions[2].due_in_hours",
                "actions[3].type"
            ]
        );
        let r = rule(json!({
            "name": "x", "entity": "user", "trigger": { "on": "created" }, "actions": []
        }))
        .unwrap();
        assert_eq!(fields(&r), ["entity"]);
        let r = rule(json!({
            "name": "x", "entity": "case", "trigger": { "on": "stage_moved" }, "actions": []
        }))
        .unwrap();
        assert_eq!(fields(&r), ["trigger.on", "actions"]);
        assert!(rule(json!({ "name": "x", "entity": "case", "trigger": { "on": "sometimes" }, "actions": [] })).is_err());
        let mail =
            json!({ "type": "send_email", "template_id": "0190d6c5-0000-7000-8000-000000000009" });
        let r = rule(json!({
            "name": "x", "entity": "account", "trigger": { "on": "created" }, "actions": [mail]
        }))
        .unwrap();
        assert_eq!(fields(&r), ["actions[0].type"]);
        for entity in ["contact", "case"] {
            let r = rule(json!({
                "name": "x", "entity": entity, "trigger": { "on": "created" }, "actions": [mail]
            }))
            .unwrap();
            assert_eq!(fields(&r), Vec::<String>::new(), "{entity}");
        }
    }

    #[test]
    fn timed_triggers_name_a_date_field_and_a_time_of_day() {
        let tag = json!([{ "type": "notify", "to": { "how": "owner" }, "message": "late" }]);
        let r = rule(json!({
            "name": "x", "entity": "case", "actions": tag,
            "trigger": { "on": "relative", "field": "subject", "offset_minutes": 600_000 }
        }))
        .unwrap();
        assert_eq!(fields(&r), ["trigger.field", "trigger.offset_minutes"]);
        let r = rule(json!({
            "name": "x", "entity": "case", "actions": tag,
            "trigger": { "on": "relative", "field": "sla_due_at", "offset_minutes": 120 }
        }))
        .unwrap();
        assert!(fields(&r).is_empty());
        let r = rule(json!({
            "name": "x", "entity": "case", "actions": tag,
            "trigger": { "on": "schedule", "at": "9 o'clock" }
        }))
        .unwrap();
        assert_eq!(fields(&r), ["trigger.at"]);
    }
}
