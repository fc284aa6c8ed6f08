//! What members did after a campaign's message, each recorded once on their campaign row
//! and as an interaction on the contact's timeline naming the campaign: opened, clicked
//! (tracking), bounced, complained (the bounce address), unsubscribed (the link), replied
//! (an inbound message within two weeks) and converted — an order placed or a deal won
//! within the campaign's window. [`Conversions`] finds replies and conversions by
//! following the change log.

use crate::AppError;
use chrono::{DateTime, Utc};
use guanxi_domain::entities::{
    Campaign, Contact, Direction, Interaction, InteractionKind, InteractionStatus, Opportunity,
    OpportunityStatus, Order, OrderStatus,
};
use guanxi_domain::{Actor, Currency, Entity, Id, Money, NewRecord};
use guanxi_store::follow::{self, Follower, Subscriber};
use guanxi_store::{CampaignOutcome, ChangeEvent, MemberResponse, Store, StoreError};
use serde_json::Value;
use std::collections::HashMap;

/// Note a member's response; the first of its kind becomes an interaction on the
/// contact's timeline, written as the campaign and owned like the contact. `detail` is the
/// link followed or the bounce's diagnostic. `false` when it was noted before, or the
/// contact is not the campaign's member.
pub async fn record_response(
    store: &Store,
    campaign: Id,
    contact: Id,
    response: MemberResponse,
    detail: Option<&str>,
) -> Result<bool, AppError> {
    let noted = Noted {
        campaign,
        step: None,
        contact,
        response,
        detail: detail.map(str::to_string),
    };
    Ok(record_responses(store, &[noted])
        .await?
        .pop()
        .unwrap_or(false))
}

/// One member's response, as [`record_response`] takes it: to the campaign's message, or
/// to the e-mail of its journey's `step`.
#[derive(Debug, Clone)]
pub struct Noted {
    pub campaign: Id,
    pub step: Option<Id>,
    pub contact: Id,
    pub response: MemberResponse,
    pub detail: Option<String>,
}

/// [`record_response`] for many, in a few transactions: the members' rows in one (their
/// steps' in another), the interactions of first responses in one per campaign. Answers
/// each in order.
pub async fn record_responses(store: &Store, noted: &[Noted]) -> Result<Vec<bool>, AppError> {
    let (to_steps, to_campaigns): (Vec<usize>, Vec<usize>) =
        (0..noted.len()).partition(|i| noted[*i].step.is_some());
    let rows: Vec<_> = to_campaigns
        .iter()
        .map(|i| (noted[*i].campaign, noted[*i].contact, noted[*i].response))
        .collect();
    let step_rows: Vec<_> = to_steps
        .iter()
        .filter_map(|i| {
            let n = &noted[*i];
            Some((n.campaign, n.contact, n.step?, n.response))
        })
        .collect();
    let mut firsts = vec![false; noted.len()];
    for (i, first) in to_campaigns
        .iter()
        .zip(store.members_responded(&rows).await?)
        .chain(
            to_steps
                .iter()
                .zip(store.steps_responded(&step_rows).await?),
        )
    {
        firsts[*i] = first;
    }
    let first: Vec<&Noted> = noted
        .iter()
        .zip(&firsts)
        .filter(|(_, f)| **f)
        .map(|(n, _)| n)
        .collect();
    super::journey::on_responses(store, &first).await?;
    let entries: Vec<Entry> = noted
        .iter()
        .zip(&firsts)
        .filter(|(_, first)| **first)
        .map(|(n, _)| {
            let (kind, outcome) = match n.response {
                MemberResponse::Opened => (InteractionKind::Email, "opened"),
                MemberResponse::Clicked => (InteractionKind::WebVisit, "clicked"),
                MemberResponse::Bounced => (InteractionKind::Email, "bounced"),
                MemberResponse::Complained => (InteractionKind::Email, "complained"),
                MemberResponse::Unsubscribed => (InteractionKind::Email, "unsubscribed"),
                MemberResponse::Replied => (InteractionKind::Note, "replied"),
            };
            Entry {
                campaign: n.campaign,
                step: n.step,
                contact: n.contact,
                kind,
                outcome,
                detail: n.detail.clone(),
            }
        })
        .collect();
    on_timeline(store, &entries).await?;
    Ok(firsts)
}

/// A response as its interaction shows it.
struct Entry {
    campaign: Id,
    step: Option<Id>,
    contact: Id,
    kind: InteractionKind,
    outcome: &'static str,
    detail: Option<String>,
}

