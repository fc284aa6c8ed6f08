//! What every page knows: who is signed in, in which language, the CSRF token for its forms,
//! the navigation the role may use, and a one-time notice. Also the extractors that give
//! handlers a signed-in user (or send the browser to sign in) and a checked form.

use super::i18n::{Lang, Tr};
use crate::sessions::{self, SESSION_COOKIE};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use guanxi_domain::entities::User;
use guanxi_domain::{Actor, Right};
use guanxi_store::Store;

pub const LANG_COOKIE: &str = "guanxi_lang";
const FLASH_COOKIE: &str = "guanxi_flash";

/// The language of a request: the signed-in user's choice (kept in a cookie at sign-in),
/// else the browser's `Accept-Language`.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    match sessions::get(headers, LANG_COOKIE) {
        Some("en") => Lang::En,
        Some("zh-CN") => Lang::Zh,
        _ => Lang::from_accept_language(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        ),
    }
}

pub fn lang_cookie(lang: Lang) -> String {
    format!(
        "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
        lang.tag()
    )
}

/// A link in the top navigation.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The frame of every page.
pub struct Page {
    pub t: Tr,
    pub title: String,
    pub user_name: String,
    pub role_name: String,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub notice: Option<String>,
    pub admin: bool,
    /// The bell: the user's unread notifications.
    pub unread: i64,
}

impl Page {
    /// The bell's accessible name: "Notifications: 3 unread".
    pub fn bell_label(&self) -> String {
        self.t
            .f("notify.bell", &[("count", &self.t.int(self.unread))])
    }
}

/// Top navigation: (path, entity it lists, message key).
const NAV: &[(&str, &str, &str)] = &[
    ("/", "", "nav.home"),
    ("/accounts", "account", "nav.accounts"),
    ("/contacts", "contact", "nav.contacts"),
    ("/leads", "lead", "nav.leads"),
    ("/pipeline", "opportunity", "nav.pipeline"),
    ("/orders", "order", "nav.orders"),
    ("/cases/queue", "case", "nav.cases"),
    ("/service", "case", "nav.service"),
    ("/products", "product", "nav.products"),
    ("/campaigns", "campaign", "nav.campaigns"),
    ("/segments", "segment", "nav.segments"),
];

/// The signed-in user of a page request. Without a valid session the browser is sent to
/// the sign-in page, which brings it back afterwards.
pub struct WebUser {
    pub actor: Actor,
    pub user: User,
    pub csrf: String,
    pub lang: Lang,
    pub notice: Option<String>,
    pub path: String,
    /// Unread notifications, counted once per request for the bell in the page's header.
    pub unread: i64,
}

impl WebUser {
    pub fn t(&self) -> Tr {
        Tr::new(self.lang)
    }

    pub fn may(&self, entity: &str, right: Right) -> bool {
        self.actor.may(entity, right)
    }

    pub fn is_admin(&self) -> bool {
        self.actor.may("user", Right::Update)
    }

    pub fn page(&self, title: impl Into<String>) -> Page {
        let t = self.t();
        let nav = NAV
            .iter()
            .filter(|(_, entity, _)| entity.is_empty() || self.may(entity, Right::Read))
            .map(|(href, _, key)| NavItem {
                href,
                label: t.s(key),
                current: if *href == "/" {
                    self.path == "/"
                } else {
                    self.path.starts_with(href)
                        || (*href == "/pipeline" && self.path.starts_with("/opportunities"))
                        || (*href == "/cases/queue" && self.path.starts_with("/cases"))
                },
            })
            .collect::<Vec<_>>();
        let mut nav = nav;
        if self.actor.partner_id.is_some() {
            // A service partner starts from its own cases.
            nav.insert(
                1,
                NavItem {
                    href: "/partner",
                    label: t.s("nav.partner"),
                    current: self.path.starts_with("/partner"),
                },
            );
        }
        let role_name = match self.lang {
            Lang::Zh => self
                .actor
                .role
                .name_zh
                .clone()
                .unwrap_or_else(|| self.actor.role.name.clone()),
            Lang::En => self.actor.role.name.clone(),
        };
        Page {
            t,
            title: title.into(),
            user_name: self.user.name.clone(),
            role_name,
            csrf: self.csrf.clone(),
            nav,
            notice: self.notice.clone(),
            admin: self.is_admin(),
            unread: self.unread,
        }
    }
}

