//! Sign-in: passwords (Argon2id), sessions and personal API tokens.
//!
//! Secrets live in their own tables, never in the user record, so they cannot reach the
//! change log, the API or an export. Session and token secrets are random 256-bit values
//! stored only as SHA-256 hashes (a fast hash is enough for values nobody can guess).

use crate::changelog;
use crate::db::{Kind, Val};
use crate::records::now;
use crate::throttle::FailedSignIns;
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::entities::User;
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Id, Right, ValidationErrors};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

pub const MIN_PASSWORD_CHARS: usize = 10;
/// How stale a token's `last_used_at` may get before a use updates it.
const LAST_USED_INTERVAL: Duration = Duration::minutes(5);

/// A successful sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    pub user: Id,
    /// Failed attempts on this account from other addresses since the user last heard.
    pub failed_elsewhere: Vec<FailedSignIns>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The secret for the cookie; shown once, stored hashed.
    pub token: String,
    /// Sent back with every cookie-authenticated write.
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A personal API token as listed: never with its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ApiToken {
    pub id: Id,
    pub user_id: Id,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub(crate) fn secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub(crate) fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A hash to verify against when the e-mail is unknown, so that answer takes as long as a
/// wrong password and does not reveal which accounts exist.
pub(crate) fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| password_auth::generate_hash("decoy password that matches nothing"))
}

/// Argon2 takes tens of milliseconds of CPU: off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Config(format!("hashing task failed: {e}")))
}

pub fn check_password_strength(password: &str) -> std::result::Result<(), ValidationErrors> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ValidationErrors::single(
            "password",
            "too_short",
            format!("a password has at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.chars().count() > 1024 {
        return Err(ValidationErrors::single(
            "password",
            "too_long",
            "at most 1024 characters",
        ));
    }
    Ok(())
}

