//! The rule form as typed ([`Draft`]): read from the posted form or from a stored rule,
//! turned into a `Rule`, and the write path's errors placed beside the inputs they name.

use super::super::fields;
use super::super::i18n::Tr;
use super::super::page::FormData;
use guanxi_domain::custom::CustomFieldDef;
use guanxi_domain::entities::Rule;
use guanxi_domain::entity::{EntityDef, FieldType};
use guanxi_domain::filter::{Filter, Op};
use guanxi_domain::rules::{Action, Assignee, Day, Trigger};
use guanxi_domain::{FieldError, Id};
use serde_json::{Value, json};

/// A condition row as typed.
#[derive(Clone, Default)]
pub(super) struct CondDraft {
    pub(super) field: String,
    pub(super) op: String,
    pub(super) value: String,
}

/// An action row as typed: every input of every type, so rows line up in the posted form.
#[derive(Clone, Default)]
pub(super) struct ActDraft {
    pub(super) ty: String,
    pub(super) how: String,
    pub(super) user: String,
    pub(super) team: String,
    pub(super) subject: String,
    pub(super) due: String,
    pub(super) field: String,
    pub(super) value: String,
    pub(super) tag: String,
    pub(super) message: String,
    pub(super) webhook: String,
    pub(super) template: String,
    pub(super) robot: String,
}

/// The rule form's inputs, as text.
#[derive(Clone, Default)]
pub(super) struct Draft {
    pub(super) name: String,
    pub(super) entity: String,
    pub(super) active: bool,
    pub(super) description: String,
    pub(super) on: String,
    pub(super) on_field: String,
    pub(super) on_to: String,
    pub(super) on_stage: String,
    /// A relative time: the date field, how much, in what unit, before or after it.
    pub(super) on_date: String,
    pub(super) on_amount: String,
    pub(super) on_unit: String,
    pub(super) on_dir: String,
    /// A schedule: the time of day and the days ticked (none: every day).
    pub(super) on_at: String,
    pub(super) on_days: Vec<String>,
    pub(super) conditions: Vec<CondDraft>,
    pub(super) actions: Vec<ActDraft>,
}

/// A value as a person types it: `["a","b"]` as `a, b`.
pub(in crate::web) fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(text_of).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// What was typed, as the JSON value a field of type `ty` takes (numbers and booleans
/// typed); left as text when it does not parse, so validation names it.
pub(in crate::web) fn typed(ty: Option<FieldType>, text: &str) -> Value {
    let text = text.trim();
    match ty {
        Some(FieldType::Int | FieldType::Float | FieldType::Money) => match text.parse::<f64>() {
            Ok(n) if n.fract() == 0.0 && n.abs() < 9e15 => json!(n as i64),
            Ok(n) => json!(n),
            Err(_) => json!(text),
        },
        Some(FieldType::Bool) => match text {
            "true" => json!(true),
            "false" => json!(false),
            _ => json!(text),
        },
        _ => json!(text),
    }
}

/// The type of a field a rule names: built-in, the owner, or custom.
pub(in crate::web) fn type_of(
    def: &EntityDef,
    custom: &[CustomFieldDef],
    field: &str,
) -> Option<FieldType> {
    if let Some(key) = field.strip_prefix("custom.") {
        return custom.iter().find(|c| c.key == key).map(|c| c.field_type());
    }
    match field {
        "owner_id" => Some(FieldType::Ref("users")),
        _ => def.field(field).map(|f| f.ty),
    }
}

pub(super) fn err(field: String, code: &'static str) -> FieldError {
    FieldError {
        field,
        code,
        message: String::new(),
    }
}

