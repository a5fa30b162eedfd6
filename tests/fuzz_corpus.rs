//! Replays the committed fuzz corpus (fuzz/corpus/parse_line, found by
//! `cargo +nightly fuzz run parse_line`) through the parser: regression fixtures for
//! every input the fuzzer found interesting. None may panic.

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
