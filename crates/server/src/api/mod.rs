//! The REST API, `/api/v1`: sign-in and the records of every entity. Handlers are thin:
//! authenticate, parse, call the store, present.

mod auth;
mod campaigns;
mod consent;
mod duplicates;
mod email;
mod export;
mod imports;
mod jobs;
mod kb;
mod notifications;
pub mod openapi;
pub(crate) mod records;
mod rules;
mod search;
mod segments;
mod service;
mod settings;
mod webhooks;

use axum::Router;
use axum::routing::{delete, get, post};
use guanxi_domain::{EachEntity, Entity, each_entity};
use guanxi_store::Store;

struct Routes(Option<Router<Store>>);

impl EachEntity for Routes {
    fn entity<T: Entity>(&mut self) {
        if let Some(path) = T::DEF.collection {
            self.0 = self.0.take().map(|r| records::collection::<T>(r, path));
        }
    }
}

/// Uploads for import: spreadsheets of a few hundred thousand rows; larger files go
/// through `guanxi import`, which streams them from disk.
const IMPORT_BODY_LIMIT: usize = 256 << 20;

pub fn routes() -> Router<Store> {
    let r = Router::new()
        .route("/openapi.json", get(openapi::serve))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .route("/auth/tokens", get(auth::tokens).post(auth::issue_token))
        .route("/auth/tokens/{id}", delete(auth::revoke_token))
        .route("/accounts/{id}/360", get(records::account_360))
        .route("/accounts/{id}/timeline", get(records::timeline))
        .route("/opportunities/{id}/stage", post(records::move_stage))
        .route("/leads/{id}/convert", post(records::convert_lead))
        .route("/cases/{id}/accept", post(service::accept))
        .route("/cases/{id}/decline", post(service::decline))
        .route("/service/kpis", get(service::kpis))
        .route("/articles/{id}/usage", get(kb::usage))
        .route("/kb/suggest", get(kb::suggest))
        .route("/campaigns/{id}/launch", post(campaigns::launch))
        .route("/campaigns/{id}/pause", post(campaigns::pause))
        .route("/campaigns/{id}/progress", get(campaigns::progress))
        .route("/campaigns/{id}/profile", get(campaigns::profile))
        .route(
            "/contacts/{id}/consents",
            get(consent::history).post(consent::record),
        )
        .route("/suppressions", get(consent::list).post(consent::add))
        .route("/suppressions/{address}", delete(consent::remove))
        .route("/segments/count", post(segments::preview))
        .route("/segments/{id}/count", get(segments::count))
        .route("/segments/{id}/propensity", get(segments::propensity))
        .route(
            "/segments/{id}/members",
            get(segments::members).post(segments::add),
        )
        .route("/segments/{id}/members/remove", post(segments::remove))
        .route(
            "/segments/{id}/members/import",
            post(segments::import).layer(axum::extract::DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/changes", get(records::changes))
        .route("/search", get(search::search))
        .route("/duplicates", get(duplicates::queue))
        .route("/duplicates/scan", post(duplicates::scan))
        .route("/duplicates/{id}/dismiss", post(duplicates::dismiss))
        .route("/merges", post(duplicates::merge))
        .route("/merges/{id}/undo", post(duplicates::undo))
        .route(
            "/imports",
            get(imports::list)
                .post(imports::create)
                .layer(axum::extract::DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/import-templates", get(imports::templates))
        .route("/import-templates/{id}", delete(imports::delete_template))
        .route("/notifications", get(notifications::list))
        .route(
            "/notifications/unread-count",
            get(notifications::unread_count),
        )
        .route("/notifications/read-all", post(notifications::read_all))
        .route("/notifications/{id}/read", post(notifications::read))
        .route("/analytics/runs", get(records::analytics_runs))
        .route("/analytics/report", get(records::analytics_report))
        .route("/email-templates/preview", post(email::preview))
        .route("/rules/{id}/runs", get(rules::runs))
        .route("/rules/{id}/test", post(rules::test))
        .route("/rule-runs", get(rules::record_runs))
        .route("/webhooks/{id}/secret", get(webhooks::secret))
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route(
            "/webhooks/{id}/deliveries/{delivery}",
            get(webhooks::delivery),
        )
        .route(
            "/webhooks/{id}/deliveries/{delivery}/replay",
            post(webhooks::replay),
        )
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}", get(jobs::get))
        .route("/jobs/{id}/retry", post(jobs::retry))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route(
            "/settings/grading",
            get(settings::get_grading).put(settings::put_grading),
        );
    let mut routes = Routes(Some(r));
    each_entity(&mut routes);
    routes.0.expect("set above")
}
