//! Faults: a process killed mid-run, two processes appending to one file, hostile lines.

mod common;
use common::*;

use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use serde_json::Value;

fn spawn_load_test(dir: &std::path::Path, args: &[&str]) -> std::process::Child {
    StdCommand::new(assert_cmd::cargo::cargo_bin("metricsctl"))
        .current_dir(dir)
        .arg("load-test")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_leaves_at_most_one_partial_line_and_every_earlier_export_intact() {
    let dir = tempfile::tempdir().unwrap();
    // Exports every 20 ms: a kill is likely to land during one.
    let mut child =
        spawn_load_test(dir.path(), &["-z", "60s", "-c", "8", "--export-interval", "20ms", "--instance-id", "killed"]);
    std::thread::sleep(Duration::from_millis(2500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let path = dir.path().join("logs/metrics.jsonl");
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 10_000, "only {} bytes written", bytes.len());
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    let complete = if bytes.ends_with(b"\n") { lines.len() } else { lines.len() - 1 };
    for (i, line) in lines[..complete].iter().enumerate() {
        assert!(metricsctl_format::record::parse_line(line).is_ok(), "line {} is damaged: {line}", i + 1);
    }
    // The reader takes the file as it is: a partial last line is one bad line at most.
    let out = metricsctl().current_dir(dir.path()).args(["check", "--format", "json"]).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["bad_lines"].as_u64().unwrap() <= 1, "{report:#}");
    assert!(report["processes"][0]["exports"].as_u64().unwrap() > 10, "{report:#}");
    metricsctl().current_dir(dir.path()).args(["sum", "by", "route"]).assert().success();
}

#[test]
fn two_processes_appending_to_one_file_never_interleave_inside_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let common =
        ["-n", "6000", "-c", "4", "--export-interval", "10ms", "--json-file-path", "shared.jsonl", "--format", "json"];
    let a = spawn_load_test(dir.path(), &[&common[..], &["--instance-id", "writer-a"]].concat());
    let b = spawn_load_test(dir.path(), &[&common[..], &["--instance-id", "writer-b"]].concat());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        // Each process' cross-check reads the shared file for its own instance.
        assert_eq!(summary["cross_check"]["ok"], true, "{summary:#}");
    }
    let out =
        metricsctl().current_dir(dir.path()).args(["check", "--format", "json", "shared.jsonl"]).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["bad_lines"], 0, "{report:#}");
    assert_eq!(report["processes"].as_array().unwrap().len(), 2);
    for p in report["processes"].as_array().unwrap() {
        assert!(p["exports"].as_u64().unwrap() > 5, "{p:#}");
        assert_eq!(p["restarts"].as_array().unwrap().len(), 0, "{p:#}");
    }
    let shared = dir.path().join("shared.jsonl");
    let v = json(&["sum", "by", "instance", shared.to_str().unwrap()]);
    let mut totals: Vec<(String, u64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["instance"].as_str().unwrap().to_string(), r["value"].as_u64().unwrap()))
        .collect();
    totals.sort();
    assert_eq!(totals, vec![("writer-a".to_string(), 6000), ("writer-b".to_string(), 6000)]);
}

#[test]
fn hostile_lines_are_bad_lines_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.jsonl");
    let good = "{\"timestamp\":\"2025-01-01T00:00:00Z\",\"metric_name\":\"x_total\",\"value\":7}\n";
    let mut content = String::new();
    content.push_str(good);
    // Nesting far deeper than any parser recursion should go.
    content.push_str(&format!(
        "{{\"timestamp\":\"2025-01-01T00:00:01Z\",\"metric_name\":\"x_total\",\"value\":1,\"extra\":{}{}}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    ));
    for value in ["NaN", "Infinity", "-Infinity", "\"NaN\"", "1e400", "99999999999999999999999999"] {
        content.push_str(&format!(
            "{{\"timestamp\":\"2025-01-01T00:00:02Z\",\"metric_name\":\"x_total\",\"value\":{value}}}\n"
        ));
    }
    // A 100 MB line: over the 64 MiB line limit.
    content.push_str("{\"timestamp\":\"2025-01-01T00:00:03Z\",\"metric_name\":\"x_total\",\"value\":1,\"pad\":\"");
    content.push_str(&"x".repeat(100 << 20));
    content.push_str("\"}\n");
    content.push_str(&good.replace("00:00:00", "00:00:04").replace(":7}", ":9}"));
    std::fs::write(&path, content).unwrap();
    let out = metricsctl().args(["check", "--format", "json", path.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad = report["files"][0]["first_bad_lines"].as_array().unwrap();
    let lines: Vec<u64> = bad.iter().map(|b| b["line"].as_u64().unwrap()).collect();
    let reasons: Vec<&str> = bad.iter().map(|b| b["reason"].as_str().unwrap()).collect();
    // NaN, Infinity, -Infinity, "NaN", 1e400 and the 100 MB line are bad lines. Deep
    // nesting in an unknown field is valid JSON, skipped without recursion; a number
    // beyond u64 is read as a float (exact integers end at u64).
    assert_eq!(lines, vec![3, 4, 5, 6, 7, 9], "{reasons:?}");
    assert!(reasons[0].contains("invalid JSON"), "{reasons:?}");
    assert!(reasons[3].contains("expected a number"), "{reasons:?}");
    assert!(reasons[4].contains("out of range"), "{reasons:?}");
    assert!(reasons[5].contains("longer than 64 MiB"), "{reasons:?}");
    // The others still count: 7, 1 (a decrease: restart, +1), 1e26 (float), 9 (restart).
    let v = json(&["sum", "-m", "x_total", path.to_str().unwrap()]);
    let total = v[0]["value"].as_f64().unwrap();
    assert!((total - 1e26).abs() / 1e26 < 1e-12, "{v}");
}
