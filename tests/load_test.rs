//! `load-test` end to end: the file it writes holds exactly the requests the client saw.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// `sum by method,route` of one instance, as metricsctl reports it from the file.
fn file_counts(dir: &std::path::Path, instance: &str) -> BTreeMap<String, u64> {
    let out = metricsctl()
        .current_dir(dir)
        .args(["sum", "by", "method,route", "-w", &format!("instance={instance}"), "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!("{} {}", r["method"].as_str().unwrap(), r["route"].as_str().unwrap()),
                r["value"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn client_counts(summary: &Value) -> BTreeMap<String, u64> {
    summary["cross_check"]["routes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(route, pair)| (route.clone(), pair[0].as_u64().unwrap()))
        .collect()
}

#[test]
fn twenty_thousand_requests_are_all_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = metricsctl()
        .current_dir(dir.path())
        .args(["load-test", "-n", "20000", "-c", "32", "--instance-id", "lt-test", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["requests"], 20000);
    assert_eq!(summary["cross_check"]["ok"], true);
    let client = client_counts(&summary);
    assert_eq!(client.values().sum::<u64>(), 20000);
    assert_eq!(client.len(), 6, "{client:?}");
    // Independently of load-test's own check: the default file, read by `sum`.
    assert_eq!(file_counts(dir.path(), "lt-test"), client);
    // The file is in the record format (docs/FORMAT.md) and clean.
    metricsctl().current_dir(dir.path()).args(["check"]).assert().success();
    let text = std::fs::read_to_string(dir.path().join("logs/metrics.jsonl")).unwrap();
    for name in [
        "http_server_requests_total",
        "http_server_request_duration_seconds",
        "http_server_request_size_bytes",
        "http_server_response_size_bytes",
        "http_server_active_requests",
    ] {
        assert!(text.contains(&format!("\"metric_name\":\"{name}\"")), "{name} missing");
    }
    let line = text.lines().find(|l| l.contains("http_server_request_duration_seconds")).unwrap();
    let v: Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["metric_type"], "histogram");
    assert_eq!(v["resource"]["service.instance.id"], "lt-test");
    assert!(v["start_timestamp"].is_string());
    let buckets = v["value"]["buckets"].as_array().unwrap();
    assert_eq!(buckets.last().unwrap()["upper_bound"], "+Inf");
    let per_bucket: u64 = buckets.iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(per_bucket, v["value"]["count"].as_u64().unwrap(), "buckets are per-bucket counts");
    let gauge = text.lines().find(|l| l.contains("http_server_active_requests")).unwrap();
    assert!(gauge.contains("\"metric_type\":\"gauge\""), "UpDownCounter is a gauge: {gauge}");
}

#[test]
fn sigint_mid_run_still_writes_the_final_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    // A long run and an export interval longer than the run: only the final snapshot
    // written at shutdown can hold the requests.
    let child = StdCommand::new(assert_cmd::cargo::cargo_bin("metricsctl"))
        .current_dir(dir.path())
        .args([
            "load-test",
            "-z",
            "60s",
            "-c",
            "8",
            "--export-interval",
            "10m",
            "--instance-id",
            "lt-sigint",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let status = StdCommand::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?} to stop", started.elapsed());
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["interrupted"], true);
    let client = client_counts(&summary);
    let total: u64 = client.values().sum();
    assert!(total > 100, "only {total} requests before SIGINT");
    assert_eq!(file_counts(dir.path(), "lt-sigint"), client);
}

#[test]
fn rate_limited_run_with_deadline_reports_corrected_latency() {
    let dir = tempfile::tempdir().unwrap();
    let out = metricsctl()
        .current_dir(dir.path())
        .args(["load-test", "-z", "2s", "-q", "500", "-c", "4", "--export-interval", "300ms", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let requests = s["requests"].as_u64().unwrap();
    // 500/s for 2 s, give or take scheduling.
    assert!((900..=1001).contains(&requests), "{requests}");
    assert!(s["uncorrected_latency_seconds"]["p50"].as_f64().unwrap() > 0.0);
    assert!(
        s["latency_seconds"]["p99"].as_f64().unwrap()
            >= s["uncorrected_latency_seconds"]["p99"].as_f64().unwrap() * 0.99
    );
    assert_eq!(s["cross_check"]["ok"], true, "{s:#}");
}

#[test]
fn config_file_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("configs")).unwrap();
    std::fs::write(
        dir.path().join("configs/config.yaml"),
        "metrics:\n  service_name: \"orders\"\n  json_file_path: \"./out/m.jsonl\"\n  export_interval: 10s\n",
    )
    .unwrap();
    metricsctl()
        .current_dir(dir.path())
        .args(["load-test", "-n", "300", "-c", "2", "--service-version", "v9"])
        .assert()
        .success();
    let text = std::fs::read_to_string(dir.path().join("out/m.jsonl")).unwrap();
    let v: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(v["service_name"], "orders");
    assert_eq!(v["resource"]["service.version"], "v9");
    std::fs::write(dir.path().join("configs/config.yaml"), "metrics:\n  export_timeout: never\n").unwrap();
    metricsctl()
        .current_dir(dir.path())
        .args(["load-test", "-n", "10"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("metrics.export_timeout"));
}

#[test]
fn grpc_calls_are_recorded_with_their_status_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = metricsctl()
        .current_dir(dir.path())
        .args(["load-test", "-n", "4000", "-c", "8", "--grpc", "--instance-id", "lt-grpc", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["cross_check"]["ok"], true);
    let client = client_counts(&summary);
    let grpc: u64 = client.iter().filter(|(k, _)| k.starts_with("GRPC ")).map(|(_, v)| v).sum();
    assert!(grpc > 500, "{client:?}");
    // Status codes by name on the client, by number in the file: the same counts.
    let codes = &summary["grpc_status_codes"];
    let rows: Value = serde_json::from_slice(
        &metricsctl()
            .current_dir(dir.path())
            .args(["sum", "by", "rpc.status_code", "-m", "grpc_server_requests_total", "--format", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let in_file = |code: u64| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["rpc.status_code"] == code)
            .map_or(0, |r| r["value"].as_u64().unwrap())
    };
    assert_eq!(in_file(0), codes["Ok"].as_u64().unwrap());
    assert_eq!(in_file(5), codes["NotFound"].as_u64().unwrap_or(0));
    assert_eq!(in_file(14), codes["Unavailable"].as_u64().unwrap_or(0));
    let text = std::fs::read_to_string(dir.path().join("logs/metrics.jsonl")).unwrap();
    for name in ["grpc_server_requests_total", "grpc_server_request_duration_seconds", "grpc_server_active_requests"] {
        assert!(text.contains(&format!("\"metric_name\":\"{name}\"")), "{name} missing");
    }
}

#[test]
fn url_targets_an_external_server_and_records_client_side_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = StdCommand::new(assert_cmd::cargo::cargo_bin("metricsctl"))
        .current_dir(dir.path())
        .args(["load-test", "--serve-only", "--listen", &format!("127.0.0.1:{port}"), "-z", "60s"])
        .args(["--json-file-path", "server.jsonl", "--instance-id", "external-server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut server = Kill(server);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = metricsctl()
        .current_dir(dir.path())
        .args(["load-test", "--url", &format!("http://127.0.0.1:{port}"), "-n", "1500", "-c", "4"])
        .args(["--json-file-path", "client.jsonl", "--instance-id", "lt-client", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["cross_check"]["metric"], "http_client_requests_total");
    assert_eq!(summary["cross_check"]["ok"], true, "{summary:#}");
    assert_eq!(summary["cross_check"]["file_total"], 1500);
    // The external server, stopped with SIGINT, wrote its own view: the same requests.
    StdCommand::new("kill").args(["-INT", &server.0.id().to_string()]).status().unwrap();
    let status = server.0.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let rows: Value = serde_json::from_slice(
        &metricsctl()
            .current_dir(dir.path())
            .args(["sum", "server.jsonl", "--format", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(rows[0]["value"], 1500);
}
