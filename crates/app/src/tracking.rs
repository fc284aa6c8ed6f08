//! Open and click tracking of campaign mail. A campaign's message carries an open pixel and
//! its links lead through a redirect under the public URL; both name the campaign and the
//! contact and are signed with the servers' shared secret (`guanxi_outbound::tracking`), so
//! an unsigned or tampered link is refused and the redirect leads only where the message
//! pointed. A member's first open and first click are noted on their campaign row and
//! recorded as an interaction on the contact's timeline, naming the campaign. A journey
//! step's e-mail names its step too (`{campaign}.{step}` where the campaign stands), and
//! its responses are noted on the member's row of the step, for the steps after it.

use crate::AppError;
use crate::campaigns::{Noted, record_responses};
use guanxi_domain::Id;
use guanxi_outbound::tracking::{decorate, sign, verify};
use guanxi_store::{MemberResponse, Store, StoreError};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{OnceCell, mpsc};
use url::Url;

/// The name of the secret that signs tracking links.
pub const SECRET: &str = "tracking";

/// Makes a campaign message's tracking links.
pub struct Tracker {
    base: Url,
    secret: Vec<u8>,
}

impl Tracker {
    pub async fn new(store: &Store, public_url: &Url) -> Result<Tracker, StoreError> {
        Ok(Tracker {
            base: public_url.clone(),
            secret: store.secret(SECRET).await?.into_bytes(),
        })
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("a path under the public URL")
    }

    /// The open pixel of `contact`'s message of `mail`.
    pub fn open_url(&self, mail: Mailing, contact: Id) -> Url {
        let (c, p) = (mail.to_string(), contact.to_string());
        let sig = sign(&self.secret, &["open", &c, &p]);
        self.url(&format!("t/o/{c}/{p}/{sig}"))
    }

    /// The tracked form of a link to `target` in `contact`'s message of `mail`.
    pub fn click_url(&self, mail: Mailing, contact: Id, target: &str) -> Url {
        let (c, p) = (mail.to_string(), contact.to_string());
        let sig = sign(&self.secret, &["click", &c, &p, target]);
        let mut u = self.url(&format!("t/c/{c}/{p}/{sig}"));
        u.query_pairs_mut().append_pair("u", target);
        u
    }

    /// The message's HTML with its links tracked (not the unsubscribe address) and the
    /// open pixel added.
    pub fn decorate(&self, html: &str, mail: Mailing, contact: Id, unsubscribe: &str) -> String {
        decorate(
            html,
            |u| u == unsubscribe,
            |u| self.click_url(mail, contact, u).to_string(),
            self.open_url(mail, contact).as_str(),
        )
    }
}

/// Which message a tracking link is of: a campaign's, or one of its journey's steps'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mailing {
    pub campaign: Id,
    pub step: Option<Id>,
}

impl std::fmt::Display for Mailing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.step {
            None => write!(f, "{}", self.campaign),
            Some(s) => write!(f, "{}.{s}", self.campaign),
        }
    }
}

impl From<Id> for Mailing {
    /// The campaign's own message.
    fn from(campaign: Id) -> Mailing {
        Mailing {
            campaign,
            step: None,
        }
    }
}

impl Mailing {
    fn parse(s: &str) -> Option<Mailing> {
        let (campaign, step) = match s.split_once('.') {
            None => (s, None),
            Some((c, s)) => (c, Some(parse(s)?)),
        };
        Some(Mailing {
            campaign: parse(campaign)?,
            step,
        })
    }
}

fn parse(s: &str) -> Option<Id> {
    Id::parse(s).ok()
}

/// Notes opens and clicks off the request's path: a request checks its link's signature
/// (the secret read once) and queues the response; one task records what is queued, in
/// batches (`record_responses`). The pixel and the redirect answer without waiting for the
/// database. What is queued when the process dies is lost: a few milliseconds of opens,
/// which tracking pixels never promised anyway (blocked images, proxies).
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    secret: OnceCell<Vec<u8>>,
    queue: OnceLock<mpsc::Sender<Noted>>,
}

/// Responses held at most in the queue: beyond it, requests wait for the recorder.
const QUEUE: usize = 50_000;
/// Responses recorded in one batch.
const BATCH: usize = 1_000;

impl Recorder {
    /// The recorder of `store`; its task starts on the first response.
    pub fn new(store: Store) -> Recorder {
        Recorder {
            inner: Arc::new(Inner {
                store,
                secret: OnceCell::new(),
                queue: OnceLock::new(),
            }),
        }
    }

    async fn secret(&self) -> Result<&[u8], StoreError> {
        let s = &self.inner.store;
        Ok(self
            .inner
            .secret
            .get_or_try_init(|| async { Ok::<_, StoreError>(s.secret(SECRET).await?.into_bytes()) })
            .await?)
    }

    /// An open pixel was fetched: noted if it is signed. `false` for a refused signature.
    pub async fn opened(&self, campaign: &str, contact: &str, sig: &str) -> Result<bool, AppError> {
        if !verify(self.secret().await?, &["open", campaign, contact], sig) {
            return Ok(false);
        }
        let (Some(m), Some(p)) = (Mailing::parse(campaign), parse(contact)) else {
            return Ok(false);
        };
        self.note(m, p, MemberResponse::Opened, None).await;
        Ok(true)
    }

    /// A tracked link was followed: where to send the reader, if the link is signed (noted
    /// then); `None` for an unsigned or tampered one.
    pub async fn clicked(
        &self,
        campaign: &str,
        contact: &str,
        target: &str,
        sig: &str,
    ) -> Result<Option<Url>, AppError> {
        let signed = &["click", campaign, contact, target];
        if !verify(self.secret().await?, signed, sig) {
            return Ok(None);
        }
        let (Some(m), Some(p), Ok(url)) =
            (Mailing::parse(campaign), parse(contact), Url::parse(target))
        else {
            return Ok(None);
        };
        self.note(m, p, MemberResponse::Clicked, Some(target.into()))
            .await;
        Ok(Some(url))
    }

    async fn note(
        &self,
        mail: Mailing,
        contact: Id,
        response: MemberResponse,
        detail: Option<String>,
    ) {
        let queue = self.inner.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(record(self.inner.store.clone(), rx));
            tx
        });
        let noted = Noted {
            campaign: mail.campaign,
            step: mail.step,
            contact,
            response,
            detail,
        };
        // The task ends only when every sender is gone: this one is not.
        let _ = queue.send(noted).await;
    }
}

/// Record queued responses a batch at a time until the recorder is dropped. A batch the
/// database refuses is tried again a few times (it may be restarting), then given up with
/// a warning.
async fn record(store: Store, mut queue: mpsc::Receiver<Noted>) {
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let mut wait = Duration::from_millis(200);
        for attempt in 1..=5 {
            match record_responses(&store, &batch).await {
                Ok(_) => break,
                Err(e) if attempt == 5 => {
                    tracing::warn!("{} opens and clicks not recorded: {e}", batch.len())
                }
                Err(e) => {
                    tracing::warn!("recording opens and clicks: {e}; trying again in {wait:?}");
                    tokio::time::sleep(wait).await;
                    wait *= 4;
                }
            }
        }
        batch.clear();
    }
}
