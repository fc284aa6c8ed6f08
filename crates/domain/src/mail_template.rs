//! E-mail templates with merge fields (`{{contact.name}}`, `{{account.name}}`, …) in
//! minijinja's Jinja syntax: a subject, an HTML part (values HTML-escaped) and a plain
//! text part (values as they are).
//!
//! A template is checked when it is saved: every field it reads must be one the caller
//! declares, so a typo is refused with the field and the part it is in rather than
//! rendering as an empty gap in ten thousand e-mails.

use std::collections::BTreeSet;
use std::fmt;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

/// The three parts of a template, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    Subject,
    Html,
    Text,
}

impl Part {
    const ALL: [Part; 3] = [Part::Subject, Part::Html, Part::Text];

    pub fn name(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Html => "html",
            Part::Text => "text",
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("the {part} has a template error: {message}")]
    Syntax { part: Part, message: String },
    #[error("the {part} uses an unknown merge field: {field}")]
    UnknownField { part: Part, field: String },
    #[error("the {part} could not be rendered: {message}")]
    Render { part: Part, message: String },
}

/// The rendered parts of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

pub struct MailTemplate {
    env: Environment<'static>,
}

impl MailTemplate {
    /// Compiles the three parts; a syntax error names its part.
    pub fn new(subject: &str, html: &str, text: &str) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| match name {
            "html" => AutoEscape::Html,
            _ => AutoEscape::None,
        });
        // A contact without an account renders `{{account.name}}` as nothing, not as an
        // error that would stop the whole send; null fields likewise print nothing rather
        // than "none".
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_formatter(|out, state, value| {
            if value.is_none() || value.is_undefined() {
                return Ok(());
            }
            minijinja::escape_formatter(out, state, value)
        });
        for (part, source) in Part::ALL.into_iter().zip([subject, html, text]) {
            env.add_template_owned(part.name(), source.to_string())
                .map_err(|e| TemplateError::Syntax {
                    part,
                    message: describe(&e),
                })?;
        }
        Ok(Self { env })
    }

    /// The merge fields the parts read, as dotted paths (`contact.name`), per part.
    pub fn fields(&self) -> Vec<(Part, BTreeSet<String>)> {
        Part::ALL
            .into_iter()
            .map(|part| {
                let template = self.env.get_template(part.name()).expect("added in new");
                (
                    part,
                    template.undeclared_variables(true).into_iter().collect(),
                )
            })
            .collect()
    }

    /// Refuses the first field (subject first, then html, then text) that is not among
    /// `known`. A known path allows what lies under it (`contact` allows
    /// `contact.name`), not what lies above (`contact.name` does not allow printing
    /// `contact` whole). The template language's own functions (`range`, `dict`, …)
    /// are allowed.
    pub fn check_fields(&self, known: &[&str]) -> Result<(), TemplateError> {
        let globals: BTreeSet<&str> = self.env.globals().map(|(name, _)| name).collect();
        for (part, fields) in self.fields() {
            for field in fields {
                let root = field.split('.').next().unwrap_or(&field);
                let declared = known.iter().any(|k| {
                    field == *k
                        || (field.starts_with(k) && field.as_bytes().get(k.len()) == Some(&b'.'))
                });
                let builtin = globals.contains(root)
                    && !known.iter().any(|k| k.split('.').next() == Some(root));
                if !declared && !builtin {
                    return Err(TemplateError::UnknownField { part, field });
                }
            }
        }
        Ok(())
    }

    /// Renders the three parts with `ctx` (a JSON object whose keys are the fields' first
    /// segments). Line breaks in the subject become spaces: a header holds one line.
    pub fn render(&self, ctx: &serde_json::Value) -> Result<Rendered, TemplateError> {
        let ctx = Value::from(minijinja::value::Serde(ctx));
        let render = |part: Part| {
            self.env
                .get_template(part.name())
                .and_then(|t| t.render(&ctx))
                .map_err(|e| TemplateError::Render {
                    part,
                    message: describe(&e),
                })
        };
        let subject = render(Part::Subject)?;
        Ok(Rendered {
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            html: render(Part::Html)?,
            text: render(Part::Text)?,
        })
    }
}

