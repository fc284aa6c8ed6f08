//! The company behind the demo: teams, users of every role, the partner network and the
//! product catalogue.

use super::names::{self, PRODUCT_LINES};
use super::regions::Regions;
use super::{DemoUser, customers::det_id};
use anyhow::bail;
use guanxi_domain::entities::*;
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Currency, Email, Id, Money, NewRecord, Phone, Record};
use guanxi_store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The business calendars (head office hours with China's official holidays, a 24×7
/// hotline) and the SLA policies cases are held to.
async fn service_levels(store: &Store, sys: &Actor) -> anyhow::Result<()> {
    let office = store
        .create(sys, NewRecord::new(Calendar::china_office("总部工作时间")))
        .await?
        .meta
        .id;
    let hotline = store
        .create(sys, NewRecord::new(Calendar::around_the_clock("7×24 热线")))
        .await?
        .meta
        .id;
    let policy = |name: &str, rank, calendar, response, resolution, warn| SlaPolicy {
        name: name.into(),
        rank,
        active: true,
        calendar_id: calendar,
        categories: vec![],
        priorities: vec![],
        tiers: vec![],
        grades: vec![],
        channels: vec![],
        first_response_minutes: Some(response),
        resolution_minutes: Some(resolution),
        warn_before_minutes: Some(warn),
        pause_statuses: vec![CaseStatus::Pending.as_str().into()],
        description: None,
    };
    let policies = [
        SlaPolicy {
            tiers: vec![Tier::Key.as_str().into()],
            ..policy("大客户 7×24", 1, hotline, 30, 8 * 60, 60)
        },
        SlaPolicy {
            priorities: vec![Priority::Urgent.as_str().into()],
            ..policy("紧急工单", 2, hotline, 60, 12 * 60, 120)
        },
        SlaPolicy {
            priorities: vec![Priority::High.as_str().into()],
            ..policy("高优先级", 3, office, 2 * 60, 2 * 8 * 60, 2 * 60)
        },
        policy("标准服务", 10, office, 8 * 60, 5 * 8 * 60, 8 * 60),
    ];
    for p in policies {
        store.create(sys, NewRecord::new(p)).await?;
    }
    Ok(())
}

/// What the marketer starts with: two versions of a mail to loyal customers, the segments
/// of high-value customers at risk (accounts, and their contacts who accepted e-mail), and
/// a planned A/B campaign on them with a control group, ready to launch once the
/// analytics have run.
async fn marketing(store: &Store, sys: &Actor, marketer: Id) -> anyhow::Result<()> {
    let template = |name: &str, subject: &str, offer: &str| EmailTemplate {
        name: name.into(),
        locale: Locale::ZhCn,
        category: MailCategory::Marketing,
        subject: format!("{{{{contact.name}}}}，{subject}"),
        html: format!(
            "<p>{{{{contact.name}}}} 您好：</p><p>感谢 {{{{account.name}}}} 一直以来的信任。{offer}</p>\
             <p><a href=\"https://www.guanxi.demo/offers/spring\">查看详情</a></p>\
             <p>{{{{user.name}}}}</p><p><a href=\"{{{{unsubscribe_url}}}}\">退订</a></p>"
        ),
        text: format!(
            "{{{{contact.name}}}} 您好：\n感谢 {{{{account.name}}}} 一直以来的信任。{offer}\n\
             详情：https://www.guanxi.demo/offers/spring\n{{{{user.name}}}}\n退订：{{{{unsubscribe_url}}}}"
        ),
    };
    let a = store
        .create(
            sys,
            NewRecord::new(template(
                "老客户回馈 A",
                "老客户专享回馈",
                "本月下单享九折。",
            )),
        )
        .await?;
    let b = store
        .create(
            sys,
            NewRecord::new(template(
                "老客户回馈 B",
                "送您一份专属礼遇",
                "本月下单赠送一年延保。",
            )),
        )
        .await?;
    let reminder = store
        .create(
            sys,
            NewRecord::new(template(
                "老客户回馈 · 提醒",
                "回馈本月底截止",
                "九折与延保回馈本月底截止，别错过。",
            )),
        )
        .await?;
    let valuable = vec![
        Filter::new("grade", Op::In, serde_json::json!(["A", "B"])),
        Filter::new("churn_risk", Op::Ge, serde_json::json!(0.5)),
    ];
    store
        .create(
            sys,
            NewRecord::new(Segment {
                conditions: valuable.clone(),
                description: Some("等级 A/B 且流失风险不低于 50% 的客户".into()),
                ..Segment::new("高价值流失风险客户", SegmentOf::Account)
            })
            .owned_by(marketer, None),
        )
        .await?;
    let people = store
        .create(
            sys,
            NewRecord::new(Segment {
                conditions: valuable
                    .into_iter()
                    .map(|f| Filter {
                        field: format!("{ACCOUNT_PREFIX}{}", f.field),
                        ..f
                    })
                    .collect(),
                facts: vec![Fact::Consent {
                    channel: ConsentChannel::Email,
                    given: true,
                }],
                ..Segment::new(
                    "高价值流失风险客户的联系人（已授权邮件）",
                    SegmentOf::Contact,
                )
            })
            .owned_by(marketer, None),
        )
        .await?;
    let variant = |name: &str, t: &Record<EmailTemplate>| Variant {
        name: name.into(),
        template_id: t.meta.id,
        percent: 50,
    };
    store
        .create(
            sys,
            NewRecord::new(Campaign {
                name: "老客户回馈 · A/B".into(),
                channel: CampaignChannel::Email,
                status: CampaignStatus::Planned,
                starts_on: None,
                ends_on: None,
                budget: Money::new(20_000_00, Currency::CNY),
                description: Some("九折与延保两种回馈，留出 10% 对照组".into()),
                segment_id: Some(people.meta.id),
                variants: vec![variant("A 九折", &a), variant("B 延保", &b)],
                control_percent: 10,
                // 5 fen a message: what an e-mail service charges at volume.
                cost_per_message: 5,
                conversion_days: 30,
                // Sent at any hour (the demo's journey launches it whenever it runs), but
                // nobody gets more than three campaign messages a week.
                send_from: None,
                send_until: None,
                cap_messages: Some(3),
                cap_days: Some(7),
                max_per_minute: None,
                targeting: Default::default(),
                target_top_n: None,
                target_min_score: None,
                model_auc: None,
                model_trained_at: None,
                steps: follow_up(&reminder),
            })
            .owned_by(marketer, None),
        )
        .await?;
    Ok(())
}

/// The demo campaign's journey: a reminder three days later to those who did not open
/// the message, a call for the owner of anyone who clicks within a week, and whoever
/// answers the reminder marked a supporter.
fn follow_up(reminder: &Record<EmailTemplate>) -> Vec<Step> {
    let step = |n: u128| {
        Id(uuid::Uuid::from_u128(
            0x0190_0000_0000_7000_8000_0000_0000_0000 + n,
        ))
    };
    vec![
        Step {
            id: step(1),
            name: "未打开：三天后提醒".into(),
            parent: None,
            when: StepWhen::NotOpened,
            wait_hours: 72,
            action: StepAction::SendEmail {
                template_id: reminder.meta.id,
            },
        },
        Step {
            id: step(2),
            name: "点击：销售致电".into(),
            parent: None,
            when: StepWhen::Clicked,
            // Watches a week for a click; the task is made at the click.
            wait_hours: 168,
            action: StepAction::CreateTask {
                subject: "致电：对老客户回馈感兴趣".into(),
                due_in_hours: 24,
            },
        },
        Step {
            id: step(3),
            name: "回复提醒：标为支持者".into(),
            parent: Some(step(1)),
            when: StepWhen::Replied,
            wait_hours: 48,
            action: StepAction::UpdateField {
                field: "stance".into(),
                value: serde_json::json!("supporter"),
            },
        },
    ]
}

#[derive(Debug, Clone)]
pub struct Rep {
    pub user: Id,
    pub team: Id,
}

#[derive(Debug, Clone)]
pub struct Partner {
    pub id: Id,
    pub province: String,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone)]
