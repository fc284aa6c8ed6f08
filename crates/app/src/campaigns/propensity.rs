//! A response-propensity model (seed 000 §4, "name scoring"): a logistic regression of
//! whether a contact responded to a campaign's message (clicked or converted, as the
//! responder profile counts it) on their account's analytics (RFM scores, CLV, churn risk,
//! grade, lifecycle stage), their buying role and their campaign history before the
//! message (messages received, opened, responded to). Every message the campaigns the
//! reader sees have sent is a training row. The features are standardised over the
//! training rows (a missing value counts as the mean) and fitted with a small ridge
//! penalty; about 30 % of the contacts, chosen by a hash of their id, are held out and the
//! model's AUC is measured on them. Too little history is refused, never guessed at.

use crate::AppError;
use chrono::{DateTime, Utc};
use guanxi_analytics::logistic::{Logistic, auc};
use guanxi_domain::entities::{BuyingRole, LifecycleStage};
use guanxi_domain::{Actor, Id, ValidationErrors};
use guanxi_store::{ContactAttributes, SentMessage, Store};
use serde::Serialize;

/// The fewest responders, and non-responders, among the training rows.
pub const MIN_CLASS: usize = 20;
/// The share of contacts held out to measure the model, in percent.
pub const HOLD_OUT_PERCENT: u64 = 30;
/// The ridge penalty on the standardised coefficients.
const RIDGE: f64 = 1.0;

/// Why no model could be fitted: the history is too thin to say anything.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PropensityError {
    #[error(
        "too little campaign history to score by: {responders} responders and {non_responders} \
         non-responders among the messages fitted on, at least {MIN_CLASS} of each are needed"
    )]
    TooThin {
        responders: usize,
        non_responders: usize,
    },
    #[error(
        "the held-out contacts ({held_out} messages) include no {missing}, so the model \
         cannot be measured: more campaign history is needed"
    )]
    NothingToMeasure {
        held_out: usize,
        missing: &'static str,
    },
    #[error("the model could not be fitted: {0}")]
    Fit(String),
}

impl PropensityError {
    /// The refusal, naming `field` (`history` when ranking, `targeting` at launch).
    pub fn refusal(&self, field: &str) -> AppError {
        let code = match self {
            PropensityError::TooThin { .. } => "too_thin",
            PropensityError::NothingToMeasure { .. } => "too_thin",
            PropensityError::Fit(_) => "invalid",
        };
        AppError::Invalid(ValidationErrors::single(field, code, self.to_string()))
    }
}

impl From<PropensityError> for AppError {
    fn from(e: PropensityError) -> AppError {
        e.refusal("history")
    }
}

/// What the model is and how well it did.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ModelSummary {
    pub trained_at: DateTime<Utc>,
    /// Messages fitted on, and how many of them were responded to.
    pub training_rows: usize,
    pub training_responders: usize,
    /// Messages to the held-out contacts, and their responders.
    pub held_out_rows: usize,
    pub held_out_responders: usize,
    /// The area under the ROC curve on the held-out messages: 0.5 is no better than
    /// chance, 1 ranks every responder first.
    pub auc: f64,
    pub intercept: f64,
    /// Per feature that varied, its coefficient on the standardised scale (the change in
    /// log-odds per standard deviation), strongest first.
    pub features: Vec<Coefficient>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Coefficient {
    /// `account.rfm_r`, `contact.buying_role=decision_maker`, `history.opened`, …
    pub feature: String,
    pub coefficient: f64,
    /// The training rows' mean and standard deviation of the feature.
    pub mean: f64,
    pub sd: f64,
}

/// A fitted model, ready to score contacts.
#[derive(Debug, Clone)]
pub struct Model {
    pub summary: ModelSummary,
    logistic: Logistic,
    /// Which raw features it reads (those that varied), with their mean and sd.
    used: Vec<(usize, f64, f64)>,
}

