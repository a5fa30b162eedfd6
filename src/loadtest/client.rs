//! The load generator: `-c` connections (one hyper HTTP/1.1 keep-alive connection per
//! worker), `-n` requests or `-z` duration, optional `-q` total rate (open model: each
//! request has an intended send time, and latency counts from it, so a stalled server
//! cannot hide its queueing; the uncorrected latency from the actual send is kept too).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use opentelemetry::KeyValue;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::live::LiveTally;
use super::server::{concrete_path, pick_route, ROUTES};

/// Per-request timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub requests: Option<u64>,
    pub duration: Option<Duration>,
    pub connections: usize,
    /// Total requests per second across connections (open model).
    pub rate: Option<f64>,
    pub target: SocketAddr,
    /// Host header and path prefix of an external target.
    pub host: String,
    pub path_prefix: String,
    /// With `--grpc`: the gRPC server; a quarter of the requests go there.
    pub grpc_target: Option<SocketAddr>,
}

/// Client-side instruments, used when the target is an external server (`--url`).
#[derive(Clone)]
pub struct ClientInstruments {
    pub requests: opentelemetry::metrics::Counter<u64>,
    pub duration: opentelemetry::metrics::Histogram<f64>,
}

impl ClientInstruments {
    pub fn new(meter: &opentelemetry::metrics::Meter) -> ClientInstruments {
        ClientInstruments {
            requests: meter
                .u64_counter("http_client_requests_total")
                .with_description("Total number of HTTP requests sent")
                .with_unit("1")
                .build(),
            duration: meter
                .f64_histogram("http_client_request_duration_seconds")
                .with_description("HTTP request duration seen by the client")
                .with_unit("s")
                .with_boundaries(metricsctl_otel::instruments::DURATION_BOUNDS.to_vec())
                .build(),
        }
    }
}

/// Shared between the workers and whoever may stop them (deadline, Ctrl-C).
pub struct Control {
    pub stop: AtomicBool,
    /// Ctrl-C asked for the stop (not the deadline or the request count).
    pub interrupted: AtomicBool,
    pub stopped: Notify,
    pub next: AtomicU64,
    pub done: AtomicU64,
    /// Every completion, for the live view (`--live`).
    pub live: Option<Arc<Mutex<LiveTally>>>,
}

impl Control {
    pub fn new(live: Option<Arc<Mutex<LiveTally>>>) -> Arc<Control> {
        Arc::new(Control {
            stop: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
            stopped: Notify::new(),
            next: AtomicU64::new(0),
            done: AtomicU64::new(0),
            live,
        })
    }

    /// Tells the live view about a completion (nothing without one).
    fn tell(&self, at: Instant, latency_micros: Option<u64>, outcome: impl FnOnce() -> String) {
        if let Some(live) = &self.live {
            live.lock().unwrap_or_else(|e| e.into_inner()).record(at, latency_micros, &outcome());
        }
    }

    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.stopped.notify_waiters();
    }
}

/// What the workers saw.
#[derive(Debug, Clone)]
pub struct LoadStats {
    /// Latency from the intended send time (= from the actual send without `-q`), µs.
    pub latency: Histogram<u64>,
    /// Latency from the actual send, µs.
    pub uncorrected: Histogram<u64>,
    pub statuses: BTreeMap<u16, u64>,
    /// gRPC status codes of the gRPC calls.
    pub grpc_codes: BTreeMap<i32, u64>,
    pub errors: BTreeMap<String, u64>,
    /// Responses per (method, route template): what the server must have counted.
    pub by_route: BTreeMap<(String, String), u64>,
    /// Responses that arrived after the `-z` deadline (counted, but reported apart).
    pub after_deadline: u64,
}

impl LoadStats {
    pub fn empty() -> LoadStats {
        LoadStats {
            latency: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
            uncorrected: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
            statuses: BTreeMap::new(),
            grpc_codes: BTreeMap::new(),
            errors: BTreeMap::new(),
            by_route: BTreeMap::new(),
            after_deadline: 0,
        }
    }

