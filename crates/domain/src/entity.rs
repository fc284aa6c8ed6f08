//! Field-level descriptions of each entity: the one place the store, filters, imports and
//! forms learn which fields exist and what type each holds.

use crate::dedupe::DuplicateKeys;
use crate::error::ValidationErrors;
use crate::headers::HeaderTable;
use serde::{Serialize, de::DeserializeOwned};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A reference to a record of the named table; checked to exist on every write.
    Ref(&'static str),
    Text,
    Int,
    Float,
    Bool,
    /// A calendar date (`2026-11-23`).
    Date,
    /// An instant (RFC 3339 in JSON, UTC).
    Timestamp,
    /// Minor units plus currency: stored as `<name>` (minor) and `<name>_currency`.
    Money,
    /// One of a closed set of strings.
    Enum(&'static [&'static str]),
    /// A set of short labels, filterable with `contains`.
    Tags,
    /// Structured data kept whole (order lines, histories); not filterable.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    pub name: &'static str,
    pub ty: FieldType,
    /// Masked for roles without the right to see sensitive data.
    pub sensitive: bool,
    /// Computed by Guanxi (customer analytics), never written through the API.
    pub computed: bool,
}

impl FieldDef {
    pub const fn new(name: &'static str, ty: FieldType) -> Self {
        Self {
            name,
            ty,
            sensitive: false,
            computed: false,
        }
    }

    pub const fn sensitive(name: &'static str, ty: FieldType) -> Self {
        Self {
            name,
            ty,
            sensitive: true,
            computed: false,
        }
    }

    pub const fn computed(name: &'static str, ty: FieldType) -> Self {
        Self {
            name,
            ty,
            sensitive: false,
            computed: true,
        }
    }
}

/// One entity, described once: its fields, and what every part of Guanxi needs to know
/// of it (where it is served, how a record is named and listed, how it is searched,
/// imported and merged, how partners see it). Adding an entity is writing one of these
/// and naming its type in [`for_each_entity!`]; store, search, API, web and import read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityDef {
    /// Singular, as used in the change log and the API (`account`).
    pub name: &'static str,
    pub table: &'static str,
    /// Visibility depends on owner and team (accounts, contacts, …) rather than being global
    /// reference data (products, users, pipelines).
    pub scoped: bool,
    pub fields: &'static [FieldDef],
    /// Its path in the API and on the pages (`accounts`); `None`: not served as a list.
    pub collection: Option<&'static str>,
    /// The fields that name a record on its page and in links, joined by a space.
    pub title: &'static [&'static str],
    /// The columns a list shows before the user chooses.
    pub list_columns: &'static [&'static str],
    /// The field naming the partner that serves a record, which a partner's scope follows;
    /// `None`: partners see none of these records but those `partner_paths` lead to.
    pub partner_field: Option<&'static str>,
    /// Other ways a record is a partner's: through a record of another entity that is
    /// theirs by its `partner_field` (a contact of a case dispatched to them).
    pub partner_paths: &'static [PartnerPath],
    /// What the full-text index holds of it; `None`: not searched.
    pub search: Option<&'static SearchFields>,
    /// How spreadsheets are imported into it; `None`: not importable.
    pub import: Option<&'static ImportDef>,
    /// How its duplicates are found; `None`: duplicates are not looked for, merged or
    /// unmerged.
    pub duplicates: Option<&'static DuplicateKeys>,
}

/// A record is a partner's when its `column` is among the `via` values of the rows of
/// `table` that are the partner's (by that table's `partner_field`): a contact's `id` among
/// the `contact_id`s of the partner's cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartnerPath {
    pub column: &'static str,
    pub table: &'static str,
    pub via: &'static str,
}

/// How rows of a spreadsheet become records of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportDef {
    /// The fields an import matches existing records by (besides an external id).
    pub keys: &'static [&'static str],
    /// The fields a column can fill, with the headers people write for them.
    pub headers: HeaderTable,
    /// The column naming the account a record belongs to, by company name (a contact's
    /// company, an order's customer): linked to that account, which is created if new.
    pub company: Option<&'static str>,
}

/// The fields of an entity the full-text index reads, by how they are analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchFields {
    /// A hit's title, joined by " · ".
    pub title: &'static [&'static str],
    /// Matched by pinyin and initials too.
    pub names: &'static [&'static str],
    pub text: &'static [&'static str],
    pub phones: &'static [&'static str],
    /// Phones that match only for roles who may see them unmasked.
    pub sensitive_phones: &'static [&'static str],
    pub emails: &'static [&'static str],
}

