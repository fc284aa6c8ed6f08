//! One customer at a time: the account, its people, purchase history, contacts with us,
//! deals, service cases and the lead it came from. Each customer has its own random stream
//! (from the seed and its number), so batches can be made in any order with the same result.

use super::names;
use super::org::{Org, Partner};
use super::regions::{Regions, distance_km};
use chrono::{DateTime, NaiveDate, Utc};
use guanxi_domain::entities::*;
use guanxi_domain::{Actor, CreditCode, Currency, Email, Id, Money, NewRecord, Phone};
use guanxi_store::Store;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution, Exp, Gamma, LogNormal};
use std::collections::HashMap;

/// A UUIDv7 made from a time and the random stream: ordered by that time, reproducible.
pub fn det_id(rng: &mut impl Rng, unix_ms: u64) -> Id {
    let bytes: [u8; 10] = rng.random();
    Id(uuid::Builder::from_unix_timestamp_millis(unix_ms, &bytes).into_uuid())
}

pub struct Context {
    org: Org,
    regions: &'static Regions,
    stations_by_province: HashMap<String, Vec<Partner>>,
    seed: u64,
    as_of: DateTime<Utc>,
}

#[derive(Default)]
pub struct Batch {
    pub customers: u64,
    accounts: Vec<NewRecord<Account>>,
    contacts: Vec<NewRecord<Contact>>,
    interactions: Vec<NewRecord<Interaction>>,
    orders: Vec<NewRecord<Order>>,
    opportunities: Vec<NewRecord<Opportunity>>,
    cases: Vec<NewRecord<Case>>,
    leads: Vec<NewRecord<Lead>>,
}

#[derive(Default)]
pub struct Counts {
    accounts: u64,
    contacts: u64,
    interactions: u64,
    orders: u64,
    opportunities: u64,
    cases: u64,
    leads: u64,
}

impl Counts {
    pub fn add(&mut self, b: &Batch) {
        self.accounts += b.accounts.len() as u64;
        self.contacts += b.contacts.len() as u64;
        self.interactions += b.interactions.len() as u64;
        self.orders += b.orders.len() as u64;
        self.opportunities += b.opportunities.len() as u64;
        self.cases += b.cases.len() as u64;
        self.leads += b.leads.len() as u64;
    }

    pub fn rows(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("accounts", self.accounts),
            ("contacts", self.contacts),
            ("interactions", self.interactions),
            ("orders", self.orders),
            ("opportunities", self.opportunities),
            ("cases", self.cases),
            ("leads", self.leads),
        ]
    }
}

impl Batch {
    /// Write the batch, parents before children, one transaction per table.
    pub async fn write(self, store: &Store, sys: &Actor) -> anyhow::Result<()> {
        store.import(sys, self.accounts).await?;
        store.import(sys, self.contacts).await?;
        store.import(sys, self.opportunities).await?;
        store.import(sys, self.orders).await?;
        store.import(sys, self.cases).await?;
        store.import(sys, self.interactions).await?;
        store.import(sys, self.leads).await?;
        Ok(())
    }
}

const DAY_MS: i64 = 86_400_000;

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// splitmix64: decorrelates neighbouring customer numbers.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const INTERACTION_KINDS: &[(InteractionKind, u32)] = &[
    (InteractionKind::Call, 30),
    (InteractionKind::Wechat, 20),
    (InteractionKind::Email, 15),
    (InteractionKind::Visit, 10),
    (InteractionKind::Meeting, 5),
    (InteractionKind::Sms, 5),
    (InteractionKind::Note, 5),
    (InteractionKind::Task, 5),
    (InteractionKind::WebVisit, 4),
    (InteractionKind::Fax, 1),
];

