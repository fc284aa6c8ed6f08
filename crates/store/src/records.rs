//! Create, read, update, delete and list for every entity, through one generic path.

use crate::changelog;
use crate::codec::{
    all_cols, canonical, decode_record, encode_fields, field_cols, kinds, meta_cols, quote,
    select_list,
};
use crate::custom_cache::Defs;
use crate::db::{Backend, Conn, Kind, Tx, Val};
use crate::query::{self, Sql};
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use guanxi_domain::custom::{CustomFieldDef, validate_custom};
use guanxi_domain::entities::{Locale, Opportunity, Pipeline, User};
use guanxi_domain::filter::{Filter, ListQuery, MAX_LIMIT, Op, Page};
use guanxi_domain::{
    Actor, Entity, FieldError, FieldType, Id, Meta, NewRecord, Record, Right, ValidationErrors,
};
use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// Storage keeps microseconds; truncating up front makes what a write returns equal what a
/// later read returns.
pub(crate) fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

fn for_update(tx: &Tx) -> &'static str {
    match tx.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE",
    }
}

/// The role's right to do `right` to `entity` at all (scope is the query's business).
pub(crate) fn require(actor: &Actor, entity: &'static str, right: Right) -> Result<()> {
    if actor.may(entity, right) {
        Ok(())
    } else {
        Err(StoreError::Forbidden { entity, right })
    }
}

/// Whether the actor may change or remove what `owner` owns (a saved view, a token, an
/// import template): its owner, or an administrator.
pub(crate) fn owner_or_admin(actor: &Actor, owner: Id) -> bool {
    owner == actor.user_id || actor.may("user", Right::Update)
}

impl Store {
    /// Before a write to an existing record: refuse outright only a role that may not even
    /// read the entity. Everyone else is checked after the record was looked up in their
    /// scope, so a record out of sight is "not found" and a 403 never tells that it exists.
    fn require_unseen(&self, actor: &Actor, entity: &'static str, right: Right) -> Result<()> {
        if actor.may(entity, Right::Read) {
            Ok(())
        } else {
            require(actor, entity, right)
        }
    }

    /// The custom field definitions of an entity. Read before a write transaction starts:
    /// an in-memory SQLite database has one connection, which the transaction holds.
    pub async fn custom_fields(&self, entity: &str) -> Result<Defs> {
        if entity == CustomFieldDef::DEF.name {
            return Ok(Defs::default());
        }
        if let Some(defs) = self.custom.get(entity) {
            return Ok(defs);
        }
        let q = ListQuery::default()
            .filter(Filter::new("entity", Op::Eq, entity))
            .limit(MAX_LIMIT);
        let defs: Defs = std::sync::Arc::new(
            self.list_inner::<CustomFieldDef>(&Actor::system(), &q, &[])
                .await?
                .items
                .into_iter()
                .map(|r| r.data)
                .collect(),
        );
        self.custom.put(entity, defs.clone());
        Ok(defs)
    }

    pub(crate) fn check<T: Entity>(
        data: &mut T,
        custom: &guanxi_domain::record::CustomValues,
        defs: &[CustomFieldDef],
    ) -> Result<()> {
        data.normalize();
        *data = canonical(data.clone())?;
        let mut errors = data.validate().err().unwrap_or_default();
        if let Err(e) = validate_custom(defs, custom) {
            errors.0.extend(e.0);
        }
        errors.into_result().map_err(StoreError::Invalid)
    }

    /// The references of one record written alone: see [`reference_errors`].
    async fn check_references<T: Entity>(
        tx: &mut Tx,
        actor: &Actor,
        id: Id,
        data: &T,
        before: Option<&T>,
    ) -> Result<()> {
        let none = HashSet::new();
        let mut errors = reference_errors(tx, actor, &[(id, data, before)], &none, &none).await?;
        errors
            .pop()
            .unwrap_or_default()
            .into_result()
            .map_err(StoreError::Invalid)
    }

    /// The team of `owner`, an owner the writer names: a user they may read (the writer
    /// themself always), else refused as an unknown user.
    async fn owners_team(tx: &mut Tx, actor: &Actor, owner: Id) -> Result<Option<Id>> {
        match owner_teams(tx, actor, &[owner]).await?.get(&owner) {
            Some(team) => Ok(*team),
            None => Err(StoreError::Invalid(ValidationErrors(vec![
                unknown_reference("owner_id", "users", owner.0),
            ]))),
        }
    }

