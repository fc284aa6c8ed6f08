//! A campaign's journey: the steps that follow its message, as in Odoo's marketing
//! automation. Steps form a tree: each follows its parent (the campaign's message when it
//! names none) after a wait, on a condition on what the member did with the parent's
//! message by then (opened, clicked, replied, or not), and sends another e-mail, creates a
//! task for the contact's owner or sets a field of the contact. Steps with one parent and
//! opposite conditions are a branch.

use super::Contact;
use super::rule::check_action;
use crate::rules::{Action, Assignee};
use crate::{Entity, Id, ValidationErrors};
use serde::{Deserialize, Serialize};
use serde_json::Value;

str_enum! {
    /// When a step runs: always, or on what the member did with the parent's e-mail (the
    /// campaign's message or a step that sends one). A step waiting for an open or a click
    /// runs as soon as the member gives it, within its wait; every other step looks when
    /// its wait is over (replies are looked for then).
    #[derive(Default)]
    pub enum StepWhen {
        #[default]
        Always = "always",
        Opened = "opened",
        NotOpened = "not_opened",
        Clicked = "clicked",
        NotClicked = "not_clicked",
        Replied = "replied",
        NotReplied = "not_replied",
    }
}

/// What a member did with a message by the time a step looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Responded {
    pub opened: bool,
    pub clicked: bool,
    pub replied: bool,
}

impl StepWhen {
    /// Whether a member who did `r` goes on to the step. A click counts as an open: images
    /// are often blocked.
    pub fn holds(self, r: Responded) -> bool {
        match self {
            StepWhen::Always => true,
            StepWhen::Opened => r.opened || r.clicked,
            StepWhen::NotOpened => !(r.opened || r.clicked),
            StepWhen::Clicked => r.clicked,
            StepWhen::NotClicked => !r.clicked,
            StepWhen::Replied => r.replied,
            StepWhen::NotReplied => !r.replied,
        }
    }
}

/// What a step does, for the member's contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepAction {
    /// An e-mail from a marketing template, with the consent, suppression and frequency
    /// cap of the campaign's own message; tracked, so that steps after it can branch.
    SendEmail { template_id: Id },
    /// A task for the contact's owner, due `due_in_hours` after the step runs.
    CreateTask {
        subject: String,
        #[serde(default)]
        due_in_hours: i64,
    },
    /// Set a field of the contact (a custom one as `custom.<key>`).
    UpdateField { field: String, value: Value },
}

impl StepAction {
    pub fn sends(&self) -> bool {
        matches!(self, StepAction::SendEmail { .. })
    }

    /// The rule action that does the same: one set of checks for both.
    pub fn as_rule_action(&self) -> Action {
        match self {
            StepAction::SendEmail { template_id } => Action::SendEmail {
                template_id: *template_id,
            },
            StepAction::CreateTask {
                subject,
                due_in_hours,
            } => Action::CreateTask {
                assignee: Assignee::Owner,
                subject: subject.clone(),
                due_in_hours: *due_in_hours,
            },
            StepAction::UpdateField { field, value } => Action::UpdateField {
                field: field.clone(),
                value: value.clone(),
            },
        }
    }
}

/// One step of a journey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Fixed when the step is added: members' progress and tracking links name it.
    pub id: Id,
    pub name: String,
    /// The step it follows; none: the campaign's message.
    #[serde(default)]
    pub parent: Option<Id>,
    #[serde(default)]
    pub when: StepWhen,
    /// Hours after the parent (its message sent, its task made) before the step looks;
    /// for a step waiting for an open or a click, how long it watches for one.
    #[serde(default)]
    pub wait_hours: i64,
    pub action: StepAction,
}

/// The most steps a journey has.
pub const MAX_STEPS: usize = 50;
/// The longest wait: a year.
pub const MAX_WAIT_HOURS: i64 = 24 * 366;

