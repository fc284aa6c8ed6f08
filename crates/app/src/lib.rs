//! Guanxi's application layer: the use cases that the front ends (the REST API, the web
//! pages, the command line) share, between them and the store. A front end parses its
//! input, calls a use case here with the acting user, and renders what comes back; each
//! maps [`AppError`] once to its own world (problem+json, a message and an exit code).
//!
//! What lives here: writes from JSON ([`records`]), list queries as the front ends spell
//! them ([`listing`]), what a caller may see of a record ([`access`]), import
//! ([`import`]), export ([`export`]), the full-text index and searching it ([`search`]),
//! the customer analytics run ([`analytics`]), durable jobs and their runner ([`jobs`]),
//! the system's notifications from the change log ([`notify`]), workflow rules fired by
//! changes ([`rules`]) and by times ([`timed_rules`]), the morning task reminder
//! ([`reminders`]), e-mail to contacts from templates ([`mail`]), messages to group
//! robots ([`robots`]), service clocks, dispatch, partners' work and KPIs ([`service`]),
//! the knowledge base ([`kb`]), satisfaction surveys ([`surveys`]), the customer portal
//! ([`portal`]), and the language catalogues ([`i18n`]).

pub mod access;
pub mod analytics;
pub mod auth;
pub mod background;
pub mod bounces;
pub mod campaigns;
pub mod consent;
pub mod deals;
mod error;
pub mod export;
pub mod i18n;
pub mod import;
pub mod jobs;
pub mod kb;
pub mod listing;
pub mod mail;
pub mod notify;
pub mod portal;
pub mod records;
pub mod reminders;
pub mod robots;
pub mod rules;
pub mod search;
pub mod segments;
pub mod service;
pub mod surveys;
pub mod timed_rules;
pub mod tracking;
pub mod webhooks;

pub use error::AppError;

pub type Result<T, E = AppError> = std::result::Result<T, E>;
