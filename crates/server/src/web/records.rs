//! The pages every entity has: a list (filters on any field, sort, columns, saved views,
//! pages, counts, bulk actions), a record page with its history, and the forms to create
//! and edit — all driven by the entity's field definitions, custom fields included.

use super::fields::{self, Choice, Input, Names, Shown};
use super::i18n::Tr;
use super::names::Wanted;
use super::page::{self, FormData, Page, Posted, WebUser, render, render_status, shown};
use crate::problem::Problem;
use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use guanxi_app::AppError;
use guanxi_app::access::{self, is_sensitive};
use guanxi_app::listing::{list_query, query_pairs, sensitive_filter};
use guanxi_app::records as writes;
use guanxi_domain::custom::CustomFieldDef;
use guanxi_domain::entities::{Case, User};
use guanxi_domain::entity::{EntityDef, FieldType};
use guanxi_domain::filter::{ListQuery, Op, Sort};
use guanxi_domain::{Actor, Entity, FieldError, Id, Record, Right, ValidationErrors};
use guanxi_store::{ChangeEntry, Store, StoreError};
use serde_json::Value;

/// Registers the pages of each collection (the API's own list of them).
pub struct Routes(pub Option<Router<Store>>);

impl guanxi_domain::EachEntity for Routes {
    fn entity<T: Entity>(&mut self) {
        let Some(path) = T::DEF.collection else {
            return;
        };
        // Rules are built on their own pages (`/admin/rules`, see `rules`): the generic
        // form leaves a rule's JSON parts (trigger, conditions, actions) out.
        if T::DEF.name == "rule" {
            return;
        }
        let r = self.0.take().expect("set");
        let mut r = r
            .route(&format!("/{path}"), get(list::<T>))
            .route(&format!("/{path}/bulk"), post(bulk::<T>))
            .route(&format!("/{path}/{{id}}/delete"), post(delete::<T>));
        // Calendars and segments have their own forms (`calendars`: rows of periods and
        // days; `segments`: rows of conditions and facts; not JSON), routed in
        // `web::routes`; axum refuses a path routed twice.
        if !matches!(T::DEF.name, "calendar" | "segment") {
            r = r
                .route(
                    &format!("/{path}/new"),
                    get(new_form::<T>).post(create::<T>),
                )
                .route(
                    &format!("/{path}/{{id}}/edit"),
                    get(edit_form::<T>).post(save::<T>),
                );
        }
        // Accounts and contacts have their 360° pages instead (see `account`), segments
        // theirs with their members (see `segments`).
        if !matches!(T::DEF.name, "account" | "contact" | "segment") {
            r = r.route(&format!("/{path}/{{id}}"), get(show::<T>));
        }
        self.0 = Some(r);
    }
}

/// The path of an entity's pages: `/accounts`, `/custom-fields`.
pub fn collection_of(def: &EntityDef) -> String {
    fields::href_of(def.table, "")
        .trim_end_matches('/')
        .to_string()
}

fn problem_response(e: impl Into<Problem>) -> Response {
    e.into().into_response()
}

/// Bookkeeping columns lists can show and filter.
const META_FIELDS: &[(&str, FieldType)] = &[
    ("owner_id", FieldType::Ref("users")),
    ("team_id", FieldType::Ref("teams")),
    ("created_at", FieldType::Timestamp),
    ("updated_at", FieldType::Timestamp),
];

/// A column or filter field of a list: built-in, bookkeeping or custom.
#[derive(Clone)]
enum Column {
    Field(&'static guanxi_domain::entity::FieldDef),
    Meta(guanxi_domain::entity::FieldDef),
    Custom(CustomFieldDef),
}

impl Column {
    fn key(&self) -> String {
        match self {
            Column::Field(f) => f.name.to_string(),
            Column::Meta(f) => f.name.to_string(),
            Column::Custom(c) => format!("custom.{}", c.key),
        }
    }

    fn label(&self, t: Tr, entity: &str) -> String {
        match self {
            Column::Field(f) => t.field(entity, f.name).to_string(),
            Column::Meta(f) => t.field(entity, f.name).to_string(),
            Column::Custom(c) => fields::custom_label(t, c),
        }
    }

    fn show(&self, t: Tr, entity: &str, json: &Value, names: &Names) -> Shown {
        match self {
            Column::Field(f) => fields::show(t, entity, f, json, names),
            Column::Meta(f) => fields::show(t, entity, f, json, names),
            Column::Custom(c) => Shown {
                text: fields::show_custom(t, c, json["custom"].get(&c.key).unwrap_or(&Value::Null)),
                href: None,
            },
        }
    }

