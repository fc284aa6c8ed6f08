//! `/admin/rules`: administrators build workflow rules in a form (rows of conditions and
//! actions, no JSON), see each rule in words with its run history, and test it on a record.
//!
//! The form is a [`Draft`]: what the inputs hold, as text. A draft becomes a `Rule` written
//! through the one write path; when that is refused the same draft is shown again with each
//! error beside the input its path names (`conditions[2].value`). Every `match` on
//! `Trigger`, `Action` and `Assignee` lives here, so a new variant is a compile error in
//! this file and an arm in each of its three places: into a draft, out of a draft, in words.

use super::fields::{self, Choice, Names};
use super::i18n::Tr;
use super::names::Wanted;
use super::page::{self, FormData, Page, Posted, WebUser, render, render_status, shown};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use guanxi_app::AppError;
use guanxi_app::records as writes;
use guanxi_app::rules as use_case;
use guanxi_domain::custom::CustomFieldDef;
use guanxi_domain::entities::{Rule, Team, User, rule_targets};
use guanxi_domain::entity::{EntityDef, FieldType};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::rules::{Action, Assignee, Trigger};
use guanxi_domain::{Actor, FieldError, Id, Record};
use guanxi_store::{RuleRun, RunsOf, Store, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Blank rows a form offers after the filled ones (the script adds more).
const BLANK_CONDITIONS: usize = 2;
const BLANK_ACTIONS: usize = 1;
/// How many runs a rule's page lists.
const RUNS_SHOWN: u32 = 50;

const TRIGGERS: &[&str] = &["created", "updated", "deleted", "stage_moved"];
const ACTIONS: &[&str] = &["assign_owner", "create_task", "update_field", "add_tag"];
const ASSIGNEES: &[&str] = &["owner", "user", "round_robin", "least_loaded"];

/// A condition row as typed.
#[derive(Clone, Default)]
struct CondDraft {
    field: String,
    op: String,
    value: String,
}

/// An action row as typed: every input of every type, so rows line up in the posted form.
#[derive(Clone, Default)]
struct ActDraft {
    ty: String,
    how: String,
    user: String,
    team: String,
    subject: String,
    due: String,
    field: String,
    value: String,
    tag: String,
}

/// The rule form's inputs, as text.
#[derive(Clone, Default)]
struct Draft {
    name: String,
    entity: String,
    active: bool,
    description: String,
    on: String,
    on_field: String,
    on_to: String,
    on_stage: String,
    conditions: Vec<CondDraft>,
    actions: Vec<ActDraft>,
}

/// A value as a person types it: `["a","b"]` as `a, b`.
fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(text_of).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// What was typed, as the JSON value a field of type `ty` takes (numbers and booleans
/// typed); left as text when it does not parse, so validation names it.
fn typed(ty: Option<FieldType>, text: &str) -> Value {
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
fn type_of(def: &EntityDef, custom: &[CustomFieldDef], field: &str) -> Option<FieldType> {
    if let Some(key) = field.strip_prefix("custom.") {
        return custom.iter().find(|c| c.key == key).map(|c| c.field_type());
    }
    match field {
        "owner_id" => Some(FieldType::Ref("users")),
        _ => def.field(field).map(|f| f.ty),
    }
}

fn err(field: String, code: &'static str) -> FieldError {
    FieldError {
        field,
        code,
        message: String::new(),
    }
}

impl Draft {
    fn of_form(form: &FormData) -> Draft {
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
            conditions,
            actions,
        }
    }

    fn of_rule(r: &Rule) -> Draft {
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
    fn rule(
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

fn act_draft(a: &Action) -> ActDraft {
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
    }
    d
}

fn action_of(
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
        _ => return Err(vec![err(format!("{path}.type"), "invalid")]),
    })
}

/// Field errors by the input they belong to (`value` of a row), in the page's language.
#[derive(Default)]
struct Errs(Vec<(String, String)>);

impl Errs {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, m)| m.as_str())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn add(&mut self, key: &str, message: String) {
        if self.get(key).is_none() {
            self.0.push((key.to_string(), message));
        }
    }
}