/// minijinja's message with its line, without the template name we chose.
fn describe(e: &minijinja::Error) -> String {
    match (e.detail(), e.line()) {
        (Some(detail), Some(line)) => format!("{detail} (line {line})"),
        (Some(detail), None) => detail.to_string(),
        (None, Some(line)) => format!("{} (line {line})", e.kind()),
        (None, None) => e.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KNOWN: &[&str] = &[
        "contact.name",
        "contact.title",
        "account",
        "user.name",
        "unsubscribe_url",
    ];

    fn welcome() -> MailTemplate {
        MailTemplate::new(
            "{{contact.name}}，欢迎 / Welcome to {{account.name}}",
            "<p>您好 {{contact.name}}：</p><p>{{account.name}} · {{user.name}}</p>\
             <a href=\"{{unsubscribe_url}}\">退订</a>",
            "您好 {{contact.name}}：\n{{account.name}} · {{user.name}}\n退订: {{unsubscribe_url}}",
        )
        .unwrap()
    }

    #[test]
    fn renders_chinese_and_english_and_escapes_only_the_html() {
        let ctx = json!({
            "contact": {"name": "张伟 <Zhang & Co>"},
            "account": {"name": "华为 \"Huawei\""},
            "user": {"name": "Li Na"},
            "unsubscribe_url": "https://crm.example.com/u/abc?x=1&y=2",
        });
        let r = welcome().render(&ctx).unwrap();
        assert_eq!(
            r.subject,
            "张伟 <Zhang & Co>，欢迎 / Welcome to 华为 \"Huawei\""
        );
        assert_eq!(
            r.html,
            "<p>您好 张伟 &lt;Zhang &amp; Co&gt;：</p><p>华为 &quot;Huawei&quot; · Li Na</p>\
             <a href=\"https:&#x2f;&#x2f;crm.example.com&#x2f;u&#x2f;abc?x=1&amp;y=2\">退订</a>"
        );
        assert_eq!(
            r.text,
            "您好 张伟 <Zhang & Co>：\n华为 \"Huawei\" · Li Na\n退订: https://crm.example.com/u/abc?x=1&y=2"
        );
    }

    #[test]
    fn missing_and_null_values_render_as_nothing() {
        let r = welcome()
            .render(&json!({"contact": {"name": null}}))
            .unwrap();
        assert_eq!(r.subject, "，欢迎 / Welcome to");
        assert_eq!(r.text, "您好 ：\n · \n退订: ");
    }

    #[test]
    fn subjects_stay_on_one_line() {
        let t = MailTemplate::new("Hi {{contact.name}}", "", "").unwrap();
        let r = t
            .render(&json!({"contact": {"name": "A\r\nBcc: x@example.com"}}))
            .unwrap();
        assert_eq!(r.subject, "Hi A Bcc: x@example.com");
    }

    #[test]
    fn known_fields_pass() {
        welcome().check_fields(KNOWN).unwrap();
        // Loops, their variables and the language's functions are not merge fields.
        let t = MailTemplate::new(
            "{{ contact.name | upper }}",
            "{% for i in range(3) %}{{ loop.index }}{{ i }}{% endfor %}{% set n = user.name %}{{ n }}",
            "{{ account.name | default('—') }}{{ account.owner.name }}",
        )
        .unwrap();
        t.check_fields(KNOWN).unwrap();
    }

    #[test]
    fn an_unknown_field_is_named_with_its_part() {
        let t = MailTemplate::new(
            "Hi {{contact.name}}",
            "<p>{{contact.nmae}}</p>",
            "{{deal.amount}}",
        )
        .unwrap();
        assert_eq!(
            t.check_fields(KNOWN),
            Err(TemplateError::UnknownField {
                part: Part::Html,
                field: "contact.nmae".into()
            })
        );
        let t = MailTemplate::new("{{ contact }}", "", "").unwrap();
        assert_eq!(
            t.check_fields(KNOWN),
            Err(TemplateError::UnknownField {
                part: Part::Subject,
                field: "contact".into()
            })
        );
        let t = MailTemplate::new("", "", "{{ deal.amount }}").unwrap();
        let err = t.check_fields(KNOWN).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the text uses an unknown merge field: deal.amount"
        );
        // A declared field shadows a function of the same name.
        let t = MailTemplate::new("{{ range.x }}", "", "").unwrap();
        assert!(t.check_fields(&["range.y"]).is_err());
    }

    #[test]
    fn syntax_errors_name_their_part() {
        let err = MailTemplate::new("ok", "<p>{{ contact.name </p>", "")
            .err()
            .unwrap();
        assert!(
            matches!(
                err,
                TemplateError::Syntax {
                    part: Part::Html,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with("the html has a template error"),
            "{err}"
        );
    }
}
