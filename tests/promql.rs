//! `metricsctl query` against a real Prometheus: the PromQL compliance corpus (adapted in
//! tests/promql/compliance.queries) evaluated by metricsctl over a generated file with
//! restarts and several instances, and by Prometheus over the same file backfilled
//! with `to-prometheus --history` and promtool, at several instants and as range
//! queries. Labels must agree exactly, values to 1e-6 relative.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use serde_json::Value;

use metricsctl_engine::filter::Filter;
use metricsctl_engine::query::QueryInput;
use metricsctl_promql::eval::{EvalOptions, QueryTimes};
use metricsctl_promql::store::{Horizon, SeriesIndex, SeriesStore};
use metricsctl_synth::generate::{generate, GenerateOptions};

/// The corpus's variant table (prometheus/compliance, promql/testcases/expand.go).
const VARIANTS: &[(&str, &[&str])] = &[
    ("range", &["1s", "15s", "1m", "5m", "15m", "1h"]),
    ("offset", &["1m", "5m", "10m"]),
    ("simpleAggrOp", &["sum", "avg", "max", "min", "count", "stddev", "stdvar"]),
    ("simpleTimeAggrOp", &["sum", "avg", "max", "min", "count", "stddev", "stdvar", "absent", "last"]),
    ("topBottomOp", &["topk", "bottomk"]),
    ("quantile", &["-0.5", "0.1", "0.5", "0.75", "0.95", "0.90", "0.99", "1", "1.5"]),
    ("arithBinOp", &["+", "-", "*", "/", "%", "^"]),
    ("compBinOp", &["==", "!=", "<", ">", "<=", ">="]),
    ("binOp", &["+", "-", "*", "/", "%", "^", "==", "!=", "<", ">", "<=", ">="]),
    ("simpleMathFunc", &["abs", "ceil", "floor", "exp", "sqrt", "ln", "log2", "log10", "round"]),
    ("extrapolatedRateFunc", &["delta", "rate", "increase"]),
    ("clampFunc", &["clamp_min", "clamp_max"]),
    ("instantRateFunc", &["idelta", "irate"]),
    ("dateFunc", &["day_of_month", "day_of_week", "days_in_month", "hour", "minute", "month", "year"]),
];

/// Every query of a template, one per combination of its variants.
fn expand(template: &str) -> Vec<String> {
    let Some(start) = template.find("{{.") else { return vec![template.to_string()] };
    let end = start + template[start..].find("}}").expect("closed placeholder");
    let name = &template[start + 3..end];
    let values = VARIANTS.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("unknown variant {name}")).1;
    let placeholder = &template[start..end + 2];
    values.iter().flat_map(|v| expand(&template.replace(placeholder, v))).collect()
}

fn corpus() -> Vec<String> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/promql/compliance.queries")).unwrap();
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).flat_map(expand).collect()
}

const START_SECS: i64 = 1_765_850_400;
const INTERVAL_SECS: i64 = 30;

/// A file of two services with two instances each, restarting now and then, exporting
/// every 30 s for about 100 minutes.
fn generated_file(dir: &Path) -> PathBuf {
    let path = dir.join("metrics.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let options = GenerateOptions {
        target_bytes: 28 << 20,
        services: 2,
        instances: 2,
        seed: 7,
        restart_every: 60,
        bad_line_every: 0,
        start_secs: START_SECS,
        interval_secs: INTERVAL_SECS,
        ..GenerateOptions::default()
    };
    let generated = generate(&mut file, &options).unwrap();
    assert!(generated.restarts >= 2, "{generated:?}");
    path
}

fn index_of(file: &Path) -> SeriesIndex {
    let input = QueryInput::new(&[file.to_path_buf()], Filter::default(), false, false).unwrap();
    let mut store = SeriesStore::new(false, Horizon::Everything);
    input.run(&mut store).unwrap();
    assert!(store.error.is_none());
    store.into_index()
}

