//! The instrumented HTTP server that `load-test` drives: a realistic route mix with
//! simulated latency and error rates, behind the metrics middleware.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use opentelemetry::metrics::Meter;

use metricsctl_otel::http::HttpMetricsLayer;

/// A route of the mix: template, method, share of the traffic, the concrete path a
/// request uses, mean latency and error rate.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub template: &'static str,
    pub method: &'static str,
    pub weight: u32,
    pub mean_latency_ms: f64,
    pub error_rate: f64,
}

pub const ROUTES: &[RouteSpec] = &[
    RouteSpec { template: "/api/v1/orders", method: "GET", weight: 30, mean_latency_ms: 2.0, error_rate: 0.01 },
    RouteSpec { template: "/api/v1/orders", method: "POST", weight: 12, mean_latency_ms: 4.0, error_rate: 0.02 },
    RouteSpec { template: "/api/v1/orders/{id}", method: "GET", weight: 25, mean_latency_ms: 1.5, error_rate: 0.01 },
    RouteSpec { template: "/api/v1/users/{id}", method: "GET", weight: 18, mean_latency_ms: 1.0, error_rate: 0.01 },
    RouteSpec { template: "/api/v1/payments", method: "POST", weight: 5, mean_latency_ms: 8.0, error_rate: 0.05 },
    RouteSpec { template: "/healthz", method: "GET", weight: 10, mean_latency_ms: 0.0, error_rate: 0.0 },
];

/// The concrete path for request number `n` of a route (ids vary; some do not exist).
pub fn concrete_path(route: &RouteSpec, n: u64) -> String {
    route.template.replace("{id}", &(mix(n) % 1000).to_string())
}

/// Picks the route of request number `n` by weight, deterministically.
pub fn pick_route(n: u64) -> usize {
    let total: u64 = ROUTES.iter().map(|r| u64::from(r.weight)).sum();
    let mut x = mix(n.wrapping_add(0x51ed)) % total;
    for (i, r) in ROUTES.iter().enumerate() {
        if x < u64::from(r.weight) {
            return i;
        }
        x -= u64::from(r.weight);
    }
    ROUTES.len() - 1
}

/// splitmix64: a cheap, good hash of a counter.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[derive(Default)]
struct AppState {
    requests: AtomicU64,
}

/// Simulated work: an exponentially distributed delay around the route's mean, and an
/// error at the route's rate.
async fn work(state: &AppState, route: usize) -> Result<(), StatusCode> {
    let n = state.requests.fetch_add(1, Ordering::Relaxed);
    let spec = &ROUTES[route];
    let u = (mix(n) >> 11) as f64 / (1u64 << 53) as f64;
    if spec.mean_latency_ms > 0.0 {
        let ms = -spec.mean_latency_ms * (1.0 - u).ln();
        tokio::time::sleep(Duration::from_secs_f64(ms.min(200.0) / 1000.0)).await;
    }
    let v = (mix(n ^ 0xdead_beef) >> 11) as f64 / (1u64 << 53) as f64;
    if v < spec.error_rate {
        return Err(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Ok(())
}

async fn list_orders(State(s): State<Arc<AppState>>) -> Result<&'static str, StatusCode> {
    work(&s, 0).await.map(|()| r#"[{"id":1,"item":"book"},{"id":2,"item":"pen"}]"#)
}

async fn create_order(
    State(s): State<Arc<AppState>>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, String), StatusCode> {
    work(&s, 1).await?;
    Ok((StatusCode::CREATED, format!(r#"{{"id":42,"received_bytes":{}}}"#, body.len())))
}

async fn get_order(State(s): State<Arc<AppState>>, Path(id): Path<u64>) -> Result<String, StatusCode> {
    work(&s, 2).await?;
    if id >= 950 {
        return Err(StatusCode::NOT_FOUND);
    }
    Ok(format!(r#"{{"id":{id},"item":"book","qty":1}}"#))
}

async fn get_user(State(s): State<Arc<AppState>>, Path(id): Path<u64>) -> Result<String, StatusCode> {
    work(&s, 3).await?;
    if id % 50 == 7 {
        return Err(StatusCode::NOT_FOUND);
    }
    Ok(format!(r#"{{"id":{id},"name":"user-{id}"}}"#))
}

async fn create_payment(
    State(s): State<Arc<AppState>>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, String), StatusCode> {
    work(&s, 4).await?;
    Ok((StatusCode::CREATED, format!(r#"{{"payment":"accepted","bytes":{}}}"#, body.len())))
}

/// The routes, optionally behind the metrics middleware (off: to measure its cost).
pub fn router(meter: Option<&Meter>) -> Router {
    let app = Router::new()
        .route("/api/v1/orders", get(list_orders).post(create_order))
        .route("/api/v1/orders/{id}", get(get_order))
        .route("/api/v1/users/{id}", get(get_user))
        .route("/api/v1/payments", axum::routing::post(create_payment))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(Arc::new(AppState::default()));
    match meter {
        Some(m) => app.layer(HttpMetricsLayer::new(m)),
        None => app,
    }
}