impl Draft {
    pub(super) fn of_form(form: &FormData) -> Draft {
        let col = |name: &str| -> Vec<String> { form.all(name).map(|s| s.to_string()).collect() };
        let at = |v: &[String], i: usize| v.get(i).cloned().unwrap_or_default();
        let (cf, co, cv) = (col("c_field"), col("c_op"), col("c_value"));
        let conditions = (0..cf.len())
            .map(|i| CondDraft {
                field: at(&cf, i),
                op: at(&co, i),
                value: at(&cv, i),
            })
            .filter(|c| !c.field.trim().is_empty() || !c.value.trim().is_empty())
            .collect();
        let names = [
            "a_type",
            "a_how",
            "a_user",
            "a_team",
            "a_subject",
            "a_due",
            "a_field",
            "a_value",
            "a_tag",
            "a_message",
            "a_webhook",
            "a_template",
            "a_robot",
        ];
        let cols: Vec<Vec<String>> = names.iter().map(|n| col(n)).collect();
        let actions = (0..cols[0].len())
            .map(|i| ActDraft {
                ty: at(&cols[0], i),
                how: at(&cols[1], i),
                user: at(&cols[2], i),
                team: at(&cols[3], i),
                subject: at(&cols[4], i),
                due: at(&cols[5], i),
                field: at(&cols[6], i),
                value: at(&cols[7], i),
                tag: at(&cols[8], i),
                message: at(&cols[9], i),
                webhook: at(&cols[10], i),
                template: at(&cols[11], i),
                robot: at(&cols[12], i),
            })
            .filter(|a| !a.ty.is_empty())
            .collect();
        Draft {
            name: form.text("name").to_string(),
            entity: form.text("entity").to_string(),
            active: form.get("active").is_some(),
            description: form.get("description").unwrap_or("").to_string(),
            on: form.text("on").to_string(),
            on_field: form.text("on_field").to_string(),
            on_to: form.get("on_to").unwrap_or("").to_string(),
            on_stage: form.text("on_stage").to_string(),
            on_date: form.text("on_date").to_string(),
            on_amount: form.text("on_amount").to_string(),
            on_unit: form.text("on_unit").to_string(),
            on_dir: form.text("on_dir").to_string(),
            on_at: form.text("on_at").to_string(),
            on_days: col("on_days"),
            conditions,
            actions,
        }
    }

    pub(super) fn of_rule(r: &Rule) -> Draft {
        let mut d = Draft {
            name: r.name.clone(),
            entity: r.entity.clone(),
            active: r.active,
            description: r.description.clone().unwrap_or_default(),
            ..Draft::default()
        };
        match &r.trigger {
            Trigger::Created => d.on = "created".into(),
            Trigger::Deleted => d.on = "deleted".into(),
            Trigger::Updated { field, to } => {
                d.on = "updated".into();
                d.on_field = field.clone().unwrap_or_default();
                d.on_to = to.as_ref().map(text_of).unwrap_or_default();
            }
            Trigger::StageMoved { to } => {
                d.on = "stage_moved".into();
                d.on_stage = to.clone().unwrap_or_default();
            }
            Trigger::Relative {
                field,
                offset_minutes,
            } => {
                d.on = "relative".into();
                d.on_date = field.clone();
                let m = offset_minutes.abs();
                let (amount, unit) = match m {
                    _ if m % (24 * 60) == 0 => (m / (24 * 60), "days"),
                    _ if m % 60 == 0 => (m / 60, "hours"),
                    _ => (m, "minutes"),
                };
                d.on_amount = amount.to_string();
                d.on_unit = unit.into();
                d.on_dir = if *offset_minutes < 0 {
                    "before"
                } else {
                    "after"
                }
                .into();
            }
            Trigger::Schedule { at, days } => {
                d.on = "schedule".into();
                d.on_at = at.clone();
                d.on_days = days.iter().map(|x| x.as_str().to_string()).collect();
            }
        }
        d.conditions = r
            .conditions
            .iter()
            .map(|c| CondDraft {
                field: c.field.clone(),
                op: c.op.as_str().to_string(),
                value: text_of(&c.value),
            })
            .collect();
        d.actions = r.actions.iter().map(act_draft).collect();
        d
    }

