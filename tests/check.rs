//! `check`: bad lines, cardinality, naming, restarts; exit 1 on problems.

mod common;
use common::*;
use predicates::prelude::*;

#[test]
fn clean_file_passes() {
    let (v, code) = check_json(&fixture("restarts.jsonl"));
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["lines"], 20);
    assert_eq!(v["series"], 3);
    let restarts = v["processes"][0]["restarts"].as_array().unwrap();
    assert_eq!(restarts.len(), 2, "{v:#}");
    assert!(restarts[0]["reason"].as_str().unwrap().contains("decreased"));
    assert!(restarts[1]["reason"].as_str().unwrap().contains("vanished"));
    assert_eq!(restarts[1]["time"], "2025-12-16T02:01:00Z");
}

#[test]
fn every_kind_of_bad_line_is_reported_with_its_line_number() {
    let (v, code) = check_json(&fixture("bad_lines.jsonl"));
    assert_eq!(code, 1);
    assert_eq!(v["bad_lines"], 13);
    let bad = v["files"][0]["first_bad_lines"].as_array().unwrap();
    let lines: Vec<u64> = bad.iter().map(|b| b["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16]);
    let reasons: Vec<&str> = bad.iter().map(|b| b["reason"].as_str().unwrap()).collect();
    for (i, want) in [
        (0, "invalid JSON"),
        (1, "truncated"),
        (2, "timestamp"),
        (3, "invalid timestamp"),
        (4, "metric_name"),
        (5, "expected a number"),
        (6, "unknown metric_type"),
        (7, "exceed count"),
        (8, "duplicate key"),
        (9, "must be an object"),
        (10, "UTF-8"),
        (12, "truncated"),
    ] {
        assert!(reasons[i].contains(want), "line {}: {} lacks {want}", lines[i], reasons[i]);
    }
}

#[test]
fn table_report_names_file_line_and_reason() {
    metricsctl()
        .args(["check", &fixture("bad_lines.jsonl")])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("bad_lines.jsonl:16: truncated JSON"))
        .stdout(predicate::str::contains("13 bad line(s)"));
}

#[test]
fn high_cardinality_and_naming_problems() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.jsonl");
    let mut text = String::new();
    for i in 0..150 {
        text.push_str(&format!(
            "{{\"timestamp\":\"2025-01-01T00:00:00Z\",\"metric_name\":\"http_server_requests_total\",\"metric_type\":\"counter\",\"value\":1,\"attributes\":{{\"user_id\":{i},\"path\":\"/p/{i}\"}}}}\n"
        ));
    }
    text.push_str("{\"timestamp\":\"2025-01-01T00:00:00Z\",\"metric_name\":\"httpRequests\",\"metric_type\":\"counter\",\"value\":1}\n");
    text.push_str("{\"timestamp\":\"2025-01-01T00:00:00Z\",\"metric_name\":\"http_requests\",\"metric_type\":\"counter\",\"value\":1}\n");
    text.push_str("{\"timestamp\":\"2025-01-01T00:00:00Z\",\"metric_name\":\"latency\",\"value\":{\"count\":0,\"sum\":0,\"buckets\":[]}}\n");
    std::fs::write(&path, text).unwrap();
    let (v, code) = check_json(path.to_str().unwrap());
    assert_eq!(code, 1);
    let problems: Vec<&str> = v["problems"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    let has = |s: &str| problems.iter().any(|p| p.contains(s));
    assert!(has("label user_id"), "{problems:?}");
    assert!(has("high-cardinality label path (150 distinct values"), "{problems:?}");
    assert!(has("httpRequests is not lower snake_case"), "{problems:?}");
    assert!(has("http_requests is a counter but does not end in _total"), "{problems:?}");
    assert!(has("latency is a histogram without a unit suffix"), "{problems:?}");
    assert_eq!(v["inferred_types"], 1);
}

#[test]
fn instances_sharing_a_resource_are_a_problem() {
    let (v, code) = check_json(&fixture("two_instances_no_resource.jsonl"));
    assert_eq!(code, 1);
    let problems = v["problems"].as_array().unwrap();
    assert!(problems.iter().any(|p| p.as_str().unwrap().contains("several instances")), "{v:#}");
    let (v, code) = check_json(&fixture("two_instances.jsonl"));
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["processes"].as_array().unwrap().len(), 2);
}

#[test]
fn seed_examples_are_valid_and_missing_fields_are_inferred() {
    let (v, code) = check_json(&fixture("seed_examples.jsonl"));
    assert_eq!(code, 0, "{v:#}");
    let (v, code) = check_json(&fixture("seed_timeline.jsonl"));
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["inferred_types"], 3);
    assert_eq!(v["processes"][0]["service"], "unknown_service");
}
