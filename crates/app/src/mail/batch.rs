//! Template mail to many contacts at once: what one send does (see the module above), with
//! each record read once per batch, one template compiled once, the relay's connections
//! used side by side and the interactions written in one transaction. A campaign's sender
//! runs on it; one send is a batch of one. On the SMS and WeChat channels the same batch
//! sends each template's plain-text part through the channel's text provider.

use super::{Channel, Outbox, Outcome, Refusal, SendError, suppressed_by};
use crate::records::derived_id;
use crate::tracking::Tracker;
use chrono::{DateTime, Utc};
use guanxi_domain::entities::{
    Account, Contact, Direction, EmailTemplate, Interaction, InteractionKind, InteractionStatus,
    MailCategory, User,
};
use guanxi_domain::{Actor, Id, NewRecord, Record};
use guanxi_outbound::{Address, Category, MailTemplate, OutgoingMail, TextMessage, TextProvider};
use guanxi_store::{Store, StoreError};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use url::Url;

/// One message of a batch: `template_id` to `contact_id`, once for `key`; a campaign's
/// message is tracked as the journey `step`'s when it names one.
#[derive(Debug, Clone)]
pub struct Message {
    pub template_id: Id,
    pub contact_id: Id,
    pub key: String,
    pub step: Option<Id>,
}

/// Messages handed to the relay at once by one batch: the relay's round trip, not our
/// work, is what a message waits on.
const IN_FLIGHT: usize = 32;

/// Send each of `messages` (see [`super::send_template`]), the interactions written as
/// `actor` at `at`, naming `campaign` when they are a campaign's. Answers each message in
/// its order; `Err` only when the batch could not be read (nothing was sent) or its
/// interactions could not be written (what was sent goes again, with the same
/// Message-IDs, when the batch is tried again).
pub async fn send_batch(
    store: &Store,
    outbox: &Outbox,
    actor: &Actor,
    messages: &[Message],
    at: DateTime<Utc>,
    campaign: Option<Id>,
) -> Result<Vec<Result<Outcome, SendError>>, SendError> {
    send_batch_on(store, outbox, actor, Channel::Email, messages, at, campaign).await
}

/// [`send_batch`] on `channel`. On SMS and WeChat each message is its template's
/// plain-text part (merge fields filled; `unsubscribe_url` is the contact's preferences
/// page when the public URL is set) sent to the contact's mobile number or WeChat id,
/// with the contact's consent to that channel for marketing; the interaction is of kind
/// sms or wechat. The message's id (the interaction's) goes to the provider with every
/// attempt, so one sent again after its interaction failed to be written can be dropped.
pub async fn send_batch_on(
    store: &Store,
    outbox: &Outbox,
    actor: &Actor,
    channel: Channel,
    messages: &[Message],
    at: DateTime<Utc>,
    campaign: Option<Id>,
) -> Result<Vec<Result<Outcome, SendError>>, SendError> {
    let facts = Facts::read(store, outbox, channel, messages, at, campaign).await?;
    let mut answers: Vec<Option<Result<Outcome, SendError>>> = Vec::with_capacity(messages.len());
    let mut ready = vec![];
    for (i, m) in messages.iter().enumerate() {
        match facts.compose(m, at, campaign) {
            Ok(Composed::Answer(o)) => answers.push(Some(Ok(o))),
            Ok(Composed::Ready(mail)) => {
                answers.push(None);
                ready.push((i, mail));
            }
            Err(e) => answers.push(Some(Err(e))),
        }
    }
    let mut sent = vec![];
    if !ready.is_empty() {
        let sender = Sender::of(outbox, channel)?;
        let mut tasks = tokio::task::JoinSet::new();
        let mut ready = ready.into_iter();
        loop {
            while tasks.len() < IN_FLIGHT {
                let Some((i, mut mail)) = ready.next() else {
                    break;
                };
                let sender = sender.clone();
                tasks.spawn(async move {
                    let r = sender.send(&mut mail).await;
                    (i, mail, r)
                });
            }
            let Some(done) = tasks.join_next().await else {
                break;
            };
            let (i, mail, r) = done
                .map_err(|e| SendError::Mail(guanxi_outbound::MailError::Config(e.to_string())))?;
            match r {
                Ok(()) => sent.push((i, mail)),
                Err(e) => answers[i] = Some(Err(e)),
            }
        }
    }
    sent.sort_by_key(|(i, _)| *i);
    let records: Vec<NewRecord<Interaction>> = sent
        .iter()
        .map(|(i, m)| m.interaction(&facts.contacts[&messages[*i].contact_id], campaign, channel))
        .collect();
    // Sent twice at once (a lease ran out), the interaction is there once.
    crate::records::create_once(store, actor, records).await?;
    for (i, m) in sent {
        answers[i] = Some(Ok(Outcome::Sent {
            interaction_id: m.interaction_id,
            category: m.category,
        }));
    }
    Ok(answers
        .into_iter()
        .map(|a| a.expect("every message answered"))
        .collect())
}

