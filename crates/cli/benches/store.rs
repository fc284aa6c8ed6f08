//! In-process store benchmarks on a seeded database: the account 360° view, a filtered and
//! sorted list page, a single insert with its change-log entry; database size and peak memory.
//!
//!     GUANXI_BENCH_DATABASE=sqlite:bench.db cargo bench -p guanxi --bench store
//!
//! Seed the database first (`guanxi seed --database … --customers 1000000`). Each figure is
//! the latency of one call, measured over many calls on one connection at a time.

use guanxi_domain::entities::{Account, Contact, User};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, NewRecord};
use guanxi_store::Store;
use std::time::{Duration, Instant};

struct Stats {
    name: String,
    samples: Vec<Duration>,
}

impl Stats {
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.samples.clone();
        v.sort();
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i].as_secs_f64() * 1e3
    }

    fn print(&self) {
        let mean =
            self.samples.iter().sum::<Duration>().as_secs_f64() * 1e3 / self.samples.len() as f64;
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            self.name,
            self.samples.len(),
            self.pct(0.5),
            self.pct(0.99),
            self.pct(0.999),
            mean
        );
    }
}

async fn time<F, Fut>(name: &str, n: usize, mut f: F) -> Stats
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for i in 0..n / 10 {
        f(i).await; // warm-up
    }
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i).await;
        samples.push(t.elapsed());
    }
    Stats {
        name: name.into(),
        samples,
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn user(store: &Store, email: &str) -> Actor {
    let sys = Actor::system();
    let u = store
        .find_one::<User>(&sys, "email", email)
        .await
        .unwrap()
        .expect("a seeded database");
    store.actor_for(u.meta.id).await.unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Ok(url) = std::env::var("GUANXI_BENCH_DATABASE") else {
        eprintln!(
            "set GUANXI_BENCH_DATABASE to a seeded database (see BENCHMARKS.md); nothing measured"
        );
        return;
    };
    let n: usize = std::env::var("GUANXI_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let store = Store::open(&url).await.unwrap();
    let sys = Actor::system();
    let rep = user(&store, "rep001@guanxi.demo").await;
    let manager = user(&store, "manager.south@guanxi.demo").await;

    // Accounts to look at: a rep's own, and any (for the admin view).
    let mine: Vec<_> = store
        .list::<Account>(&rep, &ListQuery::default().limit(500))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|a| a.meta.id)
        .collect();
    let q = ListQuery::default()
        .filter(Filter::new("relationship", Op::Eq, "customer"))
        .limit(500);
    let any: Vec<_> = store
        .list::<Account>(&sys, &q)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|a| a.meta.id)
        .collect();
    let counts = store.table_counts().await.unwrap();
    println!("database: {url}");
    println!(
        "rows: {}",
        counts
            .iter()
            .map(|(t, n)| format!("{t}={n}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!();
    println!("| operation | calls | p50 ms | p99 ms | p99.9 ms | mean ms |");
    println!("|---|---|---|---|---|---|");

    let s = &store;
    time("account 360 (sales rep, own scope)", n, |i| {
        let id = mine[i % mine.len()];
        let rep = &rep;
        async move {
            let v = s.account_360(rep, id).await.unwrap();
            std::hint::black_box(v);
        }
    })
    .await
    .print();
    time("account 360 (admin, all scope)", n, |i| {
        let id = any[(i * 7919) % any.len()];
        async move {
            std::hint::black_box(s.account_360(&Actor::system(), id).await.unwrap());
        }
    })
    .await
    .print();
    let provinces = [
        "广东省",
        "浙江省",
        "江苏省",
        "山东省",
        "四川省",
        "北京市",
        "上海市",
    ];
    time(
        "list: province = X, sort by name, 50 rows (manager, team scope)",
        n,
        |i| {
            let q = ListQuery::default()
                .filter(Filter::new(
                    "province",
                    Op::Eq,
                    provinces[i % provinces.len()],
                ))
                .sort_by("name", false)
                .limit(50);
            let m = &manager;
            async move {
                std::hint::black_box(s.list::<Account>(m, &q).await.unwrap());
            }
        },
    )
    .await
    .print();
    time(
        "list: customers in city X, newest first, 50 rows (admin)",
        n,
        |i| {
            let q = ListQuery::default()
                .filter(Filter::new(
                    "city",
                    Op::Eq,
                    ["深圳市", "杭州市", "成都市", "武汉市"][i % 4],
                ))
                .filter(Filter::new("relationship", Op::Eq, "customer"))
                .limit(50);
            async move {
                std::hint::black_box(s.list::<Account>(&Actor::system(), &q).await.unwrap());
            }
        },
    )
    .await
    .print();
    time("insert contact + change-log entry (sales rep)", n, |i| {
        let mut c = Contact::new(format!("基准测试联系人{i}"));
        c.account_id = Some(mine[i % mine.len()]);
        let rep = &rep;
        async move {
            s.create(rep, NewRecord::new(c)).await.unwrap();
        }
    })
    .await
    .print();
    println!();
    println!("peak memory (VmHWM): {:.0} MiB", peak_rss_mib());
    let bytes = store.database_bytes().await.unwrap();
    println!("database size: {:.0} MiB", bytes as f64 / (1 << 20) as f64);
}