    fn ty(&self) -> FieldType {
        match self {
            Column::Field(f) => f.ty,
            Column::Meta(f) => f.ty,
            Column::Custom(c) => c.field_type(),
        }
    }
}

fn all_columns(def: &'static EntityDef, custom: &[CustomFieldDef]) -> Vec<Column> {
    let mut out: Vec<Column> = def
        .fields
        .iter()
        .filter(|f| f.ty != FieldType::Json)
        .map(Column::Field)
        .collect();
    if def.scoped {
        out.extend(
            META_FIELDS
                .iter()
                .map(|(n, ty)| Column::Meta(guanxi_domain::entity::FieldDef::new(n, *ty))),
        );
    } else {
        out.extend(
            META_FIELDS[2..]
                .iter()
                .map(|(n, ty)| Column::Meta(guanxi_domain::entity::FieldDef::new(n, *ty))),
        );
    }
    out.extend(custom.iter().cloned().map(Column::Custom));
    out
}

struct Col {
    label: String,
    sort_href: String,
    /// `ascending`, `descending` or empty: the `aria-sort` of the header.
    sorted: &'static str,
}

struct Row {
    id: Id,
    version: i64,
    href: String,
    title: String,
    cells: Vec<Shown>,
}

struct ActiveFilter {
    label: String,
    remove_href: String,
}

struct ViewLink {
    id: Id,
    name: String,
    href: String,
    shared: bool,
    mine: bool,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    p: Page,
    entity: &'static str,
    coll: String,
    heading: String,
    columns: Vec<Col>,
    rows: Vec<Row>,
    total: Option<String>,
    next_href: Option<String>,
    first_href: Option<String>,
    filters: Vec<ActiveFilter>,
    filter_fields: Vec<Choice>,
    ops: Vec<Choice>,
    column_choices: Vec<Choice>,
    /// The current query without `cursor`, as hidden inputs for the filter and column forms.
    keep: Vec<(String, String)>,
    keep_no_cols: Vec<(String, String)>,
    query: String,
    /// The API's export of exactly this view: filters, sort and shown columns.
    export_csv: String,
    export_xlsx: String,
    may_export: bool,
    views: Vec<ViewLink>,
    can_create: bool,
    can_update: bool,
    can_delete: bool,
    has_tags: bool,
    users: Vec<Choice>,
    /// The static lists the checked rows may be added to (accounts and contacts).
    lists: Vec<Choice>,
    back: String,
    error: Option<String>,
}

/// The list page's own parameters beside the API's list query.
struct ListParams {
    pairs: Vec<(String, String)>,
    cols: Option<Vec<String>>,
}

impl ListParams {
    fn parse(raw: Option<&str>) -> ListParams {
        let mut pairs = vec![];
        let mut cols = None;
        // The add-filter form sends its parts apart; they become one `field:op:value`.
        let (mut ff, mut fo, mut fv) = (None, None, None);
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "ff" => ff = Some(v.into_owned()),
                "fo" => fo = Some(v.into_owned()),
                "fv" => fv = Some(v.into_owned()),
                "cols" => {
                    cols = Some(
                        v.split(',')
                            .filter(|c| !c.is_empty())
                            .map(str::to_string)
                            .collect(),
                    )
                }
                // Column checkboxes arrive one by one.
                "col" => cols.get_or_insert_with(Vec::new).push(v.into_owned()),
                _ => pairs.push((k.into_owned(), v.into_owned())),
            }
        }
        if let (Some(f), Some(o)) = (ff, fo) {
            pairs.push((
                "filter".into(),
                format!("{f}:{o}:{}", fv.unwrap_or_default()),
            ));
        }
        ListParams { pairs, cols }
    }

    /// The query string with `f` applied to the API pairs (cols kept).
    fn href(&self, path: &str, f: impl Fn(&mut Vec<(String, String)>)) -> String {
        let mut pairs = self.pairs.clone();
        f(&mut pairs);
        if let Some(cols) = &self.cols {
            pairs.push(("cols".into(), cols.join(",")));
        }
        let q: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter())
            .finish();
        if q.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{q}")
        }
    }

    fn api_query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                self.pairs
                    .iter()
                    .filter(|(k, _)| k != "notice" && k != "col"),
            )
            .finish()
    }
}

const LIST_PAGE_SIZE: u32 = 50;
/// Lists count up to this many matches and show more as "2,000+" (as Salesforce's list
/// views do): an exact count of a million rows would cost far more than the page.
const COUNT_CAP: u32 = 2_000;

async fn user_choices(store: &Store, selected: Option<&str>) -> Vec<Choice> {
    let q = ListQuery::default()
        .limit(guanxi_domain::filter::MAX_LIMIT)
        .sort_by("name", false);
    match store.list::<User>(&Actor::system(), &q).await {
        Ok(p) => p
            .items
            .into_iter()
            .filter(|u| u.data.active)
            .map(|u| Choice {
                selected: selected == Some(u.meta.id.to_string().as_str()),
                value: u.meta.id.to_string(),
                label: u.data.name,
            })
            .collect(),
        Err(e) => {
            tracing::warn!("listing users failed: {e}");
            vec![]
        }
    }
}

