//! The web application: server-rendered pages (askama templates, compiled in) in Chinese and
//! English, with a little hand-written JavaScript and CSS embedded in the binary. Pages
//! work without JavaScript; scripts only make them quicker to use (drag on the kanban,
//! typeahead, "use theirs" on an edit conflict).

mod account;
mod admin;
mod assets;
mod calendars;
mod campaigns;
mod cases;
mod duplicates;
mod email_templates;
mod fields;
mod home;
mod jobs;
mod journey;
mod kb;
mod kpis;
pub use guanxi_app::i18n;
pub use kpis::{KpiQuery, compute as service_kpis};
mod leads;
mod names;
mod notifications;
mod page;
mod pipeline;
mod portal;
mod propensity;
mod records;
mod rules;
mod search;
mod segments;
mod service;
mod session;
mod suppressions;
mod survey;
mod tracking;
mod unsubscribe;
mod webhooks;

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use guanxi_store::Store;
use i18n::Tr;

pub fn routes() -> Router<Store> {
    let r = Router::new()
        .route("/", get(home::home))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route(
            "/profile",
            get(session::profile).post(session::save_profile),
        )
        .route("/profile/password", post(session::change_password))
        .route("/profile/tokens", post(session::issue_token))
        .route("/profile/tokens/{id}/revoke", post(session::revoke_token))
        .route("/assets/{file}", get(assets::serve))
        .route("/pipeline", get(pipeline::board))
        .route("/opportunities/{id}/move", post(pipeline::move_card))
        .route("/accounts/{id}", get(account::account_page))
        .route("/accounts/{id}/log", post(account::log_account))
        .route("/contacts/{id}", get(account::contact_page))
        .route("/contacts/{id}/log", post(account::log_contact))
        .route(
            "/leads/{id}/convert",
            get(leads::convert_page).post(leads::convert),
        )
        .route("/cases/queue", get(cases::queue))
        .route("/cases/{id}/accept", post(service::accept))
        .route("/cases/{id}/decline", post(service::decline))
        .route("/cases/{id}/work", post(service::work))
        .route("/partner", get(service::partner_home))
        .route("/service", get(kpis::dashboard))
        .route("/portal/login", get(portal::login_page).post(portal::login))
        .route("/portal/link", post(portal::request_link))
        .route("/portal/link/{token}", get(portal::use_link))
        .route("/portal/logout", post(portal::logout))
        .route("/portal", get(portal::home))
        .route(
            "/portal/cases/new",
            get(portal::new_case_page).post(portal::new_case),
        )
        .route("/portal/cases/{id}", get(portal::case_page))
        .route("/portal/cases/{id}/reply", post(portal::reply))
        .route("/portal/cases/{id}/rate", post(portal::rate))
        .route("/portal/kb/suggest", get(portal::kb_suggest))
        .route("/portal/kb/{id}", get(portal::article))
        .route(
            "/portal/password",
            get(portal::password_page).post(portal::password),
        )
        .route("/search", get(search::search))
        .route("/duplicates", get(duplicates::review))
        .route("/duplicates/scan", post(duplicates::scan))
        .route("/duplicates/merge", post(duplicates::merge))
        .route("/duplicates/undo", post(duplicates::undo))
        .route("/views", post(records::save_view))
        .route("/views/{id}/delete", post(records::delete_view))
        .route("/notifications", get(notifications::list))
        .route(
            "/notifications/read-all",
            post(notifications::mark_all_read),
        )
        .route("/notifications/{id}/read", post(notifications::mark_read))
        .route("/admin", get(admin::index))
        .route("/admin/roles", get(admin::roles))
        .route("/admin/jobs", get(jobs::list))
        .route("/admin/jobs/{id}/retry", post(jobs::retry))
        .route("/admin/jobs/{id}/cancel", post(jobs::cancel))
        .route("/admin/rules", get(rules::list))
        .route("/admin/rules/new", get(rules::new_form).post(rules::create))
        .route("/admin/rules/{id}", get(rules::show))
        .route(
            "/admin/rules/{id}/edit",
            get(rules::edit_form).post(rules::save),
        )
        .route("/admin/rules/{id}/test", post(rules::test))
        .route("/admin/webhooks", get(webhooks::list))
        .route("/admin/webhooks/{id}", get(webhooks::show))
        .route(
            "/admin/webhooks/{id}/deliveries/{delivery}/replay",
            post(webhooks::replay),
        )
        .route("/rules", get(rules::to_list))
        .route("/rules/{id}", get(rules::to_rule))
        .route("/users/{id}/password", post(admin::set_password))
        .route(
            "/email-templates/{id}/preview",
            get(email_templates::preview),
        )
        .route("/admin/email-templates", get(to_email_templates))
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe::ask).post(unsubscribe::confirm),
        )
        .route(
            "/preferences/{token}",
            get(unsubscribe::preferences).post(unsubscribe::save_preferences),
        )
        .route("/kb/suggest", get(kb::suggest))
        .route("/survey/{token}", get(survey::show).post(survey::answer))
        .route("/campaigns/{id}/launch", post(campaigns::launch))
        .route("/campaigns/{id}/pause", post(campaigns::pause))
        .route("/campaigns/{id}/profile", get(campaigns::profile))
        .route(
            "/campaigns/{id}/journey",
            get(journey::form).post(journey::add),
        )
        .route("/campaigns/{id}/journey/remove", post(journey::remove))
        .route(
            "/suppressions",
            get(suppressions::list).post(suppressions::add),
        )
        .route("/suppressions/remove", post(suppressions::remove))
        .route(
            "/campaigns/{id}/variants",
            get(campaigns::variants_form).post(campaigns::variants_save),
        )
        .route("/t/o/{campaign}/{contact}/{sig}", get(tracking::open))
        .route("/t/c/{campaign}/{contact}/{sig}", get(tracking::click))
        // Calendars are written in their own form (rows of periods and days, no JSON); the
        // generic routes leave these two out (see `records::Routes`).
        .route(
            "/calendars/new",
            get(calendars::new_form).post(calendars::create),
        )
        .route(
            "/calendars/{id}/edit",
            get(calendars::edit_form).post(calendars::save),
        )
        // Segments too: rows of conditions and facts, counted live, and their own page
        // (members, a static list's upload and removal); see `records::Routes`.
        .route(
            "/segments/new",
            get(segments::new_form).post(segments::create),
        )
        .route("/segments/count", get(segments::count))
        .route("/segments/{id}", get(segments::show))
        .route("/segments/{id}/propensity", get(propensity::page))
        .route(
            "/segments/{id}/edit",
            get(segments::edit_form).post(segments::save),
        )
        .route("/segments/{id}/import", post(segments::import))
        .route("/segments/{id}/remove", post(segments::remove));
    let mut c = records::Routes(Some(r));
    guanxi_domain::each_entity(&mut c);
    c.0.expect("set above")
        .layer(axum::middleware::from_fn(html_errors))
}

