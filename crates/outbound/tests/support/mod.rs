//! The real counterparts the integration tests talk to: Python scripts on loopback run
//! in the venv `.ci/py-env` makes (created on first use, under a file lock so that test
//! binaries running at once do not race to build it).

// Each test binary uses part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

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
