//! The real counterparts the integration tests talk to: Python scripts on loopback run
//! in the venv `.ci/py-env` makes (created on first use, under a file lock so that test
//! binaries running at once do not race to build it).

// Each test binary uses part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// This folder, found from the outbound crate and from the crates whose tests include
/// this module (`#[path]`) to send mail through the same sink.
pub fn support_dir() -> PathBuf {
    // From this crate or another one beside it (the server tests use the same scripts).
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../outbound/tests/support")
}

/// The venv's python, after `.ci/py-env` made sure it has the pinned packages.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = std::env::var("GUANXI_PY_VENV").unwrap_or_else(|_| "/tmp/guanxi-py-venv".into());
        let lock =
            std::fs::File::create(format!("{venv}.lock")).expect("create the venv's lock file");
        lock.lock().expect("lock the venv");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/py-env");
        let out = Command::new("bash")
            .arg(script)
            .stderr(Stdio::inherit())
            .output()
            .expect("run .ci/py-env");
        assert!(
            out.status.success(),
            ".ci/py-env failed (is python3-venv installed?)"
        );
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// A script of `tests/support` running until dropped.
pub struct PyServer {
    child: Child,
    pub port: u16,
}

impl PyServer {
    /// Starts `script` with `args` and waits for its "PORT <n>" line.
    pub fn start(script: &str, args: &[&str]) -> Self {
        let mut child = Command::new(python())
            .arg(support_dir().join(script))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a Python test server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("{script} did not start: {line:?}"));
        Self { child, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// aiosmtpd on loopback keeping what it receives (`smtp_sink.py`).
pub struct Sink {
    pub server: PyServer,
    pub dir: tempfile::TempDir,
}

impl Sink {
    pub fn start(options: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec![dir.path().to_str().unwrap()];
        args.extend_from_slice(options);
        let server = PyServer::start("smtp_sink.py", &args);
        Self { server, dir }
    }

    pub fn config(&self, security: guanxi_outbound::Security) -> guanxi_outbound::SmtpConfig {
        guanxi_outbound::SmtpConfig {
            host: "localhost".into(),
            port: Some(self.server.port),
            security,
            username: None,
            password: None,
            from: "关系 CRM <crm@guanxi.example>".into(),
            hello_name: Some("crm.guanxi.example".into()),
            ca_cert: None,
            timeout_secs: Some(20),
            pool_size: None,
            bounce_address: None,
        }
    }

    pub fn trusting(&self, security: guanxi_outbound::Security) -> guanxi_outbound::SmtpConfig {
        guanxi_outbound::SmtpConfig {
            ca_cert: Some(self.dir.path().join("ca.pem")),
            ..self.config(security)
        }
    }

    /// The messages received so far, in order, as the Python parser read them.
    pub fn received(&self) -> Vec<serde_json::Value> {
        let mut numbered: Vec<(u32, serde_json::Value)> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| {
                let path = e.unwrap().path();
                let n = path
                    .file_name()?
                    .to_str()?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()?;
                Some((
                    n,
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap(),
                ))
            })
            .collect();
        numbered.sort_by_key(|(n, _)| *n);
        numbered.into_iter().map(|(_, v)| v).collect()
    }
}

/// A part's decoded text, with the wire's CRLF line ends as LF.
pub fn part(message: &serde_json::Value, content_type: &str) -> String {
    message["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["content_type"] == content_type)
        .unwrap_or_else(|| panic!("no {content_type} part in {message}"))["content"]
        .as_str()
        .unwrap()
        .replace("\r\n", "\n")
}
