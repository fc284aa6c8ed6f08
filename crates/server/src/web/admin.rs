//! Settings for administrators: an index of what can be configured, and the roles with
//! their rights. Users, teams, pipelines and custom fields are edited through their own
//! record pages.

use super::page::{self, Page, Posted, WebUser, render, shown};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use guanxi_domain::entities::Role;
use guanxi_domain::filter::ListQuery;
use guanxi_domain::{Actor, Right};
use guanxi_store::Store;

#[derive(Template)]
#[template(path = "admin.html")]
struct Index {
    p: Page,
    links: Vec<(String, String, String)>,
}

fn admin_only(u: &WebUser) -> Option<Response> {
    (!u.is_admin()).then(|| super::error_page(u.t(), StatusCode::FORBIDDEN, ""))
}

/// `GET /admin`
pub async fn index(u: WebUser) -> Response {
    if let Some(r) = admin_only(&u) {
        return r;
    }
    let t = u.t();
    let links = [
        ("/users", "user", "admin.users_help"),
        ("/teams", "team", "admin.teams_help"),
        ("/admin/roles", "role", "admin.roles_help"),
        ("/pipelines", "pipeline", "admin.pipelines_help"),
        ("/custom-fields", "custom_field", "admin.custom_fields_help"),
        (
            "/email-templates",
            "email_template",
            "admin.email_templates_help",
        ),
        ("/robots", "robot", "admin.robots_help"),
        ("/calendars", "calendar", "admin.calendars_help"),
        ("/sla-policies", "sla_policy", "admin.sla_policies_help"),
    ]
    .iter()
    .map(|(href, entity, help)| {
        (
            href.to_string(),
            t.entity_many(entity).to_string(),
            t.s(help).to_string(),
        )
    })
    .chain([
        (
            "/duplicates".to_string(),
            t.s("duplicates.title").to_string(),
            t.s("duplicates.help").to_string(),
        ),
        (
            "/admin/rules".to_string(),
            t.entity_many("rule").to_string(),
            t.s("rules.admin_help").to_string(),
        ),
        (
            "/admin/webhooks".to_string(),
            t.entity_many("webhook").to_string(),
            t.s("webhooks.admin_help").to_string(),
        ),
        (
            "/admin/jobs".to_string(),
            t.s("jobs.title").to_string(),
            t.s("jobs.admin_help").to_string(),
        ),
    ])
    .collect();
    let page = Index {
        p: u.page(t.s("nav.admin")),
        links,
    };
    shown(render(&page), &u)
}

struct RoleRow {
    name: String,
    scope: String,
    sensitive: String,
    rights: Vec<String>,
}

#[derive(Template)]
#[template(path = "roles.html")]
struct Roles {
    p: Page,
    entities: Vec<String>,
    roles: Vec<RoleRow>,
}

/// `GET /admin/roles`: every role's scope and rights per entity, as a matrix.
pub async fn roles(State(store): State<Store>, u: WebUser) -> Response {
    if let Some(r) = admin_only(&u) {
        return r;
    }
    let t = u.t();
    let q = ListQuery::default().limit(100).sort_by("key", false);
    let roles = match store.list::<Role>(&Actor::system(), &q).await {
        Ok(p) => p.items,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    // Every entity served as a list has rights to show.
    let entities: Vec<&str> = guanxi_domain::entity::collections()
        .map(|(_, d)| d.name)
        .collect();
    let letters = [
        (Right::Read, "R"),
        (Right::Create, "C"),
        (Right::Update, "U"),
        (Right::Delete, "D"),
        (Right::Export, "E"),
    ];
    let rows = roles
        .iter()
        .map(|r| RoleRow {
            name: match t.lang {
                super::i18n::Lang::Zh => r
                    .data
                    .name_zh
                    .clone()
                    .unwrap_or_else(|| r.data.name.clone()),
                super::i18n::Lang::En => r.data.name.clone(),
            },
            scope: t.choice("role", "scope", r.data.scope.as_str()),
            sensitive: t.yes_no(r.data.see_sensitive).to_string(),
            rights: entities
                .iter()
                .map(|e| {
                    letters
                        .iter()
                        .filter(|(right, _)| r.data.allows(e, *right))
                        .map(|(_, l)| *l)
                        .collect::<String>()
                })
                .collect(),
        })
        .collect();
    let page = Roles {
        p: u.page(t.entity_many("role")),
        entities: entities
            .iter()
            .map(|e| t.entity_many(e).to_string())
            .collect(),
        roles: rows,
    };
    shown(render(&page), &u)
}

/// `POST /users/{id}/password`: an administrator sets a user's password (a new user's
/// first one, or a reset).
pub async fn set_password(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let t = u.t();
    let Ok(id) = guanxi_domain::Id::parse(&id) else {
        return super::error_page(t, StatusCode::NOT_FOUND, "");
    };
    match store
        .set_password(&u.actor, id, form.get("password").unwrap_or(""))
        .await
    {
        Ok(()) => page::done(&format!("/users/{id}"), t.s("admin.password_set")),
        Err(guanxi_store::StoreError::Invalid(e)) => {
            let msg = e.0.first().map_or_else(String::new, |e| e.message.clone());
            page::done(
                &format!("/users/{id}"),
                &format!("{} {msg}", t.s("profile.password_weak")),
            )
        }
        Err(e) => crate::Problem::from(e).into_response(),
    }
}
