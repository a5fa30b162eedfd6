//! The Prometheus exporter: `/metrics` answers each scrape with the
//! `MeterProvider`'s current state. The SDK's data is encoded as JSON lines and exposed
//! through [`metricsctl_prom::exposition`], the path `to-prometheus` takes, so a scrape and a
//! conversion of the JSON file give the same names, labels and values.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use anyhow::{Context, Result};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};
use tokio::sync::oneshot;

use metricsctl_prom::exposition::{content_type, negotiate, LiveExposition};

/// The reader the provider owns and the endpoint collects through.
#[derive(Debug, Clone)]
pub struct ScrapeReader(Arc<ManualReader>);

impl ScrapeReader {
    pub fn new() -> ScrapeReader {
        // Prometheus counters are cumulative whatever the other exporters use.
        ScrapeReader(Arc::new(ManualReader::builder().with_temporality(Temporality::Cumulative).build()))
    }
}

impl Default for ScrapeReader {
    fn default() -> Self {
        ScrapeReader::new()
    }
}

impl MetricReader for ScrapeReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// The exposition of one collection.
pub fn scrape(reader: &ScrapeReader, accept: Option<&str>) -> Result<(Vec<u8>, &'static str)> {
    let mut metrics = ResourceMetrics::default();
    reader.collect(&mut metrics).map_err(|e| anyhow::anyhow!("cannot collect metrics: {e}"))?;
    let mut lines = Vec::with_capacity(64 << 10);
    crate::json_exporter::encode(&metrics, &mut lines);
    let mut live = LiveExposition::new(false);
    let bad = live.feed(0, lines);
    // One collection is one complete export.
    live.finish();
    if let Some((line, reason)) = bad.first() {
        anyhow::bail!("the SDK's data encoded to an invalid line {line}: {reason}");
    }
    if let Some(e) = live.take_error() {
        return Err(e);
    }
    let format = negotiate(accept);
    Ok((live.render(format, None), content_type(format)))
}

/// A running `/metrics` endpoint; stops when dropped.
pub struct PrometheusEndpoint {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl PrometheusEndpoint {
    /// Binds `listen` now (so that a taken port is an error at start) and serves on
    /// `runtime`.
    pub fn start(listen: SocketAddr, reader: ScrapeReader, runtime: &tokio::runtime::Handle) -> Result<Self> {
        let listener = std::net::TcpListener::bind(listen)
            .with_context(|| format!("prometheus exporter: cannot listen on {listen}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let _guard = runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move |headers: HeaderMap| {
                let reader = reader.clone();
                async move { answer(&reader, &headers) }
            }),
        );
        runtime.spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = server.await {
                eprintln!("metricsctl: prometheus exporter on {addr}: {e}");
            }
        });
        Ok(PrometheusEndpoint { addr, stop: Some(stop) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for PrometheusEndpoint {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn answer(reader: &ScrapeReader, headers: &HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    match scrape(reader, accept) {
        Ok((body, content_type)) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}\n")).into_response(),
    }
}
