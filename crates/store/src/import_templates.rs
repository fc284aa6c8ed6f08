//! Import mapping templates: a column mapping saved under a name for one entity, shared
//! with everyone who may import that entity (who may create its records). Saving a name
//! again replaces its mapping, for its owner or an administrator; to anyone else the name
//! is taken.

use crate::db::{Kind, Val};
use crate::records::{now, owner_or_admin, require};
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use guanxi_domain::{Actor, Id, Right, ValidationErrors};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImportTemplate {
    pub id: Id,
    pub entity: String,
    pub name: String,
    /// The mapping as `--mapping` takes it: `column=field,…`.
    pub spec: String,
    pub owner_id: Id,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLS: &str = "id, entity, name, spec, owner_id, created_at, updated_at";
const KINDS: &[Kind] = &[
    Kind::Uuid,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Uuid,
    Kind::Ts,
    Kind::Ts,
];

fn decode(r: Vec<Val>) -> ImportTemplate {
    let mut it = r.into_iter();
    let mut next = || it.next().unwrap_or(Val::Null(Kind::Text));
    ImportTemplate {
        id: Id(next().as_uuid().unwrap_or_default()),
        entity: next().into_text().unwrap_or_default(),
        name: next().into_text().unwrap_or_default(),
        spec: next().into_text().unwrap_or_default(),
        owner_id: Id(next().as_uuid().unwrap_or_default()),
        created_at: next().as_ts().unwrap_or_default(),
        updated_at: next().as_ts().unwrap_or_default(),
    }
}

/// A template by entity and name.
fn by_name() -> String {
    format!("SELECT {COLS} FROM import_templates WHERE entity = $1 AND name = $2")
}

/// Whether the actor may import `entity`, and so use its templates.
fn may_import(actor: &Actor, entity: &str) -> bool {
    importable(entity).is_ok_and(|e| actor.may(e, Right::Create))
}

/// The importable entity's static name, so the right can be checked.
fn importable(entity: &str) -> Result<&'static str> {
    guanxi_domain::entity::def_by_name(entity)
        .filter(|d| d.import.is_some())
        .map(|d| d.name)
        .ok_or_else(|| {
            StoreError::invalid(
                "kind",
                "invalid",
                format!(
                    "{entity:?} cannot be imported: one of {}",
                    guanxi_domain::entity::importable().join(", ")
                ),
            )
        })
}

impl Store {
    /// The templates the actor may use, by entity and name: of `entity`, or of every
    /// entity they may import.
    pub async fn import_templates(
        &self,
        actor: &Actor,
        entity: Option<&str>,
    ) -> Result<Vec<ImportTemplate>> {
        let (sql, params) = match entity {
            Some(e) => {
                require(actor, importable(e)?, Right::Create)?;
                (
                    format!("SELECT {COLS} FROM import_templates WHERE entity = $1 ORDER BY name"),
                    vec![Val::Text(e.into())],
                )
            }
            None => (
                format!("SELECT {COLS} FROM import_templates ORDER BY entity, name"),
                vec![],
            ),
        };
        let rows = self.db.fetch(&sql, params, KINDS).await?;
        Ok(rows
            .into_iter()
            .map(decode)
            .filter(|t| may_import(actor, &t.entity))
            .collect())
    }

    /// The template of `entity` called `name`; an unknown name is an invalid `template`.
    pub async fn import_template(
        &self,
        actor: &Actor,
        entity: &str,
        name: &str,
    ) -> Result<ImportTemplate> {
        require(actor, importable(entity)?, Right::Create)?;
        self.db
            .fetch(
                &by_name(),
                vec![Val::Text(entity.into()), Val::Text(name.trim().into())],
                KINDS,
            )
            .await?
            .pop()
            .map(decode)
            .ok_or_else(|| {
                StoreError::invalid(
                    "template",
                    "not_found",
                    format!(
                        "there is no {entity} import template called “{}”",
                        name.trim()
                    ),
                )
            })
    }

    /// Save `spec` as the template `name` of `entity`, replacing the mapping of a template
    /// of that name the actor owns (or any, for an administrator).
    pub async fn save_import_template(
        &self,
        actor: &Actor,
        entity: &str,
        name: &str,
        spec: &str,
    ) -> Result<ImportTemplate> {
        let entity = importable(entity)?;
        require(actor, entity, Right::Create)?;
        let name = name.trim();
        let mut e = ValidationErrors::new();
        e.text("save_template", name, 100);
        e.text("mapping", spec, 8000);
        e.into_result()?;
        let at = now();
        let mut tx = self.db.begin().await?;
        let existing = tx
            .fetch(
                &by_name(),
                vec![Val::Text(entity.into()), Val::Text(name.into())],
                KINDS,
            )
            .await?
            .pop()
            .map(decode);
        let template = match existing {
            Some(t) if !owner_or_admin(actor, t.owner_id) => {
                return Err(StoreError::Duplicate {
                    entity: "import_template",
                    field: "name".into(),
                });
            }
            Some(t) => {
                tx.exec(
                    "UPDATE import_templates SET spec = $1, updated_at = $2 WHERE id = $3",
                    vec![Val::Text(spec.into()), Val::Ts(at), Val::Uuid(t.id.0)],
                )
                .await?;
                ImportTemplate {
                    spec: spec.into(),
                    updated_at: at,
                    ..t
                }
            }
            None => {
                let t = ImportTemplate {
                    id: Id::new(),
                    entity: entity.into(),
                    name: name.into(),
                    spec: spec.into(),
                    owner_id: actor.user_id,
                    created_at: at,
                    updated_at: at,
                };
                tx.exec(
                    &format!(
                        "INSERT INTO import_templates ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    ),
                    vec![
                        Val::Uuid(t.id.0),
                        Val::Text(t.entity.clone()),
                        Val::Text(t.name.clone()),
                        Val::Text(t.spec.clone()),
                        Val::Uuid(t.owner_id.0),
                        Val::Ts(at),
                        Val::Ts(at),
                    ],
                )
                .await
                .map_err(|e| StoreError::from_write(e, "import_template"))?;
                t
            }
        };
        tx.commit().await?;
        Ok(template)
    }

    /// Delete a template the actor owns (administrators: anyone's).
    pub async fn delete_import_template(&self, actor: &Actor, id: Id) -> Result<()> {
        let template = self
            .db
            .fetch(
                &format!("SELECT {COLS} FROM import_templates WHERE id = $1"),
                vec![Val::Uuid(id.0)],
                KINDS,
            )
            .await?
            .pop()
            .map(decode);
        match template {
            Some(t) if may_import(actor, &t.entity) && owner_or_admin(actor, t.owner_id) => {}
            _ => {
                return Err(StoreError::NotFound {
                    entity: "import_template",
                    id,
                });
            }
        }
        let mut tx = self.db.begin().await?;
        tx.exec(
            "DELETE FROM import_templates WHERE id = $1",
            vec![Val::Uuid(id.0)],
        )
        .await?;
        tx.commit().await
    }
}
