//! Indexing throughput and query latency on synthetic CRM data.
//!
//! `cargo run --release -p guanxi-search --example bench -- [DOCS] [DIR]`
//! (default 200 000 documents, a quarter accounts, the rest contacts; in memory unless DIR
//! is given).

use std::time::{Duration, Instant};

use guanxi_search::{Index, Query, Scope, SearchDoc};
use uuid::Uuid;

const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤单解";
const GIVEN: &str = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉红建国文斌宇浩凯健俊帆帅旭宁龙林欣怡佳琪雪梅婷晨阳博瑞嘉子轩涵萱梓然诗雨思彤";
const CITIES: &[&str] = &[
    "北京", "上海", "广州", "深圳", "杭州", "南京", "苏州", "成都", "武汉", "西安", "重庆", "天津",
];
const WORDS: &[&str] = &[
    "科技",
    "贸易",
    "电子",
    "信息",
    "网络",
    "实业",
    "建设",
    "物流",
    "医药",
    "食品",
    "机械",
    "能源",
    "文化",
    "传媒",
    "教育",
    "咨询",
    "软件",
    "智能",
    "新材料",
    "环保",
];
const NOTES: &[&str] = &[
    "客户对报价比较敏感，需要跟进",
    "下周安排拜访，讨论合同续签",
    "已发送产品资料和演示视频",
    "关注售后服务与交付周期",
    "Interested in the enterprise plan, follow up in Q3",
    "采购负责人，决策链较长",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn char_of(&mut self, s: &str) -> char {
        let cs: Vec<char> = s.chars().collect();
        *self.pick(&cs)
    }
}

fn person(r: &mut Rng) -> String {
    let mut s = String::new();
    s.push(r.char_of(SURNAMES));
    s.push(r.char_of(GIVEN));
    if r.below(3) > 0 {
        s.push(r.char_of(GIVEN));
    }
    s
}

fn doc(r: &mut Rng, n: u64, users: &[Uuid], teams: &[Uuid], partners: &[Uuid]) -> SearchDoc {
    let account = n.is_multiple_of(4);
    let city = *r.pick(CITIES);
    let name = if account {
        format!(
            "{city}{}{}有限公司",
            person(r).chars().nth(1).unwrap(),
            r.pick(WORDS)
        )
    } else {
        person(r)
    };
    let phone = format!("+86139{:08}", r.next() % 100_000_000);
    SearchDoc {
        id: Uuid::from_u64_pair(0x5eed, n),
        kind: if account { "account" } else { "contact" }.into(),
        title: name.clone(),
        names: vec![name],
        text: vec![
            format!(
                "{city}市{}区{}路{}号",
                r.pick(WORDS),
                r.pick(WORDS),
                r.below(999)
            ),
            r.pick(NOTES).to_string(),
        ],
        phones: vec![phone],
        sensitive_phones: vec![format!(
            "0{}-{:08}",
            10 + r.below(90),
            r.next() % 100_000_000
        )],
        emails: vec![format!("user{n}@example{}.com", r.below(1000))],
        owner: Some(*r.pick(users)),
        team: Some(*r.pick(teams)),
        partner: (account && r.below(4) == 0).then(|| *r.pick(partners)),
    }
}

fn main() -> guanxi_search::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let total: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let index = match args.get(2) {
        Some(dir) => Index::open(std::path::Path::new(dir))?,
        None => Index::in_memory()?,
    };
    let users: Vec<Uuid> = (0..200).map(|i| Uuid::from_u64_pair(1, i)).collect();
    let teams: Vec<Uuid> = (0..20).map(|i| Uuid::from_u64_pair(2, i)).collect();
    let partners: Vec<Uuid> = (0..50).map(|i| Uuid::from_u64_pair(3, i)).collect();
    let mut r = Rng(0x9e3779b97f4a7c15);

    if index.doc_count() < total {
        let start = Instant::now();
        let mut w = index.writer()?;
        w.clear()?;
        let mut n = 0;
        while n < total {
            let batch: Vec<SearchDoc> = (n..(n + 5_000).min(total))
                .map(|i| doc(&mut r, i, &users, &teams, &partners))
                .collect();
            n += batch.len() as u64;
            w.insert_many(batch)?;
        }
        w.commit(uuid::Uuid::now_v7())?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "indexed {total} docs in {secs:.1}s ({:.0} docs/s)",
            total as f64 / secs
        );
    }

    let kinds = ["account", "contact"];
    let scopes = [
        ("all", Scope::All),
        ("own", Scope::Own { user: users[3] }),
        (
            "team",
            Scope::Team {
                user: users[3],
                teams: vec![teams[1], teams[2]],
            },
        ),
        (
            "partner",
            Scope::Partner {
                partner: Some(partners[7]),
            },
        ),
    ];
    let queries = [
        "张伟",
        "张",
        "王芳",
        "zw",
        "zhangwei",
        "zhang wei",
        "wang",
        "l",
        "北京",
        "北京科技",
        "上海 贸易",
        "5678",
        "13912345678",
        "+86 139 1234 5678",
        "example7.com",
        "user42",
        "客户 报价",
        "有限公司",
        "enterprise plan",
        "張偉",
    ];
    // First queries of a process fault in the memory-mapped files: not steady state.
    for q in queries {
        let scope = &Scope::All;
        index.search(&Query {
            text: q,
            kinds: &kinds,
            scope,
            sensitive: true,
            limit: 20,
        })?;
    }
    let mut slowest: Vec<(Duration, &str, &str)> = Vec::new();
    for (name, scope) in &scopes {
        let mut times: Vec<Duration> = Vec::new();
        let mut hits = 0;
        // On a shared machine a single timing mostly measures the neighbours: each query
        // runs five times and its fastest run counts.
        for q in queries {
            let mut best = Duration::MAX;
            for round in 0..5 {
                let t = Instant::now();
                let h = index.search(&Query {
                    text: q,
                    kinds: &kinds,
                    scope,
                    sensitive: round % 2 == 0,
                    limit: 20,
                })?;
                best = best.min(t.elapsed());
                if round == 0 {
                    hits += h.len();
                }
            }
            times.push(best);
            slowest.push((best, name, q));
        }
        times.sort();
        let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
        println!(
            "scope {name:8} best-of-5 per query: p50 {:.2?} p90 {:.2?} max {:.2?} ({hits} hits)",
            pct(0.5),
            pct(0.9),
            times.last().unwrap()
        );
    }
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (t, scope, q) in slowest.iter().take(8) {
        println!("slow: {t:>10.2?} scope {scope:8} {q}");
    }
    for q in queries {
        let t = Instant::now();
        let h = index.search(&Query {
            text: q,
            kinds: &kinds,
            scope: &Scope::All,
            sensitive: true,
            limit: 20,
        })?;
        println!(
            "{q:20} {:>10.2?} {:>3} hits, top: {}",
            t.elapsed(),
            h.len(),
            h.first()
                .map_or(String::new(), |h| format!("{} {:?}", h.title, h.matched))
        );
    }
    Ok(())
}