/// The features' names, in the order [`features`] gives them.
pub fn feature_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "account.rfm_r",
        "account.rfm_f",
        "account.rfm_m",
        "account.clv_12m",
        "account.churn_risk",
        "account.grade",
        "account.no_analytics",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.extend(
        LifecycleStage::VALUES
            .iter()
            .map(|v| format!("account.lifecycle_stage={v}")),
    );
    names.extend(
        BuyingRole::VALUES
            .iter()
            .map(|v| format!("contact.buying_role={v}")),
    );
    names.extend(["history.received", "history.opened", "history.responded"].map(String::from));
    names
}

/// A contact's raw features (`None`: unknown, taken as the mean): grade as an ordinal
/// (A 4 … D 1), CLV as ln(1 + yuan), the lifecycle stage and buying role one-hot.
pub fn features(a: &ContactAttributes) -> Vec<Option<f64>> {
    let f = |v: Option<i64>| v.map(|v| v as f64);
    let grade = a.grade.as_deref().and_then(|g| match g {
        "A" => Some(4.0),
        "B" => Some(3.0),
        "C" => Some(2.0),
        "D" => Some(1.0),
        _ => None,
    });
    let no_analytics = a.rfm_r.is_none()
        && a.clv_12m.is_none()
        && a.churn_risk.is_none()
        && a.grade.is_none()
        && a.lifecycle_stage.is_none();
    let mut x = vec![
        f(a.rfm_r),
        f(a.rfm_f),
        f(a.rfm_m),
        a.clv_12m.map(|m| (m.max(0) as f64 / 100.0).ln_1p()),
        a.churn_risk,
        grade,
        Some(if no_analytics { 1.0 } else { 0.0 }),
    ];
    let one_hot = |value: &Option<String>, values: &[&str]| -> Vec<Option<f64>> {
        values
            .iter()
            .map(|v| {
                Some(if value.as_deref() == Some(*v) {
                    1.0
                } else {
                    0.0
                })
            })
            .collect()
    };
    x.extend(one_hot(&a.lifecycle_stage, LifecycleStage::VALUES));
    x.extend(one_hot(&a.buying_role, BuyingRole::VALUES));
    x.extend([a.received, a.opened, a.responded].map(|n| Some(n as f64)));
    x
}

/// Whether a contact is among the held out: fixed by its id, about [`HOLD_OUT_PERCENT`] %.
pub fn held_out(contact: Id) -> bool {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"propensity hold-out:");
    h.update(contact.0.as_bytes());
    let d = h.finalize();
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes")) % 100 < HOLD_OUT_PERCENT
}

/// Each feature's mean and standard deviation over `rows`, its known values only.
fn moments(rows: &[Vec<Option<f64>>], k: usize) -> Vec<(f64, f64)> {
    (0..k)
        .map(|j| {
            let known: Vec<f64> = rows.iter().filter_map(|r| r[j]).collect();
            if known.is_empty() {
                return (0.0, 0.0);
            }
            let n = known.len() as f64;
            let mean = known.iter().sum::<f64>() / n;
            let var = known.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            (mean, var.sqrt())
        })
        .collect()
}

