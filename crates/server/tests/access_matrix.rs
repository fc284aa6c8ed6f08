//! The access matrix, generated, through the real server: every role × every scoped entity ×
//! records owned by the actor, by someone in their team subtree, by someone in another team,
//! and assigned to a partner × every operation — get, list, count, the change log (and the
//! 360 view and timeline for accounts), update and delete. Each must be allowed exactly when
//! the policy says: zero leaks, zero wrong denials. Runs on SQLite and PostgreSQL with the
//! store's conformance fixtures.

#[path = "../../store/tests/common/mod.rs"]
mod common;

use common::*;
use guanxi_domain::entities::*;
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::policy::default_roles;
use guanxi_domain::{Actor, Currency, Email, Entity, Id, Money, NewRecord, Right};
use guanxi_store::Store;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Who owns a record, relative to the actor looking at it.
#[derive(Debug, Clone, Copy)]
enum Whose {
    Own,
    TeamSubtree,
    OtherTeam,
    Partner,
}

struct Cast {
    /// One user per role, all in team East.
    actors: Vec<Actor>,
    teammate: (Id, Id),
    outsider: (Id, Id),
    partner: Id,
    account: Id,
    pipeline: Id,
    /// A resolved case of nobody's, which survey samples answer about.
    case: Id,
    /// One per actor, in the same order.
    clients: Vec<Client>,
}

async fn cast(s: &Store) -> Cast {
    let sys = Actor::system();
    let team = |name: &str, parent| {
        NewRecord::new(Team {
            name: name.into(),
            parent_id: parent,
        })
    };
    let east = s.create(&sys, team("East", None)).await.unwrap().meta.id;
    let sh = s
        .create(&sys, team("East/Shanghai", Some(east)))
        .await
        .unwrap()
        .meta
        .id;
    let west = s.create(&sys, team("West", None)).await.unwrap().meta.id;
    let mut partner = Account::new(
        AccountKind::Organisation,
        "浦东服务站",
        Relationship::Partner,
    );
    partner.partner_type = Some(PartnerType::ServiceStation);
    let partner = s
        .create(&sys, NewRecord::new(partner))
        .await
        .unwrap()
        .meta
        .id;
    let user = |email: String, role: &str, team: Option<Id>, partner_id: Option<Id>| User {
        email: Email::parse(&email).unwrap(),
        name: email.clone(),
        role: role.into(),
        team_id: team,
        partner_id,
        locale: Locale::En,
        active: true,
    };
    let mut actors = vec![];
    for role in default_roles() {
        let p = (role.key == "partner").then_some(partner);
        let u = s
            .create(
                &sys,
                NewRecord::new(user(
                    format!("{}@m.test", role.key),
                    &role.key,
                    Some(east),
                    p,
                )),
            )
            .await
            .unwrap();
        actors.push(s.actor_for(u.meta.id).await.unwrap());
    }
    let teammate = s
        .create(
            &sys,
            NewRecord::new(user("mate@m.test".into(), "sales", Some(sh), None)),
        )
        .await
        .unwrap();
    let outsider = s
        .create(
            &sys,
            NewRecord::new(user("out@m.test".into(), "sales", Some(west), None)),
        )
        .await
        .unwrap();
    let account = s
        .create(
            &sys,
            NewRecord::new(Account::new(
                AccountKind::Organisation,
                "Hub",
                Relationship::Customer,
            )),
        )
        .await
        .unwrap();
    let q = ListQuery::default()
        .filter(Filter::new("is_default", Op::Eq, true))
        .limit(1);
    let pipeline = s.list::<Pipeline>(&sys, &q).await.unwrap().items[0].meta.id;
    let mut resolved = case(account.meta.id, "CS-M-SURVEYED");
    resolved.status = CaseStatus::Resolved;
    resolved.resolved_at = Some(chrono::Utc::now());
    let case = s
        .create(&sys, NewRecord::new(resolved))
        .await
        .unwrap()
        .meta
        .id;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(guanxi_server::serve(
        s.clone(),
        None,
        guanxi_server::Deployment::default(),
        listener,
    ));
    // As in tests/common: the workspace builds reqwest with rustls and no crypto provider.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let mut clients = vec![];
    for actor in &actors {
        let (_, bearer) = s.issue_token(actor, "matrix", None).await.unwrap();
        clients.push(Client {
            base: base.clone(),
            http: reqwest::Client::new(),
            bearer,
        });
    }
    Cast {
        clients,
        actors,
        teammate: (teammate.meta.id, sh),
        outsider: (outsider.meta.id, west),
        partner,
        account: account.meta.id,
        pipeline,
        case,
    }
}

