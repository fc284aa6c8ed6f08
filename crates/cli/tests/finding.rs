//! `guanxi import`, `search`, `duplicates` and `export` through the real binary: a GBK
//! CSV saved by Excel goes in (a dry run first), the people are found by pinyin, and the
//! same company typed twice is found, merged and the merge undone (on SQLite); a filtered
//! view goes out as CSV and .xlsx, masked for a role that may not see phone numbers, and
//! into the change log (on SQLite and, with `GUANXI_TEST_POSTGRES`, PostgreSQL).

use std::process::{Command, Stdio};

fn guanxi(db: &str, args: &[&str]) -> (bool, String, String) {
    let out = run(db, args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The exit status of a command, with its error output.
fn status(db: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = run(db, args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn run(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .args(["--database", db])
        .args(args)
        .env_remove("GUANXI_DATABASE")
        .env_remove("GUANXI_CONFIG")
        .env_remove("GUANXI_INDEX")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap()
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
    let (code, err) = status(&db, &["import", "contact", odd.to_str().unwrap()]);
    assert!(err.contains("--mapping"), "{err}");
    assert_eq!(code, Some(2), "refused input exits with 2: {err}");

    // Someone who may not create contacts is told so, with its own exit status.
    let (ok, _, err) = guanxi(
        &db,
        &[
            "user",
            "add",
            "--email",
            "ro@example.cn",
            "--role",
            "readonly",
        ],
    );
    assert!(ok, "{err}");
    let (code, err) = status(&db, &["import", "contact", &file, "--as", "ro@example.cn"]);
    assert_eq!(code, Some(3), "not allowed exits with 3: {err}");

    let (ok, out, err) = guanxi(&db, &["search", "zw"]);
    assert!(ok, "{err}");
    assert!(out.lines().next().unwrap_or("").contains("张伟"), "{out}");
    let (_, out, _) = guanxi(&db, &["search", "华为", "--types", "account"]);
    assert!(out.contains("上海华为技术有限公司"), "{out}");

    let (ok, out, err) = guanxi(&db, &["duplicates", "scan", "contact"]);
    assert!(ok, "{err}");
    assert!(out.contains("new to review"), "{out}");
    let (code, err) = status(&db, &["duplicates", "scan", "order"]);
    assert_eq!(code, Some(2), "orders are not deduplicated: {err}");

    let (ok, _, err) = guanxi(&db, &["reindex"]);
    assert!(ok, "{err}");
    let (_, out, _) = guanxi(&db, &["search", "wang fang"]);
    assert!(out.contains("王芳"), "{out}");
}

/// A fresh database: a SQLite file in `dir`, or a new database on `GUANXI_TEST_POSTGRES`.
async fn database(postgres: bool, dir: &std::path::Path) -> Option<String> {
    if !postgres {
        return Some(format!("sqlite:{}", dir.join("export.db").display()));
    }
    guanxi_store::testing::fresh_postgres("gx_cli_export").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_from_the_command_line_on_sqlite() {
    export_from_the_command_line(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_from_the_command_line_on_postgres() {
    export_from_the_command_line(true).await;
}

async fn export_from_the_command_line(postgres: bool) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = database(postgres, dir.path()).await else {
        return;
    };
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for (email, role) in [
        ("boss@example.cn", "admin"),
        ("ana@example.cn", "analyst"),
        ("rep@example.cn", "sales"),
    ] {
        let (ok, _, err) = guanxi(&db, &["user", "add", "--email", email, "--role", role]);
        assert!(ok, "{err}");
    }
    let (ok, out, err) = guanxi(&db, &["import", "contact", &data("contacts_gbk.csv")]);
    assert!(ok && out.contains("3 created"), "{out}{err}");

    // The administrator (the default user): the filtered rows, and only them, unmasked.
    let csv = path("huawei.csv");
    let (ok, out, err) = guanxi(
        &db,
        &[
            "export",
            "contacts",
            "--filter",
            "name:in:张伟,王芳",
            "--filter",
            "email:contains:example.com",
            "--sort",
            "-name",
            "--columns",
            "name,mobile,email",
            "-o",
            &csv,
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("exported 2 contact rows (csv"), "{out}");
    let bytes = std::fs::read(&csv).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM first");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(lines.remove(0), "name,mobile,email");
    lines.sort_unstable();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("张伟,") && lines[1].starts_with("王芳,"),
        "{text}"
    );
    assert!(lines[0].contains("13812345678"), "{text}");
    assert!(!text.contains("李娜"), "filtered out: {text}");
    assert!(!dir.path().join("huawei.csv.partial").exists());

    // An analyst may export but not see phone numbers: masked, to standard output; and
    // may not filter on them.
    let (ok, out, err) = guanxi(
        &db,
        &[
            "export",
            "contact",
            "--filter",
            "email:starts_with:zhang",
            "--columns",
            "name,mobile",
            "--as",
            "ana@example.cn",
        ],
    );
    assert!(ok, "{err}");
    assert!(err.contains("exported 1 contact rows"), "{err}");
    let text = out.strip_prefix('\u{feff}').expect("UTF-8 BOM first");
    let row = text.split_terminator("\r\n").nth(1).unwrap();
    assert!(
        row.starts_with("张伟,+86") && row.ends_with("5678"),
        "{text}"
    );
    assert!(
        row.contains("****") && !row.contains("1234"),
        "masked: {text}"
    );
    let (ok, _, err) = guanxi(
        &db,
        &[
            "export",
            "contacts",
            "--filter",
            "mobile:starts_with:+86138",
            "--as",
            "ana@example.cn",
        ],
    );
    assert!(!ok && err.contains("needs the right to see it"), "{err}");

    // .xlsx from the file's extension, with Chinese headers.
    let xlsx = path("all.xlsx");
    let (ok, out, err) = guanxi(
        &db,
        &[
            "export",
            "contacts",
            "--labels",
            "zh",
            "--columns",
            "name,title,email",
            "-o",
            &xlsx,
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("exported 3 contact rows (xlsx"), "{out}");
    let table = guanxi_tabular::open(std::path::Path::new(&xlsx)).unwrap();
    assert_eq!(table.headers[0], "姓名");
    assert_eq!(table.headers.len(), 3);
    let rows: Vec<Vec<String>> = table.map(|r| r.unwrap().cells).collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().any(|r| r[0] == "张伟"
            && r[1] == "总监"
            && r[2].eq_ignore_ascii_case("zhang.wei@example.com")),
        "{rows:?}"
    );

    // Refusals: a clear message, a failing exit, no file, nothing logged.
    let bad = path("bad.csv");
    let (ok, _, err) = guanxi(
        &db,
        &[
            "export",
            "contacts",
            "--columns",
            "name,shoe_size",
            "-o",
            &bad,
        ],
    );
    assert!(!ok, "an unknown column fails");
    assert!(err.contains("contact has no field 'shoe_size'"), "{err}");
    assert!(!dir.path().join("bad.csv").exists() && !dir.path().join("bad.csv.partial").exists());
    let (ok, _, err) = guanxi(&db, &["export", "widgets"]);
    assert!(
        !ok && err.contains("no collection 'widgets'") && err.contains("contacts"),
        "{err}"
    );
    let (ok, _, err) = guanxi(&db, &["export", "contacts", "--as", "rep@example.cn"]);
    assert!(
        !ok && err.contains("not allowed to export contact"),
        "{err}"
    );
    let (ok, _, err) = guanxi(&db, &["export", "contacts", "--format", "pdf"]);
    assert!(!ok && err.contains("'pdf' is not csv or xlsx"), "{err}");

    // The three exports are in the change log, the refused ones are not.
    let store = guanxi_store::Store::open(&db).await.unwrap();
    let log = store
        .exports(&guanxi_domain::Actor::system(), 100)
        .await
        .unwrap();
    assert_eq!(log.len(), 3, "{log:#?}");
    assert!(
        log.iter()
            .all(|e| e.entity == "contact" && e.action == "export")
    );
    let first = log.last().unwrap().after.as_ref().unwrap();
    assert_eq!(first["format"], "csv");
    assert_eq!(first["count"], 2);
    assert_eq!(
        first["columns"],
        serde_json::json!(["name", "mobile", "email"])
    );
    assert_eq!(first["filters"][0]["field"], "name");
    assert_eq!(log[0].after.as_ref().unwrap()["format"], "xlsx");
    assert!(store.verify_chain().await.unwrap().first_broken.is_none());
    store.close().await;
}

/// A mapping kept as a template on a dry run, used for the next file, listed and deleted.
#[test]
fn mapping_templates_from_the_command_line() {
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
        ],
    );
    assert!(ok, "{err}");
    let fair = |n: u32| {
        let path = dir.path().join(format!("fair{n}.csv"));
        std::fs::write(&path, format!("姓名,联系电话\n展会客户{n},1380013{n:04}\n")).unwrap();
        path.display().to_string()
    };
    let first = fair(1);
    let (ok, out, err) = guanxi(
        &db,
        &[
            "import",
            "contact",
            &first,
            "--dry-run",
            "--mapping",
            "姓名=name,联系电话=mobile",
            "--save-template",
            "展会名单",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("import template “展会名单”"), "{out}");

    let (ok, out, err) = guanxi(
        &db,
        &["import", "contact", &fair(2), "--template", "展会名单"],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("1 created") && out.contains("联系电话 → mobile"),
        "{out}"
    );

    // Without either, the refusal names the template that fits.
    let (ok, _, err) = guanxi(&db, &["import", "contact", &fair(3)]);
    assert!(!ok && err.contains("--template): “展会名单”"), "{err}");

    let (ok, out, err) = guanxi(&db, &["import-templates", "list"]);
    assert!(ok, "{err}");
    assert_eq!(out, "contact\t展会名单\t姓名=name,联系电话=mobile\n");
    let (ok, _, err) = guanxi(&db, &["import", "contact", &first, "--template", "别的"]);
    assert!(
        !ok && err.contains("no contact import template called “别的”"),
        "{err}"
    );

    let (ok, _, err) = guanxi(&db, &["import-templates", "delete", "contact", "展会名单"]);
    assert!(ok, "{err}");
    let (_, out, _) = guanxi(&db, &["import-templates", "list", "contact"]);
    assert_eq!(out, "");
}
