//! gRPC server middleware (a tower layer for tonic) recording the three gRPC
//! instruments with `rpc.service`, `rpc.method` and `rpc.status_code`.
//!
//! The status code is read from the response headers, where tonic puts it for
//! trailers-only responses (every error of a unary call); a response without it
//! carries its status in the trailers after a successful message: 0 (OK).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use opentelemetry::metrics::{Counter, Histogram, Meter, UpDownCounter};
use opentelemetry::KeyValue;
use tower::{Layer, Service};

use super::http::ActiveRequest;
use crate::instruments::{DURATION_BOUNDS, GRPC_ACTIVE, GRPC_DURATION, GRPC_REQUESTS};

#[derive(Clone)]
pub struct GrpcInstruments {
    pub requests: Counter<u64>,
    pub duration: Histogram<f64>,
    pub active: UpDownCounter<i64>,
}

impl GrpcInstruments {
    pub fn new(meter: &Meter) -> GrpcInstruments {
        GrpcInstruments {
            requests: meter
                .u64_counter(GRPC_REQUESTS.name)
                .with_description(GRPC_REQUESTS.description)
                .with_unit(GRPC_REQUESTS.unit)
                .build(),
            duration: meter
                .f64_histogram(GRPC_DURATION.name)
                .with_description(GRPC_DURATION.description)
                .with_unit(GRPC_DURATION.unit)
                .with_boundaries(DURATION_BOUNDS.to_vec())
                .build(),
            active: meter
                .i64_up_down_counter(GRPC_ACTIVE.name)
                .with_description(GRPC_ACTIVE.description)
                .with_unit(GRPC_ACTIVE.unit)
                .build(),
        }
    }
}

/// `/pkg.Service/Method` -> (`pkg.Service`, `Method`).
pub fn split_grpc_path(path: &str) -> (String, String) {
    let trimmed = path.trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((service, method)) if !service.is_empty() && !method.is_empty() => {
            (service.to_string(), method.to_string())
        }
        _ => ("unknown".to_string(), trimmed.to_string()),
    }
}

#[derive(Clone)]
pub struct GrpcMetricsLayer {
    instruments: Arc<GrpcInstruments>,
}

impl GrpcMetricsLayer {
    pub fn new(meter: &Meter) -> GrpcMetricsLayer {
        GrpcMetricsLayer { instruments: Arc::new(GrpcInstruments::new(meter)) }
    }
}

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;
    fn layer(&self, inner: S) -> GrpcMetrics<S> {
        GrpcMetrics { inner, instruments: Arc::clone(&self.instruments) }
    }
}

#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    instruments: Arc<GrpcInstruments>,
}

impl<S, ReqBody, ResBody> Service<hyper::Request<ReqBody>> for GrpcMetrics<S>
where
    S: Service<hyper::Request<ReqBody>, Response = hyper::Response<ResBody>> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: hyper::Request<ReqBody>) -> Self::Future {
        let instruments = Arc::clone(&self.instruments);
        let (service, method) = split_grpc_path(req.uri().path());
        let guard = ActiveRequest::enter(&instruments.active);
        let start = Instant::now();
        let future = self.inner.call(req);
        Box::pin(async move {
            let result = future.await;
            let code: i64 = match &result {
                Ok(resp) => resp
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                // The transport failed: UNKNOWN.
                Err(_) => 2,
            };
            let attrs = [
                KeyValue::new("rpc.service", service),
                KeyValue::new("rpc.method", method),
                KeyValue::new("rpc.status_code", code),
            ];
            instruments.requests.add(1, &attrs);
            instruments.duration.record(start.elapsed().as_secs_f64(), &attrs);
            drop(guard);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::split_grpc_path;

    #[test]
    fn grpc_paths() {
        assert_eq!(split_grpc_path("/orders.OrderService/GetOrder"), ("orders.OrderService".into(), "GetOrder".into()));
        assert_eq!(split_grpc_path("/weird"), ("unknown".into(), "weird".into()));
    }
}
