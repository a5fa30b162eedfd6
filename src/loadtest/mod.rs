//! `metricsctl load-test`: starts the instrumented server on 127.0.0.1 (or targets
//! `--url`), drives load at it, shuts the exporter down (final snapshot), and checks
//! that the requests the client counted equal `sum` over the file it wrote.

pub mod client;
pub mod grpc;
pub mod live;
pub mod server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::output::{format_float_short, Cell, Format, Table, Terminal};
use metricsctl_engine::filter::{Filter, LabelMatcher};
use metricsctl_engine::query::QueryInput;
use metricsctl_engine::sum::{SumSink, Total};
use metricsctl_format::record::Num;
use metricsctl_otel::config::{ExporterKind, MetricsConfig};
use metricsctl_otel::MetricsPipeline;

use self::client::{ClientInstruments, Control, LoadOptions, LoadStats};

/// How `run` was asked to behave.
#[derive(Debug, Clone)]
pub struct LoadTestPlan {
    pub requests: Option<u64>,
    pub duration: Option<Duration>,
    pub connections: usize,
    pub rate: Option<f64>,
    /// External target instead of the built-in server.
    pub url: Option<String>,
    /// Run the built-in server without the metrics middleware (to measure its cost).
    pub no_middleware: bool,
    pub listen: SocketAddr,
    /// Only serve (for an outside load generator such as wrk) until Ctrl-C or `-z`.
    pub serve_only: bool,
    /// Also start the gRPC server and send a quarter of the requests as gRPC calls.
    pub grpc: bool,
    /// A progress bar on stderr.
    pub progress: bool,
    /// The full-screen live view on stderr instead of the progress bar.
    pub live: bool,
}

/// The summary, also the `--format json` contract.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub target: String,
    pub requests: u64,
    pub duration_seconds: f64,
    pub requests_per_second: f64,
    pub latency_seconds: Latency,
    /// Present with `-q`: latency from the actual send, without queueing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncorrected_latency_seconds: Option<Latency>,
    pub status_codes: BTreeMap<String, u64>,
    /// gRPC status codes by name, with `--grpc`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub grpc_status_codes: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    pub finished_after_deadline: u64,
    pub interrupted: bool,
    /// The exporters that ran: json_file, prometheus, otlp.
    pub exporters: Vec<String>,
    /// Where the json_file exporter wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_file: Option<String>,
    /// Where the prometheus exporter served `/metrics`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prometheus_endpoint: Option<String>,
    /// Where the otlp exporter pushed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// Client and metrics file compared (needs the json_file exporter).
    pub cross_check: Option<CrossCheck>,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    fn of(h: &hdrhistogram::Histogram<u64>) -> Latency {
        let s = |v: u64| v as f64 / 1e6;
        Latency {
            p50: s(h.value_at_quantile(0.5)),
            p90: s(h.value_at_quantile(0.9)),
            p99: s(h.value_at_quantile(0.99)),
            p99_9: s(h.value_at_quantile(0.999)),
            max: s(h.max()),
            mean: h.mean() / 1e6,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CrossCheck {
    pub metric: String,
    pub instance: String,
    /// Per "METHOD route": (client count, file count).
    pub routes: BTreeMap<String, (u64, u64)>,
    pub client_total: u64,
    pub file_total: u64,
    pub ok: bool,
}

/// Totals per (method, route) of one instance's counter in the metrics file; for
/// `grpc_server_requests_total`, per ("GRPC", "service/method").
fn file_counts(path: &std::path::Path, metric: &str, instance: &str) -> Result<BTreeMap<(String, String), u64>> {
    let mut filter = Filter::metrics(&[metric])?;
    filter.labels.push(LabelMatcher::equals("instance", instance));
    let input = QueryInput::new(&[path.to_path_buf()], filter, false, false)?;
    let grpc = metric.starts_with("grpc_");
    let labels = if grpc { ["rpc.service", "rpc.method"] } else { ["http.method", "http.route"] };
    let mut sink = SumSink::new(labels.iter().map(|l| l.to_string()).collect());
    input.run(&mut sink)?;
    let mut out = BTreeMap::new();
    for (key, total) in sink.grouper.keys.iter().zip(sink.totals()) {
        let Total::Counter(Num::Int(v)) = total else { bail!("{metric} has a non-integer total: {total:?}") };
        let (a, b) = (key.labels[0].text(), key.labels[1].text());
        let entry = if grpc { ("GRPC".to_string(), format!("{a}/{b}")) } else { (a, b) };
        *out.entry(entry).or_default() += u64::try_from(v).unwrap_or(0);
    }
    Ok(out)
}

fn cross_check(stats: &LoadStats, path: &std::path::Path, metrics: &[&str], instance: &str) -> Result<CrossCheck> {
    let mut file = BTreeMap::new();
    for metric in metrics {
        file.extend(file_counts(path, metric, instance)?);
    }
    let metric = metrics.join(" + ");
    let mut routes = BTreeMap::new();
    for key in stats.by_route.keys().chain(file.keys()) {
        let client = stats.by_route.get(key).copied().unwrap_or(0);
        let in_file = file.get(key).copied().unwrap_or(0);
        routes.insert(format!("{} {}", key.0, key.1), (client, in_file));
    }
    let client_total: u64 = stats.by_route.values().sum();
    let file_total: u64 = file.values().sum();
    let ok = routes.values().all(|(a, b)| a == b);
    Ok(CrossCheck { metric, instance: instance.into(), routes, client_total, file_total, ok })
}

/// Runs the load test; returns the summary (the caller prints it) and whether it was
/// interrupted by Ctrl-C.
pub fn run(plan: LoadTestPlan, config: &MetricsConfig) -> Result<Summary> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(plan, config))
}

