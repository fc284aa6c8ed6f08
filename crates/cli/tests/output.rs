//! The binary's output into a pipe its reader closes early (`guanxi migrate | head -0`):
//! a normal end, not a panic or an error.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn guanxi(db: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_guanxi"));
    cmd.args(["--database", db]).args(args);
    cmd
}

/// Runs `cmd` with its output into a pipe whose reader is gone before it starts, so every
/// write meets a closed pipe.
fn into_closed_pipe(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

fn assert_quiet_success(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("out.db").display());
    assert_quiet_success(&into_closed_pipe(guanxi(&db, &["migrate"])));
}

#[test]
fn an_export_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("export.db").display());
    let mut add = guanxi(
        &db,
        &[
            "user",
            "add",
            "--email",
            "ana@example.cn",
            "--role",
            "admin",
            "--name",
            "Ana",
            "--password-stdin",
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let export = guanxi(&db, &["export", "accounts", "--as", "ana@example.cn"]);
    assert_quiet_success(&into_closed_pipe(export));
}