async fn list<T: Entity>(
    State(store): State<Store>,
    u: WebUser,
    RawQuery(raw): RawQuery,
) -> Response {
    let def = T::DEF;
    let t = u.t();
    let coll = collection_of(def);
    let params = ListParams::parse(raw.as_deref());
    let custom = match store.custom_fields(def.name).await {
        Ok(c) => c,
        Err(e) => return problem_response(e),
    };
    let columns_all = all_columns(def, &custom);
    let mut error = None;
    let mut q = match list_query(Some(&params.api_query())) {
        Ok(q) => q,
        Err(e) => {
            error = Some(e.to_string());
            ListQuery::default()
        }
    };
    q.with_count = true;
    q.count_cap = Some(COUNT_CAP);
    if !params.pairs.iter().any(|(k, _)| k == "limit") {
        q.limit = LIST_PAGE_SIZE;
    }
    if q.sort.is_none() {
        // Newest first: ids are UUIDv7, so they sort by creation time.
        q.sort = Some(Sort {
            field: "id".into(),
            desc: true,
        });
    }
    if let Some(f) = sensitive_filter(&u.actor, def, &custom, &q) {
        error = Some(t.f("list.sensitive_filter", &[("field", &f.field)]));
        q.filters.clear();
    }
    // The query the page shows, for its export links.
    let mut shown_q = q.clone();
    let page = match store.list::<T>(&u.actor, &q).await {
        Ok(p) => p,
        Err(StoreError::Invalid(e)) => {
            error = Some(e.to_string());
            let mut plain = q.clone();
            plain.filters.clear();
            plain.cursor = None;
            plain.sort = None;
            match store.list::<T>(&u.actor, &plain).await {
                Ok(p) => {
                    shown_q = plain;
                    p
                }
                Err(e) => return problem_response(e),
            }
        }
        Err(e) => return problem_response(e),
    };
    let shown_cols: Vec<Column> = match &params.cols {
        Some(keys) => keys
            .iter()
            .filter_map(|k| columns_all.iter().find(|c| c.key() == *k).cloned())
            .collect(),
        None => def
            .list_columns
            .iter()
            .filter_map(|k| columns_all.iter().find(|c| c.key() == *k).cloned())
            .collect(),
    };
    let jsons: Vec<Value> = page
        .items
        .iter()
        .map(|r| access::present(&u.actor, &custom, r))
        .collect();
    let mut wanted = Wanted::default();
    for j in &jsons {
        wanted.record(def, j);
    }
    let names = wanted.resolve(&store, &u.actor).await;
    let rows = page
        .items
        .iter()
        .zip(&jsons)
        .map(|(r, j)| Row {
            id: r.meta.id,
            version: r.meta.version,
            href: format!("{coll}/{}", r.meta.id),
            title: def.title_of(j),
            cells: shown_cols
                .iter()
                .map(|c| c.show(t, def.name, j, &names))
                .collect(),
        })
        .collect();
    let sort = q.sort.clone();
    let columns = shown_cols
        .iter()
        .map(|c| {
            let key = c.key();
            let (sorted, next) = match &sort {
                Some(s) if s.field == key && !s.desc => ("ascending", format!("-{key}")),
                Some(s) if s.field == key => ("descending", key.clone()),
                _ => ("", key.clone()),
            };
            Col {
                label: c.label(t, def.name),
                sort_href: params.href(&coll, |p| {
                    p.retain(|(k, _)| k != "sort" && k != "cursor");
                    p.push(("sort".into(), next.clone()));
                }),
                sorted,
            }
        })
        .collect();
    let filters = q
        .filters
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let label = columns_all
                .iter()
                .find(|c| c.key() == f.field)
                .map_or_else(|| f.field.clone(), |c| c.label(t, def.name));
            let value = match &f.value {
                Value::String(s) => match columns_all.iter().find(|c| c.key() == f.field) {
                    Some(c) if matches!(c.ty(), FieldType::Enum(_)) => {
                        t.choice(def.name, &f.field, s)
                    }
                    Some(c) if matches!(c.ty(), FieldType::Ref(_)) => Id::parse(s)
                        .ok()
                        .and_then(|id| names.get(&id).cloned())
                        .unwrap_or_else(|| s.clone()),
                    _ => s.clone(),
                },
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            ActiveFilter {
                label: format!("{label} {} {value}", t.s(&format!("op.{}", f.op))),
                remove_href: params.href(&coll, |p| {
                    let mut n = 0;
                    p.retain(|(k, _)| {
                        if k == "filter" {
                            n += 1;
                            n - 1 != i
                        } else {
                            k != "cursor"
                        }
                    });
                }),
            }
        })
        .collect();
    let filter_fields = columns_all
        .iter()
        .filter(|c| u.actor.role.see_sensitive || !is_sensitive(def, &custom, &c.key()))
        .map(|c| Choice {
            value: c.key(),
            label: c.label(t, def.name),
            selected: false,
        })
        .collect();
    let ops = Op::VALUES
        .iter()
        .map(|o| Choice {
            value: (*o).to_string(),
            label: t.s(&format!("op.{o}")).to_string(),
            selected: *o == "eq",
        })
        .collect();
    let shown_keys: Vec<String> = shown_cols.iter().map(Column::key).collect();
    let export_href = |format: &str| {
        let mut pairs = query_pairs(&shown_q);
        if !shown_keys.is_empty() {
            pairs.push(("columns".into(), shown_keys.join(",")));
        }
        let labels = match t.lang {
            super::i18n::Lang::Zh => "zh",
            super::i18n::Lang::En => "en",
        };
        pairs.push(("labels".into(), labels.into()));
        pairs.push(("format".into(), format.into()));
        let q = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("/api/v1{coll}/export?{q}")
    };
    let (export_csv, export_xlsx) = (export_href("csv"), export_href("xlsx"));
    let column_choices = columns_all
        .iter()
        .map(|c| Choice {
            value: c.key(),
            label: c.label(t, def.name),
            selected: shown_keys.contains(&c.key()),
        })
        .collect();
    let keep_no_cols: Vec<(String, String)> = params
        .pairs
        .iter()
        .filter(|(k, _)| k != "cursor")
        .cloned()
        .collect();
    let mut keep = keep_no_cols.clone();
    if let Some(cols) = &params.cols {
        keep.push(("cols".into(), cols.join(",")));
    }
    let next_href = page.next_cursor.as_ref().map(|c| {
        params.href(&coll, |p| {
            p.retain(|(k, _)| k != "cursor");
            p.push(("cursor".into(), c.clone()));
        })
    });
    let first_href = q
        .cursor
        .as_ref()
        .map(|_| params.href(&coll, |p| p.retain(|(k, _)| k != "cursor")));
    let query = params.href("", |p| p.retain(|(k, _)| k != "cursor"));
    let views = match store.saved_views(&u.actor, def.name).await {
        Ok(v) => v
            .into_iter()
            .map(|v| ViewLink {
                id: v.id,
                href: format!("{coll}{}", v.query),
                name: v.name,
                shared: v.shared,
                mine: v.owner_id == u.actor.user_id,
            })
            .collect(),
        Err(e) => return problem_response(e),
    };
    let has_tags = def.field("tags").is_some();
    let can_update = u.may(def.name, Right::Update);
    let users = if can_update && def.scoped {
        user_choices(&store, None).await
    } else {
        vec![]
    };
    let back = params.href(&coll, |_| {});
    let lists = super::segments::list_choices(&store, &u, def.name).await;
    let list = ListPage {
        p: u.page(t.entity_many(def.name)),
        entity: def.name,
        heading: t.entity_many(def.name).to_string(),
        columns,
        rows,
        total: page.total.map(|n| {
            if n > i64::from(COUNT_CAP) {
                format!("{}+", t.int(i64::from(COUNT_CAP)))
            } else {
                t.int(n)
            }
        }),
        next_href,
        first_href,
        filters,
        filter_fields,
        ops,
        column_choices,
        keep,
        keep_no_cols,
        query,
        export_csv,
        export_xlsx,
        may_export: u.may(def.name, Right::Export),
        views,
        can_create: u.may(def.name, Right::Create),
        can_update,
        can_delete: u.may(def.name, Right::Delete),
        has_tags,
        users,
        lists,
        back,
        error,
        coll,
    };
    shown(render(&list), &u)
}

