//! `guanxi analytics fit | predict | rfm` through the real binary, on the CDNOW data
//! (../shared/data/cdnow, see its README.md) and on small hand-made files.
//!
//! Every run has GUANXI_DATABASE and GUANXI_CONFIG pointing at files that do not exist and
//! a broken guanxi.toml in its working directory: the file commands must not care.

use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::prelude::*;
use serde_json::Value;

const CDNOW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/cdnow/");

fn cdnow(name: &str) -> String {
    let path = format!("{CDNOW}{name}");
    assert!(Path::new(&path).exists(), "missing {path}");
    path
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "{}", self.stderr);
        &self.stdout
    }

    fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    /// A failure with a message, not a panic.
    fn failed(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "{}{}", self.stdout, self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        &self.stderr
    }
}

/// A working directory in which reading configuration or opening a database would fail
/// or leave a trace.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("guanxi.toml"),
        "this is = not [valid toml\n",
    )
    .unwrap();
    dir
}

fn guanxi_in(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .arg("analytics")
        .args(args)
        .env(
            "GUANXI_DATABASE",
            format!("sqlite:{}", dir.join("env.db").display()),
        )
        .env("GUANXI_CONFIG", dir.join("missing.toml"))
        .env_remove("GUANXI_LOG")
        .current_dir(dir)
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

fn guanxi(args: &[&str]) -> Run {
    let dir = workdir();
    let run = guanxi_in(dir.path(), args);
    // Nothing but the broken config file: no database was created.
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, vec!["guanxi.toml"], "{args:?} left files behind");
    run
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// ±max(half a unit of the last published digit, 0.1 %), as in the analytics crate's tests.
fn assert_param(name: &str, got: &Value, published: f64, half_unit: f64) {
    let got = got.as_f64().unwrap_or_else(|| panic!("{name}: {got}"));
    let tol = half_unit.max(published * 1e-3);
    assert!(
        (got - published).abs() <= tol,
        "{name}: got {got}, published {published} ± {tol}"
    );
}

fn assert_bgnbd_published(doc: &Value) {
    assert_eq!(doc["model"], "bgnbd");
    let p = &doc["params"];
    assert_param("r", &p["r"], 0.243, 0.0015);
    assert_param("alpha", &p["alpha"], 4.414, 0.0015);
    assert_param("a", &p["a"], 0.793, 0.0015);
    assert_param("b", &p["b"], 2.426, 0.0015);
    let ll = doc["log_likelihood"].as_f64().unwrap();
    assert!((ll - -9582.4).abs() <= 0.1, "LL {ll}");
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

const CUSTOMER_KEYS: [&str; 8] = [
    "T",
    "clv",
    "expected_purchases",
    "expected_spend",
    "frequency",
    "id",
    "p_alive",
    "recency",
];

#[test]
fn fit_on_the_cdnow_summary_reproduces_fader_hardie_lee_2005() {
    let summary = cdnow("cdnow_customers_summary.csv");
    let doc = guanxi(&["fit", "--model", "bgnbd", "--summary", &summary]).json();
    assert_bgnbd_published(&doc);
    assert_eq!(
        keys(&doc),
        ["customers", "log_likelihood", "model", "params"]
    );
    let customers = doc["customers"].as_array().unwrap();
    assert_eq!(customers.len(), 2357);
    // In the file's order; what a fit alone can say (p_alive), the rest null.
    let first = &customers[0];
    assert_eq!(keys(first), CUSTOMER_KEYS);
    assert_eq!(first["id"], "1");
    assert_eq!(
        (&first["frequency"], &first["recency"], &first["T"]),
        (&Value::from(2), &Value::from(30.43), &Value::from(38.86))
    );
    let p = first["p_alive"].as_f64().unwrap();
    assert!(0.0 < p && p < 1.0, "{p}");
    assert!(first["expected_purchases"].is_null() && first["clv"].is_null());
    assert_eq!(customers[2356]["id"], "2357");

    // The CSV form: the parameters as rows.
    let csv = guanxi(&[
        "fit",
        "--model",
        "bgnbd",
        "--summary",
        &summary,
        "--format",
        "csv",
    ]);
    let mut reader = csv::Reader::from_reader(csv.ok().as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["model", "parameter", "value"]
    );
    let rows: Vec<(String, String, f64)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string(), r[2].parse().unwrap())
        })
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(names, ["r", "alpha", "a", "b", "log_likelihood"]);
    assert!(rows.iter().all(|r| r.0 == "bgnbd"));
    assert_eq!(rows[0].2, doc["params"]["r"].as_f64().unwrap());
    assert_eq!(rows[4].2, doc["log_likelihood"].as_f64().unwrap());
}

