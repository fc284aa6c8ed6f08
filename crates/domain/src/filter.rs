//! List queries: filters, sort and cursor pagination, independent of any database.

use serde::{Deserialize, Serialize};
use serde_json::Value;

str_enum! {
    pub enum Op {
        Eq = "eq",
        Ne = "ne",
        Lt = "lt",
        Le = "le",
        Gt = "gt",
        Ge = "ge",
        Contains = "contains",
        StartsWith = "starts_with",
        In = "in",
        IsNull = "is_null",
    }
}

/// One condition. `field` is a built-in field, a bookkeeping column (`id`, `created_at`,
/// `owner_id`, …) or a custom field (`custom.<key>`, or the bare key). For `in`, `value` is
/// an array; for `is_null`, a boolean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Filter {
    pub field: String,
    pub op: Op,
    #[serde(default)]
    pub value: Value,
}

impl Filter {
    pub fn new(field: impl Into<String>, op: Op, value: impl Into<Value>) -> Self {
        Self {
            field: field.into(),
            op,
            value: value.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sort {
    pub field: String,
    #[serde(default)]
    pub desc: bool,
}

/// A page request. Results are ordered by the sort field, then by id, so pages never skip
/// or repeat a row while others are inserted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub filters: Vec<Filter>,
    #[serde(default)]
    pub sort: Option<Sort>,
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// The opaque `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub with_count: bool,
    /// Stop counting past this many: the total is then `cap + 1`, shown as "cap+". Counting
    /// a million rows costs far more than the page itself.
    #[serde(default)]
    pub count_cap: Option<u32>,
    /// List soft-deleted records instead of live ones (the recycle bin).
    #[serde(default)]
    pub deleted: bool,
}

pub const MAX_LIMIT: u32 = 500;

fn default_limit() -> u32 {
    50
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            filters: vec![],
            sort: None,
            limit: default_limit(),
            cursor: None,
            with_count: false,
            count_cap: None,
            deleted: false,
        }
    }
}

impl ListQuery {
    pub fn filter(mut self, f: Filter) -> Self {
        self.filters.push(f);
        self
    }

    pub fn sort_by(mut self, field: &str, desc: bool) -> Self {
        self.sort = Some(Sort {
            field: field.into(),
            desc,
        });
        self
    }

    pub fn limit(mut self, n: u32) -> Self {
        self.limit = n;
        self
    }

    pub fn counted(mut self) -> Self {
        self.with_count = true;
        self
    }

    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}
