//! Two `guanxi serve` processes on one PostgreSQL database (issue 16): 1,000 writes through
//! both APIs fire two rules each; one process is killed with SIGKILL half-way through its
//! writes and started again. Every rule run must end done, and every effect (a tag, a task,
//! a notification) must be there exactly once: nothing lost, nothing done twice.
//!
//! Runs only when `GUANXI_TEST_POSTGRES` names a server (CI sets it); SQLite has no second
//! process to share the work with.

mod common;

use guanxi_domain::entities::{Contact, Interaction};
use guanxi_domain::filter::{ListQuery, MAX_LIMIT};
use guanxi_domain::{Actor, Entity, Id, Record};
use guanxi_store::{JobFilter, JobState, RunsOf, Store};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_guanxi");
const WRITES: usize = 1_000;
/// The first server is killed once it has made this many writes: half of its share.
const KILL_AT: usize = WRITES / 4;
/// Generous: the killed process's jobs wait for their lease (60 s) to run out.
const GIVE_UP: Duration = Duration::from_secs(600);
const TAG: &str = "two-instances";
const TASK: &str = "call the new contact";

fn guanxi(dir: &Path, db: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GUANXI_") {
            cmd.env_remove(key);
        }
    }
    cmd.args(["--database", db]);
    cmd
}

