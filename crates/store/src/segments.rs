//! Segments read as SQL: a segment's conditions and facts become predicates on its
//! entity's table, inside the reader's scope; the facts' related records (orders, cases,
//! interactions, contacts) are read through the reader's scope too, so a segment neither
//! holds a record its reader may not see nor tells anything about records they may not see.
//! A static list's members are rows of `segment_members`.

use crate::db::{Backend, Kind, Val};
use crate::query::{self, Sql};
use crate::records::{now, require};
use crate::{Result, Store, StoreError, changelog};
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::entities::{
    Account, Case, ConsentChannel, Contact, Fact, Interaction, Order, Segment, SegmentKind,
    SegmentOf,
};
use guanxi_domain::filter::{Filter, ListQuery, Page};
use guanxi_domain::{Actor, Entity, FieldError, Id, Record, Right, ValidationErrors};
use serde_json::json;

/// The most records one call adds to or removes from a static list.
pub const MAX_MEMBERS_PER_CALL: usize = 1_000;

/// A segment as the store reads it: what it is and, once saved, its id (a static list's
/// members are stored under it; a segment being edited has none yet).
#[derive(Debug, Clone, Copy)]
pub struct SegmentRef<'a> {
    pub segment: &'a Segment,
    pub id: Option<Id>,
}

impl<'a> From<&'a Record<Segment>> for SegmentRef<'a> {
    fn from(r: &'a Record<Segment>) -> Self {
        Self {
            segment: &r.data,
            id: Some(r.meta.id),
        }
    }
}

