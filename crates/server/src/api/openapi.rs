//! The OpenAPI 3.1 description of `/api/v1`, served at `/api/v1/openapi.json`. Schemas come
//! from the Rust types themselves (schemars reads the same serde attributes that parse the
//! bodies); paths come from the same collection list the router uses, so neither can drift.

use axum::Json;
use guanxi_domain::{EachEntity, each_entity};
use guanxi_domain::{Entity, Meta};
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// `GET /openapi.json`, built once per process.
pub async fn serve() -> Json<&'static Value> {
    Json(document())
}

pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

const REF_PREFIX: &str = "#/components/schemas/";

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("{REF_PREFIX}{name}") })
}

/// The error responses, each a problem document.
fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": { "schema": schema_ref("Problem") } },
    })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

fn with_etag(mut response: Value) -> Value {
    response["headers"] = json!({ "ETag": {
        "description": "The record's version; send it back as If-Match to change the record",
        "schema": { "type": "string" },
    }});
    response
}

/// Responses keyed by status, with the errors every authenticated operation can give.
fn responses(success: &[(&str, Value)], errors: &[&str]) -> Value {
    let mut r = Map::new();
    for (status, body) in success {
        r.insert((*status).into(), body.clone());
    }
    for status in ["400", "401", "413", "415"].iter().chain(errors) {
        let what = match *status {
            "400" => "Malformed request: bad JSON, an unknown parameter or filter field",
            "401" => "Not signed in, or the token is unknown, expired or revoked",
            "403" => {
                "The role lacks the right, or a cookie-authenticated write lacks its CSRF token"
            }
            "404" => "No such record, or not one the caller may see",
            "409" => "A unique field already holds this value",
            "412" => "If-Match names a version that is no longer current; nothing was changed",
            "413" => "The body is too large",
            "415" => "The body is not JSON",
            "422" => "A field is missing or wrong; `errors` names each",
            "428" => "If-Match is required",
            "429" => "Too many attempts; see Retry-After",
            "503" => "Not available on this server (it runs without a search index)",
            _ => "Error",
        };
        r.insert((*status).into(), problem(what));
    }
    Value::Object(r)
}

fn param(name: &str, location: &str, required: bool, schema: Value, description: &str) -> Value {
    json!({ "name": name, "in": location, "required": required, "schema": schema, "description": description })
}

fn id_param() -> Value {
    param(
        "id",
        "path",
        true,
        json!({ "type": "string", "format": "uuid" }),
        "Record id",
    )
}

fn if_match() -> Value {
    param(
        "If-Match",
        "header",
        true,
        json!({ "type": "string" }),
        "The ETag of the version being changed, e.g. \"3\"",
    )
}

fn body(schema: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

struct Doc {
    generator: SchemaGenerator,
    paths: Map<String, Value>,
    /// Per entity: its schema name and description.
    entities: Vec<(String, &'static guanxi_domain::EntityDef)>,
}

impl Doc {
    fn schema<T: JsonSchema>(&mut self) -> Value {
        self.generator.subschema_for::<T>().to_value()
    }

    fn op(&mut self, path: &str, method: &str, op: Value) {
        let entry = self
            .paths
            .entry(path.to_string())
            .or_insert_with(|| json!({}));
        entry[method] = op;
    }
}

impl EachEntity for Doc {
    fn entity<T: Entity>(&mut self) {
        let Some(path) = T::DEF.collection else {
            return;
        };
        let name = T::schema_name().into_owned();
        self.schema::<T>();
        self.entities.push((name.clone(), T::DEF));
        let record = schema_ref(&format!("{name}Record"));
        let tag = json!([path]);
        let list_params = json!([
            param(
                "filter",
                "query",
                false,
                json!({ "type": "array", "items": { "type": "string" } }),
                "field:op:value, repeatable; op is eq, ne, lt, le, gt, ge, contains, starts_with, in (comma-separated values) or is_null; custom fields as custom.key"
            ),
            param(
                "sort",
                "query",
                false,
                json!({ "type": "string" }),
                "A field, or -field for descending"
            ),
            param(
                "limit",
                "query",
                false,
                json!({ "type": "integer", "minimum": 1, "maximum": guanxi_domain::filter::MAX_LIMIT }),
                "Page size (default 50)"
            ),
            param(
                "cursor",
                "query",
                false,
                json!({ "type": "string" }),
                "next_cursor of the previous page"
            ),
            param(
                "count",
                "query",
                false,
                json!({ "type": "boolean" }),
                "Also count every match"
            ),
            param(
                "deleted",
                "query",
                false,
                json!({ "type": "boolean" }),
                "List soft-deleted records instead"
            ),
        ]);
        let page = json!({
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": { "type": "array", "items": record },
                "next_cursor": { "type": ["string", "null"] },
                "total": { "type": "integer" },
            },
        });
        self.op(&format!("/{path}"), "get", json!({
            "tags": tag, "operationId": format!("list_{path}"), "summary": format!("List {path}"),
            "parameters": list_params,
            "responses": responses(&[("200", ok("One page", page))], &["403", "422"]),
        }));
        let mut export_params = list_params.as_array().cloned().unwrap_or_default();
        export_params.retain(|p| matches!(p["name"].as_str(), Some("filter" | "sort" | "deleted")));
        export_params.extend([
            param(
                "format",
                "query",
                false,
                json!({ "type": "string", "enum": ["csv", "xlsx"], "default": "csv" }),
                "CSV (UTF-8 with BOM, CRLF) or Excel .xlsx",
            ),
            param(
                "columns",
                "query",
                false,
                json!({ "type": "string" }),
                "Comma-separated fields, custom fields as custom.key, and id, created_at, updated_at, owner_id, team_id; default every field (built-in, then custom)",
            ),
            param(
                "labels",
                "query",
                false,
                json!({ "type": "string", "enum": ["zh", "en"] }),
                "Headers and choice values as labels in this language instead of keys",
            ),
        ]);
        let binary = json!({ "schema": { "type": "string", "format": "binary" } });
        let content = json!({
            "text/csv": binary,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": binary,
        });
        self.op(&format!("/{path}/export"), "get", json!({
            "tags": tag, "operationId": format!("export_{path}"),
            "summary": format!("Download every {path} record of a view the caller may see, sensitive fields masked; recorded in the change log"),
            "parameters": export_params,
            "responses": responses(&[("200", json!({ "description": "The file, streamed", "content": content }))], &["403", "422"]),
        }));
        self.op(&format!("/{path}"), "post", json!({
            "tags": tag, "operationId": format!("create_{path}"), "summary": format!("Create one of {path}"),
            "requestBody": body(schema_ref(&format!("{name}Create"))),
            "responses": responses(&[("201", with_etag(ok("Created", record.clone())))], &["403", "409", "422"]),
        }));
        let one = format!("/{path}/{{id}}");
        self.op(&one, "get", json!({
            "tags": tag, "operationId": format!("get_{path}"), "parameters": [id_param()],
            "responses": responses(&[("200", with_etag(ok("The record", record.clone())))], &["404"]),
        }));
        self.op(&one, "patch", json!({
            "tags": tag, "operationId": format!("patch_{path}"),
            "summary": "Change fields (JSON merge patch: null removes)",
            "parameters": [id_param(), if_match()],
            "requestBody": body(schema_ref(&format!("{name}Patch"))),
            "responses": responses(&[("200", with_etag(ok("Changed", record.clone())))], &["403", "404", "409", "412", "422", "428"]),
        }));
        self.op(&one, "delete", json!({
            "tags": tag, "operationId": format!("delete_{path}"), "summary": "Soft-delete",
            "parameters": [id_param(), if_match()],
            "responses": responses(&[("204", json!({ "description": "Deleted" }))], &["403", "404", "412", "428"]),
        }));
        self.op(&format!("{one}/restore"), "post", json!({
            "tags": tag, "operationId": format!("restore_{path}"), "summary": "Undo a soft delete",
            "parameters": [id_param(), if_match()],
            "responses": responses(&[("200", with_etag(ok("Restored", record)))], &["403", "404", "412", "428"]),
        }));
    }
}

/// `{name}Record` (as read), `{name}Create` and `{name}Patch` from an entity's own schema;
/// computed fields are read only.
fn derived_schemas(
    schemas: &mut Map<String, Value>,
    meta: &Value,
    name: &str,
    def: &guanxi_domain::EntityDef,
) {
    let own = schemas.get(name).cloned().unwrap_or_default();
    let props = own["properties"].as_object().cloned().unwrap_or_default();
    let required: Vec<Value> = own["required"].as_array().cloned().unwrap_or_default();
    let computed = |k: &str| def.field(k).is_some_and(|f| f.computed);
    let owner = json!({ "type": ["string", "null"], "format": "uuid", "description": "The owning user (default: the caller)" });
    let custom = json!({ "type": "object", "description": "Values of the custom fields an administrator defined, by key" });

    let mut create: Map<String, Value> = props
        .iter()
        .filter(|(k, _)| !computed(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    create.insert("owner_id".into(), owner);
    create.insert("custom".into(), custom.clone());
    schemas.insert(
        format!("{name}Create"),
        json!({ "type": "object", "properties": create, "required": required, "additionalProperties": false }),
    );

    let patch: Map<String, Value> = create
        .into_iter()
        .map(|(k, v)| (k, json!({ "anyOf": [v, { "type": "null" }] })))
        .collect();
    schemas.insert(
        format!("{name}Patch"),
        json!({ "type": "object", "properties": patch, "additionalProperties": false }),
    );

    let mut record = meta["properties"].as_object().cloned().unwrap_or_default();
    record.extend(props);
    record.insert("custom".into(), custom);
    let mut required_read: Vec<Value> = meta["required"].as_array().cloned().unwrap_or_default();
    required_read.extend(required);
    required_read.push("custom".into());
    schemas.insert(
        format!("{name}Record"),
        json!({
            "type": "object", "properties": record, "required": required_read,
            "description": format!("A stored {name}: bookkeeping, its fields, custom values. Sensitive fields are masked for roles without the right to see them."),
        }),
    );
}

fn build() -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    let mut doc = Doc {
        generator: settings.into_generator(),
        paths: Map::new(),
        entities: vec![],
    };
    each_entity(&mut doc);
    let meta = Meta::json_schema(&mut doc.generator).to_value();
    let summary = doc.schema::<guanxi_store::AccountSummary>();
    let timeline = doc.schema::<guanxi_store::Timeline>();
    let change = doc.schema::<guanxi_store::ChangeEntry>();
    let recent = doc.schema::<guanxi_store::RecentChanges>();
    let token = doc.schema::<guanxi_store::ApiToken>();
    let money = doc.schema::<guanxi_domain::Money>();
    special_paths(&mut doc, summary, timeline, change, recent, token, money);
    finding_paths(&mut doc);
    job_paths(&mut doc);
    rule_paths(&mut doc);
    webhook_paths(&mut doc);
    email_paths(&mut doc);
    notification_paths(&mut doc);

    let mut schemas: Map<String, Value> =
        doc.generator.take_definitions(true).into_iter().collect();
    for (name, def) in &doc.entities {
        derived_schemas(&mut schemas, &meta, name, def);
    }
    schemas.insert("Problem".into(), problem_schema());

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Guanxi CRM API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every channel and department reaches the one customer database through this API. Errors are RFC 9457 problem documents. Writes to an existing record need If-Match with the ETag last read.",
        },
        "servers": [{ "url": "/api/v1" }],
        "security": [{ "bearer": [] }, { "session": [] }],
        "paths": doc.paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "A personal API token (gx_…) from POST /auth/tokens or `guanxi user token`" },
                "session": { "type": "apiKey", "in": "cookie", "name": "guanxi_session", "description": "The session cookie from POST /auth/login; writes also need the X-CSRF-Token header" },
            },
        },
    })
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": { "type": "string" },
            "title": { "type": "string" },
            "status": { "type": "integer" },
            "detail": { "type": "string" },
            "errors": {
                "type": "array",
                "description": "The fields that are wrong",
                "items": {
                    "type": "object",
                    "required": ["field", "code", "message"],
                    "properties": {
                        "field": { "type": "string" },
                        "code": { "type": "string" },
                        "message": { "type": "string" },
                    },
                },
            },
        },
    })
}

