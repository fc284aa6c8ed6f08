//! Service KPIs over the cases a user may see: first-response and resolution time in
//! business time (median, p90), SLA attainment by team, partner, category and month,
//! the open backlog by age, and satisfaction by month.

use super::sla::Setup;
use crate::error::AppError;
use crate::i18n::display_offset;
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::entities::{CaseStatus, SlaState};
use guanxi_domain::{Actor, Id};
use guanxi_store::{CaseFact, Store};
use serde::Serialize;
use std::collections::BTreeMap;

/// A spread of durations in business minutes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Spread {
    pub cases: usize,
    pub median_minutes: Option<f64>,
    pub p90_minutes: Option<f64>,
}

impl Spread {
    fn of(mut minutes: Vec<i64>) -> Spread {
        minutes.sort_unstable();
        let at = |q: f64| -> Option<f64> {
            if minutes.is_empty() {
                return None;
            }
            // Linear interpolation between closest ranks.
            let pos = q * (minutes.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            let frac = pos - lo as f64;
            Some(minutes[lo] as f64 + (minutes[hi] - minutes[lo]) as f64 * frac)
        };
        Spread {
            cases: minutes.len(),
            median_minutes: at(0.5),
            p90_minutes: at(0.9),
        }
    }
}

/// Resolved cases under a policy that met or missed it, for one team, partner, category
/// or month.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Attainment {
    pub key: String,
    pub met: usize,
    pub missed: usize,
}

impl Attainment {
    pub fn share(&self) -> Option<f64> {
        let all = self.met + self.missed;
        (all > 0).then(|| self.met as f64 / all as f64)
    }
}

/// Satisfaction in one month: mean CSAT (1–5) and NPS (promoters minus detractors, in
/// percentage points) with how many answers each.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Satisfaction {
    pub month: String,
    pub csat: Option<f64>,
    pub csat_answers: usize,
    pub nps: Option<f64>,
    pub nps_answers: usize,
}

/// One satisfaction answer: when, CSAT, NPS.
pub type Answer = (DateTime<Utc>, Option<i64>, Option<i64>);

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Kpis {
    pub since: DateTime<Utc>,
    pub first_response: Spread,
    pub resolution: Spread,
    pub attainment: Option<f64>,
    pub by_team: Vec<Attainment>,
    pub by_partner: Vec<Attainment>,
    pub by_category: Vec<Attainment>,
    pub by_month: Vec<Attainment>,
    /// Open cases by age: under a day, 1–3 days, 3–7 days, older.
    pub backlog: [usize; 4],
    pub open: usize,
    pub breached_open: usize,
    pub satisfaction: Vec<Satisfaction>,
}

/// Which cases: a team's, a partner's, or all in sight.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Only {
    pub team: Option<Id>,
    pub partner: Option<Id>,
}

fn month(t: DateTime<Utc>) -> String {
    t.with_timezone(&display_offset())
        .format("%Y-%m")
        .to_string()
}

/// The KPIs of the cases `actor` sees, opened or resolved since `since` (and every open one).
pub async fn kpis(
    store: &Store,
    actor: &Actor,
    since: DateTime<Utc>,
    only: Only,
    answers: &[Answer],
) -> Result<Kpis, AppError> {
    let facts = store.case_facts(actor, since).await?;
    let setup = Setup::load(store).await?;
    Ok(compute(&setup, &facts, since, only, answers, Utc::now()))
}

