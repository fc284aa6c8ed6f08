//! The customer self-service portal's use cases. A customer is a contact signed in apart
//! from staff (`Store::portal_*`); it sees only its own account's cases (its own cases
//! when it has no account), opens one, follows its status and the messages meant for it,
//! replies, and rates the resolution. The portal writes as the system on the customer's
//! behalf: cases land with the account's owner and team, like any other case.

use crate::error::AppError;
use crate::jobs::{Handler, JobError};
use crate::mail::Outbox;
use chrono::Utc;
use guanxi_domain::entities::{
    Account, Case, CaseKind, CaseStatus, Contact, Direction, Interaction, InteractionKind,
    InteractionStatus, Priority,
};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::mail_template::Rendered;
use guanxi_domain::{Actor, Id, NewRecord, Record, ValidationErrors};
use guanxi_outbound::mail::{Address, Category, OutgoingMail};
use guanxi_store::{Job, NewJob, Store, StoreError};
use serde_json::json;

/// A signed-in customer.
#[derive(Debug, Clone)]
pub struct Customer {
    pub contact: Record<Contact>,
}

impl Customer {
    pub async fn load(store: &Store, contact: Id) -> Result<Customer, AppError> {
        let contact = store.get::<Contact>(&Actor::system(), contact).await?;
        Ok(Customer { contact })
    }

    pub fn id(&self) -> Id {
        self.contact.meta.id
    }

    /// Whose cases it sees: its account's, or its own without one.
    fn sight(&self) -> Filter {
        match self.contact.data.account_id {
            Some(a) => Filter::new("account_id", Op::Eq, a.to_string()),
            None => Filter::new("contact_id", Op::Eq, self.id().to_string()),
        }
    }

    fn sees(&self, case: &Case) -> bool {
        match self.contact.data.account_id {
            Some(a) => case.account_id == Some(a),
            None => case.contact_id == Some(self.id()),
        }
    }
}

/// The customer's cases, newest first.
pub async fn cases(store: &Store, who: &Customer) -> Result<Vec<Record<Case>>, AppError> {
    let q = ListQuery::default()
        .filter(who.sight())
        .sort_by("created_at", true)
        .limit(200);
    Ok(store.list::<Case>(&Actor::system(), &q).await?.items)
}

/// One of the customer's cases; another's is not found, as if it did not exist.
pub async fn case(store: &Store, who: &Customer, id: Id) -> Result<Record<Case>, AppError> {
    match store.get::<Case>(&Actor::system(), id).await {
        Ok(c) if who.sees(&c.data) => Ok(c),
        Ok(_) => Err(AppError::Store(StoreError::NotFound { entity: "case", id })),
        Err(e) => Err(e.into()),
    }
}

/// What a customer writes to open a case.
#[derive(Debug, Clone, Default)]
pub struct NewCase {
    pub subject: String,
    pub description: String,
    pub kind: Option<CaseKind>,
    pub category: Option<String>,
}

/// Open a case for the customer: new, normal priority, channel `portal`, with the
/// account's owner and team (dispatch and the SLA clock follow from the change log).
pub async fn open_case(
    store: &Store,
    who: &Customer,
    new: NewCase,
) -> Result<Record<Case>, AppError> {
    let mut e = ValidationErrors::new();
    if new.subject.trim().is_empty() {
        e.add("subject", "required", "say what the matter is");
    }
    e.into_result()?;
    let system = Actor::system();
    let account = match who.contact.data.account_id {
        Some(a) => Some(store.get::<Account>(&system, a).await?),
        None => None,
    };
    let id = Id::new();
    let mut case = Case::new(
        format!("CS-W-{}", &id.to_string()[..13].replace('-', "")),
        new.subject.trim(),
        new.kind.unwrap_or(CaseKind::Request),
        Priority::Normal,
        CaseStatus::New,
    );
    case.description = Some(new.description.trim().to_string()).filter(|d| !d.is_empty());
    case.category = new.category.filter(|c| !c.trim().is_empty());
    case.channel = Some("portal".into());
    case.account_id = who.contact.data.account_id;
    case.contact_id = Some(who.id());
    let owner = account
        .as_ref()
        .and_then(|a| a.meta.owner_id)
        .or(who.contact.meta.owner_id);
    let team = account
        .as_ref()
        .and_then(|a| a.meta.team_id)
        .or(who.contact.meta.team_id);
    let mut record = NewRecord::new(case).with_id(id);
    if let Some(owner) = owner {
        record = record.owned_by(owner, team);
    }
    Ok(store.create(&system, record).await?)
}

