//! The exporter's export of 10,000 series through the real SDK: collect + encode, and
//! collect + encode + append + fsync with the JSON file exporter.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use metricsctl_otel::json_exporter::{encode, JsonFileExporter};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};

const SERIES: usize = 10_000;

/// Encodes like the JSON exporter but writes nothing.
#[derive(Debug, Default, Clone)]
struct EncodeOnly(Arc<AtomicUsize>);

impl PushMetricExporter for EncodeOnly {
    fn export(&self, metrics: &ResourceMetrics) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let mut out = Vec::with_capacity(4 << 20);
        encode(metrics, &mut out);
        self.0.store(out.len(), Ordering::Relaxed);
        std::future::ready(Ok(()))
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

/// A provider with 10,000 series: 2,500 attribute sets on a counter and three histograms.
fn provider_with_series<E: PushMetricExporter>(exporter: E) -> SdkMeterProvider {
    let reader = PeriodicReader::builder(exporter).with_interval(Duration::from_secs(3600)).build();
    let provider = SdkMeterProvider::builder()
        .with_resource(metricsctl_otel::resource(&Default::default()))
        .with_reader(reader)
        .build();
    let meter = provider.meter("bench");
    let http = metricsctl_otel::http::HttpInstruments::new(&meter);
    for i in 0..SERIES / 4 {
        let attrs = [
            KeyValue::new("http.method", if i % 2 == 0 { "GET" } else { "POST" }),
            KeyValue::new("http.route", format!("/api/v1/route{}", i / 10)),
            KeyValue::new("http.status_code", 200 + (i % 10) as i64),
            KeyValue::new("status", "success"),
        ];
        http.requests.add(1, &attrs);
        http.duration.record(0.01, &attrs);
        http.request_size.record(100, &attrs);
        http.response_size.record(1000, &attrs);
    }
    provider
}

fn bench_export(c: &mut Criterion) {
    let mut g = c.benchmark_group("export_10000_series");
    g.sample_size(20);
    let encode_only = EncodeOnly::default();
    let bytes = Arc::clone(&encode_only.0);
    let provider = provider_with_series(encode_only);
    g.bench_function("collect + encode", |b| b.iter(|| provider.force_flush().unwrap()));
    eprintln!("one export of {SERIES} series: {} bytes", bytes.load(Ordering::Relaxed));
    let dir = tempfile::tempdir().unwrap();
    let exporter =
        JsonFileExporter::new(&dir.path().join("m.jsonl"), Duration::from_secs(30), Temporality::Cumulative).unwrap();
    let provider = provider_with_series(exporter);
    g.bench_function("collect + encode + append + fsync", |b| b.iter(|| provider.force_flush().unwrap()));
    g.finish();
}

criterion_group!(benches, bench_export);
criterion_main!(benches);
