//! Signing in and out, and the user's own profile: language, password, API tokens.

use super::i18n::{Lang, Tr};
use super::page::{self, FormData, Page, Posted, WebUser, lang_cookie, lang_of, render, shown};
use crate::deployment::{Deployment, throttle_key};
use crate::rate_limit::{ClientIp, LoginLimiter};
use crate::sessions;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use guanxi_app::AppError;
use guanxi_domain::Id;
use guanxi_domain::entities::{Locale, User};
use guanxi_store::{ApiToken, Store, StoreError};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    t: Tr,
    email: &'a str,
    next: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

/// Only paths on this site: `next=//evil.example` must not send a user away.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => n,
        _ => "/",
    }
}

fn with_cookie(mut res: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// `GET /login[?lang=en]`: the sign-in form; `lang` switches the language before signing in.
pub async fn login_page(headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let chosen = match q.lang.as_deref() {
        Some("en") => Some(Lang::En),
        Some("zh-CN") => Some(Lang::Zh),
        _ => None,
    };
    let lang = chosen.unwrap_or_else(|| lang_of(&headers));
    let page = LoginPage {
        t: Tr::new(lang),
        email: "",
        next: safe_next(q.next.as_deref()),
        error: None,
    };
    let res = render(&page);
    match chosen {
        Some(l) => with_cookie(res, &lang_cookie(l)),
        None => res,
    }
}

#[derive(Template)]
#[template(path = "signed_in.html")]
struct SignedInPage<'a> {
    t: Tr,
    warnings: Vec<String>,
    next: &'a str,
}