struct Fact {
    label: String,
    shown: Shown,
}

pub struct ChangeRow {
    pub at: String,
    pub who: String,
    pub action: String,
    pub fields: String,
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    p: Page,
    coll: String,
    id: Id,
    version: i64,
    heading: String,
    facts: Vec<Fact>,
    changes: Vec<ChangeRow>,
    actions: Vec<(String, String)>,
    can_update: bool,
    can_delete: bool,
    /// An administrator on a user's page may set that user's password.
    password_form: bool,
    /// What workflow rules did to this record, for those who may read rules.
    rule_runs: Vec<super::rules::RecordRun>,
    /// A case's clock, product and dispatch.
    service: Option<super::service::Panel>,
    /// An article's usage: the cases it resolved.
    usage: Option<i64>,
    /// A calendar's hours by weekday and its listed days.
    calendar: Option<super::calendars::Summary>,
    /// A campaign's sending: progress, launch and pause.
    campaign: Option<super::campaigns::Panel>,
}

/// The facts of a record as label/value pairs: every field with a value, custom ones too.
pub fn facts(
    t: Tr,
    def: &'static EntityDef,
    custom: &[CustomFieldDef],
    json: &Value,
    names: &Names,
) -> Vec<(String, Shown)> {
    let mut out: Vec<(String, Shown)> = def
        .fields
        .iter()
        .filter(|f| f.ty != FieldType::Json)
        .map(|f| {
            (
                t.field(def.name, f.name).to_string(),
                fields::show(t, def.name, f, json, names),
            )
        })
        .filter(|(_, s)| !s.text.is_empty())
        .collect();
    for c in custom {
        let v = json["custom"].get(&c.key).unwrap_or(&Value::Null);
        let text = fields::show_custom(t, c, v);
        if !text.is_empty() {
            out.push((fields::custom_label(t, c), Shown { text, href: None }));
        }
    }
    for (name, ty) in META_FIELDS {
        if json.get(*name).is_some_and(|v| !v.is_null()) {
            let f = guanxi_domain::entity::FieldDef::new(name, *ty);
            out.push((
                t.field(def.name, name).to_string(),
                fields::show(t, def.name, &f, json, names),
            ));
        }
    }
    out
}

