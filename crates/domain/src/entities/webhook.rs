use crate::entities::rule_targets;
use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*};
use crate::{Id, ValidationErrors};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The changes a webhook may be told of, as the change log names them.
pub const WEBHOOK_EVENTS: &[&str] = &["created", "updated", "deleted"];

/// A webhook subscription: changes to records of `entity` are POSTed to `url`, signed
/// with the subscription's secret (kept apart from the record, so lists and exports never
/// carry it). Each payload is the record as `user_id` may read it: their scope and their
/// masking, nothing they may not see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub name: String,
    /// The receiver: an http or https URL.
    pub url: String,
    /// The records it reports (`case`, `lead`, …): a customer record's entity.
    pub entity: String,
    /// Which changes: `created`, `updated`, `deleted`.
    pub events: Vec<String>,
    /// The owner, through whose eyes every payload is read, told when it is disabled.
    pub user_id: Id,
    #[serde(default = "yes")]
    pub active: bool,
    /// When deliveries were stopped for failing too long (or the receiver said 410).
    #[serde(default)]
    pub disabled_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub disabled_reason: Option<String>,
}

fn yes() -> bool {
    true
}

impl Webhook {
    /// Whether a change the log names `action` on `entity` is one it reports.
    pub fn wants(&self, entity: &str, action: &str) -> bool {
        self.active && self.entity == entity && self.events.iter().any(|e| e == action)
    }
}

impl Entity for Webhook {
    const DEF: &'static EntityDef = &EntityDef {
        name: "webhook",
        table: "webhooks",
        scoped: false,
        fields: &[
            FieldDef::new("name", Text),
            FieldDef::new("url", Text),
            FieldDef::new("entity", Text),
            FieldDef::new("events", Tags),
            FieldDef::new("user_id", Ref("users")),
            FieldDef::new("active", Bool),
            FieldDef::new("disabled_at", Timestamp),
            FieldDef::new("disabled_reason", Text),
        ],
        collection: Some("webhooks"),
        list_columns: &["name", "entity", "url", "active", "updated_at"],
        ..EntityDef::PLAIN
    };

    fn normalize(&mut self) {
        self.name = self.name.trim().to_string();
        self.url = self.url.trim().to_string();
        // In the one order, once each; left as typed when one is unknown, so that the
        // refusal names it where it was typed.
        if self
            .events
            .iter()
            .all(|e| WEBHOOK_EVENTS.contains(&e.as_str()))
        {
            self.events
                .sort_by_key(|e| WEBHOOK_EVENTS.iter().position(|k| k == e));
            self.events.dedup();
        }
        // Switched on again: why it was switched off no longer holds.
        if self.active {
            self.disabled_at = None;
            self.disabled_reason = None;
        }
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 200);
        e.opt_text("disabled_reason", &self.disabled_reason, 1000);
        if let Some(why) = url_problem(&self.url) {
            e.add("url", "invalid", why);
        }
        if !rule_targets().any(|d| d.name == self.entity) {
            let names: Vec<&str> = rule_targets().map(|d| d.name).collect();
            e.add(
                "entity",
                "invalid",
                format!("webhooks report one of {}", names.join(", ")),
            );
        }
        if self.events.is_empty() {
            e.add("events", "required", "a webhook reports at least one event");
        }
        for (i, ev) in self.events.iter().enumerate() {
            if !WEBHOOK_EVENTS.contains(&ev.as_str()) {
                e.add(
                    format!("events[{i}]"),
                    "invalid",
                    format!("'{ev}' is none of {}", WEBHOOK_EVENTS.join(", ")),
                );
            }
        }
        e.into_result()
    }
}

/// Why `url` cannot be a receiver: not http(s), no host, credentials in it (they would be
/// written to every delivery log), spaces. The sender parses it fully again
/// (`guanxi_outbound::webhook::Endpoint`); this is the check made when it is saved.
pub fn url_problem(url: &str) -> Option<String> {
    if url.len() > 2000 {
        return Some("at most 2000 characters".into());
    }
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return Some("only http:// and https:// URLs are allowed".into());
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("a URL has no spaces".into());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Some("the URL carries a user name or password".into());
    }
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if host.is_empty() || host == "[" {
        return Some("the URL has no host".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: serde_json::Value) -> Vec<String> {
        let mut w: Webhook = serde_json::from_value(v).unwrap();
        w.normalize();
        w.validate()
            .err()
            .map(|e| e.0.into_iter().map(|e| e.field).collect())
            .unwrap_or_default()
    }

    const USER: &str = "0190d6c5-0000-7000-8000-000000000009";

    #[test]
    fn a_webhook_names_what_is_wrong() {
        let ok = json!({ "name": "ERP", "url": "https://erp.example.com/in?x=1", "entity": "case",
                         "events": ["updated", "created", "created"], "user_id": USER });
        assert_eq!(fields(ok.clone()), Vec::<String>::new());
        let mut w: Webhook = serde_json::from_value(ok).unwrap();
        w.normalize();
        assert_eq!(w.events, ["created", "updated"]);
        assert!(w.wants("case", "updated") && !w.wants("case", "deleted"));
        assert!(!w.wants("lead", "created"));

        let bad = json!({ "name": "", "url": "ftp://x.cn/", "entity": "user",
                          "events": ["created", "sometimes"], "user_id": USER });
        assert_eq!(fields(bad), ["name", "url", "entity", "events[1]"]);
        let none = json!({ "name": "x", "url": "http://127.0.0.1:9000/", "entity": "lead",
                           "events": [], "user_id": USER });
        assert_eq!(fields(none), ["events"]);
    }

    #[test]
    fn only_http_urls_with_a_host() {
        assert_eq!(url_problem("http://127.0.0.1:9000/hook"), None);
        assert_eq!(url_problem("HTTPS://Example.com"), None);
        assert!(url_problem("javascript:alert(1)").is_some());
        assert!(url_problem("file:///etc/passwd").is_some());
        assert!(url_problem("https:///path").is_some());
        assert!(url_problem("https://u:p@example.com/").is_some());
        assert!(url_problem("https://exa mple.com/").is_some());
        assert!(url_problem("/relative").is_some());
    }
}
