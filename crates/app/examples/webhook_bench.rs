//! Webhook throughput along the whole path, as `guanxi serve` runs it: changes in the log →
//! the `webhooks` follower → `webhook.deliver` jobs → signed POSTs to a receiver on loopback,
//! with peak memory.
//!
//!   cargo run --release -p guanxi-app --example webhook_bench -- [deliveries] [database URL]
//!
//! Defaults: 100,000 deliveries on a fresh SQLite file (a PostgreSQL URL may be given
//! instead: its database must be empty). One subscription (an administrator's, to accounts
//! created) and a minimal hyper receiver in this process answering 204. The accounts are
//! imported first (in batches of 5,000: one change-log entry each, expanded into an event per
//! account) while the follower is stopped, so the timed part is the follower and the job
//! runner working off a backlog, with the runner's default options. Every 5 s it prints the
//! deliveries so far and the process's resident memory; at the end, the peak (VmHWM).

use guanxi_app::{jobs, records, webhooks};
use guanxi_domain::entities::{Account, AccountKind, Locale, Relationship, User};
use guanxi_domain::{Actor, Email, NewRecord};
use guanxi_store::Store;
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BATCH: usize = 5_000;

/// A `VmRSS`/`VmHWM` line of /proc/self/status, in MiB.
fn memory(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A receiver answering 204 to every POST that carries a signature; counts them.
async fn receiver(count: Arc<AtomicU64>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let count = count.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let count = count.clone();
                    async move {
                        let signed = req.headers().contains_key("webhook-signature");
                        // Read the body whole, as a receiver verifying it would.
                        let _ = http_body_util::BodyExt::collect(req.into_body()).await;
                        if signed {
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        let status = if signed { 204 } else { 400 };
                        Ok::<_, Infallible>(
                            Response::builder()
                                .status(status)
                                .body(Empty::<Bytes>::new())
                                .unwrap(),
                        )
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    url
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map_or(100_000, |a| a.parse().expect("a number of deliveries"));
    let dir = tempfile::tempdir().unwrap();
    let url = args
        .next()
        .unwrap_or_else(|| format!("sqlite:{}", dir.path().join("bench.db").display()));
    let store = Store::open(&url).await.unwrap();
    let system = Actor::system();
    let admin = store
        .create(
            &system,
            NewRecord::new(User {
                email: Email::parse("bench@example.com").unwrap(),
                name: "bench".into(),
                role: "admin".into(),
                team_id: None,
                partner_id: None,
                locale: Locale::En,
                active: true,
            }),
        )
        .await
        .unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let hook_url = receiver(received.clone()).await;
    records::create::<guanxi_domain::entities::Webhook>(
        &store,
        &system,
        json!({ "name": "bench", "url": hook_url, "entity": "account",
                "events": ["created"], "user_id": admin.meta.id }),
    )
    .await
    .unwrap();
    // The follower's first start places it at the log's end; stopped, it resumes there.
    let follower = webhooks::start(store.clone()).await.unwrap();
    follower.stop().await.unwrap();

    let started = Instant::now();
    let mut made = 0u64;
    while made < n {
        let k = (n - made).min(BATCH as u64);
        let batch: Vec<NewRecord<Account>> = (made..made + k)
            .map(|i| {
                NewRecord::new(Account::new(
                    AccountKind::Organisation,
                    format!("客户 {i}"),
                    Relationship::Customer,
                ))
            })
            .collect();
        store.import(&system, batch).await.unwrap();
        made += k;
    }
    println!(
        "imported {n} accounts in {:.1} s; RSS {:.0} MiB",
        started.elapsed().as_secs_f64(),
        memory("VmRSS:")
    );

    let started = Instant::now();
    let follower = webhooks::start(store.clone()).await.unwrap();
    let runner = jobs::start(
        store.clone(),
        jobs::served(&store, &guanxi_app::mail::Outbox::off()),
        jobs::Options::default(),
    );
    let mut last = (Instant::now(), 0u64);
    let mut peak_rate: f64 = 0.0;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let got = received.load(Ordering::Relaxed);
        if got >= n {
            break;
        }
        if last.0.elapsed() >= Duration::from_secs(5) {
            let rate = (got - last.1) as f64 / last.0.elapsed().as_secs_f64();
            peak_rate = peak_rate.max(rate);
            last = (Instant::now(), got);
            println!(
                "{:>6.0} s  {got:>9} delivered  {rate:>7.0}/s  RSS {:.0} MiB",
                started.elapsed().as_secs_f64(),
                memory("VmRSS:")
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n} deliveries in {secs:.1} s: {:.0}/s on average (best 5 s: {peak_rate:.0}/s); peak RSS {:.0} MiB",
        n as f64 / secs,
        memory("VmHWM:")
    );
    runner.stop().await;
    follower.stop().await.unwrap();
    store.close().await;
}
