//! A campaign sending: launched on a segment of N contacts, its send jobs render each
//! member's message (merge fields, tracked links, open pixel, one-click unsubscribe), hand
//! it to a local SMTP server (aiosmtpd on loopback, keeping nothing) and record the
//! interaction and the member's state; on a fresh SQLite file, or an empty PostgreSQL
//! database when one is named.
//!
//!   cargo run --release -p guanxi-app --example send_bench -- [members] [sink] [database URL]
//!
//! Defaults: 20,000 members, sink `aiosmtpd`. The sink is `aiosmtpd` or `aiosmtpd:N` (N
//! Python processes on one port), or `rust`: Guanxi's own SMTP listener (the bounce
//! address's, `guanxi_outbound::bounce`) in a child process, discarding what it accepts,
//! for when Python is the limit. The contacts are imported and the campaign launched (its
//! members drawn) first; the clock runs from starting the job runner to the last member
//! recorded. Prints the rate, the resident memory and the CPU time of this process every
//! 5 s, then the whole run's rate.

#[path = "../../outbound/tests/support/mod.rs"]
mod support;

use guanxi_app::mail::Outbox;
use guanxi_app::{campaigns, jobs, records};
use guanxi_domain::entities::{Account, Campaign, Contact, EmailTemplate, Segment};
use guanxi_domain::{Actor, NewRecord};
use guanxi_store::Store;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve-sink") {
        return rust_sink().await;
    }
    let n: usize = args.first().map_or(20_000, |a| a.parse().expect("members"));
    let sink_name = args.get(1).map_or("aiosmtpd", String::as_str).to_string();
    let dir = tempfile::tempdir().unwrap();
    let url = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| format!("sqlite:{}", dir.path().join("bench.db").display()));
    let store = Store::open(&url).await.unwrap();
    let (mut smtp, _sink) = match sink_name.split_once(':').unwrap_or((&sink_name, "1")) {
        ("aiosmtpd", workers) => {
            let sink = support::Sink::start(&["--discard", "--workers", workers]);
            (
                sink.config(guanxi_outbound::Security::None),
                Sink::Python(sink),
            )
        }
        ("rust", _) => {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap())
                .arg("--serve-sink")
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut line = String::new();
            std::io::BufRead::read_line(
                &mut std::io::BufReader::new(child.stdout.take().unwrap()),
                &mut line,
            )
            .unwrap();
            let port: u16 = line.trim().strip_prefix("PORT ").unwrap().parse().unwrap();
            let config = guanxi_outbound::SmtpConfig {
                host: "127.0.0.1".into(),
                port: Some(port),
                security: guanxi_outbound::Security::None,
                username: None,
                password: None,
                from: "关系 CRM <crm@guanxi.example>".into(),
                hello_name: Some("crm.guanxi.example".into()),
                ca_cert: None,
                timeout_secs: Some(20),
                pool_size: None,
                bounce_address: None,
            };
            (config, Sink::Child(child))
        }
        _ => panic!("the sink is aiosmtpd, aiosmtpd:N or rust"),
    };
    smtp.pool_size = Some(32);
    let outbox = Outbox::new(Some(&smtp), Some("https://crm.example.cn/")).unwrap();
    let system = Actor::system();
    let owner = guanxi_domain::entities::User {
        email: guanxi_domain::Email::parse("li.na@example.cn").unwrap(),
        name: "李娜".into(),
        role: "sales".into(),
        team_id: None,
        partner_id: None,
        locale: guanxi_domain::Locale::ZhCn,
        active: true,
    };
    let owner = store
        .create(&system, NewRecord::new(owner))
        .await
        .unwrap()
        .meta
        .id;

    let started = Instant::now();
    let accounts: Vec<NewRecord<Account>> = (0..100)
        .map(|i| {
            let mut a = Account::new(
                guanxi_domain::entities::AccountKind::Organisation,
                format!("上海明亮贸易有限公司 {i}"),
                guanxi_domain::entities::Relationship::Customer,
            );
            a.city = Some("上海市".into());
            let mut new = NewRecord::new(a);
            new.owner_id = Some(owner);
            new
        })
        .collect();
    let accounts = store.import(&system, accounts).await.unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(5_000) {
        let contacts: Vec<NewRecord<Contact>> = chunk
            .iter()
            .map(|&i| {
                let mut c = Contact::new(format!("客户{i}"));
                c.title = Some(format!("采购经理 {i}"));
                c.email = Some(guanxi_domain::Email::parse(&format!("c{i}@example.cn")).unwrap());
                c.consent_email = Some(true);
                c.account_id = Some(accounts[i % accounts.len()]);
                let mut new = NewRecord::new(c);
                new.owner_id = Some(owner);
                new
            })
            .collect();
        store.import(&system, contacts).await.unwrap();
    }
    let template = |subject: &str| {
        json!({
            "name": subject, "locale": "zh-CN", "category": "marketing",
            "subject": format!("{{{{contact.name}}}}，{{{{contact.title}}}} {subject}"),
            "html": "<p>{{contact.name}} 您好：</p><p>{{account.name}} 的 {{contact.title}}，{{user.name}} 为您挑选了春季新品。</p>\
                     <a href=\"https://shop.example.cn/spring?from=mail\">新品</a> <a href=\"https://shop.example.cn/sale\">八折</a>\
                     <a href=\"{{unsubscribe_url}}\">退订</a>",
            "text": "{{contact.name}} 您好：\n{{account.name}} 的 {{contact.title}}\n退订：{{unsubscribe_url}}",
        })
    };
    let a = records::create::<EmailTemplate>(&store, &system, template("春季新品"))
        .await
        .unwrap();
    let b = records::create::<EmailTemplate>(&store, &system, template("限时八折"))
        .await
        .unwrap();
    let segment = records::create::<Segment>(
        &store,
        &system,
        json!({ "name": "上海客户", "entity": "contact",
                "conditions": [{ "field": "account.city", "op": "eq", "value": "上海市" }] }),
    )
    .await
    .unwrap();
    let campaign = records::create::<Campaign>(
        &store,
        &system,
        json!({
            "name": "春季焕新", "channel": "email", "status": "planned",
            "budget": { "minor": 1_000_000, "currency": "CNY" },
            "segment_id": segment.meta.id, "control_percent": 10,
            "variants": [
                { "name": "A", "template_id": a.meta.id, "percent": 50 },
                { "name": "B", "template_id": b.meta.id, "percent": 50 },
            ],
        }),
    )
    .await
    .unwrap();
    let id = campaign.meta.id;
    campaigns::launch(&store, &system, id, campaign.meta.version)
        .await
        .unwrap();
    let p = campaigns::progress(&store, &system, id).await.unwrap();
    let to_send: i64 = p.variants.iter().map(|v| v.members).sum();
    println!(
        "{n} contacts imported and the campaign launched in {:.1} s: {to_send} to mail, {} held out",
        started.elapsed().as_secs_f64(),
        p.control
    );

    let started = Instant::now();
    let runner = jobs::start(
        store.clone(),
        jobs::served(&store, &outbox),
        jobs::Options::default(),
    );
    let (mut last, mut last_at, mut last_cpu) = (0, Instant::now(), cpu_seconds());
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let p = campaigns::progress(&store, &system, id).await.unwrap();
        let done: i64 = p
            .variants
            .iter()
            .map(|v| v.sent + v.refused + v.failed)
            .sum();
        let failed: i64 = p.variants.iter().map(|v| v.refused + v.failed).sum();
        let (now, cpu) = (last_at.elapsed().as_secs_f64(), cpu_seconds());
        println!(
            "{:>6.0} s  {done:>8} recorded ({failed} refused or failed)  {:>6.0}/s  resident {} MiB  {:.0} % of a core",
            started.elapsed().as_secs_f64(),
            (done - last) as f64 / now,
            resident_mib(),
            100.0 * (cpu - last_cpu) / now
        );
        (last, last_at, last_cpu) = (done, Instant::now(), cpu);
        if done >= to_send {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{to_send} personalised messages sent and recorded in {secs:.1} s: {:.0} messages/s into {sink_name}; this process {:.2} ms of CPU a message",
        to_send as f64 / secs,
        1000.0 * cpu_seconds() / to_send as f64
    );
    runner.stop().await;
}

/// What the mail goes into, stopped when dropped.
enum Sink {
    Python(#[allow(dead_code)] support::Sink), // held for its drop
    Child(std::process::Child),
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Sink::Child(c) = self {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The `rust` sink: Guanxi's SMTP listener on a free loopback port, printed as "PORT n",
/// taking every message and dropping it.
async fn rust_sink() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("PORT {}", listener.local_addr().unwrap().port());
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let mut settings = guanxi_outbound::BounceListener::new("sink.localhost");
    settings.max_connections = 256;
    settings.serve(listener, tx, std::future::pending()).await;
}

/// The CPU time (user and system) this process has used, from /proc (Linux; 100 ticks a
/// second).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1;
            let f: Vec<&str> = after.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0)
}

/// The process's resident set, from /proc (Linux).
fn resident_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
