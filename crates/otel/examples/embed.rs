//! A service embedding metricsctl's exporter and middleware, as docs/EMBEDDING.md describes.
//!
//! Serves a small axum app on 127.0.0.1 behind `HttpMetricsLayer`, sends it a few
//! requests, and shuts down cleanly so that the final snapshot is written:
//!
//! ```text
//! cargo run --example embed
//! metricsctl sum by route logs/embed.jsonl
//! ```
//!
//! The exporters come from the configuration: `exporters: [json_file, prometheus, otlp]`
//! in configs/config.yaml (or `MetricsFlags::exporters`) also serves `/metrics` on
//! `prometheus_listen` and pushes OTLP to `otlp_endpoint` (e.g. `metricsctl receive`).

use std::time::Duration;

use anyhow::Result;
use axum::routing::get;
use axum::Router;
use metricsctl_otel::config::{MetricsConfig, MetricsFlags};
use metricsctl_otel::http::HttpMetricsLayer;
use metricsctl_otel::MetricsPipeline;

#[tokio::main]
async fn main() -> Result<()> {
    // configs/config.yaml (if present) with one override, as a service would do.
    let config = MetricsConfig::load(&MetricsFlags {
        json_file_path: Some("logs/embed.jsonl".into()),
        export_interval: Some("1s".into()),
        ..MetricsFlags::default()
    })?;
    let pipeline = MetricsPipeline::start(&config)?;

    let app = Router::new()
        .route("/api/v1/orders/{id}", get(|| async { r#"{"id":1}"# }))
        .route("/healthz", get(|| async { "ok" }))
        .layer(HttpMetricsLayer::new(&pipeline.meter("embed-example")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });

    // Some traffic: /api/v1/orders/1 .. /5 all count under the template /api/v1/orders/{id}.
    for path in ["/api/v1/orders/1", "/api/v1/orders/2", "/api/v1/orders/5", "/healthz", "/nope"] {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header("host", addr.to_string())
            .body(http_body_util::Empty::<axum::body::Bytes>::new())?;
        let status = sender.send_request(req).await?.status();
        println!("GET {path} -> {status}");
    }

    let _ = stop_tx.send(());
    server.await??;
    // Writes the last snapshot; without it, up to one export interval of requests is lost.
    pipeline.shutdown(Duration::from_secs(5))?;
    println!("wrote {}", config.json_file_path.display());
    Ok(())
}
