//! The CRM's entities: each a plain struct of its own fields, a field description for the
//! store, and its validation rules.

mod account;
mod article;
mod calendar;
mod campaign;
mod case;
mod contact;
mod email_template;
mod interaction;
mod journey;
mod lead;
mod opportunity;
mod order;
mod org;
mod product;
mod robot;
mod rule;
mod segment;
mod sla_policy;
mod survey;
mod webhook;

pub use account::*;
pub use article::*;
pub use calendar::*;
pub use campaign::*;
pub use case::*;
pub use contact::*;
pub use email_template::*;
pub use interaction::*;
pub use journey::*;
pub use lead::*;
pub use opportunity::*;
pub use order::*;
pub use org::*;
pub use product::*;
pub use robot::*;
pub use rule::*;
pub use segment::*;
pub use sla_policy::*;
pub use survey::*;
pub use webhook::*;

pub use crate::custom::CustomFieldDef;

/// Validate a latitude/longitude pair: both or neither, within range.
pub(crate) fn check_coordinates(
    e: &mut crate::ValidationErrors,
    lat: Option<f64>,
    lon: Option<f64>,
) {
    match (lat, lon) {
        (Some(lat), Some(lon)) => {
            e.range("latitude", lat, -90.0, 90.0);
            e.range("longitude", lon, -180.0, 180.0);
        }
        (None, None) => {}
        _ => e.add("latitude", "invalid", "latitude and longitude go together"),
    }
}
