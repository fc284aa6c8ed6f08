//! E-mail to contacts from stored templates ([`EmailTemplate`]): consent checked, merge
//! fields filled from the contact, its account and its owner, sent through the relay
//! `guanxi serve` was configured with, and recorded as an interaction of kind e-mail on
//! the contact's timeline.
//!
//! Exactly once as far as it is ours: the caller names the send with a key (a rule run's
//! action), from which the interaction's id and the Message-ID are made. A send tried again
//! finds the interaction and does nothing; one whose relay accepted the message but whose
//! interaction was not written sends it again with the same Message-ID, which receivers
//! drop as a duplicate.

use chrono::{DateTime, Utc};
use guanxi_domain::entities::{
    Account, Contact, Direction, EmailTemplate, Interaction, InteractionKind, InteractionStatus,
    MailCategory, User,
};
use guanxi_domain::{Actor, Entity, Id, NewRecord};
use guanxi_outbound::{
    Address, Category, MailError, Mailer, OutgoingMail, Rendered, SmtpConfig, TemplateError,
};
use guanxi_store::{Store, StoreError, Suppression};

mod batch;
pub use batch::{Message, send_batch};
use serde_json::{Value, json};
use url::Url;

/// Where mail goes out: the relay (none when SMTP is not configured) and the address users
/// reach the CRM at, under which the unsubscribe addresses of marketing mail lie.
#[derive(Clone, Default)]
pub struct Outbox {
    mailer: Option<Mailer>,
    public_url: Option<Url>,
}

impl Outbox {
    /// The outbox of a server with these settings; the relay connects on the first send.
    /// Made inside a Tokio runtime (the relay's connection pool runs a task).
    pub fn new(smtp: Option<&SmtpConfig>, public_url: Option<&str>) -> Result<Outbox, MailError> {
        let public_url = public_url
            .map(|u| {
                Url::parse(u.trim()).map_err(|e| MailError::Config(format!("public URL {u}: {e}")))
            })
            .transpose()?;
        Ok(Outbox {
            mailer: smtp.map(Mailer::new).transpose()?,
            public_url,
        })
    }

    /// The address users reach the CRM at, when it is set.
    pub fn public_url(&self) -> Option<&Url> {
        self.public_url.as_ref()
    }

    /// Send a service message as it is: no template, no interaction recorded (a sign-in
    /// link).
    pub async fn send(
        &self,
        mail: &guanxi_outbound::mail::OutgoingMail,
    ) -> Result<guanxi_outbound::mail::Sent, SendError> {
        let mailer = self.mailer.as_ref().ok_or(SendError::NotConfigured)?;
        Ok(mailer.send(mail).await?)
    }

    /// No relay: every send fails with [`SendError::NotConfigured`].
    pub fn off() -> Outbox {
        Outbox::default()
    }

    /// The one-click unsubscribe address of a token.
    fn unsubscribe_url(&self, token: &str) -> Result<Url, SendError> {
        let base = self.public_url.as_ref().ok_or(SendError::NoPublicUrl)?;
        base.join(&format!("unsubscribe/{token}"))
            .map_err(|e| SendError::Mail(MailError::Config(e.to_string())))
    }
}

/// Why a send did not happen, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("e-mail is not configured (set the SMTP settings: --smtp-host, GUANXI_SMTP_HOST)")]
    NotConfigured,
    #[error(
        "marketing e-mail needs the public URL (GUANXI_PUBLIC_URL) for its unsubscribe address"
    )]
    NoPublicUrl,
    #[error("the contact has no owner to record the e-mail under")]
    NoOwner,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("the e-mail template cannot be used: {0}")]
    Template(String),
}

impl SendError {
    /// Settings and passing trouble may be fixed or pass; a refused message or a broken
    /// template will fail the same way again.
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::NotConfigured | SendError::NoPublicUrl => true,
            SendError::Store(e) => !matches!(
                e,
                StoreError::Invalid(_) | StoreError::Forbidden { .. } | StoreError::NotFound { .. }
            ),
            SendError::Mail(e) => e.is_transient(),
            SendError::Template(_) | SendError::NoOwner => false,
        }
    }
}

/// What came of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The relay took it; the interaction records it.
    Sent {
        interaction_id: Id,
        category: MailCategory,
    },
    /// An earlier attempt with the same key sent it.
    AlreadySent { interaction_id: Id },
    /// Not sent, and never will be for this contact as it is: an answer, not an error.
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The contact has no e-mail address.
    NoAddress,
    /// Marketing mail to a contact who did not consent to e-mail, or withdrew it.
    NoConsent,
    /// The address is on the suppression list: it bounced for good (no mail at all), or
    /// its owner complained or an administrator put it there (no marketing).
    Suppressed,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NoAddress => "no_address",
            Refusal::NoConsent => "no_consent",
            Refusal::Suppressed => "suppressed",
        }
    }
}

/// Send `template_id` to `contact_id`, once for `key`, the interaction written as `actor`
/// at `at` (the time the cause happened: the id sorts by it), naming `campaign` when the
/// message is a campaign's. A batch of one ([`send_batch`]).
#[allow(clippy::too_many_arguments)]
pub async fn send_template(
    store: &Store,
    outbox: &Outbox,
    actor: &Actor,
    template_id: Id,
    contact_id: Id,
    key: &str,
    at: DateTime<Utc>,
    campaign: Option<Id>,
) -> Result<Outcome, SendError> {
    let message = Message {
        template_id,
        contact_id,
        key: key.to_string(),
        step: None,
    };
    send_batch(store, outbox, actor, &[message], at, campaign)
        .await?
        .pop()
        .expect("one answer for one message")
}

