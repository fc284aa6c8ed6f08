//! `/service`: the service KPIs with charts — response and resolution times in business
//! time, SLA attainment by team, partner, category and month, the open backlog by age,
//! satisfaction by month — for a team or a partner, over the last days chosen.

use super::home::{Bar, bars};
use super::names::Wanted;
use super::page::{Page, WebUser, render, shown};
use crate::problem::Problem;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use guanxi_app::i18n::Tr;
use guanxi_app::service::kpis::{self, Attainment, Kpis, Only};
use guanxi_domain::entities::{Account, Survey, Team};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Id};
use guanxi_store::Store;

/// What the dashboard is asked for: the last `days`, a team's or a partner's cases.
#[derive(Debug, Default)]
pub struct KpiQuery {
    days: Option<i64>,
    team: Option<Id>,
    partner: Option<Id>,
}

impl KpiQuery {
    /// From a query string; a wrong value is refused naming its parameter.
    pub fn parse(raw: Option<&str>) -> Result<KpiQuery, Problem> {
        let mut q = KpiQuery::default();
        let bad = |field: &str, why: &str| {
            Problem::field(StatusCode::UNPROCESSABLE_ENTITY, field, "invalid", why)
        };
        for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            if v.is_empty() {
                continue;
            }
            match k.as_ref() {
                "days" => match v.parse::<i64>() {
                    Ok(d) if (1..=730).contains(&d) => q.days = Some(d),
                    _ => return Err(bad("days", "a number of days from 1 to 730")),
                },
                "team" => q.team = Some(Id::parse(&v).map_err(|_| bad("team", "a team id"))?),
                "partner" => {
                    q.partner = Some(Id::parse(&v).map_err(|_| bad("partner", "an account id"))?)
                }
                _ => {}
            }
        }
        Ok(q)
    }

    pub fn days(&self) -> i64 {
        self.days.unwrap_or(90)
    }

    pub fn only(&self) -> Only {
        Only {
            team: self.team,
            partner: self.partner,
        }
    }
}