/// A valid record of each scoped entity, assigned to `partner` where the entity has one.
trait Sample: Entity {
    fn sample(c: &Cast, n: usize, partner: Option<Id>) -> Self;
    fn partner_of(&self) -> Option<Id> {
        None
    }
}

impl Sample for Account {
    fn sample(_: &Cast, n: usize, partner: Option<Id>) -> Self {
        let mut a = Account::new(
            AccountKind::Organisation,
            format!("账户{n}"),
            Relationship::Customer,
        );
        a.serving_partner_id = partner;
        a
    }
    fn partner_of(&self) -> Option<Id> {
        self.serving_partner_id
    }
}

impl Sample for Contact {
    fn sample(c: &Cast, n: usize, _: Option<Id>) -> Self {
        let mut x = Contact::new(format!("联系人{n}"));
        x.account_id = Some(c.account);
        x
    }
}

impl Sample for Interaction {
    fn sample(c: &Cast, n: usize, _: Option<Id>) -> Self {
        interaction(
            c.account,
            if n.is_multiple_of(2) {
                InteractionKind::Call
            } else {
                InteractionKind::Visit
            },
        )
    }
}

impl Sample for Lead {
    fn sample(_: &Cast, n: usize, _: Option<Id>) -> Self {
        Lead {
            name: format!("线索{n}"),
            company: None,
            title: None,
            mobile: None,
            phone: None,
            email: None,
            source: LeadSource::Web,
            status: LeadStatus::New,
            score: 50,
            province: None,
            city: None,
            notes: None,
            converted_account_id: None,
            converted_contact_id: None,
            converted_opportunity_id: None,
            converted_at: None,
        }
    }
}

impl Sample for Opportunity {
    fn sample(c: &Cast, _: usize, _: Option<Id>) -> Self {
        opportunity(c.account, c.pipeline)
    }
}

impl Sample for Order {
    fn sample(c: &Cast, n: usize, _: Option<Id>) -> Self {
        let mut o = Order {
            number: format!("SO-M-{n}-{}", Id::new()),
            account_id: c.account,
            contact_id: None,
            opportunity_id: None,
            status: OrderStatus::Confirmed,
            ordered_at: chrono::Utc::now(),
            currency: Currency::CNY,
            lines: vec![OrderLine {
                product_id: None,
                sku: "X".into(),
                name: "X".into(),
                quantity: 1,
                unit_price: 100,
                unit_cost: 50,
            }],
            total: 0,
            cost_total: 0,
            status_history: vec![],
        };
        o.normalize();
        o
    }
}

impl Sample for Case {
    fn sample(c: &Cast, n: usize, partner: Option<Id>) -> Self {
        let mut x = case(c.account, &format!("CS-M-{n}-{}", Id::new()));
        x.partner_id = partner;
        x
    }
    fn partner_of(&self) -> Option<Id> {
        self.partner_id
    }
}

impl Sample for Survey {
    fn sample(c: &Cast, _: usize, partner: Option<Id>) -> Self {
        Survey {
            case_id: c.case,
            contact_id: None,
            account_id: Some(c.account),
            partner_id: partner,
            csat: Some(4),
            nps: Some(8),
            comment: None,
            answered_at: chrono::Utc::now(),
            channel: SurveyChannel::Phone,
        }
    }
    fn partner_of(&self) -> Option<Id> {
        self.partner_id
    }
}

impl Sample for Campaign {
    fn sample(_: &Cast, n: usize, _: Option<Id>) -> Self {
        Campaign {
            name: format!("活动{n}"),
            channel: CampaignChannel::Email,
            status: CampaignStatus::Planned,
            starts_on: None,
            ends_on: None,
            budget: Money::new(1_000_00, Currency::CNY),
            description: None,
            segment_id: None,
            variants: vec![],
            control_percent: 0,
            cost_per_message: 0,
            conversion_days: 30,
            send_from: None,
            send_until: None,
            cap_messages: None,
            cap_days: None,
            max_per_minute: None,
            targeting: Default::default(),
            target_top_n: None,
            target_min_score: None,
            model_auc: None,
            model_trained_at: None,
            steps: vec![],
        }
    }
}