impl Model {
    /// Fits on `messages`: the held-out contacts' messages measure it, the rest fit it.
    pub fn fit(messages: &[SentMessage], at: DateTime<Utc>) -> Result<Model, PropensityError> {
        let (held, train): (Vec<&SentMessage>, Vec<&SentMessage>) =
            messages.iter().partition(|m| held_out(m.contact));
        let responders = train.iter().filter(|m| m.responded).count();
        if responders < MIN_CLASS || train.len() - responders < MIN_CLASS {
            return Err(PropensityError::TooThin {
                responders,
                non_responders: train.len() - responders,
            });
        }
        let held_responders = held.iter().filter(|m| m.responded).count();
        if held_responders == 0 || held_responders == held.len() {
            return Err(PropensityError::NothingToMeasure {
                held_out: held.len(),
                missing: if held_responders == 0 {
                    "responders"
                } else {
                    "non-responders"
                },
            });
        }
        let raw: Vec<Vec<Option<f64>>> = train.iter().map(|m| features(&m.attributes)).collect();
        let names = feature_names();
        let used: Vec<(usize, f64, f64)> = moments(&raw, names.len())
            .into_iter()
            .enumerate()
            .filter(|(_, (_, sd))| *sd > 1e-9)
            .map(|(j, (mean, sd))| (j, mean, sd))
            .collect();
        let x: Vec<Vec<f64>> = raw.iter().map(|r| standardise(&used, r)).collect();
        let y: Vec<bool> = train.iter().map(|m| m.responded).collect();
        let logistic =
            Logistic::fit(&x, &y, RIDGE).map_err(|e| PropensityError::Fit(e.to_string()))?;
        let scores: Vec<f64> = held
            .iter()
            .map(|m| logistic.predict(&standardise(&used, &features(&m.attributes))))
            .collect();
        let labels: Vec<bool> = held.iter().map(|m| m.responded).collect();
        let auc = auc(&scores, &labels).ok_or(PropensityError::NothingToMeasure {
            held_out: held.len(),
            missing: "responders",
        })?;
        let mut coefficients: Vec<Coefficient> = used
            .iter()
            .zip(&logistic.coefficients)
            .map(|((j, mean, sd), b)| Coefficient {
                feature: names[*j].clone(),
                coefficient: *b,
                mean: *mean,
                sd: *sd,
            })
            .collect();
        coefficients.sort_by(|a, b| b.coefficient.abs().total_cmp(&a.coefficient.abs()));
        Ok(Model {
            summary: ModelSummary {
                trained_at: at,
                training_rows: train.len(),
                training_responders: responders,
                held_out_rows: held.len(),
                held_out_responders: held_responders,
                auc,
                intercept: logistic.intercept,
                features: coefficients,
            },
            logistic,
            used,
        })
    }

    /// The predicted probability that a contact with these attributes responds.
    pub fn score(&self, a: &ContactAttributes) -> f64 {
        self.logistic
            .predict(&standardise(&self.used, &features(a)))
    }
}

/// The features the model reads, standardised; an unknown value is the mean (0).
fn standardise(used: &[(usize, f64, f64)], raw: &[Option<f64>]) -> Vec<f64> {
    used.iter()
        .map(|(j, mean, sd)| raw[*j].map_or(0.0, |v| (v - mean) / sd))
        .collect()
}