impl EntityDef {
    /// What a description leaves out: not served, named by `name`, listed by id, unseen
    /// by partners, not searched, imported or merged.
    pub const PLAIN: EntityDef = EntityDef {
        name: "",
        table: "",
        scoped: false,
        fields: &[],
        collection: None,
        title: &["name"],
        list_columns: &["id"],
        partner_field: None,
        partner_paths: &[],
        search: None,
        import: None,
        duplicates: None,
    };

    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// A record's title, as its page and links show it: the [`title`](Self::title)
    /// fields of its JSON (as `Record::to_json` gives it) joined by a space, or the start
    /// of its id when they are empty.
    pub fn title_of(&self, json: &serde_json::Value) -> String {
        let title = self
            .title
            .iter()
            .filter_map(|f| json[*f].as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if title.is_empty() {
            json["id"].as_str().unwrap_or("").chars().take(8).collect()
        } else {
            title
        }
    }
}

/// An entity's own fields as a Rust type, with its description and validation.
pub trait Entity:
    Serialize + DeserializeOwned + schemars::JsonSchema + Clone + Send + Sync + 'static
{
    const DEF: &'static EntityDef;

    /// Derive computed fields (order totals, opportunity status) before validation.
    fn normalize(&mut self) {}

    fn validate(&self) -> Result<(), ValidationErrors>;
}

/// Every entity type, the one list of them: [`each_entity`], [`all_defs`] and
/// [`with_entity!`](crate::with_entity) are made from it. Not called directly.
#[doc(hidden)]
#[macro_export]
macro_rules! for_each_entity {
    (@list $($then:tt)*) => {
        $crate::for_each_entity!(@do [$($then)*]
            $crate::entities::Account,
            $crate::entities::Contact,
            $crate::entities::Interaction,
            $crate::entities::Lead,
            $crate::entities::Opportunity,
            $crate::entities::Product,
            $crate::entities::Order,
            $crate::entities::Case,
            $crate::entities::Campaign,
            $crate::entities::Pipeline,
            $crate::entities::Team,
            $crate::entities::User,
            $crate::entities::Role,
            $crate::entities::Rule,
            $crate::entities::Webhook,
            $crate::entities::EmailTemplate,
            $crate::entities::Robot,
            $crate::entities::Calendar,
            $crate::entities::SlaPolicy,
            $crate::entities::Article,
            $crate::entities::Survey,
            $crate::entities::Segment,
            $crate::custom::CustomFieldDef
        )
    };
    (@do [visit $v:ident] $($ty:ty),+) => { $($v.entity::<$ty>();)+ };
    (@do [defs] $($ty:ty),+) => { &[$(<$ty as $crate::Entity>::DEF),+] };
    (@do [with $name:expr, $t:ident, $body:expr, $other:expr] $($ty:ty),+) => {{
        let name: &str = $name;
        $(
            if name == <$ty as $crate::Entity>::DEF.name {
                type $t = $ty;
                $body
            } else
        )+ {
            $other
        }
    }};
}

/// Run `$body` with `$t` the entity type named `$name` (`account`), or `$other` when no
/// entity has that name: `with_entity!(name, T => store.get::<T>(…).await, _ => …)`. The
/// body is compiled for every entity type.
#[macro_export]
macro_rules! with_entity {
    ($name:expr, $t:ident => $body:expr, _ => $other:expr) => {
        $crate::for_each_entity!(@list with $name, $t, $body, $other)
    };
}

/// Something done once per entity type: routing it, describing it, dispatching on it.
pub trait EachEntity {
    fn entity<T: Entity>(&mut self);
}

/// Call `v` for every entity type, in the order of [`all_defs`].
pub fn each_entity(v: &mut impl EachEntity) {
    crate::for_each_entity!(@list visit v);
}

/// Every entity's description, for code that works over all of them.
pub fn all_defs() -> &'static [&'static EntityDef] {
    crate::for_each_entity!(@list defs)
}

/// The entities served as lists, with their paths.
pub fn collections() -> impl Iterator<Item = (&'static str, &'static EntityDef)> {
    all_defs().iter().filter_map(|d| Some((d.collection?, *d)))
}

pub fn def_by_name(name: &str) -> Option<&'static EntityDef> {
    all_defs().iter().copied().find(|d| d.name == name)
}

/// The entity stored in `table`: what a [`FieldType::Ref`] points at.
pub fn def_by_table(table: &str) -> Option<&'static EntityDef> {
    all_defs().iter().copied().find(|d| d.table == table)
}

