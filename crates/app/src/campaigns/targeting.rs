//! Targets by score: the contacts of a segment (as the reader sees it) scored by the
//! response-propensity model and ranked, and the rule a campaign's targeting sets — all of
//! them, the top N, or those scoring at least s.

use super::propensity::{self, Model, ModelSummary};
use crate::AppError;
use chrono::{DateTime, Utc};
use guanxi_domain::entities::{Campaign, Contact, Segment, Targeting};
use guanxi_domain::{Actor, Id, Record, ValidationErrors};
use guanxi_store::{SegmentRef, Store};
use serde::Serialize;

/// Contacts read from the segment at a time.
const PAGE: u32 = 1_000;
/// The most contacts a ranking lists, and how many unless told.
pub const MAX_LIMIT: usize = 1_000;
pub const DEFAULT_LIMIT: usize = 50;

/// A segment ranked by the model.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Ranking {
    pub model: ModelSummary,
    /// The contacts of the segment scored.
    pub contacts: usize,
    /// The highest scores first.
    pub top: Vec<Ranked>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Ranked {
    pub contact_id: Id,
    pub name: String,
    pub account_id: Option<Id>,
    /// The predicted probability of a response.
    pub score: f64,
}

/// Who of `scored` a campaign targets, highest first (ties by id): everyone, the `n` best,
/// or those scoring at least `s`.
pub fn select(mut scored: Vec<(Id, f64)>, rule: Rule) -> Vec<(Id, f64)> {
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    match rule {
        Rule::All => {}
        Rule::TopN(n) => scored.truncate(n),
        Rule::MinScore(s) => scored.retain(|(_, score)| *score >= s),
    }
    scored
}

/// A campaign's targeting, checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    All,
    TopN(usize),
    MinScore(f64),
}

impl Rule {
    /// The campaign's targeting (validated on every write: a count for top N, a score for
    /// score ≥ s).
    pub fn of(c: &Campaign) -> Rule {
        match (c.targeting, c.target_top_n, c.target_min_score) {
            (Targeting::TopN, Some(n), _) => Rule::TopN(usize::try_from(n.max(1)).unwrap_or(1)),
            (Targeting::MinScore, _, Some(s)) => Rule::MinScore(s),
            _ => Rule::All,
        }
    }
}

/// Every contact the segment reaches for `actor` at `at`, scored by `model`.
pub async fn score_segment(
    store: &Store,
    actor: &Actor,
    segment: &Record<Segment>,
    model: &Model,
    at: DateTime<Utc>,
) -> Result<Vec<(Id, f64)>, AppError> {
    let mut out = vec![];
    let mut after = None;
    loop {
        let page = store
            .segment_contacts(actor, SegmentRef::from(segment), after, PAGE, at)
            .await?;
        let attributes = store.contact_attributes(actor, &page, at).await?;
        out.extend(attributes.iter().map(|(id, a)| (*id, model.score(a))));
        if page.len() < PAGE as usize {
            return Ok(out);
        }
        after = page.last().copied();
    }
}

/// The segment `id` ranked by a model fitted now on the campaigns `actor` may read: the
/// model and the `limit` highest-scored contacts.
pub async fn rank(store: &Store, actor: &Actor, id: Id, limit: usize) -> Result<Ranking, AppError> {
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::Invalid(ValidationErrors::single(
            "limit",
            "out_of_range",
            format!("limit must be 1 to {MAX_LIMIT}"),
        )));
    }
    let segment = store.get::<Segment>(actor, id).await?;
    let model = propensity::fit(store, actor).await?;
    let scored = score_segment(store, actor, &segment, &model, Utc::now()).await?;
    let contacts = scored.len();
    let top = select(scored, Rule::TopN(limit));
    let ids: Vec<Id> = top.iter().map(|(id, _)| *id).collect();
    let records: std::collections::HashMap<Id, Record<Contact>> = store
        .get_many::<Contact>(actor, &ids)
        .await?
        .into_iter()
        .map(|r| (r.meta.id, r))
        .collect();
    Ok(Ranking {
        model: model.summary,
        contacts,
        top: top
            .into_iter()
            .filter_map(|(id, score)| {
                let r = records.get(&id)?;
                Some(Ranked {
                    contact_id: id,
                    name: r.data.name.clone(),
                    account_id: r.data.account_id,
                    score,
                })
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_keeps_the_best_first_and_breaks_ties_by_id() {
        let ids: Vec<Id> = (0..5).map(|_| Id::new()).collect();
        let scored = vec![
            (ids[0], 0.2),
            (ids[1], 0.9),
            (ids[2], 0.5),
            (ids[3], 0.5),
            (ids[4], 0.05),
        ];
        let of = |r| {
            select(scored.clone(), r)
                .into_iter()
                .map(|(id, _)| id)
                .collect::<Vec<_>>()
        };
        let (lo, hi) = if ids[2] < ids[3] {
            (ids[2], ids[3])
        } else {
            (ids[3], ids[2])
        };
        assert_eq!(of(Rule::TopN(3)), [ids[1], lo, hi]);
        assert_eq!(
            of(Rule::TopN(2)),
            [ids[1], lo],
            "a tie goes to the smaller id"
        );
        assert_eq!(of(Rule::TopN(10)).len(), 5);
        assert_eq!(of(Rule::MinScore(0.5)), [ids[1], lo, hi], "at least s");
        assert_eq!(of(Rule::MinScore(0.95)), Vec::<Id>::new());
        assert_eq!(of(Rule::All).len(), 5);
    }

    #[test]
    fn the_rule_follows_the_campaign() {
        let mut c: Campaign = serde_json::from_value(serde_json::json!({
            "name": "x", "channel": "email", "status": "planned",
            "budget": { "minor": 0, "currency": "CNY" },
        }))
        .unwrap();
        assert_eq!(Rule::of(&c), Rule::All);
        (c.targeting, c.target_top_n) = (Targeting::TopN, Some(40));
        assert_eq!(Rule::of(&c), Rule::TopN(40));
        (c.targeting, c.target_top_n, c.target_min_score) = (Targeting::MinScore, None, Some(0.3));
        assert_eq!(Rule::of(&c), Rule::MinScore(0.3));
    }
}