/// Where a batch's messages go: the relay, or the channel's text provider.
#[derive(Clone)]
enum Sender {
    Mail(guanxi_outbound::Mailer),
    Text(Arc<dyn TextProvider>),
}

impl Sender {
    fn of(outbox: &Outbox, channel: Channel) -> Result<Sender, SendError> {
        match channel {
            Channel::Email => Ok(Sender::Mail(
                outbox.mailer.clone().ok_or(SendError::NotConfigured)?,
            )),
            _ => Ok(Sender::Text(
                outbox
                    .provider(channel)
                    .cloned()
                    .ok_or(SendError::ChannelNotConfigured(channel))?,
            )),
        }
    }

    /// Sends `ready`, noting on it the provider's id of a text message.
    async fn send(&self, ready: &mut Ready) -> Result<(), SendError> {
        match (self, &ready.payload) {
            (Sender::Mail(mailer), Payload::Mail(mail)) => {
                mailer.send(mail).await?;
            }
            (Sender::Text(provider), Payload::Text(message)) => {
                ready.provider_id = provider.send(message).await?.provider_id;
            }
            _ => unreachable!("a batch's messages are made for its channel"),
        }
        Ok(())
    }
}

/// Everything a batch's messages are made from, read in a few queries.
struct Facts {
    channel: Channel,
    sent: HashSet<Id>,
    templates: HashMap<Id, Result<(MailTemplate, MailCategory), SendError>>,
    contacts: HashMap<Id, Record<Contact>>,
    accounts: HashMap<Id, Record<Account>>,
    owners: HashMap<Id, Record<User>>,
    suppressions: HashMap<String, guanxi_store::Suppression>,
    tokens: HashMap<Id, String>,
    outbox: Outbox,
    tracker: Option<Tracker>,
}

/// A message made: sent now, or answered without sending.
enum Composed {
    Ready(Box<Ready>),
    Answer(Outcome),
}

/// A message ready for the relay or the text provider.
struct Ready {
    payload: Payload,
    interaction_id: Id,
    owner_id: Id,
    category: MailCategory,
    /// The provider's id of a text message, once sent.
    provider_id: Option<String>,
}

enum Payload {
    Mail(OutgoingMail),
    Text(TextMessage),
}

impl Facts {
    async fn read(
        store: &Store,
        outbox: &Outbox,
        channel: Channel,
        messages: &[Message],
        at: DateTime<Utc>,
        campaign: Option<Id>,
    ) -> Result<Facts, SendError> {
        let system = Actor::system();
        let ids: Vec<Id> = messages.iter().map(|m| derived_id(at, &m.key)).collect();
        let sent = ids_of(store.get_many::<Interaction>(&system, &ids).await?);
        let mut templates = HashMap::new();
        for id in distinct(messages.iter().map(|m| m.template_id)) {
            let t = match store.get::<EmailTemplate>(&system, id).await {
                Ok(t) => t
                    .data
                    .compile()
                    .map(|c| (c, t.data.category))
                    .map_err(|e| SendError::Template(e.to_string())),
                // A template deleted meanwhile fails its messages, not the batch.
                Err(e @ StoreError::NotFound { .. }) => Err(e.into()),
                Err(e) => return Err(e.into()),
            };
            templates.insert(id, t);
        }
        let contact_ids = distinct(messages.iter().map(|m| m.contact_id));
        let contacts = by_id(store.get_many::<Contact>(&system, &contact_ids).await?);
        let account_ids = distinct(contacts.values().filter_map(|c| c.data.account_id));
        let accounts = by_id(store.get_many::<Account>(&system, &account_ids).await?);
        let owner_ids = distinct(contacts.values().filter_map(|c| c.meta.owner_id));
        let owners = by_id(store.get_many::<User>(&system, &owner_ids).await?);
        // The suppression list holds e-mail addresses: it stops mail, and text messages
        // answer to the contact's consent on their channel alone.
        let addresses: Vec<&str> = match channel {
            Channel::Email => contacts
                .values()
                .filter_map(|c| c.data.email.as_ref().map(|e| e.as_str()))
                .collect(),
            Channel::Sms | Channel::Wechat => vec![],
        };
        let suppressions = store.suppressions_of(&addresses).await?;
        // Tokens only for those marketing mail will reach: a token names nobody, but
        // there is no need to make one for a contact who is refused.
        let marketing: Vec<Id> = distinct(messages.iter().filter_map(|m| {
            let (_, category) = templates.get(&m.template_id)?.as_ref().ok()?;
            let c = contacts.get(&m.contact_id)?;
            (*category == MailCategory::Marketing && consents(c, channel)).then_some(m.contact_id)
        }));
        let tokens = if marketing.is_empty() || outbox.public_url.is_none() {
            HashMap::new()
        } else {
            store.unsubscribe_tokens(&marketing).await?
        };
        let tracker = match (campaign, outbox.public_url(), channel) {
            (Some(_), Some(base), Channel::Email) => Some(Tracker::new(store, base).await?),
            _ => None,
        };
        Ok(Facts {
            channel,
            sent,
            templates,
            contacts,
            accounts,
            owners,
            suppressions,
            tokens,
            outbox: outbox.clone(),
            tracker,
        })
    }

