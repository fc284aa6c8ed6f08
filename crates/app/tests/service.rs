//! Service that runs, over a real store (a SQLite file, and PostgreSQL when
//! `GUANXI_TEST_POSTGRES` names a server): the service follower gives a case the clock of
//! the policy that covers it, stops it while the case waits for the customer, recomputes
//! it when the priority changes; the sweep writes a breach through the write path; a new
//! case is offered to the nearest qualified station with room, passed on when declined or
//! not second, and a dispatcher's choice is kept.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::stores;
use guanxi_app::jobs::Handler;
use guanxi_app::records;
use guanxi_app::service::{Service, dispatch, sla};
use guanxi_domain::entities::{Account, Calendar, Case, DispatchStatus, SlaPolicy, SlaState, User};
use guanxi_domain::{Actor, Email, Entity, Id, Locale, NewRecord, Record};
use guanxi_store::follow::catch_up;
use guanxi_store::{JobFilter, Store};
use serde_json::{Value, json};

async fn create<T: Entity>(s: &Store, body: Value) -> Record<T> {
    records::create::<T>(s, &Actor::system(), body)
        .await
        .unwrap_or_else(|e| panic!("creating a {}: {e}", T::DEF.name))
}

async fn edit(s: &Store, actor: &Actor, case: Id, body: Value) -> Record<Case> {
    let now = s.get::<Case>(actor, case).await.unwrap();
    records::patch::<Case>(s, actor, case, now.meta.version, body)
        .await
        .unwrap()
}

async fn settle(s: &Store, service: &mut Service) {
    catch_up(s, service, 1_000)
        .await
        .map_err(|e| e.to_string())
        .unwrap();
}

async fn case(s: &Store, id: Id) -> Case {
    s.get::<Case>(&Actor::system(), id).await.unwrap().data
}