    /// The rule this draft describes, or what could not be read from it (a missing user, a
    /// due time that is no number); the rest is the `Rule`'s own validation's to say.
    pub(super) fn rule(
        &self,
        def: Option<&EntityDef>,
        custom: &[CustomFieldDef],
    ) -> Result<Rule, Vec<FieldError>> {
        let mut errors = vec![];
        let ty = |field: &str| def.and_then(|d| type_of(d, custom, field));
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let trigger = match self.on.as_str() {
            "created" => Trigger::Created,
            "deleted" => Trigger::Deleted,
            "updated" => Trigger::Updated {
                field: some(&self.on_field),
                to: some(&self.on_to).map(|to| typed(ty(&self.on_field), &to)),
            },
            "stage_moved" => Trigger::StageMoved {
                to: some(&self.on_stage),
            },
            "relative" => {
                let per = match self.on_unit.as_str() {
                    "minutes" => 1,
                    "hours" => 60,
                    _ => 24 * 60,
                };
                let sign = if self.on_dir == "before" { -1 } else { 1 };
                let amount = match self.on_amount.trim() {
                    "" => Some(0),
                    a => a.parse::<i64>().ok().filter(|n| *n >= 0),
                };
                if amount.is_none() {
                    errors.push(err("on_amount".into(), "invalid"));
                }
                Trigger::Relative {
                    field: self.on_date.trim().to_string(),
                    offset_minutes: sign * amount.unwrap_or(0).saturating_mul(per),
                }
            }
            "schedule" => Trigger::Schedule {
                at: self.on_at.trim().to_string(),
                days: Day::ALL
                    .into_iter()
                    .filter(|d| self.on_days.iter().any(|x| x == d.as_str()))
                    .collect(),
            },
            _ => {
                errors.push(err("trigger.on".into(), "required"));
                Trigger::Created
            }
        };
        let mut conditions = vec![];
        for (i, c) in self.conditions.iter().enumerate() {
            let field = c.field.trim();
            if field.is_empty() {
                errors.push(err(format!("conditions[{i}].field"), "required"));
                continue;
            }
            let Ok(op) = c.op.parse::<Op>() else {
                errors.push(err(format!("conditions[{i}].op"), "required"));
                continue;
            };
            let value = match op {
                Op::In => Value::Array(
                    c.value
                        .split([',', '，'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| typed(ty(field), s))
                        .collect(),
                ),
                // "is empty" alone means "is empty: yes".
                Op::IsNull if c.value.trim().is_empty() => json!(true),
                Op::IsNull => typed(Some(FieldType::Bool), &c.value),
                _ => typed(ty(field), &c.value),
            };
            conditions.push(Filter::new(field, op, value));
        }
        let mut actions = vec![];
        for (i, a) in self.actions.iter().enumerate() {
            match action_of(a, &ty, &format!("actions[{i}]")) {
                Ok(action) => actions.push(action),
                Err(e) => errors.extend(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Rule {
            name: self.name.clone(),
            entity: self.entity.clone(),
            trigger,
            conditions,
            actions,
            active: self.active,
            description: some(&self.description),
        })
    }
}

pub(super) fn act_draft(a: &Action) -> ActDraft {
    let mut d = ActDraft::default();
    let who = |d: &mut ActDraft, to: &Assignee| match to {
        Assignee::Owner => d.how = "owner".into(),
        Assignee::User { user_id } => {
            d.how = "user".into();
            d.user = user_id.to_string();
        }
        Assignee::RoundRobin { team_id } => {
            d.how = "round_robin".into();
            d.team = team_id.to_string();
        }
        Assignee::LeastLoaded { team_id } => {
            d.how = "least_loaded".into();
            d.team = team_id.to_string();
        }
    };
    match a {
        Action::AssignOwner { to } => {
            d.ty = "assign_owner".into();
            who(&mut d, to);
        }
        Action::CreateTask {
            assignee,
            subject,
            due_in_hours,
        } => {
            d.ty = "create_task".into();
            who(&mut d, assignee);
            d.subject = subject.clone();
            d.due = due_in_hours.to_string();
        }
        Action::UpdateField { field, value } => {
            d.ty = "update_field".into();
            d.field = field.clone();
            d.value = text_of(value);
        }
        Action::AddTag { tag } => {
            d.ty = "add_tag".into();
            d.tag = tag.clone();
        }
        Action::Notify { to, message } => {
            d.ty = "notify".into();
            who(&mut d, to);
            d.message = message.clone();
        }
        Action::Escalate { to, message } => {
            d.ty = "escalate".into();
            who(&mut d, to);
            d.message = message.clone();
        }
        Action::CallWebhook { webhook_id } => {
            d.ty = "call_webhook".into();
            d.webhook = webhook_id.to_string();
        }
        Action::SendEmail { template_id } => {
            d.ty = "send_email".into();
            d.template = template_id.to_string();
        }
        Action::PostToRobot { robot_id, message } => {
            d.ty = "post_to_robot".into();
            d.robot = robot_id.to_string();
            d.message = message.clone();
        }
    }
    d
}

pub(super) fn action_of(
    a: &ActDraft,
    ty: &dyn Fn(&str) -> Option<FieldType>,
    path: &str,
) -> Result<Action, Vec<FieldError>> {
    let id = |s: &str| Id::parse(s.trim()).ok();
    let assignee = || -> Result<Assignee, Vec<FieldError>> {
        let missing = || vec![err(format!("{path}.assignee"), "required")];
        Ok(match a.how.as_str() {
            "user" => Assignee::User {
                user_id: id(&a.user).ok_or_else(missing)?,
            },
            "round_robin" => Assignee::RoundRobin {
                team_id: id(&a.team).ok_or_else(missing)?,
            },
            "least_loaded" => Assignee::LeastLoaded {
                team_id: id(&a.team).ok_or_else(missing)?,
            },
            _ => Assignee::Owner,
        })
    };
    Ok(match a.ty.as_str() {
        "assign_owner" => Action::AssignOwner { to: assignee()? },
        "create_task" => {
            let due = a.due.trim();
            let due_in_hours = if due.is_empty() {
                0
            } else {
                due.parse()
                    .map_err(|_| vec![err(format!("{path}.due_in_hours"), "not_a_whole_number")])?
            };
            Action::CreateTask {
                assignee: assignee()?,
                subject: a.subject.trim().to_string(),
                due_in_hours,
            }
        }
        "update_field" => {
            let field = a.field.trim().to_string();
            let value = if a.value.trim().is_empty() {
                Value::Null
            } else {
                typed(ty(&field), &a.value)
            };
            Action::UpdateField { field, value }
        }
        "add_tag" => Action::AddTag {
            tag: a.tag.trim().to_string(),
        },
        "notify" => Action::Notify {
            to: assignee()?,
            message: a.message.trim().to_string(),
        },
        "escalate" => Action::Escalate {
            to: assignee()?,
            message: a.message.trim().to_string(),
        },
        "call_webhook" => Action::CallWebhook {
            webhook_id: id(&a.webhook)
                .ok_or_else(|| vec![err(format!("{path}.webhook_id"), "required")])?,
        },
        "send_email" => Action::SendEmail {
            template_id: id(&a.template)
                .ok_or_else(|| vec![err(format!("{path}.template_id"), "required")])?,
        },
        "post_to_robot" => Action::PostToRobot {
            robot_id: id(&a.robot)
                .ok_or_else(|| vec![err(format!("{path}.robot_id"), "required")])?,
            message: a.message.trim().to_string(),
        },
        _ => return Err(vec![err(format!("{path}.type"), "invalid")]),
    })
}

/// Field errors by the input they belong to (`value` of a row), in the page's language.
#[derive(Default)]
pub(in crate::web) struct Errs(Vec<(String, String)>);

impl Errs {
    pub(in crate::web) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, m)| m.as_str())
    }

