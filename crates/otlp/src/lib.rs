//! OTLP metrics (the official `opentelemetry-proto` types) to lines of the record format (docs/FORMAT.md).
//!
//! Every data point becomes one line. The resource becomes `resource` (and
//! `service.name` the `service_name`), the instrumentation scope `scope` (its name and
//! version; its attributes are not kept). Monotonic sums are counters, non-monotonic cumulative sums and
//! gauges are gauges, explicit-bucket histograms are histograms; delta points carry
//! `"temporality":"delta"`. What the format cannot carry is rejected and counted, never
//! dropped unsaid: exponential histograms, summaries, non-monotonic delta sums, NaN and
//! infinite values, points without a value.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, DataPointFlags, HistogramDataPoint, NumberDataPoint,
};

use metricsctl_format::write::{histogram_value, json_string, push_line, scope_json, JsonNumber, LineHead, Point};

/// What one request turned into.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Conversion {
    /// Lines written.
    pub points: u64,
    /// Points the format cannot carry, by reason.
    pub rejected: BTreeMap<String, u64>,
}

impl Conversion {
    pub fn rejected_points(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// One message naming every reason, for the OTLP partial-success response.
    pub fn rejection_message(&self) -> String {
        self.rejected.iter().map(|(reason, n)| format!("{n} rejected: {reason}")).collect::<Vec<_>>().join("; ")
    }

    fn reject(&mut self, reason: String, points: usize) {
        if points > 0 {
            *self.rejected.entry(reason).or_default() += points as u64;
        }
    }

    pub fn add(&mut self, other: &Conversion) {
        self.points += other.points;
        for (reason, n) in &other.rejected {
            *self.rejected.entry(reason.clone()).or_default() += n;
        }
    }
}

fn any_value_json(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => json_string(s),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.json().unwrap_or_else(|| json_string(&d.to_string())),
        // Arrays, maps and bytes are not label values anywhere this format goes: kept as
        // their text, so that they still tell series apart.
        Some(any_value::Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(|v| any_value_json(Some(v))).collect();
            json_string(&format!("[{}]", items.join(",")))
        }
        Some(any_value::Value::KvlistValue(kv)) => json_string(&attributes_json(&kv.values)),
        Some(any_value::Value::BytesValue(b)) => {
            json_string(&b.iter().map(|byte| format!("{byte:02x}")).collect::<String>())
        }
        Some(any_value::Value::StringValueStrindex(i)) => json_string(&format!("strindex:{i}")),
        None => "null".into(),
    }
}

/// Attributes as a JSON object sorted by key (one series, one spelling); a repeated key
/// keeps its first value.
fn attributes_json(attributes: &[KeyValue]) -> String {
    let mut sorted: Vec<&KeyValue> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    sorted.dedup_by(|a, b| a.key == b.key);
    let mut out = String::from("{");
    for (i, kv) in sorted.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_string(&kv.key));
        out.push(':');
        out.push_str(&any_value_json(kv.value.as_ref()));
    }
    out.push('}');
    out
}

fn time(nanos: u64, received: i64) -> i64 {
    if nanos == 0 {
        received
    } else {
        i64::try_from(nanos).unwrap_or(i64::MAX)
    }
}

fn start(nanos: u64) -> Option<i64> {
    (nanos != 0).then(|| i64::try_from(nanos).unwrap_or(i64::MAX))
}

/// One line for one data point; `times` are its time, start time (0 = none) and the
/// receive time that stands in for a missing time.
#[allow(clippy::too_many_arguments)]
fn write_point(
    out: &mut Vec<u8>,
    conversion: &mut Conversion,
    head: &LineHead<'_>,
    metric_type: &str,
    attributes: &[KeyValue],
    (time_nanos, start_nanos, received): (u64, u64, i64),
    delta: bool,
    value: &str,
) {
    if time_nanos == 0 && received <= 0 {
        // A file has no receive time to stand in.
        conversion.reject(format!("{}: a point without time_unix_nano", head.name), 1);
        return;
    }
    let attributes = attributes_json(attributes);
    let point = Point {
        metric_type,
        time: time(time_nanos, received),
        start: start(start_nanos),
        delta,
        value,
        attributes: &attributes,
    };
    push_line(out, head, &point);
    conversion.points += 1;
}

fn no_recorded_value(flags: u32) -> bool {
    flags & DataPointFlags::NoRecordedValueMask as u32 != 0
}

enum NumberKind {
    Counter { delta: bool },
    Gauge,
}

