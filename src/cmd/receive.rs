//! `metricsctl receive`: an OTLP metrics receiver. Any OpenTelemetry SDK pushes to it
//! over gRPC (4317) or HTTP (4318, protobuf or JSON); every data point is appended to a
//! metrics.jsonl file in the record format (docs/FORMAT.md) (see [`metricsctl_otel::otlp`] for the mapping).
//!
//! A request is answered only after its lines are written and fsynced, so an
//! acknowledged push survives a crash, and SIGINT/SIGTERM stop the listeners, let the
//! requests in flight finish, then exit. Malformed and oversized requests get an error
//! status; points the format cannot carry are reported as OTLP partial success.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message;
use tonic::codec::CompressionEncoding;

use crate::cli::{ReceiveArgs, ReceiveOutput};
use metricsctl_format::text::sanitize;
use metricsctl_format::write::Appender;
use metricsctl_otel::otlp::{convert, data_points, request_to_json_line, Conversion};

/// State shared by both listeners.
struct Receiver {
    appender: Mutex<Appender>,
    output: ReceiveOutput,
    requests: AtomicU64,
    refused: AtomicU64,
    totals: Mutex<Conversion>,
    /// Rejection reasons already reported on stderr (each is reported once).
    reported: Mutex<BTreeSet<String>>,
}

/// Why a request was not taken.
enum Refusal {
    /// The client sent something wrong: do not retry.
    Invalid(String),
    TooLarge(String),
    /// The file could not be written: retry later.
    Unavailable(String),
}

impl Receiver {
    async fn ingest(self: &Arc<Self>, request: ExportMetricsServiceRequest) -> Result<Conversion, Refusal> {
        let received = metricsctl_format::timestamp::now_nanos();
        let (bytes, conversion) = match self.output {
            ReceiveOutput::Records => {
                let mut bytes = Vec::with_capacity(request.encoded_len() * 2);
                let conversion = convert(&request, received, &mut bytes);
                (bytes, conversion)
            }
            // Kept whole: nothing is rejected, whoever reads the file decides.
            ReceiveOutput::OtlpJson => {
                (request_to_json_line(&request), Conversion { points: data_points(&request), ..Conversion::default() })
            }
        };
        if !bytes.is_empty() {
            let this = Arc::clone(self);
            let written = tokio::task::spawn_blocking(move || {
                let mut appender = this.appender.lock().unwrap_or_else(|e| e.into_inner());
                appender.append(&bytes).map_err(|e| format!("cannot write {}: {e}", appender.path().display()))
            })
            .await
            .unwrap_or_else(|e| Err(format!("writer task failed: {e}")));
            if let Err(e) = written {
                eprintln!("metricsctl: {e}");
                self.refused.fetch_add(1, Ordering::Relaxed);
                return Err(Refusal::Unavailable(e));
            }
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.totals.lock().unwrap_or_else(|e| e.into_inner()).add(&conversion);
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        for reason in conversion.rejected.keys() {
            if reported.insert(reason.clone()) {
                eprintln!(
                    "metricsctl: rejected points (reported to the sender as partial success): {}",
                    sanitize(reason)
                );
            }
        }
        Ok(conversion)
    }

    fn refuse(&self, why: &str) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        eprintln!("metricsctl: refused a request: {}", sanitize(why));
    }
}

fn response(conversion: &Conversion) -> ExportMetricsServiceResponse {
    let rejected = conversion.rejected_points();
    ExportMetricsServiceResponse {
        partial_success: (rejected > 0).then(|| ExportMetricsPartialSuccess {
            rejected_data_points: i64::try_from(rejected).unwrap_or(i64::MAX),
            error_message: conversion.rejection_message(),
        }),
    }
}

struct GrpcService(Arc<Receiver>);

#[tonic::async_trait]
impl MetricsService for GrpcService {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        match self.0.ingest(request.into_inner()).await {
            Ok(conversion) => Ok(tonic::Response::new(response(&conversion))),
            Err(Refusal::Unavailable(e)) => Err(tonic::Status::unavailable(e)),
            Err(Refusal::Invalid(e)) => Err(tonic::Status::invalid_argument(e)),
            Err(Refusal::TooLarge(e)) => Err(tonic::Status::resource_exhausted(e)),
        }
    }
}