/// A record's change log as rows, newest first: when, who, what, which fields.
pub async fn change_rows<T: Entity>(store: &Store, u: &WebUser, id: Id) -> Vec<ChangeRow> {
    let log = match store.changes_for::<T>(&u.actor, id).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("reading the change log failed: {e}");
            return vec![];
        }
    };
    let newest: Vec<ChangeEntry> = log
        .into_iter()
        .rev()
        .take(guanxi_store::RECENT_CHANGES as usize)
        .collect();
    rows_of_changes::<T>(store, u, &newest).await
}

/// Change-log entries already read (newest first) as rows: the one way entries become rows.
pub async fn rows_of_changes<T: Entity>(
    store: &Store,
    u: &WebUser,
    log: &[ChangeEntry],
) -> Vec<ChangeRow> {
    let t = u.t();
    let mut wanted = Wanted::default();
    for c in log {
        wanted.add("users", &Value::String(c.actor_id.to_string()));
    }
    let names = wanted.resolve(store, &Actor::system()).await;
    log.iter()
        .map(|c| {
            let changed: Vec<String> = match (&c.before, &c.after) {
                (Some(b), Some(a)) => a
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .filter(|(k, v)| {
                                b.get(*k) != Some(*v)
                                    && !matches!(k.as_str(), "version" | "updated_at")
                            })
                            .map(|(k, _)| t.field(T::DEF.name, k).to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
                _ => vec![],
            };
            ChangeRow {
                at: t.datetime(c.at),
                who: names
                    .get(&c.actor_id)
                    .cloned()
                    .unwrap_or_else(|| t.s("common.system").to_string()),
                action: {
                    let key = format!("action.{}", c.action);
                    if t.has(&key) {
                        t.s(&key).to_string()
                    } else {
                        c.action.clone()
                    }
                },
                fields: changed.join(", "),
            }
        })
        .collect()
}

async fn show<T: Entity>(
    State(store): State<Store>,
    u: WebUser,
    Path(id): Path<String>,
) -> Response {
    let def = T::DEF;
    let t = u.t();
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(t, StatusCode::NOT_FOUND, "");
    };
    let r = match store.get::<T>(&u.actor, id).await {
        Ok(r) => r,
        Err(e) => return problem_response(e),
    };
    let custom = match store.custom_fields(def.name).await {
        Ok(c) => c,
        Err(e) => return problem_response(e),
    };
    let json = access::present(&u.actor, &custom, &r);
    let mut wanted = Wanted::default();
    wanted.record(def, &json);
    let names = wanted.resolve(&store, &u.actor).await;
    let coll = collection_of(def);
    let mut actions = vec![];
    if def.name == "lead" && json["status"] != "converted" && u.may("lead", Right::Update) {
        actions.push((
            format!("/leads/{id}/convert"),
            t.s("lead.convert").to_string(),
        ));
    }
    if def.name == "opportunity" {
        actions.push((
            format!(
                "/pipeline?pipeline={}",
                json["pipeline_id"].as_str().unwrap_or("")
            ),
            t.s("nav.pipeline").to_string(),
        ));
    }
    let service = match def.name {
        "case" => match store.get::<Case>(&u.actor, id).await {
            Ok(case) => Some(super::service::panel(&store, &u, &case).await),
            Err(_) => None,
        },
        _ => None,
    };
    let usage = match def.name {
        "article" => guanxi_app::kb::usage(&store, &u.actor, id).await.ok(),
        _ => None,
    };
    let calendar = match def.name {
        "calendar" => store
            .get::<guanxi_domain::entities::Calendar>(&u.actor, id)
            .await
            .ok()
            .map(|c| super::calendars::summary(t, &c.data)),
        _ => None,
    };
    let campaign = match def.name {
        "campaign" => match store
            .get::<guanxi_domain::entities::Campaign>(&u.actor, id)
            .await
        {
            Ok(c) => super::campaigns::panel(&store, &u, &c).await,
            Err(_) => None,
        },
        _ => None,
    };
    let mut facts = facts(t, def, &custom, &json, &names);
    if calendar.is_some() {
        // Shown by weekday and day below, not as JSON.
        let (hours, years) = (t.field(def.name, "hours"), t.field(def.name, "years"));
        facts.retain(|(label, _)| label != hours && label != years);
    }
    let page = RecordPage {
        service,
        usage,
        p: u.page(def.title_of(&json)),
        heading: format!("{} · {}", t.entity_one(def.name), def.title_of(&json)),
        calendar,
        campaign,
        facts: facts
            .into_iter()
            .map(|(label, shown)| Fact { label, shown })
            .collect(),
        changes: change_rows::<T>(&store, &u, id).await,
        actions,
        can_update: u.may(def.name, Right::Update),
        can_delete: u.may(def.name, Right::Delete),
        password_form: def.name == "user" && u.is_admin(),
        rule_runs: super::rules::runs_on(&store, &u, def, id).await,
        id,
        version: r.meta.version,
        coll,
    };
    shown(render(&page), &u)
}

