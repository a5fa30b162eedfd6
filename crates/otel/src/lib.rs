//! The reference metrics system (docs/EMBEDDING.md) in Rust, for services to embed: a `MeterProvider` with the
//! service's resource, a `PeriodicReader` driving the JSON file exporter, and the HTTP
//! middleware recording the instruments of docs/EMBEDDING.md.
//!
//! ```no_run
//! use metricsctl_otel::{config::MetricsConfig, http::HttpMetricsLayer, MetricsPipeline};
//! # async fn app() -> anyhow::Result<()> {
//! let pipeline = MetricsPipeline::start(&MetricsConfig::default())?;
//! let app: axum::Router = axum::Router::new()
//!     .route("/api/v1/orders/{id}", axum::routing::get(|| async { "order" }))
//!     .layer(HttpMetricsLayer::new(&pipeline.meter("metricsctl")));
//! // ... serve `app` ...
//! pipeline.shutdown(std::time::Duration::from_secs(5))?; // writes the last snapshot
//! # Ok(()) }
//! ```

pub mod config;
pub mod grpc;
pub mod http;
pub mod instruments;
pub mod json_exporter;
/// OTLP to lines: its own crate, since the reader reads OTLP/JSON files with it too.
pub use metricsctl_otlp as otlp;
#[cfg(feature = "prometheus")]
pub mod prometheus_exporter;
pub mod report;

use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::Resource;

use self::config::{ExporterKind, MetricsConfig, TemporalityChoice};
use self::json_exporter::JsonFileExporter;
#[cfg(feature = "prometheus")]
use self::prometheus_exporter::{PrometheusEndpoint, ScrapeReader};

/// Without the `prometheus` feature there is no endpoint; a config that asks for one
/// is refused when the pipeline starts.
#[cfg(not(feature = "prometheus"))]
enum PrometheusEndpoint {}

#[cfg(not(feature = "prometheus"))]
impl PrometheusEndpoint {
    fn addr(&self) -> std::net::SocketAddr {
        match *self {}
    }
}

/// A running metrics pipeline. `shutdown` writes the final snapshot; call it before the
/// process exits (Ctrl-C included) or the requests since the last export are lost.
pub struct MetricsPipeline {
    provider: SdkMeterProvider,
    config: MetricsConfig,
    prometheus: Option<PrometheusEndpoint>,
    /// Runs the `/metrics` endpoint and the OTLP channel, apart from the application's
    /// runtime: they keep working when the application blocks its own (a
    /// current-thread runtime waiting in `shutdown`).
    _background: Option<BackgroundRuntime>,
}

/// A runtime that may be dropped anywhere, async contexts included.
struct BackgroundRuntime(Option<tokio::runtime::Runtime>);

impl BackgroundRuntime {
    fn start() -> Result<BackgroundRuntime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("metricsctl-telemetry")
            .enable_all()
            .build()
            .context("cannot start the exporters' runtime")?;
        Ok(BackgroundRuntime(Some(runtime)))
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("present until dropped").handle()
    }
}

impl Drop for BackgroundRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The resource attributes set on every series (docs/EMBEDDING.md).
pub fn resource(config: &MetricsConfig) -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", config.service_name.clone()),
            KeyValue::new("service.version", config.service_version.clone()),
            KeyValue::new("deployment.environment", config.environment.clone()),
            KeyValue::new("service.instance.id", config.instance_id.clone()),
        ])
        .build()
}

