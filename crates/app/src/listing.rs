//! List queries as the front ends spell them (`filter=city:eq:上海&sort=-name`), and the
//! rule that a filter may not tell apart the values of a field the caller sees masked.

use crate::AppError;
use crate::access::is_sensitive;
use guanxi_domain::Actor;
use guanxi_domain::custom::CustomFieldDef;
use guanxi_domain::filter::{Filter, ListQuery, Op, Sort};
use serde_json::Value;

/// Text in a database may not hold the NUL character (PostgreSQL refuses it); JSON can only
/// carry one escaped, so it is turned away before anything is read or written.
pub fn refuse_nul(text: &[u8], what: &str) -> Result<(), AppError> {
    let raw = text.contains(&0);
    let escaped = text.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"));
    if raw || escaped {
        return Err(AppError::bad_request(
            what,
            format!("{what} may not contain the NUL character (\\u0000)"),
        ));
    }
    Ok(())
}

/// `?filter=city:eq:上海&filter=tags:contains:vip&sort=-name&limit=50&cursor=…&count=true`
pub fn list_query(raw: Option<&str>) -> Result<ListQuery, AppError> {
    let mut q = ListQuery::default();
    let bad = |field: &str, msg: String| AppError::bad_request(field, msg);
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        refuse_nul(v.as_bytes(), &k)?;
        match k.as_ref() {
            "filter" => {
                let mut parts = v.splitn(3, ':');
                let (Some(field), Some(op), value) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad("filter", format!("'{v}' is not field:op:value")));
                };
                let op: Op = op
                    .parse()
                    .map_err(|e: String| bad("filter", format!("'{op}': {e}")))?;
                let value = value.unwrap_or("");
                let value = match op {
                    Op::In => Value::Array(
                        value
                            .split(',')
                            .map(|s| Value::String(s.to_string()))
                            .collect(),
                    ),
                    Op::IsNull => Value::Bool(value != "false"),
                    _ => Value::String(value.to_string()),
                };
                q.filters.push(Filter {
                    field: field.to_string(),
                    op,
                    value,
                });
            }
            "sort" => {
                let (field, desc) = match v.strip_prefix('-') {
                    Some(f) => (f, true),
                    None => (v.as_ref(), false),
                };
                q.sort = Some(Sort {
                    field: field.to_string(),
                    desc,
                });
            }
            "limit" => {
                q.limit = v
                    .parse()
                    .map_err(|_| bad("limit", "a whole number".into()))?
            }
            "cursor" => q.cursor = Some(v.into_owned()),
            "count" => {
                q.with_count = v
                    .parse()
                    .map_err(|_| bad("count", "true or false".into()))?
            }
            "deleted" => {
                q.deleted = v
                    .parse()
                    .map_err(|_| bad("deleted", "true or false".into()))?
            }
            other => return Err(bad(other, format!("unknown parameter '{other}'"))),
        }
    }
    Ok(q)
}

/// The query string of a list query, as [`list_query`] reads it (for links to a view).
pub fn query_pairs(q: &ListQuery) -> Vec<(String, String)> {
    let mut pairs = vec![];
    for f in &q.filters {
        let value = match &f.value {
            Value::String(s) => s.clone(),
            Value::Array(a) => a
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(","),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        pairs.push(("filter".into(), format!("{}:{}:{value}", f.field, f.op)));
    }
    if let Some(s) = &q.sort {
        let dash = if s.desc { "-" } else { "" };
        pairs.push(("sort".into(), format!("{dash}{}", s.field)));
    }
    if q.deleted {
        pairs.push(("deleted".into(), "true".into()));
    }
    pairs
}

/// The first filter of `q` on a field the actor sees masked, if any: such a filter would
/// tell the field's values apart, so it needs the right to see them.
pub fn sensitive_filter<'q>(
    actor: &Actor,
    def: &guanxi_domain::EntityDef,
    custom: &[CustomFieldDef],
    q: &'q ListQuery,
) -> Option<&'q Filter> {
    if actor.role.see_sensitive {
        return None;
    }
    q.filters
        .iter()
        .find(|f| is_sensitive(def, custom, &f.field))
}

/// Refuse a query with a [`sensitive_filter`].
pub fn refuse_sensitive_filters(
    actor: &Actor,
    def: &guanxi_domain::EntityDef,
    custom: &[CustomFieldDef],
    q: &ListQuery,
) -> Result<(), AppError> {
    match sensitive_filter(actor, def, custom, q) {
        Some(f) => Err(AppError::Forbidden(format!(
            "filtering on {} needs the right to see it",
            f.field
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The filter parser takes any query string without panicking; what it refuses
        /// is a 400 naming the parameter, and what it accepts round-trips.
        #[test]
        fn any_query_string_parses_or_names_the_parameter(raw in "\\PC{0,80}", pairs in proptest::collection::vec(("(filter|sort|limit|count|cursor|x)", "\\PC{0,30}"), 0..5)) {
            let built: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            for q in [raw.as_str(), built.as_str()] {
                match list_query(Some(q)) {
                    Ok(parsed) => {
                        let again = list_query(Some(&query_pairs_string(&parsed))).unwrap();
                        proptest::prop_assert_eq!(again.filters, parsed.filters);
                    }
                    Err(e) => {
                        proptest::prop_assert!(matches!(e, AppError::BadRequest(_)), "{e}");
                        proptest::prop_assert!(e.fields().is_some_and(|f| !f.0.is_empty()), "{e}");
                    }
                }
            }
        }
    }

    fn query_pairs_string(q: &ListQuery) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query_pairs(q))
            .finish()
    }

    #[test]
    fn query_strings_become_list_queries() {
        let q = list_query(Some("filter=city:eq:%E4%B8%8A%E6%B5%B7&filter=tier:in:key,major&sort=-name&limit=20&count=true")).unwrap();
        assert_eq!(q.filters.len(), 2);
        assert_eq!(q.filters[0].value, Value::String("上海".into()));
        assert_eq!(q.filters[1].value, serde_json::json!(["key", "major"]));
        assert_eq!(
            (q.sort.unwrap().desc, q.limit, q.with_count),
            (true, 20, true)
        );
        assert!(list_query(Some("filter=city")).is_err());
        assert!(list_query(Some("filter=city:like:x")).is_err());
        assert!(list_query(Some("bogus=1")).is_err());
    }

    #[test]
    fn query_pairs_read_back_as_the_same_query() {
        let raw = "filter=city:eq:a:b&filter=tier:in:key,major&filter=email:is_null:false&sort=-name&deleted=true";
        let q = list_query(Some(raw)).unwrap();
        let again: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query_pairs(&q))
            .finish();
        let back = list_query(Some(&again)).unwrap();
        assert_eq!(
            (back.filters, back.sort, back.deleted),
            (q.filters, q.sort, q.deleted)
        );
    }
}
