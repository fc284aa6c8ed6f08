//! `/email-templates/{id}/preview`: a stored e-mail template as it would reach a contact
//! the user picks (or a sample one): the subject, the HTML part in a sandboxed frame (no
//! script, nothing of ours reachable) and the plain-text part. The templates themselves
//! are listed and edited on the generic record pages.

use super::page::{Page, WebUser, render_status};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use guanxi_app::AppError;
use guanxi_domain::Id;
use guanxi_domain::entities::EmailTemplate;
use guanxi_outbound::Rendered;
use guanxi_store::Store;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "email_preview.html")]
struct PreviewPage {
    p: Page,
    id: Id,
    name: String,
    category: String,
    /// As typed, kept when it is refused.
    contact_id: String,
    rendered: Option<Rendered>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Params {
    #[serde(default)]
    contact_id: Option<String>,
}

/// `GET /email-templates/{id}/preview?contact_id=`
pub async fn preview(
    State(store): State<Store>,
    u: WebUser,
    Path(id): Path<Id>,
    Query(q): Query<Params>,
) -> Result<Response, crate::Problem> {
    let t = u.t();
    let template = store.get::<EmailTemplate>(&u.actor, id).await?;
    let typed = q.contact_id.unwrap_or_default();
    let contact = match typed.trim() {
        "" => Ok(None),
        s => Id::parse(s)
            .map(Some)
            .map_err(|_| t.s("email.not_a_contact").to_string()),
    };
    let result = match contact {
        Ok(contact) => guanxi_app::mail::preview(&store, &u.actor, &template.data, contact)
            .await
            .map_err(|e| match e {
                AppError::Store(guanxi_store::StoreError::NotFound { .. }) => {
                    t.s("email.not_a_contact").to_string()
                }
                other => other.to_string(),
            }),
        Err(e) => Err(e),
    };
    let (rendered, error, status) = match result {
        Ok(r) => (Some(r), None, StatusCode::OK),
        Err(e) => (None, Some(e), StatusCode::UNPROCESSABLE_ENTITY),
    };
    let page = PreviewPage {
        p: u.page(format!(
            "{} · {}",
            t.s("email.preview_title"),
            template.data.name
        )),
        id,
        category: t.choice(
            "email_template",
            "category",
            template.data.category.as_str(),
        ),
        name: template.data.name,
        contact_id: typed,
        rendered,
        error,
    };
    Ok(render_status(status, &page))
}
