//! `metricsctl receive` against real OTLP senders: Python's OpenTelemetry SDK (gRPC and
//! HTTP/protobuf exporters, cumulative and delta) and this crate's own OTLP exporter,
//! plus requests that must be refused without stopping the receiver.
//! scripts/test.sh installs the Python packages; a missing one fails the test.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

struct Receiver {
    running: Running,
    grpc: u16,
    http: u16,
}

fn start_receiver(output: &Path, extra: &[&str]) -> Receiver {
    let mut args = vec!["receive", "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "-o"];
    args.push(output.to_str().unwrap());
    args.extend_from_slice(extra);
    let mut running = Running::start(&args);
    let grpc = running.announced_port("OTLP/gRPC on");
    let http = running.announced_port("OTLP/HTTP on");
    running.wait_for("appending to");
    Receiver { running, grpc, http }
}

fn python_push(protocol: &str, endpoint: &str, temporality: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/otlp_push.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .args([protocol, endpoint, temporality])
        .output()
        .expect("python3 runs (scripts/test.sh installs the OpenTelemetry SDK)");
    assert!(
        out.status.success(),
        "the Python SDK failed (scripts/test.sh installs opentelemetry-sdk and the OTLP exporters): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn as_u64(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// Pushes the Python workload, stops the receiver, and checks that `sum` and `quantile`
/// on the received file give exactly what was recorded.
fn python_round_trip(protocol: &str, temporality: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("received.jsonl");
    let receiver = start_receiver(&file, &[]);
    let endpoint = match protocol {
        "grpc" => format!("127.0.0.1:{}", receiver.grpc),
        _ => format!("http://127.0.0.1:{}/v1/metrics", receiver.http),
    };
    let recorded = python_push(protocol, &endpoint, temporality);
    let (status, stderr) = receiver.running.stop("TERM");
    assert!(status.success(), "{stderr:#?}");
    let summary = stderr.iter().find(|l| l.starts_with("metricsctl: received ")).unwrap();
    assert!(summary.contains(", 0 points rejected, 0 requests refused"), "{summary}");
    let path = file.to_str().unwrap();

    let text = std::fs::read_to_string(&file).unwrap();
    let exports = text.lines().filter(|l| l.contains("http_server_requests_total")).count();
    assert!(exports > 6, "several exports were pushed, not one: {exports} lines");
    if temporality == "delta" {
        assert!(text.contains(r#""temporality":"delta""#), "delta points are marked");
    } else {
        assert!(!text.contains(r#""temporality":"delta""#));
    }
    metricsctl().args(["check", path]).assert().success();

    let requests: BTreeMap<String, u64> =
        recorded["requests"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), as_u64(v))).collect();
    let summed: BTreeMap<String, u64> = sum_by("route", &[path]).into_iter().map(|(k, v)| (k, as_u64(&v))).collect();
    assert_eq!(summed, requests, "sum by route of the received file equals what the SDK recorded");
    // Two scopes recorded the same metric with the same attributes: two series each.
    let by_scope: BTreeMap<String, u64> =
        recorded["requests_by_scope"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), as_u64(v))).collect();
    let summed: BTreeMap<String, u64> = sum_by("scope", &[path]).into_iter().map(|(k, v)| (k, as_u64(&v))).collect();
    assert_eq!(summed, by_scope, "sum by scope keeps the instrumentation scopes apart");
    assert!(text.contains(r#""scope":{"name":"otlp_push.retry","version":"1.2.0"}"#), "the scope is written");
    let exposition = stdout_of(&["to-prometheus", path]);
    assert!(
        exposition.contains(r#"otel_scope_name="otlp_push.retry",otel_scope_version="1.2.0""#),
        "to-prometheus labels the scope as the compatibility spec names it:\n{exposition}"
    );

    let rows = json(&["quantile", "by", "route", path]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    for row in rows {
        let route = row["route"].as_str().unwrap();
        let expected = &recorded["latency"][route];
        assert_eq!(as_u64(&row["count"]), as_u64(&expected[0]), "{route}");
        let mean = expected[1].as_f64().unwrap() / expected[0].as_f64().unwrap();
        let got = row["mean"].as_f64().unwrap();
        assert!((got - mean).abs() < 1e-9 * mean.max(1.0), "{route}: mean {got} != {mean}");
        // p50 is interpolated inside the bucket that holds the true median.
        let p50 = row["p50"].as_f64().unwrap();
        let bucket = &recorded["median_bucket"][route];
        let (lower, upper) = (bucket[0].as_f64().unwrap(), bucket[1].as_f64().unwrap());
        assert!(lower <= p50 && p50 <= upper, "{route}: p50 {p50} outside the median's bucket ({lower}, {upper}]");
    }

    // The up-down counter stays a level (a gauge): its last value.
    let queue = json(&["sum", "-m", "queue_depth", path]);
    assert_eq!(queue[0]["value"], recorded["queue_depth"], "{queue}");
}

#[test]
fn python_sdk_over_grpc_cumulative() {
    python_round_trip("grpc", "cumulative");
}

#[test]
fn python_sdk_over_grpc_delta() {
    python_round_trip("grpc", "delta");
}

#[test]
fn python_sdk_over_http_cumulative() {
    python_round_trip("http", "cumulative");
}

#[test]
fn python_sdk_over_http_delta() {
    python_round_trip("http", "delta");
}

/// OTLP/HTTP with the JSON encoding: the SDK's own encoder, then protobuf's JSON printer
/// (lowerCamelCase, 64-bit integers as strings, enums by name).
#[test]
fn python_sdk_over_http_json_cumulative() {
    python_round_trip("http-json", "cumulative");
}

#[test]
fn python_sdk_over_http_json_delta() {
    python_round_trip("http-json", "delta");
}

#[test]
fn json_that_is_not_an_otlp_request_is_refused_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("received.jsonl");
    let receiver = start_receiver(&file, &[]);
    let (status, body) = http_post(receiver.http, "application/json", br#"{"resourceMetrics": 5}"#);
    assert_eq!(status, 400);
    let error: Value = serde_json::from_slice(&body).expect("a JSON request gets a JSON error");
    assert!(error["message"].as_str().unwrap().contains("not an OTLP/JSON"), "{error}");
    let (status, body) = http_post(receiver.http, "application/json", b"{not json");
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    // An empty request is a valid one, with nothing in it.
    let (status, body) = http_post(receiver.http, "application/json", b"{}");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, stderr) = receiver.running.stop("INT");
    assert!(status.success(), "{stderr:#?}");
    let summary = stderr.iter().find(|l| l.starts_with("metricsctl: received ")).unwrap();
    assert!(summary.contains("2 requests refused"), "{summary}");
}

/// The crate's OTLP exporter and its JSON file exporter, side by side on one
/// MeterProvider under load: the received file and the JSON file agree route by route.
#[test]
fn rust_otlp_exporter_agrees_with_the_json_file_exporter() {
    for temporality in ["cumulative", "delta"] {
        let dir = tempfile::tempdir().unwrap();
        let received = dir.path().join("received.jsonl");
        let direct = dir.path().join("direct.jsonl");
        let receiver = start_receiver(&received, &[]);
        let endpoint = format!("http://127.0.0.1:{}", receiver.grpc);
        let out = metricsctl()
            .args(["load-test", "-z", "3s", "-c", "4", "-q", "1500", "--grpc", "--exporter", "json_file,otlp"])
            .args(["--otlp-endpoint", &endpoint, "--export-interval", "500ms", "--temporality", temporality])
            .args(["--json-file-path", direct.to_str().unwrap(), "--format", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["exporters"], serde_json::json!(["json_file", "otlp"]));
        assert_eq!(summary["cross_check"]["ok"], true, "{summary}");
        let (status, stderr) = receiver.running.stop("INT");
        assert!(status.success(), "{stderr:#?}");

        for (metric, label) in [("http_server_requests_total", "route"), ("grpc_server_requests_total", "rpc.method")] {
            let from_file = sum_by(label, &["-m", metric, direct.to_str().unwrap()]);
            let from_otlp = sum_by(label, &["-m", metric, received.to_str().unwrap()]);
            assert!(!from_file.is_empty(), "{metric}");
            assert_eq!(from_otlp, from_file, "{metric}, {temporality}");
        }
        let client_total = as_u64(&summary["requests"]);
        let grpc = json(&["sum", "-m", "grpc_server_requests_total", received.to_str().unwrap()]);
        let http = json(&["sum", received.to_str().unwrap()]);
        assert_eq!(as_u64(&grpc[0]["value"]) + as_u64(&http[0]["value"]), client_total, "{temporality}");
    }
}

fn http_post(port: u16, content_type: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer and close before reading a body it refuses.
    let _ = s.write_all(body);
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = match response.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => response[i + 4..].to_vec(),
        None => Vec::new(),
    };
    (status, body)
}

/// A minimal valid OTLP request, built with the official types.
fn valid_request(value: i64) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::metrics::v1::{
        metric, number_data_point, AggregationTemporality, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use prost::Message;
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }),
        ..Default::default()
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource { attributes: vec![kv("service.name", "raw")], ..Default::default() }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "raw_requests_total".into(),
                    data: Some(metric::Data::Sum(Sum {
                        data_points: vec![NumberDataPoint {
                            attributes: vec![kv("http.route", "/raw")],
                            time_unix_nano: now,
                            start_time_unix_nano: now - 1_000_000_000,
                            value: Some(number_data_point::Value::AsInt(value)),
                            ..Default::default()
                        }],
                        aggregation_temporality: AggregationTemporality::Delta as i32,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// Sends raw bytes as a gRPC Export call and returns the grpc-status (0 = OK).
fn grpc_export_raw(port: u16, message: Vec<u8>) -> tonic::Code {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut grpc = tonic::client::Grpc::new(channel).max_encoding_message_size(usize::MAX);
        grpc.ready().await.unwrap();
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        );
        let result: Result<tonic::Response<Vec<u8>>, tonic::Status> =
            grpc.unary(tonic::Request::new(message), path, RawCodec).await;
        match result {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        }
    })
}

/// Passes bytes through unchanged, so that a test can send what no client would.
#[derive(Clone, Copy)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use bytes_ext::BufMutExt;
        dst.put_all(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes_ext::BufExt;
        Ok(Some(src.take_all()))
    }
}

/// `bytes`' Buf/BufMut through tonic's re-export, without a direct dependency.
mod bytes_ext {
    pub trait BufMutExt {
        fn put_all(&mut self, data: &[u8]);
    }
    impl BufMutExt for tonic::codec::EncodeBuf<'_> {
        fn put_all(&mut self, data: &[u8]) {
            use prost::bytes::BufMut;
            self.put_slice(data);
        }
    }
    pub trait BufExt {
        fn take_all(&mut self) -> Vec<u8>;
    }
    impl BufExt for tonic::codec::DecodeBuf<'_> {
        fn take_all(&mut self) -> Vec<u8> {
            use prost::bytes::Buf;
            let mut out = vec![0; self.remaining()];
            self.copy_to_slice(&mut out);
            out
        }
    }
}

#[test]
fn garbage_and_oversized_requests_are_refused_and_the_receiver_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("received.jsonl");
    let receiver = start_receiver(&file, &[]);
    let protobuf = "application/x-protobuf";
    let hundred_mb = vec![0x0a_u8; 100 << 20];

    // HTTP: garbage, a 100 MB body, a media type that is not OTLP, then a valid push.
    let (status, body) = http_post(receiver.http, protobuf, b"\xff\xff\xff garbage \x00\x01");
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("not an OTLP"), "the error says why");
    let (status, _) = http_post(receiver.http, protobuf, &hundred_mb);
    assert_eq!(status, 413);
    let (status, _) = http_post(receiver.http, "text/plain", b"{}");
    assert_eq!(status, 415);
    let (status, _) = http_post(receiver.http, protobuf, &valid_request(5));
    assert_eq!(status, 200);

    // gRPC: the same.
    assert_ne!(grpc_export_raw(receiver.grpc, b"\xff\xff\xff garbage".to_vec()), tonic::Code::Ok);
    // tonic's own limit check answers OutOfRange.
    let code = grpc_export_raw(receiver.grpc, hundred_mb);
    assert!(matches!(code, tonic::Code::OutOfRange | tonic::Code::ResourceExhausted), "{code:?}");
    assert_eq!(grpc_export_raw(receiver.grpc, valid_request(7)), tonic::Code::Ok);

    let (status, stderr) = receiver.running.stop("INT");
    assert!(status.success(), "{stderr:#?}");
    let summary = stderr.iter().find(|l| l.starts_with("metricsctl: received ")).unwrap();
    assert!(summary.contains("received 2 requests, 2 points"), "{summary}");
    // Each refusal is counted and said, over gRPC as over HTTP.
    assert!(summary.contains("5 requests refused"), "{stderr:#?}");
    let grpc_refusals = stderr.iter().filter(|l| l.contains("refused a request: OTLP/gRPC request")).count();
    assert_eq!(grpc_refusals, 2, "{stderr:#?}");
    // Both valid pushes arrived, as deltas: 5 + 7.
    let total = json(&["sum", "-m", "raw_requests_total", file.to_str().unwrap()]);
    assert_eq!(total[0]["value"], 12, "{total}");
}

