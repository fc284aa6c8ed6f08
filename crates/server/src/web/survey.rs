//! The satisfaction survey a resolved case's contact is e-mailed a link to, open to anyone
//! holding the token (no sign-in), in the language the browser asks for: CSAT 1–5, NPS
//! 0–10 and a comment. The answer is stored once (`guanxi_app::surveys`); a second one is
//! refused politely, an unknown token is a 404 page, and a refused form keeps what was typed.

use super::i18n::Tr;
use super::page::{lang_of, render_status};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use guanxi_app::surveys::{self, Answer};
use guanxi_domain::entities::Case;
use guanxi_domain::{Actor, Id};
use guanxi_store::Store;
use std::collections::HashMap;

/// Where the page stands.
#[derive(PartialEq)]
enum Stage {
    Ask,
    Thanks,
    Answered,
    Unknown,
}

#[derive(Template)]
#[template(path = "survey.html")]
struct SurveyPage {
    t: Tr,
    state: Stage,
    intro: String,
    csat: String,
    nps: String,
    comment: String,
    error: Option<String>,
}

impl SurveyPage {
    fn asking(&self) -> bool {
        self.state == Stage::Ask
    }
    fn thanked(&self) -> bool {
        self.state == Stage::Thanks
    }
    fn answered(&self) -> bool {
        self.state == Stage::Answered
    }
}

fn page(t: Tr, state: Stage, intro: String) -> SurveyPage {
    SurveyPage {
        t,
        state,
        intro,
        csat: String::new(),
        nps: String::new(),
        comment: String::new(),
        error: None,
    }
}

/// The page's opening line, naming the case.
async fn intro(store: &Store, t: Tr, case: Id) -> String {
    match store.get::<Case>(&Actor::system(), case).await {
        Ok(c) => t.f(
            "survey.intro",
            &[("number", &c.data.number), ("subject", &c.data.subject)],
        ),
        Err(_) => String::new(),
    }
}

/// `GET /survey/{token}`
pub async fn show(
    State(store): State<Store>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, crate::Problem> {
    let t = Tr::new(lang_of(&headers));
    let Some(tok) = store.survey_by_token(&token).await? else {
        let p = page(t, Stage::Unknown, String::new());
        return Ok(render_status(StatusCode::NOT_FOUND, &p));
    };
    let intro = intro(&store, t, tok.case_id).await;
    let state = if tok.answered_at.is_some() {
        Stage::Answered
    } else {
        Stage::Ask
    };
    Ok(render_status(StatusCode::OK, &page(t, state, intro)))
}

/// A score typed into the form: empty is none; anything else must be a whole number.
fn score(v: Option<&String>) -> Result<Option<i64>, ()> {
    match v.map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(drop),
    }
}

/// `POST /survey/{token}` (form: `csat`, `nps`, `comment`)
pub async fn answer(
    State(store): State<Store>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, crate::Problem> {
    let t = Tr::new(lang_of(&headers));
    let Some(tok) = store.survey_by_token(&token).await? else {
        let p = page(t, Stage::Unknown, String::new());
        return Ok(render_status(StatusCode::NOT_FOUND, &p));
    };
    let intro = intro(&store, t, tok.case_id).await;
    let typed = |k: &str| form.get(k).cloned().unwrap_or_default();
    let mut again = page(t, Stage::Ask, intro.clone());
    again.csat = typed("csat");
    again.nps = typed("nps");
    again.comment = typed("comment");
    let (Ok(csat), Ok(nps)) = (score(form.get("csat")), score(form.get("nps"))) else {
        again.error = Some(t.s("survey.need_score").to_string());
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &again));
    };
    let a = Answer {
        csat,
        nps,
        comment: form.get("comment").cloned(),
    };
    match surveys::answer_by_token(&store, &token, a).await {
        Ok(_) => {
            let p = page(t, Stage::Thanks, intro);
            Ok(render_status(StatusCode::OK, &p))
        }
        Err(e) if surveys::is_answered(&e) => {
            let p = page(t, Stage::Answered, intro);
            Ok(render_status(StatusCode::CONFLICT, &p))
        }
        Err(e) if e.fields().is_some() => {
            // Out of range or no score at all: said once, in the reader's language.
            again.error = Some(t.s("survey.need_score").to_string());
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &again))
        }
        Err(e) => Err(e.into()),
    }
}
