//! Replays the committed fuzz corpora (fuzz/corpus/*, found by `cargo +nightly fuzz
//! run parse_line` and `... run expose`): regression fixtures for every input the
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
            if let Ok(record) = metricsctl::record::parse_line(text) {
                parsed += 1;
                let _ = metricsctl::series::make_series(&record);
            }
        }
    }
    assert!(inputs > 1000, "the corpus is missing: {inputs} inputs in {}", dir.display());
    assert!(parsed > 0, "no corpus input parses: the seeds are gone");
}

#[test]
fn every_exposition_of_the_expose_corpus_is_valid() {
    use metricsctl::exposition::LiveExposition;
    use metricsctl::prometheus::{validate_exposition, ExpositionFormat};
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
