//! Throughput of the outbound crate on this machine:
//!
//!     cargo run --release -p guanxi-outbound --example outbound_bench -- [MAILS] [DELIVERIES]
//!
//! E-mail: MAILS (default 5,000) personalised messages, each rendered from a template
//! with its own contact, sent through the pooled `Mailer` into aiosmtpd on loopback
//! (`.ci/py-env` makes its venv), 32 at a time. Webhooks: DELIVERIES (default 50,000)
//! signed deliveries to a minimal hyper receiver in this process answering 204, 64 at a
//! time. Both the senders and the receivers share this machine's cores.

#[path = "../tests/support/mod.rs"]
mod support;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use guanxi_outbound::{
    Address, Category, Deliverer, Endpoint, MailTemplate, Mailer, OutgoingMail, Security,
    SmtpConfig, WebhookSecret,
};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::json;

#[tokio::main]
async fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("counts are numbers"));
    let mails = args.next().unwrap_or(5_000);
    let deliveries = args.next().unwrap_or(50_000);
    mail(mails).await;
    webhooks(deliveries).await;
}

/// Runs `job(i)` for i in 0..n on `workers` tasks; returns the wall time.
async fn run<F, Fut>(n: usize, workers: usize, job: F) -> Duration
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (next, job) = (next.clone(), job.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                job(i).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    started.elapsed()
}

async fn mail(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let sink =
        support::PyServer::start("smtp_sink.py", &[dir.path().to_str().unwrap(), "--discard"]);
    let mailer = Mailer::new(&SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(sink.port),
        security: Security::None,
        username: None,
        password: None,
        from: "关系 CRM <crm@guanxi.example>".into(),
        hello_name: None,
        ca_cert: None,
        timeout_secs: Some(30),
        pool_size: Some(32),
        bounce_address: None,
    })
    .unwrap();
    let template = Arc::new(
        MailTemplate::new(
            "{{contact.name}}，{{account.name}} 的春季活动",
            "<p>{{contact.name}} 您好，</p><p>{{account.name}} 的客户经理 {{user.name}} 邀请您参加春季新品发布会。</p>\
             <p><a href=\"{{unsubscribe_url}}\">退订</a></p>",
            "{{contact.name}} 您好，\n{{account.name}} 的客户经理 {{user.name}} 邀请您参加春季新品发布会。\n退订：{{unsubscribe_url}}",
        )
        .unwrap(),
    );
    let elapsed = run(n, 32, move |i| {
        let (mailer, template) = (mailer.clone(), template.clone());
        async move {
            let unsubscribe = format!("https://crm.guanxi.example/unsubscribe/{i:08x}");
            let rendered = template
                .render(&json!({
                    "contact": {"name": format!("客户{i}")},
                    "account": {"name": format!("上海贸易 {}", i % 97)},
                    "user": {"name": "李娜"},
                    "unsubscribe_url": unsubscribe,
                }))
                .unwrap();
            let mut mail = OutgoingMail::new(
                Address::named(format!("客户{i}"), format!("c{i}@example.com")),
                rendered,
                Category::Marketing,
            );
            mail.unsubscribe = Some(unsubscribe.parse().unwrap());
            mail.idempotency_key = Some(format!("bench-{i}"));
            mailer.send(&mail).await.unwrap();
        }
    })
    .await;
    report("e-mail into aiosmtpd", n, elapsed);
}

async fn webhooks(n: usize) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    req.into_body().collect().await.unwrap();
                    let mut response = Response::new(Empty::<Bytes>::new());
                    *response.status_mut() = hyper::StatusCode::NO_CONTENT;
                    Ok::<_, Infallible>(response)
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    let deliverer = Deliverer::new(Duration::from_secs(30)).unwrap();
    let endpoint = Arc::new(Endpoint::parse(&format!("http://127.0.0.1:{port}/hooks")).unwrap());
    let secrets = Arc::new([WebhookSecret::generate()]);
    let elapsed = run(n, 64, move |i| {
        let (deliverer, endpoint, secrets) = (deliverer.clone(), endpoint.clone(), secrets.clone());
        async move {
            let payload = json!({
                "type": "contact.updated",
                "timestamp": "2026-05-01T08:00:00Z",
                "data": {"id": format!("0196a1b2-{i:012x}"), "name": format!("客户{i}"), "owner": "李娜"},
            })
            .to_string();
            let outcome = deliverer.deliver(&endpoint, &secrets[..], &format!("msg_{i}"), payload.as_bytes()).await;
            assert!(outcome.is_success(), "{outcome:?}");
        }
    })
    .await;
    report("webhook deliveries", n, elapsed);
}

fn report(what: &str, n: usize, elapsed: Duration) {
    println!(
        "{what}: {n} in {:.2} s = {:.0}/s",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
}