/// Where each error goes: the rule's own inputs, a condition row's, an action row's, or
/// the list above the form when no input is its.
struct Placed {
    top: Errs,
    conditions: Vec<Errs>,
    actions: Vec<Errs>,
    general: Vec<String>,
}

/// `conditions[2].value` → (2, `value`).
fn row_of<'a>(path: &'a str, list: &str) -> Option<(usize, &'a str)> {
    let rest = path.strip_prefix(list)?.strip_prefix('[')?;
    let (i, rest) = rest.split_once(']')?;
    Some((i.parse().ok()?, rest.trim_start_matches('.')))
}

fn place(t: Tr, errors: &[FieldError], draft: &Draft) -> Placed {
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
                "subject" | "field" | "value" | "tag" => head,
                _ => "type",
            };
            errs.add(key, msg);
        } else {
            let key = match f {
                "name" | "entity" | "description" | "conditions" | "actions" => f,
                "trigger.field" => "on_field",
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

/// One select's options, the current value marked; a value not among them (typed for
/// another entity, say) is kept as an option of its own so nothing typed is lost.
fn options(all: &[(String, String)], current: &str) -> Vec<Choice> {
    let mut out: Vec<Choice> = all
        .iter()
        .map(|(v, l)| Choice {
            value: v.clone(),
            label: l.clone(),
            selected: v == current,
        })
        .collect();
    if !current.is_empty() && !all.iter().any(|(v, _)| v == current) {
        out.push(Choice {
            value: current.to_string(),
            label: current.to_string(),
            selected: true,
        });
    }
    out
}

/// What the form knows of one entity rules may watch: the fields conditions read, the
/// fields actions may set, and the choices of its enumerated fields.
struct Target {
    name: &'static str,
    label: String,
    cond_fields: Vec<(String, String)>,
    set_fields: Vec<(String, String)>,
    /// (field, [(value, label)]) for the value inputs' suggestions.
    enums: Vec<(String, Vec<(String, String)>)>,
    has_stage: bool,
}

fn label_of(t: Tr, def: &EntityDef, custom: &[CustomFieldDef], field: &str) -> String {
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

fn target(t: Tr, def: &'static EntityDef, custom: &[CustomFieldDef]) -> Target {
    let builtin = || {
        def.fields
            .iter()
            .filter(|f| !f.computed && f.ty != FieldType::Json)
    };
    let customs = custom
        .iter()
        .map(|c| (format!("custom.{}", c.key), fields::custom_label(t, c)));
    let set_fields: Vec<(String, String)> = builtin()
        .map(|f| (f.name.to_string(), t.field(def.name, f.name).to_string()))
        .chain(customs)
        .collect();
    let mut cond_fields = set_fields.clone();
    cond_fields.push(("owner_id".into(), t.field(def.name, "owner_id").to_string()));
    let enums = builtin()
        .filter_map(|f| match f.ty {
            FieldType::Enum(values) => Some((
                f.name.to_string(),
                values
                    .iter()
                    .map(|v| (v.to_string(), t.choice(def.name, f.name, v)))
                    .collect(),
            )),
            _ => None,
        })
        .collect();
    Target {
        name: def.name,
        label: t.entity_one(def.name).to_string(),
        cond_fields,
        set_fields,
        enums,
        has_stage: def.field("stage").is_some(),
    }
}

struct CondRow {
    fields: Vec<Choice>,
    ops: Vec<Choice>,
    value: String,
    /// The suggestions' datalist of the chosen field, when it has fixed values.
    list: String,
    errs: Errs,
}

struct ActRow {
    types: Vec<Choice>,
    hows: Vec<Choice>,
    users: Vec<Choice>,
    teams: Vec<Choice>,
    subject: String,
    due: String,
    fields: Vec<Choice>,
    value: String,
    list: String,
    tag: String,
    errs: Errs,
}

#[derive(Template)]
#[template(path = "rule_form.html")]
struct FormPage {
    p: Page,
    heading: String,
    action: String,
    cancel: String,
    version: Option<i64>,
    conflict: bool,
    general: Vec<String>,
    errs: Errs,
    name: String,
    entities: Vec<Choice>,
    active: bool,
    description: String,
    triggers: Vec<Choice>,
    on_fields: Vec<Choice>,
    on_to: String,
    on_to_list: String,
    on_stage: String,
    has_stage: bool,
    conditions: Vec<CondRow>,
    actions: Vec<ActRow>,
    /// Every target's field lists and value suggestions, for the script to swap in when
    /// the entity changes.
    targets: Vec<Target>,
}

/// Users and teams to assign to.
async fn people(store: &Store) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let sys = Actor::system();
    let q = ListQuery::default()
        .filter(Filter::new("active", Op::Eq, true))
        .sort_by("name", false)
        .limit(500);
    let users = store
        .list::<User>(&sys, &q)
        .await
        .map(|p| {
            p.items
                .into_iter()
                .map(|u| (u.meta.id.to_string(), u.data.name))
                .collect()
        })
        .unwrap_or_default();
    let q = ListQuery::default().sort_by("name", false).limit(500);
    let teams = store
        .list::<Team>(&sys, &q)
        .await
        .map(|p| {
            p.items
                .into_iter()
                .map(|t| (t.meta.id.to_string(), t.data.name))
                .collect()
        })
        .unwrap_or_default();
    (users, teams)
}

async fn targets(store: &Store, t: Tr) -> Result<Vec<Target>, StoreError> {
    let mut out = vec![];
    for def in rule_targets() {
        let custom = store.custom_fields(def.name).await?;
        out.push(target(t, def, &custom));
    }
    Ok(out)
}

fn labelled(t: Tr, prefix: &str, keys: &[&str]) -> Vec<(String, String)> {
    keys.iter()
        .map(|k| (k.to_string(), t.s(&format!("{prefix}.{k}")).to_string()))
        .collect()
}

/// The datalist of `field`'s fixed values on `entity`, or empty.
fn list_of(tg: Option<&Target>, field: &str) -> String {
    tg.filter(|tg| tg.enums.iter().any(|(f, _)| f == field))
        .map(|tg| format!("rv-{}-{field}", tg.name))
        .unwrap_or_default()
}

async fn form_page(
    store: &Store,
    u: &WebUser,
    draft: &Draft,
    errors: &[FieldError],
    existing: Option<(Id, i64)>,
) -> Result<FormPage, StoreError> {
    let t = u.t();
    let targets = targets(store, t).await?;
    let (users, teams) = people(store).await;
    let tg = targets.iter().find(|x| x.name == draft.entity);
    let none = vec![];
    let cond_fields = tg.map_or(&none, |x| &x.cond_fields);
    let set_fields = tg.map_or(&none, |x| &x.set_fields);
    let ops: Vec<(String, String)> = Op::VALUES
        .iter()
        .map(|o| (o.to_string(), t.s(&format!("op.{o}")).to_string()))
        .collect();
    let placed = place(t, errors, draft);
    let cond_row = |c: &CondDraft, errs: Errs| CondRow {
        fields: options(cond_fields, &c.field),
        ops: options(&ops, if c.op.is_empty() { "eq" } else { c.op.as_str() }),
        value: c.value.clone(),
        list: list_of(tg, &c.field),
        errs,
    };
    let (types, hows) = (
        labelled(t, "rules.do", ACTIONS),
        labelled(t, "rules.who", ASSIGNEES),
    );
    let act_row = |a: &ActDraft, errs: Errs| ActRow {
        types: options(&types, &a.ty),
        hows: options(
            &hows,
            if a.how.is_empty() {
                "owner"
            } else {
                a.how.as_str()
            },
        ),
        users: options(&users, &a.user),
        teams: options(&teams, &a.team),
        subject: a.subject.clone(),
        due: a.due.clone(),
        fields: options(set_fields, &a.field),
        value: a.value.clone(),
        list: list_of(tg, &a.field),
        tag: a.tag.clone(),
        errs,
    };
    let mut conditions: Vec<CondRow> = draft
        .conditions
        .iter()
        .zip(placed.conditions)
        .map(|(c, e)| cond_row(c, e))
        .collect();
    conditions
        .extend((0..BLANK_CONDITIONS).map(|_| cond_row(&CondDraft::default(), Errs::default())));
    let mut actions: Vec<ActRow> = draft
        .actions
        .iter()
        .zip(placed.actions)
        .map(|(a, e)| act_row(a, e))
        .collect();
    // A new rule starts with one action row; a rule that has some offers one more.
    actions.extend((0..BLANK_ACTIONS).map(|_| act_row(&ActDraft::default(), Errs::default())));
    let entities: Vec<(String, String)> = targets
        .iter()
        .map(|x| (x.name.to_string(), x.label.clone()))
        .collect();
    let (heading, action, cancel, version) = match existing {
        Some((id, v)) => (
            format!("{} · {}", t.s("common.edit"), draft.name),
            format!("/admin/rules/{id}/edit"),
            format!("/admin/rules/{id}"),
            Some(v),
        ),
        None => (
            t.f("form.new", &[("entity", t.entity_one("rule"))]),
            "/admin/rules/new".to_string(),
            "/admin/rules".to_string(),
            None,
        ),
    };
    Ok(FormPage {
        p: u.page(heading.clone()),
        heading,
        action,
        cancel,
        version,
        conflict: false,
        general: placed.general,
        errs: placed.top,
        name: draft.name.clone(),
        entities: options(&entities, &draft.entity),
        active: draft.active,
        description: draft.description.clone(),
        triggers: options(&labelled(t, "rules.on", TRIGGERS), &draft.on),
        on_fields: options(cond_fields, &draft.on_field),
        on_to: draft.on_to.clone(),
        on_to_list: list_of(tg, &draft.on_field),
        on_stage: draft.on_stage.clone(),
        has_stage: tg.is_none_or(|x| x.has_stage),
        conditions,
        actions,
        targets,
    })
}

fn admin_only(u: &WebUser) -> Option<Response> {
    (!u.is_admin()).then(|| super::error_page(u.t(), StatusCode::FORBIDDEN, ""))
}

fn problem(e: impl Into<crate::Problem>) -> Response {
    e.into().into_response()
}

fn id_or_404(u: &WebUser, raw: &str) -> Result<Id, Response> {
    Id::parse(raw).map_err(|_| super::error_page(u.t(), StatusCode::NOT_FOUND, ""))
}

/// Show the form again with what was typed and why it was refused.
async fn refused(
    store: &Store,
    u: &WebUser,
    draft: &Draft,
    e: AppError,
    existing: Option<(Id, i64)>,
) -> Response {
    let problem = crate::Problem::from(e);
    let mut errors = problem.errors.clone();
    if errors.is_empty() {
        errors.push(FieldError {
            field: String::new(),
            code: "refused",
            message: problem.detail.clone(),
        });
    }
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    match form_page(store, u, draft, &errors, existing).await {
        Ok(page) => render_status(status, &page),
        Err(e) => self::problem(e),
    }
}

#[derive(Deserialize)]
pub struct NewParams {
    #[serde(default)]
    entity: Option<String>,
}

/// `GET /admin/rules/new[?entity=case]`
pub async fn new_form(
    State(store): State<Store>,
    u: WebUser,
    Query(q): Query<NewParams>,
) -> Response {
    if let Some(r) = admin_only(&u) {
        return r;
    }
    let draft = Draft {
        entity: q.entity.unwrap_or_else(|| "case".into()),
        active: true,
        on: "created".into(),
        ..Draft::default()
    };
    match form_page(&store, &u, &draft, &[], None).await {
        Ok(page) => render(&page),
        Err(e) => problem(e),
    }
}

/// The draft's rule as the JSON the write path takes, or the form again with what could
/// not be read.
fn json_of(draft: &Draft, custom: &[CustomFieldDef]) -> Result<Value, Vec<FieldError>> {
    let def = rule_targets().find(|d| d.name == draft.entity);
    let rule = draft.rule(def, custom)?;
    Ok(serde_json::to_value(rule).unwrap_or_default())
}

async fn custom_of(store: &Store, entity: &str) -> Vec<CustomFieldDef> {
    if rule_targets().any(|d| d.name == entity) {
        store
            .custom_fields(entity)
            .await
            .map(|c| c.to_vec())
            .unwrap_or_default()
    } else {
        vec![]
    }
}

/// `POST /admin/rules/new`
pub async fn create(State(store): State<Store>, Posted { user: u, form }: Posted) -> Response {
    if let Some(r) = admin_only(&u) {
        return r;
    }
    let draft = Draft::of_form(&form);
    let custom = custom_of(&store, &draft.entity).await;
    let json = match json_of(&draft, &custom) {
        Ok(j) => j,
        Err(errors) => {
            let e = AppError::Invalid(guanxi_domain::ValidationErrors(errors));
            return refused(&store, &u, &draft, e, None).await;
        }
    };
    match writes::create::<Rule>(&store, &u.actor, json).await {
        Ok(r) => page::done(
            &format!("/admin/rules/{}", r.meta.id),
            u.t().s("form.created"),
        ),
        Err(e) => refused(&store, &u, &draft, e, None).await,
    }
}

/// `GET /admin/rules/{id}/edit`
pub async fn edit_form(State(store): State<Store>, u: WebUser, Path(id): Path<String>) -> Response {
    if let Some(r) = admin_only(&u) {
        return r;
    }
    let id = match id_or_404(&u, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let r = match store.get::<Rule>(&u.actor, id).await {
        Ok(r) => r,
        Err(e) => return problem(e),
    };
    let draft = Draft::of_rule(&r.data);
    match form_page(&store, &u, &draft, &[], Some((id, r.meta.version))).await {
        Ok(page) => render(&page),
        Err(e) => problem(e),
    }
}

/// The merge patch that makes the stored rule `new`: a trigger's parts the new one lacks
/// are removed (`null`), as a merge patch keeps what it does not name.
fn replacing(old: &Value, mut new: Value) -> Value {
    if let (Some(old_t), Some(new_t)) = (
        old["trigger"].as_object(),
        new.get_mut("trigger").and_then(Value::as_object_mut),
    ) {
        for k in old_t.keys() {
            new_t.entry(k.clone()).or_insert(Value::Null);
        }
    }
    new
}

/// `POST /admin/rules/{id}/edit`: saved only onto the version the form was opened at; if
/// someone saved meanwhile, the form comes back with what this user typed, saying so.
pub async fn save(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    if let Some(r) = admin_only(&u) {
        return r;
    }
    let id = match id_or_404(&u, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let version: i64 = form.text("_version").parse().unwrap_or(0);
    let draft = Draft::of_form(&form);
    let custom = custom_of(&store, &draft.entity).await;
    let json = match json_of(&draft, &custom) {
        Ok(j) => j,
        Err(errors) => {
            let e = AppError::Invalid(guanxi_domain::ValidationErrors(errors));
            return refused(&store, &u, &draft, e, Some((id, version))).await;
        }
    };
    let current = match store.get::<Rule>(&u.actor, id).await {
        Ok(r) => r,
        Err(e) => return problem(e),
    };
    let old = serde_json::to_value(&current.data).unwrap_or_default();
    match writes::patch::<Rule>(&store, &u.actor, id, version, replacing(&old, json)).await {
        Ok(_) => page::done(&format!("/admin/rules/{id}"), u.t().s("form.saved")),
        Err(AppError::Store(StoreError::Conflict { .. })) => {
            // Offer the newer version to save onto: this user's text is what is kept.
            match form_page(&store, &u, &draft, &[], Some((id, current.meta.version))).await {
                Ok(mut page) => {
                    page.conflict = true;
                    render_status(StatusCode::CONFLICT, &page)
                }
                Err(e) => problem(e),
            }
        }
        Err(e) => refused(&store, &u, &draft, e, Some((id, version))).await,
    }
}

// ---- In words: the list, the rule's page, its runs and its test. ----

fn enum_text(t: Tr, def: &EntityDef, field: &str, v: &Value) -> String {
    match (def.field(field).map(|f| f.ty), v.as_str()) {
        (Some(FieldType::Enum(_)), Some(s)) => t.choice(def.name, field, s),
        _ => text_of(v),
    }
}

fn trigger_words(t: Tr, def: &EntityDef, custom: &[CustomFieldDef], tr: &Trigger) -> String {
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
    }
}

fn condition_words(t: Tr, def: &EntityDef, custom: &[CustomFieldDef], c: &Filter) -> String {
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

fn name_of(names: &Names, id: &Id) -> String {
    names
        .get(id)
        .cloned()
        .unwrap_or_else(|| id.to_string().chars().take(8).collect())
}

fn assignee_words(t: Tr, who: &Assignee, names: &Names) -> String {
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

fn action_words(
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
    }
}

/// The users and teams a rule's actions name, to show by name.
fn want_people(w: &mut Wanted, actions: &[Action]) {
    for a in actions {
        let who = match a {
            Action::AssignOwner { to } => to,
            Action::CreateTask { assignee, .. } => assignee,
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

struct ListRow {
    href: String,
    name: String,
    entity: String,
    trigger: String,
    active: bool,
    last_status: String,
    last_class: String,
    last_at: String,
}

#[derive(Template)]
#[template(path = "rules.html")]
struct ListPage {
    p: Page,
    rows: Vec<ListRow>,
}

fn status_label(t: Tr, status: &str) -> String {
    let key = format!("rules.status.{status}");
    if t.has(&key) {
        t.s(&key).to_string()
    } else {
        status.to_string()
    }
}

/// `GET /admin/rules`
pub async fn list(State(store): State<Store>, u: WebUser) -> Response {
    if let Some(r) = admin_only(&u) {
        return r;
    }
    let t = u.t();
    let q = ListQuery::default().sort_by("name", false).limit(500);
    let rules = match store.list::<Rule>(&u.actor, &q).await {
        Ok(p) => p.items,
        Err(e) => return problem(e),
    };
    let mut rows = vec![];
    for r in &rules {
        let last = use_case::runs(&store, &u.actor, RunsOf::Rule(r.meta.id), 1)
            .await
            .ok()
            .and_then(|mut v| v.pop());
        let (trigger, entity) = match r.data.target() {
            Some(def) => {
                let custom = custom_of(&store, def.name).await;
                (
                    trigger_words(t, def, &custom, &r.data.trigger),
                    t.entity_one(def.name).to_string(),
                )
            }
            None => (String::new(), r.data.entity.clone()),
        };
        rows.push(ListRow {
            href: format!("/admin/rules/{}", r.meta.id),
            name: r.data.name.clone(),
            entity,
            trigger,
            active: r.data.active,
            last_status: last
                .as_ref()
                .map(|l| status_label(t, &l.status))
                .unwrap_or_default(),
            last_class: last.as_ref().map(|l| l.status.clone()).unwrap_or_default(),
            last_at: last.map(|l| t.datetime(l.at)).unwrap_or_default(),
        });
    }
    let page = ListPage {
        p: u.page(t.entity_many("rule")),
        rows,
    };
    shown(render(&page), &u)
}

struct RunRow {
    at: String,
    record: String,
    record_href: String,
    depth: i64,
    status: String,
    class: String,
    did: Vec<String>,
    error: String,
}

struct Check {
    words: String,
    met: bool,
}

struct TestView {
    meets: bool,
    conditions: Vec<Check>,
    actions: Vec<String>,
}

#[derive(Template)]
#[template(path = "rule.html")]
struct RulePage {
    p: Page,
    id: Id,
    name: String,
    entity: String,
    active: bool,
    description: String,
    trigger: String,
    conditions: Vec<String>,
    actions: Vec<String>,
    runs: Vec<RunRow>,
    /// The test box: the record typed, the report or why there is none.
    record_id: String,
    record_ref: String,
    report: Option<TestView>,
    test_error: Option<String>,
}

/// What one action of a run did, from the run's detail (`{"action": 0, "did": {…}}`).
fn did_words(t: Tr, item: &Value, names: &Names) -> String {
    if let Some(e) = item["error"].as_str() {
        return format!("{}: {e}", t.s("rules.failed_with"));
    }
    let did = &item["did"];
    if did["unchanged"] == true {
        return t.s("rules.unchanged").to_string();
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

async fn rule_page(
    store: &Store,
    u: &WebUser,
    id: Id,
    test: Option<(String, Result<use_case::TestReport, String>)>,
) -> Response {
    let t = u.t();
    let rule: Record<Rule> = match store.get::<Rule>(&u.actor, id).await {
        Ok(r) => r,
        Err(e) => return problem(e),
    };
    let runs: Vec<RuleRun> =
        match use_case::runs(store, &u.actor, RunsOf::Rule(id), RUNS_SHOWN).await {
            Ok(r) => r,
            Err(e) => return problem(e),
        };
    let def = rule.data.target();
    let custom = match def {
        Some(d) => custom_of(store, d.name).await,
        None => vec![],
    };
    let mut wanted = Wanted::default();
    want_people(&mut wanted, &rule.data.actions);
    for r in &runs {
        if let Some(d) = def {
            wanted.add(d.table, &json!(r.record_id));
        }
        for item in r.detail.as_array().into_iter().flatten() {
            wanted.add("users", &item["did"]["owner_id"]);
        }
    }
    let names = wanted.resolve(store, &u.actor).await;
    let (trigger, conditions, actions) = match def {
        Some(d) => (
            trigger_words(t, d, &custom, &rule.data.trigger),
            rule.data
                .conditions
                .iter()
                .map(|c| condition_words(t, d, &custom, c))
                .collect(),
            rule.data
                .actions
                .iter()
                .map(|a| action_words(t, d, &custom, a, &names))
                .collect(),
        ),
        None => (String::new(), vec![], vec![]),
    };
    let run_rows = runs
        .iter()
        .map(|r| RunRow {
            at: t.datetime(r.at),
            record: name_of(&names, &r.record_id),
            record_href: def.map_or_else(String::new, |d| {
                fields::href_of(d.table, &r.record_id.to_string())
            }),
            depth: r.depth,
            status: status_label(t, &r.status),
            class: r.status.clone(),
            did: r
                .detail
                .as_array()
                .into_iter()
                .flatten()
                .map(|item| {
                    let n = item["action"].as_u64().unwrap_or(0) as usize;
                    let what = match (def, rule.data.actions.get(n)) {
                        (Some(d), Some(a)) => action_words(t, d, &custom, a, &names),
                        _ => String::new(),
                    };
                    format!("{}. {what}: {}", n + 1, did_words(t, item, &names))
                })
                .collect(),
            error: r.error.clone().unwrap_or_default(),
        })
        .collect();
    let (record_id, report, test_error, status) = match test {
        None => (String::new(), None, None, StatusCode::OK),
        Some((typed, Ok(report))) => {
            let view = def.map(|d| TestView {
                meets: report.meets,
                conditions: report
                    .conditions
                    .iter()
                    .map(|c| Check {
                        words: condition_words(t, d, &custom, &c.condition),
                        met: c.met,
                    })
                    .collect(),
                actions: report
                    .actions
                    .iter()
                    .map(|a| action_words(t, d, &custom, a, &names))
                    .collect(),
            });
            (typed, view, None, StatusCode::OK)
        }
        Some((typed, Err(why))) => (typed, None, Some(why), StatusCode::UNPROCESSABLE_ENTITY),
    };
    let page = RulePage {
        p: u.page(rule.data.name.clone()),
        id,
        name: rule.data.name.clone(),
        entity: def.map_or_else(
            || rule.data.entity.clone(),
            |d| t.entity_one(d.name).to_string(),
        ),
        active: rule.data.active,
        description: rule.data.description.clone().unwrap_or_default(),
        trigger,
        conditions,
        actions,
        runs: run_rows,
        record_id,
        record_ref: def
            .map(|d| {
                super::records::collection_of(d)
                    .trim_start_matches('/')
                    .to_string()
            })
            .unwrap_or_default(),
        report,
        test_error,
    };
    shown(render_status(status, &page), u)
}

/// A run on a record's page: which rule, when, how it ended.
pub struct RecordRun {
    pub at: String,
    pub rule: String,
    /// The rule's page, for administrators.
    pub href: Option<String>,
    pub status: String,
    pub class: String,
}

/// The rules that ran on a record, newest first: nothing for those who may not read
/// rules, nor for records rules do not watch.
pub async fn runs_on(store: &Store, u: &WebUser, def: &EntityDef, id: Id) -> Vec<RecordRun> {
    use guanxi_domain::Right;
    if !def.scoped || !u.may("rule", Right::Read) {
        return vec![];
    }
    let t = u.t();
    let Ok(runs) = use_case::runs(store, &u.actor, RunsOf::Record(id), 20).await else {
        return vec![];
    };
    let mut names: HashMap<Id, String> = HashMap::new();
    let mut out = vec![];
    for r in runs {
        if !names.contains_key(&r.rule_id) {
            let name = match store.get::<Rule>(&u.actor, r.rule_id).await {
                Ok(rule) => rule.data.name,
                Err(_) => t.s("rules.deleted_rule").to_string(),
            };
            names.insert(r.rule_id, name);
        }
        out.push(RecordRun {
            at: t.datetime(r.at),
            rule: names[&r.rule_id].clone(),
            href: u.is_admin().then(|| format!("/admin/rules/{}", r.rule_id)),
            status: status_label(t, &r.status),
            class: r.status,
        });
    }
    out
}

/// `GET /admin/rules/{id}`
pub async fn show(State(store): State<Store>, u: WebUser, Path(id): Path<String>) -> Response {
    if let Some(r) = admin_only(&u) {
        return r;
    }
    match id_or_404(&u, &id) {
        Ok(id) => rule_page(&store, &u, id, None).await,
        Err(r) => r,
    }
}

/// `POST /admin/rules/{id}/test`: the rule's page with what it would do to the record.
pub async fn test(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    if let Some(r) = admin_only(&u) {
        return r;
    }
    let id = match id_or_404(&u, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let t = u.t();
    let typed = form.text("record_id").to_string();
    let outcome = match Id::parse(&typed) {
        Err(_) => Err(t.s("error.code.no_such_record").to_string()),
        Ok(record) => match use_case::test(&store, &u.actor, id, record).await {
            Ok(report) => Ok(report),
            Err(AppError::Store(StoreError::NotFound { .. })) => {
                Err(t.s("error.code.no_such_record").to_string())
            }
            Err(e) => Err(e.to_string()),
        },
    };
    rule_page(&store, &u, id, Some((typed, outcome))).await
}

/// `GET /rules`: rules are built on the administrator's pages, not the generic record
/// form (which leaves their JSON parts out).
pub async fn to_list() -> Redirect {
    Redirect::to("/admin/rules")
}

/// `GET /rules/{id}` (and `/rules/new`): the same page under `/admin/rules`.
pub async fn to_rule(Path(id): Path<String>) -> Redirect {
    let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    Redirect::to(&format!("/admin/rules/{id}"))
}
