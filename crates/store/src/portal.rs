//! Signing customers in to the portal, apart from staff: a contact with an e-mail signs in
//! with a one-time link mailed to it, or with a password it chose once signed in. Sessions
//! are the portal's own (a staff endpoint never takes one), and failed passwords are
//! throttled like staff sign-ins, keyed apart (`portal:<e-mail>`).

use crate::auth::{blocking, decoy_hash, digest, secret};
use crate::db::{Kind, Val};
use crate::records::now;
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::entities::Contact;
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Id, Record};

/// How long a mailed sign-in link works.
pub const LINK_TTL: Duration = Duration::minutes(30);

/// A signed-in customer's session: the cookie's secret and the forms' CSRF token.
#[derive(Debug, Clone)]
pub struct PortalSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// The e-mail as the throttle keys a portal sign-in: apart from a staff user's.
fn throttle_key(email: &str) -> String {
    let email = guanxi_domain::Email::parse(&email.to_lowercase())
        .map(|e| e.as_str().to_string())
        .unwrap_or_else(|_| email.trim().to_lowercase());
    format!("portal:{email}")
}

impl Store {
    /// The live contact with this e-mail, if any (the first, should several share it).
    pub async fn portal_contact(&self, email: &str) -> Result<Option<Record<Contact>>> {
        let Ok(email) = guanxi_domain::Email::parse(email.trim()) else {
            return Ok(None);
        };
        let q = ListQuery::default()
            .filter(Filter::new("email", Op::Eq, email.as_str()))
            .sort_by("created_at", false)
            .limit(1);
        Ok(self
            .list::<Contact>(&Actor::system(), &q)
            .await?
            .items
            .pop())
    }

    /// Make a one-time sign-in link for the contact: its secret, to be mailed.
    pub async fn portal_link(&self, contact: Id) -> Result<String> {
        let token = secret("gxl_");
        let at = now();
        let mut tx = self.db.begin().await?;
        tx.exec(
            "DELETE FROM portal_links WHERE expires_at < $1",
            vec![Val::Ts(at)],
        )
        .await?;
        tx.exec(
            "INSERT INTO portal_links (token_hash, contact_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
            vec![
                Val::Text(digest(&token)),
                Val::Uuid(contact.0),
                Val::Ts(at),
                Val::Ts(at + LINK_TTL),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Use a sign-in link: its contact, once, while it has not expired.
    pub async fn portal_use_link(&self, token: &str) -> Result<Id> {
        let at = now();
        let mut tx = self.db.begin().await?;
        let rows = tx
            .fetch(
                "UPDATE portal_links SET used_at = $1 WHERE token_hash = $2 \
                 AND used_at IS NULL AND expires_at > $1 RETURNING contact_id",
                vec![Val::Ts(at), Val::Text(digest(token))],
                &[Kind::Uuid],
            )
            .await?;
        tx.commit().await?;
        rows.first()
            .and_then(|r| r[0].as_uuid())
            .map(Id)
            .ok_or(StoreError::Unauthorized)
    }

    /// The contact chooses a password (signed in through a link first).
    pub async fn portal_set_password(&self, contact: Id, password: &str) -> Result<()> {
        crate::auth::check_password_strength(password)?;
        let password = password.to_string();
        let hash = blocking(move || password_auth::generate_hash(password)).await?;
        let mut tx = self.db.begin().await?;
        tx.exec(
            "DELETE FROM portal_credentials WHERE contact_id = $1",
            vec![Val::Uuid(contact.0)],
        )
        .await?;
        tx.exec(
            "INSERT INTO portal_credentials (contact_id, password_hash, changed_at) \
             VALUES ($1, $2, $3)",
            vec![Val::Uuid(contact.0), Val::Text(hash), Val::Ts(now())],
        )
        .await?;
        tx.commit().await
    }

    /// Sign a customer in with e-mail and password from `address`: wrong or unknown is
    /// [`StoreError::Unauthorized`] after the same work; repeated failures are throttled.
    pub async fn portal_login(&self, email: &str, password: &str, address: &str) -> Result<Id> {
        let key = throttle_key(email);
        self.check_throttle(&key, address).await?;
        let contact = self.portal_contact(email).await?;
        let stored = match &contact {
            Some(c) => self
                .db
                .fetch(
                    "SELECT password_hash FROM portal_credentials WHERE contact_id = $1",
                    vec![Val::Uuid(c.meta.id.0)],
                    &[Kind::Text],
                )
                .await?
                .pop()
                .and_then(|row| row.into_iter().next()?.into_text()),
            None => None,
        };
        let hash = stored.clone().unwrap_or_else(|| decoy_hash().to_string());
        let password = password.to_string();
        let ok = blocking(move || password_auth::verify_password(password, &hash).is_ok()).await?;
        match (contact, stored, ok) {
            (Some(c), Some(_), true) => {
                self.clear_failures(&key, address, false).await?;
                Ok(c.meta.id)
            }
            _ => {
                self.count_failure(&key, address, None).await?;
                Err(StoreError::Unauthorized)
            }
        }
    }

    pub async fn portal_open_session(&self, contact: Id, ttl: Duration) -> Result<PortalSession> {
        let session = PortalSession {
            token: secret("gxp_"),
            csrf_token: secret(""),
            expires_at: now() + ttl,
        };
        let mut tx = self.db.begin().await?;
        tx.exec(
            "INSERT INTO portal_sessions (token_hash, contact_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
            vec![
                Val::Text(digest(&session.token)),
                Val::Uuid(contact.0),
                Val::Text(session.csrf_token.clone()),
                Val::Ts(now()),
                Val::Ts(session.expires_at),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(session)
    }

    /// The contact of a live portal session and its CSRF token.
    pub async fn portal_session(&self, token: &str) -> Result<(Id, String)> {
        let rows = self
            .db
            .fetch(
                "SELECT contact_id, csrf_token FROM portal_sessions \
                 WHERE token_hash = $1 AND expires_at > $2",
                vec![Val::Text(digest(token)), Val::Ts(now())],
                &[Kind::Uuid, Kind::Text],
            )
            .await?;
        let row = rows.into_iter().next().ok_or(StoreError::Unauthorized)?;
        let contact = Id(row[0].as_uuid().ok_or(StoreError::Unauthorized)?);
        Ok((contact, row[1].clone().into_text().unwrap_or_default()))
    }

    pub async fn portal_close_session(&self, token: &str) -> Result<()> {
        let mut tx = self.db.begin().await?;
        tx.exec(
            "DELETE FROM portal_sessions WHERE token_hash = $1",
            vec![Val::Text(digest(token))],
        )
        .await?;
        tx.commit().await
    }
}