/// The KPIs the query asks for. Satisfaction comes from the survey answers in sight
/// (CSAT and NPS, dated when given), and from a case's own satisfaction, dated by its
/// resolution, where no survey was answered.
pub async fn compute(store: &Store, actor: &Actor, q: &KpiQuery) -> Result<Kpis, Problem> {
    let since = Utc::now() - Duration::days(q.days());
    let facts = store.case_facts(actor, since).await?;
    let mut answers: Vec<kpis::Answer> = vec![];
    let mut surveyed = std::collections::HashSet::new();
    let mut cursor = None;
    loop {
        let mut page = ListQuery::default()
            .filter(Filter::new("answered_at", Op::Ge, serde_json::json!(since)))
            .limit(guanxi_domain::filter::MAX_LIMIT)
            .after(cursor);
        let only = q.only();
        if let Some(p) = only.partner {
            page = page.filter(Filter::new("partner_id", Op::Eq, p.to_string()));
        }
        if let Some(t) = only.team {
            page = page.filter(Filter::new("team_id", Op::Eq, t.to_string()));
        }
        let got = store.list::<Survey>(actor, &page).await?;
        for s in &got.items {
            surveyed.insert(s.data.case_id);
            answers.push((s.data.answered_at, s.data.csat, s.data.nps));
        }
        match got.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    answers.extend(
        facts
            .iter()
            .filter(|f| !surveyed.contains(&f.id))
            .filter_map(|f| Some((f.resolved_at?, Some(f.satisfaction?), None))),
    );
    Ok(kpis::kpis(store, actor, since, q.only(), &answers).await?)
}

#[derive(Template)]
#[template(path = "service_dashboard.html")]
struct Dashboard {
    p: Page,
    days: i64,
    teams: Vec<(String, String, bool)>,
    partners: Vec<(String, String, bool)>,
    figures: Vec<(String, String)>,
    charts: Vec<(String, String, Vec<Bar>)>,
}

fn minutes(t: Tr, m: Option<f64>) -> String {
    match m {
        None => "—".into(),
        Some(m) if m < 120.0 => t.f("kpis.minutes", &[("n", &t.decimal(m, 0))]),
        Some(m) => t.f("kpis.hours", &[("n", &t.decimal(m / 60.0, 1))]),
    }
}

fn attainment_bars(rows: &[Attainment], name: impl Fn(&str) -> String, t: Tr) -> Vec<Bar> {
    bars(
        rows.iter()
            .filter_map(|a| {
                let share = a.share()?;
                Some((name(&a.key), t.percent(share), share))
            })
            .collect(),
    )
}

/// `GET /service?days=&team=&partner=`
pub async fn dashboard(
    State(store): State<Store>,
    u: WebUser,
    RawQuery(raw): RawQuery,
) -> Response {
    let t = u.t();
    let q = match KpiQuery::parse(raw.as_deref()) {
        Ok(q) => q,
        Err(p) => return p.into_response(),
    };
    let k = match compute(&store, &u.actor, &q).await {
        Ok(k) => k,
        Err(p) => return p.into_response(),
    };
    let only = q.only();
    let mut wanted = Wanted::default();
    for a in k.by_team.iter() {
        wanted.add("teams", &serde_json::Value::from(a.key.as_str()));
    }
    for a in k.by_partner.iter() {
        wanted.add("accounts", &serde_json::Value::from(a.key.as_str()));
    }
    let names = wanted.resolve(&store, &u.actor).await;
    let named = |key: &str| {
        Id::parse(key)
            .ok()
            .and_then(|id| names.get(&id).cloned())
            .unwrap_or_else(|| t.s("kpis.none_set").to_string())
    };
    let system = Actor::system();
    let teams = store
        .list::<Team>(&system, &ListQuery::default().limit(200))
        .await
        .map(|p| p.items)
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            (
                r.meta.id.to_string(),
                r.data.name,
                only.team == Some(r.meta.id),
            )
        })
        .collect();
    let partners = store
        .list::<Account>(
            &u.actor,
            &ListQuery::default()
                .filter(Filter::new("takes_cases", Op::Eq, true))
                .limit(200),
        )
        .await
        .map(|p| p.items)
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            (
                r.meta.id.to_string(),
                r.data.name,
                only.partner == Some(r.meta.id),
            )
        })
        .collect();
    let figures = vec![
        (
            t.s("kpis.first_response_median").to_string(),
            minutes(t, k.first_response.median_minutes),
        ),
        (
            t.s("kpis.first_response_p90").to_string(),
            minutes(t, k.first_response.p90_minutes),
        ),
        (
            t.s("kpis.resolution_median").to_string(),
            minutes(t, k.resolution.median_minutes),
        ),
        (
            t.s("kpis.resolution_p90").to_string(),
            minutes(t, k.resolution.p90_minutes),
        ),
        (
            t.s("kpis.attainment").to_string(),
            k.attainment
                .map(|a| t.percent(a))
                .unwrap_or_else(|| "—".into()),
        ),
        (t.s("kpis.open").to_string(), t.int(k.open as i64)),
        (
            t.s("kpis.breached_open").to_string(),
            t.int(k.breached_open as i64),
        ),
    ];
    let backlog = ["kpis.age_day", "kpis.age_3", "kpis.age_7", "kpis.age_older"]
        .iter()
        .zip(k.backlog)
        .map(|(key, n)| (t.s(key).to_string(), t.int(n as i64), n as f64))
        .collect();
    let csat = bars(
        k.satisfaction
            .iter()
            .filter_map(|s| Some((s.month.clone(), t.decimal(s.csat?, 2), s.csat?)))
            .collect(),
    );
    let nps = bars(
        k.satisfaction
            .iter()
            .filter_map(|s| Some((s.month.clone(), t.decimal(s.nps?, 0), s.nps?.max(0.0))))
            .collect(),
    );
    let charts = vec![
        (
            t.s("kpis.by_month").to_string(),
            attainment_bars(&k.by_month, |m| m.to_string(), t),
        ),
        (
            t.s("kpis.by_team").to_string(),
            attainment_bars(&k.by_team, named, t),
        ),
        (
            t.s("kpis.by_partner").to_string(),
            attainment_bars(&k.by_partner, named, t),
        ),
        (
            t.s("kpis.by_category").to_string(),
            attainment_bars(&k.by_category, |c| c.to_string(), t),
        ),
        (t.s("kpis.backlog").to_string(), bars(backlog)),
        (t.s("kpis.csat").to_string(), csat),
        (t.s("kpis.nps").to_string(), nps),
    ]
    .into_iter()
    .map(|(title, chart)| (title.clone(), title, chart))
    .collect();
    let page = Dashboard {
        p: u.page(t.s("kpis.title")),
        days: q.days(),
        teams,
        partners,
        figures,
        charts,
    };
    shown(render(&page), &u)
}
