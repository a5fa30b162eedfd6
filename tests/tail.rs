//! `tail`: last records read backwards, follow mode across rotation, safe output.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

fn counter_line(second: u32, value: u64) -> String {
    format!(
        "{{\"timestamp\":\"2025-12-16T10:00:{second:02}.000+0800\",\"service_name\":\"sre\",\"metric_name\":\"http_server_requests_total\",\"metric_type\":\"counter\",\"value\":{value},\"attributes\":{{\"http.route\":\"/api/v1/orders\"}}}}\n"
    )
}

#[test]
fn last_n_records_in_order() {
    let out = stdout_of(&["tail", "-n", "2", &fixture("restarts.jsonl")]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("2025-12-16T10:01:10.000+0800 sre http_server_requests_total{"), "{out}");
    assert!(lines[0].contains("http.route=\"/api/v1/users\""), "{out}");
    assert!(lines[0].ends_with(" 1"), "{out}");
    assert!(lines[1].contains("http_server_active_requests 0"), "{out}");
}

#[test]
fn filters_apply_and_histograms_are_summarised() {
    let out = stdout_of(&[
        "tail",
        "-n",
        "1",
        "-m",
        "http_server_request_duration_seconds",
        "--route",
        "/api/v1/orders",
        &fixture("histograms.jsonl"),
    ]);
    assert!(out.trim_end().ends_with("count=30 sum=1.7 p50=0.0375"), "{out}");
}

#[test]
fn json_records_are_normalised_json_lines() {
    let out = stdout_of(&["tail", "-n", "3", "--format", "json", &fixture("seed_timeline.jsonl")]);
    let values: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(values.len(), 3);
    assert_eq!(values[2]["value"], 40);
    // inferred and filled in: the reference design's own example omits both
    assert_eq!(values[2]["metric_type"], "counter");
    assert_eq!(values[2]["service_name"], "unknown_service");
}

#[test]
fn rate_shows_increase_since_previous_sample_across_restarts() {
    let out = stdout_of(&["tail", "-n", "3", "--rate", "--route", "/api/v1/orders", &fixture("restarts.jsonl")]);
    let lines: Vec<&str> = out.lines().collect();
    // 12 -> 20 after a restart counts 20 from zero (the series itself cannot show it,
    // and tail sees one series: a decrease rule only), then +10.
    assert!(lines[0].ends_with("+7 (0.7/s)"), "{out}");
    assert!(lines[1].ends_with("+8 (0.8/s)"), "{out}");
    assert!(lines[2].ends_with("+10 (1/s)"), "{out}");
}

#[test]
fn bad_lines_are_skipped_and_reported_and_strict_fails() {
    metricsctl()
        .args(["tail", "-n", "1", &fixture("bad_lines.jsonl")])
        .assert()
        .success()
        .stdout(predicates::str::contains(" 25"))
        .stderr(predicates::str::contains("skipped 2 bad lines"))
        .stderr(predicates::str::contains("line 1 from the end: truncated JSON"));
    metricsctl()
        .args(["tail", "-n", "1", "--strict", &fixture("bad_lines.jsonl")])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("bad_lines.jsonl: line 1 from the end: truncated JSON"));
}

#[test]
fn control_characters_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evil.jsonl");
    std::fs::write(
        &path,
        "{\"timestamp\":\"2025-01-01T00:00:00Z\",\"metric_name\":\"x_total\",\"value\":1,\"attributes\":{\"route\":\"/a\\u001b[2J\\nINJECTED \\u009b31m\"}}\n",
    )
    .unwrap();
    let out = stdout_of(&["tail", path.to_str().unwrap()]);
    assert_eq!(out.lines().count(), 1, "{out:?}");
    assert!(!out.contains('\u{1b}') && !out.contains('\u{9b}'), "{out:?}");
    assert!(out.contains("\\u001b[2J\\nINJECTED \\u009b31m"), "{out:?}");
    let out = stdout_of(&["sum", "by", "route", "-m", "x_total", path.to_str().unwrap()]);
    assert!(!out.contains('\u{1b}') && !out.contains('\u{9b}'), "{out:?}");
}

#[test]
fn tail_of_a_huge_file_reads_only_its_end() {
    // A 2 GiB sparse file: reading it forwards would take seconds; backwards, the last
    // records are right there.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(2 << 30).unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"\n").unwrap();
    for i in 0..10 {
        f.write_all(counter_line(i, u64::from(i) * 10).as_bytes()).unwrap();
    }
    let out = stdout_of(&["tail", "-n", "5", path.to_str().unwrap()]);
    let values: Vec<&str> = out.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
    assert_eq!(values, vec!["50", "60", "70", "80", "90"]);
}

struct Tailing {
    child: Child,
    lines: Receiver<String>,
}

impl Drop for Tailing {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail_follow(path: &std::path::Path, extra: &[&str]) -> Tailing {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("metricsctl"))
        .args(["tail", "-f", "-n", "1"])
        .args(extra)
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    Tailing { child, lines: rx }
}

fn expect_line(t: &Tailing, value: &str) {
    let line = t
        .lines
        .recv_timeout(Duration::from_secs(1))
        .unwrap_or_else(|_| panic!("no line with value {value} within 1 s"));
    assert!(line.ends_with(&format!(" {value}")), "{line}");
}

fn append(path: &std::path::Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[test]
fn follow_survives_append_rotation_truncation_and_recreation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    append(&path, &(counter_line(0, 1) + &counter_line(1, 2)));
    let t = tail_follow(&path, &[]);
    expect_line(&t, "2");

    append(&path, &counter_line(2, 3));
    expect_line(&t, "3");

    // A line written in two parts is printed once complete.
    let line = counter_line(3, 4);
    let (a, b) = line.split_at(40);
    append(&path, a);
    std::thread::sleep(Duration::from_millis(300));
    append(&path, b);
    expect_line(&t, "4");

    // Rotation: rename, then a new file under the old name.
    std::fs::rename(&path, dir.path().join("metrics.jsonl.1")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    append(&path, &counter_line(4, 5));
    expect_line(&t, "5");

    // Truncation in place (copytruncate).
    std::fs::OpenOptions::new().write(true).truncate(true).open(&path).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    append(&path, &counter_line(5, 6));
    expect_line(&t, "6");

    // Deletion and re-creation later.
    std::fs::remove_file(&path).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    append(&path, &counter_line(6, 7));
    expect_line(&t, "7");
    assert!(t.lines.recv_timeout(Duration::from_millis(300)).is_err(), "no line twice");
}

#[test]
fn follow_with_rate_prints_increases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    append(&path, &(counter_line(0, 10) + &counter_line(10, 25)));
    let t = tail_follow(&path, &["--rate"]);
    expect_line(&t, "(1.5/s)");
    append(&path, &counter_line(20, 40));
    expect_line(&t, "(1.5/s)");
    append(&path, &counter_line(30, 4));
    expect_line(&t, "(0.4/s)");
}