impl Store {
    /// Set a user's password. Users may set their own; setting another's takes the right to
    /// update users. Recorded in the change log without the hash.
    pub async fn set_password(&self, actor: &Actor, user: Id, password: &str) -> Result<()> {
        if actor.user_id != user && !actor.may("user", Right::Update) {
            return Err(StoreError::Forbidden {
                entity: "user",
                right: Right::Update,
            });
        }
        check_password_strength(password)?;
        self.get::<User>(&Actor::system(), user).await?;
        let password = password.to_string();
        let hash = blocking(move || password_auth::generate_hash(password)).await?;
        let at = now();
        let mut tx = self.db.begin().await?;
        tx.exec(
            "DELETE FROM credentials WHERE user_id = $1",
            vec![Val::Uuid(user.0)],
        )
        .await?;
        tx.exec(
            "INSERT INTO credentials (user_id, password_hash, changed_at) VALUES ($1, $2, $3)",
            vec![Val::Uuid(user.0), Val::Text(hash), Val::Ts(at)],
        )
        .await?;
        let after = serde_json::json!({ "password": "changed" });
        changelog::append(
            &mut tx,
            at,
            actor.user_id,
            "user",
            user,
            "password",
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await
    }

    /// Sign in with an e-mail and password from `address` (the client's, as the throttle
    /// keys it). Wrong or unknown gives [`StoreError::Unauthorized`] (the same answer, after
    /// the same work); repeated failures give [`StoreError::Throttled`] for a growing time,
    /// to that address only (see [`crate::throttle`]). Success returns the user and the
    /// failed attempts from other addresses they have not yet been told of.
    pub async fn login(&self, email: &str, password: &str, address: &str) -> Result<SignIn> {
        let (user, email) = self.attempt(email, password, address).await?;
        let failed_elsewhere = self.clear_failures(&email, address, true).await?;
        Ok(SignIn {
            user,
            failed_elsewhere,
        })
    }

    /// Check a signed-in user's password again (before changing it), throttled like a
    /// sign-in.
    pub async fn confirm_password(&self, email: &str, password: &str, address: &str) -> Result<()> {
        let (_, email) = self.attempt(email, password, address).await?;
        self.clear_failures(&email, address, false).await?;
        Ok(())
    }

    /// One throttled check of a password; the user and the e-mail as the throttle keys it.
    async fn attempt(&self, email: &str, password: &str, address: &str) -> Result<(Id, String)> {
        let email = guanxi_domain::Email::parse(&email.to_lowercase())
            .map(|e| e.as_str().to_string())
            .unwrap_or_else(|_| email.trim().to_lowercase());
        self.check_throttle(&email, address).await?;
        let q = ListQuery::default()
            .filter(Filter::new("email", Op::Eq, email.clone()))
            .limit(1);
        let user = self
            .list::<User>(&Actor::system(), &q)
            .await?
            .items
            .pop()
            .filter(|u| u.data.active);
        let stored = match &user {
            Some(u) => self
                .db
                .fetch(
                    "SELECT password_hash FROM credentials WHERE user_id = $1",
                    vec![Val::Uuid(u.meta.id.0)],
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
        match (user, stored, ok) {
            (Some(user), Some(_), true) => Ok((user.meta.id, email)),
            (user, _, _) => {
                self.count_failure(&email, address, user.map(|u| u.meta.id))
                    .await?;
                Err(StoreError::Unauthorized)
            }
        }
    }

    pub async fn open_session(&self, user: Id, ttl: Duration) -> Result<Session> {
        let session = Session {
            token: secret(""),
            csrf_token: secret(""),
            expires_at: now() + ttl,
        };
        let mut tx = self.db.begin().await?;
        tx.exec(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            vec![
                Val::Text(digest(&session.token)),
                Val::Uuid(user.0),
                Val::Text(session.csrf_token.clone()),
                Val::Ts(now()),
                Val::Ts(session.expires_at),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(session)
    }

    /// The signed-in actor of a session and its CSRF token; `Unauthorized` when the session
    /// is unknown or expired, or its user deactivated.
    pub async fn session(&self, token: &str) -> Result<(Actor, String)> {
        let rows = self
            .db
            .fetch(
                "SELECT user_id, csrf_token FROM sessions WHERE token_hash = $1 AND expires_at > $2",
                vec![Val::Text(digest(token)), Val::Ts(now())],
                &[Kind::Uuid, Kind::Text],
            )
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Err(StoreError::Unauthorized);
        };
        let user = Id(row[0].as_uuid().ok_or(StoreError::Unauthorized)?);
        let csrf = row[1].clone().into_text().unwrap_or_default();
        Ok((self.signed_in(user).await?, csrf))
    }

    pub async fn close_session(&self, token: &str) -> Result<()> {
        let mut tx = self.db.begin().await?;
        tx.exec(
            "DELETE FROM sessions WHERE token_hash = $1",
            vec![Val::Text(digest(token))],
        )
        .await?;
        tx.commit().await
    }

    /// A new personal API token for the actor. The secret is returned once; only its hash is
    /// kept.
    pub async fn issue_token(
        &self,
        actor: &Actor,
        name: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(ApiToken, String)> {
        let mut e = ValidationErrors::new();
        e.text("name", name, 100);
        if expires_at.is_some_and(|t| t <= Utc::now()) {
            e.add("expires_at", "invalid", "an expiry lies in the future");
        }
        e.into_result()?;
        let secret = secret("gx_");
        let token = ApiToken {
            id: Id::new(),
            user_id: actor.user_id,
            name: name.trim().to_string(),
            created_at: now(),
            expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        let mut tx = self.db.begin().await?;
        tx.exec(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                Val::Uuid(token.id.0),
                Val::Uuid(token.user_id.0),
                Val::Text(token.name.clone()),
                Val::Text(digest(&secret)),
                Val::Ts(token.created_at),
                Val::opt_ts(expires_at),
            ],
        )
        .await?;
        let after = serde_json::to_value(&token).unwrap_or_default();
        changelog::append(
            &mut tx,
            token.created_at,
            actor.user_id,
            "api_token",
            token.id,
            "create",
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok((token, secret))
    }

    /// The actor behind a bearer token; `Unauthorized` when it is unknown, revoked, expired,
    /// or its user deactivated.
    pub async fn token_actor(&self, secret: &str) -> Result<Actor> {
        let at = now();
        let rows = self
            .db
            .fetch(
                "SELECT id, user_id, last_used_at FROM api_tokens WHERE token_hash = $1 \
                 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
                vec![Val::Text(digest(secret)), Val::Ts(at)],
                &[Kind::Uuid, Kind::Uuid, Kind::Ts],
            )
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Err(StoreError::Unauthorized);
        };
        let user = Id(row[1].as_uuid().ok_or(StoreError::Unauthorized)?);
        // Note the use at most once per interval: a write on every request would queue
        // behind the single SQLite writer.
        if row[2].as_ts().is_none_or(|t| at - t > LAST_USED_INTERVAL) {
            let mut tx = self.db.begin().await?;
            tx.exec(
                "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2",
                vec![Val::Ts(at), Val::Uuid(row[0].as_uuid().unwrap_or_default())],
            )
            .await?;
            tx.commit().await?;
        }
        self.signed_in(user).await
    }

    /// The actor's own tokens, newest first.
    pub async fn tokens(&self, actor: &Actor) -> Result<Vec<ApiToken>> {
        let rows = self
            .db
            .fetch(
                "SELECT id, user_id, name, created_at, expires_at, revoked_at, last_used_at FROM api_tokens \
                 WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
                vec![Val::Uuid(actor.user_id.0)],
                &[Kind::Uuid, Kind::Uuid, Kind::Text, Kind::Ts, Kind::Ts, Kind::Ts, Kind::Ts],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| ApiToken {
                id: Id(r[0].as_uuid().unwrap_or_default()),
                user_id: Id(r[1].as_uuid().unwrap_or_default()),
                name: r[2].clone().into_text().unwrap_or_default(),
                created_at: r[3].as_ts().unwrap_or_default(),
                expires_at: r[4].as_ts(),
                revoked_at: r[5].as_ts(),
                last_used_at: r[6].as_ts(),
            })
            .collect())
    }

    /// Revoke one of the actor's tokens (administrators: anyone's).
    pub async fn revoke_token(&self, actor: &Actor, id: Id) -> Result<()> {
        let at = now();
        let mut tx = self.db.begin().await?;
        let owner = tx
            .fetch(
                "SELECT user_id FROM api_tokens WHERE id = $1 AND revoked_at IS NULL",
                vec![Val::Uuid(id.0)],
                &[Kind::Uuid],
            )
            .await?
            .pop()
            .and_then(|r| r[0].as_uuid())
            .map(Id);
        match owner {
            Some(o) if crate::records::owner_or_admin(actor, o) => {}
            _ => {
                return Err(StoreError::NotFound {
                    entity: "api_token",
                    id,
                });
            }
        }
        tx.exec(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2",
            vec![Val::Ts(at), Val::Uuid(id.0)],
        )
        .await?;
        let after = serde_json::json!({ "revoked_at": at });
        changelog::append(
            &mut tx,
            at,
            actor.user_id,
            "api_token",
            id,
            "revoke",
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await
    }

    /// A signed-in user as an actor; a deactivated user is no longer signed in.
    async fn signed_in(&self, user: Id) -> Result<Actor> {
        match self.actor_for(user).await {
            Err(StoreError::Forbidden { .. } | StoreError::NotFound { .. }) => {
                Err(StoreError::Unauthorized)
            }
            other => other,
        }
    }
}