#[derive(Template)]
#[template(path = "form.html")]
pub struct FormPage {
    pub p: Page,
    pub heading: String,
    pub action: String,
    pub cancel: String,
    pub version: Option<i64>,
    pub inputs: Vec<Input>,
    /// Errors not tied to one input.
    pub general: Vec<String>,
    pub conflict: bool,
    pub owners: Vec<Choice>,
}

/// The form of `T` filled from `values`.
async fn form_page<T: Entity>(
    store: &Store,
    u: &WebUser,
    custom: &[CustomFieldDef],
    values: &Value,
    errors: &[FieldError],
    existing: Option<(Id, i64)>,
) -> FormPage {
    let def = T::DEF;
    let t = u.t();
    let mut wanted = Wanted::default();
    wanted.record(def, values);
    let names = wanted.resolve(store, &u.actor).await;
    let inputs = fields::inputs(t, def, custom, values, errors, &names);
    let known: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
    let general = errors
        .iter()
        .filter(|e| {
            !known
                .iter()
                .any(|k| e.field == *k || e.field.starts_with(&format!("{k}.")))
        })
        .map(|e| {
            if e.field.is_empty() || e.field == "." {
                fields::message(t, e)
            } else {
                format!("{}: {}", e.field, fields::message(t, e))
            }
        })
        .collect();
    let coll = collection_of(def);
    // Owners are chosen by those who see more than their own records.
    let owners = if def.scoped && u.actor.scope() != guanxi_domain::Scope::Own {
        user_choices(store, values["owner_id"].as_str()).await
    } else {
        vec![]
    };
    let (heading, action, cancel, version) = match existing {
        Some((id, v)) => (
            format!("{} · {}", t.s("common.edit"), def.title_of(values)),
            format!("{coll}/{id}/edit"),
            format!("{coll}/{id}"),
            Some(v),
        ),
        None => (
            t.f("form.new", &[("entity", t.entity_one(def.name))]),
            format!("{coll}/new"),
            coll.clone(),
            None,
        ),
    };
    FormPage {
        p: u.page(heading.clone()),
        heading,
        action,
        cancel,
        version,
        inputs,
        general,
        conflict: false,
        owners,
    }
}

async fn new_form<T: Entity>(
    State(store): State<Store>,
    u: WebUser,
    RawQuery(raw): RawQuery,
) -> Response {
    let def = T::DEF;
    if !u.may(def.name, Right::Create) {
        return super::error_page(u.t(), StatusCode::FORBIDDEN, "");
    }
    let custom = match store.custom_fields(def.name).await {
        Ok(c) => c,
        Err(e) => return problem_response(e),
    };
    // Fields may come filled from the link that led here (`?account_id=…`).
    let form = FormData::parse(raw.unwrap_or_default().as_bytes());
    let mut values = fields::typed_values(def, &custom, &form);
    defaults(def.name, &mut values);
    let page = form_page::<T>(&store, &u, &custom, &values, &[], None).await;
    render(&page)
}

/// What a new record starts with when the link gave nothing.
fn defaults(entity: &str, values: &mut Value) {
    let now = chrono::Utc::now();
    let set = |values: &mut Value, k: &str, v: Value| {
        if values.get(k).is_none_or(Value::is_null) {
            values[k] = v;
        }
    };
    match entity {
        "account" => {
            set(values, "kind", "organisation".into());
            set(values, "relationship", "prospect".into());
        }
        "interaction" => {
            set(values, "at", now.to_rfc3339().into());
            set(values, "status", "done".into());
        }
        "case" => {
            set(values, "status", "new".into());
            set(values, "priority", "normal".into());
        }
        "order" => set(values, "ordered_at", now.to_rfc3339().into()),
        "user" => set(values, "locale", "zh-CN".into()),
        // A subscription or a robot is made to be sent to: it starts switched on.
        "webhook" | "robot" => set(values, "active", true.into()),
        _ => {}
    }
}