fn special_paths(
    doc: &mut Doc,
    summary: Value,
    timeline: Value,
    change: Value,
    recent: Value,
    token: Value,
    money: Value,
) {
    let rec = |name: &str| schema_ref(&format!("{name}Record"));
    let list = |name: &str| json!({ "type": "array", "items": rec(name) });
    let object = |props: Value, required: &[&str]| json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false });
    let string = json!({ "type": "string" });
    let uuid = json!({ "type": "string", "format": "uuid" });
    let time = json!({ "type": "string", "format": "date-time" });

    doc.op("/openapi.json", "get", json!({
        "tags": ["meta"], "operationId": "openapi", "summary": "This description", "security": [],
        "responses": { "200": ok("OpenAPI 3.1", json!({ "type": "object" })) },
    }));
    doc.op("/auth/login", "post", json!({
        "tags": ["auth"], "operationId": "login", "security": [],
        "summary": "Sign in: sets the session cookie and returns the CSRF token for writes",
        "requestBody": body(object(json!({ "email": string, "password": string }), &["email", "password"])),
        "responses": responses(&[("200", ok("Signed in", json!({
            "type": "object", "required": ["user_id", "csrf_token", "expires_at", "failed_sign_ins"],
            "properties": { "user_id": uuid, "csrf_token": string, "expires_at": time,
                "failed_sign_ins": { "type": "array", "description": "Failed sign-ins to this account from other addresses since the user last heard of them",
                    "items": { "type": "object", "required": ["address", "attempts", "since"],
                        "properties": { "address": string, "attempts": { "type": "integer" }, "since": time } } } },
        })))], &["422", "429"]),
    }));
    doc.op(
        "/auth/logout",
        "post",
        json!({
            "tags": ["auth"], "operationId": "logout",
            "responses": responses(&[("204", json!({ "description": "Signed out" }))], &["403"]),
        }),
    );
    doc.op("/auth/me", "get", json!({
        "tags": ["auth"], "operationId": "me",
        "responses": responses(&[("200", ok("The caller", json!({
            "type": "object", "required": ["user_id", "role", "scope"],
            "properties": { "user_id": uuid, "role": string, "scope": string, "team_id": { "type": ["string", "null"], "format": "uuid" } },
        })))], &[]),
    }));
    let issued = json!({ "allOf": [token.clone(), { "type": "object", "required": ["token"], "properties": { "token": { "type": "string", "description": "The secret, shown this once" } } }] });
    doc.op("/auth/tokens", "get", json!({
        "tags": ["auth"], "operationId": "list_tokens",
        "responses": responses(&[("200", ok("The caller's tokens, without secrets",
            json!({ "type": "object", "required": ["items"], "properties": { "items": { "type": "array", "items": token } } })))], &[]),
    }));
    doc.op("/auth/tokens", "post", json!({
        "tags": ["auth"], "operationId": "issue_token",
        "requestBody": body(object(json!({
            "name": string,
            "days": { "type": "integer", "minimum": 1, "maximum": 366, "description": "Days until it expires (default 90)" },
        }), &["name"])),
        "responses": responses(&[("201", ok("The token, with its secret shown once", issued))], &["403", "422"]),
    }));
    doc.op("/auth/tokens/{id}", "delete", json!({
        "tags": ["auth"], "operationId": "revoke_token", "parameters": [id_param()],
        "responses": responses(&[("204", json!({ "description": "Revoked" }))], &["403", "404"]),
    }));
    doc.op("/accounts/{id}/360", "get", json!({
        "tags": ["accounts"], "operationId": "account_360", "summary": "The whole customer in one response",
        "parameters": [id_param()],
        "responses": responses(&[("200", ok("The 360° view", json!({
            "type": "object",
            "required": ["account", "parent", "subsidiaries", "contacts", "interactions", "orders", "cases", "open_opportunities", "summary", "timeline", "changes"],
            "properties": {
                "account": rec("Account"),
                "parent": { "anyOf": [rec("Account"), { "type": "null" }] },
                "subsidiaries": list("Account"),
                "contacts": list("Contact"),
                "interactions": list("Interaction"),
                "orders": list("Order"),
                "cases": list("Case"),
                "open_opportunities": list("Opportunity"),
                "summary": summary,
                "timeline": { "allOf": [timeline.clone()], "description": format!("The timeline's first page ({} items, more when events share an instant), as GET /accounts/{{id}}/timeline gives it", guanxi_store::FIRST_TIMELINE_PAGE) },
                "changes": { "allOf": [recent], "description": format!("The account's newest {} change-log entries, newest first; GET /changes has them all", guanxi_store::RECENT_CHANGES) },
            },
        })))], &["404"]),
    }));
    doc.op("/accounts/{id}/timeline", "get", json!({
        "tags": ["accounts"], "operationId": "account_timeline",
        "summary": "Interactions, orders, cases and changes, newest first",
        "parameters": [
            id_param(),
            param("before", "query", false, json!({ "type": "string", "format": "date-time" }), "next_before of the previous page"),
            param("limit", "query", false, json!({ "type": "integer", "minimum": 1, "maximum": guanxi_store::MAX_TIMELINE_PAGE }), "Page size (default 50)"),
        ],
        "responses": responses(&[("200", ok("One page", timeline))], &["404", "422"]),
    }));
    doc.op("/opportunities/{id}/stage", "post", json!({
        "tags": ["opportunities"], "operationId": "move_stage",
        "summary": "Move a deal to another stage of its pipeline, recorded in its stage history",
        "parameters": [id_param(), if_match()],
        "requestBody": body(object(json!({
            "stage": { "type": "string", "description": "The stage key" },
            "reason": { "type": ["string", "null"], "description": "Why it was won or lost (required for those)" },
        }), &["stage"])),
        "responses": responses(&[("200", with_etag(ok("Moved", rec("Opportunity"))))], &["403", "404", "412", "422", "428"]),
    }));
    doc.op("/leads/{id}/convert", "post", json!({
        "tags": ["leads"], "operationId": "convert_lead",
        "summary": "Lead to account, contact and (optionally) deal, in one transaction",
        "parameters": [id_param(), if_match()],
        "requestBody": { "required": false, "content": { "application/json": { "schema": object(json!({
            "account_id": { "type": ["string", "null"], "format": "uuid", "description": "An existing account to attach to" },
            "opportunity": { "anyOf": [object(json!({ "name": string, "amount": money }), &["name", "amount"]), { "type": "null" }] },
        }), &[]) } } },
        "responses": responses(&[("200", ok("Converted", json!({
            "type": "object", "required": ["lead", "account_id", "contact", "opportunity"],
            "properties": {
                "lead": rec("Lead"), "account_id": uuid, "contact": rec("Contact"),
                "opportunity": { "anyOf": [rec("Opportunity"), { "type": "null" }] },
            },
        })))], &["403", "404", "409", "412", "422", "428"]),
    }));
    doc.op("/cases/{id}/accept", "post", json!({
        "tags": ["cases"], "operationId": "accept_case",
        "summary": "The service partner the case is offered to takes it (partner users)",
        "parameters": [id_param(), if_match()],
        "responses": responses(&[("200", with_etag(ok("Accepted", rec("Case"))))], &["403", "404", "412", "422", "428"]),
    }));
    doc.op("/cases/{id}/decline", "post", json!({
        "tags": ["cases"], "operationId": "decline_case",
        "summary": "The service partner the case is offered to declines it: it is offered to the next nearest qualified partner",
        "parameters": [id_param(), if_match()],
        "requestBody": { "required": false, "content": { "application/json": { "schema": object(json!({
            "comment": { "type": ["string", "null"], "description": "Why" },
        }), &[]) } } },
        "responses": responses(&[("200", with_etag(ok("Declined", rec("Case"))))], &["403", "404", "412", "422", "428"]),
    }));
    doc.op("/service/kpis", "get", json!({
        "tags": ["cases"], "operationId": "service_kpis",
        "summary": "Service KPIs of the cases in sight: first response and resolution in business minutes (median, p90), SLA attainment by team, partner, category and month, the open backlog by age, satisfaction by month",
        "parameters": [
            param("days", "query", false, json!({ "type": "integer", "minimum": 1, "maximum": 730 }), "The last days (default 90)"),
            param("team", "query", false, json!({ "type": "string", "format": "uuid" }), "Only this team's cases"),
            param("partner", "query", false, json!({ "type": "string", "format": "uuid" }), "Only this service partner's cases"),
        ],
        "responses": responses(&[("200", ok("The KPIs", json!({
            "type": "object",
            "required": ["since", "first_response", "resolution", "by_team", "by_partner", "by_category", "by_month", "backlog", "open", "breached_open", "satisfaction"],
        })))], &["403", "422"]),
    }));
    doc.op("/articles/{id}/usage", "get", json!({
        "tags": ["articles"], "operationId": "article_usage",
        "summary": "How many resolved or closed cases name the article as the one that resolved them",
        "parameters": [id_param()],
        "responses": responses(&[("200", ok("The usage", object(json!({
            "resolved_cases": { "type": "integer", "minimum": 0 },
        }), &["resolved_cases"])))], &["403", "404"]),
    }));
    let suggestion = doc.schema::<guanxi_app::kb::Suggestion>();
    doc.op("/kb/suggest", "get", json!({
        "tags": ["articles"], "operationId": "suggest_articles",
        "summary": "Published knowledge-base articles that match a text (a case's subject), best first, through the Chinese full-text search (words and pinyin)",
        "parameters": [
            param("q", "query", false, json!({ "type": "string", "default": "" }), "What the customer or agent typed"),
            param("limit", "query", false, json!({ "type": "integer", "minimum": 1, "maximum": guanxi_app::kb::MAX_SUGGESTIONS, "default": 5 }), "How many articles"),
        ],
        "responses": responses(&[("200", ok("The best matches first", object(json!({
            "items": { "type": "array", "items": suggestion },
        }), &["items"])))], &["403", "422", "503"]),
    }));
    doc.op("/campaigns/{id}/launch", "post", json!({
        "tags": ["campaigns"], "operationId": "launch_campaign",
        "summary": "Launch a planned e-mail campaign: its members are taken from its segment as the caller sees it, each drawn into a variant or the control group, and the messages are sent by the job runner (consent checked, one-click unsubscribe, an interaction each). A paused campaign resumes",
        "parameters": [id_param(), if_match()],
        "responses": responses(&[("200", with_etag(ok("Launched", rec("Campaign"))))], &["403", "404", "412", "422", "428"]),
    }));
    doc.op("/campaigns/{id}/pause", "post", json!({
        "tags": ["campaigns"], "operationId": "pause_campaign",
        "summary": "Pause an active campaign: no batch of messages starts after the one being sent; launching it again resumes without sending anyone a message twice",
        "parameters": [id_param(), if_match()],
        "responses": responses(&[("200", with_etag(ok("Paused", rec("Campaign"))))], &["403", "404", "412", "422", "428"]),
    }));
    let progress = doc.schema::<guanxi_app::campaigns::Progress>();
    doc.op("/campaigns/{id}/progress", "get", json!({
        "tags": ["campaigns"], "operationId": "campaign_progress",
        "summary": "Where a campaign's messages stand: members, the control group, and per variant how many are queued, sent, refused (no consent, no address) and failed",
        "parameters": [id_param()],
        "responses": responses(&[("200", ok("The progress", progress))], &["403", "404"]),
    }));
    let profile = doc.schema::<guanxi_app::campaigns::Profile>();
    doc.op("/campaigns/{id}/profile", "get", json!({
        "tags": ["campaigns"], "operationId": "campaign_profile",
        "summary": "Responders (clicked or converted) against non-responders: per attribute of the members sent the message, each value's response rate with its 95 % Wilson interval and lift, the attributes ordered by how strongly they separate responders (Cramér's V)",
        "parameters": [id_param()],
        "responses": responses(&[("200", ok("The profile", profile))], &["403", "404"]),
    }));
    let event = doc.schema::<guanxi_store::ConsentEvent>();
    doc.op("/contacts/{id}/consents", "get", json!({
        "tags": ["consent"], "operationId": "consent_history",
        "summary": "A contact's consent history, newest first: each change on a channel with its source (unsubscribe link, preferences page, complaint, recorded by a user) and evidence",
        "parameters": [id_param()],
        "responses": responses(&[("200", ok("The history", object(json!({ "items": { "type": "array", "items": event } }), &["items"])))], &["403", "404"]),
    }));
    let recorded = object(
        json!({
            "channel": { "type": "string", "enum": guanxi_domain::entities::ConsentChannel::VALUES },
            "given": { "type": "boolean" },
            "evidence": { "type": "string", "minLength": 1, "description": "Where the customer gave or withdrew it: a signed form, a call on a date" },
        }),
        &["channel", "given", "evidence"],
    );
    doc.op("/contacts/{id}/consents", "post", json!({
        "tags": ["consent"], "operationId": "record_consent",
        "summary": "Record consent given or withdrawn on a channel, as the customer said or signed it; kept in the contact's consent history with its evidence",
        "parameters": [id_param()],
        "requestBody": body(recorded),
        "responses": responses(&[("200", ok("The contact as it now stands", json!({ "type": "object" })))], &["403", "404", "409", "422"]),
    }));
    let suppression = doc.schema::<guanxi_store::Suppression>();
    doc.op("/suppressions", "get", json!({
        "tags": ["consent"], "operationId": "suppressions",
        "summary": "The suppression list, newest first: addresses no mail goes to (hard bounces: no mail at all; complaints and manual entries: no marketing)",
        "parameters": [
            param("limit", "query", false, json!({ "type": "integer", "minimum": 1, "maximum": guanxi_app::consent::MAX_PAGE }), "At most this many"),
            param("offset", "query", false, json!({ "type": "integer", "minimum": 0 }), "Skip this many"),
        ],
        "responses": responses(&[("200", ok("A page", object(json!({ "items": { "type": "array", "items": suppression.clone() } }), &["items"])))], &["400", "403"]),
    }));
    doc.op("/suppressions", "post", json!({
        "tags": ["consent"], "operationId": "suppress",
        "summary": "Put an address on the suppression list by hand (no marketing mail goes to it)",
        "requestBody": body(object(json!({
            "address": { "type": "string", "format": "email" },
            "detail": { "type": "string" },
        }), &["address"])),
        "responses": responses(&[("201", ok("On the list", suppression))], &["403", "422"]),
    }));
    doc.op("/suppressions/{address}", "delete", json!({
        "tags": ["consent"], "operationId": "unsuppress",
        "summary": "Take an address off the suppression list",
        "parameters": [param("address", "path", true, json!({ "type": "string" }), "The address")],
        "responses": responses(&[("204", json!({ "description": "Taken off" }))], &["403", "404"]),
    }));
    let segment = doc.schema::<guanxi_domain::entities::Segment>();
    let counted = object(
        json!({ "count": { "type": "integer", "minimum": 0 } }),
        &["count"],
    );
    doc.op("/segments/count", "post", json!({
        "tags": ["segments"], "operationId": "preview_segment",
        "summary": "The live count of a segment being edited: how many accounts or contacts it would hold for the caller now; refused as saving it would be",
        "requestBody": body(segment),
        "responses": responses(&[("200", ok("The count", counted.clone()))], &["403", "422"]),
    }));
    doc.op("/segments/{id}/count", "get", json!({
        "tags": ["segments"], "operationId": "count_segment",
        "summary": "How many records the segment holds for the caller now (only records the caller may see)",
        "parameters": [id_param()],
        "responses": responses(&[("200", ok("The count", counted))], &["403", "404", "422"]),
    }));
    let ranking = doc.schema::<guanxi_app::campaigns::targeting::Ranking>();
    doc.op("/segments/{id}/propensity", "get", json!({
        "tags": ["segments"], "operationId": "segment_propensity",
        "summary": "The segment's contacts (those the caller may see) ranked by a response-propensity model: a logistic regression of responding (clicked or converted) on the account's analytics, the buying role and the campaign history before each message, fitted on the campaigns the caller may read with about 30 % of contacts held out; its coefficients, counts and hold-out AUC, and the highest-scored contacts. Too thin a history (fewer than 20 responders or non-responders, or none held out) is refused, naming `history`",
        "parameters": [
            id_param(),
            param("limit", "query", false, json!({ "type": "integer", "minimum": 1, "maximum": guanxi_app::campaigns::targeting::MAX_LIMIT, "default": guanxi_app::campaigns::targeting::DEFAULT_LIMIT }), "How many contacts, the highest scores first"),
        ],
        "responses": responses(&[("200", ok("The model and the ranking", ranking))], &["403", "404", "422"]),
    }));
    let ids = object(
        json!({ "ids": { "type": "array", "items": { "type": "string", "format": "uuid" }, "minItems": 1, "maxItems": guanxi_store::MAX_MEMBERS_PER_CALL } }),
        &["ids"],
    );
    doc.op("/segments/{id}/members", "get", json!({
        "tags": ["segments"], "operationId": "segment_members",
        "summary": "A page of the segment's accounts or contacts, as their list shows them; filter, sort, limit, cursor and count as on every list",
        "parameters": [id_param()],
        "responses": responses(&[("200", ok("One page", json!({ "type": "object", "required": ["items", "next_cursor"] })))], &["403", "404", "422"]),
    }));
    doc.op("/segments/{id}/members", "post", json!({
        "tags": ["segments"], "operationId": "add_to_list",
        "summary": "Put records the caller may see in a static list; those already in it stay once",
        "parameters": [id_param()],
        "requestBody": body(ids.clone()),
        "responses": responses(&[("200", ok("Added", object(json!({ "added": { "type": "integer" } }), &["added"])))], &["403", "404", "422"]),
    }));
    doc.op("/segments/{id}/members/remove", "post", json!({
        "tags": ["segments"], "operationId": "remove_from_list",
        "summary": "Take records out of a static list",
        "parameters": [id_param()],
        "requestBody": body(ids),
        "responses": responses(&[("200", ok("Removed", object(json!({ "removed": { "type": "integer" } }), &["removed"])))], &["403", "404", "422"]),
    }));
    doc.op("/segments/{id}/members/import", "post", json!({
        "tags": ["segments"], "operationId": "import_into_list",
        "summary": "Put the records a CSV or Excel file names (by id, e-mail, mobile, credit code or exact name, headers in Chinese or English) in a static list; rows naming no one record are reported by row number",
        "parameters": [id_param(), param("name", "query", false, json!({ "type": "string" }), "The file's name, whose extension tells CSV from Excel")],
        "requestBody": { "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
        "responses": responses(&[("200", ok("What was read", json!({ "type": "object", "required": ["matched", "added", "unmatched"] })))], &["403", "404", "422"]),
    }));
    let grading = doc.schema::<guanxi_domain::settings::GradingSettings>();
    doc.op("/settings/grading", "get", json!({
        "tags": ["analytics"], "operationId": "get_grading",
        "summary": "How customers are graded: indicator weights and grade thresholds",
        "responses": responses(&[("200", with_etag(ok("The settings", grading.clone())))], &["403"]),
    }));
    doc.op("/settings/grading", "put", json!({
        "tags": ["analytics"], "operationId": "put_grading",
        "summary": "Change the grading (administrators); the next analytics run uses it",
        "parameters": [if_match()],
        "requestBody": body(grading.clone()),
        "responses": responses(&[("200", with_etag(ok("Changed", grading)))], &["403", "412", "422", "428"]),
    }));
    doc.op("/analytics/runs", "get", json!({
        "tags": ["analytics"], "operationId": "analytics_runs",
        "summary": "Every `guanxi analytics run`, oldest first (roles that see all accounts)",
        "responses": responses(&[("200", ok("The runs", json!({
            "type": "object", "required": ["items"], "properties": { "items": { "type": "array", "items": change.clone() } },
        })))], &["403"]),
    }));
    doc.op("/analytics/report", "get", json!({
        "tags": ["analytics"], "operationId": "analytics_report",
        "summary": "The latest run: models, 80/20 and Lorenz curve, segments, grades, lifecycle stages, RFM heat map, CLV deciles, cohort retention",
        "responses": responses(&[("200", ok("The report", json!({
            "type": "object", "required": ["as_of", "computed_at", "accounts", "buyers", "reports"],
            "properties": {
                "as_of": { "type": "string", "format": "date" },
                "computed_at": time,
                "accounts": { "type": "integer" },
                "buyers": { "type": "integer" },
                "reports": { "type": "object" },
            },
        })))], &["403", "404"]),
    }));
    // The entities served as collections (filled in before the special paths).
    let entities: Vec<&'static str> = doc.entities.iter().map(|(_, d)| d.name).collect();
    doc.op("/changes", "get", json!({
        "tags": ["changes"], "operationId": "changes", "summary": "A record's change log, oldest first",
        "parameters": [
            param("entity", "query", true, json!({ "type": "string", "enum": entities }), "The record's entity"),
            param("id", "query", true, uuid, "The record's id"),
        ],
        "responses": responses(&[("200", ok("Its changes", json!({
            "type": "object", "required": ["items"], "properties": { "items": { "type": "array", "items": change } },
        })))], &["404"]),
    }));
}

