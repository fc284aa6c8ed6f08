//! The pages behind a contact's unsubscribe token. `/unsubscribe/{token}` is the one-click
//! address marketing mail carries (RFC 8058), open to anyone holding the token: a mailbox
//! provider POSTs `List-Unsubscribe=One-Click` to it; a person following the link sees a
//! page asking to confirm, because link scanners GET every address in a mail and must not
//! unsubscribe anyone. `/preferences/{token}` lets the contact choose every channel, in
//! Chinese or English (`?lang=`), whatever the browser asks for.

use super::i18n::Tr;
use super::page::{FormData, lang_of, render_status};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use guanxi_app::consent::{self, CHANNELS};
use guanxi_app::i18n::Lang;
use guanxi_domain::entities::ConsentChannel;
use guanxi_store::Store;

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    t: Tr,
    token: String,
    done: bool,
    unknown: bool,
}

fn page(
    headers: &HeaderMap,
    status: StatusCode,
    token: &str,
    done: bool,
    unknown: bool,
) -> Response {
    let t = Tr::new(lang_of(headers));
    let token = token.to_string();
    render_status(
        status,
        &UnsubscribePage {
            t,
            token,
            done,
            unknown,
        },
    )
}

pub async fn ask(
    State(store): State<Store>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, crate::Problem> {
    let known = store.unsubscribe_contact(&token).await?.is_some();
    let status = if known {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok(page(&headers, status, &token, false, !known))
}

pub async fn confirm(
    State(store): State<Store>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, crate::Problem> {
    Ok(match consent::unsubscribe(&store, &token).await? {
        Some(_) => page(&headers, StatusCode::OK, &token, true, false),
        None => page(&headers, StatusCode::NOT_FOUND, &token, false, true),
    })
}

/// One channel's box on the preferences page.
struct ChannelBox {
    channel: &'static str,
    label: &'static str,
    given: bool,
}

#[derive(Template)]
#[template(path = "preferences.html")]
struct PreferencesPage {
    t: Tr,
    token: String,
    /// The other language's name and tag, for the switch.
    other_lang: (&'static str, &'static str),
    channels: Vec<ChannelBox>,
    saved: bool,
    unknown: bool,
}

/// The page's language: `?lang=zh|en` first, then the cookie and the browser.
fn lang(headers: &HeaderMap, query: Option<&str>) -> Lang {
    let asked = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.into_owned());
    match asked.as_deref() {
        Some("en") => Lang::En,
        Some("zh") => Lang::Zh,
        _ => lang_of(headers),
    }
}

fn preferences_page(
    lang: Lang,
    token: &str,
    consents: Option<[Option<bool>; 4]>,
    saved: bool,
) -> Response {
    let t = Tr::new(lang);
    let unknown = consents.is_none();
    let channels = CHANNELS
        .iter()
        .zip(consents.unwrap_or_default())
        .map(|(c, given)| ChannelBox {
            channel: c.as_str(),
            label: t.s(&format!("preferences.{}", c.as_str())),
            given: given == Some(true),
        })
        .collect();
    let p = PreferencesPage {
        t,
        token: token.to_string(),
        other_lang: match lang {
            Lang::Zh => ("English", "en"),
            Lang::En => ("中文", "zh"),
        },
        channels,
        saved,
        unknown,
    };
    let status = if unknown {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    render_status(status, &p)
}

fn consents_of(c: &guanxi_domain::entities::Contact) -> [Option<bool>; 4] {
    CHANNELS.map(|ch| ch.of(c))
}

/// `GET /preferences/{token}`
pub async fn preferences(
    State(store): State<Store>,
    headers: HeaderMap,
    Path(token): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, crate::Problem> {
    let contact = consent::preferences(&store, &token).await?;
    let lang = lang(&headers, query.as_deref());
    Ok(preferences_page(
        lang,
        &token,
        contact.map(|c| consents_of(&c.data)),
        false,
    ))
}

/// `POST /preferences/{token}`: the ticked channels are given, the others withdrawn.
pub async fn save_preferences(
    State(store): State<Store>,
    headers: HeaderMap,
    Path(token): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, crate::Problem> {
    let form = FormData::parse(&body);
    let given: Vec<ConsentChannel> = form.all("channel").filter_map(|c| c.parse().ok()).collect();
    let contact = consent::set_preferences(&store, &token, &given).await?;
    let lang = lang(&headers, query.as_deref());
    let saved = contact.is_some();
    Ok(preferences_page(
        lang,
        &token,
        contact.map(|c| consents_of(&c.data)),
        saved,
    ))
}
