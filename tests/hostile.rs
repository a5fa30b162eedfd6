//! Hostile input never panics: random bytes, truncations and bit flips of valid lines
//! are either parsed or reported as bad lines, with exact line numbers.

use std::io::Write;

use metricsctl_engine::filter::Filter;
use metricsctl_engine::query::{self, QueryOptions};
use metricsctl_engine::sum::SumSink;
use metricsctl_format::record::parse_line;
use metricsctl_reader::input::Source;
use proptest::prelude::*;

const VALID: &[&str] = &[
    r#"{"timestamp":"2025-12-16T09:30:17.594+0800","service_name":"sre","metric_name":"http_server_requests_total","metric_type":"counter","value":1234,"unit":"1","description":"Total number of HTTP requests","attributes":{"http.method":"POST","http.route":"/api/v1/orders","http.status_code":200,"status":"success"},"resource":{"service.name":"sre","service.instance.id":"sre-0"}}"#,
    r#"{"timestamp":"2025-12-16T09:30:17.594+0800","service_name":"sre","metric_name":"http_server_request_duration_seconds","metric_type":"histogram","value":{"count":100,"sum":5.234,"min":0.001,"max":0.5,"buckets":[{"upper_bound":0.005,"count":10},{"upper_bound":0.01,"count":20},{"upper_bound":0.025,"count":30},{"upper_bound":"+Inf","count":40}]},"attributes":{"http.method":"POST","http.route":"/api/v1/orders"}}"#,
    r#"{"timestamp":"2025-12-16T09:30:10.000+0800","metric_name":"http_server_requests_total","value":10,"attributes":{"http.route":"/api/v1/orders"}}"#,
];

/// Runs the whole reader (blocks, parallel parse, engine) over `content`; returns the
/// bad lines it counted. Panics propagate as test failures.
fn bad_lines_of(content: &[u8], block_size: usize) -> u64 {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(content).unwrap();
    let sources = vec![Source::from_arg(f.path())];
    let filter = Filter::metrics(&["*"]).unwrap();
    let options = QueryOptions { keep_bad: 100, block_size, ..QueryOptions::default() };
    let mut sink = SumSink::new(vec![]);
    let (_, report) = query::run(&sources, &filter, &options, &mut sink).expect("no error on bad input");
    report.bad[0].count
}

fn mutated_line() -> impl Strategy<Value = Vec<u8>> {
    (0..VALID.len(), any::<prop::sample::Index>(), any::<u8>(), 0u8..3).prop_map(|(which, at, byte, how)| {
        let mut line = VALID[which].as_bytes().to_vec();
        let i = at.index(line.len());
        match how {
            0 => line.truncate(i),
            1 => line[i] ^= byte.max(1),
            _ => line.insert(i, byte),
        }
        line.retain(|&b| b != b'\n');
        line
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = parse_line(text);
        }
        let _ = bad_lines_of(&bytes, 64);
    }

    #[test]
    fn truncated_and_flipped_lines_are_parsed_or_counted(lines in prop::collection::vec(mutated_line(), 1..8), block_size in 16usize..512) {
        let mut content = Vec::new();
        let mut expected_bad = 0u64;
        for line in &lines {
            let parsed_ok = std::str::from_utf8(line).map(|t| parse_line(t).is_ok()).unwrap_or(false);
            let blank = line.iter().all(u8::is_ascii_whitespace);
            if !parsed_ok && !blank {
                expected_bad += 1;
            }
            content.extend_from_slice(line);
            content.push(b'\n');
        }
        // Lines whose labels cannot be canonicalised (duplicate keys) are bad too: the
        // reader may count more than the line parser alone, never fewer.
        let counted = bad_lines_of(&content, block_size);
        prop_assert!(counted >= expected_bad, "counted {counted}, expected at least {expected_bad}");
        prop_assert!(counted <= lines.len() as u64);
    }
}

/// Every (line number, outcome) the parallel reader produces from `source`.
fn outcomes_of(source: Source, block_size: usize) -> Vec<(u64, Result<String, String>)> {
    use metricsctl_reader::scan::{scan, ScanOptions};
    let options = ScanOptions { metrics: Default::default(), block_size, latest_only: false };
    let mut out = Vec::new();
    scan(&[source], &options, |origin, chunk| {
        out.extend(chunk.line_outcomes().into_iter().map(|(line, outcome)| (origin.first_line + line, outcome)));
        Ok(())
    })
    .unwrap();
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// A plain file, read in ranges by the parser threads themselves, gives the same
    /// lines, numbers and outcomes as the same bytes streamed (gzip) through one reader,
    /// whatever the block size: empty lines, CRLF, no final newline, lines longer than
    /// a block.
    #[test]
    fn file_ranges_read_what_a_stream_reads(
        lines in prop::collection::vec(prop_oneof![
            4 => (0..VALID.len()).prop_map(|i| VALID[i].as_bytes().to_vec()),
            2 => mutated_line(),
            1 => Just(Vec::new()),
            1 => (0..VALID.len()).prop_map(|i| format!("{}\r", VALID[i]).into_bytes()),
        ], 0..30),
        final_newline in any::<bool>(),
        block_size in 1usize..2000,
    ) {
        let mut content = lines.join(&b'\n');
        if final_newline && !content.is_empty() {
            content.push(b'\n');
        }
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("m.jsonl");
        std::fs::write(&plain, &content).unwrap();
        let gz = dir.path().join("m.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(&content).unwrap();
        enc.finish().unwrap();
        let from_file = outcomes_of(Source::from_arg(&plain), block_size);
        prop_assert_eq!(&from_file, &outcomes_of(Source::from_arg(&gz), block_size));
        prop_assert_eq!(&from_file, &outcomes_of(Source::from_arg(&plain), 1 << 20));
    }
}
