//! `guanxi user add` and `user token` through the real binary: the user can then sign in
//! with the password given on standard input, or with the one generated and printed once,
//! or with the printed API token.

use guanxi_store::{Store, StoreError};
use std::io::Write;
use std::process::{Command, Stdio};

fn guanxi(db: &str, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .args(["--database", db])
        .args(args)
        .env_remove("GUANXI_DATABASE")
        .env_remove("GUANXI_CONFIG")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn added_users_can_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("users.db").display());

    let (ok, out, err) = guanxi(
        &db,
        &[
            "user",
            "add",
            "--email",
            "Boss@Example.cn",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("a long enough secret\n"),
    );
    assert!(ok, "{out}{err}");
    assert!(
        !out.contains("a long enough secret"),
        "a given password is not echoed"
    );

    let (ok, out, err) = guanxi(
        &db,
        &[
            "user",
            "add",
            "--email",
            "rep@example.cn",
            "--role",
            "sales",
            "--name",
            "李娜",
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    let generated = out
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .expect("printed once")
        .to_string();

    let (ok, _, err) = guanxi(
        &db,
        &["user", "add", "--email", "x@example.cn", "--role", "wizard"],
        None,
    );
    assert!(!ok && err.contains("no role 'wizard'"), "{err}");
    let (ok, _, err) = guanxi(
        &db,
        &[
            "user",
            "add",
            "--email",
            "y@example.cn",
            "--role",
            "sales",
            "--team",
            "Nowhere",
        ],
        None,
    );
    assert!(!ok && err.contains("no team 'Nowhere'"), "{err}");
    let (ok, _, err) = guanxi(
        &db,
        &[
            "user",
            "add",
            "--email",
            "z@example.cn",
            "--role",
            "sales",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!ok && err.contains("at least"), "{err}");
    let (ok, _, err) = guanxi(
        &db,
        &[
            "user",
            "add",
            "--email",
            "boss@example.cn",
            "--role",
            "sales",
        ],
        None,
    );
    assert!(!ok && err.contains("email"), "the same e-mail twice: {err}");

    let store = Store::open(&db).await.unwrap();
    let boss = store
        .login("boss@example.cn", "a long enough secret", "127.0.0.1")
        .await
        .unwrap()
        .user;
    assert_eq!(store.actor_for(boss).await.unwrap().role.key, "admin");
    let rep = store
        .login("rep@example.cn", &generated, "127.0.0.1")
        .await
        .unwrap()
        .user;
    assert_eq!(store.actor_for(rep).await.unwrap().role.key, "sales");
    assert!(matches!(
        store
            .login("rep@example.cn", "a long enough secret", "127.0.0.1")
            .await,
        Err(StoreError::Unauthorized)
    ));
    store.close().await;

    // A token for scripts: only the secret on stdout, and it signs in as that user.
    let (ok, out, err) = guanxi(
        &db,
        &["user", "token", "--email", "REP@example.cn", "--days", "7"],
        None,
    );
    assert!(ok, "{out}{err}");
    let secret = out.trim();
    assert!(secret.starts_with("gx_") && !secret.contains('\n'), "{out}");
    let (ok, _, err) = guanxi(
        &db,
        &["user", "token", "--email", "nobody@example.cn"],
        None,
    );
    assert!(!ok && err.contains("no user"), "{err}");
    let (ok, _, _) = guanxi(
        &db,
        &["user", "token", "--email", "rep@example.cn", "--days", "0"],
        None,
    );
    assert!(!ok, "a token lives at least a day");
    let store = Store::open(&db).await.unwrap();
    assert_eq!(store.token_actor(secret).await.unwrap().user_id, rep);
}