/// The KPIs of `facts`, purely (see [`kpis`]).
pub fn compute(
    setup: &Setup,
    facts: &[CaseFact],
    since: DateTime<Utc>,
    only: Only,
    answers: &[Answer],
    now: DateTime<Utc>,
) -> Kpis {
    let facts: Vec<&CaseFact> = facts
        .iter()
        .filter(|f| only.team.is_none_or(|t| f.team_id == Some(t)))
        .filter(|f| only.partner.is_none_or(|p| f.partner_id == Some(p)))
        .collect();
    // Business minutes under the case's policy's calendar; wall minutes without one.
    let between = |f: &CaseFact, a: DateTime<Utc>, b: DateTime<Utc>| -> i64 {
        match f.sla_policy_id.and_then(|p| setup.time_of(p)) {
            Some(time) => time.minutes_between(a, b),
            None => (b - a).num_minutes().max(0),
        }
    };
    let first_response = facts
        .iter()
        .filter(|f| f.created_at >= since)
        .filter_map(|f| Some(between(f, f.created_at, f.first_response_at?)))
        .collect();
    let resolved: Vec<&&CaseFact> = facts
        .iter()
        .filter(|f| f.resolved_at.is_some_and(|r| r >= since))
        .collect();
    let resolution = resolved
        .iter()
        .filter_map(|f| match (f.sla_policy_id, f.sla_used_minutes) {
            (Some(_), Some(used)) => Some(used),
            _ => Some(between(f, f.created_at, f.resolved_at?)),
        })
        .collect();
    let mut groups: [BTreeMap<String, Attainment>; 4] = Default::default();
    let (mut met, mut missed) = (0, 0);
    for f in &resolved {
        let ok = match f.sla_state {
            Some(SlaState::Met) => true,
            Some(SlaState::Missed) => false,
            _ => continue,
        };
        if ok {
            met += 1
        } else {
            missed += 1
        }
        let keys = [
            f.team_id.map(|t| t.to_string()).unwrap_or_default(),
            f.partner_id.map(|p| p.to_string()).unwrap_or_default(),
            f.category.clone().unwrap_or_default(),
            month(f.resolved_at.expect("resolved")),
        ];
        for (group, key) in groups.iter_mut().zip(keys) {
            let a = group.entry(key.clone()).or_insert_with(|| Attainment {
                key,
                ..Attainment::default()
            });
            if ok { a.met += 1 } else { a.missed += 1 }
        }
    }
    let [by_team, by_partner, by_category, by_month] =
        groups.map(|g| g.into_values().collect::<Vec<_>>());

    let mut backlog = [0; 4];
    let (mut open, mut breached_open) = (0, 0);
    for f in &facts {
        if matches!(f.status, Some(CaseStatus::Resolved | CaseStatus::Closed)) {
            continue;
        }
        open += 1;
        if f.sla_state == Some(SlaState::Breached) {
            breached_open += 1;
        }
        let age = now - f.created_at;
        let i = if age < Duration::days(1) {
            0
        } else if age < Duration::days(3) {
            1
        } else if age < Duration::days(7) {
            2
        } else {
            3
        };
        backlog[i] += 1;
    }

    let mut answered: BTreeMap<String, (Vec<i64>, Vec<i64>)> = BTreeMap::new();
    for (at, csat, nps) in answers.iter().filter(|(at, ..)| *at >= since) {
        let m = answered.entry(month(*at)).or_default();
        m.0.extend(csat);
        m.1.extend(nps);
    }
    let satisfaction = answered
        .into_iter()
        .map(|(month, (csat, nps))| Satisfaction {
            month,
            csat: (!csat.is_empty()).then(|| csat.iter().sum::<i64>() as f64 / csat.len() as f64),
            csat_answers: csat.len(),
            nps: (!nps.is_empty()).then(|| {
                let promoters = nps.iter().filter(|s| **s >= 9).count() as f64;
                let detractors = nps.iter().filter(|s| **s <= 6).count() as f64;
                100.0 * (promoters - detractors) / nps.len() as f64
            }),
            nps_answers: nps.len(),
        })
        .collect();

    Kpis {
        since,
        first_response: Spread::of(first_response),
        resolution: Spread::of(resolution),
        attainment: (met + missed > 0).then(|| met as f64 / (met + missed) as f64),
        by_team,
        by_partner,
        by_category,
        by_month,
        backlog,
        open,
        breached_open,
        satisfaction,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(created: DateTime<Utc>) -> CaseFact {
        CaseFact {
            id: Id::new(),
            created_at: created,
            status: Some(CaseStatus::Open),
            category: Some("空调".into()),
            team_id: None,
            partner_id: None,
            sla_policy_id: None,
            sla_state: None,
            first_response_at: None,
            resolved_at: None,
            sla_used_minutes: None,
            satisfaction: None,
        }
    }

    #[test]
    fn spreads_attainment_backlog_and_satisfaction() {
        let now = Utc::now();
        let since = now - Duration::days(30);
        let mut facts = vec![];
        for (i, minutes) in [10, 20, 30, 40, 100].into_iter().enumerate() {
            let mut f = fact(now - Duration::days(10));
            f.first_response_at = Some(f.created_at + Duration::minutes(minutes));
            f.status = Some(CaseStatus::Resolved);
            f.resolved_at = Some(f.created_at + Duration::hours(2));
            f.sla_policy_id = Some(Id::new());
            f.sla_used_minutes = Some(minutes * 2);
            f.sla_state = Some(if i < 4 {
                SlaState::Met
            } else {
                SlaState::Missed
            });
            facts.push(f);
        }
        facts.push(fact(now - Duration::hours(2)));
        let mut old = fact(now - Duration::days(9));
        old.sla_state = Some(SlaState::Breached);
        facts.push(old);
        let answers = vec![
            (now, Some(5), Some(10)),
            (now, Some(4), Some(9)),
            (now, Some(1), Some(3)),
            (now - Duration::days(60), Some(1), Some(0)),
        ];
        let k = compute(
            &Setup::default(),
            &facts,
            since,
            Only::default(),
            &answers,
            now,
        );
        // Without a calendar the policy is unknown: wall minutes for the response.
        assert_eq!(k.first_response.cases, 5);
        assert_eq!(k.first_response.median_minutes, Some(30.0));
        assert_eq!(k.first_response.p90_minutes, Some(76.0));
        assert_eq!(
            k.resolution.median_minutes,
            Some(60.0),
            "the clock's used minutes"
        );
        assert_eq!(k.attainment, Some(0.8));
        assert_eq!((k.by_category[0].met, k.by_category[0].missed), (4, 1));
        assert_eq!((k.open, k.breached_open, k.backlog), (2, 1, [1, 0, 0, 1]));
        assert_eq!(
            k.satisfaction.len(),
            1,
            "the answer before `since` is left out"
        );
        let s = &k.satisfaction[0];
        assert_eq!((s.csat_answers, s.nps_answers), (3, 3));
        assert!((s.csat.unwrap() - 10.0 / 3.0).abs() < 1e-9);
        assert!((s.nps.unwrap() - 100.0 / 3.0).abs() < 1e-9);
    }
}