async fn run_async(plan: LoadTestPlan, config: &MetricsConfig) -> Result<Summary> {
    let pipeline = MetricsPipeline::start(config)?;
    let prometheus_endpoint = pipeline.prometheus_addr().map(|a| format!("http://{a}/metrics"));
    if let Some(url) = &prometheus_endpoint {
        eprintln!("metricsctl: prometheus exporter serving {url}");
    }
    let tally = plan.live.then(|| Arc::new(std::sync::Mutex::new(live::LiveTally::new(tokio::time::Instant::now()))));
    let control = Control::new(tally.clone());
    {
        let control = Arc::clone(&control);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("metricsctl: interrupted; finishing requests in flight and writing the final snapshot");
                control.interrupted.store(true, Ordering::SeqCst);
                control.request_stop();
            }
        });
    }

    // The target: the built-in server, or an external URL.
    let (target, host, prefix, server, instruments) = match &plan.url {
        Some(url) => {
            let uri: hyper::Uri = url.parse().with_context(|| format!("invalid --url {url:?}"))?;
            if uri.scheme_str().is_some_and(|s| s != "http") {
                bail!("--url: only http:// targets are supported");
            }
            let host = uri.host().context("--url needs a host")?.to_string();
            let port = uri.port_u16().unwrap_or(80);
            let addr = tokio::net::lookup_host((host.as_str(), port))
                .await
                .with_context(|| format!("cannot resolve {host}"))?
                .next()
                .with_context(|| format!("{host} has no address"))?;
            let prefix = uri.path().trim_end_matches('/').to_string();
            (
                addr,
                format!("{host}:{port}"),
                prefix,
                None,
                Some(ClientInstruments::new(&pipeline.meter("metricsctl-load-test"))),
            )
        }
        None => {
            let meter = pipeline.meter("metricsctl");
            let app = server::router((!plan.no_middleware).then_some(&meter));
            let listener = tokio::net::TcpListener::bind(plan.listen)
                .await
                .with_context(|| format!("cannot listen on {}", plan.listen))?;
            let addr = listener.local_addr()?;
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let handle = tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
            });
            (addr, addr.to_string(), String::new(), Some((stop_tx, handle)), None)
        }
    };
    let grpc_server = if plan.grpc && plan.url.is_none() {
        let listener = tokio::net::TcpListener::bind((plan.listen.ip(), 0)).await.context("cannot listen for gRPC")?;
        let addr = listener.local_addr()?;
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let layer =
            (!plan.no_middleware).then(|| metricsctl_otel::grpc::GrpcMetricsLayer::new(&pipeline.meter("metricsctl")));
        let router = tonic::transport::Server::builder()
            .layer(tower::util::option_layer(layer))
            .add_service(grpc::OrderService::default())
            .add_service(grpc::UserService::default());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
            let _ = stop_rx.await;
        }));
        Some((addr, stop_tx, handle))
    } else {
        None
    };
    let target_text = plan.url.clone().unwrap_or_else(|| format!("http://{target} (built-in server)"));

    let (stats, elapsed) = if plan.serve_only {
        eprintln!("metricsctl: serving on http://{target}; Ctrl-C to stop");
        let wait = async {
            match plan.duration {
                Some(d) => tokio::select! { _ = tokio::time::sleep(d) => {}, _ = control.stopped.notified() => {} },
                None => control.stopped.notified().await,
            }
        };
        wait.await;
        (client::LoadStats::empty(), Duration::ZERO)
    } else {
        let options = LoadOptions {
            requests: if plan.duration.is_some() { plan.requests } else { Some(plan.requests.unwrap_or(20_000)) },
            duration: plan.duration,
            connections: plan.connections,
            rate: plan.rate,
            target,
            host,
            path_prefix: prefix,
            grpc_target: grpc_server.as_ref().map(|(addr, _, _)| *addr),
        };
        let goal = live::Goal { requests: options.requests, duration: options.duration };
        let view = tally.map(|tally| {
            let (watched, stopper) = (Arc::clone(&control), Arc::clone(&control));
            live::spawn(
                target_text.clone(),
                goal,
                tally,
                move || watched.stop.load(Ordering::SeqCst),
                move || {
                    stopper.interrupted.store(true, Ordering::SeqCst);
                    stopper.request_stop();
                },
            )
        });
        let progress = (plan.progress && view.is_none()).then(|| progress_bar(&options, Arc::clone(&control)));
        let result = client::run(options, Arc::clone(&control), instruments).await;
        if let Some((bar, ticker)) = progress {
            ticker.abort();
            bar.finish_and_clear();
        }
        if let Some(view) = view {
            // Every request is done: the view closes, and the summary follows as without it.
            control.request_stop();
            match view.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("metricsctl: live view: {e:#}"),
                Err(_) => eprintln!("metricsctl: the live view panicked"),
            }
        }
        result
    };

    if let Some((_, stop, handle)) = grpc_server {
        let _ = stop.send(());
        if !matches!(tokio::time::timeout(Duration::from_secs(10), handle).await, Ok(Ok(Ok(())))) {
            eprintln!("metricsctl: the gRPC server did not stop cleanly");
        }
    }
    if let Some((stop, handle)) = server {
        let _ = stop.send(());
        match tokio::time::timeout(Duration::from_secs(10), handle).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => eprintln!("metricsctl: server error: {e}"),
            _ => eprintln!("metricsctl: server did not stop within 10 s"),
        }
    }
    // The final snapshot: every request the server finished is in it.
    let shutdown_timeout = config.export_timeout + Duration::from_secs(2);
    let flushed = tokio::task::spawn_blocking(move || pipeline.shutdown(shutdown_timeout)).await?;
    if let Err(e) = flushed {
        eprintln!("metricsctl: {e:#}");
    }

    // Only Ctrl-C is an interruption: the deadline's own stop can come a moment before
    // `elapsed` reaches the duration (the two clocks start a moment apart), which made
    // a load-test that ran its whole course exit 130 now and then.
    let interrupted = control.interrupted.load(Ordering::SeqCst) && plan.duration.is_none_or(|d| elapsed < d);
    let json_file = config.exports_to(ExporterKind::JsonFile);
    let check = if plan.serve_only || plan.no_middleware {
        None
    } else if !json_file {
        eprintln!("metricsctl: no cross-check: it reads the json_file exporter's file, which was not selected");
        None
    } else {
        let metrics: &[&str] = if plan.url.is_some() {
            &["http_client_requests_total"]
        } else if plan.grpc {
            &["http_server_requests_total", "grpc_server_requests_total"]
        } else {
            &["http_server_requests_total"]
        };
        Some(cross_check(&stats, &config.json_file_path, metrics, &config.instance_id)?)
    };
    let secs = elapsed.as_secs_f64();
    let requests = stats.responses();
    Ok(Summary {
        target: target_text,
        requests,
        duration_seconds: secs,
        requests_per_second: if secs > 0.0 { requests as f64 / secs } else { 0.0 },
        latency_seconds: Latency::of(&stats.latency),
        uncorrected_latency_seconds: plan.rate.map(|_| Latency::of(&stats.uncorrected)),
        status_codes: stats.statuses.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        grpc_status_codes: stats.grpc_codes.iter().map(|(k, v)| (format!("{:?}", tonic::Code::from(*k)), *v)).collect(),
        errors: stats.errors.clone(),
        finished_after_deadline: stats.after_deadline,
        interrupted,
        exporters: config.exporters.iter().map(|k| k.name().to_string()).collect(),
        metrics_file: json_file.then(|| config.json_file_path.display().to_string()),
        prometheus_endpoint,
        otlp_endpoint: config.exports_to(ExporterKind::Otlp).then(|| config.otlp_endpoint.clone()),
        cross_check: check,
    })
}