/// Re-show a form after a refusal: what the user typed, and why it was refused.
async fn refused<T: Entity>(
    store: &Store,
    u: &WebUser,
    custom: &[CustomFieldDef],
    form: &FormData,
    refusal: AppError,
    existing: Option<(Id, i64)>,
) -> Response {
    let problem = Problem::from(refusal);
    let values = fields::typed_values(T::DEF, custom, form);
    let mut errors = problem.errors.clone();
    if errors.is_empty() {
        errors.push(FieldError {
            field: String::new(),
            code: "refused",
            message: problem.detail.clone(),
        });
    }
    let page = form_page::<T>(store, u, custom, &values, &errors, existing).await;
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    render_status(status, &page)
}

async fn create<T: Entity>(
    State(store): State<Store>,
    Posted { user: u, form }: Posted,
) -> Response {
    let def = T::DEF;
    let custom = match store.custom_fields(def.name).await {
        Ok(c) => c,
        Err(e) => return problem_response(e),
    };
    let mut json = match fields::json_of_form(def, &custom, &form) {
        Ok(j) => j,
        Err(errors) => {
            let e = AppError::Invalid(ValidationErrors(errors));
            return refused::<T>(&store, &u, &custom, &form, e, None).await;
        }
    };
    // A new record leaves out what was left empty, so the entity's defaults apply.
    json.retain(|_, v| !v.is_null());
    match writes::create::<T>(&store, &u.actor, Value::Object(json)).await {
        Ok(r) => {
            let to = form
                .get("_back")
                .filter(|b| b.starts_with('/') && !b.starts_with("//"))
                .map_or_else(
                    || format!("{}/{}", collection_of(def), r.meta.id),
                    str::to_string,
                );
            page::done(&to, u.t().s("form.created"))
        }
        Err(e) => refused::<T>(&store, &u, &custom, &form, e, None).await,
    }
}

async fn edit_form<T: Entity>(
    State(store): State<Store>,
    u: WebUser,
    Path(id): Path<String>,
) -> Response {
    let def = T::DEF;
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    let r = match store.get::<T>(&u.actor, id).await {
        Ok(r) => r,
        Err(e) => return problem_response(e),
    };
    if !u.may(def.name, Right::Update) {
        return super::error_page(u.t(), StatusCode::FORBIDDEN, "");
    }
    let custom = match store.custom_fields(def.name).await {
        Ok(c) => c,
        Err(e) => return problem_response(e),
    };
    let json = access::present(&u.actor, &custom, &r);
    let page = form_page::<T>(&store, &u, &custom, &json, &[], Some((id, r.meta.version))).await;
    render(&page)
}

/// The edit is saved only onto the version the user started from. If someone saved in the
/// meantime the form comes back with the user's text kept and the other version beside each
/// field that differs; saving again (after choosing) applies onto the new version.
async fn save<T: Entity>(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let def = T::DEF;
    let t = u.t();
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(t, StatusCode::NOT_FOUND, "");
    };
    let version: i64 = form.text("_version").parse().unwrap_or(0);
    let custom = match store.custom_fields(def.name).await {
        Ok(c) => c,
        Err(e) => return problem_response(e),
    };
    let mut json = match fields::json_of_form(def, &custom, &form) {
        Ok(j) => j,
        Err(errors) => {
            let e = AppError::Invalid(ValidationErrors(errors));
            return refused::<T>(&store, &u, &custom, &form, e, Some((id, version))).await;
        }
    };
    // A masked value shown in the form comes back masked: never write the mask over the
    // real value.
    if !u.actor.role.see_sensitive {
        for f in def.fields.iter().filter(|f| f.sensitive) {
            if json
                .get(f.name)
                .and_then(Value::as_str)
                .is_some_and(|s| s.contains("***"))
            {
                json.remove(f.name);
            }
        }
    }
    match writes::patch::<T>(&store, &u.actor, id, version, Value::Object(json)).await {
        Ok(_) => page::done(&format!("{}/{id}", collection_of(def)), t.s("form.saved")),
        Err(AppError::Store(StoreError::Conflict { .. })) => {
            conflict::<T>(&store, &u, &custom, &form, id).await
        }
        Err(e) => refused::<T>(&store, &u, &custom, &form, e, Some((id, version))).await,
    }
}