fn number_points(
    out: &mut Vec<u8>,
    conversion: &mut Conversion,
    head: &LineHead<'_>,
    points: &[NumberDataPoint],
    kind: NumberKind,
    received: i64,
) {
    let (metric_type, delta) = match kind {
        NumberKind::Counter { delta } => ("counter", delta),
        NumberKind::Gauge => ("gauge", false),
    };
    for p in points {
        if no_recorded_value(p.flags) {
            conversion.reject(format!("{}: a point flagged 'no recorded value'", head.name), 1);
            continue;
        }
        let value = match p.value {
            Some(number_data_point::Value::AsInt(v)) => Some(v.to_string()),
            Some(number_data_point::Value::AsDouble(v)) => v.json(),
            None => {
                conversion.reject(format!("{}: a point without a value", head.name), 1);
                continue;
            }
        };
        let Some(value) = value else {
            conversion.reject(format!("{}: NaN or infinite value (JSON cannot carry it)", head.name), 1);
            continue;
        };
        let times = (p.time_unix_nano, p.start_time_unix_nano, received);
        write_point(out, conversion, head, metric_type, &p.attributes, times, delta, &value);
    }
}

fn histogram_points(
    out: &mut Vec<u8>,
    conversion: &mut Conversion,
    head: &LineHead<'_>,
    points: &[HistogramDataPoint],
    delta: bool,
    received: i64,
) {
    for p in points {
        if no_recorded_value(p.flags) {
            conversion.reject(format!("{}: a point flagged 'no recorded value'", head.name), 1);
            continue;
        }
        let Some(sum) = p.sum.and_then(JsonNumber::json) else {
            conversion.reject(format!("{}: histogram point without a finite sum", head.name), 1);
            continue;
        };
        let buckets_ok = if p.bucket_counts.is_empty() {
            p.explicit_bounds.is_empty()
        } else {
            p.bucket_counts.len() == p.explicit_bounds.len() + 1
        };
        let bounds_ok =
            p.explicit_bounds.iter().all(|b| b.is_finite()) && p.explicit_bounds.windows(2).all(|w| w[0] < w[1]);
        let counted: u128 = p.bucket_counts.iter().map(|&c| u128::from(c)).sum();
        if !buckets_ok || !bounds_ok || (!p.bucket_counts.is_empty() && counted != u128::from(p.count)) {
            conversion.reject(
                format!(
                    "{}: histogram point with inconsistent buckets (bounds must be finite and increasing, one count per bound plus +Inf, counts adding up to count)",
                    head.name
                ),
                1,
            );
            continue;
        }
        let counts: Vec<u64> = if p.bucket_counts.is_empty() { vec![p.count] } else { p.bucket_counts.clone() };
        let value = histogram_value(
            p.count,
            &sum,
            p.min.and_then(JsonNumber::json),
            p.max.and_then(JsonNumber::json),
            &p.explicit_bounds,
            &counts,
        );
        let times = (p.time_unix_nano, p.start_time_unix_nano, received);
        write_point(out, conversion, head, "histogram", &p.attributes, times, delta, &value);
    }
}

/// Temporality of a sum or histogram: `Some(true)` for delta, `None` when unspecified.
fn is_delta(temporality: i32) -> Option<bool> {
    match AggregationTemporality::try_from(temporality) {
        Ok(AggregationTemporality::Delta) => Some(true),
        Ok(AggregationTemporality::Cumulative) => Some(false),
        _ => None,
    }
}

/// Appends a line per data point of `request` to `out`. `received` (ns since the epoch)
/// stands in for missing point times.
pub fn convert(request: &ExportMetricsServiceRequest, received: i64, out: &mut Vec<u8>) -> Conversion {
    let mut conversion = Conversion::default();
    for rm in &request.resource_metrics {
        let resource_attributes = rm.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
        let service = resource_attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| match &v.value {
                Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "unknown_service".into());
        let resource = attributes_json(resource_attributes);
        for sm in &rm.scope_metrics {
            let scope = match &sm.scope {
                Some(s) if !(s.name.is_empty() && s.version.is_empty()) => scope_json(&s.name, &s.version),
                _ => String::new(),
            };
            for metric in &sm.metrics {
                let head = LineHead {
                    service: &service,
                    resource: &resource,
                    scope: &scope,
                    name: &metric.name,
                    unit: &metric.unit,
                    description: &metric.description,
                };
                let name = &metric.name;
                let start = out.len();
                match &metric.data {
                    Some(Data::Gauge(g)) => {
                        number_points(out, &mut conversion, &head, &g.data_points, NumberKind::Gauge, received)
                    }
                    Some(Data::Sum(s)) => match (is_delta(s.aggregation_temporality), s.is_monotonic) {
                        (Some(delta), true) => number_points(
                            out,
                            &mut conversion,
                            &head,
                            &s.data_points,
                            NumberKind::Counter { delta },
                            received,
                        ),
                        (Some(false), false) => {
                            number_points(out, &mut conversion, &head, &s.data_points, NumberKind::Gauge, received)
                        }
                        (Some(true), false) => conversion.reject(
                            format!("{name}: non-monotonic delta sum (an UpDownCounter exported as delta has no level to write; export it cumulatively)"),
                            s.data_points.len(),
                        ),
                        (None, _) => conversion.reject(
                            format!("{name}: sum without aggregation temporality"),
                            s.data_points.len(),
                        ),
                    },
                    Some(Data::Histogram(h)) => match is_delta(h.aggregation_temporality) {
                        Some(delta) => histogram_points(out, &mut conversion, &head, &h.data_points, delta, received),
                        None => conversion.reject(
                            format!("{name}: histogram without aggregation temporality"),
                            h.data_points.len(),
                        ),
                    },
                    Some(Data::ExponentialHistogram(h)) => conversion.reject(
                        format!("{name}: exponential histograms are not supported (configure explicit bucket histograms)"),
                        h.data_points.len(),
                    ),
                    Some(Data::Summary(s)) => conversion
                        .reject(format!("{name}: summaries are not supported (the format has no quantile points)"), s.data_points.len()),
                    None => conversion.reject(format!("{name}: metric without data"), 1),
                }
                keep_valid_lines(out, start, name, &mut conversion);
            }
        }
    }
    conversion
}

