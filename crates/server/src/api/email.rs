//! E-mail templates beyond their records (which `/email-templates` serves like every
//! entity): `POST /email-templates/preview` renders a template, saved or not, for a
//! contact the caller may read or for a sample one, refusing what a save would refuse.

use super::auth::Authed;
use super::records::parse_body;
use crate::Problem;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use guanxi_domain::Id;
use guanxi_domain::entities::EmailTemplate;
use guanxi_store::Store;
use serde_json::{Value, json};

pub async fn preview(
    State(store): State<Store>,
    Authed(actor): Authed,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    // The template's own fields and `contact_id`, side by side, so a refusal names the
    // field as the template form has it (`html`, not `template.html`).
    let mut body: Value = parse_body(&body)?;
    let contact = match body.as_object_mut().and_then(|m| m.remove("contact_id")) {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_str().and_then(|s| Id::parse(s).ok()).ok_or_else(|| {
            Problem::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "contact_id",
                "invalid",
                "the id of a contact",
            )
        })?),
    };
    let template: EmailTemplate = parse_body(body.to_string().as_bytes())?;
    let r = guanxi_app::mail::preview(&store, &actor, &template, contact).await?;
    Ok(Json(
        json!({ "subject": r.subject, "html": r.html, "text": r.text }),
    ))
}
