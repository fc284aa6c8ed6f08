//! E-mail to contacts from stored templates ([`EmailTemplate`]): consent checked, merge
//! fields filled from the contact, its account and its owner, sent through the relay
//! `guanxi serve` was configured with, and recorded as an interaction of kind e-mail on
//! the contact's timeline. The same path sends a template's plain-text part as an SMS or
//! a WeChat message ([`Channel`], [`send_batch_on`]) through the text provider configured
//! for that channel, recorded as an interaction of kind sms or wechat.
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
pub use batch::{Message, send_batch, send_batch_on};
use guanxi_domain::entities::CampaignChannel;
use guanxi_outbound::{ProviderError, TextProvider};
use serde_json::{Value, json};
use std::sync::Arc;
use url::Url;

/// The channels a message from a template goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// The whole template, through the SMTP relay, to the contact's e-mail address.
    Email,
    /// The plain-text part, through the SMS provider, to the contact's mobile number.
    Sms,
    /// The plain-text part, through the WeChat provider, to the contact's WeChat id
    /// (openid).
    Wechat,
}

impl Channel {
    /// The channel a campaign's messages go out on, if Guanxi sends on it.
    pub fn of(channel: CampaignChannel) -> Option<Channel> {
        match channel {
            CampaignChannel::Email => Some(Channel::Email),
            CampaignChannel::Sms => Some(Channel::Sms),
            CampaignChannel::Wechat => Some(Channel::Wechat),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Wechat => "wechat",
        }
    }

    /// What sets the channel up, for the message saying it is not.
    fn settings(self) -> &'static str {
        match self {
            Channel::Email => "--smtp-host, GUANXI_SMTP_HOST",
            Channel::Sms => "--sms-endpoint, GUANXI_SMS_ENDPOINT",
            Channel::Wechat => "--wechat-endpoint, GUANXI_WECHAT_ENDPOINT",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Channel::Email => "e-mail",
            Channel::Sms => "SMS",
            Channel::Wechat => "WeChat",
        })
    }
}

/// How long one attempt at handing a text message to its provider may take.
pub const TEXT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Where mail goes out: the relay (none when SMTP is not configured) and the address users
/// reach the CRM at, under which the unsubscribe addresses of marketing mail lie.
#[derive(Clone, Default)]
pub struct Outbox {
    mailer: Option<Mailer>,
    public_url: Option<Url>,
    sms: Option<Arc<dyn TextProvider>>,
    wechat: Option<Arc<dyn TextProvider>>,
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
            ..Outbox::default()
        })
    }

    /// This outbox with `provider` sending its `channel` (SMS or WeChat; e-mail has its
    /// relay).
    pub fn with_provider(mut self, channel: Channel, provider: Arc<dyn TextProvider>) -> Outbox {
        match channel {
            Channel::Sms => self.sms = Some(provider),
            Channel::Wechat => self.wechat = Some(provider),
            Channel::Email => panic!("e-mail goes through the SMTP relay, not a text provider"),
        }
        self
    }

    /// This outbox with an [`HttpProvider`](guanxi_outbound::HttpProvider) made from
    /// `config` sending `channel`, over a client of its own (each attempt bounded by
    /// [`TEXT_TIMEOUT`]).
    pub fn with_http_provider(
        self,
        channel: Channel,
        config: &guanxi_outbound::HttpProviderConfig,
    ) -> Result<Outbox, MailError> {
        let config_error = |e: &dyn std::fmt::Display| {
            MailError::Config(format!("the {} provider: {e}", channel.as_str()))
        };
        let deliverer =
            guanxi_outbound::Deliverer::new(TEXT_TIMEOUT).map_err(|e| config_error(&e))?;
        let provider =
            guanxi_outbound::HttpProvider::new(config, deliverer).map_err(|e| config_error(&e))?;
        Ok(self.with_provider(channel, Arc::new(provider)))
    }

    /// Whether messages on `channel` have somewhere to go.
    pub fn sends(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.mailer.is_some(),
            Channel::Sms | Channel::Wechat => self.provider(channel).is_some(),
        }
    }

    fn provider(&self, channel: Channel) -> Option<&Arc<dyn TextProvider>> {
        match channel {
            Channel::Email => None,
            Channel::Sms => self.sms.as_ref(),
            Channel::Wechat => self.wechat.as_ref(),
        }
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

    /// The preferences page of a token (every channel answered): what a text message
    /// links to as its `unsubscribe_url`.
    fn preferences_url(&self, token: &str) -> Option<Url> {
        self.public_url
            .as_ref()?
            .join(&format!("preferences/{token}"))
            .ok()
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
    #[error("{} is not configured (set {})", .0, .0.settings())]
    ChannelNotConfigured(Channel),
    #[error(transparent)]
    Provider(#[from] ProviderError),
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
            SendError::NotConfigured
            | SendError::NoPublicUrl
            | SendError::ChannelNotConfigured(_) => true,
            SendError::Provider(e) => e.is_retryable(),
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
    /// A marketing message to a contact who did not consent to its channel, or withdrew it.
    NoConsent,
    /// The address is on the suppression list: it bounced for good (no mail at all), or
    /// its owner complained or an administrator put it there (no marketing).
    Suppressed,
    /// An SMS to a contact without a mobile number.
    NoMobile,
    /// A WeChat message to a contact without a WeChat id.
    NoWechat,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NoAddress => "no_address",
            Refusal::NoConsent => "no_consent",
            Refusal::Suppressed => "suppressed",
            Refusal::NoMobile => "no_mobile",
            Refusal::NoWechat => "no_wechat",
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