#[test]
fn points_the_format_cannot_carry_are_rejected_as_partial_success() {
    use opentelemetry_proto::tonic::collector::metrics::v1::{
        ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    };
    use opentelemetry_proto::tonic::metrics::v1::{
        metric, ExponentialHistogram, ExponentialHistogramDataPoint, Metric, Summary, SummaryDataPoint,
    };
    use prost::Message;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("received.jsonl");
    let receiver = start_receiver(&file, &[]);
    let mut request = ExportMetricsServiceRequest::decode(&valid_request(3)[..]).unwrap();
    let metrics = &mut request.resource_metrics[0].scope_metrics[0].metrics;
    metrics.push(Metric {
        // A terminal escape in a name must not reach the operator's terminal raw.
        name: "latency_exp\u{1b}[2J".into(),
        data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![ExponentialHistogramDataPoint { count: 1, sum: Some(1.0), ..Default::default() }; 2],
            aggregation_temporality: 2,
        })),
        ..Default::default()
    });
    metrics.push(Metric {
        name: "latency_summary".into(),
        data: Some(metric::Data::Summary(Summary {
            data_points: vec![SummaryDataPoint { count: 1, sum: 1.0, ..Default::default() }],
        })),
        ..Default::default()
    });
    let (status, body) = http_post(receiver.http, "application/x-protobuf", &request.encode_to_vec());
    assert_eq!(status, 200);
    let response = ExportMetricsServiceResponse::decode(&body[..]).unwrap();
    let partial = response.partial_success.expect("partial success reported");
    assert_eq!(partial.rejected_data_points, 3);
    assert!(
        partial.error_message.contains("latency_exp\u{1b}[2J: exponential histograms"),
        "{}",
        partial.error_message
    );
    assert!(partial.error_message.contains("latency_summary: summaries"), "{}", partial.error_message);
    let (status, stderr) = receiver.running.stop("TERM");
    assert!(status.success());
    assert!(stderr.iter().any(|l| l.contains("rejected points") && l.contains("latency_exp\\u001b[2J")), "{stderr:#?}");
    assert!(stderr.iter().all(|l| !l.contains('\u{1b}')), "{stderr:#?}");
    // The valid point of the same request was kept.
    let total = json(&["sum", "-m", "raw_requests_total", file.to_str().unwrap()]);
    assert_eq!(total[0]["value"], 3);
}

