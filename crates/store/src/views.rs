//! Saved list views: a user's named list queries, private or shared with everyone who may
//! read the entity. The query is the list page's own query string, kept as text.

use crate::db::{Kind, Val};
use crate::{Result, Store, StoreError, records::now};
use chrono::{DateTime, Utc};
use guanxi_domain::{Actor, Id, Right, ValidationErrors};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SavedView {
    pub id: Id,
    pub owner_id: Id,
    pub entity: String,
    pub name: String,
    pub query: String,
    pub shared: bool,
    pub created_at: DateTime<Utc>,
}

const COLS: &str = "id, owner_id, entity, name, query, shared, created_at";
const KINDS: &[Kind] = &[
    Kind::Uuid,
    Kind::Uuid,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Bool,
    Kind::Ts,
];

fn decode(r: Vec<Val>) -> SavedView {
    let mut it = r.into_iter();
    let mut next = || it.next().unwrap_or(Val::Null(Kind::Text));
    SavedView {
        id: Id(next().as_uuid().unwrap_or_default()),
        owner_id: Id(next().as_uuid().unwrap_or_default()),
        entity: next().into_text().unwrap_or_default(),
        name: next().into_text().unwrap_or_default(),
        query: next().into_text().unwrap_or_default(),
        shared: matches!(next(), Val::Bool(true) | Val::Int(1)),
        created_at: next().as_ts().unwrap_or_default(),
    }
}

/// The entity's static name, so the right can be checked; unknown names are invalid.
fn entity_name(entity: &str) -> Result<&'static str> {
    guanxi_domain::entity::def_by_name(entity)
        .map(|d| d.name)
        .ok_or_else(|| StoreError::invalid("entity", "invalid", "no such entity"))
}

impl Store {
    /// The views of `entity` the actor may use: their own and the shared ones, by name.
    pub async fn saved_views(&self, actor: &Actor, entity: &str) -> Result<Vec<SavedView>> {
        crate::records::require(actor, entity_name(entity)?, Right::Read)?;
        let rows = self
            .db
            .fetch(
                &format!(
                    "SELECT {COLS} FROM saved_views WHERE entity = $1 AND (owner_id = $2 OR shared = $3) \
                     ORDER BY name, id"
                ),
                vec![
                    Val::Text(entity.into()),
                    Val::Uuid(actor.user_id.0),
                    Val::Bool(true),
                ],
                KINDS,
            )
            .await?;
        Ok(rows.into_iter().map(decode).collect())
    }

    /// Save a view of `entity` under `name` for the actor.
    pub async fn save_view(
        &self,
        actor: &Actor,
        entity: &str,
        name: &str,
        query: &str,
        shared: bool,
    ) -> Result<SavedView> {
        crate::records::require(actor, entity_name(entity)?, Right::Read)?;
        let mut e = ValidationErrors::new();
        e.text("name", name, 100);
        e.max_len("query", query, 4000);
        e.into_result()?;
        let view = SavedView {
            id: Id::new(),
            owner_id: actor.user_id,
            entity: entity.into(),
            name: name.trim().into(),
            query: query.into(),
            shared,
            created_at: now(),
        };
        let mut tx = self.db.begin().await?;
        tx.exec(
            &format!("INSERT INTO saved_views ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
            vec![
                Val::Uuid(view.id.0),
                Val::Uuid(view.owner_id.0),
                Val::Text(view.entity.clone()),
                Val::Text(view.name.clone()),
                Val::Text(view.query.clone()),
                Val::Bool(view.shared),
                Val::Ts(view.created_at),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Delete one of the actor's views (administrators: anyone's shared view too).
    pub async fn delete_view(&self, actor: &Actor, id: Id) -> Result<()> {
        let owner = self
            .db
            .fetch(
                "SELECT owner_id FROM saved_views WHERE id = $1",
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
                    entity: "saved_view",
                    id,
                });
            }
        }
        let mut tx = self.db.begin().await?;
        tx.exec(
            "DELETE FROM saved_views WHERE id = $1",
            vec![Val::Uuid(id.0)],
        )
        .await?;
        tx.commit().await
    }
}
