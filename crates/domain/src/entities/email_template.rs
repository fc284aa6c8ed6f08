use super::{Account, Contact, Locale};
use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*};
use crate::mail_template::{MailTemplate, TemplateError};
use crate::{EntityDef as Def, ValidationErrors};
use serde::{Deserialize, Serialize};

str_enum! {
    /// Service mail goes to every contact with an address; marketing mail only to those
    /// who consented to e-mail, and always with a one-click unsubscribe.
    pub enum MailCategory { Transactional = "transactional", Marketing = "marketing" }
}

/// An e-mail the organisation sends from rules: a subject, an HTML and a plain-text part
/// with merge fields (`{{contact.name}}`, `{{account.name}}`, `{{user.name}}`), checked
/// against [`merge_fields`] on every write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTemplate {
    pub name: String,
    pub locale: Locale,
    pub category: MailCategory,
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl EmailTemplate {
    /// The compiled template; a syntax error names its part.
    pub fn compile(&self) -> Result<MailTemplate, TemplateError> {
        MailTemplate::new(&self.subject, &self.html, &self.text)
    }
}

/// The merge fields a template may read: the contact's and its account's fields (not the
/// sensitive ones, which would leave the system unmasked), their custom fields, the
/// name and address of the contact's owner (`user`, who the mail comes from in the
/// customer's eyes), and `unsubscribe_url`.
pub fn merge_fields() -> Vec<String> {
    let mut known = vec![];
    for (prefix, def) in [("contact", Contact::DEF), ("account", Account::DEF)] {
        known.push(format!("{prefix}.id"));
        known.push(format!("{prefix}.custom"));
        known.extend(
            def.fields
                .iter()
                .filter(|f| !f.sensitive)
                .map(|f| format!("{prefix}.{}", f.name)),
        );
    }
    known.extend(["user.name", "user.email", "unsubscribe_url"].map(String::from));
    known
}

impl Entity for EmailTemplate {
    const DEF: &'static Def = &EntityDef {
        name: "email_template",
        table: "email_templates",
        scoped: false,
        fields: &[
            FieldDef::new("name", Text),
            FieldDef::new("locale", Enum(Locale::VALUES)),
            FieldDef::new("category", Enum(MailCategory::VALUES)),
            FieldDef::new("subject", Text),
            FieldDef::new("html", Text),
            FieldDef::new("text", Text),
        ],
        collection: Some("email-templates"),
        list_columns: &["name", "locale", "category", "updated_at"],
        ..EntityDef::PLAIN
    };

    fn normalize(&mut self) {
        self.name = self.name.trim().to_string();
        self.subject = self.subject.trim().to_string();
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 200);
        e.text("subject", &self.subject, 500);
        e.max_len("html", &self.html, 200_000);
        e.text("text", &self.text, 100_000);
        if !e.is_empty() {
            return e.into_result();
        }
        let known = merge_fields();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        let checked = self.compile().and_then(|t| t.check_fields(&known));
        match checked {
            Ok(()) => {}
            Err(TemplateError::UnknownField { part, field }) => e.add(
                part.name(),
                "unknown_merge_field",
                format!("'{field}' is not a merge field"),
            ),
            Err(
                TemplateError::Syntax { part, message } | TemplateError::Render { part, message },
            ) => e.add(part.name(), "invalid", message),
        }
        e.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(subject: &str, html: &str, text: &str) -> EmailTemplate {
        serde_json::from_value(json!({
            "name": "Welcome", "locale": "zh-CN", "category": "marketing",
            "subject": subject, "html": html, "text": text,
        }))
        .unwrap()
    }

    fn refused(t: &EmailTemplate) -> Vec<(String, String, String)> {
        t.validate()
            .err()
            .map(|e| {
                e.0.into_iter()
                    .map(|e| (e.field, e.code.to_string(), e.message))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn contact_account_and_owner_fields_are_merge_fields() {
        let t = template(
            "{{contact.name}}，您好 / Hello",
            "<p>{{account.name}} · {{contact.title}} · {{contact.custom.vip}}</p>\
             <a href=\"{{unsubscribe_url}}\">退订</a>",
            "{{user.name}} <{{user.email}}>",
        );
        assert_eq!(refused(&t), vec![]);
    }

    #[test]
    fn an_unknown_or_sensitive_field_is_refused_naming_the_part() {
        let t = template("Hi {{contact.name}}", "<p>{{contact.nmae}}</p>", "ok");
        assert_eq!(
            refused(&t),
            vec![(
                "html".into(),
                "unknown_merge_field".into(),
                "'contact.nmae' is not a merge field".into()
            )]
        );
        let t = template("Hi", "<p></p>", "{{contact.national_id}}");
        assert_eq!(refused(&t)[0].0, "text");
        let t = template("Hi {{ deal.amount }}", "", "x");
        assert_eq!(refused(&t)[0].0, "subject");
    }

    #[test]
    fn syntax_errors_and_empty_parts_are_refused() {
        let t = template("Hi", "<p>{{ contact.name </p>", "x");
        assert_eq!(refused(&t)[0].0, "html");
        assert_eq!(refused(&t)[0].1, "invalid");
        let t = template(" ", "", "");
        let fields: Vec<String> = refused(&t).into_iter().map(|r| r.0).collect();
        assert_eq!(fields, vec!["subject", "text"]);
    }
}
