//! Rules in words: triggers, conditions, actions and what a run's actions did, in the
//! page's language.

use super::super::fields::{self, Names};
use super::super::i18n::Tr;
use super::super::names::Wanted;
use super::draft::text_of;
use guanxi_domain::Id;
use guanxi_domain::custom::CustomFieldDef;
use guanxi_domain::entity::{EntityDef, FieldType};
use guanxi_domain::filter::{Filter, Op};
use guanxi_domain::rules::{Action, Assignee, Trigger};
use serde_json::{Value, json};

pub(in crate::web) fn enum_text(t: Tr, def: &EntityDef, field: &str, v: &Value) -> String {
    match (def.field(field).map(|f| f.ty), v.as_str()) {
        (Some(FieldType::Enum(_)), Some(s)) => t.choice(def.name, field, s),
        _ => text_of(v),
    }
}

pub(super) fn trigger_words(
    t: Tr,
    def: &EntityDef,
    custom: &[CustomFieldDef],
    tr: &Trigger,
) -> String {
    match tr {
        Trigger::Created => t.s("rules.when.created").to_string(),
        Trigger::Deleted => t.s("rules.when.deleted").to_string(),
        Trigger::Updated { field: None, .. } => t.s("rules.when.updated").to_string(),
        Trigger::Updated {
            field: Some(f),
            to: None,
        } => t.f(
            "rules.when.field_changed",
            &[("field", &label_of(t, def, custom, f))],
        ),
        Trigger::Updated {
            field: Some(f),
            to: Some(to),
        } => t.f(
            "rules.when.field_changed_to",
            &[
                ("field", &label_of(t, def, custom, f)),
                ("value", &enum_text(t, def, f, to)),
            ],
        ),
        Trigger::StageMoved { to: None } => t.s("rules.when.stage_moved").to_string(),
        Trigger::StageMoved { to: Some(s) } => {
            t.f("rules.when.stage_moved_to", &[("stage", s.as_str())])
        }
        Trigger::Relative {
            field,
            offset_minutes,
        } => {
            let field = label_of(t, def, custom, field);
            let m = offset_minutes.abs();
            let (n, unit) = match m {
                0 => return t.f("rules.when.relative_at", &[("field", &field)]),
                _ if m % (24 * 60) == 0 => (m / (24 * 60), "days"),
                _ if m % 60 == 0 => (m / 60, "hours"),
                _ => (m, "minutes"),
            };
            let offset = t.f(&format!("rules.units.{unit}"), &[("n", &n.to_string())]);
            let key = if *offset_minutes < 0 {
                "rules.when.relative_before"
            } else {
                "rules.when.relative_after"
            };
            t.f(key, &[("field", &field), ("offset", &offset)])
        }
        Trigger::Schedule { at, days } if days.is_empty() => {
            t.f("rules.when.schedule", &[("at", at.as_str())])
        }
        Trigger::Schedule { at, days } => {
            let names: Vec<&str> = days
                .iter()
                .map(|d| t.s(&format!("rules.day.{}", d.as_str())))
                .collect();
            t.f(
                "rules.when.schedule_days",
                &[
                    ("at", at.as_str()),
                    ("days", &names.join(t.s("rules.list_sep"))),
                ],
            )
        }
    }
}

pub(in crate::web) fn condition_words(
    t: Tr,
    def: &EntityDef,
    custom: &[CustomFieldDef],
    c: &Filter,
) -> String {
    let value = match &c.value {
        Value::Array(items) => items
            .iter()
            .map(|v| enum_text(t, def, &c.field, v))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Bool(b) if c.op == Op::IsNull => t.yes_no(*b).to_string(),
        v => enum_text(t, def, &c.field, v),
    };
    format!(
        "{} {} {}",
        label_of(t, def, custom, &c.field),
        t.s(&format!("op.{}", c.op)),
        value
    )
}

pub(in crate::web) fn name_of(names: &Names, id: &Id) -> String {
    names
        .get(id)
        .cloned()
        .unwrap_or_else(|| id.to_string().chars().take(8).collect())
}

pub(super) fn assignee_words(t: Tr, who: &Assignee, names: &Names) -> String {
    match who {
        Assignee::Owner => t.s("rules.who.the_owner").to_string(),
        Assignee::User { user_id } => name_of(names, user_id),
        Assignee::RoundRobin { team_id } => t.f(
            "rules.who.round_robin_in",
            &[("team", &name_of(names, team_id))],
        ),
        Assignee::LeastLoaded { team_id } => t.f(
            "rules.who.least_loaded_in",
            &[("team", &name_of(names, team_id))],
        ),
    }
}

