//! The JSON file exporter on `opentelemetry_sdk`: every export appends one line
//! per data point to a metrics.jsonl file in the record format (docs/FORMAT.md).
//!
//! Each export is encoded into one buffer and written with a single `write` on a file
//! opened with `O_APPEND`, then `fsync`ed: a crash leaves at most one partial last line,
//! and two processes appending to one file do not interleave inside a line. The write
//! runs on a writer thread; an export that takes longer than the timeout returns an
//! error instead of stalling the SDK's reader.

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

use crate::report::FailureReporter;
use metricsctl_format::write::{
    histogram_value, json_string, push_line, scope_json, Appender, JsonNumber, LineHead, Point,
};

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
        let appender = Appender::open(path)?;
        let (tx, rx) = channel::<WriteJob>();
        let busy = Arc::new(AtomicBool::new(false));
        let writer_busy = Arc::clone(&busy);
        thread::Builder::new()
            .name("metricsctl-json-exporter".into())
            .spawn(move || writer_loop(rx, appender, writer_busy))
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

fn writer_loop(jobs: Receiver<WriteJob>, mut appender: Appender, busy: Arc<AtomicBool>) {
    let reporter = FailureReporter::new(format!("cannot write {}", appender.path().display()));
    for job in jobs {
        let result = appender.append(&job.bytes);
        reporter.observe(&result);
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

fn nanos(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
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

fn encode_data<T: JsonNumber>(out: &mut Vec<u8>, head: &LineHead<'_>, data: &MetricData<T>) -> u64 {
    let mut skipped = 0;
    match data {
        MetricData::Sum(sum) => {
            // UpDownCounters are non-monotonic sums: the format writes them as gauges (docs/FORMAT.md).
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
                let bounds: Vec<f64> = dp.bounds().collect();
                let counts: Vec<u64> = dp.bucket_counts().collect();
                let value = histogram_value(
                    dp.count(),
                    &sum,
                    dp.min().and_then(JsonNumber::json),
                    dp.max().and_then(JsonNumber::json),
                    &bounds,
                    &counts,
                );
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
        // Not produced by the instruments this project creates; not in the record format.
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
        let scope_text = scope_json(scope.scope().name(), scope.scope().version().unwrap_or_default());
        for metric in scope.metrics() {
            let head = LineHead {
                service: &service,
                resource: &resource_json,
                scope: &scope_text,
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
