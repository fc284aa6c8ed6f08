use crate::ValidationErrors;
use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*, SearchFields};
use serde::{Deserialize, Serialize};

str_enum! {
    /// Only published articles are suggested, and shown to customers.
    pub enum ArticleStatus { Draft = "draft", Published = "published" }
}

/// A knowledge-base article: how to solve a problem customers bring, in the main language
/// (Chinese, as a rule) and optionally in English. Suggested to agents and customers while
/// they type a case's subject (`app::kb`); a case names the article that resolved it
/// (`Case::article_id`), which is how an article's usage is counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Article {
    pub title: String,
    #[serde(default)]
    pub title_en: Option<String>,
    pub body: String,
    #[serde(default)]
    pub body_en: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default = "draft")]
    pub status: ArticleStatus,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The product lines (a product's category) it is about.
    #[serde(default)]
    pub product_lines: Vec<String>,
}

fn draft() -> ArticleStatus {
    ArticleStatus::Draft
}

/// Articles are short pages; a body past this is a paste gone wrong.
pub const MAX_BODY_CHARS: usize = 50_000;

impl Article {
    pub fn is_published(&self) -> bool {
        self.status == ArticleStatus::Published
    }
}

fn trimmed(v: &mut Option<String>) {
    if let Some(s) = v {
        let t = s.trim();
        *v = (!t.is_empty()).then(|| t.to_string());
    }
}

fn labels(list: &mut Vec<String>) {
    for v in list.iter_mut() {
        *v = v.trim().to_string();
    }
    list.retain(|v| !v.is_empty());
    let mut seen = std::collections::HashSet::new();
    list.retain(|v| seen.insert(v.clone()));
}

impl Entity for Article {
    const DEF: &'static EntityDef = &EntityDef {
        name: "article",
        table: "articles",
        scoped: false,
        fields: &[
            FieldDef::new("title", Text),
            FieldDef::new("title_en", Text),
            FieldDef::new("body", Text),
            FieldDef::new("body_en", Text),
            FieldDef::new("category", Text),
            FieldDef::new("status", Enum(ArticleStatus::VALUES)),
            FieldDef::new("tags", Tags),
            FieldDef::new("product_lines", Tags),
        ],
        collection: Some("articles"),
        title: &["title"],
        list_columns: &["title", "category", "status", "product_lines", "updated_at"],
        search: Some(&SearchFields {
            title: &["title"],
            names: &["title", "title_en"],
            text: &[
                "title",
                "title_en",
                "body",
                "body_en",
                "category",
                "tags",
                "product_lines",
            ],
            phones: &[],
            sensitive_phones: &[],
            emails: &[],
        }),
        ..EntityDef::PLAIN
    };

    fn normalize(&mut self) {
        self.title = self.title.trim().to_string();
        self.body = self.body.trim().to_string();
        trimmed(&mut self.title_en);
        trimmed(&mut self.body_en);
        trimmed(&mut self.category);
        labels(&mut self.tags);
        labels(&mut self.product_lines);
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("title", &self.title, 300);
        e.opt_text("title_en", &self.title_en, 300);
        e.text("body", &self.body, MAX_BODY_CHARS);
        e.opt_text("body_en", &self.body_en, MAX_BODY_CHARS);
        e.opt_text("category", &self.category, 100);
        if self.body_en.is_some() && self.title_en.is_none() {
            e.add(
                "title_en",
                "required",
                "an article with an English body needs an English title",
            );
        }
        for (field, list) in [("tags", &self.tags), ("product_lines", &self.product_lines)] {
            for (i, v) in list.iter().enumerate() {
                e.max_len(&format!("{field}[{i}]"), v, 100);
            }
        }
        e.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn article(v: serde_json::Value) -> Article {
        let mut a: Article = serde_json::from_value(v).unwrap();
        a.normalize();
        a
    }

    fn fields(a: &Article) -> Vec<String> {
        a.validate()
            .err()
            .map(|e| e.0.into_iter().map(|e| e.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn an_article_names_what_is_wrong() {
        let ok = article(json!({
            "title": " 空调制冷效果差怎么办 ", "body": "先清洗滤网……",
            "tags": ["空调", " 空调 ", ""], "product_lines": ["空调"]
        }));
        assert_eq!(fields(&ok), Vec::<String>::new());
        assert_eq!(ok.title, "空调制冷效果差怎么办");
        assert_eq!(ok.status, ArticleStatus::Draft, "a new article is a draft");
        assert_eq!(ok.tags, ["空调"]);
        assert!(!ok.is_published());

        let bad = article(json!({
            "title": "", "body": "  ", "body_en": "Clean the filter.", "title_en": " ",
            "status": "published", "tags": ["x".repeat(101)]
        }));
        assert_eq!(fields(&bad), ["title", "body", "title_en", "tags[0]"]);
        assert!(
            serde_json::from_value::<Article>(json!({
                "title": "x", "body": "y", "status": "archived"
            }))
            .is_err()
        );
    }
}
