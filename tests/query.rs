//! `rate` and `quantile` against hand-computed values.

mod common;
use common::*;
use serde_json::json;

fn close(a: &serde_json::Value, b: f64) -> bool {
    (a.as_f64().unwrap_or(f64::NAN) - b).abs() < 1e-9
}

#[test]
fn rate_per_step_bucket() {
    // 20 s buckets aligned to the epoch; orders increases 10 | 15+15 | 5+7 | 20+10.
    let v = json(&["rate", "by", "route", "--step", "20s", "--route", "/api/v1/orders", &fixture("restarts.jsonl")]);
    let rows = v.as_array().unwrap();
    let got: Vec<(&str, f64)> =
        rows.iter().map(|r| (r["time"].as_str().unwrap(), r["rate"].as_f64().unwrap())).collect();
    assert_eq!(
        got,
        vec![
            ("2025-12-16T02:00:00Z", 0.5),
            ("2025-12-16T02:00:20Z", 1.5),
            ("2025-12-16T02:00:40Z", 0.6),
            ("2025-12-16T02:01:00Z", 1.5),
        ]
    );
    assert_eq!(rows[0]["route"], json!("/api/v1/orders"));
}

#[test]
fn rate_table_has_a_sparkline() {
    let out = stdout_of(&["rate", "--step", "10s", &fixture("restarts.jsonl")]);
    assert!(out.contains('▁') || out.contains('█'), "{out}");
    assert!(out.contains("avg/s"), "{out}");
}

#[test]
fn quantiles_whole_input() {
    let v = json(&["quantile", "by", "route", &fixture("histograms.jsonl")]);
    let orders = &v[0];
    assert_eq!(orders["route"], json!("/api/v1/orders"));
    assert_eq!(orders["count"], json!(30));
    // buckets per-bucket [0,2,8,10,6,3,1,0] over bounds .005 .01 .025 .05 .1 .25 .5 1
    assert!(close(&orders["p50"], 0.025 + 0.025 * 5.0 / 10.0), "{orders}");
    assert!(close(&orders["p90"], 0.1 + 0.15 * 1.0 / 3.0), "{orders}");
    // Interpolated 0.425, above the recorded max of 0.4: clamped to it.
    assert!(close(&orders["p99"], 0.4), "{orders}");
    assert!(close(&orders["mean"], 1.7 / 30.0));
    let users = &v[1];
    // cumulative form with +Inf: 7 of 8 observations <= 0.5, 1 above 1.
    assert!(close(&users["p50"], 0.05), "{users}");
    assert!(close(&users["p99"], 1.0), "{users}");
}

#[test]
fn quantiles_of_the_window_increase() {
    // increase between the two exports: [0,0,5,5,6,3,1,0] (count 20, sum 1.2)
    let v = json(&[
        "quantile",
        "0.5,0.9",
        "--since",
        "2025-12-16T10:00:20+08:00",
        "--route",
        "/api/v1/orders",
        &fixture("histograms.jsonl"),
    ]);
    assert_eq!(v[0]["count"], json!(20));
    assert!(close(&v[0]["p50"], 0.05), "{v}");
    assert!(close(&v[0]["p90"], 0.1 + 0.15 * 2.0 / 3.0), "{v}");
    assert!(close(&v[0]["mean"], 1.2 / 20.0), "{v}");
    assert!(v[0].get("p99").is_none());
}

#[test]
fn quantile_of_a_counter_is_refused_with_a_warning() {
    metricsctl()
        .args(["quantile", "-m", "http_server_requests_total", &fixture("restarts.jsonl")])
        .assert()
        .success()
        .stderr(predicates::str::contains("not histograms"));
}
