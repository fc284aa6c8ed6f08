//! Dispatch: a new case is offered to the nearest service partner qualified for its
//! product line and category, in range and with room (`domain::dispatch` chooses); the
//! partner accepts or declines ([`answer`]); a decline, or an offer not answered within
//! the setting's minutes (`dispatch.lapse`), passes it to the next. A partner set on a
//! case by a person is a dispatcher's decision and is kept. Every decision is written on
//! the case with its reason (`dispatch_reason`), so the case's history shows them all.

use crate::error::AppError;
use crate::jobs::{Handler, JobError};
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::dispatch::{Candidate, Need, choose};
use guanxi_domain::entities::{Account, Case, DispatchReason, DispatchStatus, Product};
use guanxi_domain::filter::{Filter, Op};
use guanxi_domain::geo::Regions;
use guanxi_domain::settings::DispatchSettings;
use guanxi_domain::{Actor, Id, Record, ValidationErrors};
use guanxi_store::{ChangeEvent, Job, NewJob, Store, StoreError};
use serde_json::json;

/// The job that passes an offer on when it was not answered in time.
pub const LAPSE: &str = "dispatch.lapse";

/// A partner that takes cases, as dispatch needs it.
pub struct Partner {
    pub id: Id,
    pub name: String,
    pub at: Option<(f64, f64)>,
    pub lines: Vec<String>,
    pub categories: Vec<String>,
    pub radius_km: Option<f64>,
    pub capacity: Option<i64>,
}

/// The partners that take cases (read again when one changes).
#[derive(Default)]
pub struct Partners(pub Vec<Partner>);

impl Partners {
    pub async fn load(store: &Store) -> Result<Partners, StoreError> {
        let rows =
            super::sla::all::<Account>(store, vec![Filter::new("takes_cases", Op::Eq, true)])
                .await?;
        Ok(Partners(
            rows.into_iter()
                .map(|a| Partner {
                    id: a.meta.id,
                    at: a.data.latitude.zip(a.data.longitude),
                    name: a.data.name,
                    lines: a.data.service_lines,
                    categories: a.data.service_categories,
                    radius_km: a.data.service_radius_km,
                    capacity: a.data.service_capacity,
                })
                .collect(),
        ))
    }
}

/// Whether an account change may change the partners dispatch chooses from.
pub fn touches_partners(e: &ChangeEvent) -> bool {
    let takes = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .is_some_and(|v| v["takes_cases"].as_bool() == Some(true))
    };
    takes(&e.before) || takes(&e.after)
}

fn partner_of(v: Option<&serde_json::Value>) -> Option<Id> {
    v?.get("partner_id")?.as_str()?.parse().ok().map(Id)
}

/// The case's customer on the map: the account's coordinates, or its address placed
/// through the region table.
pub fn customer_at(account: &Account) -> Option<(f64, f64)> {
    account.latitude.zip(account.longitude).or_else(|| {
        Regions::get()
            .locate(
                account.adcode.as_deref(),
                account.province.as_deref(),
                account.city.as_deref(),
                account.district.as_deref(),
            )
            .map(|l| (l.lat, l.lon))
    })
}