/// The names of the entities an import can fill (`account`, `contact`, …).
pub fn importable() -> Vec<&'static str> {
    all_defs()
        .iter()
        .filter(|d| d.import.is_some())
        .map(|d| d.name)
        .collect()
}

/// The entities whose duplicates are looked for, merged and unmerged.
pub fn mergeable() -> impl Iterator<Item = &'static EntityDef> {
    all_defs()
        .iter()
        .copied()
        .filter(|d| d.duplicates.is_some())
}

/// The entity served at `path` (`accounts`), or named so (`account`): how the command
/// line and the API accept either spelling.
pub fn def_by_collection_or_name(kind: &str) -> Option<&'static EntityDef> {
    all_defs()
        .iter()
        .copied()
        .find(|d| d.collection == Some(kind) || d.name == kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Bookkeeping columns a list may show beside an entity's own fields.
    const META: &[&str] = &["id", "owner_id", "team_id", "created_at", "updated_at"];

    #[test]
    fn names_tables_and_collections_are_unique() {
        let defs = all_defs();
        let unique = |xs: Vec<&str>| xs.iter().collect::<HashSet<_>>().len() == xs.len();
        assert!(unique(defs.iter().map(|d| d.name).collect()));
        assert!(unique(defs.iter().map(|d| d.table).collect()));
        assert!(unique(collections().map(|(c, _)| c).collect()));
    }

    #[test]
    fn a_collection_is_its_table_spelled_with_dashes() {
        // The web links to a record by its table (`/sla-policies/…`): it must be the path
        // the collection is served at.
        for (collection, def) in collections() {
            assert_eq!(collection, def.table.replace('_', "-"), "{}", def.name);
        }
    }

    #[test]
    fn each_entity_and_with_entity_know_every_entity() {
        struct Names(Vec<&'static str>);
        impl EachEntity for Names {
            fn entity<T: Entity>(&mut self) {
                self.0.push(T::DEF.name);
            }
        }
        let mut seen = Names(vec![]);
        each_entity(&mut seen);
        let all: Vec<_> = all_defs().iter().map(|d| d.name).collect();
        assert_eq!(seen.0, all);
        for name in all {
            assert_eq!(
                crate::with_entity!(name, T => T::DEF.name, _ => "none"),
                name
            );
        }
        assert_eq!(
            crate::with_entity!("nothing", T => T::DEF.name, _ => "none"),
            "none"
        );
        assert_eq!(
            def_by_collection_or_name("custom-fields").map(|d| d.name),
            Some("custom_field")
        );
    }

    /// Every field a description names is a field of the entity, of a fitting type.
    #[test]
    fn descriptions_name_real_fields() {
        for d in all_defs() {
            let known = |f: &str| d.field(f).is_some() || META.contains(&f);
            for f in d.title.iter().chain(d.list_columns) {
                assert!(known(f), "{}: {f}", d.name);
            }
            if let Some(p) = d.partner_field {
                assert_eq!(d.field(p).map(|f| f.ty), Some(FieldType::Ref("accounts")));
            }
            for path in d.partner_paths {
                let theirs = def_by_table(path.table).expect("a table of an entity");
                assert!(theirs.partner_field.is_some(), "{}: {}", d.name, path.table);
                assert!(known(path.column), "{}: {}", d.name, path.column);
                assert!(
                    path.via == "id" || theirs.field(path.via).is_some(),
                    "{}: {}.{}",
                    d.name,
                    path.table,
                    path.via
                );
            }
            if let Some(import) = d.import {
                let columns = crate::headers::fields(import.headers);
                for f in import.keys {
                    assert!(known(f), "{}: import key {f}", d.name);
                    assert!(columns.contains(f), "{}: no column fills key {f}", d.name);
                }
            }
            for f in d.duplicates.map_or(&[][..], |k| k.reads) {
                assert!(known(f), "{}: duplicate key field {f}", d.name);
            }
            if let Some(s) = d.search {
                let all = [
                    s.title,
                    s.names,
                    s.text,
                    s.phones,
                    s.sensitive_phones,
                    s.emails,
                ];
                for f in all.concat() {
                    assert!(known(f), "{}: search field {f}", d.name);
                }
                for f in s.sensitive_phones {
                    assert!(d.field(f).is_some_and(|f| f.sensitive), "{}: {f}", d.name);
                }
            }
            assert!(
                d.duplicates.is_none() || d.scoped,
                "{}: merging is for customer records",
                d.name
            );
        }
    }
}