/// Drops the lines from `start` on that the format's parser refuses (an empty metric
/// name, a negative counter, duplicate attribute keys, bounds out of order...), counting
/// them as rejected with its reason: what is written here must read back, whether
/// `receive` appends it to a file or a reader parses it next.
fn keep_valid_lines(out: &mut Vec<u8>, start: usize, name: &str, conversion: &mut Conversion) {
    let written = out.split_off(start);
    for line in written.split_inclusive(|&b| b == b'\n') {
        let text = std::str::from_utf8(line).map_err(|e| e.to_string());
        match text.and_then(|t| metricsctl_format::record::parse_line(t.trim_end_matches('\n'))) {
            Ok(_) => out.extend_from_slice(line),
            Err(reason) => {
                let name = if name.is_empty() { "(no name)" } else { name };
                conversion.reject(format!("{name}: {reason}"), 1);
            }
        }
    }
}

/// Whether `line` is an OTLP/JSON request rather than a line of the record format: the
/// OpenTelemetry Collector's file exporter writes one `ExportMetricsServiceRequest` per
/// line, `{"resourceMetrics":[...]}`.
pub fn is_json_request(line: &[u8]) -> bool {
    let skip = |b: &[u8]| -> usize { b.iter().take_while(|c| c.is_ascii_whitespace()).count() };
    let line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
    let at = skip(line);
    if line.get(at) != Some(&b'{') {
        return false;
    }
    let rest = &line[at + 1..];
    rest[skip(rest)..].starts_with(b"\"resourceMetrics\"")
}

/// One line of an OTLP/JSON file as lines of the record format. The error is why the
/// whole line is bad; points the format cannot carry (or without a time: a file has no
/// receive time) are counted in the conversion.
pub fn convert_json_line(line: &[u8], out: &mut Vec<u8>) -> Result<Conversion, String> {
    let request = request_from_json(line)?;
    Ok(convert(&request, 0, out))
}

/// The request as one line of OTLP/JSON (protobuf's JSON mapping, as the Collector's file
/// exporter writes and its `otlpjsonfile` receiver reads: lowerCamelCase keys, 64-bit
/// integers as strings, enums as numbers).
pub fn request_to_json_line(request: &ExportMetricsServiceRequest) -> Vec<u8> {
    let mut line = serde_json::to_vec(request).expect("OTLP requests serialize to JSON");
    line.push(b'\n');
    line
}

/// How many data points the request holds (of every kind).
pub fn data_points(request: &ExportMetricsServiceRequest) -> u64 {
    let points = |data: &Option<Data>| match data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    };
    let all = request.resource_metrics.iter().flat_map(|rm| &rm.scope_metrics).flat_map(|sm| &sm.metrics);
    all.map(|m| points(&m.data) as u64).sum()
}

/// An OTLP/JSON request (protobuf's JSON mapping, as OTLP/HTTP with
/// `Content-Type: application/json` and the Collector's file exporter write it):
/// lowerCamelCase keys, 64-bit integers as strings or numbers, and enums as numbers or,
/// as protobuf's own JSON printer writes them, as names.
pub fn request_from_json(body: &[u8]) -> Result<ExportMetricsServiceRequest, String> {
    let mut value: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    enum_names_to_numbers(&mut value);
    serde_json::from_value(value).map_err(|e| format!("not an OTLP/JSON ExportMetricsServiceRequest: {e}"))
}

/// The enums of the metrics protocol, written by name, as their numbers.
fn enum_names_to_numbers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "aggregationTemporality" {
                    if let Some(name) = v.as_str() {
                        let number = match name {
                            "AGGREGATION_TEMPORALITY_UNSPECIFIED" => 0,
                            "AGGREGATION_TEMPORALITY_DELTA" => 1,
                            "AGGREGATION_TEMPORALITY_CUMULATIVE" => 2,
                            _ => continue,
                        };
                        *v = serde_json::Value::from(number);
                    }
                } else {
                    enum_names_to_numbers(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(enum_names_to_numbers),
        _ => {}
    }
}