/// A one-shot command's standard output; it must succeed.
fn run(cmd: &mut Command, stdin: &str) -> String {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `guanxi serve` process; killed if the test ends early.
struct Server {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Server {
    fn start(dir: &Path, db: &str, name: &str) -> Server {
        let port = common::free_port();
        let log = dir.join(format!("{name}.log"));
        let child = guanxi(dir, db)
            .args([
                "serve",
                "--index",
                "off",
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut server = Server { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("{name} exited ({status}):\n{}", server.log_text());
            }
            if matches!(
                common::http(port, "GET", "/healthz", None, None),
                Ok((200, ..))
            ) {
                return server;
            }
            assert!(Instant::now() < deadline, "{name} never answered");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, whatever it was doing is cut off.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn email(i: usize) -> String {
    format!("two.{i}@instances.test")
}

/// Create contact `i` through the server on `port`. `Err` when the request failed on the
/// way (the server died): the contact may or may not have been written.
fn create_contact(port: u16, token: &str, i: usize) -> Result<(), String> {
    let body = json!({ "name": format!("并发{i}"), "email": email(i) }).to_string();
    match common::http(port, "POST", "/api/v1/contacts", Some(token), Some(&body)) {
        Ok((201, ..)) => Ok(()),
        Ok((status, _, body)) => panic!("creating contact {i}: HTTP {status}: {body}"),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether contact `i` exists, asked of the server on `port`.
fn contact_exists(port: u16, token: &str, i: usize) -> bool {
    let path = format!("/api/v1/contacts?filter=email:eq:{}", email(i));
    let (status, _, body) = common::http(port, "GET", &path, Some(token), None).unwrap();
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    !page["items"].as_array().unwrap().is_empty()
}

fn post_rule(port: u16, token: &str, rule: &Value) -> Id {
    let (status, _, body) = common::http(
        port,
        "POST",
        "/api/v1/rules",
        Some(token),
        Some(&rule.to_string()),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let rule: Value = serde_json::from_str(&body).unwrap();
    Id::parse(rule["id"].as_str().unwrap()).unwrap()
}

/// Every record of `T`, page by page.
async fn all<T: Entity>(store: &Store) -> Vec<Record<T>> {
    let mut out = vec![];
    let mut q = ListQuery::default().limit(MAX_LIMIT);
    loop {
        let page = store.list::<T>(&Actor::system(), &q).await.unwrap();
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => q = q.after(Some(c)),
            None => return out,
        }
    }
}

/// How many rule jobs are in `state` (the servers queue jobs of their own too, such as
/// the next morning's reminder, which this test leaves alone).
async fn rule_jobs(store: &Store, state: JobState) -> usize {
    let filter = JobFilter {
        state: Some(state),
        kind: Some("rule.run".into()),
    };
    let (mut n, mut cursor) = (0, None);
    loop {
        let page = store
            .list_jobs(&filter, 500, cursor.as_deref())
            .await
            .unwrap();
        n += page.items.len();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return n,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_do_each_rule_action_exactly_once_through_a_kill() {
    // Unset under CI, this panics rather than skip.
    let Some(db) = guanxi_store::testing::fresh_postgres("instances").await else {
        eprintln!("GUANXI_TEST_POSTGRES not set: the two-instance test needs PostgreSQL, skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    run(guanxi(p, &db).arg("migrate"), "");
    run(
        guanxi(p, &db).args([
            "user",
            "add",
            "--email",
            "admin@instances.test",
            "--role",
            "admin",
            "--name",
            "Admin",
            "--password-stdin",
        ]),
        "a long enough password 1",
    );
    let token = run(
        guanxi(p, &db).args([
            "user",
            "token",
            "--email",
            "admin@instances.test",
            "--name",
            "test",
        ]),
        "",
    );
    let token = token.trim().to_string();
    let store = Store::open(&db).await.unwrap();
    let admin = store.token_actor(&token).await.unwrap();

    let first = Mutex::new(Server::start(p, &db, "first"));
    let second = Server::start(p, &db, "second");
    let me = json!({ "how": "user", "user_id": admin.user_id });
    let tag_and_task = post_rule(
        second.port,
        &token,
        &json!({
            "name": "tag and task", "entity": "contact", "trigger": { "on": "created" },
            "actions": [
                { "type": "add_tag", "tag": TAG },
                { "type": "create_task", "assignee": me.clone(), "subject": TASK, "due_in_hours": 24 }
            ]
        }),
    );
    let notify = post_rule(
        second.port,
        &token,
        &json!({
            "name": "tell me", "entity": "contact", "trigger": { "on": "created" },
            "actions": [{ "type": "notify", "to": me, "message": "a new contact" }]
        }),
    );

    // Half the writes through each server. The first one's writer falls back to the
    // second server while the first is down, and to the first again once it is back.
    let first_port = AtomicUsize::new(usize::from(first.lock().unwrap().port));
    let first_done = AtomicUsize::new(0);
    let retried = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let (token, first_port, first_done, retried) = (&token, &first_port, &first_done, &retried);
        let second_port = second.port;
        s.spawn(move || {
            for i in (0..WRITES).step_by(2) {
                let port = u16::try_from(first_port.load(Ordering::SeqCst)).unwrap();
                if create_contact(port, token, i).is_err() {
                    // Killed mid-request: written or not, say the survivor.
                    retried.fetch_add(1, Ordering::SeqCst);
                    if !contact_exists(second_port, token, i) {
                        create_contact(second_port, token, i).unwrap();
                    }
                }
                first_done.fetch_add(1, Ordering::SeqCst);
            }
        });
        s.spawn(move || {
            for i in (1..WRITES).step_by(2) {
                create_contact(second_port, token, i).unwrap();
            }
        });
        while first_done.load(Ordering::SeqCst) < KILL_AT {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut first = first.lock().unwrap();
        first.kill();
        first_port.store(usize::from(second_port), Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(1));
        *first = Server::start(p, &db, "first-again");
        first_port.store(usize::from(first.port), Ordering::SeqCst);
    });

    // Wait until the rules follower has passed every write and no rule job is left.
    let deadline = Instant::now() + GIVE_UP;
    loop {
        let end = store.last_change().await.unwrap();
        let followed = store.subscriber_position("rules").await.unwrap();
        let counts = store.job_counts().await.unwrap();
        let open =
            rule_jobs(&store, JobState::Queued).await + rule_jobs(&store, JobState::Running).await;
        if followed >= end && open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not done after {GIVE_UP:?}: rules at {followed} of {end}, jobs {counts:?}\n\
             first:\n{}\nsecond:\n{}",
            first.lock().unwrap().log_text(),
            second.log_text()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Every write is there once.
    let contacts = all::<Contact>(&store).await;
    let mut by_email: HashMap<String, usize> = HashMap::new();
    for c in &contacts {
        let email = c.data.email.as_ref().map(ToString::to_string);
        *by_email.entry(email.unwrap_or_default()).or_default() += 1;
    }
    assert_eq!(contacts.len(), WRITES);
    assert!((0..WRITES).all(|i| by_email.get(&email(i)) == Some(&1)));

    // Every contact: both runs done, the tag once (one write by the rule), one task, one
    // notification.
    let tasks = all::<Interaction>(&store).await;
    let mut tasks_of: HashMap<Id, usize> = HashMap::new();
    for t in &tasks {
        assert_eq!(t.data.subject, TASK);
        *tasks_of.entry(t.data.contact_id.unwrap()).or_default() += 1;
    }
    // The rule's notifications, and the notification follower's about each task's owner.
    let mut notes_of: HashMap<Id, usize> = HashMap::new();
    let mut assigned_of: HashMap<Id, usize> = HashMap::new();
    let mut cursor = None;
    loop {
        let page = store
            .notifications(&admin, false, 500, cursor.as_deref())
            .await
            .unwrap();
        for n in &page.items {
            let of = match n.kind.as_str() {
                "rule" => &mut notes_of,
                "assigned" => &mut assigned_of,
                // The morning reminder, should the test run at 08:30 China time.
                "task_due" => continue,
                other => panic!("an unexpected notification: {other}"),
            };
            *of.entry(n.record_id.unwrap()).or_default() += 1;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    for c in &contacts {
        let id = c.meta.id;
        let runs = store
            .rule_runs(&Actor::system(), RunsOf::Record(id), 10)
            .await
            .unwrap();
        let mut rules: Vec<Id> = runs.iter().map(|r| r.rule_id).collect();
        rules.sort_by_key(|r| r.0);
        let mut want = vec![tag_and_task, notify];
        want.sort_by_key(|r| r.0);
        assert_eq!(rules, want, "one run per rule on {id}: {runs:?}");
        assert!(runs.iter().all(|r| r.status == "done"), "{runs:?}");
        assert_eq!(c.data.tags.iter().filter(|t| *t == TAG).count(), 1);
        let rule_writes = store
            .changes_for::<Contact>(&Actor::system(), id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.actor_id == tag_and_task)
            .count();
        assert_eq!(rule_writes, 1, "the rule wrote {id} once");
        assert_eq!(tasks_of.get(&id), Some(&1), "one task for {id}");
        assert_eq!(notes_of.get(&id), Some(&1), "one notification about {id}");
    }
    assert_eq!(tasks.len(), WRITES);
    assert_eq!(notes_of.values().sum::<usize>(), WRITES);
    assert!(
        tasks
            .iter()
            .all(|t| assigned_of.get(&t.meta.id) == Some(&1))
    );
    assert_eq!(assigned_of.values().sum::<usize>(), WRITES);

    // Every run's job done, none dead or given up.
    let counts = store.job_counts().await.unwrap();
    assert_eq!(
        rule_jobs(&store, JobState::Done).await,
        2 * WRITES,
        "{counts:?}"
    );
    for state in JobState::ALL {
        if state != JobState::Done {
            assert_eq!(rule_jobs(&store, state).await, 0, "{state:?}: {counts:?}");
        }
    }
    let mut again = 0;
    let mut cursor = None;
    loop {
        let filter = JobFilter {
            state: Some(JobState::Done),
            kind: Some("rule.run".into()),
        };
        let page = store
            .list_jobs(&filter, 500, cursor.as_deref())
            .await
            .unwrap();
        again += page.items.iter().filter(|j| j.attempts > 1).count();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    eprintln!(
        "{WRITES} writes, {} cut off by the kill; {again} rule jobs ran more than once",
        retried.load(Ordering::SeqCst)
    );
}
