//! The whole customer base analysed at once: from each customer's purchases and service
//! record, every figure the CRM keeps on the account — RFM scores and segment, BG/NBD
//! expected purchases and probability alive, 12-month CLV (with Gamma-Gamma spend), the
//! weighted grade, the lifecycle stage, churn risk and cross-sell suggestions — plus a
//! report of the fitted models. Pure: the caller reads the facts and stores the results.
//!
//! Choices, each documented where it is made:
//! - Times are in days (`Period::Day`); the calibration period ends on `as_of`.
//! - BG/NBD and Gamma-Gamma are fitted on a deterministic sample of at most
//!   [`Settings::fit_sample`] customers (every k-th), then applied to everyone: the
//!   parameters describe the population, and the likelihood costs O(n) per evaluation.
//! - Churn: a customer has churned when they buy nothing in the `churn_window_days` after
//!   a cut-off `as_of − churn_window_days`. The logistic model learns that from features
//!   at the cut-off (days since the last purchase, the purchase-rate trend, complaints,
//!   satisfaction) on four customers in five and is scored on the fifth (the hold-out
//!   AUC); each customer's risk is then the model applied to their features at `as_of`.
//!   Satisfaction is dated: the features at the cut-off see only the ratings given on or
//!   before it (a rating given after the cut-off would leak the outcome into the label's
//!   features), and the grading only those on or before `as_of`. Complaints have no
//!   dates here, so both sides see their totals.

use crate::Transaction;
use crate::association::{association_rules, frequent_itemsets, suggestions};
use crate::btyd::{
    BgNbd, CustomerSummary, Fit, GammaGamma, Period, Summary, clv_with_spend, summarise,
};
use crate::cohort::{Cohort, cohort_retention};
use crate::grading::{self, Grade, Rules};
use crate::lifecycle::{self, Stage, Thresholds};
use crate::logistic::{Logistic, auc};
use crate::pareto::{Concentration, concentration, gini, lorenz_curve};
use crate::rfm::{Segment, rfm};
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// One purchase (an order): its day, amount and margin in minor units, and its products.
#[derive(Debug, Clone, PartialEq)]
pub struct Purchase {
    pub date: NaiveDate,
    pub amount_minor: i64,
    pub margin_minor: i64,
    pub products: Vec<u32>,
}

/// What is known of one customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer<Id> {
    pub id: Id,
    pub purchases: Vec<Purchase>,
    /// Complaints raised (cases of kind complaint).
    pub complaints: u32,
    /// Their satisfaction ratings (1–5), each dated by when it was given.
    pub ratings: Vec<(NaiveDate, f64)>,
    /// Standing in their industry, larger is better (e.g. the account tier: key = 4 … small = 1).
    pub industry_position: f64,
    /// Contact effort spent on them (outbound interactions): the grading's marketing cost.
    pub contact_effort: f64,
}