/// Where a browser without a session goes: the sign-in page, then back here.
pub struct SignInFirst(String);

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        let next: String = form_urlencoded::byte_serialize(self.0.as_bytes()).collect();
        Redirect::to(&format!("/login?next={next}")).into_response()
    }
}

impl FromRequestParts<Store> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, store: &Store) -> Result<Self, Response> {
        let path = parts
            .uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        let sign_in = || SignInFirst(path.clone()).into_response();
        let token = sessions::get(&parts.headers, SESSION_COOKIE).ok_or_else(sign_in)?;
        let (actor, csrf) = match store.session(token).await {
            Ok(s) => s,
            Err(guanxi_store::StoreError::Unauthorized) => return Err(sign_in()),
            Err(e) => return Err(crate::Problem::from(e).into_response()),
        };
        let user = store
            .get::<User>(&Actor::system(), actor.user_id)
            .await
            .map_err(|e| crate::Problem::from(e).into_response())?
            .data;
        // One COUNT on a partial index: the bell every page shows.
        let unread = store
            .unread_notifications(&actor)
            .await
            .map_err(|e| crate::Problem::from(e).into_response())?;
        let notice = sessions::get(&parts.headers, FLASH_COOKIE).map(|v| {
            form_urlencoded::parse(format!("n={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        });
        Ok(WebUser {
            actor,
            lang: lang_of(&parts.headers),
            user,
            csrf,
            notice,
            path: parts.uri.path().to_string(),
            unread,
        })
    }
}

/// A submitted form as name/value pairs, in order (checkbox groups repeat a name).
#[derive(Debug, Default, Clone)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &[u8]) -> FormData {
        FormData(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The trimmed value, `""` when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).map_or("", str::trim)
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A form posted by a signed-in user from one of our pages: the CSRF token it carries must
/// be the session's, and a browser-sent `Origin` must be this site.
pub struct Posted {
    pub user: WebUser,
    pub form: FormData,
}

pub(super) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest == host)
}

/// The refusal of a forged or stale form.
pub fn forbidden_form(lang: Lang) -> Response {
    let t = Tr::new(lang);
    super::error_page(t, StatusCode::FORBIDDEN, t.s("error.csrf"))
}

impl FromRequest<Store> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, store: &Store) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let user = WebUser::from_request_parts(&mut parts, store).await?;
        if !same_origin(&parts.headers) {
            return Err(forbidden_form(user.lang));
        }
        let bytes = axum::body::to_bytes(body, 4 << 20)
            .await
            .map_err(|e| crate::Problem::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))
            .map_err(IntoResponse::into_response)?;
        let form = FormData::parse(&bytes);
        if form.get("_csrf") != Some(user.csrf.as_str()) {
            return Err(forbidden_form(user.lang));
        }
        Ok(Posted { user, form })
    }
}

/// Render a template into a response.
pub fn render(t: &impl askama::Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!("rendering a page failed: {e}");
            crate::Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
            .into_response()
        }
    }
}

/// Render with a status other than 200 (a form sent back with its errors: 422).
pub fn render_status(status: StatusCode, t: &impl askama::Template) -> Response {
    let mut res = render(t);
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}

/// Go to `to` after a successful form, with a one-time notice for the next page.
pub fn done(to: &str, notice: &str) -> Response {
    let mut res = Redirect::to(to).into_response();
    let value: String = form_urlencoded::byte_serialize(notice.as_bytes()).collect();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{FLASH_COOKIE}={value}; Path=/; SameSite=Lax; Max-Age=60"
    )) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Clear a notice once a page has shown it.
pub fn shown(mut res: Response, user: &WebUser) -> Response {
    if user.notice.is_some() {
        res.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_static("guanxi_flash=; Path=/; SameSite=Lax; Max-Age=0"),
        );
    }
    res
}
