//! One million distinct series (a user id as a label, the cardinality trap docs/FORMAT.md warns of):
//! exact answers, a clear warning, and memory that grows with the series, bounded per
//! series. One test in this binary, so that the children's peak RSS is its own.

mod common;
use common::*;

use std::io::Write;

const SERIES: u64 = 1_000_000;

fn children_peak_rss_bytes() -> u64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage
    };
    usage.ru_maxrss as u64 * 1024
}

#[test]
fn a_million_series_give_exact_answers_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cardinality.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut total = 0u64;
    for i in 0..SERIES {
        let value = i % 7 + 1;
        total += value;
        writeln!(
            out,
            r#"{{"timestamp":"2025-12-16T10:00:00Z","service_name":"sre","metric_name":"http_server_requests_total","metric_type":"counter","value":{value},"attributes":{{"http.method":"GET","http.route":"/api/v1/orders","user_id":"u{i}"}},"resource":{{"service.instance.id":"a"}}}}"#
        )
        .unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let file = path.to_str().unwrap();

    let rows = json(&["sum", "by", "route", file]);
    assert_eq!(rows[0]["value"], total, "{rows}");
    let sum_peak = children_peak_rss_bytes();

    let check = metricsctl().args(["check", file]).output().unwrap();
    assert_eq!(check.status.code(), Some(1), "a cardinality problem is a problem");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(report.contains("user_id (1000000 values)"), "{report}");
    let peak = children_peak_rss_bytes();

    // Measured: about 1.2 KB per series (catalog, engine state, caches), 1.2 GB here.
    let per_series = peak / SERIES;
    eprintln!("peak RSS: sum {} MB, sum and check {} MB ({per_series} B/series)", sum_peak >> 20, peak >> 20);
    assert!(per_series < 2048, "{per_series} bytes per series");
}
