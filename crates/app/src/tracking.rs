//! Open and click tracking of campaign mail. A campaign's message carries an open pixel and
//! its links lead through a redirect under the public URL; both name the campaign and the
//! contact and are signed with the servers' shared secret (`guanxi_outbound::tracking`), so
//! an unsigned or tampered link is refused and the redirect leads only where the message
//! pointed. A member's first open and first click are noted on their campaign row and
//! recorded as an interaction on the contact's timeline, naming the campaign.

use crate::AppError;
use crate::campaigns::record_response;
use guanxi_domain::Id;
use guanxi_outbound::tracking::{decorate, sign, verify};
use guanxi_store::{MemberResponse, Store, StoreError};
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

    /// The open pixel of `contact`'s message of `campaign`.
    pub fn open_url(&self, campaign: Id, contact: Id) -> Url {
        let (c, p) = (campaign.to_string(), contact.to_string());
        let sig = sign(&self.secret, &["open", &c, &p]);
        self.url(&format!("t/o/{c}/{p}/{sig}"))
    }

    /// The tracked form of a link to `target` in `contact`'s message of `campaign`.
    pub fn click_url(&self, campaign: Id, contact: Id, target: &str) -> Url {
        let (c, p) = (campaign.to_string(), contact.to_string());
        let sig = sign(&self.secret, &["click", &c, &p, target]);
        let mut u = self.url(&format!("t/c/{c}/{p}/{sig}"));
        u.query_pairs_mut().append_pair("u", target);
        u
    }

    /// The message's HTML with its links tracked (not the unsubscribe address) and the
    /// open pixel added.
    pub fn decorate(&self, html: &str, campaign: Id, contact: Id, unsubscribe: &str) -> String {
        decorate(
            html,
            |u| u == unsubscribe,
            |u| self.click_url(campaign, contact, u).to_string(),
            self.open_url(campaign, contact).as_str(),
        )
    }
}

fn parse(s: &str) -> Option<Id> {
    Id::parse(s).ok()
}

/// An open pixel was fetched: noted if it is signed. `false` for a refused signature.
pub async fn opened(
    store: &Store,
    campaign: &str,
    contact: &str,
    sig: &str,
) -> Result<bool, AppError> {
    let secret = store.secret(SECRET).await?;
    if !verify(secret.as_bytes(), &["open", campaign, contact], sig) {
        return Ok(false);
    }
    let (Some(c), Some(p)) = (parse(campaign), parse(contact)) else {
        return Ok(false);
    };
    record_response(store, c, p, MemberResponse::Opened, None).await?;
    Ok(true)
}

/// A tracked link was followed: where to send the reader, if the link is signed (noted
/// then); `None` for an unsigned or tampered one.
pub async fn clicked(
    store: &Store,
    campaign: &str,
    contact: &str,
    target: &str,
    sig: &str,
) -> Result<Option<Url>, AppError> {
    let secret = store.secret(SECRET).await?;
    if !verify(
        secret.as_bytes(),
        &["click", campaign, contact, target],
        sig,
    ) {
        return Ok(None);
    }
    let (Some(c), Some(p), Ok(url)) = (parse(campaign), parse(contact), Url::parse(target)) else {
        return Ok(None);
    };
    record_response(store, c, p, MemberResponse::Clicked, Some(target)).await?;
    Ok(Some(url))
}