impl Store {
    /// How many records the segment holds for `actor`, at `at` (the moment "in the last N
    /// days" counts back from).
    pub async fn segment_count(
        &self,
        actor: &Actor,
        seg: SegmentRef<'_>,
        at: DateTime<Utc>,
    ) -> Result<i64> {
        let def = seg.segment.def();
        require(actor, def.name, Right::Read)?;
        let mut sql = Sql::default();
        let preds = self.segment_predicates(actor, seg, at, &mut sql).await?;
        let text = format!(
            "SELECT COUNT(*) FROM {} WHERE {}",
            def.table,
            preds.join(" AND ")
        );
        let rows = self.db.fetch(&text, sql.params, &[Kind::Int]).await?;
        Ok(rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0))
    }

    /// A page of the segment's accounts (`T` = [`Account`]) or contacts, with the list's
    /// own filters, sort and cursor on top.
    pub async fn segment_members<T: Entity>(
        &self,
        actor: &Actor,
        seg: SegmentRef<'_>,
        q: &ListQuery,
        at: DateTime<Utc>,
    ) -> Result<Page<Record<T>>> {
        let def = seg.segment.def();
        if def.name != T::DEF.name {
            return Err(StoreError::invalid(
                "entity",
                "invalid",
                format!("this segment holds {}s", def.name),
            ));
        }
        require(actor, def.name, Right::Read)?;
        let custom = self.custom_fields(def.name).await?;
        let mut sql = Sql::default();
        let preds = self.segment_predicates(actor, seg, at, &mut sql).await?;
        self.list_where(actor, q, &custom, sql, preds).await
    }

    /// The predicates (ANDed) selecting the segment's records, the record scope and
    /// "not deleted" included.
    pub(crate) async fn segment_predicates(
        &self,
        actor: &Actor,
        seg: SegmentRef<'_>,
        at: DateTime<Utc>,
        sql: &mut Sql,
    ) -> Result<Vec<String>> {
        let s = seg.segment;
        let def = s.def();
        let backend = self.backend();
        let mut preds = vec![
            "\"deleted_at\" IS NULL".to_string(),
            query::scope(def, actor, sql),
        ];
        if s.kind == SegmentKind::Static {
            let Some(id) = seg.id else {
                // An unsaved list has no members yet.
                preds.push("1=0".into());
                return Ok(preds);
            };
            preds.push(format!(
                "\"id\" IN (SELECT record_id FROM segment_members WHERE segment_id = {})",
                sql.bind(Val::Uuid(id.0))
            ));
            return Ok(preds);
        }
        let own = self.custom_fields(def.name).await?;
        let mut on_account = vec![];
        for (i, c) in s.conditions.iter().enumerate() {
            let (target, field) = s.condition_target(&c.field);
            let f = Filter {
                field: field.to_string(),
                ..c.clone()
            };
            let named = |e| at_path(e, &format!("conditions[{i}]"));
            if target.name == def.name {
                preds.push(query::filter(def, &own, backend, &f, sql).map_err(named)?);
            } else {
                on_account.push((i, f));
            }
        }
        if !on_account.is_empty() {
            // A contact's account's fields: one subquery over the accounts the reader sees.
            let custom = self.custom_fields(Account::DEF.name).await?;
            let mut inner = vec![
                "\"deleted_at\" IS NULL".to_string(),
                query::scope(Account::DEF, actor, sql),
            ];
            for (i, f) in on_account {
                let named = |e| at_path(e, &format!("conditions[{i}]"));
                inner.push(query::filter(Account::DEF, &custom, backend, &f, sql).map_err(named)?);
            }
            preds.push(format!(
                "\"account_id\" IN (SELECT \"id\" FROM accounts WHERE {})",
                inner.join(" AND ")
            ));
        }
        for f in &s.facts {
            preds.push(fact(actor, s.entity, f, at, backend, sql));
        }
        Ok(preds)
    }

    /// Put records in a static list (those already in it stay once). Every id must be a
    /// record of the list's entity the actor may see; otherwise nothing is added and the
    /// refusal names the first id that is not (`ids[3]`). Returns how many were new.
    pub async fn add_to_list(&self, actor: &Actor, list: Id, ids: &[Id]) -> Result<usize> {
        self.change_list(actor, list, ids, true).await
    }

    /// Take records out of a static list; returns how many were in it.
    pub async fn remove_from_list(&self, actor: &Actor, list: Id, ids: &[Id]) -> Result<usize> {
        self.change_list(actor, list, ids, false).await
    }

    async fn change_list(&self, actor: &Actor, list: Id, ids: &[Id], add: bool) -> Result<usize> {
        require(actor, Segment::DEF.name, Right::Update)?;
        let seg = self.get::<Segment>(actor, list).await?;
        if seg.data.kind != SegmentKind::Static {
            return Err(StoreError::invalid(
                "kind",
                "invalid",
                "records are put in a static list; a dynamic segment is its conditions",
            ));
        }
        if ids.is_empty() || ids.len() > MAX_MEMBERS_PER_CALL {
            return Err(StoreError::invalid(
                "ids",
                "out_of_range",
                format!("1 to {MAX_MEMBERS_PER_CALL} ids at a time"),
            ));
        }
        let def = seg.data.def();
        require(actor, def.name, Right::Read)?;
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        let mut tx = self.db.begin().await?;
        let changed = if add {
            let wanted: Vec<uuid::Uuid> = ids.iter().map(|i| i.0).collect();
            let seen = crate::records::readable(&mut tx, actor, def.table, &wanted).await?;
            let mut refused = ValidationErrors::new();
            for (i, id) in ids.iter().enumerate() {
                if !seen.contains(&id.0) {
                    refused.0.push(FieldError {
                        field: format!("ids[{i}]"),
                        code: "not_found",
                        message: format!("no {} {id} that you may see", def.name),
                    });
                }
            }
            if !refused.0.is_empty() {
                return Err(StoreError::Invalid(refused));
            }
            let at = now();
            let mut params = vec![Val::Uuid(list.0), Val::Ts(at)];
            let rows: Vec<String> = ids
                .iter()
                .map(|id| {
                    params.push(Val::Uuid(id.0));
                    format!("($1, ${}, $2)", params.len())
                })
                .collect();
            tx.exec(
                &format!(
                    "INSERT INTO segment_members (segment_id, record_id, added_at) VALUES {} \
                     ON CONFLICT (segment_id, record_id) DO NOTHING",
                    rows.join(", ")
                ),
                params,
            )
            .await?
        } else {
            let mut params = vec![Val::Uuid(list.0)];
            let marks: Vec<String> = ids
                .iter()
                .map(|id| {
                    params.push(Val::Uuid(id.0));
                    format!("${}", params.len())
                })
                .collect();
            tx.exec(
                &format!(
                    "DELETE FROM segment_members WHERE segment_id = $1 AND record_id IN ({})",
                    marks.join(", ")
                ),
                params,
            )
            .await?
        };
        let key = if add { "added" } else { "removed" };
        changelog::append(
            &mut tx,
            now(),
            actor.user_id,
            Segment::DEF.name,
            list,
            "members",
            None,
            Some(&json!({ key: ids, "count": changed })),
        )
        .await?;
        tx.commit().await?;
        Ok(changed as usize)
    }
}

/// A condition's refusal named by its place in the segment (`conditions[2].field`).
fn at_path(e: StoreError, path: &str) -> StoreError {
    match e {
        StoreError::Invalid(v) => StoreError::Invalid(ValidationErrors(
            v.0.into_iter()
                .map(|f| FieldError {
                    field: match f.code {
                        "unknown_field" => format!("{path}.field"),
                        _ => format!("{path}.value"),
                    },
                    ..f
                })
                .collect(),
        )),
        other => other,
    }
}

/// Revenue orders: not drafts, not cancelled (`OrderStatus::is_revenue`).
const REVENUE: &str = "o.\"status\" NOT IN ('draft', 'cancelled')";