    pub async fn create<T: Entity>(&self, actor: &Actor, new: NewRecord<T>) -> Result<Record<T>> {
        let def = T::DEF;
        let new = self.prepare(actor, new).await?;
        let mut tx = self.db.begin().await?;
        let record = Self::insert_in(&mut tx, actor, new).await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::from_write(e, def.name))?;
        self.written(def.name);
        Ok(record)
    }

    /// Before a write transaction: the right to create, normalised and validated fields.
    pub(crate) async fn prepare<T: Entity>(
        &self,
        actor: &Actor,
        mut new: NewRecord<T>,
    ) -> Result<NewRecord<T>> {
        require(actor, T::DEF.name, Right::Create)?;
        let defs = self.custom_fields(T::DEF.name).await?;
        Self::check(&mut new.data, &new.custom, &defs)?;
        Ok(new)
    }

    /// Inside a write transaction: insert a [`prepare`](Self::prepare)d record with its
    /// owner, team and checked references, and log it.
    pub(crate) async fn insert_in<T: Entity>(
        tx: &mut Tx,
        actor: &Actor,
        new: NewRecord<T>,
    ) -> Result<Record<T>> {
        let def = T::DEF;
        let NewRecord {
            data,
            custom,
            owner_id,
            team_id,
            id,
        } = new;
        let id = id.unwrap_or_default();
        let (owner, team) = if def.scoped {
            let owner = owner_id.unwrap_or(actor.user_id);
            let team = match team_id {
                Some(t) => Some(t),
                None => Self::owners_team(tx, actor, owner).await?,
            };
            in_scope(actor, def.name, owner, team, Right::Create)?;
            (Some(owner), team)
        } else {
            (None, None)
        };
        Self::check_references(tx, actor, id, &data, None).await?;
        let at = now();
        let meta = Meta {
            id,
            version: 1,
            created_at: at,
            updated_at: at,
            deleted_at: None,
            owner_id: owner,
            team_id: team,
        };
        let record = Record { meta, data, custom };
        let fields = encode_fields(&record.data)?;
        insert_rows(tx, vec![(&record, fields)])
            .await
            .map_err(|e| StoreError::from_write(e, def.name))?;
        changelog::append(
            tx,
            at,
            actor.user_id,
            def.name,
            id,
            "create",
            None,
            Some(&record.to_json()),
        )
        .await?;
        Ok(record)
    }

    /// A live record the actor may see.
    pub async fn get<T: Entity>(&self, actor: &Actor, id: Id) -> Result<Record<T>> {
        let mut conn = self.db.reader().await?;
        Self::get_on::<T>(&mut conn, actor, id).await
    }

    /// [`Self::get`] on a connection the caller holds.
    pub(crate) async fn get_on<T: Entity>(
        conn: &mut Conn,
        actor: &Actor,
        id: Id,
    ) -> Result<Record<T>> {
        Self::fetch_one::<T>(conn, actor, id, "\"deleted_at\" IS NULL").await
    }

    /// The live records among `ids` the actor may see, in no particular order; the others
    /// are left out (a batch reads what one [`Self::get`] per id would, in a few queries).
    pub async fn get_many<T: Entity>(&self, actor: &Actor, ids: &[Id]) -> Result<Vec<Record<T>>> {
        let def = T::DEF;
        require(actor, def.name, Right::Read)?;
        let cols = all_cols(def);
        let mut conn = self.db.reader().await?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut sql = Sql::default();
            let marks: Vec<String> = chunk.iter().map(|id| sql.bind(Val::Uuid(id.0))).collect();
            let scope = query::scope(def, actor, &mut sql);
            let text = format!(
                "SELECT {} FROM {} WHERE id IN ({}) AND deleted_at IS NULL AND {scope}",
                select_list(&cols),
                def.table,
                marks.join(", ")
            );
            for row in conn.fetch(&text, sql.params, &kinds(&cols)).await? {
                out.push(decode_record(row)?);
            }
        }
        Ok(out)
    }

    /// A record the actor may see, live or deleted.
    pub async fn get_any<T: Entity>(&self, actor: &Actor, id: Id) -> Result<Record<T>> {
        let mut conn = self.db.reader().await?;
        Self::fetch_one::<T>(&mut conn, actor, id, "1=1").await
    }

    async fn fetch_one<T: Entity>(
        conn: &mut Conn,
        actor: &Actor,
        id: Id,
        extra: &str,
    ) -> Result<Record<T>> {
        let def = T::DEF;
        require(actor, def.name, Right::Read)?;
        let cols = all_cols(def);
        let mut sql = Sql::default();
        let pid = sql.bind(Val::Uuid(id.0));
        let scope = query::scope(def, actor, &mut sql);
        let text = format!(
            "SELECT {} FROM {} WHERE id = {pid} AND {extra} AND {scope}",
            select_list(&cols),
            def.table
        );
        let row = conn
            .fetch(&text, sql.params, &kinds(&cols))
            .await?
            .into_iter()
            .next();
        row.map(decode_record)
            .transpose()?
            .ok_or(StoreError::NotFound {
                entity: def.name,
                id,
            })
    }

    /// The first live record whose `field` equals `value` (system lookups: role by key).
    pub async fn find_one<T: Entity>(
        &self,
        actor: &Actor,
        field: &str,
        value: &str,
    ) -> Result<Option<Record<T>>> {
        let q = ListQuery::default()
            .filter(Filter::new(field, Op::Eq, value))
            .limit(1);
        Ok(self.list::<T>(actor, &q).await?.items.into_iter().next())
    }

    /// Append the write's change-log entry and commit; a unique index violated at commit
    /// becomes [`StoreError::Duplicate`].
    #[allow(clippy::too_many_arguments)]
    async fn log_and_commit(
        mut tx: Tx,
        at: DateTime<Utc>,
        actor: &Actor,
        entity: &'static str,
        id: Id,
        action: &str,
        before: Option<&serde_json::Value>,
        after: Option<&serde_json::Value>,
    ) -> Result<()> {
        changelog::append(
            &mut tx,
            at,
            actor.user_id,
            entity,
            id,
            action,
            before,
            after,
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::from_write(e, entity))
    }

    /// Read the record, let `edit` change it, validate and write it back — all in one
    /// transaction, and only if its version is still `expected_version`. `edit` may change
    /// the fields, the custom values and the owner; other bookkeeping is kept.
    pub async fn update<T, F>(
        &self,
        actor: &Actor,
        id: Id,
        expected_version: i64,
        edit: F,
    ) -> Result<Record<T>>
    where
        T: Entity,
        F: FnOnce(&mut Record<T>) -> std::result::Result<(), ValidationErrors> + Send,
    {
        let def = T::DEF;
        self.require_unseen(actor, def.name, Right::Update)?;
        let defs = self.custom_fields(def.name).await?;
        let mut tx = self.db.begin().await?;
        let before = self
            .locked::<T>(&mut tx, actor, id, expected_version, false)
            .await?;
        require(actor, def.name, Right::Update)?;
        let mut after = before.clone();
        edit(&mut after)?;
        Self::check(&mut after.data, &after.custom, &defs)?;
        let after = Self::rewrite_in(&mut tx, actor, &before, after).await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::from_write(e, def.name))?;
        self.written(def.name);
        Ok(after)
    }

    /// The actor choosing their own language. Self-service: every signed-in user may, on
    /// their own record only, whatever their role's right to update users (a sales rep
    /// lacks it, so [`Self::update`] would refuse). Logged as the actor's own update.
    pub async fn set_own_locale(&self, actor: &Actor, locale: Locale) -> Result<Record<User>> {
        let me = actor.user_id;
        // Read as the system: a role without the right to read users (partner) still has
        // its own record.
        let system = Actor::system();
        let version = self.get::<User>(&system, me).await?.meta.version;
        let defs = self.custom_fields(User::DEF.name).await?;
        let mut tx = self.db.begin().await?;
        let before = self
            .locked::<User>(&mut tx, &system, me, version, false)
            .await?;
        let mut after = before.clone();
        after.data.locale = locale;
        Self::check(&mut after.data, &after.custom, &defs)?;
        let after = Self::rewrite_in(&mut tx, actor, &before, after).await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::from_write(e, User::DEF.name))?;
        self.written(User::DEF.name);
        Ok(after)
    }

    /// Inside a write transaction: write `after` over the locked and checked `before`,
    /// bumping the version, and log it.
    pub(crate) async fn rewrite_in<T: Entity>(
        tx: &mut Tx,
        actor: &Actor,
        before: &Record<T>,
        mut after: Record<T>,
    ) -> Result<Record<T>> {
        let def = T::DEF;
        let id = before.meta.id;
        if def.scoped && after.meta.owner_id != before.meta.owner_id {
            let owner = after.meta.owner_id.ok_or_else(|| {
                StoreError::invalid("owner_id", "required", "a record needs an owner")
            })?;
            let owners_team = Self::owners_team(tx, actor, owner).await?;
            if after.meta.team_id == before.meta.team_id {
                after.meta.team_id = owners_team;
            }
            in_scope(actor, def.name, owner, after.meta.team_id, Right::Update)?;
        }
        Self::check_references(tx, actor, id, &after.data, Some(&before.data)).await?;
        let at = now();
        after.meta = Meta {
            version: before.meta.version + 1,
            updated_at: at,
            owner_id: if def.scoped {
                after.meta.owner_id
            } else {
                None
            },
            team_id: if def.scoped { after.meta.team_id } else { None },
            ..before.meta.clone()
        };
        let mut sql = Sql::default();
        let mut sets: Vec<String> = field_cols(def)
            .iter()
            .zip(encode_fields(&after.data)?)
            .map(|(c, v)| format!("{} = {}", c.name, sql.bind(v)))
            .collect();
        sets.push(format!(
            "\"custom\" = {}",
            sql.bind(Val::Json(after.custom.clone().into()))
        ));
        if def.scoped {
            sets.push(format!(
                "\"owner_id\" = {}",
                sql.bind(Val::opt_uuid(after.meta.owner_id.map(|i| i.0)))
            ));
            sets.push(format!(
                "\"team_id\" = {}",
                sql.bind(Val::opt_uuid(after.meta.team_id.map(|i| i.0)))
            ));
        }
        sets.push(format!(
            "\"version\" = {}",
            sql.bind(Val::Int(after.meta.version))
        ));
        sets.push(format!("\"updated_at\" = {}", sql.bind(Val::Ts(at))));
        let pid = sql.bind(Val::Uuid(id.0));
        let pv = sql.bind(Val::Int(before.meta.version));
        let text = format!(
            "UPDATE {} SET {} WHERE id = {pid} AND version = {pv}",
            def.table,
            sets.join(", ")
        );
        tx.exec(&text, sql.params)
            .await
            .map_err(|e| StoreError::from_write(e, def.name))?;
        changelog::append(
            tx,
            at,
            actor.user_id,
            def.name,
            id,
            "update",
            Some(&before.to_json()),
            Some(&after.to_json()),
        )
        .await?;
        Ok(after)
    }

    /// Inside a write transaction: the record as the actor sees it, locked, at the expected
    /// version. `deleted` selects the recycle bin instead of live records.
    pub(crate) async fn locked<T: Entity>(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        id: Id,
        expected: i64,
        deleted: bool,
    ) -> Result<Record<T>> {
        let def = T::DEF;
        let cols = all_cols(def);
        let mut sql = Sql::default();
        let pid = sql.bind(Val::Uuid(id.0));
        let scope = query::scope(def, actor, &mut sql);
        let state = if deleted { "IS NOT NULL" } else { "IS NULL" };
        let text = format!(
            "SELECT {} FROM {} WHERE id = {pid} AND deleted_at {state} AND {scope}{}",
            select_list(&cols),
            def.table,
            for_update(tx)
        );
        let row = tx
            .fetch(&text, sql.params, &kinds(&cols))
            .await?
            .into_iter()
            .next();
        let record: Record<T> =
            row.map(decode_record)
                .transpose()?
                .ok_or(StoreError::NotFound {
                    entity: def.name,
                    id,
                })?;
        if record.meta.version != expected {
            return Err(StoreError::Conflict {
                entity: def.name,
                id,
                expected,
                actual: record.meta.version,
            });
        }
        Ok(record)
    }

    /// Move a record to the recycle bin.
    pub async fn delete<T: Entity>(
        &self,
        actor: &Actor,
        id: Id,
        expected_version: i64,
    ) -> Result<Record<T>> {
        self.set_deleted::<T>(actor, id, expected_version, true)
            .await
    }

    /// Bring a record back from the recycle bin.
    pub async fn restore<T: Entity>(
        &self,
        actor: &Actor,
        id: Id,
        expected_version: i64,
    ) -> Result<Record<T>> {
        self.set_deleted::<T>(actor, id, expected_version, false)
            .await
    }

    async fn set_deleted<T: Entity>(
        &self,
        actor: &Actor,
        id: Id,
        expected: i64,
        delete: bool,
    ) -> Result<Record<T>> {
        let def = T::DEF;
        self.require_unseen(actor, def.name, Right::Delete)?;
        let mut tx = self.db.begin().await?;
        let before = self
            .locked::<T>(&mut tx, actor, id, expected, !delete)
            .await?;
        require(actor, def.name, Right::Delete)?;
        let at = now();
        let mut after = before.clone();
        after.meta.version += 1;
        after.meta.updated_at = at;
        after.meta.deleted_at = delete.then_some(at);
        tx.exec(
            &format!(
                "UPDATE {} SET deleted_at = $1, version = $2, updated_at = $3 WHERE id = $4",
                def.table
            ),
            vec![
                Val::opt_ts(after.meta.deleted_at),
                Val::Int(after.meta.version),
                Val::Ts(at),
                Val::Uuid(id.0),
            ],
        )
        .await?;
        let action = if delete { "delete" } else { "restore" };
        Self::log_and_commit(
            tx,
            at,
            actor,
            def.name,
            id,
            action,
            Some(&before.to_json()),
            Some(&after.to_json()),
        )
        .await?;
        self.written(def.name);
        Ok(after)
    }

    /// A page of records the actor may see, filtered and sorted, with the cursor of the next
    /// page and, on request, the total count.
    pub async fn list<T: Entity>(&self, actor: &Actor, q: &ListQuery) -> Result<Page<Record<T>>> {
        require(actor, T::DEF.name, Right::Read)?;
        let defs = self.custom_fields(T::DEF.name).await?;
        self.list_inner(actor, q, &defs).await
    }

    async fn list_inner<T: Entity>(
        &self,
        actor: &Actor,
        q: &ListQuery,
        custom: &[CustomFieldDef],
    ) -> Result<Page<Record<T>>> {
        self.list_where(actor, q, custom, Sql::default(), vec![])
            .await
    }

    /// [`Self::list`] of the records that also meet `more`, predicates already bound in
    /// `sql` (a segment's conditions and facts); the list's own are bound after them. The
    /// right to read is the caller's check.
    pub(crate) async fn list_where<T: Entity>(
        &self,
        actor: &Actor,
        q: &ListQuery,
        custom: &[CustomFieldDef],
        mut sql: Sql,
        more: Vec<String>,
    ) -> Result<Page<Record<T>>> {
        let def = T::DEF;
        let backend = self.backend();
        if q.limit == 0 || q.limit > MAX_LIMIT {
            return Err(StoreError::invalid(
                "limit",
                "out_of_range",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let mut preds = vec![if q.deleted {
            "\"deleted_at\" IS NOT NULL".to_string()
        } else {
            "\"deleted_at\" IS NULL".to_string()
        }];
        preds.push(query::scope(def, actor, &mut sql));
        for f in &q.filters {
            preds.push(query::filter(def, custom, backend, f, &mut sql)?);
        }
        preds.extend(more);
        let order = query::order(def, custom, backend, q)?;
        let conn = &mut self.db.reader().await?;
        let total = if q.with_count {
            let text = match q.count_cap {
                Some(cap) => format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM {} WHERE {} LIMIT {}) AS capped",
                    def.table,
                    preds.join(" AND "),
                    u64::from(cap) + 1
                ),
                None => format!(
                    "SELECT COUNT(*) FROM {} WHERE {}",
                    def.table,
                    preds.join(" AND ")
                ),
            };
            let rows = conn.fetch(&text, sql.params.clone(), &[Kind::Int]).await?;
            rows.first().and_then(|r| r[0].as_i64())
        } else {
            None
        };
        if let Some(c) = &q.cursor {
            preds.push(order.after(c, &mut sql)?);
        }
        let cols = all_cols(def);
        let mut kinds = kinds(&cols);
        kinds.push(order.kind());
        let text = format!(
            "SELECT {}, {} FROM {} WHERE {} ORDER BY {} LIMIT {}",
            select_list(&cols),
            order.target.expr,
            def.table,
            preds.join(" AND "),
            order.clause(backend),
            q.limit + 1
        );
        let mut rows = conn.fetch(&text, sql.params, &kinds).await?;
        let more = rows.len() > q.limit as usize;
        rows.truncate(q.limit as usize);
        let mut next_cursor = None;
        let mut items = Vec::with_capacity(rows.len());
        let last = rows.len();
        for (i, mut row) in rows.into_iter().enumerate() {
            let sort_value = row.pop().unwrap_or(Val::Null(Kind::Text));
            let record: Record<T> = decode_record(row)?;
            if more && i + 1 == last {
                next_cursor = Some(order.cursor(sort_value, record.meta.id.0));
            }
            items.push(record);
        }
        Ok(Page {
            items,
            next_cursor,
            total,
        })
    }

    /// Bulk load (demo data, migrations from other systems, the companies an import
    /// names): records written in one transaction with multi-row inserts, recorded as one
    /// `import` change-log entry listing the count and id range. Checked as [`create`]
    /// checks one record, in a few queries per batch: fields and custom fields, references
    /// (within the actor's sight; records of the batch itself count), owners (default the
    /// actor), and the team, which is the owner's. Errors name the record's index, `[3].name`
    /// ([`errors_by_record`] groups them); nothing is written unless every record passes.
    ///
    /// [`create`]: Self::create
    pub async fn import<T: Entity>(
        &self,
        actor: &Actor,
        records: Vec<NewRecord<T>>,
    ) -> Result<Vec<Id>> {
        self.bulk_create(actor, records, true).await
    }

    /// What [`import`](Self::import) would answer, without writing (a dry run).
    pub async fn check_import<T: Entity>(
        &self,
        actor: &Actor,
        records: Vec<NewRecord<T>>,
    ) -> Result<()> {
        self.bulk_create(actor, records, false).await.map(drop)
    }

    async fn bulk_create<T: Entity>(
        &self,
        actor: &Actor,
        mut records: Vec<NewRecord<T>>,
        write: bool,
    ) -> Result<Vec<Id>> {
        let def = T::DEF;
        require(actor, def.name, Right::Create)?;
        if records.is_empty() {
            return Ok(vec![]);
        }
        let defs = self.custom_fields(def.name).await?;
        let mut errors = ValidationErrors::new();
        for (i, r) in records.iter_mut().enumerate() {
            match Self::check(&mut r.data, &r.custom, &defs) {
                Ok(()) => {}
                Err(StoreError::Invalid(e)) => errors.0.extend(indexed(i, e)),
                Err(e) => return Err(e),
            }
        }
        let ids: Vec<Id> = records.iter().map(|r| r.id.unwrap_or_default()).collect();
        let mut tx = self.db.begin().await?;
        let owners: Vec<Id> = records
            .iter()
            .map(|r| r.owner_id.unwrap_or(actor.user_id))
            .collect();
        let teams = if def.scoped {
            owner_teams(&mut tx, actor, &owners).await?
        } else {
            Default::default()
        };
        let new_ids: HashSet<Uuid> = ids.iter().map(|id| id.0).collect();
        let writes: Vec<_> = ids
            .iter()
            .zip(&records)
            .map(|(id, r)| (*id, &r.data, None))
            .collect();
        let refused = reference_errors(&mut tx, actor, &writes, &new_ids, &HashSet::new()).await?;
        drop(writes);
        let at = now();
        let mut rows = Vec::with_capacity(records.len());
        for (i, ((r, id), (owner, refused))) in records
            .into_iter()
            .zip(&ids)
            .zip(owners.into_iter().zip(refused))
            .enumerate()
        {
            errors.0.extend(indexed(i, refused));
            let (owner, team) = if def.scoped {
                let Some(&team) = teams.get(&owner) else {
                    let e = unknown_reference("owner_id", "users", owner.0);
                    errors.0.extend(indexed(i, ValidationErrors(vec![e])));
                    continue;
                };
                in_scope(actor, def.name, owner, team, Right::Create)?;
                (Some(owner), team)
            } else {
                (None, None)
            };
            let meta = Meta {
                id: *id,
                version: 1,
                created_at: at,
                updated_at: at,
                deleted_at: None,
                owner_id: owner,
                team_id: team,
            };
            rows.push(Record {
                meta,
                data: r.data,
                custom: r.custom,
            });
        }
        errors.into_result().map_err(StoreError::Invalid)?;
        if !write {
            // Dropping the transaction rolls it back.
            return Ok(ids);
        }
        let fields = rows
            .iter()
            .map(|r| encode_fields(&r.data))
            .collect::<Result<Vec<_>>>()?;
        insert_imported(&mut tx, at, actor, &rows, fields, None).await?;
        tx.commit().await?;
        self.written(def.name);
        Ok(ids)
    }
}

