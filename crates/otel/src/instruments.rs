//! The instruments the middleware records (docs/EMBEDDING.md, "The instruments"): names,
//! units, descriptions and histogram bounds, defined once for the middleware, the load
//! test's client and the synthetic files.

/// What identifies an instrument and describes it in every line it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instrument {
    pub name: &'static str,
    pub unit: &'static str,
    pub description: &'static str,
}

/// Histogram boundaries for request durations, in seconds.
pub const DURATION_BOUNDS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
/// Histogram boundaries for request and response sizes, in bytes.
pub const SIZE_BOUNDS: &[f64] = &[100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0, 10_000_000.0];

pub const HTTP_REQUESTS: Instrument =
    Instrument { name: "http_server_requests_total", unit: "1", description: "Total number of HTTP requests" };
pub const HTTP_DURATION: Instrument =
    Instrument { name: "http_server_request_duration_seconds", unit: "s", description: "HTTP request duration" };
pub const HTTP_REQUEST_SIZE: Instrument =
    Instrument { name: "http_server_request_size_bytes", unit: "By", description: "HTTP request size" };
pub const HTTP_RESPONSE_SIZE: Instrument =
    Instrument { name: "http_server_response_size_bytes", unit: "By", description: "HTTP response size" };
pub const HTTP_ACTIVE: Instrument =
    Instrument { name: "http_server_active_requests", unit: "1", description: "Number of active HTTP requests" };
pub const GRPC_REQUESTS: Instrument =
    Instrument { name: "grpc_server_requests_total", unit: "1", description: "Total number of gRPC requests" };
pub const GRPC_DURATION: Instrument =
    Instrument { name: "grpc_server_request_duration_seconds", unit: "s", description: "gRPC request duration" };
pub const GRPC_ACTIVE: Instrument =
    Instrument { name: "grpc_server_active_requests", unit: "1", description: "Number of active gRPC requests" };
