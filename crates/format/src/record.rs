//! One line of metrics.jsonl: borrowed parsing, validation and normalisation
//! (docs/FORMAT.md), into the values of [`crate::value`] (re-exported here, where the
//! parsed record holds them).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::timestamp::parse_rfc3339;
pub use crate::value::{format_float, AttrValue, Bounds, Histogram, LabelSet, MetricType, Num, SampleValue};

/// A string field borrowed from the line, or owned when it had escapes. serde's own
/// `Cow<str>` impl only borrows for direct `#[serde(borrow)]` fields, not inside
/// `Option`, and would allocate for every optional field of every line.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// The fields of a record as they appear in the line, borrowed where possible.
#[derive(Deserialize)]
struct RawRecord<'a> {
    #[serde(borrow)]
    timestamp: Text<'a>,
    #[serde(borrow, default)]
    service_name: Option<Text<'a>>,
    #[serde(borrow)]
    metric_name: Text<'a>,
    #[serde(borrow, default)]
    metric_type: Option<Text<'a>>,
    value: RawMetricValue,
    #[serde(borrow, default)]
    unit: Option<Text<'a>>,
    #[serde(borrow, default)]
    description: Option<Text<'a>>,
    #[serde(borrow, default)]
    attributes: Option<&'a RawValue>,
    #[serde(borrow, default)]
    resource: Option<&'a RawValue>,
    #[serde(borrow, default)]
    start_timestamp: Option<Text<'a>>,
    #[serde(borrow, default)]
    temporality: Option<Text<'a>>,
    #[serde(borrow, default)]
    scope: Option<RawScope<'a>>,
}

/// `{"name":...,"version":...}`; other keys (an OTLP scope's attributes) are ignored.
#[derive(Deserialize)]
struct RawScope<'a> {
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(borrow, default)]
    version: Option<Text<'a>>,
}

/// The instrumentation scope a series was recorded under (an OpenTelemetry meter's name
/// and version): part of the series' identity, so that one metric with the same
/// attributes from two libraries stays two series.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub name: String,
    pub version: Option<String>,
}

/// A parsed, validated line.
#[derive(Debug)]
pub struct Record<'a> {
    pub timestamp: i64,
    pub timestamp_text: Cow<'a, str>,
    pub service_name: Option<Cow<'a, str>>,
    pub metric_name: Cow<'a, str>,
    pub metric_type: MetricType,
    /// `metric_type` was absent and was inferred from the value and the name.
    pub type_inferred: bool,
    pub value: SampleValue,
    pub unit: Option<Cow<'a, str>>,
    pub description: Option<Cow<'a, str>>,
    pub attributes: Option<&'a RawValue>,
    pub resource: Option<&'a RawValue>,
    pub start_timestamp: Option<i64>,
    pub delta: bool,
    pub scope: Option<Scope>,
}

/// Parses one line (without its newline). The error is the reason the line is bad.
///
/// ```
/// use metricsctl_format::record::{parse_line, MetricType, Num, SampleValue};
///
/// let r = parse_line(r#"{"timestamp":"2025-12-16T09:30:10.000+0800","metric_name":"http_server_requests_total","value":10}"#).unwrap();
/// assert_eq!(r.metric_type, MetricType::Counter); // inferred from the name
/// assert_eq!(r.value, SampleValue::Num(Num::Int(10)));
/// assert!(parse_line(r#"{"timestamp":"2025-12-16T09:30:10.000+0800","metric_na"#).unwrap_err().contains("truncated"));
/// ```
pub fn parse_line(line: &str) -> Result<Record<'_>, String> {
    LineParser::default().parse_line(line)
}

/// Parses the text of a line's `value` alone (the line's other fields known already),
/// with the checks [`parse_line`] makes.
pub fn parse_value(text: &[u8], metric_type: MetricType) -> Result<SampleValue, String> {
    LineParser::default().parse_value(text, metric_type)
}

