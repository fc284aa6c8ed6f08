//! In-app notifications: messages to one user (a record assigned to them, a mention, a
//! rule's message, a reminder), which they list, count and mark read. Sending is for the
//! system's own work (change-log subscribers, rules, jobs), not a right of a role; reading
//! is always the recipient's own.
//!
//! Sending is idempotent by key: whoever may send the same message twice (a subscriber
//! replayed after a crash, a job retried) gives it a key naming its cause, and a second
//! send of that key is a no-op.

use crate::db::{Kind, Val};
use crate::{Result, Store, StoreError, records::now};
use chrono::{DateTime, Utc};
use guanxi_domain::filter::{MAX_LIMIT, Page};
use guanxi_domain::{Actor, Id, ValidationErrors};

/// A notification as its recipient sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Notification {
    pub id: Id,
    /// The recipient.
    pub user_id: Id,
    /// What it is about: `assigned`, `mention`, `task_due`, `rule`, `system`, …
    pub kind: String,
    /// The message, in the recipient's language.
    pub title: String,
    pub body: Option<String>,
    /// The record it links to, when there is one: its entity (`account`) and id.
    pub entity: Option<String>,
    pub record_id: Option<Id>,
    /// Who sent it: `system`, `rule:<id>`, …
    pub source: String,
    pub created_at: DateTime<Utc>,
    /// `None` while unread.
    pub read_at: Option<DateTime<Utc>>,
}

/// A notification to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub user_id: Id,
    pub kind: String,
    pub title: String,
    pub body: Option<String>,
    pub entity: Option<String>,
    pub record_id: Option<Id>,
    pub source: String,
    /// Names the notification's cause (`assigned:<seq>:<user>`): a notification whose key
    /// was sent before is not sent again. `None`: never deduplicated.
    pub key: Option<String>,
}

impl NewNotification {
    /// A notification of `kind` from the system, without body, link or key.
    pub fn new(user_id: Id, kind: &str, title: impl Into<String>) -> NewNotification {
        NewNotification {
            user_id,
            kind: kind.into(),
            title: title.into(),
            body: None,
            entity: None,
            record_id: None,
            source: "system".into(),
            key: None,
        }
    }

    /// Link it to a record.
    pub fn about(mut self, entity: &str, record_id: Id) -> NewNotification {
        self.entity = Some(entity.into());
        self.record_id = Some(record_id);
        self
    }

    pub fn body(mut self, body: impl Into<String>) -> NewNotification {
        self.body = Some(body.into());
        self
    }

    pub fn key(mut self, key: impl Into<String>) -> NewNotification {
        self.key = Some(key.into());
        self
    }

    pub fn source(mut self, source: impl Into<String>) -> NewNotification {
        self.source = source.into();
        self
    }

    fn validate(&self) -> Result<()> {
        let mut e = ValidationErrors::new();
        e.text("kind", &self.kind, 40);
        if !self
            .kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            e.add("kind", "invalid", "lower-case letters and _ only");
        }
        e.text("title", &self.title, 500);
        e.opt_text("body", &self.body, 4000);
        e.text("source", &self.source, 200);
        e.opt_text("key", &self.key, 300);
        if let Some(entity) = &self.entity
            && guanxi_domain::entity::def_by_name(entity).is_none()
        {
            e.add("entity", "invalid", "no such entity");
        }
        if self.entity.is_some() != self.record_id.is_some() {
            e.add(
                "record_id",
                "invalid",
                "a link needs both entity and record_id",
            );
        }
        e.into_result().map_err(StoreError::Invalid)
    }
}

const COLS: &str = "id, user_id, kind, title, body, entity, record_id, source, created_at, read_at";
const KINDS: &[Kind] = &[
    Kind::Uuid,
    Kind::Uuid,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Uuid,
    Kind::Text,
    Kind::Ts,
    Kind::Ts,
];

fn decode(r: Vec<Val>) -> Notification {
    let mut it = r.into_iter();
    let mut next = || it.next().unwrap_or(Val::Null(Kind::Text));
    Notification {
        id: Id(next().as_uuid().unwrap_or_default()),
        user_id: Id(next().as_uuid().unwrap_or_default()),
        kind: next().into_text().unwrap_or_default(),
        title: next().into_text().unwrap_or_default(),
        body: next().into_text(),
        entity: next().into_text(),
        record_id: next().as_uuid().map(Id),
        source: next().into_text().unwrap_or_default(),
        created_at: next().as_ts().unwrap_or_default(),
        read_at: next().as_ts(),
    }
}