/// A Prometheus holding the file's history, as promtool backfills it.
fn backfilled_prometheus(dir: &Path, file: &Path) -> (Prometheus, u16) {
    require("promtool");
    let om = dir.join("history.om");
    metricsctl()
        .args(["to-prometheus", "--history", "-o", om.to_str().unwrap(), file.to_str().unwrap()])
        .assert()
        .success();
    let out = StdCommand::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", om.to_str().unwrap(), dir.join("data").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "backfill failed: {}", String::from_utf8_lossy(&out.stderr));
    start_prometheus(dir, "global:\n  scrape_interval: 1h\n", &["--storage.tsdb.retention.time=100y"])
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Prometheus' answer: its `data`, or its error.
fn prometheus_answer(port: u16, query: &str, times: QueryTimes) -> Result<Value, String> {
    let path = match times {
        QueryTimes::Instant(t) => format!("/api/v1/query?query={}&time={}", encode(query), seconds(t)),
        QueryTimes::Range { start, end, step } => format!(
            "/api/v1/query_range?query={}&start={}&end={}&step={}",
            encode(query),
            seconds(start),
            seconds(end),
            seconds(step)
        ),
    };
    let body = http_get(port, &path).expect("prometheus answered");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    if v["status"] == "success" {
        Ok(v["data"].clone())
    } else {
        Err(v["error"].as_str().unwrap_or("?").to_string())
    }
}

fn our_answer(index: &SeriesIndex, query: &str, times: QueryTimes, options: &EvalOptions) -> Result<Value, String> {
    let expr = metricsctl_promql::parse(query)?;
    metricsctl_promql::evaluate(index, &expr, times, options).map(|r| r.to_json()).map_err(|e| format!("{e:#}"))
}

fn close(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (Ok(x), Ok(y)) = (a.parse::<f64>(), b.parse::<f64>()) else { return false };
    if x.is_nan() || y.is_nan() || x.is_infinite() || y.is_infinite() {
        return x.is_nan() && y.is_nan() || x == y;
    }
    (x - y).abs() <= 1e-6 * x.abs().max(y.abs()) || (x - y).abs() < 1e-12
}

/// Series of a result keyed by their labels, each with its (time, value) points.
fn points(data: &Value) -> (String, BTreeMap<String, Vec<(String, String)>>) {
    let kind = data["resultType"].as_str().unwrap_or("?").to_string();
    let point = |p: &Value| (p[0].to_string(), p[1].as_str().unwrap_or("?").to_string());
    let mut out = BTreeMap::new();
    match kind.as_str() {
        "scalar" | "string" => {
            out.insert(String::new(), vec![point(&data["result"])]);
        }
        _ => {
            for s in data["result"].as_array().into_iter().flatten() {
                let key = serde_json::to_string(&s["metric"]).unwrap();
                let values = match s.get("values") {
                    Some(v) => v.as_array().unwrap().iter().map(point).collect(),
                    None => vec![point(&s["value"])],
                };
                out.insert(key, values);
            }
        }
    }
    (kind, out)
}

/// Why two answers differ, or None when they agree.
fn difference(ours: &Result<Value, String>, theirs: &Result<Value, String>) -> Option<String> {
    match (ours, theirs) {
        (Err(_), Err(_)) => None,
        (Err(e), Ok(_)) => Some(format!("metricsctl failed ({e}), Prometheus answered")),
        (Ok(_), Err(e)) => Some(format!("Prometheus failed ({e}), metricsctl answered")),
        (Ok(a), Ok(b)) => {
            let ((ka, pa), (kb, pb)) = (points(a), points(b));
            if ka != kb {
                return Some(format!("result type {ka} vs {kb}"));
            }
            let keys_a: Vec<&String> = pa.keys().collect();
            let keys_b: Vec<&String> = pb.keys().collect();
            if keys_a != keys_b {
                let only_ours: Vec<_> = pa.keys().filter(|k| !pb.contains_key(*k)).take(3).collect();
                let only_theirs: Vec<_> = pb.keys().filter(|k| !pa.contains_key(*k)).take(3).collect();
                return Some(format!(
                    "{} series vs {}; only ours: {only_ours:?}; only Prometheus': {only_theirs:?}",
                    pa.len(),
                    pb.len()
                ));
            }
            for (k, va) in &pa {
                let vb = &pb[k];
                if va.len() != vb.len() {
                    return Some(format!("{k}: {} points vs {}", va.len(), vb.len()));
                }
                for (x, y) in va.iter().zip(vb) {
                    if x.0 != y.0 || !close(&x.1, &y.1) {
                        return Some(format!("{k}: {x:?} vs {y:?}"));
                    }
                }
            }
            None
        }
    }
}

#[test]
fn the_compliance_corpus_agrees_with_a_real_prometheus() {
    require("prometheus");
    let dir = tempfile::tempdir().unwrap();
    let file = generated_file(dir.path());
    let index = index_of(&file);
    let newest = index.newest().unwrap();
    let first = START_SECS * 1000;
    let (_server, port) = backfilled_prometheus(dir.path(), &file);

    // Instants at the newest sample, between samples, near the start and in the middle;
    // ranges over most of the file and over a stretch with a step off the samples' grid.
    let times = [
        QueryTimes::Instant(newest),
        QueryTimes::Instant(newest - 17 * 60_000 - 13_000),
        QueryTimes::Instant(first + 2 * 60_000),
        QueryTimes::Instant((first + newest) / 2),
        QueryTimes::Range { start: first + 5 * 60_000, end: newest, step: 60_000 },
        QueryTimes::Range { start: newest - 40 * 60_000, end: newest - 10 * 60_000, step: 97_000 },
    ];
    let options = EvalOptions::default();
    let queries = corpus();
    assert!(queries.len() > 500, "{} queries", queries.len());
    let mut disagreements = Vec::new();
    let mut evaluations = 0;
    let (mut both_failed, mut empty) = (Vec::new(), 0);
    for query in &queries {
        for &t in &times {
            evaluations += 1;
            let ours = our_answer(&index, query, t, &options);
            let theirs = prometheus_answer(port, query, t);
            match difference(&ours, &theirs) {
                Some(why) => disagreements.push(format!("{query} at {t:?}: {why}")),
                None if theirs.is_err() => both_failed.push(format!("{query}: {}", theirs.unwrap_err())),
                None if theirs.as_ref().is_ok_and(|d| points(d).1.is_empty()) => empty += 1,
                None => {}
            }
        }
    }
    // The binary itself: its metric pre-check, the horizon it keeps, the default time
    // (the newest sample) and its JSON, on the corpus's first queries of each kind.
    let mut seen_templates = std::collections::HashSet::new();
    for query in
        queries.iter().filter(|q| seen_templates.insert(q.split(['(', '{', ' ']).next().unwrap_or("").to_string()))
    {
        for (args, t) in [
            (vec![], QueryTimes::Instant(newest)),
            (
                vec![
                    "--start".to_string(),
                    seconds(first + 5 * 60_000),
                    "--end".into(),
                    seconds(newest),
                    "--step".into(),
                    "60s".into(),
                ],
                QueryTimes::Range { start: first + 5 * 60_000, end: newest, step: 60_000 },
            ),
        ] {
            evaluations += 1;
            let out = metricsctl()
                .args(["query", "--format", "json", query.as_str(), file.to_str().unwrap()])
                .args(&args)
                .output()
                .unwrap();
            let ours = if out.status.success() {
                Ok(serde_json::from_slice(&out.stdout)
                    .unwrap_or_else(|e| panic!("{query}: {e}: {:?}", String::from_utf8_lossy(&out.stdout))))
            } else {
                Err(String::from_utf8_lossy(&out.stderr).into_owned())
            };
            let theirs = prometheus_answer(port, query, t);
            match difference(&ours, &theirs) {
                Some(why) => disagreements.push(format!("metricsctl query {query} {args:?}: {why}")),
                None if theirs.is_err() => both_failed.push(format!("{query}: {}", theirs.unwrap_err())),
                None if theirs.as_ref().is_ok_and(|d| points(d).1.is_empty()) => empty += 1,
                None => {}
            }
        }
    }
    let answered = evaluations - disagreements.len() - empty - both_failed.len();
    eprintln!(
        "{} queries, {evaluations} evaluations: {} agree with Prometheus ({answered} with series or a value, {empty} \
         empty, {} errors on both sides)",
        queries.len(),
        evaluations - disagreements.len(),
        both_failed.len()
    );
    both_failed.dedup();
    // Agreement is about answers: most evaluations have one, and only the corpus's
    // should-fail queries (and one many-to-one without group_left) fail.
    assert!(answered > evaluations * 3 / 4, "{answered} of {evaluations} answered");
    assert!(both_failed.len() <= 10, "{both_failed:#?}");
    assert!(
        disagreements.is_empty(),
        "{} of {evaluations} disagree:\n{}",
        disagreements.len(),
        disagreements.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// `--exact` is the increase `sum` counts: reset-aware, from the samples, not
/// extrapolated. Over a file with restarts, Prometheus' increase() differs from it.
#[test]
fn exact_increase_by_route_equals_sum_by_route() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated_file(dir.path());
    let file = file.to_str().unwrap();
    let query = |extra: &[&str], q: &str| -> BTreeMap<String, f64> {
        let mut args = vec!["query", "--format", "json"];
        args.extend_from_slice(extra);
        args.extend([q, file]);
        let out = stdout_of(&args);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["resultType"], "vector", "{v}");
        v["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let route = r["metric"]["http_route"].as_str().unwrap().to_string();
                (route, r["value"][1].as_str().unwrap().parse().unwrap())
            })
            .collect()
    };
    let increase = "sum by (http_route) (increase(http_server_requests_total[1h]))";
    let exact = query(&["--exact"], increase);
    let summed: BTreeMap<String, f64> =
        sum_by("route", &["--since", "1h", file]).into_iter().map(|(route, v)| (route, v.as_f64().unwrap())).collect();
    assert!(exact.len() >= 4, "{exact:?}");
    assert_eq!(exact, summed);
    // The exact rate is the same increase per second of the range.
    let rate = query(&["--exact"], "sum by (http_route) (rate(http_server_requests_total[1h]))");
    for (route, r) in &rate {
        assert!((r * 3600.0 - exact[route]).abs() < 1e-6 * exact[route], "{route}: {r} vs {}", exact[route]);
    }
    // Prometheus' extrapolated increase is another number.
    let extrapolated = query(&[], increase);
    assert_eq!(extrapolated.keys().collect::<Vec<_>>(), exact.keys().collect::<Vec<_>>());
    assert!(extrapolated.iter().any(|(route, v)| (v - exact[route]).abs() > 0.5), "{extrapolated:?} vs {exact:?}");
}

