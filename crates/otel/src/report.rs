//! Export failures said on stderr. The SDK keeps exporters' errors to its internal log,
//! which nobody sees: a metrics file that stopped growing or a collector that stopped
//! receiving would go unnoticed. Each exporter says when exporting starts failing (and
//! why, again when the reason changes) and when it works again.

use std::sync::Mutex;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;

/// Tracks one exporter's failures and reports their changes.
#[derive(Debug)]
pub struct FailureReporter {
    /// What fails, e.g. "cannot write logs/metrics.jsonl".
    what: String,
    /// The current failure's reason and how many exports it has cost.
    failing: Mutex<Option<(String, u64)>>,
}

impl FailureReporter {
    pub fn new(what: String) -> FailureReporter {
        FailureReporter { what, failing: Mutex::new(None) }
    }

    pub fn observe<E: std::fmt::Display>(&self, result: &Result<(), E>) {
        let mut failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
        match (result, &mut *failing) {
            (Err(e), Some((reason, count))) => {
                *count += 1;
                let now = e.to_string();
                if *reason != now {
                    eprintln!("metricsctl: metrics exporter: {}: {now}", self.what);
                    *reason = now;
                }
            }
            (Err(e), None) => {
                eprintln!(
                    "metricsctl: metrics exporter: {}: {e}; the service goes on and the next export retries",
                    self.what
                );
                *failing = Some((e.to_string(), 1));
            }
            (Ok(()), Some((_, count))) => {
                eprintln!("metricsctl: metrics exporter: {}: works again, after {count} failed exports", self.what);
                *failing = None;
            }
            (Ok(()), None) => {}
        }
    }
}

/// An exporter whose failures are reported.
#[derive(Debug)]
pub struct Reported<E> {
    inner: E,
    reporter: FailureReporter,
}

impl<E> Reported<E> {
    pub fn new(inner: E, what: String) -> Reported<E> {
        Reported { inner, reporter: FailureReporter::new(what) }
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Reported<E> {
    fn export(&self, metrics: &ResourceMetrics) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let export = self.inner.export(metrics);
        async move {
            let result = export.await;
            self.reporter.observe(&result);
            result
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