/// Whether a suppression stops mail of `category`: a hard bounce stops all mail (there is
/// no such mailbox); a complaint or an administrator's entry stops marketing.
fn suppressed_by(entry: Option<&Suppression>, category: MailCategory) -> bool {
    entry.is_some_and(|s| {
        category == MailCategory::Marketing || s.reason == guanxi_store::suppression_reason::BOUNCE
    })
}

/// A template as it would reach `contact_id` (one the actor may read), or a sample contact
/// when none is named: for the template form's preview. Nothing is sent or stored; the
/// unsubscribe address is a sample's. A template that cannot be saved is refused the way a
/// save would refuse it, naming the part.
pub async fn preview(
    store: &Store,
    actor: &Actor,
    template: &EmailTemplate,
    contact_id: Option<Id>,
) -> Result<Rendered, crate::AppError> {
    template.validate()?;
    let sample_unsubscribe = "https://crm.example.cn/unsubscribe/sample";
    let ctx = match contact_id {
        Some(id) => {
            let contact = store.get::<Contact>(actor, id).await?;
            let system = Actor::system();
            let account = match contact.data.account_id {
                Some(a) => Some(store.get::<Account>(&system, a).await?),
                None => None,
            };
            let owner = match contact.meta.owner_id {
                Some(o) => store.get::<User>(&system, o).await.ok(),
                None => None,
            };
            let url = Url::parse(sample_unsubscribe).expect("a URL");
            batch::merge_context(&contact, account.as_ref(), owner.as_ref(), Some(&url))
        }
        None => json!({
            "contact": { "name": "王芳", "title": "采购经理", "email": "wang.fang@example.cn" },
            "account": { "name": "上海明亮贸易有限公司", "city": "上海" },
            "user": { "name": "李娜", "email": "li.na@example.cn" },
            "unsubscribe_url": sample_unsubscribe,
        }),
    };
    template
        .compile()
        .and_then(|t| t.render(&ctx))
        .map_err(|e| {
            let (TemplateError::Syntax { part, .. }
            | TemplateError::UnknownField { part, .. }
            | TemplateError::Render { part, .. }) = &e;
            crate::AppError::invalid(part.name(), e.to_string())
        })
}

/// The contact a record names for mail: itself when it is one, else its `contact_id`.
pub fn contact_of(entity: &str, record: &Value) -> Option<Id> {
    let field = if entity == Contact::DEF.name {
        "id"
    } else {
        "contact_id"
    };
    record[field].as_str().and_then(|s| Id::parse(s).ok())
}

/// Send a service message (already written: a survey invitation) to `contact_id`, once for
/// `key`, recorded as an outbound e-mail interaction on the contact (and `case_id`), owned
/// by the contact's owner or else `owner`, written as `actor` at `at`. Service mail goes
/// to any contact with an address, whatever its marketing consent.
#[allow(clippy::too_many_arguments)]
pub async fn send_service(
    store: &Store,
    outbox: &Outbox,
    actor: &Actor,
    contact_id: Id,
    case_id: Option<Id>,
    owner: Option<Id>,
    message: Rendered,
    key: &str,
    at: DateTime<Utc>,
) -> Result<Outcome, SendError> {
    let interaction_id = crate::records::derived_id(at, key);
    let system = Actor::system();
    if store
        .get::<Interaction>(&system, interaction_id)
        .await
        .is_ok()
    {
        return Ok(Outcome::AlreadySent { interaction_id });
    }
    let contact = store.get::<Contact>(&system, contact_id).await?;
    let Some(email) = contact.data.email.clone() else {
        return Ok(Outcome::Refused(Refusal::NoAddress));
    };
    let entry = store.suppression(email.as_str()).await?;
    if suppressed_by(entry.as_ref(), MailCategory::Transactional) {
        return Ok(Outcome::Refused(Refusal::Suppressed));
    }
    let mailer = outbox.mailer.as_ref().ok_or(SendError::NotConfigured)?;
    let owner_id = contact.meta.owner_id.or(owner).ok_or(SendError::NoOwner)?;
    let mut mail = OutgoingMail::new(
        Address::named(contact.data.name.clone(), email.as_str()),
        message,
        Category::Transactional,
    );
    if let Ok(u) = store.get::<User>(&system, owner_id).await {
        mail.reply_to = Some(Address::named(u.data.name.clone(), u.data.email.as_str()));
    }
    mail.idempotency_key = Some(interaction_id.to_string());
    mailer.send(&mail).await?;
    let interaction = Interaction {
        kind: InteractionKind::Email,
        direction: Some(Direction::Outbound),
        status: InteractionStatus::Done,
        at: Utc::now(),
        subject: mail.subject.chars().take(200).collect(),
        body: Some(mail.text),
        outcome: Some(MailCategory::Transactional.as_str().to_string()),
        account_id: contact.data.account_id,
        contact_id: Some(contact_id),
        opportunity_id: None,
        case_id,
        campaign_id: None,
        parts: vec![],
    };
    let mut new = NewRecord::new(interaction);
    new.id = Some(interaction_id);
    new.owner_id = Some(owner_id);
    match store.create(actor, new).await {
        Ok(_) | Err(StoreError::Duplicate { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Outcome::Sent {
        interaction_id,
        category: MailCategory::Transactional,
    })
}

/// The address of a page under the public URL (`survey/<token>`).
pub fn public_link(outbox: &Outbox, path: &str) -> Result<Url, SendError> {
    let base = outbox.public_url.as_ref().ok_or(SendError::NoPublicUrl)?;
    base.join(path)
        .map_err(|e| SendError::Mail(MailError::Config(e.to_string())))
}
