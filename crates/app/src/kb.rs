//! The knowledge base: published articles suggested for what a customer or an agent types
//! (a case's subject), found through the full-text index with its Chinese analysis (jieba
//! words and pinyin), so "空调不制冷" finds "空调制冷效果差怎么办"; and how many cases each
//! article resolved.
//!
//! Published articles are public to customers, so [`suggest`] needs no staff [`Actor`]: the
//! customer portal calls it for a signed-in contact. Staff front ends call [`suggest_for`],
//! which checks the user may read articles.

use crate::AppError;
use guanxi_domain::entities::{Article, ArticleStatus};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Entity, Id, Right};
use guanxi_search::Index;
use guanxi_store::Store;
use serde::Serialize;
use serde_json::Value;

/// Most suggestions asked for at once.
pub const MAX_SUGGESTIONS: usize = 20;

/// How much of an article's body a suggestion quotes.
const EXCERPT_CHARS: usize = 120;

/// One suggested article.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Suggestion {
    pub id: Id,
    pub title: String,
    pub title_en: Option<String>,
    /// The start of the body (and of the English one), on one line.
    pub excerpt: String,
    pub excerpt_en: Option<String>,
    pub category: Option<String>,
}

/// The start of `text` on one line, cut at `EXCERPT_CHARS` characters with an ellipsis.
pub fn excerpt(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= EXCERPT_CHARS {
        return flat;
    }
    let mut out: String = flat.chars().take(EXCERPT_CHARS).collect();
    out.push('…');
    out
}

/// The published articles that best match `text`, best first, at most `limit`
/// ([`MAX_SUGGESTIONS`] at most). Blank text suggests nothing.
pub async fn suggest(
    store: &Store,
    index: &Index,
    text: &str,
    limit: usize,
) -> Result<Vec<Suggestion>, AppError> {
    let limit = limit.min(MAX_SUGGESTIONS);
    if text.trim().is_empty() || limit == 0 {
        return Ok(vec![]);
    }
    let hits = {
        let index = index.clone();
        let text = text.to_string();
        // Drafts are in the index too: ask for more, keep the published.
        let wanted = limit * 3 + 10;
        tokio::task::spawn_blocking(move || {
            index.search(&guanxi_search::Query {
                text: &text,
                kinds: &[Article::DEF.name],
                scope: &guanxi_search::Scope::All,
                sensitive: false,
                limit: wanted,
            })
        })
        .await
        .map_err(|e| AppError::failed("search failed", e))?
        .map_err(|e| AppError::failed("search failed", e))?
    };
    if hits.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<Value> = hits
        .iter()
        .map(|h| Value::String(h.id.to_string()))
        .collect();
    let q = ListQuery::default()
        .filter(Filter {
            field: "id".into(),
            op: Op::In,
            value: Value::Array(ids),
        })
        .filter(Filter::new(
            "status",
            Op::Eq,
            ArticleStatus::Published.as_str(),
        ))
        .limit(hits.len() as u32);
    let page = store.list::<Article>(&Actor::system(), &q).await?;
    let mut out = vec![];
    for h in &hits {
        if let Some(a) = page.items.iter().find(|a| a.meta.id.0 == h.id) {
            out.push(Suggestion {
                id: a.meta.id,
                title: a.data.title.clone(),
                title_en: a.data.title_en.clone(),
                excerpt: excerpt(&a.data.body),
                excerpt_en: a.data.body_en.as_deref().map(excerpt),
                category: a.data.category.clone(),
            });
            if out.len() == limit {
                break;
            }
        }
    }
    Ok(out)
}

/// [`suggest`] for a staff user, who must be allowed to read articles.
pub async fn suggest_for(
    store: &Store,
    index: &Index,
    actor: &Actor,
    text: &str,
    limit: usize,
) -> Result<Vec<Suggestion>, AppError> {
    if !actor.may(Article::DEF.name, Right::Read) {
        return Err(guanxi_store::StoreError::Forbidden {
            entity: Article::DEF.name,
            right: Right::Read,
        }
        .into());
    }
    suggest(store, index, text, limit).await
}

/// How many resolved or closed cases name the article (one the actor may read) as the
/// one that resolved them.
pub async fn usage(store: &Store, actor: &Actor, article: Id) -> Result<i64, AppError> {
    store.get::<Article>(actor, article).await?;
    Ok(store.article_usage(article).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_one_short_line() {
        assert_eq!(excerpt("  先清洗\n\n滤网。 "), "先清洗 滤网。");
        let long = "空调".repeat(100);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
    }
}