async fn conflict<T: Entity>(
    store: &Store,
    u: &WebUser,
    custom: &[CustomFieldDef],
    form: &FormData,
    id: Id,
) -> Response {
    let def = T::DEF;
    let current: Record<T> = match store.get::<T>(&u.actor, id).await {
        Ok(r) => r,
        Err(e) => return problem_response(e),
    };
    let theirs_json = access::present(&u.actor, custom, &current);
    let values = fields::typed_values(def, custom, form);
    let mut page = form_page::<T>(
        store,
        u,
        custom,
        &values,
        &[],
        Some((id, current.meta.version)),
    )
    .await;
    let theirs_inputs = fields::inputs(u.t(), def, custom, &theirs_json, &[], &Names::new());
    for (mine, theirs) in page.inputs.iter_mut().zip(theirs_inputs) {
        let submitted = form.get(&mine.name).is_some() || mine.kind == "checkbox";
        if submitted && mine.value.trim() != theirs.value.trim() {
            mine.theirs = Some(theirs.value);
        }
    }
    page.conflict = true;
    render_status(StatusCode::CONFLICT, &page)
}

async fn delete<T: Entity>(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let def = T::DEF;
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    let version: i64 = form.text("_version").parse().unwrap_or(0);
    match store.delete::<T>(&u.actor, id, version).await {
        Ok(_) => page::done(&collection_of(def), u.t().s("form.deleted")),
        Err(e) => problem_response(e),
    }
}

/// `POST /{collection}/bulk`: assign, tag or delete the checked rows. Each row carries the
/// version it was shown at, so a row changed meanwhile is skipped, not overwritten.
async fn bulk<T: Entity>(State(store): State<Store>, Posted { user: u, form }: Posted) -> Response {
    let def = T::DEF;
    let t = u.t();
    let action = form.text("action").to_string();
    let owner = form.text("owner_id").to_string();
    let tag = form.text("tag").to_string();
    let back = form
        .get("_back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .map_or_else(|| collection_of(def), str::to_string);
    if action == "add_to_list" {
        return super::segments::bulk_add(&store, &u, &form, &back).await;
    }
    let (mut done, mut skipped) = (0, 0);
    for sel in form.all("sel") {
        let Some((id, version)) = sel
            .split_once(':')
            .and_then(|(i, v)| Some((Id::parse(i).ok()?, v.parse::<i64>().ok()?)))
        else {
            skipped += 1;
            continue;
        };
        let ok = match action.as_str() {
            "assign" if !owner.is_empty() => writes::patch::<T>(
                &store,
                &u.actor,
                id,
                version,
                serde_json::json!({ "owner_id": owner }),
            )
            .await
            .is_ok(),
            "tag" if !tag.is_empty() && def.field("tags").is_some() => store
                .update::<T, _>(&u.actor, id, version, |r| {
                    let mut data = serde_json::to_value(&r.data).unwrap_or_default();
                    let tags = data["tags"].as_array().cloned().unwrap_or_default();
                    if !tags.iter().any(|x| x == tag.as_str()) {
                        let mut tags = tags;
                        tags.push(Value::String(tag.clone()));
                        data["tags"] = Value::Array(tags);
                        r.data = serde_json::from_value(data).map_err(|e| {
                            guanxi_domain::ValidationErrors::single(
                                "tags",
                                "invalid",
                                e.to_string(),
                            )
                        })?;
                    }
                    Ok(())
                })
                .await
                .is_ok(),
            "delete" => store.delete::<T>(&u.actor, id, version).await.is_ok(),
            _ => false,
        };
        if ok {
            done += 1;
        } else {
            skipped += 1;
        }
    }
    let notice = t.f(
        "list.bulk_done",
        &[
            ("done", &done.to_string()),
            ("skipped", &skipped.to_string()),
        ],
    );
    page::done(&back, &notice)
}

/// `POST /views`: save the list's current query under a name.
pub async fn save_view(State(store): State<Store>, Posted { user: u, form }: Posted) -> Response {
    let entity = form.text("entity");
    let Some(def) = guanxi_domain::entity::def_by_name(entity) else {
        return super::error_page(u.t(), StatusCode::BAD_REQUEST, "entity");
    };
    let query = form.text("query");
    let query = if query.is_empty() || query.starts_with('?') {
        query.to_string()
    } else {
        format!("?{query}")
    };
    let shared = form.get("shared").is_some();
    match store
        .save_view(&u.actor, def.name, form.text("name"), &query, shared)
        .await
    {
        Ok(_) => page::done(
            &format!("{}{query}", collection_of(def)),
            u.t().s("list.view_saved"),
        ),
        Err(StoreError::Invalid(_)) => page::done(
            &format!("{}{query}", collection_of(def)),
            u.t().s("list.view_needs_name"),
        ),
        Err(e) => problem_response(e),
    }
}

/// `POST /views/{id}/delete`
pub async fn delete_view(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    let back = form
        .get("_back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .unwrap_or("/")
        .to_string();
    match store.delete_view(&u.actor, id).await {
        Ok(()) => page::done(&back, u.t().s("list.view_deleted")),
        Err(e) => problem_response(e),
    }
}
