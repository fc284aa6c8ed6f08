//! The knowledge base on the pages: articles suggested while an agent types a case's
//! subject (`GET /kb/suggest?q=`, JSON for the case form's script; the form works without
//! it), and an article's usage on its page.

use super::page::WebUser;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use guanxi_app::kb;
use guanxi_app::search::Searcher;
use guanxi_store::Store;
use serde::Deserialize;

/// How many articles the case form suggests.
const SHOWN: usize = 5;

#[derive(Deserialize)]
pub struct SuggestQuery {
    #[serde(default)]
    q: String,
}

/// `GET /kb/suggest?q=…`: `{"heading": …, "items": [{id, title, excerpt, href}]}`, the
/// titles and excerpts in the reader's language where the article has it.
pub async fn suggest(
    State(store): State<Store>,
    Extension(searcher): Extension<Searcher>,
    u: WebUser,
    Query(sq): Query<SuggestQuery>,
) -> Response {
    let t = u.t();
    let index = match searcher.index() {
        Ok(i) => i,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    match kb::suggest_for(&store, index, &u.actor, &sq.q, SHOWN).await {
        Ok(items) => Json(suggestions(t, items, "/articles")).into_response(),
        Err(e) => crate::Problem::from(e).into_response(),
    }
}

/// Suggested articles as the case form's script reads them: `{"heading", "items": [{id,
/// title, excerpt, href}]}`, in the reader's language where the article has it, each
/// linking under `pages` (the staff's `/articles`, the portal's `/portal/kb`).
pub(super) fn suggestions(
    t: guanxi_app::i18n::Tr,
    items: Vec<kb::Suggestion>,
    pages: &str,
) -> serde_json::Value {
    let en = t.lang == guanxi_app::i18n::Lang::En;
    let items: Vec<_> = items
        .into_iter()
        .map(|s| {
            let (title, excerpt) = match (en, s.title_en, s.excerpt_en) {
                (true, Some(title), e) => (title, e.unwrap_or(s.excerpt)),
                _ => (s.title, s.excerpt),
            };
            serde_json::json!({
                "id": s.id,
                "title": title,
                "excerpt": excerpt,
                "href": format!("{pages}/{}", s.id),
            })
        })
        .collect();
    serde_json::json!({ "heading": t.s("kb.suggested"), "items": items })
}