    /// One message as it would leave, or why it does not.
    fn compose(
        &self,
        m: &Message,
        at: DateTime<Utc>,
        campaign: Option<Id>,
    ) -> Result<Composed, SendError> {
        let interaction_id = derived_id(at, &m.key);
        if self.sent.contains(&interaction_id) {
            return Ok(Composed::Answer(Outcome::AlreadySent { interaction_id }));
        }
        let (template, category) = match &self.templates[&m.template_id] {
            Ok((t, c)) => (t, *c),
            Err(SendError::Store(StoreError::NotFound { entity, id })) => {
                return Err(StoreError::NotFound { entity, id: *id }.into());
            }
            Err(e) => return Err(SendError::Template(e.to_string())),
        };
        let contact = self
            .contacts
            .get(&m.contact_id)
            .ok_or(StoreError::NotFound {
                entity: "contacts",
                id: m.contact_id,
            })?;
        if self.channel != Channel::Email {
            return self.compose_text(m, template, category, contact, interaction_id);
        }
        let Some(email) = contact.data.email.as_ref() else {
            return Ok(Composed::Answer(Outcome::Refused(Refusal::NoAddress)));
        };
        if category == MailCategory::Marketing && !consents(contact, Channel::Email) {
            return Ok(Composed::Answer(Outcome::Refused(Refusal::NoConsent)));
        }
        let key = guanxi_store::address_key(email.as_str());
        if suppressed_by(self.suppressions.get(&key), category) {
            return Ok(Composed::Answer(Outcome::Refused(Refusal::Suppressed)));
        }
        if self.outbox.mailer.is_none() {
            return Err(SendError::NotConfigured);
        }
        let unsubscribe = match category {
            MailCategory::Marketing => {
                let token = self
                    .tokens
                    .get(&m.contact_id)
                    .ok_or(SendError::NoPublicUrl)?;
                Some(self.outbox.unsubscribe_url(token)?)
            }
            MailCategory::Transactional => None,
        };
        let owner = contact.meta.owner_id.and_then(|o| self.owners.get(&o));
        // The interaction is owned like the contact: without an owner it could not be
        // written, and no message goes out that the timeline would not show.
        let owner_id = owner.map(|u| u.meta.id).ok_or(SendError::NoOwner)?;
        let account = contact.data.account_id.and_then(|a| self.accounts.get(&a));
        let ctx = merge_context(contact, account, owner, unsubscribe.as_ref());
        let mut rendered = template
            .render(&ctx)
            .map_err(|e| SendError::Template(e.to_string()))?;
        // A campaign's marketing mail is tracked: its links and an open pixel.
        if let (Some(campaign), Some(tracker), Some(unsubscribe)) =
            (campaign, &self.tracker, unsubscribe.as_ref())
        {
            let mailing = crate::tracking::Mailing {
                campaign,
                step: m.step,
            };
            rendered.html =
                tracker.decorate(&rendered.html, mailing, m.contact_id, unsubscribe.as_str());
        }
        let mut mail = OutgoingMail::new(
            Address::named(contact.data.name.clone(), email.as_str()),
            rendered,
            match category {
                MailCategory::Transactional => Category::Transactional,
                MailCategory::Marketing => Category::Marketing,
            },
        );
        mail.reply_to = owner.map(|u| Address::named(u.data.name.clone(), u.data.email.as_str()));
        mail.unsubscribe = unsubscribe;
        mail.idempotency_key = Some(interaction_id.to_string());
        Ok(Composed::Ready(Box::new(Ready {
            payload: Payload::Mail(mail),
            interaction_id,
            owner_id,
            category,
            provider_id: None,
        })))
    }

