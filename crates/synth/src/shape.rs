//! The same records as other writers put them on a line (docs/FORMAT.md allows all of
//! these): what the reader must read as fast and as exactly as this project's own
//! lines. A shape rewrites each line the writer produced; the records, and so every
//! answer, stay the same.

use serde_json::{Map, Value};

use metricsctl_format::timestamp::{civil_from_days, parse_rfc3339, NANOS_PER_SEC};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// This project's writer, unchanged.
    #[default]
    Writer,
    /// The reference design's Go exporter: histograms without the "+Inf" bucket (the overflow is the
    /// count minus the other buckets), min and max, the resource on every line.
    GoExporter,
    /// No resource object: the service name is the only identity (one instance per
    /// service, or the instances could not be told apart).
    NoResource,
    /// Times in UTC with nanoseconds (`2025-12-16T01:30:17.594000000Z`), as Go's
    /// RFC3339Nano writes them.
    UtcNanos,
    /// Times with a `+08:00` offset.
    ColonOffset,
    /// Keys in the opposite of the writer's order, at the top and inside histograms.
    Reordered,
}

impl Shape {
    pub const ALL: [Shape; 6] =
        [Shape::Writer, Shape::GoExporter, Shape::NoResource, Shape::UtcNanos, Shape::ColonOffset, Shape::Reordered];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Writer => "writer",
            Shape::GoExporter => "go",
            Shape::NoResource => "no-resource",
            Shape::UtcNanos => "utc-nanos",
            Shape::ColonOffset => "colon-offset",
            Shape::Reordered => "reordered",
        }
    }

    pub fn parse(name: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Appends `line` (one record, without its newline) in this shape, and a newline.
    /// A line that is not a JSON object (a bad line on purpose) is kept as it is.
    pub fn rewrite(self, line: &[u8], out: &mut Vec<u8>) {
        let parsed = match self {
            Shape::Writer => None,
            _ => serde_json::from_slice::<Value>(line).ok(),
        };
        let Some(Value::Object(mut record)) = parsed else {
            out.extend_from_slice(line);
            out.push(b'\n');
            return;
        };
        match self {
            Shape::Writer => {}
            Shape::GoExporter => {
                record.remove("start_timestamp");
                if let Some(Value::Array(buckets)) = record.get_mut("value").and_then(|v| v.get_mut("buckets")) {
                    if buckets.last().and_then(|b| b.get("upper_bound")).and_then(Value::as_str) == Some("+Inf") {
                        buckets.pop();
                    }
                }
            }
            Shape::NoResource => {
                record.remove("resource");
            }
            Shape::UtcNanos => retime(&mut record, |t| {
                let mut text = metricsctl_format::timestamp::format_utc(t - t.rem_euclid(NANOS_PER_SEC));
                text.pop();
                format!("{text}.{:09}Z", t.rem_euclid(NANOS_PER_SEC))
            }),
            Shape::ColonOffset => retime(&mut record, |t| with_offset(t, 8 * 3600)),
            Shape::Reordered => {
                if let Some(Value::Object(value)) = record.get_mut("value") {
                    *value = reversed(std::mem::take(value));
                }
                record = reversed(record);
            }
        }
        serde_json::to_writer(&mut *out, &Value::Object(record)).expect("writing to a Vec");
        out.push(b'\n');
    }
}

fn reversed(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.reverse();
    entries.into_iter().collect()
}

fn retime(record: &mut Map<String, Value>, format: impl Fn(i64) -> String) {
    for key in ["timestamp", "start_timestamp"] {
        if let Some(Value::String(text)) = record.get_mut(key) {
            if let Ok(t) = parse_rfc3339(text) {
                *text = format(t);
            }
        }
    }
}

/// RFC 3339 with milliseconds at a `+HH:MM` offset.
fn with_offset(nanos: i64, offset_secs: i64) -> String {
    let local = nanos + offset_secs * NANOS_PER_SEC;
    let secs = local.div_euclid(NANOS_PER_SEC);
    let millis = local.rem_euclid(NANOS_PER_SEC) / 1_000_000;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let off = offset_secs.abs();
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}{sign}{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        off / 3600,
        off / 60 % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use metricsctl_format::record::parse_line;

    const COUNTER: &str = r#"{"timestamp":"2025-12-16T09:30:17.594+0800","service_name":"sre","metric_name":"http_server_requests_total","metric_type":"counter","value":1234,"attributes":{"http.route":"/a"},"resource":{"service.name":"sre","service.instance.id":"sre-0"},"start_timestamp":"2025-12-16T09:00:00.000+0800"}"#;
    const HISTOGRAM: &str = r#"{"timestamp":"2025-12-16T09:30:17.594+0800","service_name":"sre","metric_name":"d","metric_type":"histogram","value":{"count":3,"sum":0.5,"min":0.1,"max":0.3,"buckets":[{"upper_bound":0.25,"count":2},{"upper_bound":"+Inf","count":1}]},"resource":{"service.name":"sre"}}"#;

    /// Every shape reads as the same record (the resource and start time aside, which
    /// the shapes drop on purpose).
    #[test]
    fn every_shape_holds_the_same_record() {
        for line in [COUNTER, HISTOGRAM] {
            let original = parse_line(line).unwrap();
            for shape in Shape::ALL {
                let mut out = Vec::new();
                shape.rewrite(line.as_bytes(), &mut out);
                let text = std::str::from_utf8(&out).unwrap();
                assert!(text.ends_with('\n') && text.matches('\n').count() == 1, "{shape:?}: {text}");
                let reshaped = parse_line(text.trim_end()).unwrap_or_else(|e| panic!("{shape:?}: {e}: {text}"));
                assert_eq!(reshaped.timestamp, original.timestamp, "{shape:?}: {text}");
                assert_eq!(reshaped.value, original.value, "{shape:?}: {text}");
                assert_eq!(reshaped.attributes.map(|a| a.get()), original.attributes.map(|a| a.get()), "{shape:?}");
                if shape != Shape::Writer {
                    assert_ne!(text.trim_end(), line, "{shape:?} changed nothing");
                }
            }
        }
        let mut out = Vec::new();
        Shape::GoExporter.rewrite(HISTOGRAM.as_bytes(), &mut out);
        assert!(!String::from_utf8_lossy(&out).contains("+Inf"));
        out.clear();
        Shape::UtcNanos.rewrite(COUNTER.as_bytes(), &mut out);
        assert!(String::from_utf8_lossy(&out).contains(r#""timestamp":"2025-12-16T01:30:17.594000000Z""#));
        out.clear();
        Shape::ColonOffset.rewrite(COUNTER.as_bytes(), &mut out);
        assert!(String::from_utf8_lossy(&out).contains(r#""timestamp":"2025-12-16T09:30:17.594+08:00""#));
        out.clear();
        Shape::Reordered.rewrite(COUNTER.as_bytes(), &mut out);
        assert!(String::from_utf8_lossy(&out).starts_with(r#"{"start_timestamp""#));
    }
}