impl<Id> Customer<Id> {
    /// The mean of the ratings given on or before `at`, if any were.
    pub fn satisfaction_at(&self, at: NaiveDate) -> Option<f64> {
        let (sum, n) = self
            .ratings
            .iter()
            .filter(|(d, _)| *d <= at)
            .fold((0.0, 0usize), |(s, n), (_, v)| (s + v, n + 1));
        (n > 0).then(|| sum / n as f64)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub as_of: NaiveDate,
    pub grading: Rules,
    pub lifecycle: Thresholds,
    /// Horizon of the expected purchases, days.
    pub horizon_days: u32,
    pub clv_months: u32,
    pub monthly_discount_rate: f64,
    pub churn_window_days: u32,
    /// Most customers the BTYD models are fitted on.
    pub fit_sample: usize,
    pub min_support: f64,
    pub min_confidence: f64,
    pub suggestions: usize,
}

impl Settings {
    pub fn standard(as_of: NaiveDate) -> Settings {
        Settings {
            as_of,
            grading: Rules::standard(),
            lifecycle: Thresholds::default(),
            horizon_days: 90,
            clv_months: 12,
            monthly_discount_rate: 0.01,
            churn_window_days: 180,
            fit_sample: 50_000,
            min_support: 0.001,
            min_confidence: 0.1,
            suggestions: 3,
        }
    }
}

/// The figures for one customer with at least one purchase on or before `as_of`.
#[derive(Debug, Clone, PartialEq)]
pub struct Insight<Id> {
    pub id: Id,
    pub r: u8,
    pub f: u8,
    pub m: u8,
    pub segment: Segment,
    pub expected_purchases: Option<f64>,
    pub p_alive: Option<f64>,
    pub clv_minor: Option<i64>,
    pub grade: Grade,
    pub grade_score: f64,
    pub stage: Stage,
    pub churn_risk: Option<f64>,
    pub cross_sell: Vec<u32>,
}

/// How the run went (model parameters and quality) and the reports over the whole base,
/// computed once per run so that reading them costs nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub customers: usize,
    pub buyers: usize,
    pub bgnbd: Option<Fit<BgNbd>>,
    pub gamma_gamma: Option<Fit<GammaGamma>>,
    pub churn_auc: Option<f64>,
    pub churn_holdout: usize,
    pub rules: usize,
    /// Share of revenue and of gross margin from the top 20 % of buyers by revenue.
    pub top20: Option<Concentration>,
    pub gini: Option<f64>,
    /// The Lorenz curve at every 5 % of buyers: (share of buyers, share of revenue).
    pub lorenz: Vec<(f64, f64)>,
    /// Buyers per RFM segment, grade and lifecycle stage.
    pub segments: BTreeMap<&'static str, usize>,
    pub grades: BTreeMap<Grade, usize>,
    pub stages: BTreeMap<Stage, usize>,
    /// `rfm_heat[r − 1][f − 1]`: buyers with those recency and frequency scores.
    pub rfm_heat: [[usize; 5]; 5],
    /// CLV (minor units) at every tenth percentile, 10 % … 100 %.
    pub clv_deciles: Vec<i64>,
    /// The retention matrix of the last 24 monthly cohorts.
    pub cohorts: Vec<Cohort>,
}

