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
use serde_json::{Value, json};

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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(guanxi_server::serve(
        s.clone(),
        None,
        guanxi_server::Deployment::default(),
        listener,
    ));
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
