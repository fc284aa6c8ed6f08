//! The names behind ids: a page shows "上海华为" and "王芳", not two UUIDs. One query per
//! referenced table for a whole page, each within what the user may see.

use super::fields::Names;
use guanxi_domain::entities::*;
use guanxi_domain::entity::{EntityDef, FieldType};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Entity, Id, Record};
use guanxi_store::Store;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Ids to name, by table.
#[derive(Default)]
pub struct Wanted(BTreeMap<&'static str, BTreeSet<Id>>);

impl Wanted {
    pub fn add(&mut self, table: &'static str, raw: &Value) {
        if let Some(id) = raw.as_str().and_then(|s| Id::parse(s).ok()) {
            self.0.entry(table).or_default().insert(id);
        }
    }

    /// Every reference of a record's JSON, its owner and team included.
    pub fn record(&mut self, def: &EntityDef, json: &Value) {
        for f in def.fields {
            if let FieldType::Ref(table) = f.ty {
                self.add(table, &json[f.name]);
            }
        }
        self.add("users", &json["owner_id"]);
        self.add("teams", &json["team_id"]);
    }

    pub async fn resolve(self, store: &Store, actor: &Actor) -> Names {
        let mut out = Names::new();
        for (table, ids) in self.0 {
            let ids: Vec<Id> = ids.into_iter().collect();
            // Owners and teams are named for everyone: they are the company's own people.
            let system = Actor::system();
            let r = match table {
                "accounts" => named::<Account>(store, actor, &ids, |a| a.name.clone()).await,
                "contacts" => named::<Contact>(store, actor, &ids, |c| c.name.clone()).await,
                "leads" => named::<Lead>(store, actor, &ids, |l| l.name.clone()).await,
                "opportunities" => {
                    named::<Opportunity>(store, actor, &ids, |o| o.name.clone()).await
                }
                "cases" => {
                    named::<Case>(store, actor, &ids, |c| {
                        format!("{} {}", c.number, c.subject)
                    })
                    .await
                }
                "orders" => named::<Order>(store, actor, &ids, |o| o.number.clone()).await,
                "products" => named::<Product>(store, actor, &ids, |p| p.name.clone()).await,
                "pipelines" => named::<Pipeline>(store, &system, &ids, |p| p.name.clone()).await,
                "users" => named::<User>(store, &system, &ids, |u| u.name.clone()).await,
                "teams" => named::<Team>(store, &system, &ids, |t| t.name.clone()).await,
                "webhooks" => named::<Webhook>(store, &system, &ids, |h| h.name.clone()).await,
                "email_templates" => {
                    named::<EmailTemplate>(store, &system, &ids, |t| t.name.clone()).await
                }
                "robots" => named::<Robot>(store, &system, &ids, |r| r.name.clone()).await,
                "calendars" => named::<Calendar>(store, &system, &ids, |c| c.name.clone()).await,
                "sla_policies" => {
                    named::<SlaPolicy>(store, &system, &ids, |p| p.name.clone()).await
                }
                "segments" => named::<Segment>(store, actor, &ids, |s| s.name.clone()).await,
                "campaigns" => named::<Campaign>(store, actor, &ids, |c| c.name.clone()).await,
                _ => Ok(vec![]),
            };
            match r {
                Ok(pairs) => out.extend(pairs),
                // A name is a nicety: the page still shows, with short ids.
                Err(e) => tracing::warn!("naming {table} failed: {e}"),
            }
        }
        out
    }
}

async fn named<T: Entity>(
    store: &Store,
    actor: &Actor,
    ids: &[Id],
    name: impl Fn(&T) -> String,
) -> guanxi_store::Result<Vec<(Id, String)>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(guanxi_domain::filter::MAX_LIMIT as usize) {
        let q = ListQuery {
            filters: vec![Filter::new(
                "id",
                Op::In,
                Value::Array(chunk.iter().map(|i| i.to_string().into()).collect()),
            )],
            ..ListQuery::default()
        }
        .limit(chunk.len() as u32);
        let page = match store.list::<T>(actor, &q).await {
            Ok(p) => p,
            // A role that may not read the table sees ids, not names.
            Err(guanxi_store::StoreError::Forbidden { .. }) => return Ok(out),
            Err(e) => return Err(e),
        };
        out.extend(
            page.items
                .iter()
                .map(|r: &Record<T>| (r.meta.id, name(&r.data))),
        );
    }
    Ok(out)
}