/// Workflow rules' runs and the test of a rule against a record.
fn rule_paths(doc: &mut Doc) {
    let run = doc.schema::<guanxi_store::RuleRun>();
    let report = doc.schema::<guanxi_app::rules::TestReport>();
    let uuid = json!({ "type": "string", "format": "uuid" });
    let id = param("id", "path", true, uuid.clone(), "The rule's id");
    let limit = param(
        "limit",
        "query",
        false,
        json!({ "type": "integer", "minimum": 1, "maximum": 500 }),
        "How many, newest first (50 by default)",
    );
    let runs = json!({
        "type": "object", "required": ["items"],
        "properties": { "items": { "type": "array", "items": run } },
    });
    doc.op("/rules/{id}/runs", "get", json!({
        "tags": ["rules"], "operationId": "rule_runs",
        "summary": "What a rule did: its runs, newest first, with each action's outcome; refused runs say why (a chain of rules too deep)",
        "parameters": [id.clone(), limit.clone()],
        "responses": responses(&[("200", ok("The runs", runs.clone()))], &["403", "404"]),
    }));
    doc.op(
        "/rule-runs",
        "get",
        json!({
            "tags": ["rules"], "operationId": "record_rule_runs",
            "summary": "What rules did to a record, newest first",
            "parameters": [param("record_id", "query", true, uuid.clone(), "The record"), limit],
            "responses": responses(&[("200", ok("The runs", runs))], &["403"]),
        }),
    );
    doc.op("/rules/{id}/test", "post", json!({
        "tags": ["rules"], "operationId": "test_rule",
        "summary": "Run a rule's conditions against a record and say what it would do; nothing is written",
        "parameters": [id],
        "requestBody": { "required": true, "content": { "application/json": { "schema": {
            "type": "object", "required": ["record_id"],
            "properties": { "record_id": uuid },
        }}}},
        "responses": responses(&[("200", ok("Which conditions the record meets, and the actions that would run", report))], &["403", "404", "422"]),
    }));
}

