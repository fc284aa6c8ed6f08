use super::{Step, check_steps};
use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*};
use crate::{Id, Money, ValidationErrors};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
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
    /// Messages go out only from this time of day (`09:00`) until `send_until`, China time
    /// (Asia/Shanghai); the window may cross midnight. Both or neither: none sends at any
    /// hour.
    #[serde(default)]
    pub send_from: Option<String>,
    #[serde(default)]
    pub send_until: Option<String>,
    /// A contact who received this many marketing messages from any campaign in the last
    /// `cap_days` days is not sent this one (refused: `frequency_cap`). Both or neither.
    #[serde(default)]
    pub cap_messages: Option<i64>,
    #[serde(default)]
    pub cap_days: Option<i64>,
    /// At most this many messages a minute (a provider's limit; replies that reach the
    /// sales team spread out).
    #[serde(default)]
    pub max_per_minute: Option<i64>,
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
    /// The journey after the message: follow-up e-mails, tasks and field updates, each
    /// after a wait and on what the member did (see [`Step`]).
    #[serde(default)]
    pub steps: Vec<Step>,
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

/// The time zone of send windows: the business's, China's.
pub const SEND_ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// A time of day as a send window's end: `HH:MM`, 24-hour.
fn time_of_day(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

impl Campaign {
    /// The send window, when the campaign has a valid one.
    pub fn window(&self) -> Option<(NaiveTime, NaiveTime)> {
        Some((
            time_of_day(self.send_from.as_deref()?)?,
            time_of_day(self.send_until.as_deref()?)?,
        ))
    }

    /// When a batch may go out, asked at `now`: `now` inside the send window (or with
    /// none), else the window's next opening.
    pub fn next_send_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let Some((from, until)) = self.window() else {
            return now;
        };
        let local = now.with_timezone(&SEND_ZONE);
        let t = local.time();
        let open = if from < until {
            from <= t && t < until
        } else {
            t >= from || t < until // across midnight
        };
        if open {
            return now;
        }
        // The next `from` on the local clock: today's if it is still ahead, else tomorrow's.
        let day = if t < from {
            local.date_naive()
        } else {
            local.date_naive() + chrono::Days::new(1)
        };
        day.and_time(from)
            .and_local_timezone(SEND_ZONE)
            .earliest()
            .map_or(now, |d| d.with_timezone(&Utc))
    }

    /// How many members one batch sends and how long the next waits after its start, by
    /// `max_per_minute`; `batch` when there is no limit.
    pub fn pace(&self, batch: u32) -> (u32, Option<chrono::Duration>) {
        match self.max_per_minute {
            Some(m) if m > 0 => {
                let n = batch.min(u32::try_from(m).unwrap_or(u32::MAX)).max(1);
                let wait = chrono::Duration::milliseconds(60_000 * i64::from(n) / m);
                (n, Some(wait))
            }
            _ => (batch, None),
        }
    }

    fn validate_sending(&self, e: &mut ValidationErrors) {
        for (field, value) in [
            ("send_from", &self.send_from),
            ("send_until", &self.send_until),
        ] {
            if let Some(v) = value
                && time_of_day(v).is_none()
            {
                e.add(field, "invalid", "a time of day, like 09:00 or 21:30");
            }
        }
        match (&self.send_from, &self.send_until) {
            (Some(_), None) => e.add("send_until", "required", "a send window has an end"),
            (None, Some(_)) => e.add("send_from", "required", "a send window has a start"),
            _ => {}
        }
        if let Some((from, until)) = self.window()
            && from == until
        {
            e.add(
                "send_until",
                "invalid",
                "a send window ends at another time than it starts",
            );
        }
        match (self.cap_messages, self.cap_days) {
            (Some(n), Some(d)) => {
                e.range("cap_messages", n, 1, 100);
                e.range("cap_days", d, 1, 365);
            }
            (Some(_), None) => e.add(
                "cap_days",
                "required",
                "a frequency cap counts over a number of days",
            ),
            (None, Some(_)) => e.add(
                "cap_messages",
                "required",
                "a frequency cap names how many messages",
            ),
            (None, None) => {}
        }
        if let Some(m) = self.max_per_minute {
            e.range("max_per_minute", m, 1, 100_000);
        }
    }

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
            FieldDef::new("send_from", Text),
            FieldDef::new("send_until", Text),
            FieldDef::new("cap_messages", Int),
            FieldDef::new("cap_days", Int),
            FieldDef::new("max_per_minute", Int),
            FieldDef::new("targeting", Enum(Targeting::VALUES)),
            FieldDef::new("target_top_n", Int),
            FieldDef::new("target_min_score", Float),
            FieldDef::computed("model_auc", Float),
            FieldDef::computed("model_trained_at", Timestamp),
            FieldDef::new("steps", Json),
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
        self.validate_sending(&mut e);
        self.validate_targeting(&mut e);
        check_steps(&self.steps, &mut e);
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
            send_from: None,
            send_until: None,
            cap_messages: None,
            cap_days: None,
            max_per_minute: None,
            targeting: Targeting::All,
            target_top_n: None,
            target_min_score: None,
            model_auc: None,
            model_trained_at: None,
            steps: vec![],
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
    fn a_send_window_in_china_time_waits_for_its_next_opening() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let mut c = campaign(0, &[100]);
        let now = at("2026-12-07T23:00:00Z"); // 07:00 on the 8th in Beijing
        assert_eq!(c.next_send_at(now), now, "no window: now");
        (c.send_from, c.send_until) = (Some("09:00".into()), Some("21:00".into()));
        assert_eq!(
            c.next_send_at(now),
            at("2026-12-08T01:00:00Z"),
            "09:00 the same day"
        );
        let evening = at("2026-12-08T13:30:00Z"); // 21:30 in Beijing
        assert_eq!(
            c.next_send_at(evening),
            at("2026-12-09T01:00:00Z"),
            "09:00 the next day"
        );
        let noon = at("2026-12-08T04:00:00Z");
        assert_eq!(c.next_send_at(noon), noon, "inside the window");
        // Across midnight: 22:00–06:00.
        (c.send_from, c.send_until) = (Some("22:00".into()), Some("06:00".into()));
        assert_eq!(
            c.next_send_at(now),
            at("2026-12-08T14:00:00Z"),
            "07:00 waits for 22:00"
        );
        let late = at("2026-12-07T15:30:00Z"); // 23:30 in Beijing
        assert_eq!(c.next_send_at(late), late, "inside, before midnight");
        let early = at("2026-12-07T21:00:00Z"); // 05:00 in Beijing
        assert_eq!(c.next_send_at(early), early, "inside, after midnight");
    }

    #[test]
    fn pace_spreads_batches_over_the_minute() {
        let mut c = campaign(0, &[100]);
        assert_eq!(c.pace(200), (200, None));
        c.max_per_minute = Some(60);
        assert_eq!(c.pace(200), (60, Some(chrono::Duration::seconds(60))));
        c.max_per_minute = Some(1_000);
        assert_eq!(c.pace(200), (200, Some(chrono::Duration::seconds(12))));
    }

    #[test]
    fn sending_rules_are_checked_and_named() {
        let fields = |c: &Campaign| -> Vec<String> {
            c.validate()
                .err()
                .map_or(vec![], |e| e.0.into_iter().map(|e| e.field).collect())
        };
        let mut c = campaign(0, &[100]);
        c.send_from = Some("9点".into());
        assert_eq!(fields(&c), ["send_from", "send_until"]);
        c.send_until = Some("09:00".into());
        c.send_from = Some("09:00".into());
        assert_eq!(fields(&c), ["send_until"]);
        c.send_from = Some("08:00".into());
        c.cap_messages = Some(3);
        assert_eq!(fields(&c), ["cap_days"]);
        c.cap_days = Some(0);
        c.max_per_minute = Some(0);
        assert_eq!(fields(&c), ["cap_days", "max_per_minute"]);
        c.cap_days = Some(7);
        c.max_per_minute = Some(600);
        assert_eq!(fields(&c), Vec::<String>::new());
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
