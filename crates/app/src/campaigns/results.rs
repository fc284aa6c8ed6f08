//! What a campaign achieved: where its messages stand and how members responded, per
//! variant and for the control group; whether variant A beat B; and its return — cost
//! against the revenue and margin of the conversions attributed to it, counted over what
//! the control group bought anyway.

use crate::AppError;
use guanxi_analytics::significance::two_proportions;
use guanxi_domain::entities::Campaign;
use guanxi_domain::{Actor, Id};
use guanxi_store::{CampaignTally, StepTally, Store, member_state, step_state};
use serde::Serialize;

/// Where a campaign's messages stand, per variant and for the control group.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Progress {
    pub members: i64,
    pub control: i64,
    pub variants: Vec<VariantProgress>,
    /// The first two variants' click rates (of those sent) compared, once both were sent.
    pub ab_test: Option<AbTest>,
    pub roi: Roi,
    /// The journey's steps in their order: where the members stand on each.
    pub steps: Vec<StepProgress>,
}

/// Where the members stand on one journey step: waiting, done, skipped (its condition did
/// not hold), refused (consent, the frequency cap, no owner) or failed; and of the e-mails
/// it sent, how many were opened and clicked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StepProgress {
    pub id: Id,
    pub name: String,
    pub due: i64,
    pub done: i64,
    pub skipped: i64,
    pub refused: i64,
    pub failed: i64,
    pub opened: i64,
    pub clicked: i64,
}

/// Whether variant A's rate differs from B's by more than chance (two-proportion z-test):
/// significant at the 5 % level when `p_value` < 0.05.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AbTest {
    pub rate_a: f64,
    pub rate_b: f64,
    pub z: f64,
    pub p_value: f64,
    pub significant: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct VariantProgress {
    pub name: String,
    pub members: i64,
    pub queued: i64,
    pub sent: i64,
    pub refused: i64,
    pub failed: i64,
    pub opened: i64,
    pub clicked: i64,
    pub bounced: i64,
    pub complained: i64,
    pub unsubscribed: i64,
    pub replied: i64,
    pub converted: i64,
    /// Revenue of the conversions, minor units of the budget's currency.
    pub revenue: i64,
}

/// The campaign's return. Treated: the members sent a message; control: those held out.
/// Incremental figures are what the treated bought beyond the control group's rate,
/// scaled to the treated; without a control group there is no incremental figure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Roi {
    pub currency: String,
    /// The budget plus the cost per message for every message sent.
    pub cost: i64,
    pub treated: i64,
    pub treated_conversions: i64,
    pub control: i64,
    pub control_conversions: i64,
    /// Attributed to the treated (minor units).
    pub revenue: i64,
    /// The margin of the treated conversions whose margin is known, and how many those are.
    pub margin: i64,
    pub margin_known: i64,
    pub incremental_conversions: Option<f64>,
    pub incremental_revenue: Option<f64>,
    /// (incremental revenue − cost) / cost.
    pub return_on_revenue: Option<f64>,
    /// Whether the treated converted at a different rate than the control group.
    pub lift_test: Option<AbTest>,
}

/// The progress of a campaign the actor may read.
pub async fn progress(store: &Store, actor: &Actor, id: Id) -> Result<Progress, AppError> {
    let c = store.get::<Campaign>(actor, id).await?;
    Ok(progress_of(
        &c.data,
        &store.campaign_tally(id).await?,
        &store.step_tally(id).await?,
    ))
}

fn compare(a: (i64, i64), b: (i64, i64)) -> Option<AbTest> {
    let n = |x: i64| u64::try_from(x).unwrap_or(0);
    two_proportions(n(a.0), n(a.1), n(b.0), n(b.1)).map(|c| AbTest {
        rate_a: c.rate_a,
        rate_b: c.rate_b,
        z: c.z,
        p_value: c.p_value,
        significant: c.p_value < 0.05,
    })
}

pub(super) fn progress_of(c: &Campaign, tally: &[CampaignTally], steps: &[StepTally]) -> Progress {
    let mut variants: Vec<VariantProgress> = c
        .variants
        .iter()
        .map(|v| VariantProgress {
            name: v.name.clone(),
            ..VariantProgress::default()
        })
        .collect();
    let mut roi = Roi {
        currency: c.budget.currency.to_string(),
        ..Roi::default()
    };
    let (mut members, mut control, mut control_revenue) = (0, 0, 0);
    for t in tally {
        members += t.count;
        let Some(v) = t.variant.and_then(|i| variants.get_mut(i)) else {
            control += t.count;
            roi.control_conversions += t.converted;
            control_revenue += t.revenue;
            continue;
        };
        v.members += t.count;
        v.opened += t.opened;
        v.clicked += t.clicked;
        v.bounced += t.bounced;
        v.complained += t.complained;
        v.unsubscribed += t.unsubscribed;
        v.replied += t.replied;
        match t.state.as_str() {
            member_state::QUEUED | member_state::SENDING => v.queued += t.count,
            member_state::SENT => {
                v.sent += t.count;
                v.converted += t.converted;
                v.revenue += t.revenue;
                roi.margin += t.margin;
                roi.margin_known += t.margin_known;
            }
            member_state::REFUSED => v.refused += t.count,
            _ => v.failed += t.count,
        }
    }
    roi.control = control;
    roi.treated = variants.iter().map(|v| v.sent).sum();
    roi.treated_conversions = variants.iter().map(|v| v.converted).sum();
    roi.revenue = variants.iter().map(|v| v.revenue).sum();
    let steps = steps_of(c, steps);
    // The journey's e-mails cost as much as the first message.
    let follow_ups: i64 = c
        .steps
        .iter()
        .zip(&steps)
        .filter(|(s, _)| s.action.sends())
        .map(|(_, p)| p.done)
        .sum();
    roi.cost = c.budget.minor + c.cost_per_message * (roi.treated + follow_ups);
    if control > 0 && roi.treated > 0 {
        let (t, k) = (roi.treated as f64, control as f64);
        let rate = |conv: i64, n: f64| conv as f64 / n;
        roi.incremental_conversions =
            Some((rate(roi.treated_conversions, t) - rate(roi.control_conversions, k)) * t);
        let incremental = (roi.revenue as f64 / t - control_revenue as f64 / k) * t;
        roi.incremental_revenue = Some(incremental);
        roi.return_on_revenue =
            (roi.cost > 0).then(|| (incremental - roi.cost as f64) / roi.cost as f64);
        roi.lift_test = compare(
            (roi.treated_conversions, roi.treated),
            (roi.control_conversions, control),
        );
    }
    let ab_test = match variants.as_slice() {
        [a, b, ..] => compare((a.clicked, a.sent), (b.clicked, b.sent)),
        _ => None,
    };
    Progress {
        members,
        control,
        variants,
        ab_test,
        roi,
        steps,
    }
}

