//! Replays the committed fuzz corpora (fuzz/corpus/*, found by `cargo +nightly fuzz
//! run parse_line`, `... run expose` and `... run otlp_json`): regression fixtures for every input the
//! fuzzers found interesting. None may panic; every exposition must be valid, to our
//! strict reader and to promtool.

mod common;

#[test]
fn every_corpus_input_parses_or_fails_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse_line");
    let mut inputs = 0;
    let mut parsed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        inputs += 1;
        if let Ok(text) = std::str::from_utf8(&data) {
            if let Ok(record) = metricsctl_format::record::parse_line(text) {
                parsed += 1;
                let _ = metricsctl_format::series::make_series(&record);
            }
        }
    }
    assert!(inputs > 1000, "the corpus is missing: {inputs} inputs in {}", dir.display());
    assert!(parsed > 0, "no corpus input parses: the seeds are gone");
}

#[test]
fn every_otlp_json_corpus_input_converts_to_lines_that_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/otlp_json");
    let (mut inputs, mut converted) = (0, 0);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        inputs += 1;
        let mut out = Vec::new();
        if metricsctl_otel::otlp::convert_json_line(&data, &mut out).is_ok() {
            converted += 1;
            for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let text = std::str::from_utf8(line).unwrap();
                if let Err(e) = metricsctl_format::record::parse_line(text) {
                    panic!("a converted line does not parse ({e}): {text}");
                }
            }
        }
    }
    assert!(inputs > 50, "the corpus is missing: {inputs} inputs in {}", dir.display());
    assert!(converted > 10, "few corpus inputs convert: {converted}");
}

#[test]
fn every_exposition_of_the_expose_corpus_is_valid() {
    use metricsctl_prom::exposition::LiveExposition;
    use metricsctl_prom::text::ExpositionFormat;
    use metricsctl_prom::validate_exposition;
    common::require("promtool");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/expose");
    let mut inputs = 0;
    let mut nonempty = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        let data = std::fs::read(&path).unwrap();
        inputs += 1;
        let resource_labels = data.first().is_some_and(|b| b & 1 == 1);
        let mut live = LiveExposition::new(resource_labels);
        live.feed(0, data);
        let _ = live.take_error();
        for openmetrics in [false, true] {
            let bytes = live.render(ExpositionFormat { openmetrics }, None);
            let text = String::from_utf8(bytes).unwrap();
            if let Err(e) = validate_exposition(&text, openmetrics) {
                panic!("{}: {e}\n{text}", path.display());
            }
            if !openmetrics && text.contains("# TYPE") {
                nonempty.push((path.clone(), text));
            }
        }
    }
    assert!(inputs > 50, "the corpus is missing: {inputs} inputs in {}", dir.display());
    assert!(nonempty.len() > 20, "few inputs expose anything: {}", nonempty.len());
    // promtool, the reference linter, on a spread of them (it takes ~20 ms per run).
    let step = (nonempty.len() / 60).max(1);
    for (path, text) in nonempty.iter().step_by(step) {
        use std::io::Write;
        let mut child = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        // promtool exits 3 for lint findings (arbitrary fuzzed names may earn some) and
        // 1 with "error while linting" when it cannot parse the text: only that fails.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("error while linting") && !stderr.contains("parsing error"),
            "{}: promtool: {stderr}{}\n{text}",
            path.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// The `parse_line` corpus's inputs that are one line of UTF-8 each, in file order.
fn corpus_lines() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse_line");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| String::from_utf8(std::fs::read(p).unwrap()).ok())
        .filter(|t| !t.contains(['\n', '\r']) && !t.trim().is_empty())
        .collect()
}

/// The lines as one block, parsed twice by `parser`: the first pass teaches it, the
/// second is returned.
fn read_twice(
    mut parser: metricsctl_reader::scan::BlockParser,
    lines: &[String],
) -> metricsctl_reader::scan::ParsedChunk {
    use metricsctl_reader::input::Block;
    use metricsctl_reader::scan::ScanOptions;
    let options = ScanOptions { metrics: Default::default(), block_size: 1 << 20, latest_only: false };
    let block = || Block::from_bytes(0, lines.join("\n").into_bytes());
    parser.parse(&block(), &options);
    parser.parse(&block(), &options)
}