/// What parsing keeps from one line to the next, to go faster on the lines that follow:
/// the storage of a histogram's buckets, the text of the last histogram's bounds, and
/// the last bucket layout (shared by the samples that use it). Results never depend on
/// it: a parser that has read other lines before gives what a new one gives. One per
/// thread of work, owned by whoever parses (the block parser, a test); a parse without
/// one ([`parse_line`]) starts from nothing.
#[derive(Default)]
pub struct LineParser {
    buckets: Vec<(f64, u64)>,
    bound_texts: Vec<(Vec<u8>, f64)>,
    last_bounds: Option<Bounds>,
}

impl LineParser {
    /// Parses and validates one line (see [`parse_line`]).
    pub fn parse_line<'a>(&mut self, line: &'a str) -> Result<Record<'a>, String> {
        // A byte order mark, as some Windows tools write at the start of a file.
        let line = line.strip_prefix('\u{feff}').unwrap_or(line);
        let raw: RawRecord<'_> = serde_json::from_str(line).map_err(|e| describe_json_error(&e))?;
        let timestamp = parse_rfc3339(&raw.timestamp.0)?;
        let start_timestamp = match &raw.start_timestamp {
            Some(s) => Some(parse_rfc3339(&s.0).map_err(|e| format!("start_timestamp: {e}"))?),
            None => None,
        };
        if raw.metric_name.0.is_empty() {
            return Err("empty metric_name".into());
        }
        let is_object = matches!(raw.value, RawMetricValue::Hist(_));
        let (metric_type, type_inferred) = match raw.metric_type.as_ref().map(|t| t.0.as_ref()) {
            Some("counter") => (MetricType::Counter, false),
            Some("gauge") => (MetricType::Gauge, false),
            Some("histogram") => (MetricType::Histogram, false),
            Some(other) => return Err(format!("unknown metric_type {other:?} (expected counter, gauge or histogram)")),
            None if is_object => (MetricType::Histogram, true),
            None if raw.metric_name.0.ends_with("_total") => (MetricType::Counter, true),
            None => (MetricType::Gauge, true),
        };
        let value = self.checked_value(raw.value, metric_type)?;
        let delta = match raw.temporality.as_ref().map(|t| t.0.as_ref()) {
            None | Some("cumulative") => false,
            Some("delta") => true,
            Some(other) => return Err(format!("unknown temporality {other:?} (expected cumulative or delta)")),
        };
        for (name, field) in [("attributes", raw.attributes), ("resource", raw.resource)] {
            if let Some(f) = field {
                if !f.get().starts_with('{') {
                    return Err(format!("{name} must be an object"));
                }
            }
        }
        Ok(Record {
            timestamp,
            timestamp_text: raw.timestamp.0,
            service_name: raw.service_name.map(|t| t.0),
            metric_name: raw.metric_name.0,
            metric_type,
            type_inferred,
            value,
            unit: raw.unit.map(|t| t.0),
            description: raw.description.map(|t| t.0),
            attributes: raw.attributes,
            resource: raw.resource,
            start_timestamp,
            delta,
            scope: raw.scope.map(|s| Scope {
                name: s.name.map(|t| t.0.into_owned()).unwrap_or_default(),
                version: s.version.map(|t| t.0.into_owned()).filter(|v| !v.is_empty()),
            }),
        })
    }

    /// Parses the text of a line's `value` alone (the line's other fields known already),
    /// with the checks [`parse_line`] makes.
    pub fn parse_value(&mut self, text: &[u8], metric_type: MetricType) -> Result<SampleValue, String> {
        if let Some(histogram) = self.exporter_histogram(text) {
            return self.checked_value(RawMetricValue::Hist(histogram), metric_type);
        }
        let text = std::str::from_utf8(text).map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
        let raw: RawMetricValue = serde_json::from_str(text).map_err(|e| describe_json_error(&e))?;
        self.checked_value(raw, metric_type)
    }

    /// Whether a histogram value is read by the fast path (for the writer's test).
    #[cfg(test)]
    pub(crate) fn reads_histogram_fast(&mut self, text: &[u8]) -> bool {
        self.exporter_histogram(text).is_some()
    }

    /// The histogram exactly as the exporters write it (`{"count":N,"sum":X,"min":X,
    /// "max":X,"buckets":[{"upper_bound":B,"count":N},...,{"upper_bound":"+Inf","count":N}]}`,
    /// min and max optional, no spaces), read without serde: histograms are most of the
    /// bytes a quantile reads. `None` for anything else, which serde then reads or rejects
    /// with its reason. Numbers are read as serde_json reads them (`float_roundtrip`: both
    /// round correctly), which `tests::exporter_histograms_read_as_serde_reads_them` checks.
    fn exporter_histogram(&mut self, text: &[u8]) -> Option<RawHistogram> {
        let mut at = 0usize;
        let expect = |literal: &[u8], at: &mut usize| -> Option<()> {
            text[*at..].starts_with(literal).then(|| *at += literal.len())
        };
        expect(b"{\"count\":", &mut at)?;
        let count = json_u64(text, &mut at)?;
        expect(b",\"sum\":", &mut at)?;
        let sum = json_f64(text, &mut at)?;
        let mut min = None;
        let mut max = None;
        if expect(b",\"min\":", &mut at).is_some() {
            min = Some(json_f64(text, &mut at)?);
        }
        if expect(b",\"max\":", &mut at).is_some() {
            max = Some(json_f64(text, &mut at)?);
        }
        expect(b",\"buckets\":[", &mut at)?;
        let mut buckets = std::mem::take(&mut self.buckets);
        buckets.clear();
        let read = (|| {
            if expect(b"]", &mut at).is_some() {
                return Some(());
            }
            loop {
                expect(b"{\"upper_bound\":", &mut at)?;
                let bound = if expect(b"\"+Inf\"", &mut at).is_some() {
                    f64::INFINITY
                } else {
                    self.bound_at(buckets.len(), text, &mut at)?
                };
                expect(b",\"count\":", &mut at)?;
                buckets.push((bound, json_u64(text, &mut at)?));
                expect(b"}", &mut at)?;
                if expect(b"]", &mut at).is_some() {
                    return Some(());
                }
                expect(b",", &mut at)?;
            }
        })();
        if read.is_none() || expect(b"}", &mut at).is_none() || at != text.len() {
            self.buckets = buckets;
            return None;
        }
        Some(RawHistogram { count, sum, min, max, buckets })
    }

    /// Bucket bound number `index`: the same text as the last histogram's (the bounds of a
    /// layout repeat on every line) is not parsed again.
    fn bound_at(&mut self, index: usize, text: &[u8], at: &mut usize) -> Option<f64> {
        let cache = &mut self.bound_texts;
        {
            if let Some((cached, value)) = cache.get(index) {
                let rest = &text[*at..];
                let ends_there = |b: Option<&u8>| !matches!(b, Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'));
                if rest.starts_with(cached) && !cached.is_empty() && ends_there(rest.get(cached.len())) {
                    *at += cached.len();
                    return Some(*value);
                }
            }
            let start = *at;
            let value = json_f64(text, at)?;
            if cache.len() <= index {
                cache.resize(index + 1, (Vec::new(), f64::NAN));
            }
            cache[index] = (text[start..*at].to_vec(), value);
            Some(value)
        }
    }
}