/// Webhook subscriptions' secret, delivery log and replay, for the owner and administrators.
fn webhook_paths(doc: &mut Doc) {
    let delivery = doc.schema::<guanxi_store::Delivery>();
    let attempt = doc.schema::<guanxi_store::Attempt>();
    let uuid = json!({ "type": "string", "format": "uuid" });
    let id = param("id", "path", true, uuid.clone(), "The webhook's id");
    let did = param("delivery", "path", true, uuid.clone(), "The delivery's id");
    doc.op("/webhooks/{id}/secret", "get", json!({
        "tags": ["webhooks"], "operationId": "webhook_secret",
        "summary": "The webhook's signing secret (whsec_…), made on first use; for its owner and administrators",
        "parameters": [id.clone()],
        "responses": responses(&[("200", ok("The secret", json!({
            "type": "object", "required": ["secret"], "properties": { "secret": { "type": "string" } },
        })))], &["403", "404"]),
    }));
    doc.op("/webhooks/{id}/deliveries", "get", json!({
        "tags": ["webhooks"], "operationId": "webhook_deliveries",
        "summary": "The webhook's deliveries, newest first: status, attempts, the last response code",
        "parameters": [
            id.clone(),
            param("limit", "query", false, json!({ "type": "integer", "minimum": 1, "maximum": 500 }), "How many (50 by default)"),
            param("before", "query", false, uuid, "Only deliveries older than this one (the last id of the previous page)"),
        ],
        "responses": responses(&[("200", ok("The deliveries", json!({
            "type": "object", "required": ["items"],
            "properties": { "items": { "type": "array", "items": delivery.clone() } },
        })))], &["403", "404"]),
    }));
    doc.op("/webhooks/{id}/deliveries/{delivery}", "get", json!({
        "tags": ["webhooks"], "operationId": "webhook_delivery",
        "summary": "One delivery and every attempt at it (status code, duration, error, the start of the answer)",
        "parameters": [id.clone(), did.clone()],
        "responses": responses(&[("200", ok("The delivery and its attempts", json!({
            "type": "object", "required": ["delivery", "attempts"],
            "properties": { "delivery": delivery.clone(), "attempts": { "type": "array", "items": attempt } },
        })))], &["403", "404"]),
    }));
    doc.op("/webhooks/{id}/deliveries/{delivery}/replay", "post", json!({
        "tags": ["webhooks"], "operationId": "replay_webhook_delivery",
        "summary": "Send a delivery again, with its id and body as first sent, after any earlier pending delivery of the same record",
        "parameters": [id, did],
        "responses": responses(&[("200", ok("The delivery, pending", delivery))], &["403", "404"]),
    }));
}

