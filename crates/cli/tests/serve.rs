//! The real `guanxi` binary, run as a user would: `serve` answers its health check and
//! stops cleanly on SIGTERM; bad settings fail with a message; `audit verify` notices a
//! tampered change log; settings come from flag > environment > file.
//!
//! Each test runs the binary in its own temporary directory with every `GUANXI_*`
//! variable removed, so neither the developer's environment nor a `guanxi.toml` lying
//! around can change what it does.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_guanxi");

/// How long the server may take to answer its first health check.
const STARTUP: Duration = Duration::from_secs(30);
/// How long any one-shot command may take.
const COMMAND: Duration = Duration::from_secs(60);

fn guanxi(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GUANXI_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite:{}", dir.join("test.db").display())
}

/// Kills the child if the test ends early, so no server outlives a failed test.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Running {
    fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// Run a command to completion (bounded), capturing its output.
fn run(cmd: &mut Command) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Running(
        cmd.stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap(),
    );
    let status = child
        .wait_for(COMMAND)
        .unwrap_or_else(|| panic!("{cmd:?} still running after {COMMAND:?}"));
    Output {
        status,
        stdout: std::fs::read(out).unwrap(),
        stderr: std::fs::read(err).unwrap(),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn serve_answers_its_health_check_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let log = dir.path().join("stderr.log");
    let mut server = Running(
        guanxi(dir.path())
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--database", &sqlite_url(dir.path())])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();

    let deadline = Instant::now() + STARTUP;
    let (status, head, body) = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!("guanxi serve exited early ({status}):\n{}", log_text());
        }
        match common::http(port, "GET", "/healthz", None, None) {
            Ok(answer) => break answer,
            Err(e) if Instant::now() >= deadline => {
                panic!(
                    "no answer on port {port} after {STARTUP:?} ({e}):\n{}",
                    log_text()
                )
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"status": "ok", "database": "sqlite"})
    );
    assert!(
        log_text().contains(&format!("http://127.0.0.1:{port}")),
        "the URL is logged:\n{}",
        log_text()
    );

    // Graceful shutdown: SIGTERM ends the process with success.
    #[cfg(unix)]
    {
        let pid = server.0.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let status = server
            .wait_for(Duration::from_secs(15))
            .unwrap_or_else(|| panic!("still running 15 s after SIGTERM:\n{}", log_text()));
        assert!(status.success(), "{status}:\n{}", log_text());
    }
}

#[test]
fn a_bad_database_url_fails_with_a_message_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(guanxi(dir.path()).args([
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--database",
        "nonsense://x",
    ]));
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("error:"), "{err}");
    assert!(err.contains("nonsense://x"), "{err}");
}

#[test]
fn a_named_config_file_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(guanxi(dir.path()).args(["--config", "missing.toml", "migrate"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("missing.toml"),
        "{}",
        text(&out.stderr)
    );

    let out = run(guanxi(dir.path())
        .env("GUANXI_CONFIG", "also-missing.toml")
        .arg("migrate"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("also-missing.toml"));
}

#[test]
fn the_database_comes_from_flag_then_environment_then_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("guanxi.toml"),
        "database = \"sqlite:from-file.db\"\n",
    )
    .unwrap();

    let out = run(guanxi(p).arg("migrate"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("sqlite:from-file.db"));
    assert!(p.join("from-file.db").exists());

    let out = run(guanxi(p)
        .env("GUANXI_DATABASE", "sqlite:from-env.db")
        .arg("migrate"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("sqlite:from-env.db"));

    let out = run(guanxi(p)
        .env("GUANXI_DATABASE", "sqlite:from-env.db")
        .args(["migrate", "--database", "sqlite:from-flag.db"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("sqlite:from-flag.db"));
    assert!(p.join("from-flag.db").exists());

    std::fs::write(p.join("guanxi.toml"), "databse = \"sqlite:typo.db\"\n").unwrap();
    let out = run(guanxi(p).arg("migrate"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("databse"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_names_the_first_altered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());

    // Opening the store records the built-in roles in the change log.
    let out = run(guanxi(dir.path()).args(["migrate", "--database", &url]));
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = run(guanxi(dir.path()).args(["audit", "verify", "--database", &url]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("intact"),
        "{}",
        text(&out.stdout)
    );

    let store = guanxi_store::Store::open(&url).await.unwrap();
    let entries = store.verify_chain().await.unwrap().entries;
    assert!(entries >= 3, "{entries}");
    store
        .execute_unchecked("UPDATE changes SET action = 'tampered' WHERE seq = 2")
        .await
        .unwrap();
    store.close().await;

    let out = run(guanxi(dir.path()).args(["audit", "verify", "--database", &url]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("#2"), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("error:") && err.contains("#2"), "{err}");
}