#[test]
fn the_other_models_reproduce_their_published_fits() {
    let summary = cdnow("cdnow_customers_summary.csv");
    let doc = guanxi(&["fit", "--model", "pareto-nbd", "--summary", &summary]).json();
    assert_eq!(doc["model"], "pareto-nbd");
    assert_eq!(keys(&doc["params"]), ["alpha", "beta", "r", "s"]);
    assert_param("r", &doc["params"]["r"], 0.553, 0.0015);
    assert_param("s", &doc["params"]["s"], 0.606, 0.0015);
    assert!((doc["log_likelihood"].as_f64().unwrap() - -9595.0).abs() <= 0.1);

    let doc = guanxi(&["fit", "--model", "mbgnbd", "--summary", &summary]).json();
    assert_param("r", &doc["params"]["r"], 0.525, 0.0015);
    assert_param("alpha", &doc["params"]["alpha"], 6.183, 0.0015);
    assert_param("a", &doc["params"]["a"], 0.891, 0.0015);
    assert_param("b", &doc["params"]["b"], 1.614, 0.0015);

    // Gamma-Gamma on CDNOW's other summary file (columns ID,x,t_x,T,zbar).
    let with_spend = cdnow("cdnow_customers_summary_with_transactions.csv");
    let doc = guanxi(&["fit", "--model", "gamma-gamma", "--summary", &with_spend]).json();
    assert_eq!(doc["model"], "gamma-gamma");
    assert_eq!(keys(&doc["params"]), ["gamma", "p", "q"]);
    assert_param("p", &doc["params"]["p"], 6.25, 0.015);
    assert_param("q", &doc["params"]["q"], 3.74, 0.015);
    assert_param("gamma", &doc["params"]["gamma"], 15.44, 0.015);
    let c = &doc["customers"][0];
    assert!(c["expected_spend"].as_f64().unwrap() > 0.0 && c["p_alive"].is_null());
}

/// CDNOW_sample.txt (`master_id sample_id yyyymmdd cds dollars`) as a transaction log,
/// with its compact dates as they are.
fn cdnow_sample_log(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(cdnow("CDNOW_sample.txt")).unwrap();
    let mut csv = String::from("customer_id,date,amount\n");
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        csv.push_str(&format!(
            "{},{},{}\n",
            f[1].trim_start_matches('0'),
            f[2],
            f[4]
        ));
    }
    write(dir, "cdnow_sample.csv", &csv)
}

#[test]
fn fit_on_the_cdnow_transaction_log_gives_the_same_fit() {
    let dir = tempfile::tempdir().unwrap();
    let log = cdnow_sample_log(dir.path());
    let log = log.to_str().unwrap();
    let input = [
        "--transactions",
        log,
        "--calibration-end",
        "1997-09-30",
        "--period",
        "week",
    ];
    let doc = guanxi(&[&["fit", "--model", "bgnbd"][..], &input].concat()).json();
    assert_bgnbd_published(&doc);
    let customers = doc["customers"].as_array().unwrap();
    assert_eq!(customers.len(), 2357);
    // Customer 1 of the summary file: x = 2, t_x = 30.43, T = 38.86 (weeks, to 2 decimals).
    let one = customers.iter().find(|c| c["id"] == "1").unwrap();
    assert_eq!(one["frequency"], 2);
    assert!((one["recency"].as_f64().unwrap() - 30.43).abs() < 0.005);
    assert!((one["T"].as_f64().unwrap() - 38.86).abs() < 0.005);

    // The spend model from the log's repeat purchases: Fader & Hardie 2013.
    let doc = guanxi(&[&["fit", "--model", "gamma-gamma"][..], &input].concat()).json();
    assert_param("p", &doc["params"]["p"], 6.25, 0.015);
    assert_param("q", &doc["params"]["q"], 3.74, 0.015);
    assert_param("gamma", &doc["params"]["gamma"], 15.44, 0.015);
}

