//! Guanxi's domain: entities, value types, validation and the permission policy.
//!
//! Pure: no I/O, no async. The store persists what this crate defines and validates.

#[macro_use]
mod macros;

pub mod backoff;
pub mod credit_code;
pub mod custom;
pub mod dedupe;
pub mod dispatch;
pub mod email;
pub mod entities;
pub mod entity;
pub mod error;
pub mod filter;
pub mod geo;
pub mod headers;
pub mod mail_template;
pub mod money;
pub mod phone;
pub mod policy;
pub mod record;
pub mod rules;
pub mod settings;
pub mod sla;

pub use credit_code::CreditCode;
pub use email::Email;
pub use entities::Locale;
pub use entity::{
    EachEntity, Entity, EntityDef, FieldDef, FieldType, ImportDef, SearchFields, each_entity,
};
pub use error::{FieldError, ValidationErrors};
pub use money::{Currency, Money};
pub use phone::Phone;
pub use policy::{Actor, Right, Scope};
pub use record::{Id, Meta, NewRecord, Record};