#[test]
fn bad_queries_are_usage_errors_and_missing_metrics_are_empty() {
    let out = metricsctl().args(["query", "sum(rate(x[5m])", &fixture("restarts.jsonl")]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot parse the query") && stderr.contains("unclosed left parenthesis"), "{stderr}");

    let v = json(&["query", "nonexistent_metric", &fixture("restarts.jsonl")]);
    assert_eq!(v, serde_json::json!({"resultType": "vector", "result": []}));

    let out = metricsctl().args(["query", "--start", "1h", "x", &fixture("restarts.jsonl")]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "--start without --end");
}

#[test]
fn range_queries_are_tables_with_sparklines_and_csv_rows() {
    let input = fixture("restarts.jsonl");
    let table = stdout_of(&[
        "query",
        "--start",
        "2025-12-16T10:00:00+08:00",
        "--end",
        "2025-12-16T10:00:50+08:00",
        "--step",
        "10s",
        "sum by (instance) (http_server_requests_total)",
        &input,
    ]);
    assert!(table.contains("instance") && table.contains("over time"), "{table}");
    assert!(table.contains('▁') || table.contains('█'), "{table}");
    let csv = stdout_of(&[
        "query",
        "--format",
        "csv",
        "--time",
        "2025-12-16T10:00:50+08:00",
        "http_server_requests_total{http_route=\"/api/v1/orders\"}",
        &input,
    ]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("metric,http_method,http_route,http_status_code,instance,job,status,time,value"),
        "{csv}"
    );
    assert!(lines.all(|l| l.starts_with("http_server_requests_total,GET,/api/v1/orders,")), "{csv}");
}
