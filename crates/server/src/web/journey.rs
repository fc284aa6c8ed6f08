//! A campaign's journey in the browser: drawn as a tree under the campaign's message (each
//! step with its condition, wait, action and where the members stand on it), and edited at
//! `/campaigns/{id}/journey`: a step added under any message or step, or removed with the
//! steps after it. What was typed is kept on a refusal, errors beside their fields; a stale
//! version is refused as a conflict.

use super::fields::{self, Choice, Names};
use super::page::{self, Page, Posted, WebUser, render_status};
use super::rules::{Errs, action_words, row_of};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use guanxi_app::AppError;
use guanxi_app::campaigns::StepProgress;
use guanxi_app::i18n::Tr;
use guanxi_domain::entities::{Campaign, CampaignStatus, Contact, Step, StepWhen, children};
use guanxi_domain::entity::FieldType;
use guanxi_domain::{Entity, FieldError, Id, Record, Right};
use guanxi_store::{Store, StoreError};
use serde_json::{Value, json};

/// One step as the tree draws it, in the order of a walk down the tree.
pub struct Node {
    pub id: Id,
    pub name: String,
    pub when: String,
    pub wait: String,
    pub action: String,
    pub counts: String,
    /// Whether steps hang under it (a list opens after it).
    pub has_children: bool,
    /// How many levels of lists close after it (a leaf deeper than the next step).
    pub close_after: usize,
}

/// The tree of a campaign's journey.
pub struct Tree {
    pub nodes: Vec<Node>,
}

/// The tree of `c`'s steps, with `progress` (the steps' progress, in the steps' order)
/// and `names` (of the templates the steps send).
pub fn tree(t: Tr, c: &Campaign, progress: &[StepProgress], names: &Names) -> Tree {
    let mut order: Vec<(&Step, usize)> = vec![];
    walk(&c.steps, None, 1, &mut order);
    let mut nodes: Vec<Node> = order
        .iter()
        .map(|(s, _)| {
            let p = progress.iter().find(|p| p.id == s.id);
            let n = |f: fn(&StepProgress) -> i64| p.map_or(0, f).to_string();
            let mut counts = t.f(
                "journey.counts",
                &[
                    ("due", &n(|p| p.due)),
                    ("done", &n(|p| p.done)),
                    ("skipped", &n(|p| p.skipped)),
                    ("refused", &n(|p| p.refused)),
                    ("failed", &n(|p| p.failed)),
                ],
            );
            if s.action.sends() {
                counts.push_str(" · ");
                counts.push_str(&t.f(
                    "journey.mail_counts",
                    &[("opened", &n(|p| p.opened)), ("clicked", &n(|p| p.clicked))],
                ));
            }
            Node {
                id: s.id,
                name: s.name.clone(),
                when: t.s(&format!("journey.when.{}", s.when)).to_string(),
                wait: if s.wait_hours == 0 {
                    t.s("journey.at_once").to_string()
                } else {
                    t.f("journey.wait", &[("hours", &s.wait_hours.to_string())])
                },
                action: action_words(t, Contact::DEF, &[], &s.action.as_rule_action(), names),
                counts,
                has_children: children(&c.steps, Some(s.id)).next().is_some(),
                close_after: 0,
            }
        })
        .collect();
    for i in 0..nodes.len() {
        let depth = order[i].1;
        let next = order.get(i + 1).map_or(1, |(_, d)| *d);
        if !nodes[i].has_children {
            nodes[i].close_after = depth - next;
        }
    }
    Tree { nodes }
}

fn walk<'a>(steps: &'a [Step], parent: Option<Id>, depth: usize, out: &mut Vec<(&'a Step, usize)>) {
    for s in children(steps, parent) {
        out.push((s, depth));
        walk(steps, Some(s.id), depth + 1, out);
    }
}

/// The names of the templates a journey's e-mails use, as the user may read them.
pub async fn template_names(store: &Store, u: &WebUser) -> Names {
    super::campaigns::templates(store, u)
        .await
        .into_iter()
        .filter_map(|(id, name)| Some((Id::parse(&id).ok()?, name)))
        .collect()
}

/// A step as typed in the add form.
#[derive(Clone, Default)]
struct Draft {
    name: String,
    parent: String,
    when: String,
    wait: String,
    kind: String,
    template: String,
    subject: String,
    due: String,
    field: String,
    value: String,
}

impl Draft {
    fn of_form(form: &page::FormData) -> Draft {
        let text = |k: &str| form.text(k).trim().to_string();
        Draft {
            name: text("j_name"),
            parent: text("j_parent"),
            when: text("j_when"),
            wait: text("j_wait"),
            kind: text("j_type"),
            template: text("j_template"),
            subject: text("j_subject"),
            due: text("j_due"),
            field: text("j_field"),
            value: text("j_value"),
        }
    }

