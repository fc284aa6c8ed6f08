//! The REST API, `/api/v1`: sign-in and the records of every entity. Handlers are thin:
//! authenticate, parse, call the store, present.

mod auth;
mod records;

use axum::Router;
use axum::routing::{delete, get, post};
use guanxi_domain::entities::*;
use guanxi_store::Store;

pub fn routes() -> Router<Store> {
    let r = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .route("/auth/tokens", get(auth::tokens).post(auth::issue_token))
        .route("/auth/tokens/{id}", delete(auth::revoke_token))
        .route("/accounts/{id}/360", get(records::account_360))
        .route("/accounts/{id}/timeline", get(records::timeline))
        .route("/opportunities/{id}/stage", post(records::move_stage))
        .route("/leads/{id}/convert", post(records::convert_lead))
        .route("/changes", get(records::changes));
    let r = records::collection::<Account>(r, "accounts");
    let r = records::collection::<Contact>(r, "contacts");
    let r = records::collection::<Interaction>(r, "interactions");
    let r = records::collection::<Lead>(r, "leads");
    let r = records::collection::<Opportunity>(r, "opportunities");
    let r = records::collection::<Product>(r, "products");
    let r = records::collection::<Order>(r, "orders");
    let r = records::collection::<Case>(r, "cases");
    let r = records::collection::<Campaign>(r, "campaigns");
    let r = records::collection::<Pipeline>(r, "pipelines");
    let r = records::collection::<Team>(r, "teams");
    let r = records::collection::<User>(r, "users");
    records::collection::<CustomFieldDef>(r, "custom-fields")
}
