//! Segments: counting and listing what a segment holds for the person asking, the live
//! count of one being edited, and filling a static list from a selection or a spreadsheet.
//! Segments themselves are records, written through the one write path.

use crate::AppError;
use crate::access::{Masks, is_sensitive};
use crate::listing::refuse_sensitive_filters;
use chrono::Utc;
use guanxi_domain::entities::{Account, Contact, Segment, SegmentOf};
use guanxi_domain::filter::{Filter, ListQuery, Op, Page};
use guanxi_domain::{Actor, Entity, Id, Record, ValidationErrors};
use guanxi_store::{MAX_MEMBERS_PER_CALL, SegmentRef, Store};
use serde::Serialize;
use serde_json::Value;

/// The conditions of a segment must not tell apart the values of a field the reader sees
/// masked (a contact's mobile): refused, naming the condition.
async fn refuse_sensitive(store: &Store, actor: &Actor, s: &Segment) -> Result<(), AppError> {
    if actor.role.see_sensitive {
        return Ok(());
    }
    for (i, c) in s.conditions.iter().enumerate() {
        let (def, field) = s.condition_target(&c.field);
        let custom = store.custom_fields(def.name).await?;
        if is_sensitive(def, &custom, field) {
            return Err(AppError::Forbidden(format!(
                "conditions[{i}]: filtering on {} needs the right to see it",
                c.field
            )));
        }
    }
    Ok(())
}

/// How many records a segment being edited would hold for the actor now: checked as
/// saving it would check it, so the live count and the save refuse the same things.
pub async fn preview(store: &Store, actor: &Actor, mut s: Segment) -> Result<i64, AppError> {
    s.normalize();
    s.validate()?;
    refuse_sensitive(store, actor, &s).await?;
    let seg = SegmentRef {
        segment: &s,
        id: None,
    };
    Ok(store.segment_count(actor, seg, Utc::now()).await?)
}

/// How many records a saved segment holds for the actor now.
pub async fn count(store: &Store, actor: &Actor, id: Id) -> Result<i64, AppError> {
    let seg = store.get::<Segment>(actor, id).await?;
    refuse_sensitive(store, actor, &seg.data).await?;
    Ok(store
        .segment_count(actor, (&seg).into(), Utc::now())
        .await?)
}

/// A page of a saved segment's members, as the actor may read them (masked), with the
/// list's own filters and sort on top.
pub async fn members(
    store: &Store,
    actor: &Actor,
    seg: &Record<Segment>,
    q: &ListQuery,
) -> Result<Page<Value>, AppError> {
    refuse_sensitive(store, actor, &seg.data).await?;
    match seg.data.entity {
        SegmentOf::Account => members_of::<Account>(store, actor, seg, q).await,
        SegmentOf::Contact => members_of::<Contact>(store, actor, seg, q).await,
    }
}

async fn members_of<T: Entity>(
    store: &Store,
    actor: &Actor,
    seg: &Record<Segment>,
    q: &ListQuery,
) -> Result<Page<Value>, AppError> {
    let p = Masks::load(store, actor, &[T::DEF.name]).await?;
    refuse_sensitive_filters(actor, T::DEF, p.custom(T::DEF.name), q)?;
    let page = store
        .segment_members::<T>(actor, seg.into(), q, Utc::now())
        .await?;
    Ok(Page {
        items: p.all(actor, &page.items),
        next_cursor: page.next_cursor,
        total: page.total,
    })
}

/// What reading a spreadsheet into a static list did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ListImport {
    /// Rows that named a record.
    pub matched: usize,
    /// Records new to the list.
    pub added: usize,
    /// Rows that named no record the reader may see (or no one record), by row number.
    pub unmatched: Vec<UnmatchedRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnmatchedRow {
    pub row: u64,
    pub reason: String,
}