/// Analyse every customer (see the module docs for the choices).
pub fn analyse<Id: Copy + Ord + Hash>(
    customers: &[Customer<Id>],
    s: &Settings,
) -> (Vec<Insight<Id>>, Report) {
    let as_of = s.as_of;
    let transactions: Vec<Transaction<usize>> = customers
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            c.purchases
                .iter()
                .filter(|p| p.date <= as_of)
                .map(move |p| Transaction::new(i, p.date, p.amount_minor))
        })
        .collect();
    let rfms = rfm(&transactions, as_of);
    let summaries = summarise(&transactions, as_of, Period::Day);
    let (bgnbd, gamma_gamma) = fit_btyd(&summaries, s.fit_sample);

    // Grading needs a satisfaction for everyone: the unrated count as the average rating.
    let satisfaction: Vec<Option<f64>> =
        customers.iter().map(|c| c.satisfaction_at(as_of)).collect();
    let rated: Vec<f64> = satisfaction.iter().flatten().copied().collect();
    let mean_satisfaction = if rated.is_empty() {
        3.0
    } else {
        rated.iter().sum::<f64>() / rated.len() as f64
    };
    let grade_rows: Vec<Vec<f64>> = rfms
        .iter()
        .map(|r| {
            let c = &customers[r.customer];
            let bought = c.purchases.iter().filter(|p| p.date <= as_of);
            let margin: i64 = bought.clone().map(|p| p.margin_minor).sum();
            let first = bought.clone().map(|p| p.date).min().unwrap_or(as_of);
            vec![
                margin as f64,
                r.monetary_minor as f64,
                c.contact_effort,
                c.industry_position,
                (as_of - first).num_days() as f64 / 365.25,
                satisfaction[r.customer].unwrap_or(mean_satisfaction),
            ]
        })
        .collect();
    let grades = grading::grade(&s.grading, &grade_rows).ok();

    let (churn, churn_auc, churn_holdout) = churn_model(customers, s);

    let baskets: Vec<Vec<u32>> = customers
        .iter()
        .flat_map(|c| c.purchases.iter().filter(|p| p.date <= as_of))
        .filter(|p| !p.products.is_empty())
        .map(|p| p.products.clone())
        .collect();
    let itemsets = frequent_itemsets(&baskets, s.min_support);
    let rules = association_rules(&itemsets, baskets.len(), s.min_confidence);

    let by_customer: HashMap<usize, &CustomerSummary<usize>> =
        summaries.iter().map(|c| (c.customer, c)).collect();
    let insights: Vec<Insight<Id>> = rfms
        .iter()
        .enumerate()
        .map(|(row, r)| {
            let c = &customers[r.customer];
            let cs = by_customer.get(&r.customer);
            let bg = bgnbd.as_ref().map(|f| &f.params);
            let p_alive = bg.zip(cs).map(|(m, cs)| m.p_alive(&cs.summary));
            let expected = bg
                .zip(cs)
                .map(|(m, cs)| m.expected_purchases(&cs.summary, s.horizon_days as f64));
            let clv_minor = bg
                .zip(gamma_gamma.as_ref())
                .zip(cs.filter(|cs| cs.summary.frequency > 0))
                .map(|((m, gg), cs)| {
                    // With q ≤ 1 the fitted spend distribution has no mean (heavy-tailed
                    // spends): each customer's own average is the honest estimate then.
                    let spend = gg
                        .params
                        .expected_spend(cs.summary.frequency, cs.mean_repeat_spend);
                    let spend = if spend.is_finite() {
                        spend
                    } else {
                        cs.mean_repeat_spend
                    };
                    clv_with_spend(
                        m,
                        &cs.summary,
                        spend,
                        Period::Day,
                        s.clv_months,
                        s.monthly_discount_rate,
                    )
                    .round() as i64
                });
            let dates: Vec<NaiveDate> = c.purchases.iter().map(|p| p.date).collect();
            let (earlier, recent) = lifecycle::trajectory(&dates, as_of, s.churn_window_days);
            let repeats = cs.map_or(0, |cs| cs.summary.frequency);
            let stage = lifecycle::stage(
                repeats,
                p_alive.unwrap_or(1.0),
                earlier,
                recent,
                &s.lifecycle,
            );
            let (grade, grade_score) = grades
                .as_ref()
                .map_or((Grade::D, 0.0), |g| (g[row].grade, g[row].score));
            let owned: Vec<u32> = {
                let mut v: Vec<u32> = c
                    .purchases
                    .iter()
                    .flat_map(|p| p.products.clone())
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            };
            Insight {
                id: c.id,
                r: r.r,
                f: r.f,
                m: r.m,
                segment: r.segment,
                expected_purchases: expected,
                p_alive,
                clv_minor,
                grade,
                grade_score,
                stage,
                churn_risk: churn
                    .as_ref()
                    .map(|model| model.predict(&churn_features(c, as_of, s.churn_window_days))),
                cross_sell: suggestions(&rules, &owned, s.suggestions)
                    .into_iter()
                    .map(|(item, _, _)| item)
                    .collect(),
            }
        })
        .collect();
    let revenue: Vec<(i64, i64)> = grade_rows
        .iter()
        .map(|row| (row[1] as i64, row[0] as i64))
        .collect();
    let mut report = Report {
        customers: customers.len(),
        buyers: rfms.len(),
        bgnbd,
        gamma_gamma,
        churn_auc,
        churn_holdout,
        rules: rules.len(),
        top20: concentration(&revenue, 0.2).ok(),
        gini: gini(&revenue.iter().map(|r| r.0.max(0)).collect::<Vec<_>>()).ok(),
        lorenz: vec![],
        segments: BTreeMap::new(),
        grades: BTreeMap::new(),
        stages: BTreeMap::new(),
        rfm_heat: [[0; 5]; 5],
        clv_deciles: vec![],
        cohorts: vec![],
    };
    if let Ok(curve) = lorenz_curve(&revenue.iter().map(|r| r.0.max(0)).collect::<Vec<_>>()) {
        let n = curve.len() - 1;
        report.lorenz = (0..=20).map(|k| curve[n * k / 20]).collect();
    }
    let mut clvs: Vec<i64> = Vec::with_capacity(insights.len());
    for x in &insights {
        *report.segments.entry(x.segment.as_str()).or_default() += 1;
        *report.grades.entry(x.grade).or_default() += 1;
        *report.stages.entry(x.stage).or_default() += 1;
        report.rfm_heat[x.r as usize - 1][x.f as usize - 1] += 1;
        clvs.extend(x.clv_minor);
    }
    clvs.sort_unstable();
    if !clvs.is_empty() {
        report.clv_deciles = (1..=10)
            .map(|k| clvs[(clvs.len() * k / 10).saturating_sub(1)])
            .collect();
    }
    let mut cohorts = cohort_retention(&transactions, as_of);
    report.cohorts = cohorts.split_off(cohorts.len().saturating_sub(24));
    (insights, report)
}

