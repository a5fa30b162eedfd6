//! Fuzzes the record parser: any bytes must parse or fail with a reason, never panic;
//! whatever parses must also canonicalise (or fail cleanly) into a series identity.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(record) = metricsctl_format::record::parse_line(text) {
            let _ = metricsctl_format::series::make_series(&record);
        }
    }
});