#[test]
fn predict_json_has_the_documented_shape_and_sane_values() {
    let with_spend = cdnow("cdnow_customers_summary_with_transactions.csv");
    let doc = guanxi(&[
        "predict",
        "--model",
        "bgnbd",
        "--summary",
        &with_spend,
        "--period",
        "week",
        "--horizon",
        "39",
        "--spend-model",
        "gamma-gamma",
        "--clv-months",
        "12",
        "--discount-rate",
        "0.01",
    ])
    .json();
    assert_eq!(
        keys(&doc),
        [
            "customers",
            "log_likelihood",
            "model",
            "params",
            "spend_model"
        ]
    );
    assert_bgnbd_published(&doc);
    assert_eq!(doc["spend_model"]["model"], "gamma-gamma");
    assert_param("p", &doc["spend_model"]["params"]["p"], 6.25, 0.015);
    let customers = doc["customers"].as_array().unwrap();
    assert_eq!(customers.len(), 2357);
    for c in customers {
        assert_eq!(keys(c), CUSTOMER_KEYS);
        let e = c["expected_purchases"].as_f64().unwrap();
        let p = c["p_alive"].as_f64().unwrap();
        let spend = c["expected_spend"].as_f64().unwrap();
        let clv = c["clv"].as_f64().unwrap();
        assert!(
            e >= 0.0 && (0.0..=1.0).contains(&p) && spend > 0.0 && clv >= 0.0,
            "{c}"
        );
        if c["frequency"] == 0 {
            assert_eq!(p, 1.0, "BG/NBD: no repeat purchase, still alive");
        }
    }
    // FHL 2005: x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in the next 39 weeks.
    let one = &customers[0];
    assert_eq!(one["id"], "1");
    assert!((one["expected_purchases"].as_f64().unwrap() - 1.226).abs() < 0.0005);
    // Twelve months of 4.345 weeks, at most the undiscounted expected purchases × spend.
    let spend = one["expected_spend"].as_f64().unwrap();
    let clv = one["clv"].as_f64().unwrap();
    assert!(
        clv > 0.0 && clv < 1.226 * 52.14 / 39.0 * spend * 1.5,
        "{clv}"
    );

    // The other purchase models predict too; without a spend model spend and CLV are null.
    for model in ["pareto-nbd", "mbgnbd"] {
        let doc = guanxi(&[
            "predict",
            "--model",
            model,
            "--summary",
            &with_spend,
            "--horizon",
            "39",
        ])
        .json();
        assert_eq!(doc["model"], model);
        assert!(doc.get("spend_model").is_none());
        for c in doc["customers"].as_array().unwrap() {
            let e = c["expected_purchases"].as_f64().unwrap();
            let p = c["p_alive"].as_f64().unwrap();
            assert!(e >= 0.0 && (0.0..=1.0).contains(&p), "{model}: {c}");
            assert!(c["expected_spend"].is_null() && c["clv"].is_null());
        }
    }
}

#[test]
fn predict_csv_parses_and_agrees_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let log = cdnow_sample_log(dir.path());
    let args = [
        "predict",
        "--model",
        "bgnbd",
        "--transactions",
        log.to_str().unwrap(),
        "--calibration-end",
        "1997-09-30",
        "--period",
        "week",
        "--horizon",
        "52",
        "--spend-model",
        "gamma-gamma",
    ];
    let run = guanxi(&[&args[..], &["--format", "csv"]].concat());
    // The fitted parameters go to standard error.
    assert!(run.stderr.contains("bgnbd: r="), "{}", run.stderr);
    assert!(run.stderr.contains("gamma-gamma: p="), "{}", run.stderr);
    let mut reader = csv::Reader::from_reader(run.ok().as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec![
            "id",
            "frequency",
            "recency",
            "T",
            "expected_purchases",
            "p_alive",
            "expected_spend",
            "clv"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2357);
    for r in &rows {
        r[1].parse::<u32>().unwrap();
        for cell in r.iter().skip(2) {
            let v: f64 = cell.parse().unwrap();
            assert!(v.is_finite() && v >= 0.0, "{r:?}");
        }
    }
    let doc = guanxi(&args).json();
    let json = &doc["customers"][10];
    let row = &rows[10];
    assert_eq!(json["id"].as_str().unwrap(), &row[0]);
    assert_eq!(
        json["clv"].as_f64().unwrap(),
        row[7].parse::<f64>().unwrap()
    );
}

