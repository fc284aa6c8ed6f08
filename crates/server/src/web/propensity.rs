//! `/segments/{id}/propensity`: a segment ranked by the response-propensity model — its
//! hold-out AUC, what the score rests on (the coefficients) and the contacts scoring
//! highest — or, when the campaign history is too thin, why there is no model.

use super::page::{FormData, Page, WebUser, render};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use guanxi_app::AppError;
use guanxi_app::campaigns::targeting::{self, Ranking};
use guanxi_app::i18n::Tr;
use guanxi_domain::Id;
use guanxi_domain::entities::Segment;
use guanxi_store::Store;

struct CoefficientView {
    label: String,
    weight: String,
    /// |weight| on a 0..100 scale of the page's largest, and whether it raises the score.
    bar: f64,
    positive: bool,
}

struct ContactView {
    rank: usize,
    id: Id,
    name: String,
    score: String,
}

#[derive(Template)]
#[template(path = "segment_propensity.html")]
struct PropensityPage {
    p: Page,
    heading: String,
    id: Id,
    /// Why there is no model, when there is none.
    refused: Option<String>,
    auc: String,
    fitted: String,
    coefficients: Vec<CoefficientView>,
    scored: String,
    top: Vec<ContactView>,
}

/// A feature's label: `account.grade` as the field's name, a one-hot value with its
/// choice, the history and the no-analytics flag in words.
fn feature_label(t: Tr, feature: &str) -> String {
    let (path, value) = match feature.split_once('=') {
        Some((p, v)) => (p, Some(v)),
        None => (feature, None),
    };
    match (path.split_once('.'), value) {
        (Some(("history", what)), _) => t.s(&format!("propensity.{what}")).to_string(),
        (Some(("account", "no_analytics")), _) => t.s("propensity.no_analytics").to_string(),
        (Some((entity, field)), None) => {
            format!("{} · {}", t.entity_one(entity), t.field(entity, field))
        }
        (Some((entity, field)), Some(v)) => format!(
            "{} · {} = {}",
            t.entity_one(entity),
            t.field(entity, field),
            t.choice(entity, field, v)
        ),
        (None, _) => feature.to_string(),
    }
}

fn views(t: Tr, r: &Ranking) -> (Vec<CoefficientView>, Vec<ContactView>) {
    let widest = r
        .model
        .features
        .iter()
        .map(|c| c.coefficient.abs())
        .fold(0.0, f64::max);
    let coefficients = r
        .model
        .features
        .iter()
        .map(|c| CoefficientView {
            label: feature_label(t, &c.feature),
            weight: format!("{:+.3}", c.coefficient),
            bar: if widest > 0.0 {
                c.coefficient.abs() / widest * 100.0
            } else {
                0.0
            },
            positive: c.coefficient >= 0.0,
        })
        .collect();
    let top = r
        .top
        .iter()
        .enumerate()
        .map(|(i, c)| ContactView {
            rank: i + 1,
            id: c.contact_id,
            name: c.name.clone(),
            score: t.percent(c.score),
        })
        .collect();
    (coefficients, top)
}

/// `GET /segments/{id}/propensity?limit=`: the page.
pub async fn page(
    State(store): State<Store>,
    u: WebUser,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let t = u.t();
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(t, StatusCode::NOT_FOUND, "");
    };
    let seg = match store.get::<Segment>(&u.actor, id).await {
        Ok(s) => s,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let q = FormData::parse(raw.unwrap_or_default().as_bytes());
    let limit = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(targeting::DEFAULT_LIMIT)
        .clamp(1, targeting::MAX_LIMIT);
    let heading = format!("{} · {}", t.s("propensity.title"), seg.data.name);
    let mut page = PropensityPage {
        p: u.page(heading.clone()),
        heading,
        id,
        refused: None,
        auc: String::new(),
        fitted: String::new(),
        coefficients: vec![],
        scored: String::new(),
        top: vec![],
    };
    match targeting::rank(&store, &u.actor, id, limit).await {
        Ok(r) => {
            let m = &r.model;
            page.auc = t.decimal(m.auc, 3);
            page.fitted = t.f(
                "propensity.fitted",
                &[
                    ("rows", &t.int(m.training_rows as i64)),
                    ("responders", &t.int(m.training_responders as i64)),
                    ("held", &t.int(m.held_out_rows as i64)),
                    ("held_responders", &t.int(m.held_out_responders as i64)),
                    ("at", &t.datetime(m.trained_at)),
                ],
            );
            page.scored = t.f(
                "propensity.scored",
                &[
                    ("n", &t.int(r.contacts as i64)),
                    ("shown", &t.int(r.top.len() as i64)),
                ],
            );
            (page.coefficients, page.top) = views(t, &r);
        }
        Err(e @ AppError::Invalid(_)) => {
            let why: Vec<String> = e
                .fields()
                .map(|f| f.0.iter().map(|e| super::fields::message(t, e)).collect())
                .unwrap_or_default();
            page.refused = Some(why.join(" "));
        }
        Err(e) => return crate::Problem::from(e).into_response(),
    }
    render(&page)
}