/// The collector is down when the service starts: the OTLP exporter says so on stderr,
/// the service goes on, and once a receiver listens the pushes arrive, the cumulative
/// totals complete.
#[test]
fn otlp_push_to_a_collector_that_comes_up_later() {
    let dir = tempfile::tempdir().unwrap();
    let received = dir.path().join("received.jsonl");
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let load = Running::start(&[
        "load-test",
        "-z",
        "5s",
        "-c",
        "2",
        "-q",
        "200",
        "--exporter",
        "otlp",
        "--otlp-endpoint",
        &endpoint,
        "--export-interval",
        "300ms",
        "--format",
        "json",
    ]);
    let mut load = load;
    load.wait_for("the service goes on");
    let addr = format!("127.0.0.1:{port}");
    let receiver =
        Running::start(&["receive", "--otlp-grpc", &addr, "--otlp-http", "off", "-o", received.to_str().unwrap()]);
    load.wait_for("works again");
    let (status, stdout, stderr) = load.wait(Duration::from_secs(30));
    assert!(status.success(), "{stderr:#?}");
    assert!(stderr.iter().any(|l| l.contains(&format!("otlp push to {endpoint}"))), "{stderr:#?}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    let (status, stderr) = receiver.stop("TERM");
    assert!(status.success(), "{stderr:#?}");
    let total = json(&["sum", received.to_str().unwrap()]);
    assert_eq!(total[0]["value"], summary["requests"], "every request, though the first pushes failed");
}

/// OTLP/JSON lines as the Collector's file exporter writes them, from the Python SDK's
/// own encoder (two scopes, a restart): returns the file and what the SDK recorded.
fn python_otlp_file(dir: &Path, temporality: &str) -> (std::path::PathBuf, Value) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/otlp_file.py");
    let file = dir.join(format!("otlp-{temporality}.jsonl"));
    let out = std::process::Command::new("python3").arg(&script).arg(&file).arg(temporality).output().unwrap();
    assert!(
        out.status.success(),
        "the Python SDK failed (scripts/test.sh installs opentelemetry-sdk and the OTLP exporters): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (file, serde_json::from_slice(&out.stdout).unwrap())
}

fn totals(label: &str, path: &str) -> BTreeMap<String, u64> {
    sum_by(label, &[path]).into_iter().map(|(k, v)| (k, as_u64(&v))).collect()
}

fn recorded_map(v: &Value) -> BTreeMap<String, u64> {
    v.as_object().unwrap().iter().map(|(k, v)| (k.clone(), as_u64(v))).collect()
}

/// Every command reads OTLP/JSON files (plain, gzip, zstd) as it reads the record format:
/// the totals are what the SDK recorded, per route and per scope, across the restart;
/// and the same lines pushed through `receive` give the same.
#[test]
fn otlp_json_files_from_the_python_sdk_read_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for temporality in ["cumulative", "delta"] {
        let (file, recorded) = python_otlp_file(dir.path(), temporality);
        let text = std::fs::read(&file).unwrap();
        assert!(text.starts_with(br#"{"resourceMetrics": ["#), "the SDK's encoder wrote the file");
        let gz = dir.path().join(format!("otlp-{temporality}.jsonl.gz"));
        let mut encoder = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
        encoder.write_all(&text).unwrap();
        encoder.finish().unwrap();
        let zst = dir.path().join(format!("otlp-{temporality}.jsonl.zst"));
        std::fs::write(&zst, zstd::encode_all(&text[..], 3).unwrap()).unwrap();

        for path in [&file, &gz, &zst] {
            let path = path.to_str().unwrap();
            assert_eq!(totals("route", path), recorded_map(&recorded["requests"]), "{temporality} {path}");
            assert_eq!(totals("scope", path), recorded_map(&recorded["requests_by_scope"]), "{temporality} {path}");
        }
        let path = file.to_str().unwrap();
        let rows = json(&["quantile", "by", "route", path]);
        let counts: BTreeMap<String, u64> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["route"].as_str().unwrap().to_string(), as_u64(&r["count"])))
            .collect();
        assert_eq!(counts, recorded_map(&recorded["latency_counts"]), "{temporality}");
        let (report, code) = check_json(path);
        assert_eq!(code, 0, "{report:#}");
        if temporality == "cumulative" {
            let restarts = report["processes"][0]["restarts"].as_array().unwrap();
            assert_eq!(restarts.len(), 1, "the second MeterProvider is a restart: {report:#}");
        }
        let exposition = stdout_of(&["to-prometheus", path]);
        assert!(exposition.contains(r#"otel_scope_name="shop.retry""#), "{exposition}");
        assert!(exposition.contains(r#"otel_scope_name="shop.http",otel_scope_version="2.1.0""#), "{exposition}");
        // serve follows the file and exposes what to-prometheus writes.
        let mut serve = Running::start(&["serve", "--listen", "127.0.0.1:0", "--stale-after", "1000d", path]);
        let port = serve.announced_port("at http://");
        let scraped = http_get(port, "/metrics").unwrap();
        let samples = |text: &str| -> Vec<String> {
            let mut lines: Vec<String> =
                text.lines().filter(|l| l.starts_with("http_server_requests_total{")).map(String::from).collect();
            lines.sort();
            lines
        };
        assert_eq!(samples(&scraped), samples(&exposition), "serve and to-prometheus agree on the OTLP file");
        drop(serve);
        // tail shows the data points as records, with their scope.
        let tail = stdout_of(&["tail", "-n", "4", "--format", "json", path]);
        let records: Vec<Value> = tail.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(records.len(), 4, "{tail}");
        assert!(records.iter().all(|r| r["service_name"] == "py-shop" && r["scope"]["name"].is_string()), "{tail}");

        // The same requests pushed to receive, one per POST.
        let received = dir.path().join(format!("received-{temporality}.jsonl"));
        let receiver = start_receiver(&received, &[]);
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let (status, body) = http_post(receiver.http, "application/json", line);
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        }
        let (status, stderr) = receiver.running.stop("TERM");
        assert!(status.success(), "{stderr:#?}");
        let received = received.to_str().unwrap();
        assert_eq!(totals("route", received), recorded_map(&recorded["requests"]), "{temporality} via receive");
        assert_eq!(totals("scope", received), recorded_map(&recorded["requests_by_scope"]));

        // receive --output-format otlp-json keeps each request whole, as one OTLP/JSON
        // line, which metricsctl reads back to the same totals.
        let kept = dir.path().join(format!("kept-{temporality}.jsonl"));
        let receiver = start_receiver(&kept, &["--output-format", "otlp-json"]);
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let (status, body) = http_post(receiver.http, "application/json", line);
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        }
        let (status, _) = receiver.running.stop("TERM");
        assert!(status.success());
        let kept_text = std::fs::read_to_string(&kept).unwrap();
        assert_eq!(kept_text.lines().count(), text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count());
        assert!(kept_text.lines().all(|l| l.starts_with(r#"{"resourceMetrics":["#)), "{kept_text}");
        let kept = kept.to_str().unwrap();
        assert_eq!(totals("route", kept), recorded_map(&recorded["requests"]), "{temporality} via otlp-json");
        assert_eq!(totals("scope", kept), recorded_map(&recorded["requests_by_scope"]));
    }
}

/// What the format cannot carry is a counted bad line that names it; a line that is not
/// a request is a bad line; nothing stops the rest from being read.
#[test]
fn otlp_json_file_with_rejected_points_and_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.jsonl");
    let good = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeMetrics":[{"scope":{"name":"lib"},"metrics":[{"name":"jobs_total","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true,"dataPoints":[{"startTimeUnixNano":"1765850000000000000","timeUnixNano":"1765850010000000000","asInt":"7"}]}}]}]}]}"#;
    let later = good.replace("1765850010000000000", "1765850020000000000").replace(r#""asInt":"7""#, r#""asInt":"12""#);
    let summary = r#"{"resourceMetrics":[{"resource":{},"scopeMetrics":[{"metrics":[{"name":"rpc_latency","summary":{"dataPoints":[{"timeUnixNano":"1765850010000000000","count":"3","sum":1.5}]}}]}]}]}"#;
    std::fs::write(&file, format!("{good}\n{summary}\n{{\"resourceMetrics\": 3}}\n{later}\n")).unwrap();
    let out =
        metricsctl().args(["sum", "-m", "jobs_total", "--format", "json", file.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["value"], 12, "{v}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("skipped 2 bad lines"), "{stderr}");
    assert!(stderr.contains("line 2") && stderr.contains("summaries are not supported"), "{stderr}");
    let out = metricsctl().args(["sum", "--strict", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(":2:"), "{}", String::from_utf8_lossy(&out.stderr));
}