/// BG/NBD on every k-th customer (at most `sample`), Gamma-Gamma on the repeat buyers among
/// them. `None` when the data cannot identify a model (too few customers or repeaters).
fn fit_btyd<Id: Copy>(
    summaries: &[CustomerSummary<Id>],
    sample: usize,
) -> (Option<Fit<BgNbd>>, Option<Fit<GammaGamma>>) {
    let step = summaries.len().div_ceil(sample.max(1)).max(1);
    let picked: Vec<&CustomerSummary<Id>> = summaries.iter().step_by(step).collect();
    let data: Vec<Summary> = picked.iter().map(|c| c.summary).collect();
    let bg = if data.len() >= 10 {
        BgNbd::fit(&data).ok()
    } else {
        None
    };
    let spend: Vec<(u32, f64)> = picked
        .iter()
        .filter(|c| c.summary.frequency > 0 && c.mean_repeat_spend > 0.0)
        .map(|c| (c.summary.frequency, c.mean_repeat_spend))
        .collect();
    let gg = if spend.len() >= 10 {
        GammaGamma::fit(&spend).ok()
    } else {
        None
    };
    (bg, gg)
}

/// Features at `at`: days since the last purchase, the purchase-rate trend (recent window
/// over the one before, +1 smoothed), complaints, satisfaction given by `at` (3 when
/// unrated). Scaled to comparable ranges for the penalised fit.
fn churn_features<Id>(c: &Customer<Id>, at: NaiveDate, window: u32) -> Vec<f64> {
    let dates: Vec<NaiveDate> = c
        .purchases
        .iter()
        .map(|p| p.date)
        .filter(|d| *d <= at)
        .collect();
    let last = dates.iter().max().copied().unwrap_or(at);
    let (earlier, recent) = lifecycle::trajectory(&dates, at, window);
    let w = window as f64;
    vec![
        (at - last).num_days() as f64 / 365.25,
        ((recent * w + 1.0) / (earlier * w + 1.0)).ln(),
        (c.complaints as f64).ln_1p(),
        c.satisfaction_at(at).unwrap_or(3.0) / 5.0,
    ]
}