/// The text of a JSON number at `at` (RFC 8259 grammar).
fn json_number<'a>(text: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let start = *at;
    let digits = |i: &mut usize| {
        let from = *i;
        while text.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > from
    };
    let mut i = start;
    if text.get(i) == Some(&b'-') {
        i += 1;
    }
    match text.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => {
            digits(&mut i);
        }
        _ => return None,
    }
    if text.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(text.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(text.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    *at = i;
    Some(&text[start..i])
}

/// A count: digits only (a fraction, exponent or sign is left to serde, which refuses it).
fn json_u64(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let start = *at;
    let mut value = 0u64;
    let mut i = start;
    while let Some(d) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        i += 1;
    }
    if i == start || (bytes[start] == b'0' && i - start > 1) || matches!(bytes.get(i), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    *at = i;
    Some(value)
}

/// A finite float; what serde_json would not read as one (out of range) is left to it.
fn json_f64(text: &[u8], at: &mut usize) -> Option<f64> {
    // ASCII by the grammar.
    std::str::from_utf8(json_number(text, at)?).ok()?.parse::<f64>().ok().filter(|v| v.is_finite())
}

impl LineParser {
    fn checked_value(&mut self, raw: RawMetricValue, metric_type: MetricType) -> Result<SampleValue, String> {
        let (value, is_object) = match raw {
            RawMetricValue::Num(n) => (SampleValue::Num(n), false),
            RawMetricValue::Hist(h) => {
                let histogram = normalise_histogram(&h, &mut self.last_bounds);
                // The buckets' storage serves the next fast-path histogram.
                self.buckets = h.buckets;
                (SampleValue::Hist(Arc::new(histogram?)), true)
            }
        };
        checked_kind(value, is_object, metric_type)
    }
}

fn checked_kind(value: SampleValue, is_object: bool, metric_type: MetricType) -> Result<SampleValue, String> {
    if (metric_type == MetricType::Histogram) != is_object {
        return Err(format!(
            "{} value must be {}",
            metric_type.as_str(),
            if is_object { "a number, not an object" } else { "an object with count, sum and buckets" }
        ));
    }
    if let SampleValue::Num(Num::Float(v)) = value {
        if !v.is_finite() {
            return Err("value is not a finite number".into());
        }
    }
    if metric_type == MetricType::Counter {
        if let SampleValue::Num(n) = value {
            if n.less_than(Num::ZERO) {
                return Err(format!("counter value {n} is below 0 (counters only count up)"));
            }
        }
    }
    Ok(value)
}

fn describe_json_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    // serde_json appends " at line 1 column N"; the column is useful, "line 1" is not.
    let msg = msg.replace(" at line 1 column ", " at column ");
    if e.is_eof() {
        format!("truncated JSON ({msg})")
    } else if e.is_syntax() {
        format!("invalid JSON ({msg})")
    } else {
        msg
    }
}

