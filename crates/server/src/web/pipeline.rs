//! The pipeline kanban: open and closed deals as cards by stage, with each stage's count and
//! amount. A card moves by drag and drop, or by its own small form (keyboard and no-script
//! users); moving to won or lost asks for the reason.

use super::i18n::{Lang, Tr};
use super::names::Wanted;
use super::page::{self, Page, Posted, WebUser, render, shown};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use guanxi_app::AppError;
use guanxi_domain::entities::{Opportunity, Pipeline, Stage, StageOutcome};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Id, Record, Right};
use guanxi_store::{Store, StoreError};
use serde::Deserialize;

/// Cards shown per stage; the stage's count and total cover all of its deals.
const CARDS_PER_STAGE: u32 = 30;

pub fn stage_name(t: Tr, s: &Stage) -> String {
    match (t.lang, &s.name_zh) {
        (Lang::Zh, Some(zh)) => zh.clone(),
        _ => s.name.clone(),
    }
}

struct Card {
    id: Id,
    version: i64,
    name: String,
    account: String,
    account_href: String,
    amount: String,
    close: String,
    owner: String,
}

struct Column {
    key: String,
    name: String,
    closing: bool,
    count: String,
    total: String,
    more: bool,
    cards: Vec<Card>,
}

#[derive(Template)]
#[template(path = "kanban.html")]
struct Board {
    p: Page,
    pipelines: Vec<(Id, String, bool)>,
    pipeline_id: Id,
    columns: Vec<Column>,
    stages: Vec<(String, String, bool)>,
    can_move: bool,
    error: Option<String>,
    mine: bool,
}

#[derive(Deserialize)]
pub struct BoardQuery {
    #[serde(default)]
    pipeline: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    mine: Option<String>,
}

async fn pipelines(store: &Store) -> Result<Vec<Record<Pipeline>>, StoreError> {
    let q = ListQuery::default().limit(100).sort_by("name", false);
    Ok(store.list::<Pipeline>(&Actor::system(), &q).await?.items)
}

