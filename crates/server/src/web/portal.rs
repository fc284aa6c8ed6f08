//! The customer self-service portal (`/portal`): a customer's contact signs in apart from
//! staff — a one-time link mailed to it, or a password it chose — with its own session
//! cookie, which no staff page or API takes; it sees its account's cases, opens one,
//! follows it and replies. The use cases are `guanxi_app::portal`.

use super::i18n::Tr;
use super::page::{FormData, lang_of, render, render_status, same_origin};
use crate::deployment::{Deployment, throttle_key};
use crate::rate_limit::{ClientIp, LoginLimiter};
use crate::sessions;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use guanxi_app::AppError;
use guanxi_app::portal::{self, Customer, NewCase};
use guanxi_domain::entities::{Account, CaseKind, CaseStatus, Direction, InteractionKind};
use guanxi_domain::{Actor, Id};
use guanxi_store::{Store, StoreError};

pub const PORTAL_COOKIE: &str = "guanxi_portal";
const PORTAL_HOURS: i64 = 12;

fn cookie(token: &str, deployment: &Deployment) -> String {
    let secure = if deployment.https() { "; Secure" } else { "" };
    format!(
        "{PORTAL_COOKIE}={token}; Path=/portal; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        PORTAL_HOURS * 3600
    )
}

fn with_cookie(mut res: Response, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// The signed-in customer and the session's CSRF token, if any.
async fn visitor(store: &Store, headers: &HeaderMap) -> Option<(Customer, String)> {
    let token = sessions::get(headers, PORTAL_COOKIE)?;
    let (contact, csrf) = store.portal_session(token).await.ok()?;
    let who = Customer::load(store, contact).await.ok()?;
    Some((who, csrf))
}

fn to_login() -> Response {
    Redirect::to("/portal/login").into_response()
}

/// A form post of a signed-in customer: same origin, with the session's CSRF token.
async fn posted(store: &Store, headers: &HeaderMap, form: &FormData) -> Option<(Customer, String)> {
    let (who, csrf) = visitor(store, headers).await?;
    (same_origin(headers) && form.text("_csrf") == csrf).then_some((who, csrf))
}

#[derive(Template)]
#[template(path = "portal_login.html")]
struct LoginPage<'a> {
    t: Tr,
    who: Option<String>,
    csrf: String,
    notice: Option<String>,
    email: &'a str,
    error: Option<String>,
}

/// `GET /portal/login`
pub async fn login_page(headers: HeaderMap) -> Response {
    render(&LoginPage {
        t: Tr::new(lang_of(&headers)),
        who: None,
        csrf: String::new(),
        notice: None,
        email: "",
        error: None,
    })
}

/// `POST /portal/login` (`email`, `password`): throttled like staff sign-in.
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
    let again = |status: StatusCode, error: String| {
        let page = LoginPage {
            t,
            who: None,
            csrf: String::new(),
            notice: None,
            email,
            error: Some(error),
        };
        render_status(status, &page)
    };
    if limiter.check(ip).is_err() {
        return again(StatusCode::TOO_MANY_REQUESTS, t.s("login.too_many").into());
    }
    let password = form.get("password").unwrap_or("");
    match store.portal_login(email, password, &throttle_key(ip)).await {
        Ok(contact) => match store
            .portal_open_session(contact, chrono::Duration::hours(PORTAL_HOURS))
            .await
        {
            Ok(s) => with_cookie(
                Redirect::to("/portal").into_response(),
                &cookie(&s.token, &deployment),
            ),
            Err(e) => crate::Problem::from(e).into_response(),
        },
        Err(StoreError::Throttled { until }) => {
            let seconds = crate::problem::seconds_until(until).to_string();
            again(
                StatusCode::TOO_MANY_REQUESTS,
                t.f("login.throttled", &[("seconds", &seconds)]),
            )
        }
        Err(StoreError::Unauthorized | StoreError::Invalid(_)) => {
            again(StatusCode::UNAUTHORIZED, t.s("portal.wrong").into())
        }
        Err(e) => crate::Problem::from(e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "portal_message.html")]
struct MessagePage {
    t: Tr,
    who: Option<String>,
    csrf: String,
    notice: Option<String>,
    title: String,
    message: String,
}

