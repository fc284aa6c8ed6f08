//! The access matrix, generated: every role × every scoped entity × records owned by the
//! actor, by someone in their team subtree, by someone in another team, and assigned to a
//! partner. For each pair the store must allow exactly what the policy says — reads through
//! get, list, count and the change log (and the 360 view and timeline for accounts): zero
//! leaks and zero wrong denials. Runs on SQLite and PostgreSQL like the conformance suite.

mod common;

use common::*;
use guanxi_domain::entities::*;
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::policy::default_roles;
use guanxi_domain::{Actor, Currency, Email, Entity, Id, Money, NewRecord, Right};
use guanxi_store::{Store, StoreError};

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
    Cast {
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

/// What the store shows `actor` of one record, by every read path.
async fn observed<T: Sample>(s: &Store, actor: &Actor, id: Id) -> Vec<(&'static str, bool)> {
    let q = ListQuery::default()
        .filter(Filter::new("id", Op::Eq, id.to_string()))
        .counted();
    let listed = match s.list::<T>(actor, &q).await {
        Ok(p) => {
            assert_eq!(
                p.total,
                Some(p.items.len() as i64),
                "count agrees with the list"
            );
            !p.items.is_empty()
        }
        Err(StoreError::Forbidden { .. }) => false,
        Err(e) => panic!("list: {e:?}"),
    };
    let ok = |r: Result<(), StoreError>, what: &str| match r {
        Ok(()) => true,
        Err(StoreError::NotFound { .. } | StoreError::Forbidden { .. }) => false,
        Err(e) => panic!("{what}: {e:?}"),
    };
    let mut out = vec![
        ("get", ok(s.get::<T>(actor, id).await.map(drop), "get")),
        ("list+count", listed),
        (
            "changes",
            ok(s.changes_for::<T>(actor, id).await.map(drop), "changes"),
        ),
    ];
    if T::DEF.name == "account" {
        out.push(("360", ok(s.account_360(actor, id).await.map(drop), "360")));
        out.push((
            "timeline",
            ok(s.timeline(actor, id, None, 10).await.map(drop), "timeline"),
        ));
    }
    out
}

async fn check_entity<T: Sample>(s: &Store, c: &Cast, failures: &mut Vec<String>) {
    let sys = Actor::system();
    for (n, actor) in c.actors.iter().enumerate() {
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
            let expected =
                actor.may(T::DEF.name, Right::Read) && actor.sees(Some(owner), Some(team), partner);
            for (path, seen) in observed::<T>(s, actor, id).await {
                if seen != expected {
                    let kind = if seen { "LEAK" } else { "WRONG DENIAL" };
                    failures.push(format!(
                        "{kind}: role {} {path} {} ({whose:?})",
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
        check_entity::<Account>(&s, &c, &mut failures).await;
        check_entity::<Contact>(&s, &c, &mut failures).await;
        check_entity::<Interaction>(&s, &c, &mut failures).await;
        check_entity::<Lead>(&s, &c, &mut failures).await;
        check_entity::<Opportunity>(&s, &c, &mut failures).await;
        check_entity::<Order>(&s, &c, &mut failures).await;
        check_entity::<Case>(&s, &c, &mut failures).await;
        check_entity::<Campaign>(&s, &c, &mut failures).await;
        assert!(
            failures.is_empty(),
            "{} violations:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
);
