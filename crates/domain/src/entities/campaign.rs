use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*};
use crate::{Id, Money, ValidationErrors};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

str_enum! {
    pub enum CampaignChannel {
        Email = "email",
        Sms = "sms",
        Phone = "phone",
        Wechat = "wechat",
        DirectMail = "direct_mail",
        Event = "event",
        Web = "web",
    }
}

str_enum! {
    /// A campaign is launched from `planned` to `active` (its members taken from its
    /// segment then), may be `paused` and resumed, and ends `completed` or `cancelled`.
    pub enum CampaignStatus {
        Planned = "planned",
        Active = "active",
        Paused = "paused",
        Completed = "completed",
        Cancelled = "cancelled",
    }
}

str_enum! {
    /// Whom of its segment a campaign reaches: everyone, or those a response-propensity
    /// model ranks highest (the `target_top_n` best) or scores at least `target_min_score`.
    #[derive(Default)]
    pub enum Targeting {
        #[default]
        All = "all",
        TopN = "top_n",
        MinScore = "min_score",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub name: String,
    pub channel: CampaignChannel,
    pub status: CampaignStatus,
    #[serde(default)]
    pub starts_on: Option<NaiveDate>,
    #[serde(default)]
    pub ends_on: Option<NaiveDate>,
    pub budget: Money,
    #[serde(default)]
    pub description: Option<String>,
    /// The segment whose contacts it reaches (an account segment: its accounts' contacts),
    /// taken as they are at launch.
    #[serde(default)]
    pub segment_id: Option<Id>,
    /// The message, or A/B variants of it, each to its share of the members.
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// The share of the members held out at random as a control group, sent nothing, so
    /// that the campaign's effect can be told from what would have happened anyway.
    #[serde(default)]
    pub control_percent: i64,
    /// What one message costs the sender (minor units of the budget's currency): added
    /// to the budget for the campaign's cost.
    #[serde(default)]
    pub cost_per_message: i64,
    /// An order placed or a deal won this many days after a member's message counts as the
    /// campaign's conversion (after the launch for the control group).
    #[serde(default = "default_conversion_days")]
    pub conversion_days: i64,
    /// Whom of the segment the launch takes: all, or the best by response propensity.
    #[serde(default)]
    pub targeting: Targeting,
    /// With `top_n`: how many contacts, the highest scores first.
    #[serde(default)]
    pub target_top_n: Option<i64>,
    /// With `min_score`: the least predicted response probability, between 0 and 1.
    #[serde(default)]
    pub target_min_score: Option<f64>,
    /// The hold-out AUC of the propensity model that selected the members at launch
    /// (kept by Guanxi; none when everyone was taken).
    #[serde(default)]
    pub model_auc: Option<f64>,
    /// When that model was fitted.
    #[serde(default)]
    pub model_trained_at: Option<DateTime<Utc>>,
}

fn default_conversion_days() -> i64 {
    30
}

/// One version of a campaign's message: an e-mail template and the percentage of the
/// members (outside the control group) that receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    pub template_id: Id,
    pub percent: i64,
}

/// The largest control group: half the members.
pub const MAX_CONTROL_PERCENT: i64 = 50;
/// The most variants a campaign tests at once.
pub const MAX_VARIANTS: usize = 5;

impl Campaign {
    /// The variant a member whose draw is `u` (uniform in 0..10,000) receives, or `None`
    /// for the control group: the control group takes the first `control_percent` of the
    /// draws, the variants the rest in their shares.
    pub fn assign(&self, u: u32) -> Option<usize> {
        let u = i64::from(u % 10_000);
        let control = self.control_percent * 100;
        if u < control || self.variants.is_empty() {
            return None;
        }
        let rest = 10_000 - control;
        // Where u falls among the variants' cumulative shares of what is left.
        let at = (u - control) * 100;
        let mut upto = 0;
        for (i, v) in self.variants.iter().enumerate() {
            upto += v.percent * rest;
            if at < upto {
                return Some(i);
            }
        }
        Some(self.variants.len() - 1)
    }
}

impl Campaign {
    /// The targeting names what it needs: a count of at least one for `top_n`, a score
    /// strictly between 0 and 1 for `min_score`; the other's value is refused.
    fn validate_targeting(&self, e: &mut ValidationErrors) {
        let (n, s) = (self.target_top_n, self.target_min_score);
        match self.targeting {
            Targeting::TopN => match n {
                None => e.add(
                    "target_top_n",
                    "required",
                    "say how many of the highest-scored contacts to send to",
                ),
                Some(n) if n < 1 => e.add("target_top_n", "invalid", "at least 1 contact"),
                Some(_) => {}
            },
            Targeting::MinScore => match s {
                None => e.add(
                    "target_min_score",
                    "required",
                    "say the least score (a probability between 0 and 1) to send to",
                ),
                Some(s) if !(s > 0.0 && s < 1.0) => e.add(
                    "target_min_score",
                    "invalid",
                    "a score is a probability: more than 0 and less than 1",
                ),
                Some(_) => {}
            },
            Targeting::All => {}
        }
        if self.targeting != Targeting::TopN && n.is_some() {
            e.add(
                "target_top_n",
                "invalid",
                "a count is for targeting the top N by score",
            );
        }
        if self.targeting != Targeting::MinScore && s.is_some() {
            e.add(
                "target_min_score",
                "invalid",
                "a least score is for targeting by score ≥ s",
            );
        }
    }
}

