//! Helpers for the end-to-end tests: run the real binary on fixtures.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

pub fn metricsctl() -> Command {
    let mut cmd = Command::cargo_bin("metricsctl").unwrap();
    cmd.env_remove("NO_COLOR").env("TERM", "xterm");
    cmd
}

pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name).display().to_string()
}

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// Runs the binary with `--format json` appended and parses stdout; asserts exit 0.
pub fn json(args: &[&str]) -> Value {
    let out = metricsctl().args(args).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "metricsctl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// `sum --format json` rows as (label value text, value) pairs for one label.
pub fn sum_by(label: &str, args: &[&str]) -> Vec<(String, Value)> {
    let mut all = vec!["sum", "by", label];
    all.extend_from_slice(args);
    let v = json(&all);
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let key = match &row[label] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (key, row["value"].clone())
        })
        .collect()
}

pub fn stdout_of(args: &[&str]) -> String {
    let out = metricsctl().args(args).output().unwrap();
    assert!(out.status.success(), "metricsctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}