/// Rendering an e-mail template for a preview.
fn email_paths(doc: &mut Doc) {
    use guanxi_domain::entities::{Locale, MailCategory};
    let text = json!({ "type": "string" });
    doc.op("/email-templates/preview", "post", json!({
        "tags": ["email_templates"], "operationId": "preview_email_template",
        "summary": "Render an e-mail template (its fields, saved or not) for a contact you may read, or for a sample contact; an unknown merge field is refused naming its part (subject, html, text)",
        "requestBody": { "required": true, "content": { "application/json": { "schema": {
            "type": "object", "additionalProperties": false,
            "required": ["name", "locale", "category", "subject", "html", "text"],
            "properties": {
                "name": text, "subject": text, "html": text, "text": text,
                "locale": { "type": "string", "enum": Locale::VALUES },
                "category": { "type": "string", "enum": MailCategory::VALUES },
                "contact_id": { "type": ["string", "null"], "format": "uuid" },
            },
        }}}},
        "responses": responses(&[("200", ok("The rendered parts", json!({
            "type": "object", "required": ["subject", "html", "text"],
            "properties": { "subject": text, "html": text, "text": text },
        })))], &["404", "422"]),
    }));
}

/// Durable jobs, for administrators.
fn job_paths(doc: &mut Doc) {
    let job = doc.schema::<guanxi_store::Job>();
    let states: Vec<&str> = guanxi_store::JobState::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    let id = param(
        "id",
        "path",
        true,
        json!({ "type": "string", "format": "uuid" }),
        "The job's id",
    );
    doc.op("/jobs", "get", json!({
        "tags": ["jobs"], "operationId": "list_jobs",
        "summary": "Durable jobs (rule actions, webhook deliveries, e-mails, timers), newest first, with the count in each state (administrators)",
        "parameters": [
            param("state", "query", false, json!({ "type": "string", "enum": states }), "Only jobs in this state"),
            param("kind", "query", false, json!({ "type": "string" }), "Only jobs of this kind, e.g. webhook.deliver"),
            param("limit", "query", false, json!({ "type": "integer", "minimum": 1, "maximum": guanxi_domain::filter::MAX_LIMIT }), "Page size (50 by default)"),
            param("cursor", "query", false, json!({ "type": "string" }), "The next_cursor of the previous page"),
        ],
        "responses": responses(&[("200", ok("A page of jobs", json!({
            "type": "object", "required": ["items", "next_cursor", "counts"],
            "properties": {
                "items": { "type": "array", "items": job.clone() },
                "next_cursor": { "type": ["string", "null"] },
                "counts": {
                    "type": "object", "required": states,
                    "properties": states.iter().map(|s| (s.to_string(), json!({ "type": "integer" }))).collect::<Map<String, Value>>(),
                },
            },
        })))], &["403", "422"]),
    }));
    doc.op(
        "/jobs/{id}",
        "get",
        json!({
            "tags": ["jobs"], "operationId": "get_job", "summary": "One job (administrators)",
            "parameters": [id.clone()],
            "responses": responses(&[("200", ok("The job", job.clone()))], &["403", "404"]),
        }),
    );
    doc.op("/jobs/{id}/retry", "post", json!({
        "tags": ["jobs"], "operationId": "retry_job",
        "summary": "Queue a dead or cancelled job again, to run now with all its attempts (administrators); any other state is refused naming `state`",
        "parameters": [id.clone()],
        "responses": responses(&[("200", ok("The job, queued", job.clone()))], &["403", "404", "422"]),
    }));
    doc.op("/jobs/{id}/cancel", "post", json!({
        "tags": ["jobs"], "operationId": "cancel_job",
        "summary": "Cancel a queued or dead job (administrators); a running, done or cancelled one is refused naming `state`",
        "parameters": [id],
        "responses": responses(&[("200", ok("The job, cancelled", job))], &["403", "404", "422"]),
    }));
}

