//! What every stored record carries besides its own fields: identity, version, times, owner.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// A record id: a UUIDv7, so ids sort by creation time and index well.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct Id(pub uuid::Uuid);

impl Id {
    pub fn new() -> Self {
        Id(uuid::Uuid::now_v7())
    }

    /// The id of the built-in system actor (migrations, seeding, scheduled jobs).
    pub const SYSTEM: Id = Id(uuid::Uuid::nil());

    pub fn parse(s: &str) -> Result<Self, uuid::Error> {
        uuid::Uuid::parse_str(s.trim()).map(Id)
    }
}

impl Default for Id {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Bookkeeping columns every table has. `owner_id` and `team_id` are set on scoped entities
/// (those whose visibility depends on who owns them) and absent elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Meta {
    pub id: Id,
    /// Starts at 1, increases by one with every write: the optimistic-concurrency token.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<Id>,
}

/// Values of administrator-defined fields, keyed by the field's key.
pub type CustomValues = Map<String, Value>;

/// A stored record: bookkeeping, the entity's own fields, and its custom field values.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<T> {
    pub meta: Meta,
    pub data: T,
    pub custom: CustomValues,
}

impl<T: Serialize> Record<T> {
    /// One flat JSON object: bookkeeping and entity fields side by side, custom values under
    /// `custom`. This is the shape of the API and of the change log's before/after.
    pub fn to_json(&self) -> Value {
        let mut out = match serde_json::to_value(&self.meta) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        if let Ok(Value::Object(fields)) = serde_json::to_value(&self.data) {
            out.extend(fields);
        }
        out.insert("custom".into(), Value::Object(self.custom.clone()));
        Value::Object(out)
    }
}

impl<T: Serialize> Serialize for Record<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// A record about to be created. Owner and team default to the acting user's.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord<T> {
    pub data: T,
    pub custom: CustomValues,
    pub owner_id: Option<Id>,
    pub team_id: Option<Id>,
    /// A caller-chosen id (imports, demo data); a fresh UUIDv7 otherwise.
    pub id: Option<Id>,
}

impl<T> NewRecord<T> {
    pub fn new(data: T) -> Self {
        Self {
            data,
            custom: Map::new(),
            owner_id: None,
            team_id: None,
            id: None,
        }
    }

    pub fn owned_by(mut self, owner: Id, team: Option<Id>) -> Self {
        self.owner_id = Some(owner);
        self.team_id = team;
        self
    }

    pub fn with_custom(mut self, custom: CustomValues) -> Self {
        self.custom = custom;
        self
    }

    pub fn with_id(mut self, id: Id) -> Self {
        self.id = Some(id);
        self
    }
}