fn progress_bar(options: &LoadOptions, control: Arc<Control>) -> (indicatif::ProgressBar, tokio::task::JoinHandle<()>) {
    use indicatif::{ProgressBar, ProgressStyle};
    let (bar, by_time) = match (options.requests, options.duration) {
        (_, Some(d)) => (ProgressBar::new(d.as_millis() as u64), true),
        (Some(n), None) => (ProgressBar::new(n), false),
        (None, None) => (ProgressBar::new_spinner(), false),
    };
    let template = if by_time {
        "{spinner} {elapsed_precise} [{wide_bar}] {msg}"
    } else {
        "{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} {msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    let b = bar.clone();
    let start = tokio::time::Instant::now();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let done = control.done.load(Ordering::Relaxed);
            let secs = start.elapsed().as_secs_f64();
            if by_time {
                b.set_position(start.elapsed().as_millis() as u64);
            } else {
                b.set_position(done);
            }
            b.set_message(format!("{done} requests, {:.0} req/s", done as f64 / secs.max(1e-9)));
        }
    });
    (bar, ticker)
}

/// Writes the summary as tables (or JSON).
pub fn write_summary(summary: &Summary, format: Format, term: Terminal, out: &mut dyn std::io::Write) -> Result<()> {
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, summary)?;
        writeln!(out)?;
        return Ok(());
    }
    let mut t = Table::new(vec!["".into(), "value".into()]);
    let row = |k: &str, v: String| vec![Cell::Text(k.into()), Cell::Text(v)];
    t.rows.push(row("target", summary.target.clone()));
    t.rows.push(row("requests", summary.requests.to_string()));
    t.rows.push(row("duration", format!("{:.3} s", summary.duration_seconds)));
    t.rows.push(row("requests/s", format_float_short(summary.requests_per_second)));
    let lat = |name: &str, l: &Latency, t: &mut Table| {
        for (q, v) in [("p50", l.p50), ("p90", l.p90), ("p99", l.p99), ("p99.9", l.p99_9), ("max", l.max)] {
            t.rows.push(row(&format!("{name} {q}"), format!("{:.3} ms", v * 1e3)));
        }
    };
    lat("latency", &summary.latency_seconds, &mut t);
    if let Some(u) = &summary.uncorrected_latency_seconds {
        lat("uncorrected", u, &mut t);
    }
    for (code, n) in &summary.status_codes {
        t.rows.push(row(&format!("status {code}"), n.to_string()));
    }
    for (code, n) in &summary.grpc_status_codes {
        t.rows.push(row(&format!("grpc {code}"), n.to_string()));
    }
    for (kind, n) in &summary.errors {
        t.rows.push(row(&format!("error: {kind}"), n.to_string()));
    }
    if summary.finished_after_deadline > 0 {
        t.rows.push(row("finished after the deadline", summary.finished_after_deadline.to_string()));
    }
    t.rows.push(row("exporters", summary.exporters.join(", ")));
    if let Some(file) = &summary.metrics_file {
        t.rows.push(row("metrics file", file.clone()));
    }
    if let Some(url) = &summary.prometheus_endpoint {
        t.rows.push(row("prometheus /metrics", url.clone()));
    }
    if let Some(url) = &summary.otlp_endpoint {
        t.rows.push(row("otlp endpoint", url.clone()));
    }
    t.write(Format::Table, term, out)?;
    if let Some(c) = &summary.cross_check {
        writeln!(out)?;
        let mut ct = Table::new(vec!["route".into(), "client".into(), "metrics file".into()]);
        for (route, (a, b)) in &c.routes {
            ct.rows.push(vec![
                Cell::Text(route.clone()),
                Cell::Num(Num::Int((*a).into())),
                Cell::Num(Num::Int((*b).into())),
            ]);
        }
        ct.footer = Some(vec![
            Cell::Text("total".into()),
            Cell::Num(Num::Int(c.client_total.into())),
            Cell::Num(Num::Int(c.file_total.into())),
        ]);
        ct.write(Format::Table, term, out)?;
        writeln!(
            out,
            "cross-check ({} of instance {}): {}",
            c.metric,
            c.instance,
            if c.ok { "client and metrics file agree" } else { "MISMATCH" }
        )?;
    }
    Ok(())
}