/// The model fitted on the history of the campaigns `actor` may read, now.
pub async fn fit(store: &Store, actor: &Actor) -> Result<Model, AppError> {
    let messages = store.sent_messages(actor).await?;
    Ok(Model::fit(&messages, Utc::now())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(role: &str, received: i64, responded: i64) -> ContactAttributes {
        ContactAttributes {
            buying_role: Some(role.into()),
            received,
            opened: responded,
            responded,
            ..Default::default()
        }
    }

    #[test]
    fn features_are_named_one_for_one_and_encode_what_is_known() {
        let a = ContactAttributes {
            rfm_r: Some(5),
            clv_12m: Some(100_000),
            grade: Some("B".into()),
            lifecycle_stage: Some("stable".into()),
            buying_role: Some("influencer".into()),
            received: 3,
            opened: 2,
            responded: 1,
            ..Default::default()
        };
        let names = feature_names();
        let x = features(&a);
        assert_eq!(names.len(), x.len());
        let get = |n: &str| x[names.iter().position(|m| m == n).unwrap()];
        assert_eq!(get("account.rfm_r"), Some(5.0));
        assert_eq!(get("account.rfm_f"), None, "unknown stays unknown");
        assert!((get("account.clv_12m").unwrap() - 1_001f64.ln()).abs() < 1e-12);
        assert_eq!(get("account.grade"), Some(3.0));
        assert_eq!(get("account.no_analytics"), Some(0.0));
        assert_eq!(get("account.lifecycle_stage=stable"), Some(1.0));
        assert_eq!(get("account.lifecycle_stage=decline"), Some(0.0));
        assert_eq!(get("contact.buying_role=influencer"), Some(1.0));
        assert_eq!(get("history.received"), Some(3.0));
        assert_eq!(get("history.responded"), Some(1.0));
        let bare = features(&ContactAttributes::default());
        assert_eq!(
            bare[names
                .iter()
                .position(|m| m == "account.no_analytics")
                .unwrap()],
            Some(1.0)
        );
    }

    #[test]
    fn unknown_values_count_as_the_mean_and_constant_features_are_left_out() {
        let rows = vec![
            vec![Some(1.0), Some(7.0)],
            vec![Some(3.0), Some(7.0)],
            vec![None, Some(7.0)],
        ];
        let m = moments(&rows, 2);
        assert_eq!(m[0], (2.0, 1.0));
        assert_eq!(m[1], (7.0, 0.0));
        let used = vec![(0, 2.0, 1.0)];
        assert_eq!(standardise(&used, &rows[0]), [-1.0]);
        assert_eq!(standardise(&used, &rows[2]), [0.0]);
    }

    #[test]
    fn the_hold_out_is_fixed_by_contact_and_about_thirty_percent() {
        let ids: Vec<Id> = (0..10_000).map(|_| Id::new()).collect();
        let n = ids.iter().filter(|c| held_out(**c)).count();
        assert!((2_700..=3_300).contains(&n), "{n}");
        assert_eq!(held_out(ids[0]), held_out(ids[0]));
    }

    fn history(n: usize, rate: impl Fn(usize) -> (String, f64)) -> Vec<SentMessage> {
        // A fixed pseudo-random sequence, so the test says the same every run.
        let mut seed = 42u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|i| {
                let (role, p) = rate(i);
                SentMessage {
                    contact: Id::new(),
                    campaign: Id::new(),
                    sent_at: Utc::now(),
                    responded: next() < p,
                    attributes: attrs(&role, 0, 0),
                }
            })
            .collect()
    }

    #[test]
    fn responders_that_differ_by_an_attribute_are_ranked_first() {
        let rows = history(1_000, |i| {
            if i % 2 == 0 {
                ("decision_maker".into(), 0.6)
            } else {
                ("user".into(), 0.1)
            }
        });
        let m = Model::fit(&rows, Utc::now()).unwrap();
        assert!(m.summary.auc > 0.7, "{:?}", m.summary);
        assert_eq!(m.summary.training_rows + m.summary.held_out_rows, 1_000);
        assert!(m.score(&attrs("decision_maker", 0, 0)) > 0.4);
        assert!(m.score(&attrs("user", 0, 0)) < 0.2);
        // The roles are the features that varied; the strongest first.
        assert!(
            m.summary.features[0]
                .feature
                .starts_with("contact.buying_role=")
        );
        assert!(
            m.summary
                .features
                .iter()
                .all(|c| !c.feature.starts_with("history."))
        );
    }

    #[test]
    fn too_thin_a_history_is_refused() {
        let rows = history(60, |_| ("user".into(), 0.2));
        let e = Model::fit(&rows, Utc::now()).unwrap_err();
        assert!(matches!(e, PropensityError::TooThin { .. }), "{e}");
        let app = e.refusal("targeting");
        let f = app.fields().unwrap();
        assert_eq!(
            (f.0[0].field.as_str(), f.0[0].code),
            ("targeting", "too_thin")
        );
        assert!(matches!(
            Model::fit(&[], Utc::now()).unwrap_err(),
            PropensityError::TooThin {
                responders: 0,
                non_responders: 0
            }
        ));
    }
}