/// `value` is either a number or a histogram object; decided in one pass.
enum RawMetricValue {
    Num(Num),
    Hist(RawHistogram),
}

struct RawHistogram {
    count: u64,
    sum: f64,
    min: Option<f64>,
    max: Option<f64>,
    /// The `buckets` as written (upper bound, count); empty when absent.
    buckets: Vec<(f64, u64)>,
}

impl<'de> Deserialize<'de> for RawMetricValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawMetricValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a histogram object")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RawMetricValue::Num(Num::Int(v.into())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RawMetricValue::Num(Num::Int(v.into())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(RawMetricValue::Num(Num::Float(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut count = None;
                let mut sum = None;
                let mut min = None;
                let mut max = None;
                let mut buckets: Option<Vec<(f64, u64)>> = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "count" => set_once(&mut count, map.next_value::<u64>()?, "count")?,
                        "sum" => set_once(&mut sum, map.next_value::<f64>()?, "sum")?,
                        "min" => set_once(&mut min, map.next_value::<Option<f64>>()?, "min")?,
                        "max" => set_once(&mut max, map.next_value::<Option<f64>>()?, "max")?,
                        "buckets" => set_once(&mut buckets, map.next_value::<Buckets>()?.0, "buckets")?,
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(RawMetricValue::Hist(RawHistogram {
                    count: count.ok_or_else(|| de::Error::missing_field("value.count"))?,
                    sum: sum.ok_or_else(|| de::Error::missing_field("value.sum"))?,
                    min: min.flatten(),
                    max: max.flatten(),
                    buckets: buckets.unwrap_or_default(),
                }))
            }
        }
        d.deserialize_any(V)
    }
}

fn set_once<T, E: de::Error>(slot: &mut Option<T>, v: T, name: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(v);
    Ok(())
}

/// The `buckets` array as written.
struct Buckets(Vec<(f64, u64)>);

impl<'de> Deserialize<'de> for Buckets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Buckets;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of {upper_bound, count}")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Buckets, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(16));
                while let Some(b) = seq.next_element::<Bucket>()? {
                    out.push((b.upper_bound.0, b.count));
                }
                Ok(Buckets(out))
            }
        }
        d.deserialize_seq(V)
    }
}