/// One fact as a predicate on the segment's table (`accounts` or `contacts`).
fn fact(
    actor: &Actor,
    of: SegmentOf,
    f: &Fact,
    at: DateTime<Utc>,
    backend: Backend,
    sql: &mut Sql,
) -> String {
    let since = |days: u32, sql: &mut Sql| sql.bind(Val::Ts(at - Duration::days(days.into())));
    // An order or a case is an account's, and for a contact its own or its account's.
    let whose = |alias: &str| match of {
        SegmentOf::Account => format!("{alias}.\"account_id\" = accounts.\"id\""),
        SegmentOf::Contact => format!(
            "({alias}.\"contact_id\" = contacts.\"id\" OR {alias}.\"account_id\" = contacts.\"account_id\")"
        ),
    };
    match f {
        Fact::Bought {
            product_id,
            sku,
            within_days,
        } => {
            let mut preds = vec![
                "o.\"deleted_at\" IS NULL".to_string(),
                whose("o"),
                REVENUE.to_string(),
            ];
            if let Some(d) = within_days {
                preds.push(format!("o.\"ordered_at\" >= {}", since(*d, sql)));
            }
            preds.push(query::scope(Order::DEF, actor, sql));
            let sku = sku.as_deref().filter(|s| !s.is_empty());
            preds.push(match backend {
                Backend::Sqlite => {
                    let mut on_line = vec![];
                    if let Some(p) = product_id {
                        let v = sql.bind(Val::Text(p.to_string()));
                        on_line.push(format!("json_extract(l.value, '$.product_id') = {v}"));
                    }
                    if let Some(s) = sku {
                        let v = sql.bind(Val::Text(s.to_string()));
                        on_line.push(format!("json_extract(l.value, '$.sku') = {v}"));
                    }
                    format!(
                        "EXISTS (SELECT 1 FROM json_each(o.\"lines\") l WHERE {})",
                        on_line.join(" AND ")
                    )
                }
                Backend::Postgres => {
                    let mut line = serde_json::Map::new();
                    if let Some(p) = product_id {
                        line.insert("product_id".into(), json!(p.to_string()));
                    }
                    if let Some(s) = sku {
                        line.insert("sku".into(), json!(s));
                    }
                    let v = sql.bind(Val::Json(json!([line])));
                    format!("o.\"lines\" @> {v}")
                }
            });
            format!(
                "EXISTS (SELECT 1 FROM orders o WHERE {})",
                preds.join(" AND ")
            )
        }
        Fact::NoOrderIn { days } => {
            let t = since(*days, sql);
            let scope = query::scope(Order::DEF, actor, sql);
            format!(
                "NOT EXISTS (SELECT 1 FROM orders o WHERE o.\"deleted_at\" IS NULL AND {} AND {REVENUE} \
                 AND o.\"ordered_at\" >= {t} AND {scope})",
                whose("o")
            )
        }
        Fact::OpenedCase {
            category,
            within_days,
        } => {
            let mut preds = vec!["k.\"deleted_at\" IS NULL".to_string(), whose("k")];
            if let Some(c) = category.as_deref().filter(|c| !c.is_empty()) {
                preds.push(format!(
                    "k.\"category\" = {}",
                    sql.bind(Val::Text(c.into()))
                ));
            }
            if let Some(d) = within_days {
                preds.push(format!("k.\"created_at\" >= {}", since(*d, sql)));
            }
            preds.push(query::scope(Case::DEF, actor, sql));
            format!(
                "EXISTS (SELECT 1 FROM cases k WHERE {})",
                preds.join(" AND ")
            )
        }
        Fact::InCampaign { campaign_id } => {
            // Taking part is personal: a contact's own interactions, an account's all.
            let whose = match of {
                SegmentOf::Account => "i.\"account_id\" = accounts.\"id\"",
                SegmentOf::Contact => "i.\"contact_id\" = contacts.\"id\"",
            };
            let c = sql.bind(Val::Uuid(campaign_id.0));
            let scope = query::scope(Interaction::DEF, actor, sql);
            format!(
                "EXISTS (SELECT 1 FROM interactions i WHERE i.\"deleted_at\" IS NULL \
                 AND i.\"campaign_id\" = {c} AND {whose} AND {scope})"
            )
        }
        Fact::Consent { channel, given } => consent(actor, of, *channel, *given, sql),
    }
}

fn consent(
    actor: &Actor,
    of: SegmentOf,
    channel: ConsentChannel,
    given: bool,
    sql: &mut Sql,
) -> String {
    let field = channel.field();
    match of {
        SegmentOf::Contact => {
            let t = sql.bind(Val::Bool(true));
            if given {
                format!("\"{field}\" = {t}")
            } else {
                format!("(\"{field}\" IS NULL OR \"{field}\" <> {t})")
            }
        }
        SegmentOf::Account => {
            let t = sql.bind(Val::Bool(true));
            let scope = query::scope(Contact::DEF, actor, sql);
            let not = if given { "" } else { "NOT " };
            format!(
                "{not}EXISTS (SELECT 1 FROM contacts c WHERE c.\"account_id\" = accounts.\"id\" \
                 AND c.\"deleted_at\" IS NULL AND c.\"{field}\" = {t} AND {scope})"
            )
        }
    }
}
