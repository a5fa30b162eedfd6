//! HTTP server middleware (a tower layer) recording the five HTTP instruments (docs/EMBEDDING.md).
//!
//! Attributes: `http.method`, `http.route` (the route template, e.g.
//! `/api/v1/orders/{id}`, from axum's `MatchedPath`; requests that match no route are
//! recorded as `unmatched` so that raw paths cannot explode cardinality),
//! `http.status_code`, and `status` (`error` for 5xx and failed handlers, else
//! `success`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use http_body_util::BodyExt as _;
use hyper::body::Body;
use opentelemetry::metrics::{Counter, Histogram, Meter, UpDownCounter};
use opentelemetry::KeyValue;
use tower::{Layer, Service};

use crate::instruments::{
    DURATION_BOUNDS, HTTP_ACTIVE, HTTP_DURATION, HTTP_REQUESTS, HTTP_REQUEST_SIZE, HTTP_RESPONSE_SIZE, SIZE_BOUNDS,
};

/// The HTTP instruments of docs/EMBEDDING.md.
#[derive(Clone)]
pub struct HttpInstruments {
    pub requests: Counter<u64>,
    pub duration: Histogram<f64>,
    pub request_size: Histogram<u64>,
    pub response_size: Histogram<u64>,
    pub active: UpDownCounter<i64>,
}

impl HttpInstruments {
    pub fn new(meter: &Meter) -> HttpInstruments {
        HttpInstruments {
            requests: meter
                .u64_counter(HTTP_REQUESTS.name)
                .with_description(HTTP_REQUESTS.description)
                .with_unit(HTTP_REQUESTS.unit)
                .build(),
            duration: meter
                .f64_histogram(HTTP_DURATION.name)
                .with_description(HTTP_DURATION.description)
                .with_unit(HTTP_DURATION.unit)
                .with_boundaries(DURATION_BOUNDS.to_vec())
                .build(),
            request_size: meter
                .u64_histogram(HTTP_REQUEST_SIZE.name)
                .with_description(HTTP_REQUEST_SIZE.description)
                .with_unit(HTTP_REQUEST_SIZE.unit)
                .with_boundaries(SIZE_BOUNDS.to_vec())
                .build(),
            response_size: meter
                .u64_histogram(HTTP_RESPONSE_SIZE.name)
                .with_description(HTTP_RESPONSE_SIZE.description)
                .with_unit(HTTP_RESPONSE_SIZE.unit)
                .with_boundaries(SIZE_BOUNDS.to_vec())
                .build(),
            active: meter
                .i64_up_down_counter(HTTP_ACTIVE.name)
                .with_description(HTTP_ACTIVE.description)
                .with_unit(HTTP_ACTIVE.unit)
                .build(),
        }
    }
}

/// Wraps a service so that every request is recorded.
#[derive(Clone)]
pub struct HttpMetricsLayer {
    instruments: Arc<HttpInstruments>,
}

impl HttpMetricsLayer {
    pub fn new(meter: &Meter) -> HttpMetricsLayer {
        HttpMetricsLayer { instruments: Arc::new(HttpInstruments::new(meter)) }
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;
    fn layer(&self, inner: S) -> HttpMetrics<S> {
        HttpMetrics { inner, instruments: Arc::clone(&self.instruments) }
    }
}

#[derive(Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    instruments: Arc<HttpInstruments>,
}

/// Counts a request as active until dropped, also when its future is dropped unfinished
/// (a client that went away), so the gauge cannot drift upwards.
pub(crate) struct ActiveRequest(UpDownCounter<i64>);

impl ActiveRequest {
    pub(crate) fn enter(active: &UpDownCounter<i64>) -> ActiveRequest {
        active.add(1, &[]);
        ActiveRequest(active.clone())
    }
}

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.0.add(-1, &[]);
    }
}

impl<S, ReqBody, ResBody> Service<hyper::Request<ReqBody>> for HttpMetrics<S>
where
    S: Service<hyper::Request<ReqBody>, Response = hyper::Response<ResBody>> + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Body,
    ResBody: Body,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: hyper::Request<ReqBody>) -> Self::Future {
        let instruments = Arc::clone(&self.instruments);
        let method = req.method().as_str().to_string();
        let route =
            req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
        let request_size =
            req.body().size_hint().exact().or_else(|| {
                req.headers().get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok())
            });
        let guard = ActiveRequest::enter(&instruments.active);
        let start = Instant::now();
        let future = self.inner.call(req);
        Box::pin(async move {
            let result = future.await;
            let elapsed = start.elapsed().as_secs_f64();
            let (code, status, response_size) = match &result {
                Ok(resp) => {
                    let code = resp.status().as_u16();
                    (code, if code >= 500 { "error" } else { "success" }, resp.body().size_hint().exact())
                }
                Err(_) => (500, "error", None),
            };
            let attrs = [
                KeyValue::new("http.method", method),
                KeyValue::new("http.route", route),
                KeyValue::new("http.status_code", i64::from(code)),
                KeyValue::new("status", status),
            ];
            instruments.requests.add(1, &attrs);
            instruments.duration.record(elapsed, &attrs);
            if let Some(size) = request_size.filter(|&s| s > 0) {
                instruments.request_size.record(size, &attrs);
            }
            if let Some(size) = response_size {
                instruments.response_size.record(size, &attrs);
            }
            drop(guard);
            result
        })
    }
}

/// Reads a whole body, for tests and the load generator.
pub async fn body_bytes<B>(body: B) -> Result<axum::body::Bytes, B::Error>
where
    B: Body,
{
    Ok(body.collect().await?.to_bytes())
}
