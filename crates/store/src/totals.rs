//! Counts and sums by group over what the actor may see: the kanban's totals per stage, a
//! dashboard's cases per status. One `GROUP BY` query, scoped like every list.

use crate::db::{Kind, Val};
use crate::query::{self, Sql};
use crate::{Result, Store, StoreError, records::require};
use guanxi_domain::filter::Filter;
use guanxi_domain::{Actor, Entity, Right};

/// One group: its value (as text; empty for none), how many records, and the sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Total {
    pub group: String,
    pub count: i64,
    pub sum: i64,
}

impl Store {
    /// Records of `T` matching `filters`, grouped by `group_by`, with the sum of the integer
    /// or money field `sum` (minor units) when given.
    pub async fn totals<T: Entity>(
        &self,
        actor: &Actor,
        filters: &[Filter],
        group_by: &str,
        sum: Option<&str>,
    ) -> Result<Vec<Total>> {
        let def = T::DEF;
        require(actor, def.name, Right::Read)?;
        let custom = self.custom_fields(def.name).await?;
        let backend = self.backend();
        let mut sql = Sql::default();
        let mut preds = vec!["\"deleted_at\" IS NULL".to_string()];
        preds.push(query::scope(def, actor, &mut sql));
        for f in filters {
            preds.push(query::filter(def, &custom, backend, f, &mut sql)?);
        }
        let group = query::resolve(def, &custom, backend, group_by)?;
        let total = match sum {
            Some(s) => {
                let t = query::resolve(def, &custom, backend, s)?;
                if !matches!(
                    t.ty,
                    guanxi_domain::entity::FieldType::Int | guanxi_domain::entity::FieldType::Money
                ) {
                    return Err(StoreError::invalid(
                        "sum",
                        "invalid",
                        "sums need a whole-number or money field",
                    ));
                }
                format!("CAST(COALESCE(SUM({}), 0) AS BIGINT)", t.expr)
            }
            None => "0".into(),
        };
        let group_kind = match group.ty {
            guanxi_domain::entity::FieldType::Ref(_) => Kind::Uuid,
            guanxi_domain::entity::FieldType::Int => Kind::Int,
            guanxi_domain::entity::FieldType::Bool => Kind::Bool,
            _ => Kind::Text,
        };
        let text = format!(
            "SELECT {g}, COUNT(*), {total} FROM {} WHERE {} GROUP BY {g}",
            def.table,
            preds.join(" AND "),
            g = group.expr
        );
        let rows = self
            .db
            .reader()
            .await?
            .fetch(&text, sql.params, &[group_kind, Kind::Int, Kind::Int])
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| Total {
                group: text_of(&r[0]),
                count: r[1].as_i64().unwrap_or(0),
                sum: r[2].as_i64().unwrap_or(0),
            })
            .collect())
    }
}

fn text_of(v: &Val) -> String {
    match v {
        Val::Text(s) => s.clone(),
        Val::Uuid(u) => u.to_string(),
        Val::Int(i) => i.to_string(),
        Val::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}
