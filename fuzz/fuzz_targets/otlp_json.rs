//! Fuzzes the OTLP/JSON conversion: any line must convert or fail with a reason, never
//! panic, and every record line a conversion writes must parse as the format.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    if metricsctl_otlp::convert_json_line(data, &mut out).is_ok() {
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let text = std::str::from_utf8(line).expect("conversions write UTF-8");
            if let Err(e) = metricsctl_format::record::parse_line(text) {
                panic!("a converted line does not parse ({e}): {text}");
            }
        }
    }
});
