//! `sum`: exact totals on the fixtures, whose values were worked out by hand.

mod common;
use common::*;
use predicates::prelude::*;
use serde_json::json;

#[test]
fn seed_timeline_total_is_the_last_value_not_the_sum_of_snapshots() {
    // The reference design's example: exports of 10, 25, 40 mean 40 requests, not 75.
    assert_eq!(json(&["sum", &fixture("seed_timeline.jsonl")]), json!([{"value": 40}]));
}

#[test]
fn restarts_are_counted_from_zero_for_every_series_of_the_process() {
    // orders: 10,25,40 | restart | 5,12 | restart (users vanished) | 20,30 -> 40+12+30
    // users: 1,1,2 | restart (invisible in users: 2 then 2) | 2,3 | gone | 1 -> 2+3+1
    let rows = sum_by("route", &[&fixture("restarts.jsonl")]);
    assert_eq!(rows, vec![("/api/v1/orders".into(), json!(82)), ("/api/v1/users".into(), json!(6))]);
}

#[test]
fn positional_by_and_flag_by_agree() {
    let a = json(&["sum", "by", "route", &fixture("restarts.jsonl")]);
    let b = json(&["sum", "--by", "route", &fixture("restarts.jsonl")]);
    let c = json(&["sum", "by", "http.route", &fixture("restarts.jsonl")]);
    assert_eq!(a, b);
    assert_eq!(a.as_array().unwrap().len(), 2);
    assert_eq!(c[0]["http.route"], json!("/api/v1/orders"));
}

#[test]
fn rotated_files_in_any_order_and_gzip() {
    let want = vec![("/api/v1/orders".to_string(), json!(67)), ("/api/v1/users".to_string(), json!(5))];
    let cur = fixture("rotated/metrics.jsonl");
    let old = fixture("rotated/metrics.jsonl.1");
    let gz = fixture("rotated/metrics.jsonl.1.gz");
    assert_eq!(sum_by("route", &[&old, &cur]), want);
    assert_eq!(sum_by("route", &[&cur, &old]), want);
    assert_eq!(sum_by("route", &[&gz, &cur]), want);
}

#[test]
fn stdin_is_an_input() {
    let data = std::fs::read(fixture_path("seed_timeline.jsonl")).unwrap();
    metricsctl().args(["sum", "-", "--format", "csv"]).write_stdin(data).assert().success().stdout("value\n40\n");
}

#[test]
fn two_instances_are_told_apart_by_resource() {
    let v = json(&["sum", "by", "instance", &fixture("two_instances.jsonl")]);
    assert_eq!(v, json!([{"instance": "sre-0", "value": 30}, {"instance": "sre-1", "value": 12}]));
}

#[test]
fn instances_without_resource_are_warned_about() {
    metricsctl()
        .args(["sum", &fixture("two_instances_no_resource.jsonl")])
        .assert()
        .success()
        .stderr(predicate::str::contains("several instances"));
}

#[test]
fn delta_lines_are_summed_directly() {
    assert_eq!(json(&["sum", &fixture("delta.jsonl")]), json!([{"value": 15}]));
}

#[test]
fn histograms_sum_count_sum_and_mean() {
    let v = json(&["sum", "by", "route", "-m", "http_server_request_duration_seconds", &fixture("histograms.jsonl")]);
    assert_eq!(v[0]["route"], json!("/api/v1/orders"));
    assert_eq!(v[0]["count"], json!(30));
    assert!((v[0]["sum"].as_f64().unwrap() - 1.7).abs() < 1e-9);
    assert!((v[0]["mean"].as_f64().unwrap() - 1.7 / 30.0).abs() < 1e-9);
    assert_eq!(v[1]["count"], json!(8));
}

#[test]
fn gauges_sum_the_latest_values() {
    // restarts.jsonl's active-requests gauge ends at 0; seed_examples' at 5.
    let v = json(&["sum", "-m", "http_server_active_requests", &fixture("seed_examples.jsonl")]);
    assert_eq!(v, json!([{"value": 5}]));
    let v = json(&[
        "sum",
        "-m",
        "http_server_active_requests",
        &fixture("restarts.jsonl"),
        "--until",
        "2025-12-16T10:00:40+08:00",
    ]);
    assert_eq!(v, json!([{"value": 0}]));
    let v = json(&[
        "sum",
        "-m",
        "http_server_active_requests",
        &fixture("restarts.jsonl"),
        "--until",
        "2025-12-16T10:00:30+08:00",
    ]);
    assert_eq!(v, json!([{"value": 4}]));
}

#[test]
fn window_counts_steps_whose_later_sample_is_inside() {
    // orders steps at :20 (+15), :30 (+15), :40 (restart, 5): 35
    let rows = sum_by(
        "route",
        &[
            &fixture("restarts.jsonl"),
            "--since",
            "2025-12-16T10:00:20+08:00",
            "--until",
            "2025-12-16T02:00:40Z",
            "--route",
            "/api/v1/orders",
        ],
    );
    assert_eq!(rows, vec![("/api/v1/orders".into(), json!(35))]);
    // relative: the last 15 s before the newest sample (10:01:10) hold :01:00 (+20) and :01:10 (+10)
    let rows = sum_by("route", &[&fixture("restarts.jsonl"), "--since", "15s", "-w", "route=~.*orders"]);
    assert_eq!(rows, vec![("/api/v1/orders".into(), json!(30))]);
}