/// E-mail templates are set-up, listed among the settings, kept on the record pages.
async fn to_email_templates() -> axum::response::Redirect {
    axum::response::Redirect::to("/email-templates")
}

/// An error page in the user's language. Error details from the store are in English and
/// technical, so the page leads with a plain message for the status.
pub fn error_page(t: Tr, status: StatusCode, detail: &str) -> Response {
    let headline = match status {
        StatusCode::NOT_FOUND => t.s("error.not_found"),
        StatusCode::FORBIDDEN => t.s("error.forbidden"),
        StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT => t.s("error.conflict"),
        StatusCode::TOO_MANY_REQUESTS => t.s("error.too_many"),
        s if s.is_client_error() => t.s("error.bad_request"),
        _ => t.s("error.server"),
    };
    let page = templates::ErrorPage {
        t,
        status: status.as_u16(),
        headline,
        detail,
    };
    page::render_status(status, &page)
}

/// A page handler's refusal (a problem document: not found, forbidden, …) becomes an HTML
/// error page, so the browser never shows raw JSON.
async fn html_errors(req: Request, next: Next) -> Response {
    let lang = page::lang_of(req.headers());
    let res = next.run(req).await;
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !is_problem {
        return res;
    }
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap_or_default();
    let detail = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_string))
        .unwrap_or_default();
    error_page(Tr::new(lang), status, &detail).into_response()
}

mod templates {
    use super::i18n::Tr;
    use askama::Template;

    #[derive(Template)]
    #[template(path = "error.html")]
    pub struct ErrorPage<'a> {
        pub t: Tr,
        pub status: u16,
        pub headline: &'a str,
        pub detail: &'a str,
    }
}

#[cfg(test)]
mod tests {
    use super::i18n;

    /// Every `s("…")`, `f("…"` and `"key"` passed to the translator in the templates, the
    /// web code and the use cases exists in both languages.
    #[test]
    fn every_message_used_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![];
        for dir in ["templates", "src/web", "../app/src"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = e.unwrap().path();
                if p.is_file() {
                    files.push(p);
                }
            }
        }
        let mut missing = vec![];
        let mut used = 0;
        for p in files {
            let text = std::fs::read_to_string(&p).unwrap();
            for pat in [".s(\"", ".f(\""] {
                for (i, _) in text.match_indices(pat) {
                    let rest = &text[i + pat.len()..];
                    let Some(end) = rest.find('"') else { continue };
                    let key = &rest[..end];
                    if key.is_empty() || key.contains('{') || key.ends_with('.') {
                        continue;
                    }
                    used += 1;
                    for lang in i18n::Lang::ALL {
                        if !i18n::Tr::new(lang).has(key) {
                            missing.push(format!("{lang:?} {key} ({})", p.display()));
                        }
                    }
                }
            }
        }
        assert!(used > 50, "the scan found only {used} messages");
        assert!(missing.is_empty(), "missing messages: {missing:#?}");
    }
}