impl Entity for Campaign {
    const DEF: &'static EntityDef = &EntityDef {
        name: "campaign",
        table: "campaigns",
        scoped: true,
        fields: &[
            FieldDef::new("name", Text),
            FieldDef::new("channel", Enum(CampaignChannel::VALUES)),
            FieldDef::new("status", Enum(CampaignStatus::VALUES)),
            FieldDef::new("starts_on", Date),
            FieldDef::new("ends_on", Date),
            FieldDef::new("budget", Money),
            FieldDef::new("description", Text),
            FieldDef::new("segment_id", Ref("segments")),
            FieldDef::new("variants", Json),
            FieldDef::new("control_percent", Int),
            FieldDef::new("cost_per_message", Int),
            FieldDef::new("conversion_days", Int),
            FieldDef::new("targeting", Enum(Targeting::VALUES)),
            FieldDef::new("target_top_n", Int),
            FieldDef::new("target_min_score", Float),
            FieldDef::computed("model_auc", Float),
            FieldDef::computed("model_trained_at", Timestamp),
        ],
        collection: Some("campaigns"),
        list_columns: &["name", "channel", "status", "starts_on", "budget"],
        ..EntityDef::PLAIN
    };

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 200);
        e.non_negative("budget", self.budget.minor);
        e.non_negative("cost_per_message", self.cost_per_message);
        e.range("conversion_days", self.conversion_days, 1, 365);
        e.range(
            "control_percent",
            self.control_percent,
            0,
            MAX_CONTROL_PERCENT,
        );
        if self.variants.len() > MAX_VARIANTS {
            e.add(
                "variants",
                "too_long",
                format!("at most {MAX_VARIANTS} variants"),
            );
        }
        for (i, v) in self.variants.iter().enumerate() {
            e.text(&format!("variants[{i}].name"), &v.name, 100);
            e.range(&format!("variants[{i}].percent"), v.percent, 1, 100);
            if self.variants[..i]
                .iter()
                .any(|w| w.name.trim() == v.name.trim())
            {
                e.add(
                    format!("variants[{i}].name"),
                    "duplicate",
                    "each variant has a name of its own",
                );
            }
        }
        let total: i64 = self.variants.iter().map(|v| v.percent).sum();
        if !self.variants.is_empty() && total != 100 {
            e.add(
                "variants",
                "invalid",
                format!("the variants' shares add up to 100 %, not {total} %"),
            );
        }
        self.validate_targeting(&mut e);
        if let (Some(s), Some(end)) = (self.starts_on, self.ends_on)
            && end < s
        {
            e.add(
                "ends_on",
                "invalid",
                "a campaign ends on or after its start",
            );
        }
        e.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn campaign(control: i64, shares: &[i64]) -> Campaign {
        Campaign {
            name: "春季焕新".into(),
            channel: CampaignChannel::Email,
            status: CampaignStatus::Planned,
            starts_on: None,
            ends_on: None,
            budget: Money::new(0, Currency::CNY),
            description: None,
            segment_id: None,
            variants: shares
                .iter()
                .enumerate()
                .map(|(i, p)| Variant {
                    name: format!("{}", (b'A' + i as u8) as char),
                    template_id: Id::new(),
                    percent: *p,
                })
                .collect(),
            control_percent: control,
            cost_per_message: 0,
            conversion_days: 30,
            targeting: Targeting::All,
            target_top_n: None,
            target_min_score: None,
            model_auc: None,
            model_trained_at: None,
        }
    }

    #[test]
    fn draws_split_into_the_control_group_and_the_variants_by_their_shares() {
        let c = campaign(10, &[70, 30]);
        let mut counts = [0usize; 3];
        for u in 0..10_000 {
            match c.assign(u) {
                None => counts[0] += 1,
                Some(i) => counts[i + 1] += 1,
            }
        }
        assert_eq!(counts, [1_000, 6_300, 2_700]);
        assert_eq!(campaign(0, &[100]).assign(0), Some(0));
        assert_eq!(campaign(0, &[]).assign(5_000), None, "nothing to send");
    }

    #[test]
    fn shares_must_add_up_and_names_differ() {
        campaign(10, &[50, 50]).validate().unwrap();
        let fields = |c: Campaign| -> Vec<String> {
            c.validate()
                .unwrap_err()
                .0
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields(campaign(10, &[60, 30])), ["variants"]);
        assert_eq!(fields(campaign(60, &[100])), ["control_percent"]);
        let mut same = campaign(0, &[50, 50]);
        same.variants[1].name = "A".into();
        assert_eq!(fields(same), ["variants[1].name"]);
    }

    #[test]
    fn targeting_names_what_it_needs() {
        let fields = |t: Targeting, n: Option<i64>, s: Option<f64>| -> Vec<String> {
            let mut c = campaign(0, &[100]);
            (c.targeting, c.target_top_n, c.target_min_score) = (t, n, s);
            c.validate()
                .err()
                .map(|e| e.0.into_iter().map(|e| e.field).collect())
                .unwrap_or_default()
        };
        assert!(fields(Targeting::All, None, None).is_empty());
        assert!(fields(Targeting::TopN, Some(1), None).is_empty());
        assert!(fields(Targeting::MinScore, None, Some(0.25)).is_empty());
        assert_eq!(fields(Targeting::TopN, None, None), ["target_top_n"]);
        assert_eq!(fields(Targeting::TopN, Some(0), None), ["target_top_n"]);
        for s in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
            assert_eq!(
                fields(Targeting::MinScore, None, Some(s)),
                ["target_min_score"]
            );
        }
        assert_eq!(fields(Targeting::All, Some(5), None), ["target_top_n"]);
        assert_eq!(
            fields(Targeting::TopN, Some(5), Some(0.5)),
            ["target_min_score"]
        );
    }
}