    /// One SMS or WeChat message: the template's plain-text part to the contact's mobile
    /// number or WeChat id.
    fn compose_text(
        &self,
        m: &Message,
        template: &MailTemplate,
        category: MailCategory,
        contact: &Record<Contact>,
        interaction_id: Id,
    ) -> Result<Composed, SendError> {
        let to = match self.channel {
            Channel::Sms => contact
                .data
                .mobile
                .as_ref()
                .map(|p| p.as_e164().to_string()),
            _ => contact
                .data
                .wechat
                .as_deref()
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .map(str::to_string),
        };
        let Some(to) = to else {
            let why = match self.channel {
                Channel::Sms => Refusal::NoMobile,
                _ => Refusal::NoWechat,
            };
            return Ok(Composed::Answer(Outcome::Refused(why)));
        };
        if category == MailCategory::Marketing && !consents(contact, self.channel) {
            return Ok(Composed::Answer(Outcome::Refused(Refusal::NoConsent)));
        }
        if !self.outbox.sends(self.channel) {
            return Err(SendError::ChannelNotConfigured(self.channel));
        }
        let preferences = self
            .tokens
            .get(&m.contact_id)
            .and_then(|t| self.outbox.preferences_url(t));
        let owner = contact.meta.owner_id.and_then(|o| self.owners.get(&o));
        let owner_id = owner.map(|u| u.meta.id).ok_or(SendError::NoOwner)?;
        let account = contact.data.account_id.and_then(|a| self.accounts.get(&a));
        let ctx = merge_context(contact, account, owner, preferences.as_ref());
        let rendered = template
            .render(&ctx)
            .map_err(|e| SendError::Template(e.to_string()))?;
        let text = rendered.text.trim().to_string();
        let params = serde_json::Map::from_iter([
            ("name".to_string(), json!(contact.data.name)),
            ("subject".to_string(), json!(rendered.subject)),
            ("text".to_string(), json!(text)),
        ]);
        Ok(Composed::Ready(Box::new(Ready {
            payload: Payload::Text(TextMessage {
                to,
                text,
                subject: rendered.subject,
                id: interaction_id.to_string(),
                params,
            }),
            interaction_id,
            owner_id,
            category,
            provider_id: None,
        })))
    }
}

/// Whether `contact` consented to marketing on `channel`.
fn consents(contact: &Record<Contact>, channel: Channel) -> bool {
    let given = match channel {
        Channel::Email => contact.data.consent_email,
        Channel::Sms => contact.data.consent_sms,
        Channel::Wechat => contact.data.consent_wechat,
    };
    given == Some(true)
}

impl Ready {
    /// The interaction that records the message on the contact's timeline.
    fn interaction(
        &self,
        contact: &Record<Contact>,
        campaign: Option<Id>,
        channel: Channel,
    ) -> NewRecord<Interaction> {
        let (subject, text) = match &self.payload {
            Payload::Mail(m) => (&m.subject, &m.text),
            Payload::Text(t) => (&t.subject, &t.text),
        };
        // The category travels with the record: service mail is sent whatever the
        // consent. A text message's provider id follows it.
        let outcome = match &self.provider_id {
            Some(id) => format!("{} (provider id {id})", self.category.as_str()),
            None => self.category.as_str().to_string(),
        };
        let interaction = Interaction {
            kind: match channel {
                Channel::Email => InteractionKind::Email,
                Channel::Sms => InteractionKind::Sms,
                Channel::Wechat => InteractionKind::Wechat,
            },
            direction: Some(Direction::Outbound),
            status: InteractionStatus::Done,
            at: Utc::now(),
            subject: subject.chars().take(200).collect(),
            body: Some(text.clone()),
            outcome: Some(outcome),
            account_id: contact.data.account_id,
            contact_id: Some(contact.meta.id),
            opportunity_id: None,
            case_id: None,
            campaign_id: campaign,
            parts: vec![],
        };
        let mut new = NewRecord::new(interaction);
        new.id = Some(self.interaction_id);
        new.owner_id = Some(self.owner_id);
        new
    }
}

/// The values of the merge fields (see `merge_fields`) for a contact.
pub(super) fn merge_context(
    contact: &Record<Contact>,
    account: Option<&Record<Account>>,
    owner: Option<&Record<User>>,
    unsubscribe: Option<&Url>,
) -> Value {
    json!({
        "contact": contact.to_json(),
        "account": account.map(|a| a.to_json()).unwrap_or(Value::Null),
        "user": owner.map(|u| json!({
            "name": u.data.name,
            "email": u.data.email.as_str(),
        })).unwrap_or(Value::Null),
        "unsubscribe_url": unsubscribe.map(Url::as_str),
    })
}

fn distinct(ids: impl Iterator<Item = Id>) -> Vec<Id> {
    let mut v: Vec<Id> = ids.collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn by_id<T>(records: Vec<Record<T>>) -> HashMap<Id, Record<T>> {
    records.into_iter().map(|r| (r.meta.id, r)).collect()
}

fn ids_of<T>(records: Vec<Record<T>>) -> HashSet<Id> {
    records.into_iter().map(|r| r.meta.id).collect()
}