/// Five customers scored by hand (as of 2024-03-31), one bought only later (left out),
/// and one purchase after the date (ignored).
#[test]
fn rfm_scores_a_small_file_by_the_documented_rules() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(
        dir.path(),
        "t.csv",
        "customer_id,date,amount\n\
         a,2024-03-31,100.1\n\
         b,2024-03-30,50.25\n\
         a,2024-03-01,100\n\
         c,2024-01-01,20\n\
         d,2023-12-01,500\n\
         e,2024-04-02,99\n\
         c,2024-01-15,19.99\n\
         f,2024-02-01,10\n\
         a,2024-02-01,99.9\n\
         f,2024-05-01,1000\n",
    );
    let log = log.to_str().unwrap();
    let doc = guanxi(&["rfm", "--transactions", log, "--as-of", "2024-03-31"]).json();
    assert_eq!(keys(&doc), ["as_of", "customers"]);
    assert_eq!(doc["as_of"], "2024-03-31");
    let customers = doc["customers"].as_array().unwrap();
    for c in customers {
        assert_eq!(
            keys(c),
            [
                "f",
                "frequency",
                "id",
                "m",
                "monetary",
                "r",
                "recency",
                "segment"
            ]
        );
    }
    // N = 5; score = 1 + ⌊5 × strictly worse / 5⌋. Recency 0, 1, 59, 76, 121 days;
    // frequency 3, 2, 1, 1, 1; monetary 500, 300, 50.25, 39.99, 10.
    // Segments from R and FM = ⌈(F + M) / 2⌉.
    let row = |id, recency, frequency, monetary: f64, r, f, m, segment| {
        serde_json::json!({
            "id": id, "recency": recency, "frequency": frequency, "monetary": monetary,
            "r": r, "f": f, "m": m, "segment": segment,
        })
    };
    let want = [
        row("a", 0, 3, 300.0, 5, 5, 4, "champions"), // FM 5
        row("b", 1, 1, 50.25, 4, 1, 3, "potential_loyalist"), // FM 2
        row("c", 76, 2, 39.99, 2, 4, 2, "at_risk"),  // FM 3
        row("d", 121, 1, 500.0, 1, 1, 5, "at_risk"), // FM 3
        row("f", 59, 1, 10.0, 3, 1, 1, "about_to_sleep"), // FM 1
    ];
    assert_eq!(customers, &want);

    let csv = guanxi(&[
        "rfm",
        "--transactions",
        log,
        "--as-of",
        "2024-03-31",
        "--format",
        "csv",
    ]);
    assert_eq!(
        csv.ok(),
        "id,recency,frequency,monetary,r,f,m,segment\n\
         a,0,3,300,5,5,4,champions\n\
         b,1,1,50.25,4,1,3,potential_loyalist\n\
         c,76,2,39.99,2,4,2,at_risk\n\
         d,121,1,500,1,1,5,at_risk\n\
         f,59,1,10,3,1,1,about_to_sleep\n"
    );
}