fn subject(kind: InteractionKind, rng: &mut impl Rng) -> &'static str {
    let options: &[&str] = match kind {
        InteractionKind::Call => &[
            "电话回访",
            "确认交货时间",
            "Follow-up call",
            "询问使用情况",
            "报价沟通",
        ],
        InteractionKind::Wechat => &[
            "微信沟通需求",
            "发送产品资料",
            "WeChat: price question",
            "确认付款",
        ],
        InteractionKind::Email => &[
            "发送报价单",
            "Quotation sent",
            "合同草案",
            "Meeting minutes",
            "发票寄送",
        ],
        InteractionKind::Visit => &["上门拜访", "现场安装指导", "Site visit", "年度回访"],
        InteractionKind::Meeting => &["方案交流会", "Quarterly business review", "技术研讨"],
        InteractionKind::Sms => &["节日问候短信", "Delivery notice", "活动通知"],
        InteractionKind::Note => &[
            "客户偏好记录",
            "Note: budget cycle in March",
            "竞争对手信息",
        ],
        InteractionKind::Task => &["准备续约方案", "Send renewal offer", "安排培训"],
        InteractionKind::WebVisit => &["浏览产品页面", "Downloaded brochure", "访问价格页"],
        InteractionKind::Fax => &["传真订单确认"],
        InteractionKind::Portal => &["门户留言：请尽快处理", "Portal message"],
    };
    options.choose(rng).copied().unwrap_or("联系")
}

impl Context {
    pub fn new(org: Org, seed: u64, as_of: NaiveDate) -> Self {
        let mut stations_by_province: HashMap<String, Vec<Partner>> = HashMap::new();
        for s in &org.stations {
            stations_by_province
                .entry(s.province.clone())
                .or_default()
                .push(s.clone());
        }
        let as_of = as_of.and_hms_opt(18, 0, 0).unwrap_or_default().and_utc();
        Context {
            org,
            regions: Regions::get(),
            stations_by_province,
            seed,
            as_of,
        }
    }

    /// The nearest service station: within the province when it has one.
    fn nearest_station(&self, province: &str, lat: f64, lon: f64) -> Option<Id> {
        let pool = self
            .stations_by_province
            .get(province)
            .map_or(&self.org.stations[..], |v| &v[..]);
        pool.iter()
            .min_by(|a, b| {
                distance_km(lat, lon, a.lat, a.lon).total_cmp(&distance_km(lat, lon, b.lat, b.lon))
            })
            .map(|s| s.id)
    }

    pub fn batch(&self, start: u64, n: u64) -> Batch {
        let mut b = Batch {
            customers: n,
            ..Default::default()
        };
        for i in start..start + n {
            self.customer(i, &mut b);
        }
        b
    }

