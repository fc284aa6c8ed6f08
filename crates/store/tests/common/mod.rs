//! Fixtures for the conformance suite: fresh stores on each backend, a small company
//! (teams, users of each role), and builders for valid records.

#![allow(dead_code)]

use guanxi_domain::custom::{CustomFieldDef, CustomType};
use guanxi_domain::entities::*;
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Currency, Id, Locale, Money, NewRecord, Phone, Record};
use guanxi_store::Store;

/// Run one test body on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! conformance {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let (store, _dir) = $crate::common::sqlite_store().await;
                ($body)(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(store) = $crate::common::pg_store().await {
                    ($body)(store).await;
                }
            }
        }
    };
}

/// A fresh SQLite file in a temporary directory (WAL, separate reader pool: as in production).
pub async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("test.db").display());
    (Store::open(&url).await.unwrap(), dir)
}

/// A fresh database on the server named by `GUANXI_TEST_POSTGRES` (see
/// [`guanxi_store::testing::fresh_postgres`]).
pub async fn pg_store() -> Option<Store> {
    let url = guanxi_store::testing::fresh_postgres("gx_test").await?;
    Some(Store::open(&url).await.unwrap())
}

pub trait ParsePhone {
    fn parse_phone(&self) -> Phone;
}

impl ParsePhone for &str {
    fn parse_phone(&self) -> Phone {
        Phone::parse(self).unwrap()
    }
}

/// A company: Sales → East → East/Shanghai, and West. rep_a is in East/Shanghai, rep_b and
/// the manager in East, rep_c in West.
pub struct World {
    pub admin: Actor,
    pub manager: Actor,
    pub rep_a: Actor,
    pub rep_b: Actor,
    pub rep_c: Actor,
}

impl World {
    pub async fn build(s: &Store) -> World {
        let sys = Actor::system();
        let team = |name: &str, parent: Option<Id>| Team {
            name: name.into(),
            parent_id: parent,
        };
        let root = s
            .create(&sys, NewRecord::new(team("Sales", None)))
            .await
            .unwrap()
            .meta
            .id;
        let east = s
            .create(&sys, NewRecord::new(team("East", Some(root))))
            .await
            .unwrap()
            .meta
            .id;
        let sh = s
            .create(&sys, NewRecord::new(team("East/Shanghai", Some(east))))
            .await
            .unwrap()
            .meta
            .id;
        let west = s
            .create(&sys, NewRecord::new(team("West", Some(root))))
            .await
            .unwrap()
            .meta
            .id;
        let user = |email: &str, role: &str, team: Option<Id>| User {
            email: guanxi_domain::Email::parse(email).unwrap(),
            name: email.split('@').next().unwrap().into(),
            role: role.into(),
            team_id: team,
            partner_id: None,
            locale: Locale::ZhCn,
            active: true,
        };
        let mut actors = vec![];
        for (email, role, team) in [
            ("admin@gx.test", "admin", None),
            ("manager@gx.test", "manager", Some(east)),
            ("a@gx.test", "sales", Some(sh)),
            ("b@gx.test", "sales", Some(east)),
            ("c@gx.test", "sales", Some(west)),
        ] {
            let u = s
                .create(&sys, NewRecord::new(user(email, role, team)))
                .await
                .unwrap();
            actors.push(s.actor_for(u.meta.id).await.unwrap());
        }
        let mut it = actors.into_iter();
        World {
            admin: it.next().unwrap(),
            manager: it.next().unwrap(),
            rep_a: it.next().unwrap(),
            rep_b: it.next().unwrap(),
            rep_c: it.next().unwrap(),
        }
    }

    pub async fn account(&self, s: &Store, actor: &Actor, name: &str) -> Record<Account> {
        let mut a = Account::new(AccountKind::Organisation, name, Relationship::Customer);
        a.province = Some("上海市".into());
        a.city = Some("上海市".into());
        a.credit_code = Some(guanxi_domain::CreditCode::from_body("91310000MA1FL0000").unwrap());
        a.latitude = Some(31.23);
        a.longitude = Some(121.47);
        a.tags = vec!["key".into()];
        a.tier = Some(Tier::Key);
        s.create(actor, NewRecord::new(a)).await.unwrap()
    }

    pub async fn order(
        &self,
        s: &Store,
        actor: &Actor,
        account: Id,
        number: &str,
        status: OrderStatus,
        lines: &[(i64, i64, i64)],
    ) -> Record<Order> {
        let order = Order {
            number: number.into(),
            account_id: account,
            contact_id: None,
            opportunity_id: None,
            status,
            ordered_at: chrono::Utc::now(),
            currency: Currency::CNY,
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, &(quantity, unit_price, unit_cost))| OrderLine {
                    product_id: None,
                    sku: format!("SKU-{i}"),
                    name: format!("产品{i}"),
                    quantity,
                    unit_price,
                    unit_cost,
                })
                .collect(),
            total: 0,
            cost_total: 0,
            status_history: vec![],
        };
        s.create(actor, NewRecord::new(order)).await.unwrap()
    }
}

pub fn product(sku: &str, price: i64, cost: i64) -> Product {
    Product {
        sku: sku.into(),
        name: format!("产品 {sku}"),
        category: Some("软件".into()),
        unit: Some("套".into()),
        list_price: Money::new(price, Currency::CNY),
        cost: Money::new(cost, Currency::CNY),
        active: true,
    }
}

pub async fn default_pipeline(s: &Store) -> Record<Pipeline> {
    let q = ListQuery::default()
        .filter(Filter::new("is_default", Op::Eq, true))
        .limit(1);
    s.list::<Pipeline>(&Actor::system(), &q)
        .await
        .unwrap()
        .items
        .pop()
        .expect("the default pipeline exists")
}

pub fn opportunity(account: Id, pipeline: Id) -> Opportunity {
    Opportunity {
        name: "CRM 项目".into(),
        account_id: account,
        contact_id: None,
        pipeline_id: pipeline,
        stage: "prospecting".into(),
        status: OpportunityStatus::Open,
        amount: Money::new(100_000_00, Currency::CNY),
        probability: 10,
        expected_close: chrono::NaiveDate::from_ymd_opt(2026, 12, 31),
        close_reason: None,
        closed_at: None,
        lead_id: None,
        stage_history: vec![],
    }
}

pub fn interaction(account: Id, kind: InteractionKind) -> Interaction {
    Interaction {
        kind,
        direction: Some(Direction::Outbound),
        status: InteractionStatus::Done,
        at: chrono::Utc::now(),
        subject: "回访".into(),
        body: Some("客户对产品满意".into()),
        outcome: None,
        account_id: Some(account),
        contact_id: None,
        opportunity_id: None,
        case_id: None,
        campaign_id: None,
        parts: vec![],
    }
}

pub fn case(account: Id, number: &str) -> Case {
    Case {
        category: Some("空调".into()),
        channel: Some("phone".into()),
        account_id: Some(account),
        sla_due_at: Some(chrono::Utc::now() + chrono::Duration::hours(24)),
        ..Case::new(
            number,
            "空调不制冷",
            CaseKind::Repair,
            Priority::High,
            CaseStatus::Open,
        )
    }
}

pub fn custom_def(entity: &str, key: &str, ty: CustomType) -> CustomFieldDef {
    CustomFieldDef {
        entity: entity.into(),
        key: key.into(),
        label: key.into(),
        label_zh: None,
        ty,
        choices: vec![],
        required: false,
        sensitive: false,
    }
}