#[test]
fn baseline_flag_ignores_each_series_first_sample() {
    // orders: first 10 is a baseline: 15+15+5+7+20+10 = 72; users: 0+1+2+1+1 = 5
    let rows = sum_by("route", &[&fixture("restarts.jsonl"), "--baseline"]);
    assert_eq!(rows, vec![("/api/v1/orders".into(), json!(72)), ("/api/v1/users".into(), json!(5))]);
}

#[test]
fn where_filters_and_multiple_group_labels() {
    let v = json(&[
        "sum",
        "by",
        "route,status_code",
        "-w",
        "method=GET",
        "-w",
        "route!=/api/v1/users",
        &fixture("restarts.jsonl"),
    ]);
    assert_eq!(v, json!([{"route": "/api/v1/orders", "status_code": 200, "value": 82}]));
    let v = json(&["sum", "by", "service", "--service", "nope", &fixture("restarts.jsonl")]);
    assert_eq!(v, json!([]));
}

#[test]
fn table_output_has_a_total_row_and_csv_has_a_header() {
    let out = stdout_of(&["sum", "by", "route", &fixture("restarts.jsonl")]);
    assert!(out.contains("total"), "{out}");
    assert!(out.contains("88"), "{out}");
    let out = stdout_of(&["sum", "by", "route", &fixture("restarts.jsonl"), "--format", "csv"]);
    assert_eq!(out, "route,value\n/api/v1/orders,82\n/api/v1/users,6\n");
}

#[test]
fn several_metrics_get_a_metric_column() {
    let v = json(&["sum", "-m", "http_server_*", &fixture("restarts.jsonl")]);
    let metrics: Vec<&str> = v.as_array().unwrap().iter().map(|r| r["metric"].as_str().unwrap()).collect();
    assert_eq!(metrics, vec!["http_server_requests_total", "http_server_active_requests"]);
}

#[test]
fn unknown_group_label_is_an_error() {
    metricsctl()
        .args(["sum", "by", "rout", &fixture("restarts.jsonl")])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no selected series has a label \"rout\""));
}

/// Processes that restart often (their young series soon pass their old values again)
/// are not taken for two instances writing as one when start_timestamp says they
/// restarted; totals stay exact.
#[test]
fn frequent_restarts_with_start_timestamps_are_not_taken_for_two_writers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    let options = metricsctl_synth::generate::GenerateOptions {
        target_bytes: 12 << 20,
        restart_every: 6,
        bad_line_every: 0,
        ..Default::default()
    };
    let truth = metricsctl_synth::generate::generate(&mut std::fs::File::create(&path).unwrap(), &options).unwrap();
    assert!(truth.restarts > 30, "{} restarts", truth.restarts);
    let out = metricsctl().args(["sum", "by", "route", "--format", "json"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("distinguishing resource"), "{stderr}");
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let got: std::collections::BTreeMap<String, u64> =
        rows.iter().map(|r| (r["route"].as_str().unwrap().to_string(), r["value"].as_u64().unwrap())).collect();
    assert_eq!(got, truth.requests_by_route);
}

/// Two instances with their own start times writing as one process still are.
#[test]
fn two_writers_with_their_own_start_times_are_still_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    let mut text = String::new();
    for export in 1..=6 {
        for (start, per_export) in [("2025-12-16T09:00:00Z", 10), ("2025-12-16T09:30:00Z", 3)] {
            text += &format!(
                r#"{{"timestamp":"2025-12-16T10:00:{:02}Z","service_name":"sre","metric_name":"http_server_requests_total","metric_type":"counter","value":{},"attributes":{{"http.route":"/a"}},"start_timestamp":"{start}"}}"#,
                export * 5,
                export * per_export
            );
            text.push('\n');
        }
    }
    std::fs::write(&path, text).unwrap();
    let out = metricsctl().arg("sum").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("distinguishing resource"), "{stderr}");
}

/// One metric with the same attributes from two instrumentation scopes (and from none)
/// is three series: each counted on its own, none taken for another's restart or
/// conflict, each exposed with its `otel_scope_*` labels.
#[test]
fn instrumentation_scopes_keep_series_apart() {
    let file = fixture("scopes.jsonl");
    let total = json(&["sum", &file]);
    assert_eq!(total[0]["value"], 48, "40 + 6 + 2: {total}");
    // A series without a scope has no value for it (JSON null).
    let by_scope = sum_by("scope", &[&file]);
    assert_eq!(
        by_scope,
        vec![
            ("io.opentelemetry.http".to_string(), serde_json::json!(40)),
            ("retry-middleware".to_string(), serde_json::json!(6)),
            ("null".to_string(), serde_json::json!(2)),
        ]
    );
    let (report, code) = check_json(&file);
    assert_eq!(code, 0, "no conflicts, no restarts: {report}");
    let exposition = stdout_of(&["to-prometheus", &file]);
    for line in [
        r#"http_server_requests_total{http_route="/api/v1/orders",instance="orders-0",job="orders"} 2"#,
        r#"http_server_requests_total{http_route="/api/v1/orders",instance="orders-0",job="orders",otel_scope_name="io.opentelemetry.http",otel_scope_version="1.4.0"} 40"#,
        r#"http_server_requests_total{http_route="/api/v1/orders",instance="orders-0",job="orders",otel_scope_name="retry-middleware"} 6"#,
    ] {
        assert!(exposition.lines().any(|l| l == line), "{line} missing from:\n{exposition}");
    }
    let v = json(&["sum", "-w", "otel_scope_version=1.4.0", &file]);
    assert_eq!(v[0]["value"], 40);
}
