//! Field-level descriptions of each entity: the one place the store, filters, imports and
//! forms learn which fields exist and what type each holds.

use crate::error::ValidationErrors;
use serde::{Serialize, de::DeserializeOwned};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A reference to a record of the named table; checked to exist on every write.
    Ref(&'static str),
    Text,
    Int,
    Float,
    Bool,
    /// A calendar date (`2026-11-23`).
    Date,
    /// An instant (RFC 3339 in JSON, UTC).
    Timestamp,
    /// Minor units plus currency: stored as `<name>` (minor) and `<name>_currency`.
    Money,
    /// One of a closed set of strings.
    Enum(&'static [&'static str]),
    /// A set of short labels, filterable with `contains`.
    Tags,
    /// Structured data kept whole (order lines, histories); not filterable.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    pub name: &'static str,
    pub ty: FieldType,
    /// Masked for roles without the right to see sensitive data.
    pub sensitive: bool,
    /// Computed by Guanxi (customer analytics), never written through the API.
    pub computed: bool,
}

impl FieldDef {
    pub const fn new(name: &'static str, ty: FieldType) -> Self {
        Self {
            name,
            ty,
            sensitive: false,
            computed: false,
        }
    }

    pub const fn sensitive(name: &'static str, ty: FieldType) -> Self {
        Self {
            name,
            ty,
            sensitive: true,
            computed: false,
        }
    }

    pub const fn computed(name: &'static str, ty: FieldType) -> Self {
        Self {
            name,
            ty,
            sensitive: false,
            computed: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityDef {
    /// Singular, as used in the change log and the API (`account`).
    pub name: &'static str,
    pub table: &'static str,
    /// Visibility depends on owner and team (accounts, contacts, …) rather than being global
    /// reference data (products, users, pipelines).
    pub scoped: bool,
    pub fields: &'static [FieldDef],
}

impl EntityDef {
    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// An entity's own fields as a Rust type, with its description and validation.
pub trait Entity: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    const DEF: &'static EntityDef;

    /// Derive computed fields (order totals, opportunity status) before validation.
    fn normalize(&mut self) {}

    fn validate(&self) -> Result<(), ValidationErrors>;
}

/// Every entity's description, for code that works over all of them (migrations checks,
/// the API's routing, custom field definitions).
pub fn all_defs() -> &'static [&'static EntityDef] {
    use crate::entities::*;
    &[
        Account::DEF,
        Contact::DEF,
        Interaction::DEF,
        Lead::DEF,
        Pipeline::DEF,
        Opportunity::DEF,
        Product::DEF,
        Order::DEF,
        Case::DEF,
        Campaign::DEF,
        User::DEF,
        Team::DEF,
        Role::DEF,
        CustomFieldDef::DEF,
    ]
}

pub fn def_by_name(name: &str) -> Option<&'static EntityDef> {
    all_defs().iter().copied().find(|d| d.name == name)
}

/// The entity stored in `table`: what a [`FieldType::Ref`] points at.
pub fn def_by_table(table: &str) -> Option<&'static EntityDef> {
    all_defs().iter().copied().find(|d| d.table == table)
}
