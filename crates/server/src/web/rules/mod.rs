//! `/admin/rules`: administrators build workflow rules in a form (rows of conditions and
//! actions, no JSON), see each rule in words with its run history, and test it on a record.
//!
//! The form is a [`Draft`]: what the inputs hold, as text. A draft becomes a `Rule` written
//! through the one write path; when that is refused the same draft is shown again with each
//! error beside the input its path names (`conditions[2].value`). Every `match` on
//! `Trigger`, `Action` and `Assignee` lives in `draft` (into and out of a draft) and
//! `words`, so a new variant is a compile error there and an arm in each of those places
//! (with its type's name in `ACTIONS`/`ASSIGNEES`/`TRIGGERS` and its inputs in the form).

use super::fields::{self, Choice};
use super::i18n::Tr;
use super::names::Wanted;
use super::page::{self, Page, Posted, WebUser, render, render_status, shown};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use guanxi_app::AppError;
use guanxi_app::records as writes;
use guanxi_app::rules as use_case;
use guanxi_domain::custom::CustomFieldDef;
use guanxi_domain::entities::{EmailTemplate, Robot, Rule, Team, User, Webhook, rule_targets};
use guanxi_domain::entity::{EntityDef, FieldType};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::rules::{Day, dated_field};
use guanxi_domain::{Actor, Entity, FieldError, Id, Record};
use guanxi_store::{RuleRun, RunsOf, Store, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

mod draft;
mod words;

use draft::{ActDraft, CondDraft, Draft, place};
pub(super) use draft::{Errs, row_of, text_of, type_of, typed};
use std::collections::HashMap;
pub(super) use words::{action_words, condition_words, label_of, name_of};
use words::{did_words, status_label, trigger_words, want_people};

/// Blank rows a form offers after the filled ones (the script adds more).
const BLANK_CONDITIONS: usize = 2;
const BLANK_ACTIONS: usize = 1;
/// How many runs a rule's page lists.
const RUNS_SHOWN: u32 = 50;

const TRIGGERS: &[&str] = &[
    "created",
    "updated",
    "deleted",
    "stage_moved",
    "relative",
    "schedule",
];
const UNITS: &[&str] = &["minutes", "hours", "days"];
const DIRECTIONS: &[&str] = &["before", "after"];
const ACTIONS: &[&str] = &[
    "assign_owner",
    "create_task",
    "notify",
    "update_field",
    "add_tag",
    "escalate",
    "call_webhook",
    "send_email",
    "post_to_robot",
];
const ASSIGNEES: &[&str] = &["owner", "user", "round_robin", "least_loaded"];

/// One select's options, the current value marked; a value not among them (typed for
/// another entity, say) is kept as an option of its own so nothing typed is lost.
pub(super) fn options(all: &[(String, String)], current: &str) -> Vec<Choice> {
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
    /// The dates and times a relative trigger may count from.
    dated_fields: Vec<(String, String)>,
    /// (field, [(value, label)]) for the value inputs' suggestions.
    enums: Vec<(String, Vec<(String, String)>)>,
    has_stage: bool,
}

fn target(t: Tr, def: &'static EntityDef, custom: &[CustomFieldDef]) -> Target {
    // Rules watch every field, those Guanxi keeps too ("when the SLA state changes to
    // breached"), and set only what a person may.
    let builtin = || def.fields.iter().filter(|f| f.ty != FieldType::Json);
    let label = |f: &str| (f.to_string(), t.field(def.name, f).to_string());
    let customs = custom
        .iter()
        .map(|c| (format!("custom.{}", c.key), fields::custom_label(t, c)));
    let set_fields: Vec<(String, String)> = builtin()
        .filter(|f| !f.computed)
        .map(|f| label(f.name))
        .chain(customs.clone())
        .collect();
    let mut cond_fields: Vec<(String, String)> =
        builtin().map(|f| label(f.name)).chain(customs).collect();
    cond_fields.push(("owner_id".into(), t.field(def.name, "owner_id").to_string()));
    let dated_fields = builtin()
        .map(|f| f.name)
        .chain(["created_at", "updated_at"])
        .filter(|f| dated_field(def, f))
        .map(|f| (f.to_string(), t.field(def.name, f).to_string()))
        .collect();
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
        dated_fields,
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
    message: String,
    webhooks: Vec<Choice>,
    templates: Vec<Choice>,
    robots: Vec<Choice>,
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
    on_dates: Vec<Choice>,
    on_amount: String,
    on_units: Vec<Choice>,
    on_dirs: Vec<Choice>,
    on_at: String,
    /// (day, its name, ticked)
    on_days: Vec<(String, String, bool)>,
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

/// The records of an org-level entity a rule may name (webhooks, e-mail templates, robots), as
/// (id, name) choices by name.
async fn choices<T: Entity>(store: &Store, name: fn(T) -> String) -> Vec<(String, String)> {
    let q = ListQuery::default().sort_by("name", false).limit(500);
    store
        .list::<T>(&Actor::system(), &q)
        .await
        .map(|p| {
            p.items
                .into_iter()
                .map(|r| (r.meta.id.to_string(), name(r.data)))
                .collect()
        })
        .unwrap_or_default()
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
    let hooks = choices::<Webhook>(store, |h| h.name).await;
    let templates = choices::<EmailTemplate>(store, |t| t.name).await;
    let robots = choices::<Robot>(store, |r| r.name).await;
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
        message: a.message.clone(),
        webhooks: options(&hooks, &a.webhook),
        templates: options(&templates, &a.template),
        robots: options(&robots, &a.robot),
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
        on_dates: options(tg.map_or(&none, |x| &x.dated_fields), &draft.on_date),
        on_amount: draft.on_amount.clone(),
        on_units: options(
            &labelled(t, "rules.unit", UNITS),
            or(&draft.on_unit, "days"),
        ),
        on_dirs: options(
            &labelled(t, "rules.dir", DIRECTIONS),
            or(&draft.on_dir, "before"),
        ),
        on_at: draft.on_at.clone(),
        on_days: Day::ALL
            .iter()
            .map(|d| {
                let d = d.as_str();
                (
                    d.to_string(),
                    t.s(&format!("rules.day.{d}")).to_string(),
                    draft.on_days.iter().any(|x| x == d),
                )
            })
            .collect(),
        conditions,
        actions,
        targets,
    })
}

/// `value`, or `default` when nothing was chosen.
fn or<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.is_empty() { default } else { value }
}

fn admin_only(u: &WebUser) -> Option<Response> {
    (!u.is_admin()).then(|| super::error_page(u.t(), StatusCode::FORBIDDEN, ""))
}

fn problem(e: impl Into<crate::Problem>) -> Response {
    e.into().into_response()
}

fn not_found(u: &WebUser) -> Response {
    super::error_page(u.t(), StatusCode::NOT_FOUND, "")
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
    let Ok(id) = Id::parse(&id) else {
        return not_found(&u);
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
    let Ok(id) = Id::parse(&id) else {
        return not_found(&u);
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
        let rule = match names.get(&r.rule_id) {
            Some(name) => name.clone(),
            None => {
                let name = match store.get::<Rule>(&u.actor, r.rule_id).await {
                    Ok(rule) => rule.data.name,
                    Err(_) => t.s("rules.deleted_rule").to_string(),
                };
                names.insert(r.rule_id, name.clone());
                name
            }
        };
        out.push(RecordRun {
            at: t.datetime(r.at),
            rule,
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
    match Id::parse(&id) {
        Ok(id) => rule_page(&store, &u, id, None).await,
        Err(_) => not_found(&u),
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
    let Ok(id) = Id::parse(&id) else {
        return not_found(&u);
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