fn message(t: Tr, status: StatusCode, title: &str, text: &str) -> Response {
    render_status(
        status,
        &MessagePage {
            t,
            who: None,
            csrf: String::new(),
            notice: None,
            title: title.into(),
            message: text.into(),
        },
    )
}

/// `POST /portal/link` (`email`): a one-time sign-in link is mailed, if the address is a
/// contact's; the answer is the same either way.
pub async fn request_link(
    State(store): State<Store>,
    axum::Extension(limiter): axum::Extension<LoginLimiter>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let t = Tr::new(lang_of(&headers));
    if limiter.check(ip).is_err() {
        return message(
            t,
            StatusCode::TOO_MANY_REQUESTS,
            t.s("portal.sign_in"),
            t.s("login.too_many"),
        );
    }
    let form = FormData::parse(&body);
    match portal::request_link(&store, form.text("email")).await {
        Ok(()) => message(
            t,
            StatusCode::OK,
            t.s("portal.sign_in"),
            t.s("portal.link_sent"),
        ),
        Err(e) => crate::Problem::from(e).into_response(),
    }
}

/// `GET /portal/link/{token}`: signs in once, while the link is fresh.
pub async fn use_link(
    State(store): State<Store>,
    axum::Extension(deployment): axum::Extension<Deployment>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let t = Tr::new(lang_of(&headers));
    let contact = match store.portal_use_link(&token).await {
        Ok(c) => c,
        Err(StoreError::Unauthorized) => {
            return message(
                t,
                StatusCode::NOT_FOUND,
                t.s("portal.sign_in"),
                t.s("portal.link_used"),
            );
        }
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    match store
        .portal_open_session(contact, chrono::Duration::hours(PORTAL_HOURS))
        .await
    {
        Ok(s) => with_cookie(
            Redirect::to("/portal").into_response(),
            &cookie(&s.token, &deployment),
        ),
        Err(e) => crate::Problem::from(e).into_response(),
    }
}

/// `POST /portal/logout`
pub async fn logout(
    State(store): State<Store>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = FormData::parse(&body);
    if posted(&store, &headers, &form).await.is_some()
        && let Some(token) = sessions::get(&headers, PORTAL_COOKIE)
        && let Err(e) = store.portal_close_session(token).await
    {
        return crate::Problem::from(e).into_response();
    }
    with_cookie(
        to_login(),
        &format!("{PORTAL_COOKIE}=; Path=/portal; HttpOnly; SameSite=Lax; Max-Age=0"),
    )
}

struct CaseRow {
    id: Id,
    number: String,
    subject: String,
    status: String,
    opened: String,
}

#[derive(Template)]
#[template(path = "portal_home.html")]
struct HomePage {
    t: Tr,
    who: Option<String>,
    csrf: String,
    notice: Option<String>,
    cases: Vec<CaseRow>,
}

fn lang(headers: &HeaderMap, who: &Customer) -> Tr {
    let _ = who;
    Tr::new(lang_of(headers))
}

/// `GET /portal`: the customer's cases.
pub async fn home(State(store): State<Store>, headers: HeaderMap) -> Response {
    let Some((who, csrf)) = visitor(&store, &headers).await else {
        return to_login();
    };
    let t = lang(&headers, &who);
    let cases = match portal::cases(&store, &who).await {
        Ok(c) => c,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let notice = sessions::get(&headers, "guanxi_portal_flash")
        .map(|_| t.s("portal.case_opened").to_string());
    let page = HomePage {
        t,
        who: Some(who.contact.data.name.clone()),
        csrf,
        notice,
        cases: cases
            .iter()
            .map(|c| CaseRow {
                id: c.meta.id,
                number: c.data.number.clone(),
                subject: c.data.subject.clone(),
                status: t.choice("case", "status", c.data.status.as_str()),
                opened: t.datetime(c.meta.created_at),
            })
            .collect(),
    };
    with_cookie(
        render(&page),
        "guanxi_portal_flash=; Path=/portal; SameSite=Lax; Max-Age=0",
    )
}

#[derive(Template)]
#[template(path = "portal_new.html")]
struct NewPage<'a> {
    t: Tr,
    who: Option<String>,
    csrf: String,
    notice: Option<String>,
    errors: Vec<String>,
    /// (value, label, chosen)
    kinds: Vec<(&'static str, String, bool)>,
    subject: &'a str,
    category: &'a str,
    description: &'a str,
}

fn kinds(t: Tr, chosen: &str) -> Vec<(&'static str, String, bool)> {
    CaseKind::VALUES
        .iter()
        .map(|k| (*k, t.choice("case", "kind", k), *k == chosen))
        .collect()
}

/// `GET /portal/cases/new`
pub async fn new_case_page(State(store): State<Store>, headers: HeaderMap) -> Response {
    let Some((who, csrf)) = visitor(&store, &headers).await else {
        return to_login();
    };
    let t = lang(&headers, &who);
    render(&NewPage {
        t,
        who: Some(who.contact.data.name.clone()),
        csrf,
        notice: None,
        errors: vec![],
        kinds: kinds(t, "request"),
        subject: "",
        category: "",
        description: "",
    })
}

/// The messages of a refused input, or the response to any other error.
fn messages_of(t: Tr, e: AppError) -> Result<Vec<String>, Box<Response>> {
    let p = crate::Problem::from(e);
    if p.status != StatusCode::UNPROCESSABLE_ENTITY {
        return Err(Box::new(p.into_response()));
    }
    Ok(p.errors
        .iter()
        .map(|e| super::fields::message(t, e))
        .collect())
}

/// `POST /portal/cases/new` (`kind`, `subject`, `category`, `description`); on an error
/// the form comes back with what was typed.
pub async fn new_case(
    State(store): State<Store>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = FormData::parse(&body);
    let Some((who, csrf)) = posted(&store, &headers, &form).await else {
        return to_login();
    };
    let t = lang(&headers, &who);
    let new = NewCase {
        subject: form.text("subject").into(),
        description: form.text("description").into(),
        kind: form.text("kind").parse().ok(),
        category: Some(form.text("category").to_string()),
    };
    match portal::open_case(&store, &who, new).await {
        Ok(c) => with_cookie(
            Redirect::to(&format!("/portal/cases/{}", c.meta.id)).into_response(),
            "guanxi_portal_flash=1; Path=/portal; SameSite=Lax; Max-Age=60",
        ),
        Err(e) => {
            let errors = match messages_of(t, e) {
                Ok(m) => m,
                Err(r) => return *r,
            };
            render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &NewPage {
                    t,
                    who: Some(who.contact.data.name.clone()),
                    csrf,
                    notice: None,
                    errors,
                    kinds: kinds(t, form.text("kind")),
                    subject: form.text("subject"),
                    category: form.text("category"),
                    description: form.text("description"),
                },
            )
        }
    }
}

struct Message {
    at: String,
    who: String,
    body: String,
    /// `mine` or `theirs`.
    side: &'static str,
}

#[derive(Template)]
#[template(path = "portal_case.html")]
struct CasePage {
    t: Tr,
    who: Option<String>,
    csrf: String,
    notice: Option<String>,
    id: Id,
    number: String,
    subject: String,
    status: String,
    due: Option<String>,
    partner: Option<String>,
    resolution: Option<String>,
    messages: Vec<Message>,
    open: bool,
    errors: Vec<String>,
    reply: String,
    /// Resolved and not rated yet: the survey form.
    rate: bool,
    rate_errors: Vec<String>,
    csat: String,
    nps: String,
    comment: String,
    /// Rated already: the thanks.
    rated: Option<String>,
}

/// What the customer typed in the rating form, and what was wrong with it.
#[derive(Default)]
struct Rating {
    errors: Vec<String>,
    csat: String,
    nps: String,
    comment: String,
}

/// What the customer sent from the case page and was refused: a reply, or a rating.
#[derive(Default)]
struct Sent {
    /// Why the reply was refused.
    errors: Vec<String>,
    reply: String,
    rating: Rating,
}

/// The case page again with what was sent and why it was refused (422).
async fn sent_back(
    store: &Store,
    headers: &HeaderMap,
    who: Customer,
    csrf: String,
    id: Id,
    sent: Sent,
) -> Response {
    let mut res = case_page_of(store, headers, who, csrf, id, sent).await;
    *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    res
}

async fn case_page_of(
    store: &Store,
    headers: &HeaderMap,
    who: Customer,
    csrf: String,
    id: Id,
    sent: Sent,
) -> Response {
    let Sent {
        errors,
        reply,
        rating,
    } = sent;
    let t = lang(headers, &who);
    let case = match portal::case(store, &who, id).await {
        Ok(c) => c,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let messages = match portal::messages(store, &who, id).await {
        Ok(m) => m,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let partner = match case.data.partner_id {
        Some(p) => store
            .get::<Account>(&Actor::system(), p)
            .await
            .ok()
            .map(|a| a.data.name),
        None => None,
    };
    let c = &case.data;
    let answered = match guanxi_app::surveys::of_case(store, id).await {
        Ok(a) => a,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let page = CasePage {
        t,
        who: Some(who.contact.data.name.clone()),
        csrf,
        notice: sessions::get(headers, "guanxi_portal_flash")
            .map(|_| t.s("portal.case_opened").to_string()),
        id,
        number: c.number.clone(),
        subject: c.subject.clone(),
        status: t.choice("case", "status", c.status.as_str()),
        due: c.sla_due_at.filter(|_| c.is_open()).map(|d| t.datetime(d)),
        partner,
        resolution: c.resolution.clone(),
        messages: messages
            .iter()
            .map(|m| {
                let mine = m.data.direction == Some(Direction::Inbound)
                    && m.data.kind == InteractionKind::Portal;
                Message {
                    at: t.datetime(m.data.at),
                    who: if mine {
                        who.contact.data.name.clone()
                    } else {
                        t.choice("interaction", "kind", m.data.kind.as_str())
                    },
                    body: m
                        .data
                        .body
                        .clone()
                        .or(m.data.outcome.clone())
                        .unwrap_or_else(|| m.data.subject.clone()),
                    side: if mine { "mine" } else { "theirs" },
                }
            })
            .collect(),
        open: !matches!(c.status, CaseStatus::Closed),
        errors,
        reply,
        rate: !c.is_open() && !answered,
        rate_errors: rating.errors,
        csat: rating.csat,
        nps: rating.nps,
        comment: rating.comment,
        rated: answered.then(|| t.s("survey.thanks").to_string()),
    };
    with_cookie(
        render(&page),
        "guanxi_portal_flash=; Path=/portal; SameSite=Lax; Max-Age=0",
    )
}

/// `GET /portal/cases/{id}`: one of the customer's cases, its status and messages.
pub async fn case_page(
    State(store): State<Store>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some((who, csrf)) = visitor(&store, &headers).await else {
        return to_login();
    };
    let Ok(id) = Id::parse(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    case_page_of(&store, &headers, who, csrf, id, Sent::default()).await
}

/// `POST /portal/cases/{id}/rate` (`csat` 1–5, `nps` 0–10, `comment`): the customer's
/// satisfaction with a resolved case, once.
pub async fn rate(
    State(store): State<Store>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let form = FormData::parse(&body);
    let Some((who, csrf)) = posted(&store, &headers, &form).await else {
        return to_login();
    };
    let Ok(id) = Id::parse(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let t = lang(&headers, &who);
    if let Err(e) = portal::case(&store, &who, id).await {
        return crate::Problem::from(e).into_response();
    }
    let score = |k: &str| form.text(k).parse::<i64>().ok();
    let answer = guanxi_app::surveys::Answer {
        csat: score("csat"),
        nps: score("nps"),
        comment: Some(form.text("comment").to_string()).filter(|c| !c.is_empty()),
    };
    let rating = |errors: Vec<String>| Sent {
        rating: Rating {
            errors,
            csat: form.text("csat").into(),
            nps: form.text("nps").into(),
            comment: form.text("comment").into(),
        },
        ..Sent::default()
    };
    if answer.csat.is_none() && answer.nps.is_none() {
        let rating = rating(vec![t.s("survey.need_score").to_string()]);
        return sent_back(&store, &headers, who, csrf, id, rating).await;
    }
    match guanxi_app::surveys::answer(
        &store,
        id,
        Some(who.id()),
        answer,
        guanxi_domain::entities::SurveyChannel::Portal,
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/portal/cases/{id}#rate")).into_response(),
        Err(e) => match messages_of(t, e) {
            Ok(errors) => sent_back(&store, &headers, who, csrf, id, rating(errors)).await,
            Err(r) => *r,
        },
    }
}

/// `GET /portal/kb/suggest?q=`: published articles for what the customer types, in the
/// shape the case form's script reads (as the staff `/kb/suggest`).
pub async fn kb_suggest(
    State(store): State<Store>,
    axum::Extension(searcher): axum::Extension<guanxi_app::search::Searcher>,
    headers: HeaderMap,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let Some((who, _)) = visitor(&store, &headers).await else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let t = lang(&headers, &who);
    let q = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let index = match searcher.index() {
        Ok(i) => i,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    match guanxi_app::kb::suggest(&store, index, &q, 5).await {
        Ok(items) => axum::Json(super::kb::suggestions(t, items, "/portal/kb")).into_response(),
        Err(e) => crate::Problem::from(e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "portal_article.html")]
struct ArticlePage {
    t: Tr,
    who: Option<String>,
    csrf: String,
    notice: Option<String>,
    title: String,
    body: String,
}

/// `GET /portal/kb/{id}`: a published article, in the reader's language where it has it.
pub async fn article(
    State(store): State<Store>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some((who, csrf)) = visitor(&store, &headers).await else {
        return to_login();
    };
    let t = lang(&headers, &who);
    let found = match Id::parse(&id) {
        Ok(id) => store
            .get::<guanxi_domain::entities::Article>(&Actor::system(), id)
            .await
            .ok()
            .filter(|a| a.data.status == guanxi_domain::entities::ArticleStatus::Published),
        Err(_) => None,
    };
    let Some(a) = found else {
        return message(
            t,
            StatusCode::NOT_FOUND,
            t.s("portal.name"),
            t.s("portal.no_article"),
        );
    };
    let en = t.lang == guanxi_app::i18n::Lang::En;
    let (title, body) = match (en, a.data.title_en, a.data.body_en) {
        (true, Some(title), Some(body)) => (title, body),
        _ => (a.data.title, a.data.body),
    };
    render(&ArticlePage {
        t,
        who: Some(who.contact.data.name.clone()),
        csrf,
        notice: None,
        title,
        body,
    })
}

/// `POST /portal/cases/{id}/reply` (`body`)
pub async fn reply(
    State(store): State<Store>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let form = FormData::parse(&body);
    let Some((who, csrf)) = posted(&store, &headers, &form).await else {
        return to_login();
    };
    let Ok(id) = Id::parse(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let t = lang(&headers, &who);
    match portal::reply(&store, &who, id, form.text("body")).await {
        Ok(_) => Redirect::to(&format!("/portal/cases/{id}")).into_response(),
        Err(e) => match messages_of(t, e) {
            Ok(errors) => {
                let sent = Sent {
                    errors,
                    reply: form.text("body").to_string(),
                    ..Sent::default()
                };
                sent_back(&store, &headers, who, csrf, id, sent).await
            }
            Err(r) => *r,
        },
    }
}

#[derive(Template)]
#[template(path = "portal_password.html")]
struct PasswordPage {
    t: Tr,
    who: Option<String>,
    csrf: String,
    notice: Option<String>,
    errors: Vec<String>,
}

/// `GET /portal/password`
pub async fn password_page(State(store): State<Store>, headers: HeaderMap) -> Response {
    let Some((who, csrf)) = visitor(&store, &headers).await else {
        return to_login();
    };
    render(&PasswordPage {
        t: lang(&headers, &who),
        who: Some(who.contact.data.name.clone()),
        csrf,
        notice: None,
        errors: vec![],
    })
}

/// `POST /portal/password` (`password`): the customer chooses a password.
pub async fn password(
    State(store): State<Store>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = FormData::parse(&body);
    let Some((who, csrf)) = posted(&store, &headers, &form).await else {
        return to_login();
    };
    let t = lang(&headers, &who);
    match store
        .portal_set_password(who.id(), form.get("password").unwrap_or(""))
        .await
    {
        Ok(()) => message(
            t,
            StatusCode::OK,
            t.s("portal.password"),
            t.s("portal.password_saved"),
        ),
        Err(e) => match messages_of(t, e.into()) {
            Ok(errors) => render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &PasswordPage {
                    t,
                    who: Some(who.contact.data.name.clone()),
                    csrf,
                    notice: None,
                    errors,
                },
            ),
            Err(r) => *r,
        },
    }
}
