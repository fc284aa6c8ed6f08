//! The SLA clock of a case, purely: which policy covers it, when its targets fall due in
//! the business time of the policy's calendar, and where it stands at a moment.
//!
//! The resolution clock runs while the case is open and not in one of the policy's pause
//! statuses. Its history is two numbers on the case: the business minutes used before
//! `since`, and `since`, the moment it last started or stopped. A status change moves them
//! ([`Clock::status_changed`]); everything else (the due dates, the state, the next moment
//! the state changes by itself) follows from them, the policy and the time
//! ([`Clock::evaluate`]), so a new priority, category or calendar is recomputed exactly.

use crate::Id;
use crate::entities::{BusinessTime, Case, CaseStatus, CustomerGrade, SlaPolicy, SlaState, Tier};
use chrono::{DateTime, Utc};

/// What a policy is matched on besides the case itself: its account's tier and grade.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AccountFacts {
    pub tier: Option<Tier>,
    pub grade: Option<CustomerGrade>,
}

fn listed(list: &[String], value: Option<&str>) -> bool {
    list.is_empty()
        || value.is_some_and(|v| {
            let v = v.trim();
            list.iter().any(|x| x.eq_ignore_ascii_case(v))
        })
}

impl SlaPolicy {
    /// Whether the policy covers the case (an empty list covers every value).
    pub fn covers(&self, case: &Case, account: AccountFacts) -> bool {
        self.active
            && listed(&self.categories, case.category.as_deref())
            && listed(&self.priorities, Some(case.priority.as_str()))
            && listed(&self.channels, case.channel.as_deref())
            && listed(&self.tiers, account.tier.map(Tier::as_str))
            && listed(&self.grades, account.grade.map(CustomerGrade::as_str))
    }

    /// Whether the resolution clock stands still in `status`.
    pub fn stops_in(&self, status: CaseStatus) -> bool {
        matches!(status, CaseStatus::Resolved | CaseStatus::Closed)
            || self.pause_statuses.iter().any(|s| s == status.as_str())
    }
}

/// The policy that applies: the first that covers the case, of `policies` in order of
/// rank (then id, so the choice is stable).
pub fn covering<'p, P>(
    policies: &'p [(Id, P)],
    case: &Case,
    account: AccountFacts,
) -> Option<&'p (Id, P)>
where
    P: std::borrow::Borrow<SlaPolicy>,
{
    policies
        .iter()
        .filter(|(_, p)| p.borrow().covers(case, account))
        .min_by_key(|(id, p)| (p.borrow().rank, *id))
}

/// A case's SLA fields, as one value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Clock {
    pub policy_id: Option<Id>,
    pub response_due: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub due: Option<DateTime<Utc>>,
    pub state: Option<SlaState>,
    /// Business minutes of the resolution target used before `since`.
    pub used: i64,
    pub since: Option<DateTime<Utc>>,
    pub next_at: Option<DateTime<Utc>>,
}

impl Clock {
    /// The clock a case carries.
    pub fn of(case: &Case) -> Clock {
        Clock {
            policy_id: case.sla_policy_id,
            response_due: case.first_response_due_at,
            first_response_at: case.first_response_at,
            due: case.sla_due_at,
            state: case.sla_state,
            used: case.sla_used_minutes.unwrap_or(0),
            since: case.sla_since,
            next_at: case.sla_next_at,
        }
    }

    /// Write the clock onto the case. A case no policy covers keeps the due date set by
    /// hand and loses the rest.
    pub fn put(&self, case: &mut Case) {
        let covered = self.policy_id.is_some();
        case.sla_policy_id = self.policy_id;
        case.first_response_due_at = self.response_due;
        case.first_response_at = self.first_response_at;
        if covered {
            case.sla_due_at = self.due;
        }
        case.sla_state = self.state;
        case.sla_used_minutes = covered.then_some(self.used);
        case.sla_since = self.since;
        case.sla_next_at = self.next_at;
    }