/// Errors of the `i`th record of a batch, named by its index: `[3].name`.
fn indexed(i: usize, errors: ValidationErrors) -> impl Iterator<Item = FieldError> {
    errors.0.into_iter().map(move |mut e| {
        e.field = format!("[{i}].{}", e.field);
        e
    })
}

/// The errors of a [`Store::import`] by the index of the record they are about, with
/// the index taken off the field (`[3].name` → 3: `name`), so that a caller can drop the
/// records that failed and say why. Errors that name no record are left out.
pub fn errors_by_record(errors: &ValidationErrors) -> BTreeMap<usize, ValidationErrors> {
    let mut by = BTreeMap::<usize, ValidationErrors>::new();
    for e in &errors.0 {
        let Some((i, field)) = e.field.strip_prefix('[').and_then(|f| f.split_once("].")) else {
            continue;
        };
        if let Ok(i) = i.parse() {
            by.entry(i).or_default().0.push(FieldError {
                field: field.into(),
                ..e.clone()
            });
        }
    }
    by
}

/// The team of each owner in `owners` that the writer may name: a user they may read (the
/// writer themself always, with their own team). Owners missing from the answer may not
/// be named. One query, however many owners.
async fn owner_teams(tx: &mut Tx, actor: &Actor, owners: &[Id]) -> Result<HashMap<Id, Option<Id>>> {
    let mut teams = HashMap::new();
    let mut others: Vec<Uuid> = vec![];
    for o in owners {
        if *o == actor.user_id {
            teams.insert(*o, actor.team_id);
        } else {
            others.push(o.0);
        }
    }
    others.sort_unstable();
    others.dedup();
    for row in readable_rows(tx, actor, "users", &others, &[("team_id", Kind::Uuid)]).await? {
        if let Some(id) = row[0].as_uuid() {
            teams.insert(Id(id), row[1].as_uuid().map(Id));
        }
    }
    Ok(teams)
}