/// The churn model, its hold-out AUC and the hold-out size (see the module docs).
fn churn_model<Id>(
    customers: &[Customer<Id>],
    s: &Settings,
) -> (Option<Logistic>, Option<f64>, usize) {
    let cutoff = s.as_of - chrono::Duration::days(s.churn_window_days as i64);
    let (mut train_x, mut train_y, mut test_x, mut test_y) = (vec![], vec![], vec![], vec![]);
    for (i, c) in customers.iter().enumerate() {
        if !c.purchases.iter().any(|p| p.date <= cutoff) {
            continue;
        }
        let churned = !c
            .purchases
            .iter()
            .any(|p| p.date > cutoff && p.date <= s.as_of);
        let x = churn_features(c, cutoff, s.churn_window_days);
        if i % 5 == 4 {
            test_x.push(x);
            test_y.push(churned);
        } else {
            train_x.push(x);
            train_y.push(churned);
        }
    }
    let both = |y: &[bool]| y.iter().any(|v| *v) && y.iter().any(|v| !*v);
    if train_x.len() < 20 || !both(&train_y) {
        return (None, None, test_x.len());
    }
    let Ok(model) = Logistic::fit(&train_x, &train_y, 1.0) else {
        return (None, None, test_x.len());
    };
    let scores: Vec<f64> = test_x.iter().map(|x| model.predict(x)).collect();
    let held = auc(&scores, &test_y);
    (Some(model), held, test_x.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(n)
    }

    /// A small deterministic jitter in `0..n` for customer `i`, purchase `k`.
    fn jitter(i: u32, k: i64, n: i64) -> i64 {
        let h = (i as u64 * 2_654_435_761 + k as u64 * 40_503).wrapping_mul(2_246_822_519);
        (h >> 33) as i64 % n
    }

    /// A base where loyal customers buy A and B together about monthly and keep buying, and
    /// fading customers bought a few times early and stopped. Intervals and counts vary, as
    /// real ones do (a perfectly regular base makes the BG/NBD likelihood degenerate).
    fn base() -> Vec<Customer<u32>> {
        (0..400u32)
            .map(|i| {
                let loyal = i % 2 == 0;
                let purchases = if loyal {
                    (0..12 + jitter(i, 0, 12))
                        .map(|k| Purchase {
                            date: day(k * 55 + jitter(i, k, 50) - 40 * (k == 0) as i64 + 40),
                            amount_minor: 10_000 + (i as i64 % 13) * 100,
                            margin_minor: 3_000,
                            products: if k % 2 == 0 {
                                vec![1, 2]
                            } else {
                                vec![1, 2, 3]
                            },
                        })
                        .collect()
                } else {
                    (0..1 + jitter(i, 1, 4))
                        .map(|k| Purchase {
                            date: day(k * 20 + jitter(i, k, 120)),
                            amount_minor: 5_000,
                            margin_minor: 1_000,
                            products: vec![1],
                        })
                        .collect()
                };
                Customer {
                    id: i,
                    purchases,
                    complaints: if loyal { 0 } else { i % 3 },
                    ratings: vec![(day(10), if loyal { 4.5 } else { 2.5 })],
                    industry_position: if loyal { 3.0 } else { 2.0 },
                    contact_effort: 5.0,
                }
            })
            .collect()
    }

    /// Spends that never vary within a customer leave the Gamma-Gamma spend distribution
    /// without a mean (q ≤ 1); lifetime values then rest on each customer's own average
    /// instead of coming out empty.
    #[test]
    fn constant_spends_still_give_lifetime_values() {
        // Spends constant per customer, spread over four orders of magnitude across them.
        let mut customers = base();
        for c in &mut customers {
            let amount = 1_000 << (c.id % 16);
            for p in &mut c.purchases {
                p.amount_minor = amount;
            }
        }
        let s = Settings::standard(day(24 * 30));
        let (insights, report) = analyse(&customers, &s);
        let gg = report.gamma_gamma.as_ref().expect("a spend model").params;
        assert!(gg.q <= 1.0, "this base is meant to be degenerate: {gg:?}");
        let loyal: Vec<i64> = insights
            .iter()
            .filter(|x| x.id % 2 == 0)
            .map(|x| x.clv_minor.expect("repeat buyers have a value"))
            .collect();
        assert!(loyal.iter().all(|v| *v > 0), "{loyal:?}");
    }

    #[test]
    fn loyal_and_fading_customers_come_apart_on_every_figure() {
        let customers = base();
        let s = Settings::standard(day(24 * 30));
        let (insights, report) = analyse(&customers, &s);
        assert_eq!((report.customers, report.buyers), (400, 400));
        assert!(
            report.bgnbd.is_some() && report.gamma_gamma.is_some(),
            "{report:?}"
        );
        let auc = report.churn_auc.expect("a hold-out AUC");
        assert!(
            auc > 0.9,
            "the churn model separates the two groups: AUC {auc}"
        );
        let loyal = insights.iter().find(|x| x.id == 0).unwrap();
        let fading = insights.iter().find(|x| x.id == 1).unwrap();
        assert!(loyal.p_alive.unwrap() > 0.9 && fading.p_alive.unwrap() < 0.5);
        assert!(loyal.expected_purchases.unwrap() > fading.expected_purchases.unwrap());
        assert!(loyal.clv_minor.unwrap() > 0);
        assert!(loyal.churn_risk.unwrap() < fading.churn_risk.unwrap());
        assert!(
            loyal.grade < fading.grade,
            "{:?} {:?}",
            loyal.grade,
            fading.grade
        );
        assert_eq!(fading.stage, Stage::Decline);
        assert!(matches!(loyal.stage, Stage::Stable | Stage::Formation));
        assert!((loyal.r, loyal.f) > (fading.r, fading.f));
        // Fading customers only bought product 1; loyal ones buy 1 with 2 (and 3).
        assert!(fading.cross_sell.contains(&2), "{:?}", fading.cross_sell);
        // The reports add up to the buyers.
        assert_eq!(report.segments.values().sum::<usize>(), 400);
        assert_eq!(report.grades.values().sum::<usize>(), 400);
        assert_eq!(report.rfm_heat.iter().flatten().sum::<usize>(), 400);
        let top = report.top20.unwrap();
        assert!(top.revenue_share > 0.2 && top.revenue_share <= 1.0);
        assert_eq!(report.lorenz.len(), 21);
        assert_eq!(report.lorenz[20], (1.0, 1.0));
        assert!(report.clv_deciles.windows(2).all(|w| w[0] <= w[1]));
        assert!(!report.cohorts.is_empty());
        assert!(!loyal.cross_sell.contains(&1) && !loyal.cross_sell.contains(&2));
    }

    /// A rating given after the churn cut-off is what happened next: it must not change
    /// the features the model learns from, nor therefore the model. The grading at
    /// `as_of` sees it.
    #[test]
    fn ratings_after_the_cutoff_do_not_leak_into_the_churn_model() {
        let s = Settings::standard(day(24 * 30));
        let cutoff = s.as_of - chrono::Duration::days(s.churn_window_days as i64);
        let before = base();
        let mut after = base();
        for c in after.iter_mut().filter(|c| c.id % 2 == 1) {
            // Fading customers, delighted by a case resolved after the cut-off.
            c.ratings.push((cutoff + chrono::Duration::days(30), 5.0));
        }
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(
                churn_features(b, cutoff, s.churn_window_days),
                churn_features(a, cutoff, s.churn_window_days),
            );
        }
        assert_eq!(after[1].satisfaction_at(cutoff), Some(2.5));
        assert_eq!(after[1].satisfaction_at(s.as_of), Some(3.75));
        let (_, r1) = analyse(&before, &s);
        let (_, r2) = analyse(&after, &s);
        assert_eq!(r1.churn_auc, r2.churn_auc);
        assert_eq!(r1.churn_holdout, r2.churn_holdout);
        // Given before the cut-off, the same rating is a feature, and the model moves.
        let mut early = base();
        for c in early.iter_mut().filter(|c| c.id % 2 == 1) {
            c.ratings.push((cutoff - chrono::Duration::days(30), 5.0));
        }
        assert_ne!(
            churn_features(&before[1], cutoff, s.churn_window_days),
            churn_features(&early[1], cutoff, s.churn_window_days),
        );
    }

    #[test]
    fn customers_without_purchases_get_no_insight() {
        let mut customers = base();
        customers.truncate(30);
        customers.push(Customer {
            id: 999,
            purchases: vec![],
            complaints: 0,
            ratings: vec![],
            industry_position: 1.0,
            contact_effort: 0.0,
        });
        let (insights, report) = analyse(&customers, &Settings::standard(day(720)));
        assert_eq!(report.buyers, 30);
        assert!(insights.iter().all(|x| x.id != 999));
    }
}
