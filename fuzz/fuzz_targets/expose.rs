//! Fuzzes the Prometheus writer: whatever lines come in, the exposition that goes out
//! (text format and OpenMetrics, with and without --resource-labels) must pass the
//! strict reader, i.e. a scraper can always read what metricsctl serves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use metricsctl_prom::exposition::LiveExposition;
use metricsctl_prom::text::ExpositionFormat;
use metricsctl_prom::validate_exposition;

fuzz_target!(|data: &[u8]| {
    let resource_labels = data.first().is_some_and(|b| b & 1 == 1);
    let mut live = LiveExposition::new(resource_labels);
    live.feed(0, data.to_vec());
    let _ = live.take_error();
    for openmetrics in [false, true] {
        let bytes = live.render(ExpositionFormat { openmetrics }, None);
        let text = std::str::from_utf8(&bytes).expect("the exposition is UTF-8");
        if let Err(e) = validate_exposition(text, openmetrics) {
            panic!("invalid exposition ({e}):\n{text}");
        }
    }
});