fn steps_of(c: &Campaign, tally: &[StepTally]) -> Vec<StepProgress> {
    c.steps
        .iter()
        .map(|s| {
            let mut p = StepProgress {
                id: s.id,
                name: s.name.clone(),
                ..StepProgress::default()
            };
            for t in tally.iter().filter(|t| t.step == s.id) {
                p.opened += t.opened;
                p.clicked += t.clicked;
                *match t.state.as_str() {
                    step_state::DUE | step_state::RUNNING => &mut p.due,
                    step_state::DONE => &mut p.done,
                    step_state::SKIPPED => &mut p.skipped,
                    step_state::REFUSED => &mut p.refused,
                    _ => &mut p.failed,
                } += t.count;
            }
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use guanxi_domain::Id;
    use serde_json::json;

    fn campaign() -> Campaign {
        serde_json::from_value(json!({
            "name": "x", "channel": "email", "status": "active",
            "budget": { "minor": 100_000, "currency": "CNY" }, "control_percent": 10,
            "cost_per_message": 5,
            "variants": [
                { "name": "A", "template_id": Id::new(), "percent": 50 },
                { "name": "B", "template_id": Id::new(), "percent": 50 },
            ],
        }))
        .unwrap()
    }

    fn t(variant: Option<usize>, state: &str, count: i64) -> CampaignTally {
        CampaignTally {
            variant,
            state: state.into(),
            count,
            ..CampaignTally::default()
        }
    }

    #[test]
    fn progress_adds_up_by_variant_and_compares_the_first_two() {
        let p = progress_of(
            &campaign(),
            &[
                t(None, "held", 200),
                CampaignTally {
                    opened: 400,
                    clicked: 200,
                    unsubscribed: 7,
                    ..t(Some(0), "sent", 1000)
                },
                t(Some(0), "refused", 30),
                CampaignTally {
                    opened: 420,
                    clicked: 250,
                    bounced: 3,
                    ..t(Some(1), "sent", 1000)
                },
                t(Some(1), "sending", 5),
            ],
            &[],
        );
        assert_eq!((p.members, p.control), (2235, 200));
        let (a, b) = (&p.variants[0], &p.variants[1]);
        assert_eq!(
            (a.members, a.sent, a.refused, a.clicked, a.unsubscribed),
            (1030, 1000, 30, 200, 7)
        );
        assert_eq!((b.queued, b.opened, b.bounced), (5, 420, 3));
        let ab = p.ab_test.unwrap();
        assert!(
            (ab.p_value - 0.0074).abs() < 1e-3 && ab.significant,
            "{ab:?}"
        );
    }

    #[test]
    fn the_return_counts_only_what_the_control_group_did_not_buy_anyway() {
        // 2,000 sent, 100 converted for ¥500 each; 500 held out, 10 converted (2 %).
        let p = progress_of(
            &campaign(),
            &[
                CampaignTally {
                    converted: 10,
                    revenue: 10 * 50_000,
                    ..t(None, "held", 500)
                },
                CampaignTally {
                    converted: 60,
                    revenue: 60 * 50_000,
                    margin: 60 * 20_000,
                    margin_known: 60,
                    ..t(Some(0), "sent", 1000)
                },
                CampaignTally {
                    converted: 40,
                    revenue: 40 * 50_000,
                    ..t(Some(1), "sent", 1000)
                },
            ],
            &[],
        );
        let r = &p.roi;
        assert_eq!((r.treated, r.treated_conversions), (2000, 100));
        assert_eq!((r.control, r.control_conversions), (500, 10));
        // Cost: ¥1,000 budget + 2,000 × ¥0.05.
        assert_eq!(r.cost, 100_000 + 2000 * 5);
        assert_eq!(
            (r.revenue, r.margin, r.margin_known),
            (5_000_000, 1_200_000, 60)
        );
        // 5 % against 2 %: 60 conversions beyond the control group's rate.
        assert!((r.incremental_conversions.unwrap() - 60.0).abs() < 1e-9);
        let inc = r.incremental_revenue.unwrap();
        assert!((inc - (2500.0 - 1000.0) * 2000.0).abs() < 1e-6, "{inc}");
        let ror = r.return_on_revenue.unwrap();
        assert!((ror - (inc - 110_000.0) / 110_000.0).abs() < 1e-9);
        assert!(r.lift_test.as_ref().unwrap().significant);
        // Without a control group there is nothing to count against.
        let none = progress_of(&campaign(), &[t(Some(0), "sent", 10)], &[]);
        assert_eq!(none.roi.incremental_revenue, None);
        assert_eq!(none.roi.lift_test, None);
    }
}
