//! The company's own people: users, the team tree, roles.

use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*};
use crate::policy::{Right, Scope};
use crate::{Email, Id, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

str_enum! {
    pub enum Locale { ZhCn = "zh-CN", En = "en" }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub email: Email,
    pub name: String,
    /// The key of the user's role.
    pub role: String,
    #[serde(default)]
    pub team_id: Option<Id>,
    /// For partner users: the partner account whose customers and cases they see.
    #[serde(default)]
    pub partner_id: Option<Id>,
    pub locale: Locale,
    #[serde(default = "active")]
    pub active: bool,
}

fn active() -> bool {
    true
}

impl Entity for User {
    const DEF: &'static EntityDef = &EntityDef {
        name: "user",
        table: "users",
        scoped: false,
        fields: &[
            FieldDef::new("email", Text),
            FieldDef::new("name", Text),
            FieldDef::new("role", Text),
            FieldDef::new("team_id", Ref("teams")),
            FieldDef::new("partner_id", Ref("accounts")),
            FieldDef::new("locale", Enum(Locale::VALUES)),
            FieldDef::new("active", Bool),
        ],
        collection: Some("users"),
        list_columns: &["name", "email", "role", "team_id", "active"],
        ..EntityDef::PLAIN
    };

    /// A login e-mail is matched without regard to case: `A@x.cn` and `a@x.cn` are one user.
    fn normalize(&mut self) {
        if let Ok(lower) = Email::parse(&self.email.as_str().to_lowercase()) {
            self.email = lower;
        }
        self.name = self.name.trim().to_string();
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 100);
        e.text("role", &self.role, 40);
        if self.role == "partner" && self.partner_id.is_none() {
            e.add(
                "partner_id",
                "required",
                "a partner user belongs to a partner account",
            );
        }
        e.into_result()
    }
}

/// A node of the team tree; a manager of a team sees its whole subtree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<Id>,
}

impl Entity for Team {
    const DEF: &'static EntityDef = &EntityDef {
        name: "team",
        table: "teams",
        scoped: false,
        fields: &[
            FieldDef::new("name", Text),
            FieldDef::new("parent_id", Ref("teams")),
        ],
        collection: Some("teams"),
        list_columns: &["name", "parent_id"],
        ..EntityDef::PLAIN
    };

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 100);
        e.into_result()
    }
}

/// What a role may do: rights per entity, the record scope, and whether it sees sensitive
/// fields unmasked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub name_zh: Option<String>,
    pub scope: Scope,
    /// Entity name → rights. `*` stands for every entity without an entry of its own.
    pub rights: BTreeMap<String, Vec<Right>>,
    #[serde(default)]
    pub see_sensitive: bool,
}

impl Role {
    pub fn allows(&self, entity: &str, right: Right) -> bool {
        self.rights
            .get(entity)
            .or_else(|| self.rights.get("*"))
            .is_some_and(|r| r.contains(&right))
    }
}

impl Entity for Role {
    const DEF: &'static EntityDef = &EntityDef {
        name: "role",
        table: "roles",
        scoped: false,
        fields: &[
            FieldDef::new("key", Text),
            FieldDef::new("name", Text),
            FieldDef::new("name_zh", Text),
            FieldDef::new("scope", Enum(Scope::VALUES)),
            FieldDef::new("rights", Json),
            FieldDef::new("see_sensitive", Bool),
        ],
        ..EntityDef::PLAIN
    };

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        if self.key.is_empty()
            || !self
                .key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'-')
        {
            e.add("key", "invalid", "a role key is lowercase letters, - and _");
        }
        e.text("name", &self.name, 100);
        for entity in self.rights.keys() {
            if entity != "*" && crate::entity::def_by_name(entity).is_none() {
                e.add("rights", "invalid", format!("unknown entity '{entity}'"));
            }
        }
        e.into_result()
    }
}
