//! The seed's JSON file exporter on `opentelemetry_sdk`: every export appends one line
//! per data point to a metrics.jsonl file in the format of SPEC section 2.
//!
//! Each export is encoded into one buffer and written with a single `write` on a file
//! opened with `O_APPEND`, then `fsync`ed: a crash leaves at most one partial last line,
//! and two processes appending to one file do not interleave inside a line. The write
//! runs on a writer thread; an export that takes longer than the timeout returns an
//! error instead of stalling the SDK's reader.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;

use crate::timestamp::format_utc;

struct WriteJob {
    bytes: Vec<u8>,
    done: Sender<std::io::Result<()>>,
}

/// Appends exports to a JSON Lines file.
pub struct JsonFileExporter {
    path: PathBuf,
    jobs: Mutex<Option<Sender<WriteJob>>>,
    timeout: Duration,
    temporality: Temporality,
    shut_down: AtomicBool,
    /// A write is still running (a slow or hung disk): later exports fail fast rather
    /// than queue without bound.
    busy: Arc<AtomicBool>,
    exports: AtomicU64,
    skipped_points: AtomicU64,
}

impl std::fmt::Debug for JsonFileExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonFileExporter").field("path", &self.path).finish()
    }
}

impl JsonFileExporter {
    /// Creates the parent directory and opens `path` for appending (never truncating).
    pub fn new(path: &Path, timeout: Duration, temporality: Temporality) -> anyhow::Result<JsonFileExporter> {
        use anyhow::Context;
        let file = open_append(path).with_context(|| format!("cannot open {} for appending", path.display()))?;
        let (tx, rx) = channel::<WriteJob>();
        let busy = Arc::new(AtomicBool::new(false));
        let writer_path = path.to_path_buf();
        let writer_busy = Arc::clone(&busy);
        thread::Builder::new()
            .name("metricsctl-json-exporter".into())
            .spawn(move || writer_loop(rx, writer_path, Some(file), writer_busy))
            .context("cannot start the exporter's writer thread")?;
        Ok(JsonFileExporter {
            path: path.to_path_buf(),
            jobs: Mutex::new(Some(tx)),
            timeout,
            temporality,
            shut_down: AtomicBool::new(false),
            busy,
            exports: AtomicU64::new(0),
            skipped_points: AtomicU64::new(0),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Exports written successfully so far.
    pub fn exports(&self) -> u64 {
        self.exports.load(Ordering::Relaxed)
    }

    fn export_now(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let mut bytes = Vec::with_capacity(64 << 10);
        let skipped = encode(metrics, &mut bytes);
        if skipped > 0 {
            self.skipped_points.fetch_add(skipped, Ordering::Relaxed);
        }
        if bytes.is_empty() {
            return Ok(());
        }
        if self.busy.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::InternalFailure(format!(
                "{}: the previous export is still being written; this one is dropped",
                self.path.display()
            )));
        }
        let (done_tx, done_rx) = channel();
        let sent = self
            .jobs
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("exporter lock poisoned".into()))?
            .as_ref()
            .map(|jobs| jobs.send(WriteJob { bytes, done: done_tx }).is_ok())
            .unwrap_or(false);
        if !sent {
            self.busy.store(false, Ordering::Release);
            return Err(OTelSdkError::AlreadyShutdown);
        }
        match done_rx.recv_timeout(self.timeout) {
            Ok(Ok(())) => {
                self.exports.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(e)) => Err(OTelSdkError::InternalFailure(format!("cannot write {}: {e}", self.path.display()))),
            Err(_) => Err(OTelSdkError::Timeout(self.timeout)),
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

fn writer_loop(jobs: Receiver<WriteJob>, path: PathBuf, mut file: Option<File>, busy: Arc<AtomicBool>) {
    for job in jobs {
        // After a failure (disk full, directory made read-only, file removed) the file
        // is opened again, so that exports resume when the cause goes away.
        let result = (|| {
            if file.is_none() {
                file = Some(open_append(&path)?);
            }
            let f = file.as_mut().expect("opened above");
            let written = f.write_all(&job.bytes).and_then(|()| f.sync_data());
            if written.is_err() {
                file = None;
            }
            written
        })();
        busy.store(false, Ordering::Release);
        let _ = job.done.send(result);
    }
}

impl PushMetricExporter for JsonFileExporter {
    fn export(&self, metrics: &ResourceMetrics) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        // The SDK's PeriodicReader runs exports on its own thread; doing the work here
        // keeps the future trivially Send.
        std::future::ready(self.export_now(metrics))
    }

    fn force_flush(&self) -> OTelSdkResult {
        // Every export is written and fsynced before it returns: nothing is buffered.
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.shut_down.store(true, Ordering::Release);
        // Dropping the sender ends the writer thread after the write in progress.
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }
}

/// A number as JSON: integers exact, floats finite.
trait JsonNumber: Copy {
    /// `None` for NaN and infinities, which JSON cannot carry.
    fn json(self) -> Option<String>;
}

impl JsonNumber for u64 {
    fn json(self) -> Option<String> {
        Some(self.to_string())
    }
}

impl JsonNumber for i64 {
    fn json(self) -> Option<String> {
        Some(self.to_string())
    }
}

impl JsonNumber for f64 {
    fn json(self) -> Option<String> {
        self.is_finite().then(|| serde_json::Number::from_f64(self).map_or_else(|| "0".into(), |n| n.to_string()))
    }
}

fn nanos(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn value_json(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::I64(i) => i.to_string(),
        Value::F64(f) => f.json().unwrap_or_else(|| json_string(&f.to_string())),
        Value::String(s) => json_string(s.as_str()),
        // Arrays are not label values anywhere we export to: keep them as their text.
        other => json_string(&other.to_string()),
    }
}

fn attributes_json<'a>(attrs: impl Iterator<Item = &'a KeyValue>) -> String {
    let mut out = String::from("{");
    for (i, kv) in attrs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_string(kv.key.as_str()));
        out.push(':');
        out.push_str(&value_json(&kv.value));
    }
    out.push('}');
    out
}