    fn customer(&self, i: u64, b: &mut Batch) {
        let mut rng = StdRng::seed_from_u64(mix(self.seed ^ mix(i)));
        let rng = &mut rng;
        // Ids follow creation order, as UUIDv7s made by a live system do: one millisecond
        // per customer, counting up to the as-of time. (Business times are in the fields.)
        let id_ms = (self.as_of.timestamp_millis() as u64).saturating_sub(10_000_000) + i;
        let now = self.as_of.timestamp_millis();
        let rep = &self.org.reps[rng.random_range(0..self.org.reps.len())];
        let place = self.regions.pick(rng);
        let individual = rng.random_bool(0.2);
        let prospect = rng.random_bool(0.15);
        // When the relationship began: up to three years back.
        let born = now - rng.random_range(1..3 * 365) * DAY_MS;
        let account_id = det_id(rng, id_ms);

        // The account.
        let company = names::company(rng, &place.city, i);
        let person = names::chinese_person(rng);
        let (name, kind) = if individual {
            (person.name.clone(), AccountKind::Individual)
        } else {
            (company.name.clone(), AccountKind::Organisation)
        };
        let relationship = if prospect {
            Relationship::Prospect
        } else {
            Relationship::Customer
        };
        let mut a = Account::new(kind, name, relationship);
        if !individual {
            let (zh, _) = *names::INDUSTRIES.choose(rng).unwrap();
            a.industry = Some(zh.into());
            a.size = Some(
                *[
                    CompanySize::Micro,
                    CompanySize::Small,
                    CompanySize::Small,
                    CompanySize::Medium,
                    CompanySize::Large,
                    CompanySize::Enterprise,
                ]
                .choose(rng)
                .unwrap(),
            );
            let org_code: String = (0..9)
                .map(|_| *b"0123456789ABCDEFGHJKLMNPQRTUWXY".choose(rng).unwrap() as char)
                .collect();
            a.credit_code =
                CreditCode::from_body(&format!("91{}{org_code}", &place.adcode[..6])).ok();
            a.website = Some(format!("https://www.{}.com.cn", company.slug));
            a.email = Email::parse(&format!("info@{}.com.cn", company.slug)).ok();
            a.phone = Phone::parse(&format!(
                "0{}{:08}",
                rng.random_range(10..99),
                rng.random_range(20_000_000..99_999_999u32)
            ))
            .ok();
        }
        a.province = Some(place.province.clone());
        a.city = Some(place.city.clone());
        a.district = Some(place.district.clone());
        a.adcode = Some(place.adcode.clone());
        a.address = Some(format!(
            "{}{}路{}号",
            place.district,
            ["人民", "中山", "解放", "建设", "长江", "和平"]
                .choose(rng)
                .unwrap(),
            rng.random_range(1..999)
        ));
        a.latitude = Some(place.lat + rng.random_range(-0.02..0.02));
        a.longitude = Some(place.lon + rng.random_range(-0.02..0.02));
        a.credit_status = Some(if rng.random_bool(0.93) {
            CreditStatus::Good
        } else {
            CreditStatus::Watch
        });
        a.serving_partner_id = self.nearest_station(&place.province, place.lat, place.lon);

        // Contacts: the buying centre of a company, or the person themself.
        let n_contacts = if individual {
            1
        } else {
            rng.random_range(1..=4)
        };
        let mut contact_ids = vec![];
        for k in 0..n_contacts {
            let p = if individual && k == 0 {
                names::Person {
                    name: person.name.clone(),
                    romanised: person.romanised.clone(),
                }
            } else if rng.random_bool(0.1) {
                names::english_person(rng)
            } else {
                names::chinese_person(rng)
            };
            let mut c = Contact::new(p.name);
            c.account_id = Some(account_id);
            if !individual {
                c.title = Some(
                    [
                        "总经理",
                        "采购经理",
                        "IT 主管",
                        "财务总监",
                        "工程师",
                        "Operations Manager",
                    ]
                    .choose(rng)
                    .unwrap()
                    .to_string(),
                );
                c.buying_role = Some(match k {
                    0 => BuyingRole::DecisionMaker,
                    _ => *[
                        BuyingRole::Influencer,
                        BuyingRole::Executor,
                        BuyingRole::Negotiator,
                        BuyingRole::User,
                    ]
                    .choose(rng)
                    .unwrap(),
                });
                c.stance = Some(
                    *[
                        Stance::Supporter,
                        Stance::Neutral,
                        Stance::Neutral,
                        Stance::Opponent,
                    ]
                    .choose(rng)
                    .unwrap(),
                );
            }
            let mobile = format!(
                "1{}{:09}",
                rng.random_range(3..=9),
                rng.random_range(0..1_000_000_000u64)
            );
            c.mobile = Phone::parse(&mobile).ok();
            let domain = if individual {
                *["qq.com", "163.com", "126.com", "gmail.com"]
                    .choose(rng)
                    .unwrap()
            } else {
                ""
            };
            let email = if individual {
                format!("{}{}@{domain}", p.romanised, i % 1000)
            } else {
                format!("{}@{}.com.cn", p.romanised, company.slug)
            };
            c.email = Email::parse(&email).ok();
            c.wechat = rng.random_bool(0.7).then(|| {
                format!(
                    "wx_{}{}",
                    p.romanised.replace('.', "_"),
                    rng.random_range(10..99)
                )
            });
            c.consent_sms = Some(rng.random_bool(0.6));
            c.consent_email = Some(rng.random_bool(0.7));
            c.consent_call = Some(rng.random_bool(0.8));
            c.consent_wechat = c.wechat.as_ref().map(|_| rng.random_bool(0.8));
            c.birthday = NaiveDate::from_ymd_opt(
                rng.random_range(1960..2002),
                rng.random_range(1..=12),
                rng.random_range(1..=28),
            );
            let cid = det_id(rng, id_ms);
            contact_ids.push(cid);
            let r = NewRecord::new(c)
                .with_id(cid)
                .owned_by(rep.user, Some(rep.team));
            b.contacts.push(r);
        }

        // Purchases: a buy-till-you-die process.
        let mut order_times = vec![];
        if !prospect {
            let rate_per_year: f64 = Gamma::new(1.2, 3.0).unwrap().sample(rng);
            let dropout: f64 = Beta::new(1.0, 3.5).unwrap().sample(rng);
            let mut t = born;
            loop {
                order_times.push(t);
                if rng.random_bool(dropout.clamp(0.0, 1.0)) {
                    break;
                }
                let gap_years = Exp::new(rate_per_year.max(0.05)).unwrap().sample(rng);
                t += (gap_years * 365.0 * DAY_MS as f64) as i64;
                if t >= now {
                    break;
                }
            }
        }
        let spend_level =
            Gamma::new(4.0, 0.25).unwrap().sample(rng) * if individual { 1.0 } else { 4.0 };
        let consumer_lines = [0usize, 1, 2, 3, 9];
        // The last order and its first product: what a service case is about.
        let mut bought: Option<(Id, Option<Id>)> = None;
        for (k, &t) in order_times.iter().enumerate() {
            let n_lines = rng.random_range(1..=3);
            let mut lines = vec![];
            for _ in 0..n_lines {
                let p = loop {
                    let p = self.org.products.choose(rng).unwrap();
                    if !individual || consumer_lines.contains(&p.line) {
                        break p;
                    }
                };
                let quantity = if individual {
                    1
                } else {
                    1 + (spend_level * rng.random_range(0.0..3.0)) as i64
                };
                let unit_price = p.price * rng.random_range(85..=100) / 100;
                lines.push(OrderLine {
                    product_id: Some(p.id),
                    sku: p.sku.clone(),
                    name: p.name.clone(),
                    quantity,
                    unit_price,
                    unit_cost: p.cost,
                });
            }
            let age_days = (now - t) / DAY_MS;
            let path: &[OrderStatus] = if rng.random_bool(0.03) {
                &[OrderStatus::Confirmed, OrderStatus::Cancelled]
            } else if age_days > 90 {
                &[
                    OrderStatus::Confirmed,
                    OrderStatus::Shipped,
                    OrderStatus::Delivered,
                    OrderStatus::Closed,
                ]
            } else if age_days > 14 {
                &[
                    OrderStatus::Confirmed,
                    OrderStatus::Shipped,
                    OrderStatus::Delivered,
                ]
            } else if age_days > 3 {
                &[OrderStatus::Confirmed, OrderStatus::Shipped]
            } else {
                &[OrderStatus::Confirmed]
            };
            let history = path
                .iter()
                .enumerate()
                .map(|(step, s)| StatusChange {
                    status: *s,
                    at: at(t + step as i64 * 3 * DAY_MS / 2),
                    by: rep.user,
                })
                .collect();
            let order = Order {
                number: format!("SO-{i:08}-{k:03}"),
                account_id,
                contact_id: contact_ids.first().copied(),
                opportunity_id: None,
                status: *path.last().unwrap(),
                ordered_at: at(t),
                currency: Currency::CNY,
                lines,
                total: 0,
                cost_total: 0,
                status_history: history,
            };
            let order_id = det_id(rng, id_ms);
            bought = Some((order_id, order.lines.first().and_then(|l| l.product_id)));
            let r = NewRecord::new(order)
                .with_id(order_id)
                .owned_by(rep.user, Some(rep.team));
            b.orders.push(r);
        }

        // Interactions across all channels, over the life of the relationship.
        let n_inter = 2 + order_times.len() * 3 / 2 + rng.random_range(0..5);
        let weights: u32 = INTERACTION_KINDS.iter().map(|(_, w)| w).sum();
        for _ in 0..n_inter {
            let mut roll = rng.random_range(0..weights);
            let kind = INTERACTION_KINDS
                .iter()
                .find(|(_, w)| {
                    if roll < *w {
                        true
                    } else {
                        roll -= w;
                        false
                    }
                })
                .map_or(InteractionKind::Call, |(k, _)| *k);
            let t = rng.random_range(born - 30 * DAY_MS..now + 14 * DAY_MS);
            let status = if t > now {
                InteractionStatus::Planned
            } else if rng.random_bool(0.02) {
                InteractionStatus::Cancelled
            } else {
                InteractionStatus::Done
            };
            let it = Interaction {
                kind,
                direction: Some(match kind {
                    InteractionKind::Note | InteractionKind::Task => Direction::Internal,
                    InteractionKind::WebVisit => Direction::Inbound,
                    _ if rng.random_bool(0.3) => Direction::Inbound,
                    _ => Direction::Outbound,
                }),
                status,
                at: at(t),
                subject: subject(kind, rng).into(),
                body: rng
                    .random_bool(0.5)
                    .then(|| "客户反馈良好，约定下次跟进。".to_string()),
                outcome: (status == InteractionStatus::Done && rng.random_bool(0.3)).then(|| {
                    ["有意向", "需报价", "暂无需求", "Positive"]
                        .choose(rng)
                        .unwrap()
                        .to_string()
                }),
                account_id: Some(account_id),
                contact_id: contact_ids.choose(rng).copied(),
                opportunity_id: None,
                case_id: None,
                campaign_id: None,
                parts: vec![],
            };
            let r = NewRecord::new(it)
                .with_id(det_id(rng, id_ms))
                .owned_by(rep.user, Some(rep.team));
            b.interactions.push(r);
        }

        // Deals in the pipeline.
        let stages = &self.org.pipeline.data.stages;
        if !individual && rng.random_bool(0.5) {
            let stage = stages.choose(rng).unwrap();
            let created = rng.random_range(born..now);
            let amount = (LogNormal::new(11.0, 1.0).unwrap().sample(rng) as i64 / 100 * 100)
                .max(1_000)
                * 100;
            let closed = stage.outcome != StageOutcome::Open;
            let opp = Opportunity {
                name: format!("{} 采购项目", names::PRODUCT_LINES.choose(rng).unwrap().0),
                account_id,
                contact_id: contact_ids.first().copied(),
                pipeline_id: self.org.pipeline.meta.id,
                stage: stage.key.clone(),
                status: match stage.outcome {
                    StageOutcome::Open => OpportunityStatus::Open,
                    StageOutcome::Won => OpportunityStatus::Won,
                    StageOutcome::Lost => OpportunityStatus::Lost,
                },
                amount: Money::new(amount, Currency::CNY),
                probability: stage.probability,
                expected_close: Some(at(created + rng.random_range(15..120) * DAY_MS).date_naive()),
                close_reason: closed.then(|| match stage.outcome {
                    StageOutcome::Won => ["价格优势", "技术方案领先", "Existing relationship"]
                        .choose(rng)
                        .unwrap()
                        .to_string(),
                    _ => [
                        "价格过高",
                        "选择了竞争对手",
                        "预算取消",
                        "Lost to competitor",
                    ]
                    .choose(rng)
                    .unwrap()
                    .to_string(),
                }),
                closed_at: closed.then(|| at(created + 30 * DAY_MS)),
                lead_id: None,
                stage_history: vec![StageChange {
                    stage: stage.key.clone(),
                    at: at(created),
                    by: rep.user,
                }],
            };
            let r = NewRecord::new(opp)
                .with_id(det_id(rng, id_ms))
                .owned_by(rep.user, Some(rep.team));
            b.opportunities.push(r);
        }

        // Service cases, dispatched to the serving station.
        let n_cases = if rng.random_bool(0.25) {
            1 + usize::from(order_times.len() > 4 && rng.random_bool(0.3))
        } else {
            0
        };
        for k in 0..n_cases {
            let opened = rng.random_range(born..now);
            let kind = *[
                CaseKind::Complaint,
                CaseKind::Request,
                CaseKind::Repair,
                CaseKind::Repair,
                CaseKind::Enquiry,
            ]
            .choose(rng)
            .unwrap();
            let priority = *[
                Priority::Low,
                Priority::Normal,
                Priority::Normal,
                Priority::High,
                Priority::Urgent,
            ]
            .choose(rng)
            .unwrap();
            let sla_hours = match priority {
                Priority::Urgent => 4,
                Priority::High => 24,
                Priority::Normal => 72,
                Priority::Low => 168,
            };
            let hours = LogNormal::new(3.0, 1.0).unwrap().sample(rng);
            let resolved = opened + (hours * 3_600_000.0) as i64;
            let done = resolved < now && rng.random_bool(0.9);
            let c = Case {
                number: format!("CS-{i:08}-{k:02}"),
                subject: match kind {
                    CaseKind::Complaint => "投诉：送货延迟",
                    CaseKind::Request => "申请发票重开",
                    CaseKind::Repair => "设备故障报修",
                    CaseKind::Enquiry => "咨询保修政策",
                }
                .into(),
                description: None,
                kind,
                category: Some(names::PRODUCT_LINES.choose(rng).unwrap().0.into()),
                priority,
                status: if done {
                    *[CaseStatus::Resolved, CaseStatus::Closed, CaseStatus::Closed]
                        .choose(rng)
                        .unwrap()
                } else {
                    *[CaseStatus::New, CaseStatus::Open, CaseStatus::Pending]
                        .choose(rng)
                        .unwrap()
                },
                channel: Some(
                    ["phone", "wechat", "email", "web", "visit"]
                        .choose(rng)
                        .unwrap()
                        .to_string(),
                ),
                account_id: Some(account_id),
                contact_id: contact_ids.first().copied(),
                assignee_id: self.org.service_agents.choose(rng).copied(),
                partner_id: (kind == CaseKind::Repair)
                    .then_some(a.serving_partner_id)
                    .flatten(),
                product_id: bought.and_then(|(_, p)| p),
                order_id: bought.map(|(o, _)| o),
                sla_due_at: Some(at(opened + sla_hours * 3_600_000)),
                resolved_at: done.then(|| at(resolved)),
                resolution: done.then(|| "已处理".to_string()),
                satisfaction: done.then(|| *[5, 5, 4, 4, 4, 3, 2, 1].choose(rng).unwrap()),
                article_id: None,
                sla_policy_id: None,
                first_response_due_at: None,
                first_response_at: None,
                sla_state: None,
                sla_used_minutes: None,
                sla_since: None,
                sla_next_at: None,
                dispatch_status: None,
                dispatch_offered_at: None,
                dispatch_passed: vec![],
                dispatch_reason: None,
            };
            let r = NewRecord::new(c)
                .with_id(det_id(rng, id_ms))
                .owned_by(rep.user, Some(rep.team));
            b.cases.push(r);
        }

        // One customer in five came in as a lead; a fresh lead for every fifth number too.
        if i.is_multiple_of(5) {
            let converted = !prospect && !individual && rng.random_bool(0.5);
            let lp = names::chinese_person(rng);
            let lead = Lead {
                name: lp.name,
                company: Some(if converted {
                    a.name.clone()
                } else {
                    names::company(rng, &place.city, i + 7).name
                }),
                title: None,
                mobile: Phone::parse(&format!(
                    "1{}{:09}",
                    rng.random_range(3..=9),
                    rng.random_range(0..1_000_000_000u64)
                ))
                .ok(),
                phone: None,
                email: None,
                source: *[
                    LeadSource::Web,
                    LeadSource::Referral,
                    LeadSource::Event,
                    LeadSource::ColdCall,
                    LeadSource::Advertising,
                    LeadSource::Partner,
                    LeadSource::Social,
                ]
                .choose(rng)
                .unwrap(),
                status: if converted {
                    LeadStatus::Converted
                } else {
                    *[
                        LeadStatus::New,
                        LeadStatus::Working,
                        LeadStatus::Qualified,
                        LeadStatus::Unqualified,
                    ]
                    .choose(rng)
                    .unwrap()
                },
                score: rng.random_range(0..=100),
                province: Some(place.province.clone()),
                city: Some(place.city.clone()),
                notes: None,
                converted_account_id: converted.then_some(account_id),
                converted_contact_id: if converted {
                    contact_ids.first().copied()
                } else {
                    None
                },
                converted_opportunity_id: None,
                converted_at: converted.then(|| at(born)),
            };
            let r = NewRecord::new(lead)
                .with_id(det_id(rng, id_ms))
                .owned_by(rep.user, Some(rep.team));
            b.leads.push(r);
        }

        let r = NewRecord::new(a)
            .with_id(account_id)
            .owned_by(rep.user, Some(rep.team));
        b.accounts.push(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_spreads_neighbours() {
        assert_ne!(mix(1) & 0xffff, mix(2) & 0xffff);
    }
}
