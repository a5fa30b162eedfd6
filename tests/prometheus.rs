//! `to-prometheus` against the real Prometheus tools: promtool's linter, Python's
//! reference parsers, and a backfill into a real Prometheus server queried with PromQL.
//! The tools are installed by scripts/test.sh; a missing tool fails the test.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command as StdCommand, Stdio};

/// Runs a program with `input` on its stdin.
fn run_with_stdin(program: &str, args: &[&str], input: &str) -> std::process::Output {
    let mut child = StdCommand::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} (scripts/test.sh installs it): {e}"));
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

const FIXTURES: &[&str] = &[
    "seed_examples.jsonl",
    "seed_timeline.jsonl",
    "restarts.jsonl",
    "two_instances.jsonl",
    "two_instances_no_resource.jsonl",
    "histograms.jsonl",
    "delta.jsonl",
    "bad_lines.jsonl",
    "rotated/metrics.jsonl",
    "prometheus_roundtrip.jsonl",
];

fn exposition(args: &[&str]) -> String {
    let out = metricsctl().arg("to-prometheus").args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn promtool_check_metrics_finds_nothing_on_any_fixture() {
    require("promtool");
    for f in FIXTURES {
        for extra in [&[][..], &["--resource-labels"][..]] {
            let mut args = vec![fixture(f)];
            args.extend(extra.iter().map(|s| s.to_string()));
            let text = exposition(&args.iter().map(String::as_str).collect::<Vec<_>>());
            let out = run_with_stdin("promtool", &["check", "metrics"], &text);
            let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success() && said.trim().is_empty(), "{f} {extra:?}: promtool says: {said}\n{text}");
        }
    }
}

/// Parses an exposition with prometheus_client and returns {name{labels}: value}.
fn python_parse(text: &str, openmetrics: bool) -> BTreeMap<String, f64> {
    let parser = if openmetrics {
        "from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse"
    } else {
        "from prometheus_client.parser import text_string_to_metric_families as parse"
    };
    let script = format!(
        "{parser}\nimport json, sys\nout = {{}}\nfor fam in parse(sys.stdin.read()):\n    for s in fam.samples:\n        key = s.name + json.dumps(dict(sorted(s.labels.items())), separators=(',', ':'))\n        out[key] = s.value\nprint(json.dumps(out))\n"
    );
    let out = run_with_stdin("python3", &["-c", &script], text);
    assert!(
        out.status.success(),
        "prometheus_client failed (scripts/test.sh installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn reference_parsers_read_the_expected_values() {
    for openmetrics in [false, true] {
        let mut args = vec![fixture("restarts.jsonl")];
        if openmetrics {
            args.push("--openmetrics".into());
        }
        let text = exposition(&args.iter().map(String::as_str).collect::<Vec<_>>());
        if openmetrics {
            assert!(text.ends_with("# EOF\n"));
            assert!(text.contains("# TYPE http_server_requests counter\n"), "{text}");
        } else {
            assert!(text.contains("# TYPE http_server_requests_total counter\n"), "{text}");
        }
        let v = python_parse(&text, openmetrics);
        let key = |route: &str| {
            format!(
                "http_server_requests_total{{\"http_method\":\"GET\",\"http_route\":\"{route}\",\"http_status_code\":\"200\",\"instance\":\"sre-0\",\"job\":\"sre\",\"status\":\"success\"}}"
            )
        };
        assert_eq!(v.get(&key("/api/v1/orders")), Some(&30.0), "{v:?}");
        assert_eq!(v.get(&key("/api/v1/users")), Some(&1.0), "{v:?}");
        assert!(
            v.keys().any(|k| k.starts_with("target_info") && k.contains("\"deployment_environment\":\"dev\"")),
            "{v:?}"
        );
    }
    let text = exposition(&[&fixture("histograms.jsonl"), "--route", "/api/v1/users"]);
    let v = python_parse(&text, false);
    let get = |name: &str, le: Option<&str>| {
        let mut labels: BTreeMap<&str, &str> = [
            ("http_method", "GET"),
            ("http_route", "/api/v1/users"),
            ("http_status_code", "200"),
            ("instance", "sre-0"),
            ("job", "sre"),
            ("status", "success"),
        ]
        .into_iter()
        .collect();
        if let Some(le) = le {
            labels.insert("le", le);
        }
        let key = format!("{name}{}", serde_json::to_string(&labels).unwrap());
        *v.get(&key).unwrap_or_else(|| panic!("{key} missing in {v:?}"))
    };
    // cumulative buckets, +Inf equal to count
    assert_eq!(get("http_server_request_duration_seconds_bucket", Some("0.005")), 1.0);
    assert_eq!(get("http_server_request_duration_seconds_bucket", Some("0.5")), 7.0);
    assert_eq!(get("http_server_request_duration_seconds_bucket", Some("+Inf")), 8.0);
    assert_eq!(get("http_server_request_duration_seconds_count", None), 8.0);
    assert!((get("http_server_request_duration_seconds_sum", None) - 2.4).abs() < 1e-9);
}

#[test]
fn history_backfilled_into_a_real_prometheus_answers_like_metricsctl() {
    require("promtool");
    require("prometheus");
    let dir = tempfile::tempdir().unwrap();
    let om = dir.path().join("history.om");
    let input = fixture("prometheus_roundtrip.jsonl");
    metricsctl().args(["to-prometheus", "--history", "-o", om.to_str().unwrap(), &input]).assert().success();
    let data = dir.path().join("data");
    let out = StdCommand::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", om.to_str().unwrap(), data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "backfill failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The samples are from 2025: keep them.
    let (_server, port) =
        start_prometheus(dir.path(), "global:\n  scrape_interval: 1h\n", &["--storage.tsdb.retention.time=100y"]);
    // The newest sample of the fixture: 2025-12-16T10:00:50+08:00.
    let end = 1_765_850_450.0;

    // Last values per series, against metricsctl's own exposition of the last samples.
    let ours = python_parse(&exposition(&[&input]), false);
    let result = promql(port, "http_server_requests_total", end);
    assert_eq!(result.len(), 4, "{result:?}");
    for r in &result {
        let labels: BTreeMap<String, String> = serde_json::from_value(r["metric"].clone()).unwrap();
        let mut key_labels = labels.clone();
        key_labels.remove("__name__");
        let key = format!("http_server_requests_total{}", serde_json::to_string(&key_labels).unwrap());
        let theirs: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
        assert_eq!(ours.get(&key), Some(&theirs), "{key}: {ours:?}");
    }

    // sum by route of the last values per instance, against metricsctl's sum of gauges
    // of the same last values: orders 12 + 14; the hostile route 3 + 2.
    let result = promql(port, "sum by (http_route) (http_server_requests_total)", end);
    let by_route: BTreeMap<String, f64> = result
        .iter()
        .map(|r| {
            (r["metric"]["http_route"].as_str().unwrap().to_string(), r["value"][1].as_str().unwrap().parse().unwrap())
        })
        .collect();
    let evil = "say \"hi\"\\ C:\\path\nsecond line";
    assert_eq!(by_route.get("/api/v1/orders"), Some(&26.0), "{by_route:?}");
    // The label value with a quote, backslashes and a newline survived the round trip.
    assert_eq!(by_route.get(evil), Some(&5.0), "{by_route:?}");

    // History, not just the end: every sample arrived (5 exports per series).
    let result = promql(port, "count_over_time(http_server_requests_total{http_route=\"/api/v1/orders\"}[1h])", end);
    let counts: Vec<&str> = result.iter().map(|r| r["value"][1].as_str().unwrap()).collect();
    assert_eq!(counts, vec!["5", "5"], "{result:?}");
    // ...including the values before sre-0's restart (40 at 10:00:30, then 5).
    let result =
        promql(port, "http_server_requests_total{instance=\"sre-0\",http_route=\"/api/v1/orders\"}", 1_765_850_430.0);
    assert_eq!(result[0]["value"][1], "40");

    // Histograms made it too, +Inf bucket equal to count.
    let result = promql(port, "http_server_request_duration_seconds_bucket{le=\"+Inf\",instance=\"sre-1\"}", end);
    assert_eq!(result[0]["value"][1], "14");
    let result = promql(port, "target_info", end);
    assert_eq!(result.len(), 2, "{result:?}");
}

#[test]
fn output_file_is_written_atomically_and_clashes_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("metrics.prom");
    std::fs::write(&out, "old\n").unwrap();
    metricsctl()
        .args(["to-prometheus", "-o", out.to_str().unwrap(), &fixture("restarts.jsonl")])
        .assert()
        .success()
        .stdout("");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("# HELP"), "{text}");
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["metrics.prom"], "no temporary file left behind");

    let clash = dir.path().join("clash.jsonl");
    std::fs::write(
        &clash,
        "{\"timestamp\":\"2025-01-01T00:00:00Z\",\"metric_name\":\"x_total\",\"value\":1,\"attributes\":{\"http.route\":\"a\",\"http_route\":\"b\"}}\n",
    )
    .unwrap();
    metricsctl()
        .args(["to-prometheus", clash.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("clashes"));
}