/// What every line of one metric shares.
struct LineHead<'a> {
    service: &'a str,
    resource: &'a str,
    name: &'a str,
    unit: &'a str,
    description: &'a str,
}

/// One data point's own fields.
struct Point<'a> {
    metric_type: &'a str,
    time: i64,
    start: Option<i64>,
    delta: bool,
    value: &'a str,
    attributes: &'a str,
}

fn push_line(out: &mut Vec<u8>, head: &LineHead<'_>, point: &Point<'_>) {
    let Point { metric_type, time, start, delta, value, attributes } = *point;
    let mut line = String::with_capacity(256 + value.len() + attributes.len() + head.resource.len());
    let _ = write!(
        line,
        r#"{{"timestamp":"{}","service_name":{},"metric_name":{},"metric_type":"{metric_type}","value":{value}"#,
        format_utc(time),
        json_string(head.service),
        json_string(head.name),
    );
    if !head.unit.is_empty() {
        let _ = write!(line, r#","unit":{}"#, json_string(head.unit));
    }
    if !head.description.is_empty() {
        let _ = write!(line, r#","description":{}"#, json_string(head.description));
    }
    let _ = write!(line, r#","attributes":{attributes},"resource":{}"#, head.resource);
    if let Some(start) = start {
        let _ = write!(line, r#","start_timestamp":"{}""#, format_utc(start));
    }
    if delta {
        line.push_str(r#","temporality":"delta""#);
    }
    line.push_str("}\n");
    out.extend_from_slice(line.as_bytes());
}

fn encode_data<T: JsonNumber>(out: &mut Vec<u8>, head: &LineHead<'_>, data: &MetricData<T>) -> u64 {
    let mut skipped = 0;
    match data {
        MetricData::Sum(sum) => {
            // UpDownCounters are non-monotonic sums: the seed writes them as gauges.
            let kind = if sum.is_monotonic() { "counter" } else { "gauge" };
            let delta = sum.temporality() == Temporality::Delta && sum.is_monotonic();
            for dp in sum.data_points() {
                let Some(v) = dp.value().json() else {
                    skipped += 1;
                    continue;
                };
                let attributes = attributes_json(dp.attributes());
                let point = Point {
                    metric_type: kind,
                    time: nanos(sum.time()),
                    start: Some(nanos(sum.start_time())),
                    delta,
                    value: &v,
                    attributes: &attributes,
                };
                push_line(out, head, &point);
            }
        }
        MetricData::Gauge(gauge) => {
            for dp in gauge.data_points() {
                let Some(v) = dp.value().json() else {
                    skipped += 1;
                    continue;
                };
                let attributes = attributes_json(dp.attributes());
                let point = Point {
                    metric_type: "gauge",
                    time: nanos(gauge.time()),
                    start: gauge.start_time().map(nanos),
                    delta: false,
                    value: &v,
                    attributes: &attributes,
                };
                push_line(out, head, &point);
            }
        }
        MetricData::Histogram(hist) => {
            let delta = hist.temporality() == Temporality::Delta;
            for dp in hist.data_points() {
                let Some(sum) = dp.sum().json() else {
                    skipped += 1;
                    continue;
                };
                let mut value = format!(r#"{{"count":{},"sum":{sum}"#, dp.count());
                if let (Some(min), Some(max)) =
                    (dp.min().and_then(JsonNumber::json), dp.max().and_then(JsonNumber::json))
                {
                    let _ = write!(value, r#","min":{min},"max":{max}"#);
                }
                value.push_str(r#","buckets":["#);
                let bounds: Vec<f64> = dp.bounds().collect();
                for (i, count) in dp.bucket_counts().enumerate() {
                    if i > 0 {
                        value.push(',');
                    }
                    match bounds.get(i) {
                        Some(b) => {
                            let b = b.json().unwrap_or_else(|| "0".into());
                            let _ = write!(value, r#"{{"upper_bound":{b},"count":{count}}}"#);
                        }
                        None => {
                            let _ = write!(value, r#"{{"upper_bound":"+Inf","count":{count}}}"#);
                        }
                    }
                }
                value.push_str("]}");
                let attributes = attributes_json(dp.attributes());
                let point = Point {
                    metric_type: "histogram",
                    time: nanos(hist.time()),
                    start: Some(nanos(hist.start_time())),
                    delta,
                    value: &value,
                    attributes: &attributes,
                };
                push_line(out, head, &point);
            }
        }
        // Not produced by the instruments this project creates; not in the seed's format.
        MetricData::ExponentialHistogram(h) => skipped += h.data_points().count() as u64,
    }
    skipped
}

/// Encodes every data point as one line; returns how many had to be skipped (NaN,
/// infinities, exponential histograms).
pub fn encode(metrics: &ResourceMetrics, out: &mut Vec<u8>) -> u64 {
    let resource = metrics.resource();
    let service = resource
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .map_or_else(|| "unknown_service".to_string(), |v| v.to_string());
    let mut attrs: Vec<KeyValue> = resource.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
    attrs.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    let resource_json = attributes_json(attrs.iter());
    let mut skipped = 0;
    for scope in metrics.scope_metrics() {
        for metric in scope.metrics() {
            let head = LineHead {
                service: &service,
                resource: &resource_json,
                name: metric.name(),
                unit: metric.unit(),
                description: metric.description(),
            };
            skipped += match metric.data() {
                AggregatedMetrics::U64(d) => encode_data(out, &head, d),
                AggregatedMetrics::I64(d) => encode_data(out, &head, d),
                AggregatedMetrics::F64(d) => encode_data(out, &head, d),
            };
        }
    }
    skipped
}