#[derive(Deserialize)]
struct Bucket {
    upper_bound: Bound,
    count: u64,
}

/// A bucket bound: a number, or one of the spellings of infinity.
struct Bound(f64);

impl<'de> Deserialize<'de> for Bound {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Bound;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or \"+Inf\"")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Bound, E> {
                Ok(Bound(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Bound, E> {
                Ok(Bound(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Bound, E> {
                Ok(Bound(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bound, E> {
                match v {
                    "+Inf" | "Inf" | "inf" | "+inf" | "Infinity" | "+Infinity" => Ok(Bound(f64::INFINITY)),
                    _ => Err(E::custom(format!("invalid upper_bound {v:?}"))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Turns the buckets of a line into per-bucket counts with an explicit overflow bucket,
/// accepting both OpenTelemetry's per-bucket counts and Prometheus-style cumulative ones.
fn normalise_histogram(h: &RawHistogram, last_bounds: &mut Option<Bounds>) -> Result<Histogram, String> {
    let raw = &h.buckets[..];
    let explicit_inf = raw.last().is_some_and(|b| b.0 == f64::INFINITY);
    let finite = if explicit_inf { &raw[..raw.len() - 1] } else { raw };
    for (i, w) in finite.iter().enumerate() {
        if !w.0.is_finite() {
            return Err(format!("histogram bucket {i} has a non-finite upper_bound that is not last"));
        }
        if i > 0 && w.0 <= finite[i - 1].0 {
            return Err(format!("histogram bucket bounds are not increasing at bucket {i}"));
        }
    }
    // All counts as written, the +Inf one included when present.
    let mut counts: Vec<u64> = Vec::with_capacity(finite.len() + 1);
    counts.extend(raw.iter().map(|b| b.1));
    // Cumulative (Prometheus style): non-decreasing and ending at count. Whenever that
    // holds, reading the counts as per-bucket would only agree if all but the last were
    // zero, so the two readings never conflict.
    let cumulative = counts.len() > 1
        && counts.windows(2).all(|w| w[0] <= w[1])
        && counts.last() == Some(&h.count)
        && counts[..counts.len() - 1].iter().any(|&c| c != 0);
    if cumulative {
        let mut prev = 0;
        for c in counts.iter_mut() {
            let v = *c - prev;
            prev += v;
            *c = v;
        }
    }
    let in_finite: u64 = counts[..finite.len()]
        .iter()
        .try_fold(0u64, |acc, &c| acc.checked_add(c))
        .ok_or("histogram bucket counts overflow")?;
    if !explicit_inf {
        let overflow = h
            .count
            .checked_sub(in_finite)
            .ok_or_else(|| format!("histogram bucket counts ({in_finite}) exceed count ({})", h.count))?;
        counts.push(overflow);
    }
    let overflow = counts[finite.len()];
    if in_finite.checked_add(overflow) != Some(h.count) {
        return Err(format!(
            "histogram bucket counts add up to {} but count is {}",
            u128::from(in_finite) + u128::from(overflow),
            h.count
        ));
    }
    if !h.sum.is_finite() {
        return Err("histogram sum is not a finite number".into());
    }
    Ok(Histogram {
        count: h.count,
        sum: h.sum,
        min: h.min,
        max: h.max,
        bounds: shared_bounds(finite, last_bounds),
        counts,
    })
}

/// The bounds as an `Arc`, reusing the last one when the layout is the same.
fn shared_bounds(finite: &[(f64, u64)], last: &mut Option<Bounds>) -> Bounds {
    if let Some(b) = last.as_ref() {
        if b.len() == finite.len() && b.iter().zip(finite).all(|(x, y)| *x == y.0) {
            return Arc::clone(b);
        }
    }
    let b: Bounds = Arc::new(finite.iter().map(|x| x.0).collect());
    *last = Some(Arc::clone(&b));
    b
}

/// Parses an `attributes`/`resource` object into a sorted label set, rejecting
/// duplicate keys (which would otherwise silently merge or split series).
pub fn parse_label_set(raw: Option<&RawValue>, what: &str) -> Result<LabelSet, String> {
    let Some(raw) = raw else { return Ok(Vec::new()) };
    let mut labels: LabelSet =
        serde_json::from_str::<LabelList>(raw.get()).map_err(|e| format!("{what}: {}", describe_json_error(&e)))?.0;
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = labels.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("{what}: duplicate key {:?}", w[0].0));
    }
    Ok(labels)
}

struct LabelList(LabelSet);

impl<'de> Deserialize<'de> for LabelList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LabelList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of string, number or boolean values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LabelList, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let v: &RawValue = map.next_value()?;
                    let text = v.get();
                    let value = match text.as_bytes().first() {
                        Some(b'"') => AttrValue::Str(serde_json::from_str(text).map_err(de::Error::custom)?),
                        Some(b't') => AttrValue::Bool(true),
                        Some(b'f') => AttrValue::Bool(false),
                        Some(b'-' | b'0'..=b'9') => AttrValue::Num(text.to_string()),
                        _ => {
                            return Err(de::Error::custom(format!(
                                "value of {key:?} must be a string, number or boolean"
                            )))
                        }
                    };
                    out.push((key, value));
                }
                Ok(LabelList(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Finds `"metric_name":"<name>"` by byte search, so that lines of unwanted metrics can
/// be skipped without a parse. `None` when the fast form is absent (spaces, escapes, the
/// key after a nested object): the caller then parses the line.
pub fn quick_metric_name(line: &[u8]) -> Option<&[u8]> {
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
    const KEY: &[u8] = b"\"metric_name\":\"";
    let finder = FINDER.get_or_init(|| memchr::memmem::Finder::new(KEY));
    let found = finder.find(line)?;
    // Inside a JSON string the quotes would be escaped, so a match is a key; it is the
    // top-level key unless an object opened before it (an attribute named metric_name).
    if memchr::memchr(b'{', line.get(1..found)?).is_some() {
        return None;
    }
    let rest = &line[found + KEY.len()..];
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[end] == b'\\' {
        return None;
    }
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy;

    use super::*;

    /// A histogram's fields bit for bit: count, sum, min, max, buckets.
    type HistogramBits = (u64, u64, Option<u64>, Option<u64>, Vec<(u64, u64)>);

    /// What serde makes of a histogram value.
    fn serde_histogram(text: &str) -> Option<HistogramBits> {
        match serde_json::from_str::<RawMetricValue>(text).ok()? {
            RawMetricValue::Hist(h) => {
                let buckets = h.buckets.iter().map(|(x, c)| (x.to_bits(), *c)).collect();
                Some((h.count, h.sum.to_bits(), h.min.map(f64::to_bits), h.max.map(f64::to_bits), buckets))
            }
            RawMetricValue::Num(_) => None,
        }
    }

    fn fast_histogram(text: &str) -> Option<HistogramBits> {
        let h = LineParser::default().exporter_histogram(text.as_bytes())?;
        let buckets = h.buckets.iter().map(|(x, c)| (x.to_bits(), *c)).collect();
        Some((h.count, h.sum.to_bits(), h.min.map(f64::to_bits), h.max.map(f64::to_bits), buckets))
    }

    fn json_number_text() -> impl Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            4 => any::<f64>().prop_map(|v| format!("{v}")),
            2 => any::<f64>().prop_map(|v| format!("{v:e}")),
            2 => any::<u64>().prop_map(|v| v.to_string()),
            1 => any::<i64>().prop_map(|v| v.to_string()),
            1 => (1u64..u64::MAX, 0u32..30).prop_map(|(m, z)| format!("{m}{}", "0".repeat(z as usize))),
            1 => (0u32..999_999, -330i32..330).prop_map(|(m, e)| format!("{m}.5e{e}")),
            1 => prop::sample::select(vec!["-0", "0", "-0.0", "01", "1.", ".5", "1e", "+1", "1E+2", "null", "\"+Inf\"", "\"Inf\""])
                .prop_map(str::to_string),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// The exporters' histograms read without serde give exactly what serde gives,
        /// and whatever the fast reader takes, serde takes too.
        #[test]
        fn exporter_histograms_read_as_serde_reads_them(
            count in proptest::prop_oneof![proptest::prelude::any::<u64>().prop_map(|v| v.to_string()), json_number_text()],
            sum in json_number_text(),
            min in proptest::option::of(json_number_text()),
            max in proptest::option::of(json_number_text()),
            buckets in proptest::collection::vec((json_number_text(), proptest::prelude::any::<u32>()), 0..6),
            inf in proptest::prelude::any::<bool>(),
        ) {
            let mut text = format!("{{\"count\":{count},\"sum\":{sum}");
            if let Some(min) = min { text += &format!(",\"min\":{min}"); }
            if let Some(max) = max { text += &format!(",\"max\":{max}"); }
            let mut list: Vec<String> = buckets.iter().map(|(b, c)| format!("{{\"upper_bound\":{b},\"count\":{c}}}")).collect();
            if inf { list.push("{\"upper_bound\":\"+Inf\",\"count\":3}".into()); }
            text += &format!(",\"buckets\":[{}]}}", list.join(","));
            if let Some(fast) = fast_histogram(&text) {
                proptest::prop_assert_eq!(Some(fast), serde_histogram(&text), "{}", text);
            }
        }
    }

    #[test]
    fn the_exporters_histogram_takes_the_fast_path() {
        let text = r#"{"count":23,"sum":0.7472759593126606,"min":0.00008653121478907405,"max":0.17554452003949136,"buckets":[{"upper_bound":0.005,"count":3},{"upper_bound":1,"count":20},{"upper_bound":"+Inf","count":0}]}"#;
        assert!(fast_histogram(text).is_some());
        assert_eq!(fast_histogram(text), serde_histogram(text));
        // Anything else is left to serde.
        for other in [
            r#"{"count":1,"sum":1,"buckets":[],"extra":1}"#,
            r#"{"sum":1,"count":1,"buckets":[]}"#,
            r#"{"count":1, "sum":1,"buckets":[]}"#,
            r#"{"count":1,"sum":1,"min":null,"buckets":[]}"#,
            r#"{"count":1.0,"sum":1,"buckets":[]}"#,
            r#"{"count":1,"sum":1e999,"buckets":[]}"#,
            r#"{"count":1,"sum":1,"buckets":[{"upper_bound":"Infinity","count":1}]}"#,
            r#"{"count":"#,
            r#"{"count":1,"sum":"#,
            r#"{"count":1,"sum":1,"buckets":[{"upper_bound":1,"count":"#,
            "",
        ] {
            assert!(fast_histogram(other).is_none(), "{other}");
        }
    }

    const SEED_COUNTER: &str = r#"{"timestamp":"2025-12-16T09:30:17.594+0800","service_name":"sre","metric_name":"http_server_requests_total","metric_type":"counter","value":1234,"unit":"1","description":"Total number of HTTP requests","attributes":{"http.method":"POST","http.route":"/api/v1/orders","http.status_code":200,"status":"success"}}"#;

    #[test]
    fn parses_the_seed_counter() {
        let r = parse_line(SEED_COUNTER).unwrap();
        assert_eq!(r.metric_type, MetricType::Counter);
        assert!(!r.type_inferred);
        assert_eq!(r.value, SampleValue::Num(Num::Int(1234)));
        let labels = parse_label_set(r.attributes, "attributes").unwrap();
        assert_eq!(labels[0].0, "http.method");
        assert_eq!(labels[2], ("http.status_code".into(), AttrValue::Num("200".into())));
    }

    #[test]
    fn u64_values_keep_precision() {
        let line = r#"{"timestamp":"2025-01-01T00:00:00Z","metric_name":"x_total","value":18446744073709551615}"#;
        let r = parse_line(line).unwrap();
        assert_eq!(r.value, SampleValue::Num(Num::Int(u64::MAX as i128)));
        assert!(r.type_inferred);
    }

    fn hist(buckets: &str, count: u64) -> Result<Histogram, String> {
        let line = format!(
            r#"{{"timestamp":"2025-01-01T00:00:00Z","metric_name":"h","value":{{"count":{count},"sum":1.5,"buckets":{buckets}}}}}"#
        );
        match parse_line(&line)?.value {
            SampleValue::Hist(h) => Ok((*h).clone()),
            SampleValue::Num(_) => panic!("not a histogram"),
        }
    }

    #[test]
    fn histogram_bucket_forms_agree() {
        let per_bucket = hist(r#"[{"upper_bound":0.1,"count":1},{"upper_bound":1,"count":2}]"#, 6).unwrap();
        let with_inf =
            hist(r#"[{"upper_bound":0.1,"count":1},{"upper_bound":1,"count":2},{"upper_bound":"+Inf","count":3}]"#, 6)
                .unwrap();
        let cumulative =
            hist(r#"[{"upper_bound":0.1,"count":1},{"upper_bound":1,"count":3},{"upper_bound":"+Inf","count":6}]"#, 6)
                .unwrap();
        assert_eq!(per_bucket.counts, vec![1, 2, 3]);
        assert_eq!(per_bucket, with_inf);
        assert_eq!(per_bucket, cumulative);
    }

    #[test]
    fn inconsistent_histograms_are_bad() {
        assert!(hist(r#"[{"upper_bound":0.1,"count":5},{"upper_bound":1,"count":2}]"#, 6).is_err());
        assert!(hist(r#"[{"upper_bound":1,"count":1},{"upper_bound":0.1,"count":1}]"#, 6).is_err());
        assert!(hist(r#"[{"upper_bound":0.1,"count":1},{"upper_bound":"+Inf","count":1}]"#, 6).is_err());
    }

    #[test]
    fn bad_lines_have_reasons() {
        let cases = [
            ("{", "truncated"),
            ("not json", "invalid JSON"),
            (r#"{"timestamp":"x","metric_name":"a","value":1}"#, "invalid timestamp"),
            (r#"{"timestamp":"2025-01-01T00:00:00Z","value":1}"#, "metric_name"),
            (r#"{"timestamp":"2025-01-01T00:00:00Z","metric_name":"a","value":"1"}"#, "number or a histogram"),
            (
                r#"{"timestamp":"2025-01-01T00:00:00Z","metric_name":"a","metric_type":"summary","value":1}"#,
                "unknown metric_type",
            ),
            (
                r#"{"timestamp":"2025-01-01T00:00:00Z","metric_name":"a","metric_type":"histogram","value":1}"#,
                "histogram value",
            ),
        ];
        for (line, reason) in cases {
            let err = parse_line(line).unwrap_err();
            assert!(err.contains(reason), "{line}: {err}");
        }
    }

    #[test]
    fn label_sets_are_order_insensitive_and_reject_duplicates() {
        let a = RawValue::from_string(r#"{"b":1,"a":"x"}"#.into()).unwrap();
        let b = RawValue::from_string(r#"{"a":"x","b":1}"#.into()).unwrap();
        let la = parse_label_set(Some(&a), "attributes").unwrap();
        let lb = parse_label_set(Some(&b), "attributes").unwrap();
        assert_eq!(crate::text::canonical_text(&la), crate::text::canonical_text(&lb));
        let dup = RawValue::from_string(r#"{"a":1,"a":2}"#.into()).unwrap();
        assert!(parse_label_set(Some(&dup), "attributes").unwrap_err().contains("duplicate"));
    }

    #[test]
    fn quick_metric_name_finds_plain_names_only() {
        assert_eq!(quick_metric_name(SEED_COUNTER.as_bytes()), Some(&b"http_server_requests_total"[..]));
        assert_eq!(quick_metric_name(br#"{"metric_name": "x"}"#), None);
        assert_eq!(quick_metric_name(br#"{"metric_name":"a\"b"}"#), None);
        // An attribute named metric_name before the real key must not be taken for it.
        assert_eq!(quick_metric_name(br#"{"attributes":{"metric_name":"x"},"metric_name":"y"}"#), None);
        assert_eq!(quick_metric_name(br#"{"metric_name":"y","attributes":{"metric_name":"x"}}"#), Some(&b"y"[..]));
    }
}