    fn merge(&mut self, other: LoadStats) {
        let _ = self.latency.add(&other.latency);
        let _ = self.uncorrected.add(&other.uncorrected);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for (k, v) in other.grpc_codes {
            *self.grpc_codes.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        for (k, v) in other.by_route {
            *self.by_route.entry(k).or_default() += v;
        }
        self.after_deadline += other.after_deadline;
    }

    pub fn responses(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.grpc_codes.values().sum::<u64>()
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

async fn connect(target: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(target).await.map_err(|e| format!("connect: {}", e.kind()))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn error_kind(e: &hyper::Error) -> String {
    if e.is_closed() || e.is_incomplete_message() {
        "connection closed".into()
    } else if e.is_timeout() {
        "timeout".into()
    } else {
        format!("http: {e}")
    }
}

async fn worker(
    options: Arc<LoadOptions>,
    control: Arc<Control>,
    start: Instant,
    deadline: Option<Instant>,
    instruments: Option<ClientInstruments>,
) -> LoadStats {
    let mut stats = LoadStats::empty();
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    let mut channel: Option<tonic::transport::Channel> = None;
    loop {
        if control.stop.load(Ordering::SeqCst) {
            break;
        }
        let n = control.next.fetch_add(1, Ordering::SeqCst);
        if options.requests.is_some_and(|total| n >= total) {
            break;
        }
        let intended = options.rate.map(|q| start + Duration::from_secs_f64(n as f64 / q));
        if let Some(at) = intended {
            if deadline.is_some_and(|d| at >= d) {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = control.stopped.notified() => break,
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if let Some(addr) = options.grpc_target.filter(|_| super::server::mix(n ^ 0x67) % 4 == 0) {
            grpc_request(&mut stats, &control, &mut channel, addr, n, intended, deadline).await;
            control.done.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let route = &ROUTES[pick_route(n)];
        if sender.is_none() {
            match connect(options.target).await {
                Ok(s) => sender = Some(s),
                Err(kind) => {
                    control.tell(Instant::now(), None, || format!("error: {kind}"));
                    *stats.errors.entry(kind).or_default() += 1;
                    control.done.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            }
        }
        let s = sender.as_mut().expect("connected above");
        let path = format!("{}{}", options.path_prefix, concrete_path(route, n));
        let body = if route.method == "POST" {
            Bytes::from(format!(r#"{{"request":{n},"item":"book","qty":1}}"#))
        } else {
            Bytes::new()
        };
        let req = hyper::Request::builder()
            .method(route.method)
            .uri(path)
            .header(hyper::header::HOST, options.host.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .expect("valid request");
        let sent_at = Instant::now();
        let result = tokio::time::timeout(REQUEST_TIMEOUT, async {
            s.ready().await?;
            let resp = s.send_request(req).await?;
            let status = resp.status().as_u16();
            resp.into_body().collect().await?;
            Ok::<u16, hyper::Error>(status)
        })
        .await;
        let finished = Instant::now();
        control.done.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(Ok(status)) => {
                let uncorrected = (finished - sent_at).as_micros().max(1) as u64;
                let corrected =
                    intended.map_or(uncorrected, |at| (finished - at.min(sent_at)).as_micros().max(1) as u64);
                let _ = stats.latency.record(corrected.min(3_600_000_000));
                let _ = stats.uncorrected.record(uncorrected.min(3_600_000_000));
                control.tell(finished, Some(corrected), || status.to_string());
                *stats.statuses.entry(status).or_default() += 1;
                *stats.by_route.entry((route.method.to_string(), route.template.to_string())).or_default() += 1;
                if deadline.is_some_and(|d| finished > d) {
                    stats.after_deadline += 1;
                }
                if let Some(inst) = &instruments {
                    let attrs = [
                        KeyValue::new("http.method", route.method),
                        KeyValue::new("http.route", route.template),
                        KeyValue::new("http.status_code", i64::from(status)),
                        KeyValue::new("status", if status >= 500 { "error" } else { "success" }),
                    ];
                    inst.requests.add(1, &attrs);
                    inst.duration.record((finished - sent_at).as_secs_f64(), &attrs);
                }
            }
            Ok(Err(e)) => {
                let kind = error_kind(&e);
                control.tell(finished, None, || format!("error: {kind}"));
                *stats.errors.entry(kind).or_default() += 1;
                sender = None;
            }
            Err(_) => {
                control.tell(finished, None, || "error: timeout".into());
                *stats.errors.entry("timeout".into()).or_default() += 1;
                sender = None;
            }
        }
    }
    stats
}

/// One gRPC call on the worker's HTTP/2 channel (connected on first use).
async fn grpc_request(
    stats: &mut LoadStats,
    control: &Control,
    channel: &mut Option<tonic::transport::Channel>,
    addr: SocketAddr,
    n: u64,
    intended: Option<Instant>,
    deadline: Option<Instant>,
) {
    if channel.is_none() {
        let endpoint = match tonic::transport::Endpoint::from_shared(format!("http://{addr}")) {
            Ok(e) => e.timeout(REQUEST_TIMEOUT),
            Err(e) => {
                *stats.errors.entry(format!("grpc endpoint: {e}")).or_default() += 1;
                return;
            }
        };
        match endpoint.connect().await {
            Ok(c) => *channel = Some(c),
            Err(e) => {
                *stats.errors.entry(format!("grpc connect: {e}")).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                return;
            }
        }
    }
    let method = super::grpc::pick_method(n);
    let sent_at = Instant::now();
    let result = super::grpc::call(channel.as_ref().expect("connected above"), method, n).await;
    let finished = Instant::now();
    match result {
        Ok(code) => {
            let uncorrected = (finished - sent_at).as_micros().max(1) as u64;
            let corrected = intended.map_or(uncorrected, |at| (finished - at.min(sent_at)).as_micros().max(1) as u64);
            let _ = stats.latency.record(corrected.min(3_600_000_000));
            let _ = stats.uncorrected.record(uncorrected.min(3_600_000_000));
            control.tell(finished, Some(corrected), || format!("grpc {:?}", tonic::Code::from(code)));
            *stats.grpc_codes.entry(code).or_default() += 1;
            let (service, name, _) = super::grpc::METHODS[method];
            *stats.by_route.entry(("GRPC".to_string(), format!("{service}/{name}"))).or_default() += 1;
            if deadline.is_some_and(|d| finished > d) {
                stats.after_deadline += 1;
            }
        }
        Err(e) => {
            control.tell(finished, None, || "error: grpc".into());
            *stats.errors.entry(format!("grpc: {e}")).or_default() += 1;
            *channel = None;
        }
    }
}

/// Runs the load; returns the merged statistics and the wall time.
pub async fn run(
    options: LoadOptions,
    control: Arc<Control>,
    instruments: Option<ClientInstruments>,
) -> (LoadStats, Duration) {
    let start = Instant::now();
    let deadline = options.duration.map(|d| start + d);
    let options = Arc::new(options);
    let mut tasks = Vec::with_capacity(options.connections);
    for _ in 0..options.connections.max(1) {
        tasks.push(tokio::spawn(worker(
            Arc::clone(&options),
            Arc::clone(&control),
            start,
            deadline,
            instruments.clone(),
        )));
    }
    if let Some(d) = deadline {
        let control = Arc::clone(&control);
        tokio::spawn(async move {
            tokio::time::sleep_until(d).await;
            control.request_stop();
        });
    }
    let mut stats = LoadStats::empty();
    for t in tasks {
        if let Ok(s) = t.await {
            stats.merge(s);
        }
    }
    (stats, start.elapsed())
}
