//! The customer analytics run (`guanxi analytics run`): every account's figures from the
//! stored orders, cases and interactions, computed by `guanxi_analytics::portfolio` and
//! written back to the accounts' computed fields; and its schedule in a server.

use crate::AppError;
use chrono::{NaiveDate, Utc};
use guanxi_analytics::grading::Grade;
use guanxi_analytics::lifecycle::Stage;
use guanxi_analytics::portfolio::{self, Customer, Purchase, Report, Settings};
use guanxi_domain::entities::{CustomerGrade, CustomerInsight, LifecycleStage, RfmSegment};
use guanxi_domain::settings::GradingSettings;
use guanxi_domain::{Actor, Currency, Id, Money};
use guanxi_store::{Facts, Store};
use std::time::Instant;

/// What a run did, for the command line and the log.
#[derive(Debug)]
pub struct Outcome {
    pub accounts: usize,
    pub report: Report,
    pub read_secs: f64,
    pub compute_secs: f64,
    pub write_secs: f64,
}

/// Seed 004's industry position from the account tier (key accounts lead their field).
fn industry_position(tier: Option<&str>) -> f64 {
    match tier {
        Some("key") => 4.0,
        Some("major") => 3.0,
        Some("small") => 1.0,
        _ => 2.0,
    }
}

fn customers(facts: Facts) -> (Vec<Customer<Id>>, Vec<String>) {
    let customers = facts
        .accounts
        .into_iter()
        .map(|a| Customer {
            id: a.id,
            industry_position: industry_position(a.tier.as_deref()),
            purchases: a
                .orders
                .into_iter()
                .map(|o| Purchase {
                    date: o.date,
                    amount_minor: o.total_minor,
                    margin_minor: o.margin_minor,
                    products: o.products,
                })
                .collect(),
            complaints: a.complaints,
            ratings: a.ratings,
            contact_effort: a.outbound as f64,
        })
        .collect();
    (customers, facts.skus)
}

/// The administrator's grading settings over the standard rule set (same indicators, in
/// the same order as [`GradingSettings::weights`]).
fn rules_from(g: &GradingSettings, rules: &mut guanxi_analytics::grading::Rules) {
    for (indicator, w) in rules.indicators.iter_mut().zip(g.weights()) {
        indicator.weight = w;
    }
    rules.min_a = g.min_a;
    rules.min_b = g.min_b;
    rules.min_c = g.min_c;
}

fn grade(g: Grade) -> CustomerGrade {
    match g {
        Grade::A => CustomerGrade::A,
        Grade::B => CustomerGrade::B,
        Grade::C => CustomerGrade::C,
        Grade::D => CustomerGrade::D,
    }
}

fn stage(s: Stage) -> LifecycleStage {
    match s {
        Stage::Exploration => LifecycleStage::Exploration,
        Stage::Formation => LifecycleStage::Formation,
        Stage::Stable => LifecycleStage::Stable,
        Stage::Decline => LifecycleStage::Decline,
    }
}