/// The interactions of responses, each with an id fixed by campaign, contact and
/// outcome: recorded twice, it is there once.
async fn on_timeline(store: &Store, entries: &[Entry]) -> Result<(), AppError> {
    if entries.is_empty() {
        return Ok(());
    }
    let system = Actor::system();
    let ids = |f: fn(&Entry) -> Id| {
        let mut v: Vec<Id> = entries.iter().map(f).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let campaigns = store
        .get_many::<Campaign>(&system, &ids(|n| n.campaign))
        .await?;
    let people: HashMap<Id, _> = store
        .get_many::<Contact>(&system, &ids(|n| n.contact))
        .await?
        .into_iter()
        .map(|c| (c.meta.id, c))
        .collect();
    for c in campaigns {
        let records = entries
            .iter()
            .filter(|n| n.campaign == c.meta.id)
            .filter_map(|n| {
                let person = people.get(&n.contact)?;
                let (kind, outcome) = (n.kind, n.outcome);
                let interaction = Interaction {
                    kind,
                    direction: Some(Direction::Inbound),
                    status: InteractionStatus::Done,
                    at: Utc::now(),
                    subject: c.data.name.chars().take(200).collect(),
                    body: n.detail.as_ref().map(|d| d.chars().take(2_000).collect()),
                    outcome: Some(outcome.into()),
                    account_id: person.data.account_id,
                    contact_id: Some(n.contact),
                    opportunity_id: None,
                    case_id: None,
                    campaign_id: Some(c.meta.id),
                    parts: vec![],
                };
                let mut new = NewRecord::new(interaction);
                new.id = Some(crate::records::derived_id(
                    c.meta.created_at,
                    &match n.step {
                        None => format!("campaign-{outcome}:{}:{}", c.meta.id, n.contact),
                        Some(s) => format!("step-{outcome}:{}:{s}:{}", c.meta.id, n.contact),
                    },
                ));
                new.owner_id = person.meta.owner_id;
                Some(new)
            })
            .collect();
        crate::records::create_once(store, &Actor::campaign(c.meta.id), records).await?;
    }
    Ok(())
}

/// The subscriber's name, which keys its position: keep it stable.
pub const SUBSCRIBER: &str = "campaign conversions";

/// Attributes orders and won deals to the campaigns that reached their accounts.
pub struct Conversions {
    store: Store,
}

impl Conversions {
    /// The follower of `store`; the first time ever, positioned at the log's end (no
    /// campaign reached anyone before it existed).
    pub async fn open(store: Store) -> Result<Conversions, StoreError> {
        if store.subscriber_position(SUBSCRIBER).await? == 0 {
            let end = store.last_change().await?;
            store.advance_subscriber(SUBSCRIBER, end).await?;
        }
        Ok(Conversions { store })
    }

    pub fn follow(self) -> Follower<Conversions> {
        let store = self.store.clone();
        follow::follow(store, self, follow::Options::default())
    }
}

/// The outcome an event records: an order placed (past draft, not cancelled) or a deal whose
/// status became won. Read from the log's copy of the record.
pub fn outcome_of(e: &ChangeEvent) -> Option<CampaignOutcome> {
    let after = e.after.as_ref()?;
    let id = |v: &Value| v.as_str().and_then(|s| Id::parse(s).ok());
    let is = |v: &Option<Value>, status: &str| {
        v.as_ref().and_then(|v| v["status"].as_str()) == Some(status)
    };
    let placed = |v: &Option<Value>| {
        v.is_some()
            && !is(v, OrderStatus::Draft.as_str())
            && !is(v, OrderStatus::Cancelled.as_str())
    };
    // Placed: created past draft, or moved out of draft.
    let order_placed = match e.action.as_str() {
        "create" => placed(&e.after),
        "update" => is(&e.before, OrderStatus::Draft.as_str()) && placed(&e.after),
        _ => false,
    };
    if e.entity == Order::DEF.name && order_placed {
        let (total, cost) = (after["total"].as_i64()?, after["cost_total"].as_i64());
        return Some(CampaignOutcome {
            id: e.record_id,
            account_id: id(&after["account_id"])?,
            contact_id: id(&after["contact_id"]),
            at: serde_json::from_value::<DateTime<Utc>>(after["ordered_at"].clone()).ok()?,
            currency: after["currency"].as_str()?.to_string(),
            revenue: total,
            // An order whose lines carry no cost has an unknown margin, not a full one.
            margin: cost.filter(|c| *c > 0).map(|c| total - c),
        });
    }
    let won = OpportunityStatus::Won.as_str();
    if e.entity == Opportunity::DEF.name
        && matches!(e.action.as_str(), "create" | "update")
        && is(&e.after, won)
        && !is(&e.before, won)
    {
        let amount: Money = serde_json::from_value(after["amount"].clone()).ok()?;
        return Some(CampaignOutcome {
            id: e.record_id,
            account_id: id(&after["account_id"])?,
            contact_id: id(&after["contact_id"]),
            at: e.at,
            currency: amount.currency.to_string(),
            revenue: amount.minor,
            margin: None,
        });
    }
    None
}

/// How long after a campaign's message an inbound message from the member counts as its
/// reply.
pub const REPLY_DAYS: i64 = 14;

/// The reply an event records: an inbound message from a contact (a mail, a call, a WeChat
/// message, a visit, logged or received) that is not itself a campaign's response: the
/// contact, when, and its subject.
pub fn reply_of(e: &ChangeEvent) -> Option<(Id, DateTime<Utc>, String)> {
    if e.entity != Interaction::DEF.name || e.action != "create" {
        return None;
    }
    let after = e.after.as_ref()?;
    let kind = after["kind"].as_str()?;
    if after["direction"] != "inbound"
        || !after["campaign_id"].is_null()
        || matches!(kind, "web_visit" | "note" | "task")
    {
        return None;
    }
    let contact = after["contact_id"]
        .as_str()
        .and_then(|s| Id::parse(s).ok())?;
    let at = serde_json::from_value::<DateTime<Utc>>(after["at"].clone()).ok()?;
    let subject = after["subject"].as_str().unwrap_or_default().to_string();
    Some((contact, at, subject))
}

/// Note a reply from `contact` at `at` for each campaign that mailed them in the
/// [`REPLY_DAYS`] before, on their row and their timeline; journey steps waiting for it
/// fall due.
pub async fn record_reply(
    store: &Store,
    contact: Id,
    at: DateTime<Utc>,
    subject: &str,
) -> Result<(), AppError> {
    let campaigns = store
        .members_replied(contact, at, chrono::Duration::days(REPLY_DAYS))
        .await?;
    let noted: Vec<Noted> = campaigns
        .iter()
        .map(|c| Noted {
            campaign: *c,
            step: None,
            contact,
            response: MemberResponse::Replied,
            detail: Some(subject.to_string()),
        })
        .collect();
    super::journey::on_responses(store, &noted.iter().collect::<Vec<_>>()).await?;
    let entries: Vec<Entry> = noted
        .into_iter()
        .map(|n| Entry {
            campaign: n.campaign,
            step: None,
            contact,
            kind: InteractionKind::Note,
            outcome: "replied",
            detail: n.detail,
        })
        .collect();
    on_timeline(store, &entries).await
}

impl Subscriber for Conversions {
    type Error = String;

    fn name(&self) -> &str {
        SUBSCRIBER
    }

    async fn handle(&mut self, events: &[ChangeEvent]) -> Result<(), String> {
        for (contact, at, subject) in events.iter().filter_map(reply_of) {
            record_reply(&self.store, contact, at, &subject)
                .await
                .map_err(|e| e.to_string())?;
        }
        let outcomes: Vec<CampaignOutcome> = events.iter().filter_map(outcome_of).collect();
        if outcomes.is_empty() {
            return Ok(());
        }
        // A history import brings orders long before any message: ask the store once.
        let Some(first) = self
            .store
            .first_campaign_contact()
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        for o in outcomes.iter().filter(|o| o.at >= first) {
            convert(&self.store, o).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Attribute one outcome and put it on the timelines of the treated members it converted.
pub async fn convert(store: &Store, o: &CampaignOutcome) -> Result<(), AppError> {
    let what = match Currency::parse(&o.currency) {
        Ok(currency) => Money::new(o.revenue, currency).to_string(),
        Err(_) => format!("{} {}", o.revenue, o.currency),
    };
    let entries: Vec<Entry> = store
        .attribute_conversion(o)
        .await?
        .into_iter()
        .filter(|c| c.treated)
        .map(|c| Entry {
            campaign: c.campaign_id,
            step: None,
            contact: c.contact_id,
            kind: InteractionKind::Note,
            outcome: "converted",
            detail: Some(what.clone()),
        })
        .collect();
    on_timeline(store, &entries).await
}