/// Search, imports, duplicates and merges: finding customers, bringing them in, and
/// keeping one record per customer.
fn finding_paths(doc: &mut Doc) {
    use guanxi_domain::filter::MAX_LIMIT;
    // An entity's record schema, by the entity's name (`opportunity` → OpportunityRecord).
    let names: Map<String, Value> = doc
        .entities
        .iter()
        .map(|(schema, def)| (def.name.to_string(), schema_ref(&format!("{schema}Record"))))
        .collect();
    let rec = |entity: &str| names[entity].clone();
    let uuid = json!({ "type": "string", "format": "uuid" });
    let time = json!({ "type": "string", "format": "date-time" });
    let count = json!({ "type": "integer", "minimum": 0 });
    let nullable = |t: &str| json!({ "type": [t, "null"] });
    let items = |item: Value| json!({ "type": "object", "required": ["items"], "properties": { "items": { "type": "array", "items": item } } });
    let mergeable: Vec<&str> = guanxi_domain::entity::mergeable().map(|d| d.name).collect();
    let any_mergeable = json!({ "anyOf": mergeable.iter().map(|e| rec(e)).collect::<Vec<_>>() });

    let kinds = guanxi_app::search::kinds();
    let found = json!({
        "type": "object",
        "required": ["kind", "id", "title", "score", "matched", "record"],
        "properties": {
            "kind": { "type": "string", "enum": kinds },
            "id": uuid,
            "title": { "type": "string" },
            "score": { "type": "number" },
            "matched": {
                "type": "array",
                "description": "The field groups that matched",
                "items": { "type": "string", "enum": ["name", "pinyin", "phone", "email", "text"] },
            },
            "record": { "type": "object", "description": "The record, masked for the caller" },
        },
        "oneOf": kinds.iter().map(|k| json!({
            "required": ["kind"],
            "properties": { "kind": { "const": k }, "record": rec(k) },
        })).collect::<Vec<_>>(),
    });
    let collections: Vec<&str> = kinds
        .iter()
        .map(|k| guanxi_app::search::collection(k))
        .collect();
    doc.op("/search", "get", json!({
        "tags": ["search"], "operationId": "search",
        "summary": "Accounts, contacts, leads, deals, cases and interactions ranked together from the full-text index (names, pinyin, phone digits, e-mail, text), within the caller's scope, sensitive fields masked",
        "parameters": [
            param("q", "query", false, json!({ "type": "string", "default": "" }), "The words to find"),
            param("types", "query", false, json!({ "type": "string" }),
                &format!("Comma-separated entities ({}) or collections ({}); all when absent", kinds.join(", "), collections.join(", "))),
            param("limit", "query", false, json!({ "type": "integer", "minimum": 1, "maximum": super::search::MAX_RESULTS, "default": 20 }), "How many results"),
        ],
        "responses": responses(&[("200", ok("The best matches first", items(found)))], &["422", "503"]),
    }));

    let job = json!({
        "type": "object",
        "description": "An import of one file; running again with the same file resumes it",
        "required": ["id", "entity", "file_name", "file_sha256", "status", "rows_done", "resume_offset", "resume_row", "created", "updated", "unchanged", "failed", "started_at", "updated_at"],
        "properties": {
            "id": uuid,
            "entity": { "type": "string", "enum": guanxi_domain::entity::importable() },
            "file_name": { "type": "string" },
            "file_sha256": { "type": "string" },
            "status": { "type": "string", "enum": ["running", "done", "dry_run"] },
            "rows_done": count,
            "resume_offset": nullable("integer"),
            "resume_row": nullable("integer"),
            "created": count,
            "updated": count,
            "unchanged": count,
            "failed": count,
            "started_at": time,
            "updated_at": time,
        },
    });
    let template = json!({
        "type": "object",
        "description": "A column mapping saved under a name, shared with everyone who may import the entity",
        "required": ["id", "entity", "name", "spec", "owner_id", "created_at", "updated_at"],
        "properties": {
            "id": uuid,
            "entity": { "type": "string", "enum": guanxi_domain::entity::importable() },
            "name": { "type": "string" },
            "spec": { "type": "string", "description": "The mapping as the mapping parameter takes it: column=field,…" },
            "owner_id": uuid,
            "created_at": time,
            "updated_at": time,
        },
    });
    let report = json!({
        "type": "object",
        "required": ["kind", "file", "dry_run", "job", "rows", "unreadable", "failed", "resumed_at_row", "mapping", "saved_template", "problems"],
        "properties": {
            "kind": { "type": "string", "enum": guanxi_domain::entity::importable() },
            "file": { "type": "string" },
            "dry_run": { "type": "boolean" },
            "job": job.clone(),
            "rows": { "type": "integer", "minimum": 0, "description": "Rows read in this run" },
            "unreadable": { "type": "integer", "minimum": 0, "description": "Rows that could not be read (counted in failed too)" },
            "failed": count,
            "resumed_at_row": { "type": ["integer", "null"], "description": "The row an earlier, interrupted run of the file was resumed at" },
            "mapping": { "type": "array", "description": "Each column and the field it filled (null: ignored)", "items": {
                "type": "object", "required": ["column", "field"],
                "properties": { "column": { "type": "string" }, "field": nullable("string") },
            } },
            "saved_template": { "description": "The template this run saved its mapping as (save_template), else null", "anyOf": [template.clone(), { "type": "null" }] },
            "problems": { "type": "array", "maxItems": guanxi_app::import::MAX_PROBLEMS, "description": "Rows not imported, or wrong fields of them (the first ones; the counts are exact)", "items": {
                "type": "object", "required": ["row", "column", "field", "message"],
                "properties": { "row": count, "column": nullable("string"), "field": nullable("string"), "message": { "type": "string" } },
            } },
        },
    });
    let file = json!({ "schema": { "type": "string", "format": "binary" } });
    doc.op("/imports", "post", json!({
        "tags": ["imports"], "operationId": "create_import",
        "summary": "Import a spreadsheet (the raw body: CSV in UTF-8 or GBK, .xlsx or .xls; not a multipart form): rows matched by their keys are updated, others created, in batches",
        "parameters": [
            param("kind", "query", true, json!({ "type": "string", "enum": guanxi_domain::entity::importable() }), "What the rows are"),
            param("mapping", "query", false, json!({ "type": "string" }), "column=field,…; suggested from the headers when absent (a 422 names the columns that need one)"),
            param("template", "query", false, json!({ "type": "string" }), "The name of a saved mapping template of this kind, instead of mapping"),
            param("save_template", "query", false, json!({ "type": "string" }), "Save the mapping this import uses as a template of this name (on a dry run too); saving an existing name replaces its mapping, for its owner or an administrator"),
            param("dry_run", "query", false, json!({ "type": "boolean", "default": false }), "Check every row and write nothing"),
            param("name", "query", false, json!({ "type": "string" }), "The file's name, whose extension helps tell the format"),
        ],
        "requestBody": { "required": true, "description": "The file", "content": {
            "text/csv": file,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": file,
            "application/vnd.ms-excel": file,
            "application/octet-stream": file,
        } },
        "responses": responses(&[("200", ok("The import's report", report))], &["403", "409", "422"]),
    }));
    doc.op("/imports", "get", json!({
        "tags": ["imports"], "operationId": "list_imports",
        "summary": "The caller's latest 100 imports, newest first, with their progress while they run",
        "responses": responses(&[("200", ok("The imports", items(job)))], &[]),
    }));
    doc.op("/import-templates", "get", json!({
        "tags": ["imports"], "operationId": "list_import_templates",
        "summary": "The saved mapping templates of the entities the caller may import, by entity and name",
        "parameters": [
            param("kind", "query", false, json!({ "type": "string", "enum": guanxi_domain::entity::importable() }), "Only this entity's templates"),
        ],
        "responses": responses(&[("200", ok("The templates", items(template)))], &["403", "422"]),
    }));
    doc.op("/import-templates/{id}", "delete", json!({
        "tags": ["imports"], "operationId": "delete_import_template",
        "summary": "Delete a template the caller saved (administrators: any)",
        "parameters": [param("id", "path", true, uuid.clone(), "The template's id")],
        "responses": responses(&[("204", json!({ "description": "Deleted" }))], &["404", "422"]),
    }));

    let pair = json!({
        "type": "object",
        "required": ["id", "entity", "a", "b", "score", "reasons"],
        "properties": {
            "id": uuid,
            "entity": { "type": "string", "enum": mergeable },
            "a": { "type": "object" },
            "b": { "type": "object" },
            "score": { "type": "number", "minimum": 0, "maximum": 1, "description": "How sure the scan is that both are one customer" },
            "reasons": { "type": "array", "items": { "type": "string", "enum": ["credit_code", "email", "phone", "company_name", "name"] } },
        },
        "oneOf": mergeable.iter().map(|e| json!({
            "required": ["entity"],
            "properties": { "entity": { "const": e }, "a": rec(e), "b": rec(e) },
        })).collect::<Vec<_>>(),
    });
    doc.op("/duplicates", "get", json!({
        "tags": ["duplicates"], "operationId": "duplicate_queue",
        "summary": "The review queue: open pairs whose records are both live and visible to the caller, best first, masked for them",
        "parameters": [
            param("entity", "query", true, json!({ "type": "string", "enum": mergeable }), "Which records"),
            param("limit", "query", false, json!({ "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50 }), "How many pairs"),
        ],
        "responses": responses(&[("200", ok("Open pairs", items(pair)))], &["403", "422"]),
    }));
    doc.op("/duplicates/scan", "post", json!({
        "tags": ["duplicates"], "operationId": "scan_duplicates",
        "summary": "Find candidate pairs among the live records the caller sees and queue those not offered before",
        "requestBody": body(json!({
            "type": "object", "required": ["entity"],
            "properties": { "entity": { "type": "string", "enum": mergeable } },
        })),
        "responses": responses(&[("200", ok("What the scan found", json!({
            "type": "object", "required": ["pairs_found", "new"],
            "properties": {
                "pairs_found": { "type": "integer", "minimum": 0, "description": "Candidate pairs, queued before or not" },
                "new": { "type": "integer", "minimum": 0, "description": "Pairs queued by this scan" },
            },
        })))], &["403", "422"]),
    }));
    doc.op("/duplicates/{id}/dismiss", "post", json!({
        "tags": ["duplicates"], "operationId": "dismiss_duplicate",
        "summary": "Take a pair off the queue for good: later scans do not offer it again",
        "parameters": [param("id", "path", true, uuid.clone(), "The pair's id")],
        "responses": responses(&[("204", json!({ "description": "Dismissed" }))], &["403", "404", "422"]),
    }));
    doc.op("/merges", "post", json!({
        "tags": ["duplicates"], "operationId": "merge",
        "summary": "Fold one record into another in one transaction: the survivor takes the chosen fields and both records' tags, whatever referred to the merged record refers to the survivor, the merged record is soft-deleted",
        "requestBody": body(json!({
            "type": "object", "required": ["entity", "survivor", "merged"], "additionalProperties": false,
            "properties": {
                "entity": { "type": "string", "enum": mergeable },
                "survivor": { "type": "string", "format": "uuid", "description": "The record that stays" },
                "merged": { "type": "string", "format": "uuid", "description": "The record folded into it; not the survivor" },
                "take": { "type": "array", "items": { "type": "string" }, "default": [], "description": "Fields (custom ones as custom.key) whose value comes from the merged record; the survivor keeps the rest" },
            },
        })),
        "responses": responses(&[("200", ok("Merged", json!({
            "type": "object", "required": ["survivor", "relinked", "seq"],
            "properties": {
                "survivor": any_mergeable.clone(),
                "relinked": {
                    "type": "object", "description": "The rows moved to the survivor, by table.column",
                    "additionalProperties": { "type": "array", "items": uuid },
                },
                "seq": { "type": "integer", "description": "The change-log position of the merge" },
            },
        })))], &["403", "404", "409", "412", "422"]),
    }));
    doc.op("/merges/{id}/undo", "post", json!({
        "tags": ["duplicates"], "operationId": "undo_merge",
        "summary": "Undo the latest merge of a record: move the rows back, give the survivor its values from before and bring the merged record back; refused if either changed since",
        "parameters": [param("id", "path", true, uuid, "The merged record's id")],
        "responses": responses(&[("200", ok("The merged record, restored", any_mergeable))], &["403", "404", "409", "412", "422"]),
    }));
}

/// The caller's own notifications: the list, the bell's count, marking read.
fn notification_paths(doc: &mut Doc) {
    use guanxi_domain::filter::MAX_LIMIT;
    let notification = doc.schema::<guanxi_store::Notification>();
    let tags = json!(["notifications"]);
    doc.op("/notifications", "get", json!({
        "tags": tags, "operationId": "list_notifications",
        "summary": "The caller's own notifications, newest first",
        "parameters": [
            param("unread", "query", false, json!({ "type": "boolean", "default": false }), "Only the unread ones"),
            param("limit", "query", false, json!({ "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50 }), "Page size"),
            param("cursor", "query", false, json!({ "type": "string" }), "The previous page's next_cursor"),
        ],
        "responses": responses(&[("200", ok("A page of notifications", json!({
            "type": "object", "required": ["items", "next_cursor"],
            "properties": {
                "items": { "type": "array", "items": notification },
                "next_cursor": { "type": ["string", "null"], "description": "Continues after this page; null on the last" },
            },
        })))], &["422"]),
    }));
    doc.op(
        "/notifications/unread-count",
        "get",
        json!({
            "tags": tags, "operationId": "count_unread_notifications",
            "summary": "How many of the caller's notifications are unread (the bell)",
            "responses": responses(&[("200", ok("The count", json!({
                "type": "object", "required": ["unread"],
                "properties": { "unread": { "type": "integer", "minimum": 0 } },
            })))], &[]),
        }),
    );
    doc.op("/notifications/{id}/read", "post", json!({
        "tags": tags, "operationId": "mark_notification_read",
        "summary": "Mark one of the caller's notifications read (again: no change); anyone else's is not found",
        "parameters": [param("id", "path", true, json!({ "type": "string", "format": "uuid" }), "The notification's id")],
        "responses": responses(&[("204", json!({ "description": "Marked read" }))], &["403", "404"]),
    }));
    doc.op(
        "/notifications/read-all",
        "post",
        json!({
            "tags": tags, "operationId": "mark_all_notifications_read",
            "summary": "Mark all the caller's notifications read",
            "responses": responses(&[("200", ok("How many were unread", json!({
                "type": "object", "required": ["marked"],
                "properties": { "marked": { "type": "integer", "minimum": 0 } },
            })))], &["403"]),
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in the document points at a schema that exists.
    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        fn walk(v: &Value, schemas: &Map<String, Value>, seen: &mut usize) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        let name = r.strip_prefix(REF_PREFIX).unwrap_or_else(|| panic!("{r}"));
                        assert!(schemas.contains_key(name), "{r} does not resolve");
                        *seen += 1;
                    }
                    m.values().for_each(|v| walk(v, schemas, seen));
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, schemas, seen)),
                _ => {}
            }
        }
        let mut seen = 0;
        walk(doc, schemas, &mut seen);
        assert!(seen > 100, "{seen} references");
    }

    /// Each entity's record schema names every field its definition has, and the create
    /// schema requires exactly what deserialising requires.
    #[test]
    fn entity_schemas_match_their_definitions() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        let mut c = Check(schemas, 0);
        each_entity(&mut c);
        let with_collection = guanxi_domain::entity::all_defs()
            .iter()
            .filter(|d| d.collection.is_some())
            .count();
        assert_eq!(
            c.1, with_collection,
            "every entity with a collection was checked"
        );
        struct Check<'a>(&'a Value, usize);
        impl EachEntity for Check<'_> {
            fn entity<T: Entity>(&mut self) {
                if T::DEF.collection.is_none() {
                    return;
                }
                let name = T::schema_name();
                let record = &self.0[format!("{name}Record")]["properties"];
                for f in T::DEF.fields {
                    // Money is stored as two columns but travels as one object.
                    let key = f.name.strip_suffix("_currency").unwrap_or(f.name);
                    assert!(record.get(key).is_some(), "{name}Record lacks {key}");
                }
                for meta in ["id", "version", "created_at", "updated_at", "custom"] {
                    assert!(record.get(meta).is_some(), "{name}Record lacks {meta}");
                }
                assert!(self.0[format!("{name}Create")]["properties"]["owner_id"].is_object());
                assert_eq!(
                    self.0[format!("{name}Patch")]["required"],
                    Value::Null,
                    "a merge patch requires nothing"
                );
                self.1 += 1;
            }
        }
    }

    /// The routes a function of `source` adds, as (path, method): a router cannot list
    /// its routes, so they are read from the code that adds them.
    fn routes_in(source: &str, function: &str) -> Vec<(String, &'static str)> {
        let start = source
            .find(function)
            .unwrap_or_else(|| panic!("{function}"));
        let code = &source[start..];
        let code = &code[..code.find("\n}").unwrap_or(code.len())];
        let mut out = vec![];
        for call in code.split(".route(").skip(1) {
            let path = call.split('"').nth(1).unwrap();
            // The arguments, up to the call's closing parenthesis.
            let mut depth = 1;
            let end = call
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap();
            let args = &call[..end];
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = args.match_indices(&format!("{method}(")).any(|(i, _)| {
                    let before = args[..i].chars().next_back().unwrap_or(' ');
                    !(before.is_alphanumeric() || before == '_' || before == ':')
                });
                if called {
                    out.push((path.replace("{{", "{").replace("}}", "}"), method));
                }
            }
        }
        assert!(!out.is_empty(), "no routes found in {function}");
        out
    }

    /// Every route the API serves is described, method by method.
    #[test]
    fn every_route_is_described() {
        let doc = document();
        let mut routes = routes_in(include_str!("mod.rs"), "pub fn routes()");
        struct Paths(Vec<&'static str>);
        impl EachEntity for Paths {
            fn entity<T: Entity>(&mut self) {
                self.0.extend(T::DEF.collection);
            }
        }
        let mut collections = Paths(vec![]);
        each_entity(&mut collections);
        let per_collection = routes_in(include_str!("records.rs"), "pub fn collection<");
        for name in collections.0 {
            for (path, method) in &per_collection {
                routes.push((path.replace("{name}", name), method));
            }
        }
        assert!(routes.len() > 100, "{} routes", routes.len());
        for (path, method) in routes {
            assert!(
                doc["paths"][&path][method].is_object(),
                "{} {path} is routed but not described",
                method.to_uppercase()
            );
        }
    }

    #[test]
    fn every_operation_documents_its_errors_as_problems() {
        let doc = document();
        let mut ops = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                ops += 1;
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{method} {path}"
                );
                if path != "/openapi.json" {
                    for (status, r) in responses.iter().filter(|(s, _)| !s.starts_with('2')) {
                        assert!(
                            r["content"]["application/problem+json"].is_object(),
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
        assert!(ops >= 13 * 7 + 11, "{ops} operations");
    }
}