#[test]
fn the_strict_reader_accepts_every_fixture_in_both_formats() {
    for f in FIXTURES {
        for (args, openmetrics) in [(vec![], false), (vec!["--openmetrics"], true), (vec!["--resource-labels"], false)]
        {
            let mut all = args.clone();
            let path = fixture(f);
            all.push(&path);
            let text = exposition(&all);
            if let Err(e) = metricsctl_prom::validate_exposition(&text, openmetrics) {
                panic!("{f} {args:?}: {e}\n{text}");
            }
        }
    }
}

/// Found by the `expose` fuzz target: one name used by two kinds of metric (or two
/// names that translate to one family) would give a family twice, which scrapers
/// reject. It is an error naming both, not an invalid exposition.
#[test]
fn two_metrics_exposed_under_one_name_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let line = |name: &str, kind: &str, value: &str| {
        format!(
            r#"{{"timestamp":"2025-01-01T00:00:00Z","service_name":"s","metric_name":"{name}","metric_type":"{kind}","value":{value}}}"#
        ) + "\n"
    };
    let hist = r#"{"count":1,"sum":0.1,"buckets":[{"upper_bound":0.5,"count":1},{"upper_bound":"+Inf","count":0}]}"#;
    for (a, b) in [
        (line("latency", "counter", "1"), line("latency", "histogram", hist)),
        (line("jobs", "counter", "1"), line("jobs_total", "counter", "2")),
        (line("queue.depth", "gauge", "1"), line("queue_depth", "gauge", "2")),
        (line("latency", "histogram", hist), line("latency_count", "gauge", "2")),
    ] {
        let file = dir.path().join("clash.jsonl");
        std::fs::write(&file, format!("{a}{b}")).unwrap();
        let out = metricsctl().args(["to-prometheus", file.to_str().unwrap()]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{a}{b}: {stderr}");
        assert!(stderr.contains("would both be exposed as"), "{stderr}");
    }
}