/// Decide the case's dispatch after `events`, on `next` (the case as it will be written).
/// Returns the lapse job of a new offer, to be queued before the write.
pub async fn settle(
    store: &Store,
    partners: &Partners,
    case: &Record<Case>,
    account: Option<&Record<Account>>,
    events: &[&ChangeEvent],
    next: &mut Case,
    now: DateTime<Utc>,
) -> Result<Option<NewJob>, StoreError> {
    if !case.data.is_open() {
        return Ok(None);
    }
    // A partner set by a person, not by dispatch: a dispatcher's decision, kept.
    let by_hand = events.iter().rev().find(|e| {
        e.actor_id != Id::SYSTEM
            && partner_of(e.after.as_ref()) != partner_of(e.before.as_ref())
            && (e.before.is_some() || partner_of(e.after.as_ref()).is_some())
    });
    if let Some(e) = by_hand {
        if case.data.dispatch_status == Some(DispatchStatus::Manual)
            && case
                .data
                .dispatch_reason
                .as_ref()
                .and_then(|r| r.partner_id)
                == case.data.partner_id
        {
            return Ok(None);
        }
        next.dispatch_status = Some(DispatchStatus::Manual);
        next.dispatch_offered_at = None;
        next.dispatch_reason = Some(DispatchReason {
            event: "manual".into(),
            partner_id: case.data.partner_id,
            partner: partner_name(store, case.data.partner_id).await?,
            by: Some(e.actor_id),
            ..DispatchReason::default()
        });
        return Ok(None);
    }
    let fresh = case.data.dispatch_status.is_none()
        && case.data.partner_id.is_none()
        && events.iter().any(|e| e.action == "create");
    if !(fresh || case.data.dispatch_status == Some(DispatchStatus::Declined)) {
        return Ok(None);
    }
    if partners.0.is_empty() {
        // No partner takes cases: this organisation does not dispatch.
        return Ok(None);
    }
    let Some(at) = account.and_then(|a| customer_at(&a.data)) else {
        next.partner_id = None;
        next.dispatch_status = Some(DispatchStatus::Unmatched);
        next.dispatch_reason = Some(DispatchReason {
            event: "no_address".into(),
            ..DispatchReason::default()
        });
        return Ok(None);
    };
    let product_line = match case.data.product_id {
        Some(p) => match store.get::<Product>(&Actor::system(), p).await {
            Ok(p) => p.data.category,
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let need = Need {
        at,
        product_line: product_line.as_deref(),
        category: case.data.category.as_deref(),
        passed: &case.data.dispatch_passed,
    };
    // Capacity is counted only for the partner about to be chosen: a full one is marked
    // so and the choice made again.
    let mut open: Vec<i64> = vec![0; partners.0.len()];
    let choice = loop {
        let candidates: Vec<Candidate> = partners
            .0
            .iter()
            .zip(&open)
            .map(|(p, n)| Candidate {
                id: p.id,
                name: &p.name,
                at: p.at,
                product_lines: &p.lines,
                categories: &p.categories,
                radius_km: p.radius_km,
                capacity: p.capacity,
                open_cases: *n,
            })
            .collect();
        let choice = choose(&need, &candidates);
        let Some((id, _)) = choice.chosen else {
            break choice;
        };
        let i = partners
            .0
            .iter()
            .position(|p| p.id == id)
            .expect("a candidate");
        let Some(cap) = partners.0[i].capacity else {
            break choice;
        };
        let held = store.partner_open_cases(id).await?;
        if held < cap {
            break choice;
        }
        open[i] = held;
    };
    let mut reason = DispatchReason {
        not_qualified: choice.not_qualified,
        full: choice.full,
        out_of_range: choice.out_of_range,
        passed: choice.passed,
        product_line: product_line.clone(),
        category: case.data.category.clone(),
        ..DispatchReason::default()
    };
    let Some((id, km)) = choice.chosen else {
        next.partner_id = None;
        next.dispatch_status = Some(DispatchStatus::Unmatched);
        next.dispatch_offered_at = None;
        reason.event = "unmatched".into();
        next.dispatch_reason = Some(reason);
        return Ok(None);
    };
    let name = partners
        .0
        .iter()
        .find(|p| p.id == id)
        .map(|p| p.name.clone());
    next.partner_id = Some(id);
    next.dispatch_status = Some(DispatchStatus::Offered);
    next.dispatch_offered_at = Some(now);
    reason.event = "offered".into();
    reason.partner_id = Some(id);
    reason.partner = name;
    reason.km = Some((km * 10.0).round() / 10.0);
    next.dispatch_reason = Some(reason);
    let minutes = store
        .setting::<DispatchSettings>(DispatchSettings::KEY)
        .await?
        .map(|(s, _)| s)
        .unwrap_or_default()
        .offer_minutes;
    Ok(Some(lapse_job(case.meta.id, id, now, minutes)))
}

async fn partner_name(store: &Store, id: Option<Id>) -> Result<Option<String>, StoreError> {
    let Some(id) = id else { return Ok(None) };
    match store.get::<Account>(&Actor::system(), id).await {
        Ok(a) => Ok(Some(a.data.name)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The job that passes the offer of `case` to `partner` made at `offered` on, should it
/// still stand `minutes` later.
pub fn lapse_job(case: Id, partner: Id, offered: DateTime<Utc>, minutes: i64) -> NewJob {
    NewJob::new(
        LAPSE,
        json!({ "case": case, "partner": partner, "offered_at": offered }),
    )
    .key(format!(
        "dispatch-lapse:{}:{}:{}",
        case.0,
        partner.0,
        offered.timestamp_micros()
    ))
    .at(offered + Duration::minutes(minutes))
}

/// Passes on an offer nobody answered in time.
pub struct Lapse {
    pub store: Store,
}

impl Handler for Lapse {
    fn kind(&self) -> &str {
        LAPSE
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let field = |k: &str| job.payload[k].clone();
        let bad = |e: serde_json::Error| JobError::permanent(format!("the job's payload: {e}"));
        let case: Id = serde_json::from_value(field("case")).map_err(bad)?;
        let partner: Id = serde_json::from_value(field("partner")).map_err(bad)?;
        let offered: DateTime<Utc> = serde_json::from_value(field("offered_at")).map_err(bad)?;
        for _ in 0..3 {
            let c = match self.store.get::<Case>(&Actor::system(), case).await {
                Ok(c) => c,
                Err(StoreError::NotFound { .. }) => return Ok(()),
                Err(e) => return Err(JobError::retry(e)),
            };
            let standing = c.data.is_open()
                && c.data.dispatch_status == Some(DispatchStatus::Offered)
                && c.data.partner_id == Some(partner)
                && c.data.dispatch_offered_at == Some(offered);
            if !standing {
                return Ok(());
            }
            let mut next = c.data.clone();
            pass_on(&mut next, partner, "lapsed", None, None);
            match super::write(&self.store, &c, next).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(JobError::retry(e)),
            }
        }
        Err(JobError::retry("the case kept changing"))
    }
}

/// Mark the case declined by `partner` (or lapsed): the service follower offers it to
/// the next.
fn pass_on(next: &mut Case, partner: Id, event: &str, by: Option<Id>, comment: Option<String>) {
    let name = next
        .dispatch_reason
        .as_ref()
        .filter(|r| r.partner_id == Some(partner))
        .and_then(|r| r.partner.clone());
    next.dispatch_status = Some(DispatchStatus::Declined);
    next.dispatch_offered_at = None;
    if !next.dispatch_passed.contains(&partner) {
        next.dispatch_passed.push(partner);
    }
    next.dispatch_reason = Some(DispatchReason {
        event: event.into(),
        partner_id: Some(partner),
        partner: name,
        by,
        comment,
        ..DispatchReason::default()
    });
}

/// A partner's answer to a case offered to it.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Accept,
    Decline { comment: Option<String> },
}

/// The partner user `actor` accepts or declines the case offered to their partner, on
/// the case's `version` (a stale one is a conflict).
pub async fn answer(
    store: &Store,
    actor: &Actor,
    case_id: Id,
    version: i64,
    answer: Answer,
) -> Result<Record<Case>, AppError> {
    let Some(partner) = actor.partner_id else {
        return Err(AppError::invalid(
            "partner_id",
            "only a partner's user answers an offer",
        ));
    };
    let by = actor.user_id;
    let out = store
        .update::<Case, _>(actor, case_id, version, move |r| {
            if r.data.partner_id != Some(partner)
                || r.data.dispatch_status != Some(DispatchStatus::Offered)
                || !r.data.is_open()
            {
                return Err(ValidationErrors::single(
                    "dispatch_status",
                    "invalid",
                    "the case is not offered to your partner (any more)",
                ));
            }
            match answer {
                Answer::Accept => {
                    let name = r
                        .data
                        .dispatch_reason
                        .as_ref()
                        .and_then(|x| x.partner.clone());
                    r.data.dispatch_status = Some(DispatchStatus::Accepted);
                    r.data.dispatch_reason = Some(DispatchReason {
                        event: "accepted".into(),
                        partner_id: Some(partner),
                        partner: name,
                        by: Some(by),
                        ..DispatchReason::default()
                    });
                }
                Answer::Decline { comment } => {
                    pass_on(&mut r.data, partner, "declined", Some(by), comment)
                }
            }
            Ok(())
        })
        .await?;
    Ok(out)
}