/// Whole minutes from `from` to `to`, rounded: business time keeps whole seconds.
fn minutes(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> i64 {
    ((to.expect("a time") - from).num_milliseconds() as f64 / 60_000.0).round() as i64
}

#[tokio::test]
async fn the_clock_follows_the_case() {
    let (stores, _dir) = stores("service_clock").await;
    for s in &stores {
        let hotline = create::<Calendar>(
            s,
            serde_json::to_value(Calendar::around_the_clock("7×24")).unwrap(),
        )
        .await;
        let fast = create::<SlaPolicy>(s, json!({
            "name": "Urgent", "rank": 1, "calendar_id": hotline.meta.id, "priorities": ["high", "urgent"],
            "first_response_minutes": 10, "resolution_minutes": 60, "warn_before_minutes": 5,
        })).await;
        let slow = create::<SlaPolicy>(s, json!({
            "name": "Standard", "rank": 2, "calendar_id": hotline.meta.id, "resolution_minutes": 600,
        })).await;
        let mut service = Service::open(s.clone()).await.unwrap();

        let c = create::<Case>(s, json!({
            "number": "CS-1", "subject": "空调不制冷", "kind": "repair", "priority": "high", "status": "new",
        })).await;
        let opened = c.meta.created_at;
        settle(s, &mut service).await;
        let now = case(s, c.meta.id).await;
        assert_eq!(now.sla_policy_id, Some(fast.meta.id));
        assert_eq!(minutes(opened, now.first_response_due_at), 10);
        assert_eq!(minutes(opened, now.sla_due_at), 60);
        assert_eq!(now.sla_state, Some(SlaState::OnTrack));
        assert_eq!(
            minutes(opened, now.sla_next_at),
            5,
            "the response warning comes next"
        );

        // Taken up, then waiting for the customer: the clock stops, no due date.
        let system = Actor::system();
        edit(s, &system, c.meta.id, json!({ "status": "open" })).await;
        edit(s, &system, c.meta.id, json!({ "status": "pending" })).await;
        settle(s, &mut service).await;
        let paused = case(s, c.meta.id).await;
        assert!(paused.first_response_at.is_some());
        assert_eq!(
            (paused.sla_state, paused.sla_due_at),
            (Some(SlaState::Paused), None)
        );

        // Back to work: due again, later by the time it waited; a lower priority moves
        // the case to the standard policy with the minutes already used.
        edit(s, &system, c.meta.id, json!({ "status": "open" })).await;
        settle(s, &mut service).await;
        let resumed = case(s, c.meta.id).await;
        let since = resumed.sla_since.unwrap();
        let used = resumed.sla_used_minutes.unwrap();
        assert_eq!(minutes(since, resumed.sla_due_at), 60 - used);
        edit(s, &system, c.meta.id, json!({ "priority": "normal" })).await;
        settle(s, &mut service).await;
        let slower = case(s, c.meta.id).await;
        assert_eq!(slower.sla_policy_id, Some(slow.meta.id));
        assert_eq!(minutes(since, slower.sla_due_at), 600 - used);

        // Eleven hours on, the sweep writes the breach as an update, so rules see it.
        let setup = sla::Setup::load(s).await.unwrap();
        let later = Utc::now() + Duration::hours(11);
        assert_eq!(sla::sweep(s, &setup, later).await.unwrap(), 1);
        let breached = case(s, c.meta.id).await;
        assert_eq!(breached.sla_state, Some(SlaState::Breached));
        let log = s.changes_for::<Case>(&system, c.meta.id).await.unwrap();
        let last = log.last().unwrap();
        assert_eq!(
            (
                last.action.as_str(),
                &last.after.as_ref().unwrap()["sla_state"]
            ),
            ("update", &json!("breached"))
        );
        assert_eq!(
            sla::sweep(s, &setup, later).await.unwrap(),
            0,
            "nothing twice"
        );

        // Resolved: its state is final.
        edit(
            s,
            &system,
            c.meta.id,
            json!({ "status": "resolved", "resolved_at": Utc::now() }),
        )
        .await;
        settle(s, &mut service).await;
        assert_eq!(case(s, c.meta.id).await.sla_state, Some(SlaState::Met));

        // A calendar changed: every open case is recomputed at once.
        let other = create::<Case>(s, json!({
            "number": "CS-2", "subject": "报修", "kind": "repair", "priority": "urgent", "status": "open",
        })).await;
        // A second one, new: the clocks are written several to a statement.
        let second = create::<Case>(s, json!({
            "number": "CS-3", "subject": "咨询", "kind": "request", "priority": "urgent", "status": "new",
        })).await;
        settle(s, &mut service).await;
        let before = case(s, other.meta.id).await;
        assert_eq!(minutes(other.meta.created_at, before.sla_due_at), 60);
        records::patch::<SlaPolicy>(
            s,
            &system,
            fast.meta.id,
            fast.meta.version,
            json!({ "resolution_minutes": 120 }),
        )
        .await
        .unwrap();
        let done = sla::recompute(s, Utc::now()).await.unwrap();
        assert_eq!((done.open, done.moved), (2, 2));
        let after = case(s, other.meta.id).await;
        assert_eq!(minutes(other.meta.created_at, after.sla_due_at), 120);
        let after = case(s, second.meta.id).await;
        assert_eq!(minutes(second.meta.created_at, after.sla_due_at), 120);
        assert_eq!(after.sla_policy_id, Some(fast.meta.id));
    }
}

async fn partner_user(s: &Store, email: &str, partner: Id) -> Actor {
    let u = User {
        email: Email::parse(email).unwrap(),
        name: email.into(),
        role: "partner".into(),
        team_id: None,
        partner_id: Some(partner),
        locale: Locale::ZhCn,
        active: true,
    };
    let id = s
        .create(&Actor::system(), NewRecord::new(u))
        .await
        .unwrap()
        .meta
        .id;
    s.actor_for(id).await.unwrap()
}

async fn station(
    s: &Store,
    name: &str,
    district: &str,
    city: &str,
    lines: &[&str],
    capacity: Option<i64>,
) -> Id {
    let province = if city == "上海市" {
        "上海市"
    } else {
        "浙江省"
    };
    create::<Account>(s, json!({
        "kind": "organisation", "name": name, "relationship": "partner", "partner_type": "service_station",
        "province": province, "city": city, "district": district,
        "takes_cases": true, "service_lines": lines, "service_capacity": capacity,
    }))
    .await
    .meta
    .id
}

#[tokio::test]
async fn a_case_goes_to_the_nearest_qualified_station() {
    let (stores, _dir) = stores("service_dispatch").await;
    for s in &stores {
        let mut service = Service::open(s.clone()).await.unwrap();
        // Nearest to the customer, but it repairs fridges only.
        let pudong = station(s, "浦东冰箱服务站", "浦东新区", "上海市", &["冰箱"], None).await;
        let minhang = station(s, "闵行服务站", "闵行区", "上海市", &["空调"], Some(1)).await;
        let hangzhou = station(s, "杭州服务站", "西湖区", "杭州市", &["空调", "冰箱"], None).await;
        let customer = create::<Account>(
            s,
            json!({
                "kind": "individual", "name": "王先生", "relationship": "customer",
                "province": "上海", "city": "上海市", "district": "浦东新区",
            }),
        )
        .await;
        let ac = create::<guanxi_domain::entities::Product>(s, json!({
            "sku": "AC-1", "name": "变频空调", "category": "空调",
            "list_price": { "minor": 399900, "currency": "CNY" }, "cost": { "minor": 250000, "currency": "CNY" },
        })).await;
        let new_case = |n: &str| {
            json!({
                "number": n, "subject": "空调不制冷", "kind": "repair", "priority": "normal", "status": "new",
                "account_id": customer.meta.id, "product_id": ac.meta.id,
            })
        };
        let c = create::<Case>(s, new_case("CS-10")).await;
        settle(s, &mut service).await;
        let offered = case(s, c.meta.id).await;
        assert_eq!(
            (offered.partner_id, offered.dispatch_status),
            (Some(minhang), Some(DispatchStatus::Offered))
        );
        let why = offered.dispatch_reason.clone().unwrap();
        assert_eq!(
            (
                why.event.as_str(),
                why.not_qualified,
                why.product_line.as_deref()
            ),
            ("offered", 1, Some("空调"))
        );
        let km = why.km.unwrap();
        assert!((10.0..40.0).contains(&km), "浦东 to 闵行: {km} km");
        let lapses = s
            .list_jobs(
                &JobFilter {
                    state: None,
                    kind: Some(dispatch::LAPSE.into()),
                },
                10,
                None,
            )
            .await
            .unwrap()
            .items;
        assert_eq!(lapses.len(), 1);
        assert_eq!(
            lapses[0].run_at,
            offered.dispatch_offered_at.unwrap() + Duration::minutes(120)
        );

        // Minhang holds one case: the next goes past it, to Hangzhou.
        let full = create::<Case>(s, new_case("CS-11")).await;
        settle(s, &mut service).await;
        let second = case(s, full.meta.id).await;
        assert_eq!(second.partner_id, Some(hangzhou));
        let why = second.dispatch_reason.unwrap();
        assert_eq!((why.not_qualified, why.full), (1, 1));
        assert!((150.0..190.0).contains(&why.km.unwrap()));

        // Minhang's user declines the first: it goes to Hangzhou too, the reasons said.
        let minhang_user = partner_user(s, "minhang@station.example", minhang).await;
        let now = s.get::<Case>(&minhang_user, c.meta.id).await.unwrap();
        dispatch::answer(
            s,
            &minhang_user,
            c.meta.id,
            now.meta.version,
            dispatch::Answer::Decline {
                comment: Some("师傅休假".into()),
            },
        )
        .await
        .unwrap();
        settle(s, &mut service).await;
        let passed = case(s, c.meta.id).await;
        assert_eq!(
            (passed.partner_id, passed.dispatch_passed.clone()),
            (Some(hangzhou), vec![minhang])
        );
        assert_eq!(passed.dispatch_reason.unwrap().passed, 1);
        // Minhang no longer sees it, nor may it answer again.
        assert!(s.get::<Case>(&minhang_user, c.meta.id).await.is_err());

        // Hangzhou lets the offer lapse: nobody is left.
        let job = s
            .list_jobs(
                &JobFilter {
                    state: None,
                    kind: Some(dispatch::LAPSE.into()),
                },
                10,
                None,
            )
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|j| {
                j.payload["case"] == json!(c.meta.id) && j.payload["partner"] == json!(hangzhou)
            })
            .unwrap();
        dispatch::Lapse { store: s.clone() }
            .run(&job)
            .await
            .unwrap();
        settle(s, &mut service).await;
        let unmatched = case(s, c.meta.id).await;
        assert_eq!(
            (unmatched.partner_id, unmatched.dispatch_status),
            (None, Some(DispatchStatus::Unmatched))
        );
        let why = unmatched.dispatch_reason.unwrap();
        assert_eq!(
            (why.event.as_str(), why.passed, why.not_qualified),
            ("unmatched", 2, 1)
        );

        // Hangzhou accepts the second.
        let hz_user = partner_user(s, "hz@station.example", hangzhou).await;
        let now = s.get::<Case>(&hz_user, full.meta.id).await.unwrap();
        dispatch::answer(
            s,
            &hz_user,
            full.meta.id,
            now.meta.version,
            dispatch::Answer::Accept,
        )
        .await
        .unwrap();
        settle(s, &mut service).await;
        assert_eq!(
            case(s, full.meta.id).await.dispatch_status,
            Some(DispatchStatus::Accepted)
        );
        // Not its case to answer: refused.
        let again = dispatch::answer(
            s,
            &hz_user,
            full.meta.id,
            now.meta.version + 1,
            dispatch::Answer::Accept,
        )
        .await;
        assert!(again.is_err());

        // A dispatcher gives the first to the fridge station by hand: kept, not passed on.
        let admin = User {
            email: Email::parse("dispatcher@example.com").unwrap(),
            name: "调度员".into(),
            role: "admin".into(),
            team_id: None,
            partner_id: None,
            locale: Locale::ZhCn,
            active: true,
        };
        let admin = s
            .create(&Actor::system(), NewRecord::new(admin))
            .await
            .unwrap()
            .meta
            .id;
        let dispatcher = s.actor_for(admin).await.unwrap();
        edit(s, &dispatcher, c.meta.id, json!({ "partner_id": pudong })).await;
        settle(s, &mut service).await;
        let manual = case(s, c.meta.id).await;
        assert_eq!(
            (manual.partner_id, manual.dispatch_status),
            (Some(pudong), Some(DispatchStatus::Manual))
        );
        assert_eq!(manual.dispatch_reason.unwrap().by, Some(admin));
    }
}