    /// A status change at `at`: the first response when the case leaves `new`, and the
    /// resolution clock stopped or started. Changes at or before the last one the clock
    /// took are ignored, so a change offered again moves nothing twice.
    pub fn status_changed(
        &mut self,
        policy: &SlaPolicy,
        time: &BusinessTime,
        from: CaseStatus,
        to: CaseStatus,
        at: DateTime<Utc>,
    ) {
        if self.first_response_at.is_none() && to != CaseStatus::New {
            self.first_response_at = Some(at);
        }
        let since = match self.since {
            Some(s) if at <= s => return,
            Some(s) => s,
            None => return,
        };
        let (stopped, stops) = (policy.stops_in(from), policy.stops_in(to));
        if stopped == stops {
            return;
        }
        if stops {
            self.used += time.minutes_between(since, at);
        }
        self.since = Some(at);
    }

    /// The clock of `case` under `policy` at `now`: due dates, state and the next moment
    /// the state changes by itself. `self` holds the history (first response, used, since).
    pub fn evaluate(
        &self,
        case: &Case,
        created_at: DateTime<Utc>,
        policy_id: Id,
        policy: &SlaPolicy,
        time: &BusinessTime,
        now: DateTime<Utc>,
    ) -> Clock {
        let since = self.since.unwrap_or(created_at);
        let first_response_at = self
            .first_response_at
            .or((case.status != CaseStatus::New).then_some(since));
        let closed = !case.is_open();
        let stopped = policy.stops_in(case.status);
        let warn = policy.warn_before_minutes.unwrap_or(0);

        let response_due = policy
            .first_response_minutes
            .map(|m| time.add(created_at, m));
        let response_pending = response_due.is_some() && first_response_at.is_none();
        let response_late = match (response_due, first_response_at) {
            (Some(d), Some(r)) => r > d,
            (Some(d), None) => now >= d,
            _ => false,
        };
        // A target no longer than the warning time gets no warning (it would come at once).
        let response_left = match (policy.first_response_minutes, response_pending) {
            (Some(m), true) if warn < m => Some(m - time.minutes_between(created_at, now)),
            _ => None,
        };

        let used_now = self.used
            + if stopped {
                0
            } else {
                time.minutes_between(since, now)
            };
        let target = policy.resolution_minutes;
        let due = match target {
            Some(t) if !stopped => Some(time.add(since, (t - self.used).max(0))),
            // Resolved: the due date it was resolved against stays for the record.
            Some(_) if closed => self.due,
            _ => None,
        };
        let resolution_late =
            target.is_some_and(|t| if closed { self.used > t } else { used_now >= t });
        let resolution_left = target
            .filter(|t| !stopped && warn < *t)
            .map(|t| t - used_now);

        let state = if closed {
            if response_late || resolution_late {
                SlaState::Missed
            } else {
                SlaState::Met
            }
        } else if response_late || resolution_late {
            SlaState::Breached
        } else if stopped && !response_pending {
            SlaState::Paused
        } else if warn > 0
            && [response_left, resolution_left]
                .iter()
                .flatten()
                .any(|left| *left <= warn)
        {
            SlaState::Warning
        } else {
            SlaState::OnTrack
        };

        // The moments ahead at which the state changes without anyone touching the case.
        let mut ahead: Vec<DateTime<Utc>> = Vec::new();
        if !closed && state != SlaState::Breached {
            if let (Some(m), true) = (policy.first_response_minutes, response_pending) {
                if warn > 0 && warn < m {
                    ahead.push(time.add(created_at, m - warn));
                }
                ahead.push(time.add(created_at, m));
            }
            if let (Some(t), false) = (target, stopped) {
                let left = t - self.used;
                if warn > 0 && warn < left {
                    ahead.push(time.add(since, left - warn));
                }
                ahead.push(time.add(since, left.max(0)));
            }
        }
        let next_at = ahead.into_iter().filter(|t| *t > now).min();

        Clock {
            policy_id: Some(policy_id),
            response_due,
            first_response_at,
            due,
            state: Some(state),
            used: self.used,
            since: Some(since),
            next_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::{Calendar, CaseKind, Priority};
    use chrono::TimeZone;
    use serde_json::json;

    fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono::FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn policy(v: serde_json::Value) -> SlaPolicy {
        let mut base = json!({ "name": "Standard", "calendar_id": Id::new() });
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    fn case(status: CaseStatus) -> Case {
        serde_json::from_value(json!({
            "number": "CS-1", "subject": "空调不制冷", "kind": "repair", "category": "空调",
            "priority": "high", "status": status, "channel": "phone",
        }))
        .unwrap()
    }

    fn office() -> BusinessTime {
        Calendar::china_office("总部").business_time().unwrap()
    }

    #[test]
    fn the_first_policy_by_rank_that_covers_the_case_applies() {
        let (a, b, c) = (Id::new(), Id::new(), Id::new());
        let policies = vec![
            (a, policy(json!({ "rank": 5, "resolution_minutes": 60 }))),
            (
                b,
                policy(json!({ "rank": 1, "resolution_minutes": 60, "tiers": ["key"] })),
            ),
            (
                c,
                policy(
                    json!({ "rank": 2, "resolution_minutes": 60, "categories": ["空调"],
                               "priorities": ["high", "urgent"] }),
                ),
            ),
        ];
        let mut k = case(CaseStatus::New);
        k.kind = CaseKind::Complaint;
        let key = AccountFacts {
            tier: Some(Tier::Key),
            grade: None,
        };
        assert_eq!(covering(&policies, &k, key).unwrap().0, b);
        assert_eq!(
            covering(&policies, &k, AccountFacts::default()).unwrap().0,
            c
        );
        k.priority = Priority::Low;
        assert_eq!(
            covering(&policies, &k, AccountFacts::default()).unwrap().0,
            a
        );
        let mut off = policies.clone();
        off[0].1.active = false;
        assert!(covering(&off, &k, AccountFacts::default()).is_none());
    }

    #[test]
    fn the_clock_counts_business_time_and_stops_while_waiting_for_the_customer() {
        let time = office();
        let p = policy(json!({
            "first_response_minutes": 60, "resolution_minutes": 8 * 60,
            "warn_before_minutes": 60,
        }));
        let id = Id::new();
        // Opened Friday 2026-12-04 at 17:00: 1 hour on Friday, the rest on Monday.
        let opened = shanghai(2026, 12, 4, 17, 0);
        let c = case(CaseStatus::New);
        let clock = Clock::default().evaluate(&c, opened, id, &p, &time, opened);
        assert_eq!(clock.response_due, Some(shanghai(2026, 12, 4, 18, 0)));
        assert_eq!(clock.due, Some(shanghai(2026, 12, 7, 17, 0)));
        assert_eq!(clock.state, Some(SlaState::OnTrack));
        // Next, the response falls due (a warning 60 minutes before a 60-minute target
        // would be at once: there is none).
        assert_eq!(clock.next_at, Some(shanghai(2026, 12, 4, 18, 0)));

        // Monday 09:30: the response is late.
        let monday = shanghai(2026, 12, 7, 9, 30);
        let late = clock.evaluate(&c, opened, id, &p, &time, monday);
        assert_eq!(late.state, Some(SlaState::Breached));
        assert_eq!(late.next_at, None, "a breach is for good");

        // Answered Friday 17:30, then waiting for the customer from Monday 10:00 (2 hours
        // used) to Tuesday 10:00: due Tuesday 10:00 + 6 hours = 17:00.
        let mut c = case(CaseStatus::Open);
        let mut h = clock.clone();
        h.status_changed(
            &p,
            &time,
            CaseStatus::New,
            CaseStatus::Open,
            shanghai(2026, 12, 4, 17, 30),
        );
        assert_eq!(h.first_response_at, Some(shanghai(2026, 12, 4, 17, 30)));
        h.status_changed(
            &p,
            &time,
            CaseStatus::Open,
            CaseStatus::Pending,
            shanghai(2026, 12, 7, 10, 0),
        );
        assert_eq!(h.used, 120);
        c.status = CaseStatus::Pending;
        let paused = h.evaluate(&c, opened, id, &p, &time, shanghai(2026, 12, 7, 15, 0));
        assert_eq!(
            (paused.state, paused.due, paused.next_at),
            (Some(SlaState::Paused), None, None)
        );
        h.status_changed(
            &p,
            &time,
            CaseStatus::Pending,
            CaseStatus::Open,
            shanghai(2026, 12, 8, 10, 0),
        );
        // Offered again, the same change moves nothing.
        let again = h.clone();
        h.status_changed(
            &p,
            &time,
            CaseStatus::Pending,
            CaseStatus::Open,
            shanghai(2026, 12, 8, 10, 0),
        );
        assert_eq!(h, again);
        c.status = CaseStatus::Open;
        let running = h.evaluate(&c, opened, id, &p, &time, shanghai(2026, 12, 8, 10, 0));
        assert_eq!(running.due, Some(shanghai(2026, 12, 8, 17, 0)));
        assert_eq!(running.state, Some(SlaState::OnTrack));
        assert_eq!(
            running.next_at,
            Some(shanghai(2026, 12, 8, 16, 0)),
            "the warning"
        );
        let warned = h.evaluate(&c, opened, id, &p, &time, shanghai(2026, 12, 8, 16, 15));
        assert_eq!(warned.state, Some(SlaState::Warning));
        assert_eq!(
            warned.next_at,
            Some(shanghai(2026, 12, 8, 17, 0)),
            "the breach"
        );

        // Resolved at 16:30: met.
        h.status_changed(
            &p,
            &time,
            CaseStatus::Open,
            CaseStatus::Resolved,
            shanghai(2026, 12, 8, 16, 30),
        );
        assert_eq!(h.used, 450);
        c.status = CaseStatus::Resolved;
        h.due = running.due;
        let met = h.evaluate(&c, opened, id, &p, &time, shanghai(2026, 12, 9, 9, 0));
        assert_eq!((met.state, met.next_at), (Some(SlaState::Met), None));
        assert_eq!(met.due, Some(shanghai(2026, 12, 8, 17, 0)));
    }

    #[test]
    fn a_new_priority_is_recomputed_from_the_clock_history() {
        let time = office();
        let (fast, slow) = (
            policy(json!({ "resolution_minutes": 120 })),
            policy(json!({ "resolution_minutes": 16 * 60 })),
        );
        let opened = shanghai(2026, 12, 7, 9, 0);
        let c = case(CaseStatus::Open);
        let h = Clock::default();
        let now = shanghai(2026, 12, 7, 10, 0);
        let a = h.evaluate(&c, opened, Id::new(), &slow, &time, now);
        assert_eq!(a.due, Some(shanghai(2026, 12, 8, 18, 0)));
        let b = a.evaluate(&c, opened, Id::new(), &fast, &time, now);
        assert_eq!(b.due, Some(shanghai(2026, 12, 7, 11, 0)));
        let late = a.evaluate(
            &c,
            opened,
            Id::new(),
            &fast,
            &time,
            shanghai(2026, 12, 7, 11, 0),
        );
        assert_eq!(late.state, Some(SlaState::Breached));
    }

    #[test]
    fn spring_festival_holds_the_clock() {
        let time = office();
        let p = policy(json!({ "resolution_minutes": 4 * 60 }));
        // Friday 2026-02-13 16:00: 2 hours that day, then Saturday 14 Feb is a make-up
        // working day (调休), so the case is due on it, before the holiday week.
        let opened = shanghai(2026, 2, 13, 16, 0);
        let c = case(CaseStatus::Open);
        let clock = Clock::default().evaluate(&c, opened, Id::new(), &p, &time, opened);
        assert_eq!(clock.due, Some(shanghai(2026, 2, 14, 11, 0)));
        // Opened on the last evening before the holiday: due after it.
        let opened = shanghai(2026, 2, 14, 17, 0);
        let clock = Clock::default().evaluate(&c, opened, Id::new(), &p, &time, opened);
        assert_eq!(clock.due, Some(shanghai(2026, 2, 24, 12, 0)));
    }
}