fn opt_text(v: &Option<String>) -> Val {
    v.clone().map_or(Val::Null(Kind::Text), Val::Text)
}

fn bad_cursor() -> StoreError {
    StoreError::invalid(
        "cursor",
        "invalid_cursor",
        "this cursor is not from this list",
    )
}

impl Store {
    /// Send notifications, in one transaction; returns how many were new (a key sent
    /// before counts as sent, not new).
    pub async fn notify(&self, notes: &[NewNotification]) -> Result<usize> {
        for n in notes {
            n.validate()?;
        }
        if notes.is_empty() {
            return Ok(0);
        }
        let mut tx = self.db.begin().await?;
        let mut new = 0;
        for n in notes {
            // Ids are made here, in sending order, so the list's newest-first order by id
            // is the order they were sent in.
            new += tx
                .exec(
                    &format!(
                        "INSERT INTO notifications ({COLS}, dedupe_key) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                         ON CONFLICT (dedupe_key) DO NOTHING"
                    ),
                    vec![
                        Val::Uuid(Id::new().0),
                        Val::Uuid(n.user_id.0),
                        Val::Text(n.kind.clone()),
                        Val::Text(n.title.trim().into()),
                        opt_text(&n.body),
                        opt_text(&n.entity),
                        Val::opt_uuid(n.record_id.map(|i| i.0)),
                        Val::Text(n.source.clone()),
                        Val::Ts(now()),
                        Val::Null(Kind::Ts),
                        opt_text(&n.key),
                    ],
                )
                .await? as usize;
        }
        tx.commit().await?;
        Ok(new)
    }

    /// The actor's own notifications, newest first, `limit` (1 to 500) a page: all, or
    /// only the unread ones. `cursor` is the previous page's `next_cursor`.
    pub async fn notifications(
        &self,
        actor: &Actor,
        unread_only: bool,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Notification>> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(StoreError::invalid(
                "limit",
                "out_of_range",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let mut params = vec![Val::Uuid(actor.user_id.0)];
        let mut preds = vec!["user_id = $1".to_string()];
        if unread_only {
            preds.push("read_at IS NULL".into());
        }
        if let Some(c) = cursor {
            let after = uuid::Uuid::parse_str(c).map_err(|_| bad_cursor())?;
            params.push(Val::Uuid(after));
            preds.push(format!("id < ${}", params.len()));
        }
        let mut rows = self
            .db
            .fetch(
                &format!(
                    "SELECT {COLS} FROM notifications WHERE {} ORDER BY id DESC LIMIT {}",
                    preds.join(" AND "),
                    limit + 1
                ),
                params,
                KINDS,
            )
            .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let items: Vec<Notification> = rows.into_iter().map(decode).collect();
        let next_cursor = more
            .then(|| items.last().map(|n| n.id.0.simple().to_string()))
            .flatten();
        Ok(Page {
            items,
            next_cursor,
            total: None,
        })
    }

    /// How many of the actor's notifications are unread: the bell on every page.
    pub async fn unread_notifications(&self, actor: &Actor) -> Result<i64> {
        let rows = self
            .db
            .fetch(
                "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL",
                vec![Val::Uuid(actor.user_id.0)],
                &[Kind::Int],
            )
            .await?;
        Ok(rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0))
    }

    /// Mark one of the actor's notifications read (again: no change). Anyone else's is
    /// not found, as if it did not exist.
    pub async fn mark_read(&self, actor: &Actor, id: Id) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let found = tx
            .exec(
                "UPDATE notifications SET read_at = COALESCE(read_at, $3) \
                 WHERE id = $1 AND user_id = $2",
                vec![Val::Uuid(id.0), Val::Uuid(actor.user_id.0), Val::Ts(now())],
            )
            .await?;
        tx.commit().await?;
        if found == 0 {
            return Err(StoreError::NotFound {
                entity: "notification",
                id,
            });
        }
        Ok(())
    }

    /// Mark all the actor's notifications read; returns how many were unread.
    pub async fn mark_all_read(&self, actor: &Actor) -> Result<u64> {
        let mut tx = self.db.begin().await?;
        let n = tx
            .exec(
                "UPDATE notifications SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL",
                vec![Val::Uuid(actor.user_id.0), Val::Ts(now())],
            )
            .await?;
        tx.commit().await?;
        Ok(n)
    }
}