    /// The step as JSON, or the fields that cannot make one (at `steps[index]`).
    fn step(&self, index: usize) -> Result<Value, Vec<FieldError>> {
        let at = |f: &str| format!("steps[{index}].{f}");
        let mut errors = vec![];
        let mut number = |text: &str, field: String| -> Value {
            match text {
                "" => json!(0),
                t => t.parse::<i64>().map(Value::from).unwrap_or_else(|_| {
                    errors.push(FieldError {
                        field,
                        code: "invalid",
                        message: "a whole number of hours".into(),
                    });
                    Value::Null
                }),
            }
        };
        let wait = number(&self.wait, at("wait_hours"));
        let due = number(&self.due, at("action.due_in_hours"));
        let mut required = |ok: bool, field: String| {
            if !ok {
                errors.push(FieldError {
                    field,
                    code: "required",
                    message: "required".into(),
                });
            }
        };
        let action = match self.kind.as_str() {
            "send_email" => {
                let template = Id::parse(&self.template).ok();
                required(template.is_some(), at("action.template_id"));
                json!({ "type": "send_email", "template_id": template })
            }
            "create_task" => {
                json!({ "type": "create_task", "subject": self.subject, "due_in_hours": due })
            }
            "update_field" => {
                required(!self.field.is_empty(), at("action.field"));
                let ty = Contact::DEF.field(&self.field).map(|f| f.ty);
                json!({ "type": "update_field", "field": self.field,
                        "value": super::rules::typed(ty, &self.value) })
            }
            _ => {
                required(false, at("action.type"));
                Value::Null
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(json!({
            "id": Id::new(),
            "name": self.name,
            "parent": if self.parent.is_empty() { Value::Null } else { json!(self.parent) },
            "when": if self.when.is_empty() { "always" } else { self.when.as_str() },
            "wait_hours": wait,
            "action": action,
        }))
    }
}

#[derive(Template)]
#[template(path = "campaign_journey.html")]
struct JourneyPage {
    p: Page,
    heading: String,
    id: Id,
    version: i64,
    conflict: bool,
    tree: Tree,
    errs: Errs,
    draft: Draft,
    parents: Vec<Choice>,
    whens: Vec<Choice>,
    kinds: Vec<Choice>,
    templates: Vec<Choice>,
    fields: Vec<Choice>,
}

fn choices(options: impl IntoIterator<Item = (String, String)>, selected: &str) -> Vec<Choice> {
    options
        .into_iter()
        .map(|(value, label)| Choice {
            selected: value == selected,
            value,
            label,
        })
        .collect()
}

/// The contact's fields a step may set, labelled.
fn settable(t: Tr) -> Vec<(String, String)> {
    Contact::DEF
        .fields
        .iter()
        .filter(|f| !f.computed && f.ty != FieldType::Json && f.name != "account_id")
        .map(|f| (f.name.to_string(), t.field("contact", f.name).to_string()))
        .collect()
}

async fn journey_page(
    store: &Store,
    u: &WebUser,
    c: &Record<Campaign>,
    draft: Draft,
    errors: &[FieldError],
) -> JourneyPage {
    let t = u.t();
    let index = c.data.steps.len();
    let mut errs = Errs::default();
    for e in errors {
        let msg = fields::message(t, e);
        let key = match row_of(&e.field, "steps") {
            Some((i, part)) if i == index => match part {
                "name" => "name",
                "parent" => "parent",
                "when" => "when",
                "wait_hours" => "wait",
                "action.template_id" => "template",
                "action.subject" => "subject",
                "action.due_in_hours" => "due",
                "action.field" => "field",
                "action.value" => "value",
                "action.type" => "type",
                _ => "top",
            },
            _ => "top",
        };
        errs.add(key, msg);
    }
    let names = template_names(store, u).await;
    let progress = guanxi_app::campaigns::progress(store, &u.actor, c.meta.id)
        .await
        .map(|p| p.steps)
        .unwrap_or_default();
    let mut parents = vec![(String::new(), t.s("journey.root").to_string())];
    parents.extend(
        c.data
            .steps
            .iter()
            .map(|s| (s.id.to_string(), s.name.clone())),
    );
    let heading = format!("{} · {}", t.s("journey.edit_title"), c.data.name);
    JourneyPage {
        p: u.page(heading.clone()),
        heading,
        id: c.meta.id,
        version: c.meta.version,
        conflict: false,
        tree: tree(t, &c.data, &progress, &names),
        errs,
        parents: choices(parents, &draft.parent),
        whens: choices(
            StepWhen::VALUES
                .iter()
                .map(|w| (w.to_string(), t.s(&format!("journey.when.{w}")).to_string())),
            &draft.when,
        ),
        kinds: choices(
            ["send_email", "create_task", "update_field"].map(|k| {
                (
                    k.to_string(),
                    t.s(&format!("journey.action.{k}")).to_string(),
                )
            }),
            &draft.kind,
        ),
        templates: choices(
            names.iter().map(|(id, n)| (id.to_string(), n.clone())),
            &draft.template,
        ),
        fields: choices(settable(t), &draft.field),
        draft,
    }
}

/// The campaign, if the user may change it and its journey can still change.
async fn editable(store: &Store, u: &WebUser, id: &str) -> Result<Record<Campaign>, Response> {
    let c = super::campaigns::campaign(store, u, id).await?;
    if matches!(
        c.data.status,
        CampaignStatus::Completed | CampaignStatus::Cancelled
    ) {
        return Err(page::done(
            &format!("/campaigns/{}", c.meta.id),
            u.t().s("journey.closed"),
        ));
    }
    Ok(c)
}

/// `GET /campaigns/{id}/journey`
pub async fn form(State(store): State<Store>, u: WebUser, Path(id): Path<String>) -> Response {
    match editable(&store, &u, &id).await {
        Ok(c) => page::render(&journey_page(&store, &u, &c, Draft::default(), &[]).await),
        Err(r) => r,
    }
}

/// `POST /campaigns/{id}/journey`: add the typed step at the version the page showed.
pub async fn add(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let c = match editable(&store, &u, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let draft = Draft::of_form(&form);
    let step = match draft.step(c.data.steps.len()) {
        Ok(s) => s,
        Err(errors) => {
            let page = journey_page(&store, &u, &c, draft, &errors).await;
            return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let mut steps = serde_json::to_value(&c.data.steps).unwrap_or_default();
    if let Some(list) = steps.as_array_mut() {
        list.push(step);
    }
    save(&store, &u, &c, &form, steps, draft, "journey.added").await
}

/// `POST /campaigns/{id}/journey/remove`: remove the step `step` and the steps after it.
pub async fn remove(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let c = match editable(&store, &u, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(step) = Id::parse(form.text("step")) else {
        return page::done(
            &format!("/campaigns/{id}/journey"),
            u.t().s("journey.no_step"),
        );
    };
    let mut gone = vec![step];
    // Steps come parents first: one pass finds every descendant.
    for s in &c.data.steps {
        if s.parent.is_some_and(|p| gone.contains(&p)) {
            gone.push(s.id);
        }
    }
    let kept: Vec<&Step> = c
        .data
        .steps
        .iter()
        .filter(|s| !gone.contains(&s.id))
        .collect();
    let steps = serde_json::to_value(kept).unwrap_or_default();
    save(
        &store,
        &u,
        &c,
        &form,
        steps,
        Draft::default(),
        "journey.removed",
    )
    .await
}

/// Write the journey's steps at the form's version; a refusal or a conflict shows the
/// page again with what was typed.
async fn save(
    store: &Store,
    u: &WebUser,
    c: &Record<Campaign>,
    form: &page::FormData,
    steps: Value,
    draft: Draft,
    done: &str,
) -> Response {
    let version: i64 = form.text("_version").parse().unwrap_or(0);
    let id = c.meta.id;
    let body = json!({ "steps": steps });
    match guanxi_app::records::patch::<Campaign>(store, &u.actor, id, version, body).await {
        Ok(_) => page::done(&format!("/campaigns/{id}/journey"), u.t().s(done)),
        Err(AppError::Store(StoreError::Conflict { .. })) => {
            let current = store.get::<Campaign>(&u.actor, id).await;
            let current = current.as_ref().unwrap_or(c);
            let mut page = journey_page(store, u, current, draft, &[]).await;
            page.conflict = true;
            render_status(StatusCode::CONFLICT, &page)
        }
        Err(e) => {
            let problem = crate::Problem::from(e);
            if problem.status == 403 || problem.status == 404 {
                return problem.into_response();
            }
            let status =
                StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let page = journey_page(store, u, c, draft, &problem.errors).await;
            render_status(status, &page)
        }
    }
}

/// Whether the user may edit `c`'s journey from its page.
pub fn may_edit(u: &WebUser, c: &Campaign) -> bool {
    u.may("campaign", Right::Update)
        && !matches!(
            c.status,
            CampaignStatus::Completed | CampaignStatus::Cancelled
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use guanxi_app::i18n::Lang;
    use guanxi_domain::entities::StepAction;

    fn step(n: u8, parent: Option<u8>, when: StepWhen) -> Step {
        let id = |n: u8| Id::parse(&format!("{n:08x}-0000-7000-8000-000000000000")).unwrap();
        Step {
            id: id(n),
            name: format!("s{n}"),
            parent: parent.map(id),
            when,
            wait_hours: 0,
            action: StepAction::CreateTask {
                subject: "回访".into(),
                due_in_hours: 24,
            },
        }
    }

    #[test]
    fn the_tree_walks_down_each_branch_and_closes_its_lists() {
        let mut c: Campaign = serde_json::from_value(json!({
            "name": "x", "channel": "email", "status": "planned",
            "budget": { "minor": 0, "currency": "CNY" },
        }))
        .unwrap();
        // s1 ─ s3 ─ s4 ; s2 (listed parents first, not in walk order)
        c.steps = vec![
            step(1, None, StepWhen::Always),
            step(2, None, StepWhen::Always),
            step(3, Some(1), StepWhen::Always),
            step(4, Some(3), StepWhen::Always),
        ];
        let t = tree(Tr::new(Lang::En), &c, &[], &Names::new());
        let order: Vec<(&str, bool, usize)> = t
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.has_children, n.close_after))
            .collect();
        assert_eq!(
            order,
            [
                ("s1", true, 0),
                ("s3", true, 0),
                ("s4", false, 2),
                ("s2", false, 0)
            ]
        );
    }
}