impl MetricsPipeline {
    /// Starts the configured exporters: the JSON file exporter appends to
    /// `config.json_file_path` and the OTLP exporter pushes, every
    /// `config.export_interval`; the Prometheus exporter serves `/metrics`.
    pub fn start(config: &MetricsConfig) -> Result<MetricsPipeline> {
        let temporality = match config.temporality {
            TemporalityChoice::Cumulative => Temporality::Cumulative,
            TemporalityChoice::Delta => Temporality::Delta,
        };
        let mut builder = SdkMeterProvider::builder().with_resource(resource(config));
        let needs_runtime = config.exports_to(ExporterKind::Prometheus) || config.exports_to(ExporterKind::Otlp);
        let background = if needs_runtime { Some(BackgroundRuntime::start()?) } else { None };
        #[cfg_attr(not(feature = "prometheus"), allow(unused_mut))]
        let mut prometheus = None;
        for &kind in &config.exporters {
            match kind {
                ExporterKind::JsonFile => {
                    let exporter = JsonFileExporter::new(&config.json_file_path, config.export_timeout, temporality)?;
                    builder = builder
                        .with_reader(PeriodicReader::builder(exporter).with_interval(config.export_interval).build());
                }
                ExporterKind::Otlp => {
                    use opentelemetry_otlp::WithExportConfig;
                    let runtime = background.as_ref().expect("started for otlp").handle();
                    // tonic's channel spawns its connection task on the current runtime.
                    let _guard = runtime.enter();
                    let exporter = opentelemetry_otlp::MetricExporter::builder()
                        .with_tonic()
                        .with_endpoint(config.otlp_endpoint.clone())
                        .with_timeout(config.export_timeout)
                        .with_temporality(temporality)
                        .build()
                        .with_context(|| {
                            format!("otlp exporter: cannot set up the channel to {}", config.otlp_endpoint)
                        })?;
                    let exporter = report::Reported::new(exporter, format!("otlp push to {}", config.otlp_endpoint));
                    builder = builder
                        .with_reader(PeriodicReader::builder(exporter).with_interval(config.export_interval).build());
                }
                #[cfg(not(feature = "prometheus"))]
                ExporterKind::Prometheus => {
                    anyhow::bail!("the prometheus exporter needs metricsctl-otel's feature \"prometheus\"")
                }
                #[cfg(feature = "prometheus")]
                ExporterKind::Prometheus => {
                    let runtime = background.as_ref().expect("started for prometheus").handle();
                    let reader = ScrapeReader::new();
                    prometheus = Some(PrometheusEndpoint::start(config.prometheus_listen, reader.clone(), runtime)?);
                    builder = builder.with_reader(reader);
                }
            }
        }
        let provider = builder.build();
        Ok(MetricsPipeline { provider, config: config.clone(), prometheus, _background: background })
    }

    /// Where the Prometheus exporter serves `/metrics` (the port actually bound).
    pub fn prometheus_addr(&self) -> Option<std::net::SocketAddr> {
        self.prometheus.as_ref().map(PrometheusEndpoint::addr)
    }

    pub fn meter(&self, scope: &'static str) -> Meter {
        self.provider.meter(scope)
    }

    pub fn provider(&self) -> &SdkMeterProvider {
        &self.provider
    }

    pub fn config(&self) -> &MetricsConfig {
        &self.config
    }

    /// Exports now (and waits for the write).
    pub fn force_flush(&self) -> Result<()> {
        self.provider.force_flush().map_err(|e| anyhow!("metrics flush failed: {e}"))
    }

    /// Exports the last snapshot and stops, returning within `timeout` whatever the
    /// exporter does. Runs on its own thread, so that it cannot deadlock a
    /// current-thread runtime that is blocked in this call.
    pub fn shutdown(&self, timeout: Duration) -> Result<()> {
        let provider = self.provider.clone();
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("metricsctl-metrics-shutdown".into())
            .spawn(move || {
                let _ = tx.send(provider.shutdown_with_timeout(timeout));
            })
            .context("cannot start the metrics shutdown thread")?;
        match rx.recv_timeout(timeout) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow!("metrics shutdown failed: {e}")),
            Err(_) => Err(anyhow!("metrics shutdown did not finish within {timeout:?}")),
        }
    }
}

/// Shared by the middleware and anything else that records.
pub type SharedMeter = Arc<Meter>;