/// The corpus lines, and lines spliced from them (one line's text around another's
/// value: what a template must never take for its series), read through the block
/// parser with templates learnt give exactly what parsing each line alone gives.
#[test]
fn corpus_lines_and_splices_read_the_same_with_templates() {
    use metricsctl_format::template::Split;
    use metricsctl_reader::scan::{full_parse_outcome, BlockParser};
    use std::collections::BTreeMap;

    let mut lines = corpus_lines();
    let splittable: Vec<String> = lines.iter().filter(|l| Split::new(l.as_bytes()).is_some()).cloned().collect();
    let values: Vec<String> = splittable
        .iter()
        .filter_map(|l| Split::new(l.as_bytes()).map(|s| String::from_utf8_lossy(s.value).into_owned()))
        .collect();
    let mut spliced = 0;
    for (i, line) in splittable.iter().enumerate() {
        let split = Split::new(line.as_bytes()).unwrap();
        let head = line.len() - split.value.len() - split.tail.len();
        for value in values.iter().skip(i % 7).step_by(29) {
            lines.push(format!("{}{}{}", &line[..head], value, String::from_utf8_lossy(split.tail)));
            spliced += 1;
        }
    }
    assert!(splittable.len() > 100 && spliced > 1000, "{} splittable, {spliced} spliced", splittable.len());

    let reference: BTreeMap<u64, _> =
        lines.iter().enumerate().map(|(i, line)| (i as u64, full_parse_outcome(line))).collect();
    let second = read_twice(BlockParser::default(), &lines);
    // (Spliced lines with a bad value take the full parse, for its reason.)
    assert!(second.by_template > 100, "only {} lines read by template", second.by_template);
    let scanned = second.line_outcomes();
    for (line, want) in &reference {
        assert_eq!(scanned.get(line), Some(want), "line {}: {}", line, lines[*line as usize]);
    }
}

/// The corpus lines, and lines with another text in their first attribute value (plain,
/// or one that escapes, ends the string or the object early), read through a parser
/// whose templates rest (a cardinality explosion), so that shapes read them, give
/// exactly what parsing each line alone gives.
#[test]
fn corpus_lines_with_other_attribute_values_read_the_same_with_shapes() {
    use metricsctl_reader::scan::{full_parse_outcome, BlockParser};

    let mut lines = corpus_lines();
    let others = ["u42", "", "é", r#"a\"b"#, "\u{7}", r#"x","y":"z"#, r#"x"}"#, "{"];
    let mut varied = 0;
    for i in 0..lines.len() {
        let line = lines[i].clone();
        let Some(at) = line.find(r#""attributes":{""#) else { continue };
        let Some(colon) = line[at + 15..].find(r#"":""#).map(|c| at + 15 + c + 3) else { continue };
        let Some(end) = line[colon..].find('"').map(|e| colon + e) else { continue };
        for other in others {
            lines.push(format!("{}{other}{}", &line[..colon], &line[end..]));
            varied += 1;
        }
    }
    assert!(varied > 500, "{varied} lines with other attribute values");

    let second = read_twice(BlockParser::with_templates_resting(), &lines);
    assert!(second.by_shape > 300, "only {} lines read by shape", second.by_shape);
    let scanned = second.line_outcomes();
    for (i, line) in lines.iter().enumerate() {
        let want = full_parse_outcome(line);
        assert_eq!(scanned.get(&(i as u64)), Some(&want), "line {i}: {line}");
    }
}

/// The `promql` target's corpus: a query, then lines. Every query that parses is
/// evaluated over the lines without a panic (the first crash it found: a line dated
/// 1696 beside one of 2025, whose spacing overflowed; such a line is now bad).
#[test]
fn every_query_of_the_promql_corpus_answers_or_fails_cleanly() {
    use metricsctl_promql::eval::{EvalOptions, QueryTimes};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/promql");
    let mut evaluated = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        let Some(newline) = data.iter().position(|&b| b == b'\n') else { continue };
        let Ok(query) = std::str::from_utf8(&data[..newline]) else { continue };
        let Ok(expr) = metricsctl_promql::parse(query) else { continue };
        let index = metricsctl_promql::store::index_lines(&data[newline + 1..], false);
        let newest = index.newest().unwrap_or(0);
        for times in
            [QueryTimes::Instant(newest), QueryTimes::Range { start: newest - 60_000, end: newest, step: 15_000 }]
        {
            let _ = metricsctl_promql::evaluate(&index, &expr, times, &EvalOptions::default());
        }
        evaluated += 1;
    }
    assert!(evaluated >= 50, "{evaluated} queries in {}", dir.display());
}