pub struct ProductInfo {
    pub id: Id,
    pub sku: String,
    pub name: String,
    pub line: usize,
    pub price: i64,
    pub cost: i64,
}

#[derive(Debug, Clone)]
pub struct Org {
    pub reps: Vec<Rep>,
    pub service_agents: Vec<Id>,
    pub stations: Vec<Partner>,
    pub products: Vec<ProductInfo>,
    pub pipeline: Record<Pipeline>,
    pub users: Vec<DemoUser>,
    pub rows: Vec<(&'static str, u64)>,
}

const REGIONS: &[(&str, &str)] = &[
    ("华东大区", "east"),
    ("华北大区", "north"),
    ("华南大区", "south"),
    ("西部大区", "west"),
];

pub async fn build(store: &Store, sys: &Actor, seed: u64, customers: u64) -> anyhow::Result<Org> {
    let existing = store
        .list::<User>(sys, &ListQuery::default().limit(1))
        .await?;
    if !existing.items.is_empty() {
        bail!("this database already has users: seed an empty database");
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0123_4567_89ab_cdef);
    let team = |name: String, parent: Option<Id>| {
        NewRecord::new(Team {
            name,
            parent_id: parent,
        })
    };
    let root = store
        .create(sys, team("销售部".into(), None))
        .await?
        .meta
        .id;
    let n_reps = (customers / 2_000).clamp(8, 500) as usize;
    let mut users = vec![];
    let mut reps = vec![];
    let mut user_rows = 0u64;
    let mut add_user =
        |email: String, role: &str, team: Option<Id>, partner: Option<Id>, rng: &mut StdRng| {
            let person = names::chinese_person(rng);
            users.push(DemoUser {
                email: email.clone(),
                role: role.into(),
                name: person.name.clone(),
            });
            user_rows += 1;
            NewRecord::new(User {
                email: Email::parse(&email).expect("demo e-mails are valid"),
                name: person.name,
                role: role.into(),
                team_id: team,
                partner_id: partner,
                locale: if rng.random_bool(0.8) {
                    Locale::ZhCn
                } else {
                    Locale::En
                },
                active: true,
            })
        };
    store
        .create(
            sys,
            add_user("admin@guanxi.demo".into(), "admin", None, None, &mut rng),
        )
        .await?;
    let mut sub_teams = vec![];
    let teams_per_region = n_reps.div_ceil(8 * REGIONS.len()).max(1);
    for (zh, key) in REGIONS {
        let region = store
            .create(sys, team((*zh).into(), Some(root)))
            .await?
            .meta
            .id;
        store
            .create(
                sys,
                add_user(
                    format!("manager.{key}@guanxi.demo"),
                    "manager",
                    Some(region),
                    None,
                    &mut rng,
                ),
            )
            .await?;
        for k in 1..=teams_per_region {
            let name = format!("{}{}组", zh.trim_end_matches("大区"), k);
            sub_teams.push(store.create(sys, team(name, Some(region))).await?.meta.id);
        }
    }
    for i in 0..n_reps {
        let t = sub_teams[i % sub_teams.len()];
        let u = store
            .create(
                sys,
                add_user(
                    format!("rep{:03}@guanxi.demo", i + 1),
                    "sales",
                    Some(t),
                    None,
                    &mut rng,
                ),
            )
            .await?;
        reps.push(Rep {
            user: u.meta.id,
            team: t,
        });
    }
    let mut service_agents = vec![];
    let mut marketer = None;
    for (email, role) in [
        ("marketing@guanxi.demo", "marketing"),
        ("service1@guanxi.demo", "service"),
        ("service2@guanxi.demo", "service"),
        ("analyst@guanxi.demo", "analyst"),
        ("readonly@guanxi.demo", "readonly"),
    ] {
        let u = store
            .create(sys, add_user(email.into(), role, None, None, &mut rng))
            .await?;
        if role == "service" {
            service_agents.push(u.meta.id);
        }
        if role == "marketing" {
            marketer = Some(u.meta.id);
        }
    }

    // The partner network: service stations and dealers across the country.
    let regions = Regions::get();
    let n_stations = (customers / 500).clamp(10, 2_000) as usize;
    let mut stations = vec![];
    let mut partner_rows = vec![];
    for i in 0..n_stations * 3 / 2 {
        let place = regions.pick(&mut rng);
        let station = i < n_stations;
        let (kind_zh, ptype) = if station {
            ("服务站", PartnerType::ServiceStation)
        } else {
            ("经销商", PartnerType::Dealer)
        };
        let name = format!(
            "{}{}{kind_zh}{:03}",
            place.city.trim_end_matches('市'),
            place.district,
            i + 1
        );
        let mut a = Account::new(AccountKind::Organisation, name, Relationship::Partner);
        a.partner_type = Some(ptype);
        a.province = Some(place.province.clone());
        a.city = Some(place.city.clone());
        a.district = Some(place.district.clone());
        a.adcode = Some(place.adcode.clone());
        a.latitude = Some(place.lat);
        a.longitude = Some(place.lon);
        a.phone = Phone::parse(&format!(
            "0{}{:08}",
            10 + rng.random_range(0..90),
            rng.random_range(0..100_000_000u32)
        ))
        .ok();
        a.tier = Some(Tier::Standard);
        if station {
            // Each station repairs three product lines, within 300 km, 50 open cases at most.
            a.takes_cases = true;
            a.service_lines = [0, 1, 3]
                .iter()
                .map(|k| PRODUCT_LINES[(i + k) % PRODUCT_LINES.len()].0.to_string())
                .collect();
            a.service_radius_km = Some(300.0);
            a.service_capacity = Some(50);
        }
        let id = det_id(&mut rng, 1_600_000_000_000 + i as u64);
        if station {
            stations.push(Partner {
                id,
                province: place.province.clone(),
                lat: place.lat,
                lon: place.lon,
            });
        }
        partner_rows.push(
            NewRecord::new(a)
                .with_id(id)
                .owned_by(reps[0].user, Some(reps[0].team)),
        );
    }
    let n_partners = partner_rows.len() as u64;
    store.import(sys, partner_rows).await?;
    // A partner login for the first three service stations.
    for (i, s) in stations.iter().take(3).enumerate() {
        store
            .create(
                sys,
                add_user(
                    format!("station{}@guanxi.demo", i + 1),
                    "partner",
                    None,
                    Some(s.id),
                    &mut rng,
                ),
            )
            .await?;
    }

    let mut products = vec![];
    let mut product_rows = vec![];
    for i in 0..200u32 {
        let line = i as usize % PRODUCT_LINES.len();
        let (_, _, lo, hi) = PRODUCT_LINES[line];
        let price = rng.random_range(lo..=hi) as i64 * 100;
        let cost = price * rng.random_range(45..80) / 100;
        let (name, sku) = names::product_name(&mut rng, line, i);
        let id = det_id(&mut rng, 1_600_000_000_000 + i as u64);
        products.push(ProductInfo {
            id,
            sku: sku.clone(),
            name: name.clone(),
            line,
            price,
            cost,
        });
        product_rows.push(
            NewRecord::new(Product {
                sku,
                name,
                category: Some(PRODUCT_LINES[line].0.into()),
                unit: Some(if line == 5 || line == 6 { "套" } else { "台" }.into()),
                list_price: Money::new(price, Currency::CNY),
                cost: Money::new(cost, Currency::CNY),
                active: true,
            })
            .with_id(id),
        );
    }
    store.import(sys, product_rows).await?;
    service_levels(store, sys).await?;
    if let Some(m) = marketer {
        marketing(store, sys, m).await?;
    }

    let q = ListQuery::default()
        .filter(Filter::new("is_default", Op::Eq, true))
        .limit(1);
    let pipeline = store
        .list::<Pipeline>(sys, &q)
        .await?
        .items
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no default pipeline"))?;
    let rows = vec![
        ("teams", (1 + REGIONS.len() + sub_teams.len()) as u64),
        ("users", user_rows),
        ("partners", n_partners),
        ("products", 200),
    ];
    Ok(Org {
        reps,
        service_agents,
        stations,
        products,
        pipeline,
        users,
        rows,
    })
}