/// Put the records a spreadsheet names into a static list. A row names a record by its
/// `id` column, or by the fields an import matches the entity by (a contact's e-mail or
/// mobile, an account's credit code), or its e-mail, or its exact name; the headers are read as the
/// importer reads them, in Chinese or English. Rows naming nothing, or several records,
/// are reported and skipped.
pub async fn import_into_list(
    store: &Store,
    actor: &Actor,
    list: Id,
    file_name: &str,
    bytes: Vec<u8>,
) -> Result<ListImport, AppError> {
    let seg = store.get::<Segment>(actor, list).await?;
    let def = seg.data.def();
    let table = guanxi_tabular::open_bytes(file_name, bytes)
        .map_err(|e| AppError::invalid("file", e.to_string()))?;
    let import = def.import.expect("accounts and contacts are importable");
    let mapping = guanxi_tabular::suggest(import.headers, &table.headers);
    let column = |field: &str| {
        table
            .headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(field))
            .or_else(|| {
                mapping
                    .columns
                    .iter()
                    .position(|c| c.as_deref() == Some(field))
            })
    };
    // The id, the keys an import matches by, the e-mail (a marketing list is often one),
    // then the exact name: the first a row fills names its record.
    let mut wanted: Vec<&str> = vec![];
    for f in ["id"].iter().chain(import.keys).chain(&["email", "name"]) {
        if !wanted.contains(f) {
            wanted.push(f);
        }
    }
    let mut keys: Vec<(&str, usize)> = vec![];
    for field in &wanted {
        if let Some(c) = column(field) {
            keys.push((field, c));
        }
    }
    if keys.is_empty() {
        return Err(AppError::invalid(
            "file",
            format!(
                "no column names a {}: give one of {}",
                def.name,
                wanted.join(", ")
            ),
        ));
    }
    let mut out = ListImport::default();
    let mut batch: Vec<Id> = vec![];
    for row in table {
        let row = match row {
            Ok(r) => r,
            Err(e) => match e.row() {
                Some(row) => {
                    out.unmatched.push(UnmatchedRow {
                        row,
                        reason: e.to_string(),
                    });
                    continue;
                }
                None => return Err(AppError::invalid("file", e.to_string())),
            },
        };
        match find_record(store, actor, seg.data.entity, &keys, &row).await? {
            Ok(id) => {
                out.matched += 1;
                batch.push(id);
            }
            Err(reason) => out.unmatched.push(UnmatchedRow {
                row: row.number,
                reason,
            }),
        }
        if batch.len() == MAX_MEMBERS_PER_CALL {
            out.added += store.add_to_list(actor, list, &batch).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        out.added += store.add_to_list(actor, list, &batch).await?;
    }
    Ok(out)
}

/// The one record a row names, by the first key column it fills.
async fn find_record(
    store: &Store,
    actor: &Actor,
    of: SegmentOf,
    keys: &[(&str, usize)],
    row: &guanxi_tabular::Row,
) -> Result<Result<Id, String>, AppError> {
    let Some((field, value)) = keys
        .iter()
        .find_map(|(f, c)| Some((*f, row.get(*c))).filter(|(_, v)| !v.is_empty()))
    else {
        return Ok(Err("the row names no record".into()));
    };
    if field == "id" && Id::parse(value).is_err() {
        return Ok(Err(format!("'{value}' is not an id")));
    }
    let q = ListQuery::default()
        .filter(Filter::new(field, Op::Eq, value))
        .limit(2);
    let ids: Vec<Id> = match of {
        SegmentOf::Account => ids(store.list::<Account>(actor, &q).await),
        SegmentOf::Contact => ids(store.list::<Contact>(actor, &q).await),
    }?;
    Ok(match ids.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!("no record you may see has {field} '{value}'")),
        _ => Err(format!("several records have {field} '{value}'")),
    })
}

fn ids<T: Entity>(
    page: Result<Page<Record<T>>, guanxi_store::StoreError>,
) -> Result<Vec<Id>, AppError> {
    match page {
        Ok(p) => Ok(p.items.iter().map(|r| r.meta.id).collect()),
        // A value that does not fit the field (an e-mail column holding junk) names no one.
        Err(guanxi_store::StoreError::Invalid(_)) => Ok(vec![]),
        Err(e) => Err(e.into()),
    }
}

/// A refusal of the ids given to a list, for front ends that read ids from text.
pub fn parse_ids(raw: &[String]) -> Result<Vec<Id>, AppError> {
    let mut errors = ValidationErrors::new();
    let mut ids = vec![];
    for (i, s) in raw.iter().enumerate() {
        match Id::parse(s.trim()) {
            Ok(id) => ids.push(id),
            Err(_) => errors.add(
                format!("ids[{i}]"),
                "invalid",
                format!("'{s}' is not an id"),
            ),
        }
    }
    if errors.0.is_empty() {
        Ok(ids)
    } else {
        Err(AppError::Invalid(errors))
    }
}