/// Analyse every account as of `as_of` and store the figures. Money is taken to be in
/// CNY, the currency of the orders Guanxi takes by default.
/// It is the system's own work: it reads and writes as the system actor.
pub async fn run(store: &Store, as_of: NaiveDate) -> Result<Outcome, AppError> {
    let system = Actor::system();
    let started = Instant::now();
    let facts = store.customer_facts(&system).await?;
    let read_secs = started.elapsed().as_secs_f64();
    let accounts = facts.accounts.len();
    let grading = store
        .setting::<GradingSettings>(GradingSettings::KEY)
        .await?
        .map(|(g, _)| g)
        .unwrap_or_default();
    let mut settings = Settings::standard(as_of);
    rules_from(&grading, &mut settings.grading);
    let started = Instant::now();
    let (insights, report, skus) = tokio::task::spawn_blocking(move || {
        let (customers, skus) = customers(facts);
        let (insights, report) = portfolio::analyse(&customers, &settings);
        (insights, report, skus)
    })
    .await
    .map_err(|e| AppError::failed("the analysis task failed", e))?;
    let compute_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let rows: Vec<(Id, CustomerInsight)> = insights
        .into_iter()
        .map(|x| {
            let segment: RfmSegment = x
                .segment
                .as_str()
                .parse()
                .expect("the domain's segments are the analytics' segments");
            (
                x.id,
                CustomerInsight {
                    rfm: Some((x.r as i64, x.f as i64, x.m as i64, segment)),
                    expected_purchases_90d: x.expected_purchases,
                    p_alive: x.p_alive,
                    clv_12m: x.clv_minor.map(|c| Money::new(c, Currency::CNY)),
                    grade: Some(grade(x.grade)),
                    lifecycle_stage: Some(stage(x.stage)),
                    churn_risk: x.churn_risk,
                    cross_sell: x
                        .cross_sell
                        .iter()
                        .filter_map(|&i| skus.get(i as usize).cloned())
                        .collect(),
                },
            )
        })
        .collect();
    let summary = serde_json::json!({
        "as_of": as_of,
        "accounts": accounts,
        "buyers": report.buyers,
        "bgnbd": report.bgnbd.as_ref().map(|f| serde_json::json!({
            "r": f.params.r, "alpha": f.params.alpha, "a": f.params.a, "b": f.params.b,
            "log_likelihood": f.log_likelihood,
        })),
        "gamma_gamma": report.gamma_gamma.as_ref().map(|f| serde_json::json!({
            "p": f.params.p, "q": f.params.q, "gamma": f.params.gamma,
            "log_likelihood": f.log_likelihood,
        })),
        "churn_holdout_auc": report.churn_auc,
        "churn_holdout_customers": report.churn_holdout,
        "association_rules": report.rules,
        "grading": grading,
        "reports": reports(&report),
    });
    store
        .save_insights(&system, Utc::now(), &rows, &summary)
        .await?;
    Ok(Outcome {
        accounts,
        report,
        read_secs,
        compute_secs,
        write_secs: started.elapsed().as_secs_f64(),
    })
}

/// Refresh the customer analytics every `hours`, starting one interval after start-up (a
/// restart does not trigger a run).
pub fn schedule(store: Store, hours: u64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = std::time::Duration::from_secs(hours * 3600);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let today = chrono::Utc::now().date_naive();
            match run(&store, today).await {
                Ok(o) => tracing::info!(
                    accounts = o.accounts,
                    buyers = o.report.buyers,
                    "customer analytics refreshed"
                ),
                Err(e) => tracing::warn!("customer analytics failed: {e}"),
            }
        }
    })
}

/// The reports over the whole base, as stored with the run and served by the API.
fn reports(r: &Report) -> serde_json::Value {
    let counts = |m: Vec<(&str, usize)>| -> serde_json::Map<String, serde_json::Value> {
        m.into_iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect()
    };
    serde_json::json!({
        "top20_revenue_share": r.top20.map(|c| c.revenue_share),
        "top20_margin_share": r.top20.map(|c| c.margin_share),
        "gini": r.gini,
        "lorenz": r.lorenz,
        "segments": counts(r.segments.iter().map(|(k, v)| (*k, *v)).collect()),
        "grades": counts(r.grades.iter().map(|(g, v)| (grade(*g).as_str(), *v)).collect()),
        "lifecycle_stages": counts(r.stages.iter().map(|(s, v)| (stage(*s).as_str(), *v)).collect()),
        "rfm_heat_r_by_f": r.rfm_heat,
        "clv_12m_deciles_minor": r.clv_deciles,
        "cohorts": r.cohorts.iter().map(|c| serde_json::json!({
            "month": format!("{:04}-{:02}", c.month.year, c.month.month),
            "size": c.size,
            "retention": c.retention(),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings' weights land on the indicators of the same name.
    #[test]
    fn grading_settings_map_onto_the_rules() {
        let mut rules = guanxi_analytics::grading::Rules::standard();
        let g = GradingSettings {
            marketing_cost: 0.0,
            satisfaction: 3.0,
            min_a: 90.0,
            ..GradingSettings::default()
        };
        rules_from(&g, &mut rules);
        let w = |name: &str| {
            rules
                .indicators
                .iter()
                .find(|i| i.name == name)
                .unwrap()
                .weight
        };
        assert_eq!(
            (w("marketing_cost"), w("satisfaction"), w("gross_profit")),
            (0.0, 3.0, 1.0)
        );
        assert_eq!(rules.min_a, 90.0);
    }

    /// Every analytics segment has its domain value (the two lists are kept apart so the
    /// domain does not depend on the analytics).
    #[test]
    fn segments_agree() {
        for s in guanxi_analytics::rfm::Segment::ALL {
            assert!(s.as_str().parse::<RfmSegment>().is_ok(), "{}", s.as_str());
        }
        assert_eq!(
            RfmSegment::VALUES.len(),
            guanxi_analytics::rfm::Segment::ALL.len()
        );
    }
}