/// Check a journey's steps into `e`, each under `steps[i]`: named, a parent that comes
/// before it (so the steps are a tree, listed parents first), a condition on a response
/// only after an e-mail, a wait within a year, and an action a rule on a contact could
/// take.
pub fn check_steps(steps: &[Step], e: &mut ValidationErrors) {
    if steps.len() > MAX_STEPS {
        e.add("steps", "too_long", format!("at most {MAX_STEPS} steps"));
    }
    for (i, s) in steps.iter().enumerate() {
        let path = format!("steps[{i}]");
        e.text(&format!("{path}.name"), &s.name, 200);
        e.range(
            &format!("{path}.wait_hours"),
            s.wait_hours,
            0,
            MAX_WAIT_HOURS,
        );
        if steps[..i].iter().any(|t| t.id == s.id) {
            e.add(
                format!("{path}.id"),
                "duplicate",
                "each step has an id of its own",
            );
        }
        let parent = match s.parent {
            None => None,
            Some(p) => match steps[..i].iter().find(|t| t.id == p) {
                Some(t) => Some(t),
                None => {
                    e.add(
                        format!("{path}.parent"),
                        "not_found",
                        "a step follows the campaign's message or a step listed before it",
                    );
                    continue;
                }
            },
        };
        let after_mail = parent.is_none_or(|t| t.action.sends());
        if s.when != StepWhen::Always && !after_mail {
            e.add(
                format!("{path}.when"),
                "invalid",
                "only a step after an e-mail can wait for an open, a click or a reply",
            );
        }
        check_action(
            Contact::DEF,
            &s.action.as_rule_action(),
            &format!("{path}.action"),
            e,
        );
    }
}

/// The steps that follow `parent` (`None`: the campaign's message).
pub fn children(steps: &[Step], parent: Option<Id>) -> impl Iterator<Item = &Step> {
    steps.iter().filter(move |s| s.parent == parent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(n: u8) -> Id {
        Id(uuid::Uuid::from_bytes([n; 16]))
    }

    fn step(n: u8, parent: Option<u8>, when: StepWhen, action: StepAction) -> Step {
        Step {
            id: id(n),
            name: format!("step {n}"),
            parent: parent.map(id),
            when,
            wait_hours: 48,
            action,
        }
    }

    fn mail() -> StepAction {
        StepAction::SendEmail {
            template_id: id(99),
        }
    }

    fn task() -> StepAction {
        StepAction::CreateTask {
            subject: "回访".into(),
            due_in_hours: 24,
        }
    }

    fn fields(steps: &[Step]) -> Vec<String> {
        let mut e = ValidationErrors::new();
        check_steps(steps, &mut e);
        e.0.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn a_branch_on_an_open_with_a_follow_up_and_a_task_is_valid() {
        let steps = [
            step(1, None, StepWhen::NotOpened, mail()),
            step(2, None, StepWhen::Clicked, task()),
            step(3, Some(1), StepWhen::Replied, task()),
            step(
                4,
                Some(1),
                StepWhen::NotReplied,
                StepAction::UpdateField {
                    field: "stance".into(),
                    value: json!("supporter"),
                },
            ),
        ];
        assert_eq!(fields(&steps), Vec::<String>::new());
        let first: Vec<Id> = children(&steps, None).map(|s| s.id).collect();
        assert_eq!(first, [id(1), id(2)]);
    }

    #[test]
    fn each_bad_step_is_named_by_its_field() {
        let mut late = step(1, Some(2), StepWhen::Always, mail());
        late.wait_hours = -1;
        let steps = [
            late,
            step(2, None, StepWhen::Always, task()),
            step(3, Some(2), StepWhen::Opened, mail()),
            step(
                4,
                None,
                StepWhen::Always,
                StepAction::UpdateField {
                    field: "no_such_field".into(),
                    value: json!(1),
                },
            ),
            step(2, None, StepWhen::Always, task()),
        ];
        assert_eq!(
            fields(&steps),
            [
                "steps[0].wait_hours",
                "steps[0].parent",
                "steps[2].when",
                "steps[3].action.field",
                "steps[4].id",
            ]
        );
    }

    #[test]
    fn conditions_read_what_the_member_did() {
        let opened = Responded {
            opened: true,
            ..Default::default()
        };
        let clicked = Responded {
            clicked: true,
            ..Default::default()
        };
        assert!(StepWhen::Opened.holds(clicked), "a click is an open");
        assert!(!StepWhen::NotOpened.holds(opened));
        assert!(StepWhen::NotClicked.holds(opened));
        assert!(StepWhen::NotReplied.holds(clicked));
        assert!(StepWhen::Always.holds(Responded::default()));
    }
}
