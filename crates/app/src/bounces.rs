//! What comes back to the bounce address. Every message Guanxi sends from a template has a
//! Message-ID made from the id of its interaction (`<interaction@domain>`), and a bounce
//! or complaint returns it: that is how a report finds the send, the contact and the
//! campaign. Anyone can write to a bounce address, so a report counts only when it names a
//! message we sent (Message-IDs carry a UUIDv7's random bits: only whoever received the
//! message knows its id) and, for a bounce, the address that message went to.
//!
//! A hard bounce (a permanent failure: no such mailbox) suppresses the address for all
//! mail; a complaint suppresses it for marketing and withdraws the contact's e-mail
//! consent. Either is a response of the campaign member, on the contact's timeline. A
//! temporary failure changes nothing: the relay keeps trying.

use crate::AppError;
use crate::campaigns::record_response;
use guanxi_domain::entities::{ConsentChannel, ConsentSource, Contact, Interaction};
use guanxi_domain::{Actor, Id};
use guanxi_outbound::bounce::{BounceListener, Received, Report, ReportKind, parse_reports};
use guanxi_store::{MemberResponse, Store, StoreError, address_key, suppression_reason};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What became of one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The address is suppressed (a hard bounce or a complaint about our message).
    Suppressed {
        address: String,
        reason: &'static str,
    },
    /// A temporary failure: nothing to do.
    Transient,
    /// Not about a message we sent to that address.
    Unknown,
}

/// Act on every report in a message received at the bounce address.
pub async fn receive(store: &Store, message: &Received) -> Result<Vec<Handled>, AppError> {
    let mut out = vec![];
    for report in parse_reports(&message.data) {
        out.push(handle(store, &report).await?);
    }
    Ok(out)
}

/// The send a report is about: its interaction, when the Message-ID is one of ours.
async fn send_of(store: &Store, report: &Report) -> Result<Option<Interaction>, StoreError> {
    let Some(local) = report
        .original_message_id
        .as_deref()
        .and_then(|m| m.split('@').next())
    else {
        return Ok(None);
    };
    let Ok(id) = Id::parse(local) else {
        return Ok(None);
    };
    match store.get::<Interaction>(&Actor::system(), id).await {
        Ok(i) => Ok(Some(i.data)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn handle(store: &Store, report: &Report) -> Result<Handled, AppError> {
    let permanent = match &report.kind {
        ReportKind::Bounce { permanent, .. } => *permanent,
        ReportKind::Complaint { .. } => true,
    };
    if !permanent {
        return Ok(Handled::Transient);
    }
    let Some(send) = send_of(store, report).await? else {
        return Ok(Handled::Unknown);
    };
    let Some(contact_id) = send.contact_id else {
        return Ok(Handled::Unknown);
    };
    let system = Actor::system();
    let contact = store.get::<Contact>(&system, contact_id).await?;
    let Some(address) = contact.data.email.as_ref().map(|e| address_key(e.as_str())) else {
        return Ok(Handled::Unknown);
    };
    // A bounce names the address it failed for: it must be the one our message went to.
    // A complaint's recipient is often redacted; its Message-ID, known only to whoever
    // received our message, is the link.
    if matches!(report.kind, ReportKind::Bounce { .. }) && address_key(&report.recipient) != address
    {
        return Ok(Handled::Unknown);
    }
    let campaign = send.campaign_id;
    let (reason, detail, response) = match &report.kind {
        ReportKind::Bounce {
            status, diagnostic, ..
        } => (
            suppression_reason::BOUNCE,
            match diagnostic {
                Some(d) => format!("{status} {d}"),
                None => status.clone(),
            },
            MemberResponse::Bounced,
        ),
        ReportKind::Complaint { feedback_type } => (
            suppression_reason::COMPLAINT,
            feedback_type.clone(),
            MemberResponse::Complained,
        ),
    };
    store
        .suppress(&system, &address, reason, Some(&detail), campaign)
        .await?;
    if response == MemberResponse::Complained {
        store
            .set_consent(
                &system,
                contact_id,
                ConsentChannel::Email,
                false,
                ConsentSource::Complaint,
                Some(&detail),
                campaign,
            )
            .await?;
    }
    if let Some(c) = campaign {
        record_response(store, c, contact_id, response, Some(&detail)).await?;
    }
    Ok(Handled::Suppressed { address, reason })
}

/// The bounce listener and the task that acts on what it receives.
pub struct Bounces {
    listener: JoinHandle<()>,
    worker: JoinHandle<()>,
}

/// Receive bounces on `listener`, answering as `domain`, and act on each message; a
/// message that cannot be acted on (the database is away) is logged and dropped: the
/// sending server has its 250 already.
pub fn start(store: &Store, listener: TcpListener, domain: String) -> Bounces {
    let (tx, mut rx) = mpsc::channel::<Received>(64);
    let store = store.clone();
    let worker = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            match receive(&store, &message).await {
                Ok(handled) => tracing::info!(?handled, "bounce address: a message"),
                Err(e) => tracing::warn!("bounce address: a message not acted on: {e}"),
            }
        }
    });
    let listener = tokio::spawn(async move {
        BounceListener::new(domain)
            .serve(listener, tx, std::future::pending())
            .await;
    });
    Bounces { listener, worker }
}

impl Bounces {
    /// Stop listening, then let the worker finish the messages in hand.
    pub async fn stop(self) {
        self.listener.abort();
        let _ = self.listener.await;
        let _ = self.worker.await;
    }
}