/// Whether the writer's scope takes in a record of `owner` and `team`: a rep cannot hand
/// a record to a stranger, a manager only within their teams.
fn in_scope(
    actor: &Actor,
    entity: &'static str,
    owner: Id,
    team: Option<Id>,
    right: Right,
) -> Result<()> {
    if actor.scope() != guanxi_domain::Scope::Partner && !actor.sees(Some(owner), team, None) {
        return Err(StoreError::Forbidden { entity, right });
    }
    Ok(())
}

/// A record about to be written, as the reference check sees it: its id, its fields and,
/// for an update, its fields before.
pub(crate) type Referrer<'a, T> = (Id, &'a T, Option<&'a T>);

/// The reference errors of records written together, a list per record (empty when all
/// hold), in a query per table referred to, not per record. References must point at live
/// records the writer may read, and deals must sit on a stage of their pipeline. A
/// reference the writer may not read is refused exactly like one to a record that does
/// not exist, so ids outside one's scope cannot be probed. A reference an update leaves as
/// it was need only still exist: the writer did not choose it (a rep may edit their
/// contact on a manager's account). References hold without a look-up to `new_ids`
/// (records of `T` written in the same batch) and to `vouched` ids (records an importer
/// resolved itself, within the importer's scope).
pub(crate) async fn reference_errors<T: Entity>(
    tx: &mut Tx,
    actor: &Actor,
    writes: &[Referrer<'_, T>],
    new_ids: &HashSet<Uuid>,
    vouched: &HashSet<Uuid>,
) -> Result<Vec<ValidationErrors>> {
    let own_table = T::DEF.table;
    // Each reference with whether an update kept it; the ids to look up by who chose them.
    let holds = |table: &str, target: &Uuid| {
        vouched.contains(target) || (table == own_table && new_ids.contains(target))
    };
    let mut refs = Vec::with_capacity(writes.len());
    let mut lookups: HashMap<(&str, bool), Vec<Uuid>> = HashMap::new();
    for (id, data, before) in writes {
        let kept = match before {
            Some(b) => references(*b)?,
            None => vec![],
        };
        let mut these = vec![];
        for r in references(*data)? {
            let (_, table, target) = r;
            let is_kept = kept.contains(&r);
            let itself = table == own_table && target == id.0;
            if !itself && !holds(table, &target) {
                lookups.entry((table, is_kept)).or_default().push(target);
            }
            these.push((r, is_kept));
        }
        refs.push(these);
    }
    let mut seen = HashMap::new();
    for ((table, kept), mut ids) in lookups {
        ids.sort_unstable();
        ids.dedup();
        let chosen_by = if kept { &Actor::system() } else { actor };
        seen.insert((table, kept), readable(tx, chosen_by, table, &ids).await?);
    }
    let mut out = Vec::with_capacity(writes.len());
    for ((id, _, _), these) in writes.iter().zip(refs) {
        let mut errors = ValidationErrors::new();
        for ((field, table, target), kept) in these {
            if table == own_table && target == id.0 {
                errors.add(field, "invalid", "a record cannot refer to itself");
            } else if !holds(table, &target)
                && !seen
                    .get(&(table, kept))
                    .is_some_and(|s| s.contains(&target))
            {
                errors.0.push(unknown_reference(field, table, target));
            }
        }
        out.push(errors);
    }
    stage_errors(tx, writes, &mut out).await?;
    Ok(out)
}

/// Deals must sit on a stage of their pipeline: added to each deal's `errors`, with one
/// query for the pipelines of the batch.
async fn stage_errors<T: Entity>(
    tx: &mut Tx,
    writes: &[Referrer<'_, T>],
    errors: &mut [ValidationErrors],
) -> Result<()> {
    let deals: Vec<(usize, &Opportunity)> = writes
        .iter()
        .enumerate()
        .filter_map(|(i, (_, data, _))| Some((i, (*data as &dyn Any).downcast_ref()?)))
        .collect();
    let mut ids: Vec<Uuid> = deals.iter().map(|(_, o)| o.pipeline_id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    let cols = all_cols(Pipeline::DEF);
    let mut pipelines = HashMap::new();
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let rows = tx
            .fetch(
                &format!(
                    "SELECT {} FROM pipelines WHERE id IN ({})",
                    select_list(&cols),
                    marks.join(", ")
                ),
                chunk.iter().map(|id| Val::Uuid(*id)).collect(),
                &kinds(&cols),
            )
            .await?;
        for row in rows {
            let p: Record<Pipeline> = decode_record(row)?;
            pipelines.insert(p.meta.id, p.data);
        }
    }
    for (i, deal) in deals {
        if let Some(Err(e)) = pipelines
            .get(&deal.pipeline_id)
            .map(|p| deal.check_against(p))
        {
            errors[i].0.extend(e.0);
        }
    }
    Ok(())
}

/// The records `data` points at: field, table and id of each reference that is set.
pub(crate) fn references<T: Entity>(data: &T) -> Result<Vec<(&'static str, &'static str, Uuid)>> {
    let encoded = encode_fields(data)?;
    Ok(T::DEF
        .fields
        .iter()
        .filter_map(|f| {
            let FieldType::Ref(table) = f.ty else {
                return None;
            };
            let target = encoded.get(field_index(T::DEF, f.name))?.as_uuid()?;
            Some((f.name, table, target))
        })
        .collect())
}

/// Which of `ids` are live records of `table` that `actor` may read: the entity's read
/// right and the actor's scope, as every read applies them.
pub(crate) async fn readable(
    tx: &mut Tx,
    actor: &Actor,
    table: &str,
    ids: &[Uuid],
) -> Result<HashSet<Uuid>> {
    let rows = readable_rows(tx, actor, table, ids, &[]).await?;
    Ok(rows.into_iter().filter_map(|r| r[0].as_uuid()).collect())
}

/// The id and `cols` of each of `ids` that is a live record of `table` the actor may read.
async fn readable_rows(
    tx: &mut Tx,
    actor: &Actor,
    table: &str,
    ids: &[Uuid],
    cols: &[(&str, Kind)],
) -> Result<Vec<Vec<Val>>> {
    let mut found = vec![];
    let Some(def) = guanxi_domain::entity::def_by_table(table) else {
        return Ok(found);
    };
    if ids.is_empty() || !actor.may(def.name, Right::Read) {
        return Ok(found);
    }
    let mut select = "id".to_string();
    let mut kinds = vec![Kind::Uuid];
    for (col, kind) in cols {
        select += &format!(", {}", quote(col));
        kinds.push(*kind);
    }
    for chunk in ids.chunks(500) {
        let mut sql = Sql::default();
        let marks: Vec<String> = chunk.iter().map(|id| sql.bind(Val::Uuid(*id))).collect();
        let scope = query::scope(def, actor, &mut sql);
        let text = format!(
            "SELECT {select} FROM {table} WHERE id IN ({}) AND deleted_at IS NULL AND {scope}",
            marks.join(", ")
        );
        found.extend(tx.fetch(&text, sql.params, &kinds).await?);
    }
    Ok(found)
}

/// Whether `id` is a live record of `table` that `actor` may read.
pub(crate) async fn may_read(tx: &mut Tx, actor: &Actor, table: &str, id: Uuid) -> Result<bool> {
    Ok(readable(tx, actor, table, &[id]).await?.contains(&id))
}

/// The one answer to a reference that is missing, deleted or out of the writer's sight.
pub(crate) fn unknown_reference(field: &str, table: &str, id: Uuid) -> FieldError {
    FieldError {
        field: field.into(),
        code: "not_found",
        message: format!("no record in {table} with id {id}"),
    }
}

fn field_index(def: &guanxi_domain::EntityDef, name: &str) -> usize {
    let mut i = 0;
    for f in def.fields {
        if f.name == name {
            return i;
        }
        i += if f.ty == FieldType::Money { 2 } else { 1 };
    }
    i
}

/// Insert records created together by a bulk load, all stamped `at`, and log them as one
/// `import` entry (count, lowest and highest id, and the import job when there is one).
/// Followers of the log find the records by that id range and time stamp
/// ([`crate::Store::events_after`] expands the entry into one event per record). `fields` are the
/// records' [`encode_fields`], in the same order (encoded by the caller, who may have done
/// it off the writer's path).
pub(crate) async fn insert_imported<T: Entity>(
    tx: &mut Tx,
    at: DateTime<Utc>,
    actor: &Actor,
    rows: &[Record<T>],
    fields: Vec<Vec<Val>>,
    job: Option<Id>,
) -> Result<()> {
    // The lowest and highest id, not the first and last row: ids a caller chose (demo
    // data) need not come in order, and followers read the records back by this range.
    let ids = rows.iter().map(|r| r.meta.id);
    let (Some(first), Some(last)) = (ids.clone().min(), ids.max()) else {
        return Ok(());
    };
    let name = T::DEF.name;
    assert_eq!(rows.len(), fields.len(), "a field list per record");
    insert_rows(tx, rows.iter().zip(fields).collect())
        .await
        .map_err(|e| StoreError::from_write(e, name))?;
    let mut summary = serde_json::json!({
        "count": rows.len(),
        "first_id": first,
        "last_id": last,
    });
    if let Some(job) = job {
        summary["job"] = serde_json::json!(job);
    }
    changelog::append(
        tx,
        at,
        actor.user_id,
        name,
        Id::SYSTEM,
        "import",
        None,
        Some(&summary),
    )
    .await?;
    Ok(())
}

/// Insert records, given with their [`encode_fields`], with as few statements as the
/// parameter limit allows.
async fn insert_rows<T: Entity>(tx: &mut Tx, rows: Vec<(&Record<T>, Vec<Val>)>) -> Result<()> {
    let def = T::DEF;
    let mut cols = meta_cols(def);
    cols.extend(field_cols(def));
    cols.push(crate::codec::Col {
        name: quote("custom"),
        kind: Kind::Json,
    });
    let per_row = cols.len();
    let rows_per_stmt = (30_000 / per_row).clamp(1, 200);
    let head = format!("INSERT INTO {} ({}) VALUES ", def.table, select_list(&cols));
    // Every full chunk has the same text: built once, not per chunk.
    let mut text: Option<(usize, String)> = None;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut params = Vec::with_capacity(rows_per_stmt * per_row);
        let mut n = 0;
        for (r, fields) in rows.by_ref().take(rows_per_stmt) {
            let m = &r.meta;
            params.extend([
                Val::Uuid(m.id.0),
                Val::Int(m.version),
                Val::Ts(m.created_at),
                Val::Ts(m.updated_at),
                Val::opt_ts(m.deleted_at),
            ]);
            if def.scoped {
                params.push(Val::opt_uuid(m.owner_id.map(|i| i.0)));
                params.push(Val::opt_uuid(m.team_id.map(|i| i.0)));
            }
            params.extend(fields);
            params.push(Val::Json(r.custom.clone().into()));
            n += 1;
        }
        debug_assert_eq!(params.len(), n * per_row);
        if text.as_ref().is_none_or(|(len, _)| *len != n) {
            text = Some((n, head.clone() + &placeholders(n, per_row)));
        }
        let (_, sql) = text.as_ref().expect("just built");
        tx.exec(sql, params).await?;
    }
    Ok(())
}

/// `($1, $2), ($3, $4)` for 2 rows of 2 values.
fn placeholders(rows: usize, per_row: usize) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(rows * per_row * 6);
    for r in 0..rows {
        s.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..per_row {
            let sep = if c == 0 { "" } else { ", " };
            let _ = write!(s, "{sep}${}", r * per_row + c + 1);
        }
        s.push(')');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_number_rows_after_each_other() {
        assert_eq!(placeholders(1, 1), "($1)");
        assert_eq!(placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        let many = placeholders(200, 30);
        assert!(
            many.ends_with("$5999, $6000)"),
            "{}",
            &many[many.len() - 20..]
        );
        assert_eq!(many.matches('(').count(), 200);
    }
}