#[test]
fn a_broken_row_is_an_error_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(
        dir.path(),
        "broken.csv",
        "customer_id,date,amount\n\
         a,2024-01-01,10\n\
         b,2024-01-02,20\n\
         c,2024-01-32,30\n\
         d,2024-01-03,40\n",
    );
    let log = log.to_str().unwrap();
    for args in [
        &["rfm", "--transactions", log, "--as-of", "2024-02-01"][..],
        &[
            "fit",
            "--model",
            "bgnbd",
            "--transactions",
            log,
            "--calibration-end",
            "2024-02-01",
            "--period",
            "day",
        ],
    ] {
        let err = guanxi(args).failed(1).to_string();
        assert!(
            err.contains("broken.csv: line 4: date '2024-01-32' is not a date"),
            "{err}"
        );
    }

    let summary = write(
        dir.path(),
        "summary.csv",
        "id,frequency,recency,T\n1,2,3,4\n2,1,5,4\n",
    );
    let err = guanxi(&[
        "fit",
        "--model",
        "bgnbd",
        "--summary",
        summary.to_str().unwrap(),
    ])
    .failed(1)
    .to_string();
    assert!(
        err.contains("summary.csv: line 3: recency 5 is greater than T 4"),
        "{err}"
    );

    // What is missing is said plainly.
    let missing = dir.path().join("nope.csv");
    let err = guanxi(&[
        "fit",
        "--model",
        "bgnbd",
        "--summary",
        missing.to_str().unwrap(),
    ])
    .failed(1)
    .to_string();
    assert!(
        err.contains("cannot read") && err.contains("nope.csv"),
        "{err}"
    );
    let no_spend = cdnow("cdnow_customers_summary.csv");
    let err = guanxi(&["fit", "--model", "gamma-gamma", "--summary", &no_spend])
        .failed(1)
        .to_string();
    assert!(err.contains("monetary_value"), "{err}");
    let with_spend = cdnow("cdnow_customers_summary_with_transactions.csv");
    let err = guanxi(&[
        "predict",
        "--model",
        "bgnbd",
        "--summary",
        &with_spend,
        "--horizon",
        "39",
        "--spend-model",
        "gamma-gamma",
    ])
    .failed(1)
    .to_string();
    assert!(err.contains("--period"), "{err}");
}

#[test]
fn usage_errors_say_what_is_wrong() {
    let err = guanxi(&["fit", "--model", "nbd", "--summary", "s.csv"])
        .failed(2)
        .to_string();
    assert!(
        err.contains("'nbd'") && err.contains("bgnbd, pareto-nbd, mbgnbd, gamma-gamma"),
        "{err}"
    );
    let err = guanxi(&[
        "fit",
        "--model",
        "bgnbd",
        "--transactions",
        "t.csv",
        "--period",
        "week",
    ])
    .failed(2)
    .to_string();
    assert!(err.contains("--calibration-end"), "{err}");
    let err = guanxi(&[
        "predict",
        "--model",
        "bgnbd",
        "--summary",
        "s.csv",
        "--horizon",
        "1",
        "--discount-rate",
        "0.02",
    ])
    .failed(2)
    .to_string();
    assert!(err.contains("--spend-model"), "{err}");
}

#[test]
fn every_flag_is_documented_in_help() {
    for (cmd, flags) in [
        (
            "fit",
            &[
                "--model",
                "--transactions",
                "--calibration-end",
                "--period",
                "--summary",
                "--format",
            ][..],
        ),
        (
            "predict",
            &[
                "--model",
                "--transactions",
                "--calibration-end",
                "--period",
                "--summary",
                "--horizon",
                "--spend-model",
                "--clv-months",
                "--discount-rate",
                "--format",
            ],
        ),
        ("rfm", &["--transactions", "--as-of", "--format"]),
    ] {
        let help = guanxi(&[cmd, "--help"]).ok().to_string();
        for flag in flags {
            let line = help
                .lines()
                .position(|l| l.trim_start().starts_with(flag))
                .unwrap_or_else(|| panic!("{cmd} --help lacks {flag}:\n{help}"));
            let described = help.lines().nth(line + 1).unwrap_or("").trim();
            assert!(!described.is_empty(), "{cmd} {flag} has no description");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the transaction file holds, the binary answers or fails with a message:
    /// never a panic (the reader itself is fuzzed harder in its unit tests).
    #[test]
    fn arbitrary_transaction_files_never_panic(
        body in "(customer_id,date,amount\n)?([a-z0-9\",]{0,4},[-0-9T ]{0,12},[-0-9.e]{0,6}\n){0,8}",
    ) {
        let dir = workdir();
        let log = write(dir.path(), "t.csv", &body);
        let log = log.to_str().unwrap();
        for args in [
            &["rfm", "--transactions", log, "--as-of", "2024-06-30", "--format", "csv"][..],
            &["predict", "--model", "bgnbd", "--transactions", log, "--calibration-end", "2024-06-30", "--period", "day", "--horizon", "30", "--spend-model", "gamma-gamma"],
        ] {
            let run = guanxi_in(dir.path(), args);
            prop_assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
            prop_assert!(matches!(run.code, Some(0 | 1)), "{:?}: {}", run.code, run.stderr);
            if run.code == Some(1) {
                prop_assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
            }
        }
    }
}