/// `POST /login`: on success a session cookie and the user's language, then where they were
/// going — by way of a warning first when someone elsewhere failed to sign in as them;
/// otherwise the form again with the e-mail kept.
pub async fn login(
    State(store): State<Store>,
    axum::Extension(limiter): axum::Extension<LoginLimiter>,
    axum::Extension(deployment): axum::Extension<Deployment>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = FormData::parse(&body);
    let t = Tr::new(lang_of(&headers));
    let email = form.text("email");
    let next = safe_next(form.get("next"));
    let again = |status: StatusCode, error: String| {
        let page = LoginPage {
            t,
            email,
            next,
            error: Some(&error),
        };
        page::render_status(status, &page)
    };
    if limiter.check(ip).is_err() {
        return again(StatusCode::TOO_MANY_REQUESTS, t.s("login.too_many").into());
    }
    let password = form.get("password").unwrap_or("");
    let signed_in = match sessions::sign_in(&store, email, password, ip).await {
        Ok(s) => s,
        Err(AppError::Store(StoreError::Throttled { until })) => {
            let seconds = crate::problem::seconds_until(until).to_string();
            let mut res = again(
                StatusCode::TOO_MANY_REQUESTS,
                t.f("login.throttled", &[("seconds", &seconds)]),
            );
            if let Ok(v) = HeaderValue::from_str(&seconds) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return res;
        }
        Err(AppError::Store(StoreError::Unauthorized | StoreError::Invalid(_))) => {
            return again(StatusCode::UNAUTHORIZED, t.s("login.wrong").into());
        }
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let locale = signed_in.locale;
    let lang = Lang::from_locale(locale);
    let res = if signed_in.failed_elsewhere.is_empty() {
        Redirect::to(next).into_response()
    } else {
        let t = Tr::new(lang);
        let warnings = signed_in
            .failed_elsewhere
            .iter()
            .map(|f| {
                t.f(
                    "login.failed_elsewhere",
                    &[
                        ("attempts", &f.attempts.to_string()),
                        ("address", &f.address),
                        ("since", &t.datetime(f.since)),
                    ],
                )
            })
            .collect();
        render(&SignedInPage { t, warnings, next })
    };
    let res = with_cookie(
        res,
        &sessions::session(&signed_in.session.token, &deployment),
    );
    with_cookie(res, &lang_cookie(lang))
}

/// `POST /logout`
pub async fn logout(State(store): State<Store>, headers: HeaderMap, posted: Posted) -> Response {
    let _ = posted;
    if let Some(token) = sessions::get(&headers, sessions::SESSION_COOKIE)
        && let Err(e) = store.close_session(token).await
    {
        return crate::Problem::from(e).into_response();
    }
    with_cookie(
        Redirect::to("/login").into_response(),
        sessions::END_SESSION_COOKIE,
    )
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage<'a> {
    p: Page,
    user: &'a User,
    tokens: Vec<TokenRow>,
    /// A token's secret, shown once right after it was made.
    new_secret: Option<String>,
    password_error: Option<String>,
    token_error: Option<String>,
    token_name: String,
}

struct TokenRow {
    id: Id,
    name: String,
    created: String,
    expires: String,
    last_used: String,
}

fn token_rows(t: Tr, tokens: Vec<ApiToken>) -> Vec<TokenRow> {
    tokens
        .into_iter()
        .map(|k| TokenRow {
            id: k.id,
            name: k.name,
            created: t.datetime(k.created_at),
            expires: k.expires_at.map_or_else(|| "—".into(), |e| t.datetime(e)),
            last_used: k.last_used_at.map_or_else(|| "—".into(), |e| t.datetime(e)),
        })
        .collect()
}

async fn profile_page(
    store: &Store,
    u: &WebUser,
    status: StatusCode,
    new_secret: Option<String>,
    password_error: Option<String>,
    token_error: Option<String>,
    token_name: String,
) -> Response {
    let t = u.t();
    let tokens = match store.tokens(&u.actor).await {
        Ok(k) => token_rows(t, k),
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let page = ProfilePage {
        p: u.page(t.s("profile.title")),
        user: &u.user,
        tokens,
        new_secret,
        password_error,
        token_error,
        token_name,
    };
    shown(page::render_status(status, &page), u)
}

/// `GET /profile`
pub async fn profile(State(store): State<Store>, u: WebUser) -> Response {
    profile_page(&store, &u, StatusCode::OK, None, None, None, String::new()).await
}

/// `POST /profile`: the user's language, kept on their user record and in a cookie.
pub async fn save_profile(
    State(store): State<Store>,
    Posted { user: u, form }: Posted,
) -> Response {
    let locale: Locale = match form.text("locale").parse() {
        Ok(l) => l,
        Err(_) => return super::error_page(u.t(), StatusCode::BAD_REQUEST, "locale"),
    };
    // Everyone may choose their own language, whatever their right to edit users; the
    // store's self-service write records the user as its author.
    if let Err(e) = store.set_own_locale(&u.actor, locale).await {
        return crate::Problem::from(e).into_response();
    }
    let lang = Lang::from_locale(locale);
    let res = page::done("/profile", Tr::new(lang).s("profile.saved"));
    with_cookie(res, &lang_cookie(lang))
}

/// `POST /profile/password`: needs the current password, and the new one twice.
pub async fn change_password(
    State(store): State<Store>,
    ClientIp(ip): ClientIp,
    Posted { user: u, form }: Posted,
) -> Response {
    let t = u.t();
    let fail = |msg: String| {
        let store = store.clone();
        let u = &u;
        async move {
            profile_page(
                &store,
                u,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(msg),
                None,
                String::new(),
            )
            .await
        }
    };
    let (current, new, again) = (
        form.get("current").unwrap_or(""),
        form.get("new").unwrap_or(""),
        form.get("again").unwrap_or(""),
    );
    if new != again {
        return fail(t.s("profile.password_mismatch").into()).await;
    }
    match store
        .confirm_password(u.user.email.as_str(), current, &throttle_key(ip))
        .await
    {
        Ok(()) => {}
        Err(StoreError::Throttled { until }) => {
            let seconds = crate::problem::seconds_until(until).to_string();
            return fail(t.f("login.throttled", &[("seconds", &seconds)])).await;
        }
        Err(_) => return fail(t.s("profile.password_wrong").into()).await,
    }
    match store.set_password(&u.actor, u.actor.user_id, new).await {
        Ok(()) => page::done("/profile", t.s("profile.password_changed")),
        Err(StoreError::Invalid(e)) => {
            let msg = e.0.first().map_or_else(String::new, |e| e.message.clone());
            fail(format!("{} {msg}", t.s("profile.password_weak"))).await
        }
        Err(e) => crate::Problem::from(e).into_response(),
    }
}

/// `POST /profile/tokens`: a personal API token; its secret is shown on this page once.
pub async fn issue_token(State(store): State<Store>, Posted { user: u, form }: Posted) -> Response {
    let t = u.t();
    let name = form.text("name").to_string();
    let days: i64 = form.text("days").parse().unwrap_or(0);
    let problem = if name.is_empty() {
        Some(t.s("profile.token_name_required"))
    } else if !(1..=366).contains(&days) {
        Some(t.s("profile.token_days"))
    } else {
        None
    };
    if let Some(msg) = problem {
        return profile_page(
            &store,
            &u,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            None,
            Some(msg.into()),
            name,
        )
        .await;
    }
    let expires = chrono::Utc::now() + chrono::Duration::days(days);
    match store.issue_token(&u.actor, &name, Some(expires)).await {
        Ok((_, secret)) => {
            profile_page(
                &store,
                &u,
                StatusCode::CREATED,
                Some(secret),
                None,
                None,
                String::new(),
            )
            .await
        }
        Err(e) => crate::Problem::from(e).into_response(),
    }
}

/// `POST /profile/tokens/{id}/revoke`
pub async fn revoke_token(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, .. }: Posted,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    match store.revoke_token(&u.actor, id).await {
        Ok(()) => page::done("/profile", u.t().s("profile.token_revoked")),
        Err(e) => crate::Problem::from(e).into_response(),
    }
}