/// google.rpc.Status, the body of OTLP/HTTP error responses.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// How an OTLP/HTTP request is encoded; the response is encoded the same way.
#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Protobuf,
    Json,
}

fn http_error(status: StatusCode, code: tonic::Code, message: String, encoding: Encoding) -> Response {
    match encoding {
        Encoding::Protobuf => {
            let body = RpcStatus { code: code as i32, message }.encode_to_vec();
            (status, [(header::CONTENT_TYPE, PROTOBUF)], body).into_response()
        }
        Encoding::Json => {
            let body = serde_json::json!({ "code": code as i32, "message": message }).to_string();
            (status, [(header::CONTENT_TYPE, JSON)], body).into_response()
        }
    }
}

struct HttpState {
    receiver: Arc<Receiver>,
    max_bytes: usize,
}

fn decompress(headers: &HeaderMap, body: Bytes, max_bytes: usize) -> Result<Bytes, Refusal> {
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity");
    match encoding.trim().to_ascii_lowercase().as_str() {
        "identity" | "" => Ok(body),
        "gzip" => {
            let mut out = Vec::new();
            // One byte more than allowed tells "too large" from "exactly the limit".
            let mut reader = flate2::read::GzDecoder::new(&body[..]).take(max_bytes as u64 + 1);
            reader.read_to_end(&mut out).map_err(|e| Refusal::Invalid(format!("invalid gzip body: {e}")))?;
            if out.len() > max_bytes {
                return Err(Refusal::TooLarge(format!("request larger than {max_bytes} bytes after decompression")));
            }
            Ok(out.into())
        }
        other => Err(Refusal::Invalid(format!("unsupported Content-Encoding {other:?} (identity or gzip)"))),
    }
}

async fn http_export(State(state): State<Arc<HttpState>>, headers: HeaderMap, body: axum::body::Body) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let encoding = match media.as_str() {
        PROTOBUF | "application/protobuf" => Encoding::Protobuf,
        JSON => Encoding::Json,
        _ => {
            let why = format!(
                "Content-Type {content_type:?}: this receiver takes OTLP/HTTP protobuf ({PROTOBUF}) or JSON ({JSON})"
            );
            state.receiver.refuse(&why);
            return http_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                tonic::Code::InvalidArgument,
                why,
                Encoding::Protobuf,
            );
        }
    };
    let refused = |state: &HttpState, refusal: Refusal| match refusal {
        Refusal::Invalid(why) => {
            state.receiver.refuse(&why);
            http_error(StatusCode::BAD_REQUEST, tonic::Code::InvalidArgument, why, encoding)
        }
        Refusal::TooLarge(why) => {
            state.receiver.refuse(&why);
            http_error(StatusCode::PAYLOAD_TOO_LARGE, tonic::Code::ResourceExhausted, why, encoding)
        }
        Refusal::Unavailable(why) => {
            http_error(StatusCode::SERVICE_UNAVAILABLE, tonic::Code::Unavailable, why, encoding)
        }
    };
    // Read here, not by an extractor's limit, so that a body too large is counted and
    // said like every other refusal.
    use http_body_util::BodyExt;
    let body = match http_body_util::Limited::new(body, state.max_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            let why = format!("request larger than {} bytes", state.max_bytes);
            return refused(&state, Refusal::TooLarge(why));
        }
        Err(e) => return refused(&state, Refusal::Invalid(format!("cannot read the request body: {e}"))),
    };
    let body = match decompress(&headers, body, state.max_bytes) {
        Ok(b) => b,
        Err(r) => return refused(&state, r),
    };
    let request = match encoding {
        Encoding::Protobuf => ExportMetricsServiceRequest::decode(body)
            .map_err(|e| format!("not an OTLP ExportMetricsServiceRequest: {e}")),
        Encoding::Json => metricsctl_otel::otlp::request_from_json(&body),
    };
    let request = match request {
        Ok(r) => r,
        Err(why) => return refused(&state, Refusal::Invalid(why)),
    };
    match state.receiver.ingest(request).await {
        Ok(conversion) => match encoding {
            Encoding::Protobuf => {
                ([(header::CONTENT_TYPE, PROTOBUF)], response(&conversion).encode_to_vec()).into_response()
            }
            Encoding::Json => {
                let body = serde_json::to_string(&response(&conversion)).unwrap_or_else(|_| "{}".into());
                ([(header::CONTENT_TYPE, JSON)], body).into_response()
            }
        },
        Err(r) => refused(&state, r),
    }
}