/// `GET /pipeline[?pipeline=…][&mine=1]`
pub async fn board(
    State(store): State<Store>,
    u: WebUser,
    Query(q): Query<BoardQuery>,
) -> Response {
    let t = u.t();
    let all = match pipelines(&store).await {
        Ok(p) => p,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let chosen = q
        .pipeline
        .as_deref()
        .and_then(|p| Id::parse(p).ok())
        .and_then(|id| all.iter().find(|p| p.meta.id == id))
        .or_else(|| all.iter().find(|p| p.data.is_default))
        .or(all.first());
    let Some(pipeline) = chosen else {
        return super::error_page(t, StatusCode::NOT_FOUND, "no pipeline");
    };
    let mine = q.mine.is_some();
    let mut base = vec![Filter::new(
        "pipeline_id",
        Op::Eq,
        pipeline.meta.id.to_string(),
    )];
    if mine {
        base.push(Filter::new("owner_id", Op::Eq, u.actor.user_id.to_string()));
    }
    let totals = match store
        .totals::<Opportunity>(&u.actor, &base, "stage", Some("amount"))
        .await
    {
        Ok(t) => t,
        Err(e) => return crate::Problem::from(e).into_response(),
    };
    let mut columns = vec![];
    let mut wanted = Wanted::default();
    let mut loaded = vec![];
    for s in &pipeline.data.stages {
        let mut filters = base.clone();
        filters.push(Filter::new("stage", Op::Eq, s.key.clone()));
        // Open deals by when they should close; closed ones most recent first, so a deal
        // just won or lost is on top of its lane.
        let (sort, desc) = if s.outcome == StageOutcome::Open {
            ("expected_close", false)
        } else {
            ("closed_at", true)
        };
        let lq = ListQuery {
            filters,
            ..ListQuery::default()
        }
        .sort_by(sort, desc)
        .limit(CARDS_PER_STAGE);
        let page = match store.list::<Opportunity>(&u.actor, &lq).await {
            Ok(p) => p,
            Err(e) => return crate::Problem::from(e).into_response(),
        };
        for o in &page.items {
            wanted.add(
                "accounts",
                &serde_json::Value::String(o.data.account_id.to_string()),
            );
            if let Some(owner) = o.meta.owner_id {
                wanted.add("users", &serde_json::Value::String(owner.to_string()));
            }
        }
        loaded.push((s, page));
    }
    let names = wanted.resolve(&store, &u.actor).await;
    for (s, page) in loaded {
        let total = totals.iter().find(|x| x.group == s.key);
        let count = total.map_or(0, |x| x.count);
        columns.push(Column {
            key: s.key.clone(),
            name: stage_name(t, s),
            closing: s.outcome != StageOutcome::Open,
            count: t.int(count),
            total: t.money(total.map_or(0, |x| x.sum), "CNY"),
            more: count > page.items.len() as i64,
            cards: page
                .items
                .iter()
                .map(|o| Card {
                    id: o.meta.id,
                    version: o.meta.version,
                    name: o.data.name.clone(),
                    account: names.get(&o.data.account_id).cloned().unwrap_or_default(),
                    account_href: format!("/accounts/{}", o.data.account_id),
                    amount: t.money(o.data.amount.minor, o.data.amount.currency.as_str()),
                    close: o
                        .data
                        .expected_close
                        .map_or_else(String::new, |d| t.date(d)),
                    owner: o
                        .meta
                        .owner_id
                        .and_then(|id| names.get(&id).cloned())
                        .unwrap_or_default(),
                })
                .collect(),
        });
    }
    let page = Board {
        p: u.page(t.s("nav.pipeline")),
        pipelines: all
            .iter()
            .map(|p| {
                (
                    p.meta.id,
                    p.data.name.clone(),
                    p.meta.id == pipeline.meta.id,
                )
            })
            .collect(),
        pipeline_id: pipeline.meta.id,
        stages: pipeline
            .data
            .stages
            .iter()
            .map(|s| {
                (
                    s.key.clone(),
                    stage_name(t, s),
                    s.outcome != StageOutcome::Open,
                )
            })
            .collect(),
        columns,
        can_move: u.may("opportunity", Right::Update),
        error: q.error.map(|k| match k.as_str() {
            "reason" => t.s("kanban.reason_required").to_string(),
            "conflict" => t.s("kanban.conflict").to_string(),
            _ => t.s("error.bad_request").to_string(),
        }),
        mine,
    };
    shown(render(&page), &u)
}

/// `POST /opportunities/{id}/move` with `stage`, `_version` and, for won or lost, `reason`.
pub async fn move_card(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let t = u.t();
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(t, StatusCode::NOT_FOUND, "");
    };
    let version: i64 = form.text("_version").parse().unwrap_or(0);
    let stage = form.text("stage").to_string();
    let reason = Some(form.text("reason").to_string()).filter(|r| !r.is_empty());
    match guanxi_app::deals::move_stage(&store, &u.actor, id, version, &stage, reason).await {
        Ok(moved) => {
            let back = format!("/pipeline?pipeline={}", moved.deal.data.pipeline_id);
            let stage_label = moved
                .pipeline
                .stage(&stage)
                .map_or_else(|| stage.clone(), |s| stage_name(t, s));
            page::done(
                &back,
                &t.f(
                    "kanban.moved",
                    &[("deal", &moved.deal.data.name), ("stage", &stage_label)],
                ),
            )
        }
        Err(e) => {
            // Where the user came from: the deal's board, read again (it may be gone).
            let back = match store.get::<Opportunity>(&u.actor, id).await {
                Ok(o) => format!("/pipeline?pipeline={}", o.data.pipeline_id),
                Err(_) => "/pipeline".to_string(),
            };
            match e {
                AppError::Store(StoreError::Invalid(e))
                    if e.0
                        .iter()
                        .any(|f| f.field == "close_reason" || f.field == "reason") =>
                {
                    axum::response::Redirect::to(&format!("{back}&error=reason")).into_response()
                }
                AppError::Store(StoreError::Conflict { .. }) => {
                    axum::response::Redirect::to(&format!("{back}&error=conflict")).into_response()
                }
                e => crate::Problem::from(e).into_response(),
            }
        }
    }
}
