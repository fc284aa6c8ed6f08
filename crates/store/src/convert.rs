//! Lead conversion: a qualified lead becomes an account (or joins an existing one), a contact
//! and optionally an opportunity — in one transaction, so it happens whole or not at all.

use crate::records::{may_read, unknown_reference};
use crate::{Result, Store, StoreError};
use guanxi_domain::entities::*;
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Id, Money, NewRecord, Record, Right, ValidationErrors};
use serde::Serialize;

/// What to make of a lead.
#[derive(Debug, Clone, Default)]
pub struct Conversion {
    /// Attach the contact to this existing account instead of creating one.
    pub account_id: Option<Id>,
    /// Also open a deal with this name and amount, in the default pipeline's first stage.
    pub opportunity: Option<(String, Money)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Converted {
    pub lead: Record<Lead>,
    pub account_id: Id,
    pub contact: Record<Contact>,
    pub opportunity: Option<Record<Opportunity>>,
}

impl Store {
    pub async fn convert_lead(
        &self,
        actor: &Actor,
        lead_id: Id,
        expected_version: i64,
        c: Conversion,
    ) -> Result<Converted> {
        self.require_all(
            actor,
            &[("lead", Right::Update), ("contact", Right::Create)],
        )?;
        if c.opportunity.is_some() {
            self.require_all(actor, &[("opportunity", Right::Create)])?;
        }
        if c.account_id.is_none() {
            self.require_all(actor, &[("account", Right::Create)])?;
        }
        let pipeline = match c.opportunity {
            Some(_) => {
                let q = ListQuery::default()
                    .filter(Filter::new("is_default", Op::Eq, true))
                    .limit(1);
                let p = self
                    .list::<Pipeline>(&Actor::system(), &q)
                    .await?
                    .items
                    .pop();
                Some(p.ok_or_else(|| StoreError::Config("no default pipeline".into()))?)
            }
            None => None,
        };
        // Custom fields are read before the transaction (see `custom_fields`).
        let custom = (
            self.custom_fields("account").await?,
            self.custom_fields("contact").await?,
            self.custom_fields("opportunity").await?,
            self.custom_fields("lead").await?,
        );
        let mut tx = self.db.begin().await?;
        let lead = self
            .locked::<Lead>(&mut tx, actor, lead_id, expected_version, false)
            .await?;
        if lead.data.status == LeadStatus::Converted {
            return Err(StoreError::invalid(
                "status",
                "already_converted",
                "this lead was converted before",
            ));
        }
        let l = &lead.data;
        let account_id = match c.account_id {
            Some(id) => {
                if !may_read(&mut tx, actor, "accounts", id.0).await? {
                    return Err(StoreError::Invalid(ValidationErrors(vec![
                        unknown_reference("account_id", "accounts", id.0),
                    ])));
                }
                id
            }
            None => {
                let kind = if l.company.is_some() {
                    AccountKind::Organisation
                } else {
                    AccountKind::Individual
                };
                let mut a = Account::new(
                    kind,
                    l.company.clone().unwrap_or_else(|| l.name.clone()),
                    Relationship::Customer,
                );
                a.province = l.province.clone();
                a.city = l.city.clone();
                a.phone = l.phone.clone();
                let mut new = like(NewRecord::new(a), &lead);
                Self::check(&mut new.data, &new.custom, &custom.0)
                    .map_err(|e| prefixed(e, "account"))?;
                Self::insert_in(&mut tx, actor, new).await?.meta.id
            }
        };
        let mut person = Contact::new(l.name.clone());
        person.account_id = Some(account_id);
        person.title = l.title.clone();
        person.mobile = l.mobile.clone();
        person.phone = l.phone.clone();
        person.email = l.email.clone();
        let mut new = like(NewRecord::new(person), &lead);
        Self::check(&mut new.data, &new.custom, &custom.1).map_err(|e| prefixed(e, "contact"))?;
        let contact = Self::insert_in(&mut tx, actor, new).await?;
        let opportunity = match (c.opportunity, pipeline) {
            (Some((name, amount)), Some(p)) => {
                let first = p
                    .data
                    .stages
                    .iter()
                    .find(|s| s.outcome == StageOutcome::Open)
                    .unwrap_or(&p.data.stages[0]);
                let at = chrono::Utc::now();
                let deal = Opportunity {
                    name,
                    account_id,
                    contact_id: Some(contact.meta.id),
                    pipeline_id: p.meta.id,
                    stage: first.key.clone(),
                    status: OpportunityStatus::Open,
                    amount,
                    probability: first.probability,
                    expected_close: None,
                    close_reason: None,
                    closed_at: None,
                    lead_id: Some(lead_id),
                    stage_history: vec![StageChange {
                        stage: first.key.clone(),
                        at,
                        by: actor.user_id,
                    }],
                };
                let mut new = like(NewRecord::new(deal), &lead);
                Self::check(&mut new.data, &new.custom, &custom.2)
                    .map_err(|e| prefixed(e, "opportunity"))?;
                Some(Self::insert_in(&mut tx, actor, new).await?)
            }
            _ => None,
        };
        let mut after = lead.clone();
        after.data.status = LeadStatus::Converted;
        after.data.converted_account_id = Some(account_id);
        after.data.converted_contact_id = Some(contact.meta.id);
        after.data.converted_opportunity_id = opportunity.as_ref().map(|o| o.meta.id);
        after.data.converted_at = Some(chrono::Utc::now());
        Self::check(&mut after.data, &after.custom, &custom.3)?;
        let lead = Self::rewrite_in(&mut tx, actor, &lead, after).await?;
        tx.commit().await?;
        for entity in ["lead", "account", "contact", "opportunity"] {
            self.written(entity);
        }
        Ok(Converted {
            lead,
            account_id,
            contact,
            opportunity,
        })
    }

    fn require_all(&self, actor: &Actor, rights: &[(&'static str, Right)]) -> Result<()> {
        rights
            .iter()
            .try_for_each(|(entity, right)| crate::records::require(actor, entity, *right))
    }
}

/// What a conversion creates belongs to whoever owns the lead.
fn like<T>(mut new: NewRecord<T>, lead: &Record<Lead>) -> NewRecord<T> {
    new.owner_id = lead.meta.owner_id;
    new.team_id = lead.meta.team_id;
    new
}

/// Errors about the records a conversion creates name them: `contact.email`.
fn prefixed(e: StoreError, what: &str) -> StoreError {
    match e {
        StoreError::Invalid(ValidationErrors(errors)) => StoreError::Invalid(ValidationErrors(
            errors
                .into_iter()
                .map(|mut f| {
                    f.field = format!("{what}.{}", f.field);
                    f
                })
                .collect(),
        )),
        e => e,
    }
}
