//! Fuzzes the template path of the block parser: the input's lines, and lines spliced
//! from them (one line's text around another's value), read through `parse_block` with
//! templates learnt must give what parsing each line alone gives; reading only the
//! newest values must give the same outcome for every line it reports. The same holds
//! for a parser whose templates rest (a cardinality explosion), which reads lines by
//! their metric's shape.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use metricsctl_reader::input::Block;
use metricsctl_reader::scan::{full_parse_outcome, BlockParser, LineOutcome, ScanOptions};
use metricsctl_format::template::Split;

type Outcomes = BTreeMap<u64, LineOutcome>;

fn scanned(text: &str, latest_only: bool, resting: bool) -> Outcomes {
    let options = ScanOptions { metrics: Default::default(), block_size: 1 << 20, latest_only };
    let block = || Block::from_bytes(0, text.as_bytes().to_vec());
    let mut parser = if resting { BlockParser::with_templates_resting() } else { BlockParser::default() };
    parser.parse(&block(), &options);
    parser.parse(&block(), &options).line_outcomes()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // A block of OTLP/JSON requests is read as their points' record lines, which parsing
    // each line alone does not do: not what this target compares.
    let first = text.split('\n').find(|l| !l.trim().is_empty()).map(|l| l.trim_start().trim_start_matches('\u{feff}'));
    if first.is_some_and(|l| l.starts_with('{') && l[1..].trim_start().starts_with("\"resourceMetrics\"")) {
        return;
    }
    let mut lines: Vec<String> =
        text.split('\n').filter(|l| !l.contains('\r') && !l.trim().is_empty()).map(str::to_string).collect();
    let parts: Vec<(String, String, String)> = lines
        .iter()
        .filter_map(|l| {
            let s = Split::new(l.as_bytes())?;
            let head = l.len() - s.value.len() - s.tail.len();
            Some((
                l[..head].to_string(),
                String::from_utf8_lossy(s.value).into_owned(),
                String::from_utf8_lossy(s.tail).into_owned(),
            ))
        })
        .collect();
    for (head, _, tail) in &parts {
        for (_, value, _) in &parts {
            lines.push(format!("{head}{value}{tail}"));
        }
    }
    let joined = lines.join("\n");
    let reference: Outcomes = lines.iter().enumerate().map(|(i, line)| (i as u64, full_parse_outcome(line))).collect();
    for resting in [false, true] {
        assert_eq!(scanned(&joined, false, resting), reference);
        for (line, outcome) in scanned(&joined, true, resting) {
            assert_eq!(Some(&outcome), reference.get(&line), "line {line}");
        }
    }
});