    pub(in crate::web) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(in crate::web) fn add(&mut self, key: &str, message: String) {
        if self.get(key).is_none() {
            self.0.push((key.to_string(), message));
        }
    }
}

/// Where each error goes: the rule's own inputs, a condition row's, an action row's, or
/// the list above the form when no input is its.
pub(super) struct Placed {
    pub(super) top: Errs,
    pub(super) conditions: Vec<Errs>,
    pub(super) actions: Vec<Errs>,
    pub(super) general: Vec<String>,
}

/// `conditions[2].value` → (2, `value`).
pub(in crate::web) fn row_of<'a>(path: &'a str, list: &str) -> Option<(usize, &'a str)> {
    let rest = path.strip_prefix(list)?.strip_prefix('[')?;
    let (i, rest) = rest.split_once(']')?;
    Some((i.parse().ok()?, rest.trim_start_matches('.')))
}

pub(super) fn place(t: Tr, errors: &[FieldError], draft: &Draft) -> Placed {
    let mut p = Placed {
        top: Errs::default(),
        conditions: draft.conditions.iter().map(|_| Errs::default()).collect(),
        actions: draft.actions.iter().map(|_| Errs::default()).collect(),
        general: vec![],
    };
    for e in errors {
        let msg = fields::message(t, e);
        let f = e.field.as_str();
        if let Some((i, part)) = row_of(f, "conditions")
            && let Some(errs) = p.conditions.get_mut(i)
        {
            let key = if matches!(part, "op" | "value") {
                part
            } else {
                "field"
            };
            errs.add(key, msg);
        } else if let Some((i, part)) = row_of(f, "actions")
            && let Some(errs) = p.actions.get_mut(i)
        {
            let head = part.split('.').next().unwrap_or("");
            let key = match head {
                "to" | "assignee" => "assignee",
                "due_in_hours" => "due",
                "subject" | "field" | "value" | "tag" | "message" => head,
                "template_id" => "template",
                "webhook_id" => "webhook_id",
                "robot_id" => "robot",
                _ => "type",
            };
            errs.add(key, msg);
        } else {
            let key = match f {
                "name" | "entity" | "description" | "conditions" | "actions" => f,
                "trigger.field" if draft.on == "relative" => "on_date",
                "trigger.field" => "on_field",
                "trigger.offset_minutes" | "on_amount" => "on_amount",
                "trigger.at" => "on_at",
                "trigger.to" if draft.on == "stage_moved" => "on_stage",
                "trigger.to" => "on_to",
                f if f.starts_with("trigger") => "on",
                _ => {
                    p.general.push(if f.is_empty() {
                        msg
                    } else {
                        format!("{f}: {msg}")
                    });
                    continue;
                }
            };
            p.top.add(key, msg);
        }
    }
    p
}
