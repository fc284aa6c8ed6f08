//! `guanxi import`, `search` and `duplicates` through the real binary on SQLite: a GBK
//! CSV saved by Excel goes in (a dry run first), the people are found by pinyin, and the
//! same company typed twice is found, merged and the merge undone.

use std::process::{Command, Stdio};

fn guanxi(db: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .args(["--database", db])
        .args(args)
        .env_remove("GUANXI_DATABASE")
        .env_remove("GUANXI_CONFIG")
        .env_remove("GUANXI_INDEX")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn data(name: &str) -> String {
    format!("{}/../server/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn import_search_and_merge_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("cli.db").display());
    let (ok, _, err) = guanxi(
        &db,
        &[
            "user",
            "add",
            "--email",
            "boss@example.cn",
            "--role",
            "admin",
            "--name",
            "Boss",
        ],
    );
    assert!(ok, "{err}");
    let file = data("contacts_gbk.csv");

    let (ok, out, err) = guanxi(&db, &["import", "contact", &file, "--dry-run"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("dry run of "), "{out}");
    assert!(out.contains("row 5 “姓名”"), "the bad row is named: {out}");

    let (ok, out, err) = guanxi(&db, &["import", "contact", &file]);
    assert!(ok, "{err}");
    assert!(
        out.contains("3 created, 1 updated, 0 unchanged, 1 failed"),
        "{out}"
    );
    assert!(
        out.contains("姓名 → name") && out.contains("公司 → company"),
        "{out}"
    );
    let (_, again, _) = guanxi(&db, &["import", "contact", &file]);
    assert!(
        again.contains("0 created, 0 updated, 4 unchanged"),
        "{again}"
    );

    // An unmappable file is refused with a mapping to start from.
    let odd = dir.path().join("odd.csv");
    std::fs::write(&odd, "电话,电话\n1,2\n").unwrap();
    let (ok, _, err) = guanxi(&db, &["import", "contact", odd.to_str().unwrap()]);
    assert!(!ok && err.contains("--mapping"), "{err}");

    let (ok, out, err) = guanxi(&db, &["search", "zw"]);
    assert!(ok, "{err}");
    assert!(out.lines().next().unwrap_or("").contains("张伟"), "{out}");
    let (_, out, _) = guanxi(&db, &["search", "华为", "--types", "account"]);
    assert!(out.contains("上海华为技术有限公司"), "{out}");

    let (ok, out, err) = guanxi(&db, &["duplicates", "scan", "contact"]);
    assert!(ok, "{err}");
    assert!(out.contains("new to review"), "{out}");
    let (ok, _, err) = guanxi(&db, &["duplicates", "scan", "order"]);
    assert!(!ok, "orders are not deduplicated: {err}");

    let (ok, _, err) = guanxi(&db, &["reindex"]);
    assert!(ok, "{err}");
    let (_, out, _) = guanxi(&db, &["search", "wang fang"]);
    assert!(out.contains("王芳"), "{out}");
}