impl Sample for Segment {
    fn sample(_: &Cast, n: usize, _: Option<Id>) -> Self {
        Segment {
            conditions: vec![guanxi_domain::filter::Filter::new(
                "name",
                guanxi_domain::filter::Op::Contains,
                "公司",
            )],
            ..Segment::new(format!("细分{n}"), SegmentOf::Account)
        }
    }
}

/// A client signed in as `actor`, with a personal API token.
struct Client {
    base: String,
    http: reqwest::Client,
    bearer: String,
}

impl Client {
    /// A JSON request (with If-Match when `version` is given): status and body.
    async fn send(
        &self,
        method: &str,
        path: &str,
        version: Option<i64>,
        body: &Value,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(&self.bearer)
            .json(body);
        if let Some(v) = version {
            req = req.header("if-match", format!("\"{v}\""));
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn status(&self, method: &str, path: &str, version: Option<i64>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(&self.bearer);
        if let Some(v) = version {
            req = req.header("if-match", format!("\"{v}\"")).json(&json!({}));
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// The collection each scoped entity is served at.
fn collection(entity: &str) -> &'static str {
    match entity {
        "account" => "accounts",
        "contact" => "contacts",
        "interaction" => "interactions",
        "lead" => "leads",
        "opportunity" => "opportunities",
        "order" => "orders",
        "case" => "cases",
        "campaign" => "campaigns",
        "survey" => "surveys",
        "segment" => "segments",
        other => panic!("no collection for {other}"),
    }
}

/// What the API lets `client` do with one record, operation by operation: each read path,
/// then update and delete (in that order, as the version moves). `Some(true)` allowed,
/// `Some(false)` refused with 404, `None` refused with 403.
async fn observed<T: Sample>(c: &Client, id: Id) -> Vec<(&'static str, Option<bool>)> {
    let name = T::DEF.name;
    let path = collection(name);
    let judge = |what: &str, (status, body): (u16, Value)| match status {
        200 | 204 => Some(true),
        404 => Some(false),
        403 => None,
        other => panic!("{what} {name}: unexpected {other} {body}"),
    };
    let (status, page) = c
        .status(
            "GET",
            &format!("/{path}?filter=id:eq:{id}&count=true"),
            None,
        )
        .await;
    let listed = match status {
        200 => {
            let items = page["items"].as_array().unwrap().len();
            assert_eq!(page["total"], items, "count agrees with the list");
            Some(items == 1)
        }
        403 => None,
        other => panic!("list {name}: unexpected {other} {page}"),
    };
    let mut out = vec![
        (
            "get",
            judge("get", c.status("GET", &format!("/{path}/{id}"), None).await),
        ),
        ("list+count", listed),
        (
            "changes",
            judge(
                "changes",
                c.status("GET", &format!("/changes?entity={name}&id={id}"), None)
                    .await,
            ),
        ),
    ];
    if name == "account" {
        for view in ["360", "timeline"] {
            let r = c.status("GET", &format!("/{path}/{id}/{view}"), None).await;
            out.push((view, judge(view, r)));
        }
    }
    let updated = judge(
        "update",
        c.status("PATCH", &format!("/{path}/{id}"), Some(1)).await,
    );
    out.push(("update", updated));
    let version = if updated == Some(true) { 2 } else { 1 };
    let r = c
        .status("DELETE", &format!("/{path}/{id}"), Some(version))
        .await;
    out.push(("delete", judge("delete", r)));
    out
}

/// What the policy says `actor` may do with a record by `whose`, operation by operation:
/// records out of sight are not found (a 403 would tell that they exist); in sight but
/// without the right, forbidden.
fn expected(actor: &Actor, entity: &str, op: &str, visible: bool) -> Option<bool> {
    let right = match op {
        "update" => Right::Update,
        "delete" => Right::Delete,
        _ => Right::Read,
    };
    let readable = actor.may(entity, Right::Read);
    if !readable && right == Right::Read {
        // Reads of an entity the role may not read at all: refused outright, or not found.
        return if op == "list+count" {
            None
        } else {
            Some(false)
        };
    }
    if !readable || !visible {
        return Some(false);
    }
    if actor.may(entity, right) {
        Some(true)
    } else {
        None
    }
}

/// Outcomes met, by operation: the matrix must exercise each answer, not just pass.
type Met = std::collections::BTreeSet<(&'static str, Option<bool>)>;

async fn check_entity<T: Sample>(s: &Store, c: &Cast, failures: &mut Vec<String>, met: &mut Met) {
    let sys = Actor::system();
    for (n, actor) in c.actors.iter().enumerate() {
        let client = &c.clients[n];
        for whose in [
            Whose::Own,
            Whose::TeamSubtree,
            Whose::OtherTeam,
            Whose::Partner,
        ] {
            let (owner, team, partner) = match whose {
                Whose::Own => (actor.user_id, actor.team_id.unwrap(), None),
                Whose::TeamSubtree => (c.teammate.0, c.teammate.1, None),
                Whose::OtherTeam => (c.outsider.0, c.outsider.1, None),
                Whose::Partner => (c.outsider.0, c.outsider.1, Some(c.partner)),
            };
            let data = T::sample(c, n * 10 + whose as usize, partner);
            let partner = data.partner_of();
            let id = s
                .create(&sys, NewRecord::new(data).owned_by(owner, Some(team)))
                .await
                .unwrap()
                .meta
                .id;
            let visible = actor.sees(Some(owner), Some(team), partner);
            for (op, seen) in observed::<T>(client, id).await {
                met.insert((op, seen));
                let want = expected(actor, T::DEF.name, op, visible);
                // Refusing an entity the role cannot read at all may be either answer.
                let both_refusals = !actor.may(T::DEF.name, Right::Read)
                    && seen != Some(true)
                    && want != Some(true);
                if seen != want && !both_refusals {
                    let kind = match (seen, want) {
                        (Some(true), _) => "LEAK",
                        (None, Some(false)) => "LEAK (403 reveals it exists)",
                        _ => "WRONG DENIAL",
                    };
                    failures.push(format!(
                        "{kind}: role {} {op} {} ({whose:?}): got {seen:?}, want {want:?}",
                        actor.role.key,
                        T::DEF.name
                    ));
                }
            }
        }
    }
}

/// What a reference names, relative to the one who writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Readable,
    OutOfSight,
    Missing,
}

/// Per table a reference may name: a record owned by the actor (assigned to their partner
/// where the table has one) and one owned by the outsider in another team.
struct Targets {
    own: HashMap<&'static str, Id>,
    outside: HashMap<&'static str, Id>,
}

async fn targets(s: &Store, c: &Cast, actor: &Actor, n: usize) -> Targets {
    let sys = Actor::system();
    let mut own = HashMap::new();
    let mut outside = HashMap::new();
    for (side, (owner, team, partner, out)) in [
        (actor.user_id, actor.team_id, actor.partner_id, &mut own),
        (c.outsider.0, Some(c.outsider.1), None, &mut outside),
    ]
    .into_iter()
    .enumerate()
    {
        // Names differ per side: imports find accounts by name.
        let n = n * 10 + side;
        let account = s
            .create(
                &sys,
                NewRecord::new(Account::sample(c, 900 + n, partner)).owned_by(owner, team),
            )
            .await
            .unwrap()
            .meta
            .id;
        out.insert("accounts", account);
        let mut contact = Contact::new(format!("引用{n}"));
        contact.account_id = Some(account);
        let contact = s.create(&sys, NewRecord::new(contact).owned_by(owner, team));
        out.insert("contacts", contact.await.unwrap().meta.id);
        let deal = opportunity(account, c.pipeline);
        let deal = s.create(&sys, NewRecord::new(deal).owned_by(owner, team));
        out.insert("opportunities", deal.await.unwrap().meta.id);
        let mut x = case(account, &format!("CS-R-{n}-{}", Id::new()));
        x.partner_id = partner;
        let x = s.create(&sys, NewRecord::new(x).owned_by(owner, team));
        out.insert("cases", x.await.unwrap().meta.id);
        let lead = s.create(
            &sys,
            NewRecord::new(Lead::sample(c, n, None)).owned_by(owner, team),
        );
        out.insert("leads", lead.await.unwrap().meta.id);
        let order = Order::sample(c, 800 + n, partner);
        let order = s.create(&sys, NewRecord::new(order).owned_by(owner, team));
        out.insert("orders", order.await.unwrap().meta.id);
        let campaign = Campaign::sample(c, 700 + n, None);
        let campaign = s.create(&sys, NewRecord::new(campaign).owned_by(owner, team));
        out.insert("campaigns", campaign.await.unwrap().meta.id);
        out.insert("users", owner);
        out.insert("teams", team.unwrap());
    }
    own.insert("pipelines", c.pipeline);
    let article = Article {
        title: format!("文章{n}"),
        title_en: None,
        body: "正文".into(),
        body_en: None,
        category: None,
        status: ArticleStatus::Published,
        tags: vec![],
        product_lines: vec![],
    };
    let article = s.create(&sys, NewRecord::new(article));
    own.insert("articles", article.await.unwrap().meta.id);
    let product = Product {
        sku: format!("SKU-R-{n}-{}", Id::new()),
        name: "空调".into(),
        category: Some("空调".into()),
        unit: None,
        list_price: Money::new(399_900, Currency::CNY),
        cost: Money::new(250_000, Currency::CNY),
        active: true,
    };
    let product = s.create(&sys, NewRecord::new(product));
    own.insert("products", product.await.unwrap().meta.id);
    Targets { own, outside }
}

/// Whether the policy lets `actor` read the target of `table`: the entity's read right and,
/// for scoped entities, the owner's place (see [`targets`]).
fn may_read(actor: &Actor, c: &Cast, table: &str, target: Target) -> bool {
    let def = guanxi_domain::entity::def_by_table(table).unwrap();
    let (owner, team, partner) = match target {
        Target::Missing => return false,
        Target::Readable => {
            // The actor's own account is served by their partner, and its contact is of
            // that account: a partner sees both (by the partner field, by a partner path).
            let partner = matches!(table, "accounts" | "cases" | "contacts")
                .then_some(actor.partner_id)
                .flatten();
            (actor.user_id, actor.team_id, partner)
        }
        Target::OutOfSight => (c.outsider.0, Some(c.outsider.1), None),
    };
    actor.may(def.name, Right::Read) && (!def.scoped || actor.sees(Some(owner), team, partner))
}

/// A create body from a sample: no computed or empty fields, every reference it needs
/// pointed at the actor's own targets (but for the partner it is assigned to, `keep`).
fn body_of<T: Sample>(data: &T, own: &HashMap<&str, Id>, keep: Option<Id>) -> Map<String, Value> {
    let Value::Object(mut body) = serde_json::to_value(data).unwrap() else {
        unreachable!("records are objects")
    };
    body.retain(|k, v| !v.is_null() && !T::DEF.field(k).is_some_and(|f| f.computed));
    for f in T::DEF.fields {
        if let guanxi_domain::FieldType::Ref(table) = f.ty
            && body.contains_key(f.name)
            && keep.is_none_or(|k| body[f.name] != json!(k))
        {
            body.insert(f.name.into(), json!(own[table]));
        }
    }
    body
}

/// A refused reference must read the same whether its record is out of sight or does not
/// exist (the ids masked), so nobody can probe for ids.
fn same_refusal(field: &str, answers: &[(bool, Id, u16, Value)]) -> Result<(), String> {
    let masked: Vec<(u16, String)> = answers
        .iter()
        .filter(|(readable, ..)| !readable)
        .map(|(_, id, status, body)| (*status, body.to_string().replace(&id.to_string(), "ID")))
        .collect();
    if masked.windows(2).all(|w| w[0] == w[1]) {
        Ok(())
    } else {
        Err(format!(
            "{field}: out of sight and missing answer differently: {masked:?}"
        ))
    }
}

/// Check one answer against the policy: `allowed` when the role has the right and the
/// reference is readable; otherwise a 403 for the role, or the not-found 422 on the field.
fn judge_write(
    what: &str,
    (field, table, id): (&str, &str, Id),
    (status, body): (u16, &Value),
    right: bool,
    readable: bool,
    ok: u16,
) -> Result<(), String> {
    let want = match (right, readable) {
        (false, _) => 403,
        (true, true) => ok,
        (true, false) => 422,
    };
    if status != want {
        let kind = if status == ok { "LEAK" } else { "WRONG ANSWER" };
        return Err(format!(
            "{kind}: {what} {field} → {table}: got {status}, want {want}: {body}"
        ));
    }
    if want == 422 {
        let e = &body["errors"][0];
        let msg = format!("no record in {table} with id {id}");
        if (
            e["field"].as_str(),
            e["code"].as_str(),
            e["message"].as_str(),
        ) != (Some(field), Some("not_found"), Some(msg.as_str()))
        {
            return Err(format!("{what} {field}: not the not-found answer: {body}"));
        }
    }
    Ok(())
}

async fn check_references<T: Sample>(s: &Store, c: &Cast, failures: &mut Vec<String>) {
    let sys = Actor::system();
    let name = T::DEF.name;
    let path = collection(name);
    for (n, actor) in c.actors.iter().enumerate() {
        let client = &c.clients[n];
        let t = targets(s, c, actor, n).await;
        let role = &actor.role.key;
        for f in T::DEF.fields {
            let guanxi_domain::FieldType::Ref(table) = f.ty else {
                continue;
            };
            if f.computed {
                // Kept by Guanxi: the API refuses it from anyone.
                continue;
            }
            let mut created = vec![];
            let mut patched = vec![];
            for target in [Target::Readable, Target::OutOfSight, Target::Missing] {
                let id = match target {
                    Target::Readable => t.own[table],
                    Target::OutOfSight => *t.outside.get(table).unwrap_or(&Id::new()),
                    Target::Missing => Id::new(),
                };
                let readable = may_read(actor, c, table, target)
                    && (target != Target::OutOfSight || t.outside.contains_key(table));
                let sample = T::sample(c, 5000 + n, actor.partner_id);
                let mut body = body_of(&sample, &t.own, actor.partner_id);
                // A lead's account link makes it converted: the two go together.
                let mut patch = json!({ f.name: id });
                if f.name == "converted_account_id" {
                    patch["status"] = json!("converted");
                }
                body.extend(patch.as_object().unwrap().clone());
                let (status, answer) = client
                    .send("POST", &format!("/{path}"), None, &Value::Object(body))
                    .await;
                let what = format!("role {role} create {name}");
                if let Err(e) = judge_write(
                    &what,
                    (f.name, table, id),
                    (status, &answer),
                    actor.may(name, Right::Create),
                    readable,
                    201,
                ) {
                    failures.push(e);
                }
                created.push((readable, id, status, answer));

                // The same reference written onto a record of the actor's own.
                let fresh = T::sample(c, 6000 + n, actor.partner_id);
                let mut data: T = serde_json::from_value(Value::Object(body_of(
                    &fresh,
                    &t.own,
                    actor.partner_id,
                )))
                .unwrap();
                data.normalize();
                // Linked to the actor's own records, it is their partner's by a partner path
                // where the entity has one (a contact of the account their partner serves).
                let partner = data.partner_of().or(if T::DEF.partner_paths.is_empty() {
                    None
                } else {
                    actor.partner_id
                });
                let mine = s
                    .create(
                        &sys,
                        NewRecord::new(data).owned_by(actor.user_id, actor.team_id),
                    )
                    .await
                    .unwrap()
                    .meta
                    .id;
                let (status, answer) = client
                    .send("PATCH", &format!("/{path}/{mine}"), Some(1), &patch)
                    .await;
                let what = format!("role {role} update {name}");
                let visible = actor.may(name, Right::Read)
                    && actor.sees(Some(actor.user_id), actor.team_id, partner);
                if visible {
                    if let Err(e) = judge_write(
                        &what,
                        (f.name, table, id),
                        (status, &answer),
                        actor.may(name, Right::Update),
                        readable,
                        200,
                    ) {
                        failures.push(e);
                    }
                    patched.push((readable, id, status, answer));
                } else if !(status == 404 || status == 403 && !actor.may(name, Right::Read)) {
                    // Out of sight: not found (or, for an entity the role cannot read at
                    // all, refused outright), whatever the reference.
                    failures.push(format!(
                        "{what} {}: a record out of sight answered {status}",
                        f.name
                    ));
                }
            }
            for answers in [&created, &patched] {
                if let Err(e) = same_refusal(f.name, answers) {
                    failures.push(format!("role {role} {name}: {e}"));
                }
            }
        }
    }
}

/// An import is a write too. A file names a contact's account by its name, and that name is
/// looked up in the importer's scope only: a company out of sight is treated exactly like one
/// that does not exist (a new account of the importer's), never linked.
async fn check_import_references(s: &Store, c: &Cast, failures: &mut Vec<String>) {
    let sys = Actor::system();
    for (n, actor) in c.actors.iter().enumerate() {
        if !actor.may("contact", Right::Create) {
            continue;
        }
        let client = &c.clients[n];
        let t = targets(s, c, actor, 100 + n).await;
        let name_of = async |id: Id| s.get::<Account>(&sys, id).await.unwrap().data.name;
        let (own, outside) = (t.own["accounts"], t.outside["accounts"]);
        let mut csv = format!(
            "姓名,公司\n导入甲{n},{}\n导入乙{n},{}\n",
            name_of(own).await,
            name_of(outside).await
        );
        // A company nobody has: a new account, for a role that may make one.
        let makes_accounts = actor.may("account", Right::Create);
        if makes_accounts {
            csv.push_str(&format!("导入丙{n},从未有过的公司{n}\n"));
        }
        let res = client
            .http
            .post(format!(
                "{}/imports?kind=contact&name=refs{n}.csv",
                client.base
            ))
            .bearer_auth(&client.bearer)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        let (status, report) = (
            res.status().as_u16(),
            res.json::<Value>().await.unwrap_or_default(),
        );
        let role = &actor.role.key;
        if status != 200 || report["job"]["created"] != 2 + u64::from(makes_accounts) {
            failures.push(format!("role {role} import: {status}: {report}"));
            continue;
        }
        let q = ListQuery::default().filter(Filter::new("name", Op::Contains, format!("{n}")));
        let linked: Vec<(String, Option<Id>)> = s
            .list::<Contact>(&sys, &q.limit(100))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|r| r.data.name.starts_with("导入"))
            .map(|r| (r.data.name, r.data.account_id))
            .collect();
        for (who, target) in [("甲", own), ("乙", outside)] {
            let account = linked
                .iter()
                .find(|(name, _)| *name == format!("导入{who}{n}"))
                .and_then(|(_, a)| *a);
            let readable = may_read(
                actor,
                c,
                "accounts",
                if target == own {
                    Target::Readable
                } else {
                    Target::OutOfSight
                },
            );
            if (account == Some(target)) != readable {
                failures.push(format!(
                    "role {role} import: 导入{who}{n} linked to {account:?}; {target} readable: {readable}"
                ));
            }
        }
    }
}

conformance!(
    references_are_checked_under_the_writers_scope,
    |s: Store| async move {
        let c = cast(&s).await;
        let mut failures = vec![];
        check_references::<Account>(&s, &c, &mut failures).await;
        check_references::<Contact>(&s, &c, &mut failures).await;
        check_references::<Interaction>(&s, &c, &mut failures).await;
        check_references::<Lead>(&s, &c, &mut failures).await;
        check_references::<Opportunity>(&s, &c, &mut failures).await;
        check_references::<Order>(&s, &c, &mut failures).await;
        check_references::<Case>(&s, &c, &mut failures).await;
        check_references::<Survey>(&s, &c, &mut failures).await;
        check_import_references(&s, &c, &mut failures).await;
        assert!(
            failures.is_empty(),
            "{} violations:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
);

conformance!(
    access_matrix_zero_leaks_zero_wrong_denials,
    |s: Store| async move {
        let c = cast(&s).await;
        let mut failures = vec![];
        let mut met = Met::new();
        check_entity::<Account>(&s, &c, &mut failures, &mut met).await;
        check_entity::<Contact>(&s, &c, &mut failures, &mut met).await;
        check_entity::<Interaction>(&s, &c, &mut failures, &mut met).await;
        check_entity::<Lead>(&s, &c, &mut failures, &mut met).await;
        check_entity::<Opportunity>(&s, &c, &mut failures, &mut met).await;
        check_entity::<Order>(&s, &c, &mut failures, &mut met).await;
        check_entity::<Case>(&s, &c, &mut failures, &mut met).await;
        check_entity::<Campaign>(&s, &c, &mut failures, &mut met).await;
        check_entity::<Survey>(&s, &c, &mut failures, &mut met).await;
        check_entity::<Segment>(&s, &c, &mut failures, &mut met).await;
        for op in ["get", "list+count", "changes", "360", "update", "delete"] {
            for outcome in [Some(true), Some(false), None] {
                // Every role reads accounts; only some may not list some entity at all.
                if outcome.is_some() || ["list+count", "update", "delete"].contains(&op) {
                    assert!(met.contains(&(op, outcome)), "never met: {op} {outcome:?}");
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} violations:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
);