/// `off` disables a listener.
fn listen_addr(text: &str, flag: &str) -> Result<Option<SocketAddr>> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    text.parse().map(Some).with_context(|| format!("{flag}: {text:?} is not an address like 127.0.0.1:4317 (or off)"))
}

fn bind(addr: SocketAddr, what: &str) -> Result<tokio::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr).with_context(|| format!("{what}: cannot listen on {addr}"))?;
    listener.set_nonblocking(true)?;
    Ok(tokio::net::TcpListener::from_std(listener)?)
}

pub fn run(args: ReceiveArgs) -> Result<ExitCode> {
    let grpc_addr = listen_addr(&args.otlp_grpc, "--otlp-grpc")?;
    let http_addr = listen_addr(&args.otlp_http, "--otlp-http")?;
    if grpc_addr.is_none() && http_addr.is_none() {
        anyhow::bail!("--otlp-grpc and --otlp-http are both off: nothing to receive on");
    }
    if args.max_request_bytes == 0 {
        anyhow::bail!("--max-request-bytes must be positive");
    }
    let receiver = Arc::new(Receiver {
        appender: Mutex::new(Appender::open(&args.output)?),
        output: args.output_format,
        requests: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        totals: Mutex::new(Conversion::default()),
        reported: Mutex::new(BTreeSet::new()),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(&args, grpc_addr, http_addr, Arc::clone(&receiver)))?;
    let totals = receiver.totals.lock().unwrap_or_else(|e| e.into_inner()).clone();
    eprintln!(
        "metricsctl: received {} requests, {} points written to {}, {} points rejected, {} requests refused",
        receiver.requests.load(Ordering::Relaxed),
        totals.points,
        args.output.display(),
        totals.rejected_points(),
        receiver.refused.load(Ordering::Relaxed),
    );
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    args: &ReceiveArgs,
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    receiver: Arc<Receiver>,
) -> Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|&stop| stop).await;
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(addr) = grpc_addr {
        let listener = bind(addr, "--otlp-grpc")?;
        eprintln!("metricsctl: OTLP/gRPC on {}", listener.local_addr()?);
        let service = MetricsServiceServer::new(GrpcService(Arc::clone(&receiver)))
            .max_decoding_message_size(args.max_request_bytes)
            .accept_compressed(CompressionEncoding::Gzip);
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let shutdown = stopped();
        // tonic refuses bodies it cannot decode (INTERNAL) or that exceed the size limit
        // (OUT_OF_RANGE) before the service sees them: count and say those here.
        let counting = Arc::clone(&receiver);
        let refusals = tower::util::MapResponseLayer::new(move |response: axum::http::Response<tonic::body::Body>| {
            let status = response.headers().get("grpc-status").and_then(|v| v.to_str().ok()).unwrap_or("0");
            if status == "13" || status == "11" {
                let message = response.headers().get("grpc-message").and_then(|v| v.to_str().ok()).unwrap_or("");
                let message = percent_decoded(message);
                counting.refuse(&format!("OTLP/gRPC request: {message}"));
            }
            response
        });
        tasks.spawn(async move {
            tonic::transport::Server::builder()
                .layer(refusals)
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await
                .context("OTLP/gRPC server")
        });
    }
    if let Some(addr) = http_addr {
        let listener = bind(addr, "--otlp-http")?;
        eprintln!("metricsctl: OTLP/HTTP on http://{}/v1/metrics", listener.local_addr()?);
        let state = Arc::new(HttpState { receiver: Arc::clone(&receiver), max_bytes: args.max_request_bytes });
        let app = axum::Router::new()
            .route("/v1/metrics", axum::routing::post(http_export))
            .layer(DefaultBodyLimit::disable())
            .with_state(state);
        let shutdown = stopped();
        tasks.spawn(async move {
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await.context("OTLP/HTTP server")
        });
    }
    eprintln!("metricsctl: appending to {}; Ctrl-C to stop", args.output.display());
    tokio::select! {
        _ = super::termination() => {
            eprintln!("metricsctl: stopping; finishing the requests in flight");
        }
        Some(result) = tasks.join_next() => {
            // A listener failed on its own.
            result??;
        }
    }
    let _ = stop_tx.send(true);
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    Ok(())
}

/// A `grpc-message` header's text: percent-encoded by the gRPC protocol.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
