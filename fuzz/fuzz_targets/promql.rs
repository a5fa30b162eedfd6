//! Fuzzes `metricsctl query`: the first line is a PromQL query, the rest metrics lines.
//! Whatever the query and the lines, evaluation answers or errs, never panics, and a
//! JSON answer is Prometheus' API shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use metricsctl_promql::eval::{EvalOptions, QueryTimes};
use metricsctl_promql::store::index_lines;

fuzz_target!(|data: &[u8]| {
    let (query, lines) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(query) = std::str::from_utf8(query) else { return };
    let Ok(expr) = metricsctl_promql::parse(query) else { return };
    let index = index_lines(lines, false);
    let newest = index.newest().unwrap_or(0);
    let options = EvalOptions::default();
    for times in [
        QueryTimes::Instant(newest),
        QueryTimes::Instant(newest - 61_000),
        QueryTimes::Range { start: newest - 120_000, end: newest, step: 15_000 },
    ] {
        if let Ok(result) = metricsctl_promql::evaluate(&index, &expr, times, &options) {
            let json = result.to_json();
            assert!(json["resultType"].is_string() && !json["result"].is_null(), "{json}");
        }
    }
});