/// The messages of a case meant for its customer, oldest first: what it wrote, what the
/// service wrote to it, the visits; never internal notes.
pub async fn messages(
    store: &Store,
    who: &Customer,
    case_id: Id,
) -> Result<Vec<Record<Interaction>>, AppError> {
    case(store, who, case_id).await?;
    let q = ListQuery::default()
        .filter(Filter::new("case_id", Op::Eq, case_id.to_string()))
        .sort_by("at", false)
        .limit(500);
    Ok(store
        .list::<Interaction>(&Actor::system(), &q)
        .await?
        .items
        .into_iter()
        .filter(|i| for_the_customer(&i.data))
        .collect())
}

/// Whether a case's interaction is meant for its customer to see.
pub fn for_the_customer(i: &Interaction) -> bool {
    match i.kind {
        InteractionKind::Visit => true,
        InteractionKind::Note | InteractionKind::Task => false,
        _ => matches!(i.direction, Some(Direction::Inbound | Direction::Outbound)),
    }
}

/// The customer's reply on its case, on the case's timeline (inbound, channel portal).
pub async fn reply(
    store: &Store,
    who: &Customer,
    case_id: Id,
    body: &str,
) -> Result<Record<Interaction>, AppError> {
    let c = case(store, who, case_id).await?;
    if body.trim().is_empty() {
        return Err(AppError::invalid("body", "write a message"));
    }
    let message = Interaction {
        kind: InteractionKind::Portal,
        direction: Some(Direction::Inbound),
        status: InteractionStatus::Done,
        at: Utc::now(),
        subject: c.data.subject.clone(),
        body: Some(body.trim().to_string()),
        outcome: None,
        account_id: c.data.account_id,
        contact_id: Some(who.id()),
        opportunity_id: None,
        case_id: Some(case_id),
        campaign_id: None,
        parts: vec![],
    };
    let mut new = NewRecord::new(message);
    if let Some(owner) = c.meta.owner_id {
        new = new.owned_by(owner, c.meta.team_id);
    }
    Ok(store.create(&Actor::system(), new).await?)
}

/// The job that mails a sign-in link.
pub const LINK: &str = "portal.link";

/// Ask for a sign-in link to the contact with this e-mail: a job mails it. Whether the
/// address is known is not said (the answer is the same either way).
pub async fn request_link(store: &Store, email: &str) -> Result<(), AppError> {
    if let Some(contact) = store.portal_contact(email).await? {
        let minute = Utc::now().timestamp() / 60;
        let job = NewJob::new(LINK, json!({ "contact": contact.meta.id }))
            // One link a minute per contact, however often the button is pressed.
            .key(format!("portal-link:{}:{minute}", contact.meta.id.0));
        store.enqueue(&[job]).await?;
    }
    Ok(())
}

/// Mails a one-time sign-in link (service mail) to the contact.
pub struct MailLink {
    pub store: Store,
    pub outbox: Outbox,
}

impl Handler for MailLink {
    fn kind(&self) -> &str {
        LINK
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let contact: Id = serde_json::from_value(job.payload["contact"].clone())
            .map_err(|e| JobError::permanent(format!("the job's payload: {e}")))?;
        let contact = match self.store.get::<Contact>(&Actor::system(), contact).await {
            Ok(c) => c,
            Err(StoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(JobError::retry(e)),
        };
        let Some(email) = contact.data.email.clone() else {
            return Ok(());
        };
        let base = self
            .outbox
            .public_url()
            .ok_or_else(|| {
                JobError::retry("the portal's links need the public URL (GUANXI_PUBLIC_URL)")
            })?
            .clone();
        let token = self
            .store
            .portal_link(contact.meta.id)
            .await
            .map_err(JobError::retry)?;
        let link = base
            .join(&format!("portal/link/{token}"))
            .map_err(|e| JobError::permanent(e.to_string()))?;
        let text = format!(
            "您好，{name}：\n\n请点击以下链接登录客户服务门户（30 分钟内有效，仅可使用一次）：\n{link}\n\n\
             Hello {name},\n\nSign in to the customer portal with this link (valid for 30 minutes, once):\n{link}\n",
            name = contact.data.name
        );
        let html = format!(
            "<p>您好，{name}：</p><p><a href=\"{link}\">登录客户服务门户</a>（30 分钟内有效，仅可使用一次）</p>\
             <p>Hello {name},</p><p><a href=\"{link}\">Sign in to the customer portal</a> (valid for 30 minutes, once)</p>",
            name = html_escape(&contact.data.name)
        );
        let mut mail = OutgoingMail::new(
            Address::named(contact.data.name.clone(), email.as_str()),
            Rendered {
                subject: "客户服务门户登录链接 / Your sign-in link".into(),
                html,
                text,
            },
            Category::Transactional,
        );
        mail.idempotency_key = Some(format!("portal-link-{}", job.id));
        self.outbox.send(&mail).await.map_err(|e| {
            if e.is_transient() {
                JobError::retry(e)
            } else {
                JobError::permanent(e.to_string())
            }
        })?;
        Ok(())
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
