//! The seed's metrics system in Rust, for services to embed: a `MeterProvider` with the
//! service's resource, a `PeriodicReader` driving the JSON file exporter, and the HTTP
//! middleware recording the seed's instruments.
//!
//! ```no_run
//! use metricsctl::telemetry::{config::MetricsConfig, http::HttpMetricsLayer, MetricsPipeline};
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
pub mod json_exporter;

use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::Resource;

use self::config::{MetricsConfig, TemporalityChoice};
use self::json_exporter::JsonFileExporter;

/// A running metrics pipeline. `shutdown` writes the final snapshot; call it before the
/// process exits (Ctrl-C included) or the requests since the last export are lost.
pub struct MetricsPipeline {
    provider: SdkMeterProvider,
    config: MetricsConfig,
}

/// The resource attributes the seed sets on every series.
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
    /// Starts exporting to `config.json_file_path` every `config.export_interval`.
    pub fn start(config: &MetricsConfig) -> Result<MetricsPipeline> {
        let temporality = match config.temporality {
            TemporalityChoice::Cumulative => Temporality::Cumulative,
            TemporalityChoice::Delta => Temporality::Delta,
        };
        let exporter = JsonFileExporter::new(&config.json_file_path, config.export_timeout, temporality)?;
        let reader = PeriodicReader::builder(exporter).with_interval(config.export_interval).build();
        let provider = SdkMeterProvider::builder().with_resource(resource(config)).with_reader(reader).build();
        Ok(MetricsPipeline { provider, config: config.clone() })
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