pub(in crate::web) fn action_words(
    t: Tr,
    def: &EntityDef,
    custom: &[CustomFieldDef],
    a: &Action,
    names: &Names,
) -> String {
    match a {
        Action::AssignOwner { to } => t.f(
            "rules.did.assign_owner",
            &[("who", &assignee_words(t, to, names))],
        ),
        Action::CreateTask {
            assignee,
            subject,
            due_in_hours,
        } => t.f(
            "rules.did.create_task",
            &[
                ("subject", subject.as_str()),
                ("who", &assignee_words(t, assignee, names)),
                ("hours", &due_in_hours.to_string()),
            ],
        ),
        Action::UpdateField { field, value } => t.f(
            "rules.did.update_field",
            &[
                ("field", &label_of(t, def, custom, field)),
                ("value", &enum_text(t, def, field, value)),
            ],
        ),
        Action::AddTag { tag } => t.f("rules.did.add_tag", &[("tag", tag.as_str())]),
        Action::Notify { to, message } => t.f(
            "rules.did.notify",
            &[
                ("who", &assignee_words(t, to, names)),
                ("message", message.as_str()),
            ],
        ),
        Action::Escalate { to, message } => t.f(
            "rules.did.escalate",
            &[
                ("who", &assignee_words(t, to, names)),
                ("message", message.as_str()),
            ],
        ),
        Action::CallWebhook { webhook_id } => t.f(
            "rules.did.call_webhook",
            &[("webhook", &name_of(names, webhook_id))],
        ),
        Action::SendEmail { template_id } => t.f(
            "rules.did.send_email",
            &[("template", &name_of(names, template_id))],
        ),
        Action::PostToRobot { robot_id, message } => t.f(
            "rules.did.post_to_robot",
            &[
                ("robot", &name_of(names, robot_id)),
                ("message", message.as_str()),
            ],
        ),
    }
}

/// The users and teams a rule's actions name, to show by name.
pub(super) fn want_people(w: &mut Wanted, actions: &[Action]) {
    for a in actions {
        let who = match a {
            Action::AssignOwner { to } => to,
            Action::CreateTask { assignee, .. } => assignee,
            Action::Notify { to, .. } | Action::Escalate { to, .. } => to,
            Action::CallWebhook { webhook_id } => {
                w.add("webhooks", &json!(webhook_id));
                continue;
            }
            Action::SendEmail { template_id } => {
                w.add("email_templates", &json!(template_id));
                continue;
            }
            Action::PostToRobot { robot_id, .. } => {
                w.add("robots", &json!(robot_id));
                continue;
            }
            Action::UpdateField { .. } | Action::AddTag { .. } => continue,
        };
        match who {
            Assignee::User { user_id } => w.add("users", &json!(user_id)),
            Assignee::RoundRobin { team_id } | Assignee::LeastLoaded { team_id } => {
                w.add("teams", &json!(team_id))
            }
            Assignee::Owner => {}
        }
    }
}

pub(super) fn status_label(t: Tr, status: &str) -> String {
    let key = format!("rules.status.{status}");
    if t.has(&key) {
        t.s(&key).to_string()
    } else {
        status.to_string()
    }
}

/// What one action of a run did, from the run's detail (`{"action": 0, "did": {…}}`).
pub(super) fn did_words(t: Tr, item: &Value, names: &Names) -> String {
    if let Some(e) = item["error"].as_str() {
        return format!("{}: {e}", t.s("rules.failed_with"));
    }
    let did = &item["did"];
    if did["unchanged"] == true {
        return t.s("rules.unchanged").to_string();
    }
    // A send the contact's consent or details did not allow: an answer, said in words.
    if let Some(why) = did["refused"].as_str() {
        let key = format!("rules.refused.{why}");
        return if t.has(&key) {
            t.s(&key).to_string()
        } else {
            why.to_string()
        };
    }
    did.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let shown = match (k.as_str(), v.as_str().and_then(|s| Id::parse(s).ok())) {
                        ("owner_id", Some(id)) => name_of(names, &id),
                        _ => text_of(v),
                    };
                    format!("{k} = {shown}")
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

pub(in crate::web) fn label_of(
    t: Tr,
    def: &EntityDef,
    custom: &[CustomFieldDef],
    field: &str,
) -> String {
    match field.strip_prefix("custom.") {
        Some(key) => custom
            .iter()
            .find(|c| c.key == key)
            .map_or_else(|| key.to_string(), |c| fields::custom_label(t, c)),
        None if field == "owner_id" || def.field(field).is_some() => {
            t.field(def.name, field).to_string()
        }
        None => field.to_string(),
    }
}
