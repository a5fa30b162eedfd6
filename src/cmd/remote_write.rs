//! `metricsctl remote-write --url URL [FILE...]`: every sample of the input, with the
//! names and labels of `to-prometheus --history`, sent in time order to a Prometheus
//! remote write 1.0 endpoint (protobuf, snappy), in batches.
//!
//! 5xx and 429 answers are retried with exponential backoff (Retry-After is honoured);
//! other 4xx are reported with the server's message. With `--checkpoint`, the last
//! acknowledged sample is recorded after every batch, so that a re-run sends only the
//! rest: samples go in (time, labels) order, which does not depend on how the input was
//! read, and the checkpoint is the last of them the server took.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use serde::{Deserialize, Serialize};

use crate::cli::RemoteWriteArgs;
use crate::output::{sanitize, Cell, Format, Table, Terminal};
use metricsctl_engine::engine::EngineOptions;
use metricsctl_engine::filter::Filter;
use metricsctl_engine::live::{CatchUp, Fed, FeedNote, Feeder, LiveEngine};
use metricsctl_engine::query::QueryInput;
use metricsctl_format::record::Num;
use metricsctl_prom::remote::{encode, Label, Sample, TimeSeries, WriteRequest};
use metricsctl_promql::store::{Horizon, Labels, Point, SeriesStore};
use metricsctl_reader::follow::POLL_INTERVAL;
use metricsctl_reader::matcher::MetricMatcher;
use metricsctl_reader::scan::{ParsedChunk, ScanOptions};

/// The last sample a server acknowledged, per process (`job` and `instance`), in the
/// order that process's samples are sent: (time, labels). Processes are kept apart
/// because, followed, their exports settle at different times: one process's samples
/// go out in order, but not every process's together.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Checkpoint {
    url: String,
    samples_sent: u64,
    processes: Vec<Watermark>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Watermark {
    job: String,
    instance: String,
    timestamp_ms: i64,
    labels: Labels,
}

/// A process as its series' labels name it.
type ProcessKey = (String, String);

fn process_of(labels: &Labels) -> ProcessKey {
    let value = |name: &str| labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    (value("job"), value("instance"))
}

/// How far each process got, as a [`Checkpoint`] records it.
#[derive(Debug, Default)]
struct Watermarks {
    /// Where the run resumes: what the checkpoint said when it started. Only samples
    /// these cover are skipped; within a run every sample handed out is sent once, in
    /// whatever order exports settle (the rest of an export may come after its first
    /// part was sent, when a backlog arrives in parts).
    resumed_from: HashMap<ProcessKey, (i64, Labels)>,
    acknowledged: HashMap<ProcessKey, (i64, Labels)>,
    samples_sent_before: u64,
}

impl Watermarks {
    fn load(path: &Path, url: &str) -> Result<Watermarks> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Watermarks::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let checkpoint: Checkpoint = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a remote-write checkpoint", path.display()))?;
        if checkpoint.url != url {
            bail!(
                "{} records progress to {}, not to {url}: use another --checkpoint file",
                path.display(),
                checkpoint.url
            );
        }
        let acknowledged: HashMap<ProcessKey, (i64, Labels)> =
            checkpoint.processes.into_iter().map(|w| ((w.job, w.instance), (w.timestamp_ms, w.labels))).collect();
        Ok(Watermarks {
            resumed_from: acknowledged.clone(),
            acknowledged,
            samples_sent_before: checkpoint.samples_sent,
        })
    }

    /// Whether the sample at `t` of the series `labels` of `process` was acknowledged
    /// before this run.
    fn covers(&self, process: &ProcessKey, t: i64, labels: &Labels) -> bool {
        self.resumed_from.get(process).is_some_and(|(mt, ml)| (t, labels) <= (*mt, ml))
    }

    fn advance(&mut self, process: &ProcessKey, t: i64, labels: &Labels) {
        match self.acknowledged.get_mut(process) {
            Some(mark) if (mark.0, &mark.1) >= (t, labels) => {}
            Some(mark) => *mark = (t, labels.clone()),
            None => {
                self.acknowledged.insert(process.clone(), (t, labels.clone()));
            }
        }
    }

    /// Replaces the file atomically and durably: a crash leaves the old one or the new.
    fn save(&self, path: &Path, url: &str, samples_sent: u64) -> Result<()> {
        let mut processes: Vec<Watermark> = self
            .acknowledged
            .iter()
            .map(|((job, instance), (t, labels))| Watermark {
                job: job.clone(),
                instance: instance.clone(),
                timestamp_ms: *t,
                labels: labels.clone(),
            })
            .collect();
        processes.sort_by(|a, b| (&a.job, &a.instance).cmp(&(&b.job, &b.instance)));
        let checkpoint =
            Checkpoint { url: url.to_string(), samples_sent: self.samples_sent_before + samples_sent, processes };
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        file.write_all(serde_json::to_string(&checkpoint)?.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

/// Credentials and headers, read once; never printed.
struct Auth {
    headers: Vec<(String, String)>,
}

fn secret(file: Option<&PathBuf>, env: &str, what: &str) -> Result<Option<String>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the {what} file"))?;
        return Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()));
    }
    Ok(std::env::var(env).ok().filter(|v| !v.is_empty()))
}

impl Auth {
    fn from_args(args: &RemoteWriteArgs) -> Result<Auth> {
        let mut headers = Vec::new();
        let password = secret(args.basic_auth_password_file.as_ref(), "METRICSCTL_REMOTE_WRITE_PASSWORD", "password")?;
        let token = secret(args.bearer_token_file.as_ref(), "METRICSCTL_REMOTE_WRITE_TOKEN", "bearer token")?;
        match (&args.basic_auth_user, password, token) {
            (Some(_), _, Some(_)) => crate::usage_error!("basic auth and a bearer token: give one"),
            (Some(user), password, None) => {
                let pair = format!("{user}:{}", password.unwrap_or_default());
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                headers.push(("authorization".into(), format!("Basic {encoded}")));
            }
            (None, Some(_), _) if args.basic_auth_password_file.is_some() => {
                crate::usage_error!("--basic-auth-password-file needs --basic-auth-user")
            }
            (None, _, Some(token)) => headers.push(("authorization".into(), format!("Bearer {token}"))),
            (None, _, None) => {}
        }
        for h in &args.headers {
            let Some((name, value)) = h.split_once(':') else {
                crate::usage_error!("--header wants NAME: VALUE");
            };
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        Ok(Auth { headers })
    }
}

/// What was sent, the summary.
#[derive(Debug, Default)]
struct Sent {
    samples: u64,
    requests: u64,
    bytes: u64,
    retries: u64,
    skipped: u64,
    /// Samples of requests the server refused while following (reported, not retried).
    refused: u64,
}

/// One series' samples to send; `id` tells series apart across sends.
struct Pending<'a> {
    id: u32,
    labels: &'a Labels,
    points: &'a [Point],
}

/// The samples of `series`, sorted by labels, in (time, labels) order: a heap on
/// (time, series) gives it.
fn in_time_order<'a>(series: &'a [Pending<'a>]) -> impl Iterator<Item = (usize, usize)> + 'a {
    let mut heap: BinaryHeap<std::cmp::Reverse<(i64, usize, usize)>> = series
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.points.is_empty())
        .map(|(i, s)| std::cmp::Reverse((s.points[0].t, i, 0)))
        .collect();
    std::iter::from_fn(move || {
        let std::cmp::Reverse((_, at, point)) = heap.pop()?;
        if let Some(next) = series[at].points.get(point + 1) {
            heap.push(std::cmp::Reverse((next.t, at, point + 1)));
        }
        Some((at, point))
    })
}

/// One answer of the server, for the retry policy.
enum Outcome {
    Accepted,
    /// 5xx, 429, or no answer: try again, after `after` when the server said so.
    Retry {
        why: String,
        after: Option<Duration>,
    },
    Refused(String),
}

/// How to reach the endpoint: plain TCP, or TLS with these roots.
#[derive(Clone)]
enum Transport {
    Plain,
    Tls(tokio_rustls::TlsConnector),
}

impl Transport {
    /// TLS trusts the system's roots and `ca_file`'s certificates (a store with its own CA).
    fn for_url(url: &hyper::Uri, ca_file: Option<&Path>) -> Result<Transport> {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::CertificateDer;
        match url.scheme_str() {
            Some("http") => {
                if ca_file.is_some() {
                    crate::usage_error!("--ca-file is for https:// endpoints");
                }
                return Ok(Transport::Plain);
            }
            Some("https") => {}
            _ => crate::usage_error!("--url wants an http:// or https:// endpoint"),
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // A system certificate rustls cannot use is no reason to stop.
            let _ = roots.add(cert);
        }
        if let Some(path) = ca_file {
            let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<_, _>>())
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("cannot read certificates from {}", path.display()))?;
            if certs.is_empty() {
                bail!("{} holds no PEM certificate", path.display());
            }
            for cert in certs {
                roots.add(cert).with_context(|| format!("{}: a certificate rustls cannot use", path.display()))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS set-up")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Transport::Tls(tokio_rustls::TlsConnector::from(Arc::new(config))))
    }
}

/// A request sent over `stream`; its connection is driven on the runtime.
async fn send_over<S>(stream: S, request: hyper::Request<Full<Bytes>>) -> Result<hyper::Response<Incoming>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    match tokio::time::timeout(Duration::from_secs(60), sender.send_request(request)).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(format!("http: {e}")),
        Err(_) => Err("no answer in 60 s".into()),
    }
}

async fn post(url: &hyper::Uri, transport: &Transport, auth: &Auth, body: Bytes) -> Outcome {
    let host = url.host().unwrap_or("localhost").to_string();
    let tls = matches!(transport, Transport::Tls(_));
    let port = url.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let path = url.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let mut request = hyper::Request::post(path)
        .header(hyper::header::HOST, url.authority().map_or(host.clone(), |a| a.to_string()))
        .header(hyper::header::CONTENT_TYPE, "application/x-protobuf")
        .header(hyper::header::CONTENT_ENCODING, "snappy")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .header(hyper::header::USER_AGENT, concat!("metricsctl/", env!("CARGO_PKG_VERSION")));
    for (name, value) in &auth.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = match request.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => return Outcome::Refused(format!("cannot build the request (a header?): {e}")),
    };
    let stream = match tokio::net::TcpStream::connect((host.as_str(), port)).await {
        Ok(s) => s,
        Err(e) => return Outcome::Retry { why: format!("connect: {}", e.kind()), after: None },
    };
    let response = match transport {
        Transport::Plain => send_over(stream, request).await,
        Transport::Tls(connector) => {
            let name = match tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone()) {
                Ok(n) => n,
                Err(e) => return Outcome::Refused(format!("{host}: not a TLS server name: {e}")),
            };
            match connector.connect(name, stream).await {
                Ok(tls) => send_over(tls, request).await,
                // A certificate that does not verify will not verify on a retry.
                Err(e) if e.get_ref().is_some_and(|inner| inner.is::<tokio_rustls::rustls::Error>()) => {
                    return Outcome::Refused(format!("TLS with {host}: {e}"))
                }
                Err(e) => Err(format!("TLS with {host}: {e}")),
            }
        }
    };
    let response = match response {
        Ok(r) => r,
        Err(why) => return Outcome::Retry { why, after: None },
    };
    let status = response.status();
    let after = response
        .headers()
        .get(hyper::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let message = match response.into_body().collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).trim().chars().take(500).collect::<String>(),
        Err(_) => String::new(),
    };
    if status.is_success() {
        Outcome::Accepted
    } else if status.is_server_error() || status.as_u16() == 429 {
        Outcome::Retry { why: format!("{status}: {message}"), after }
    } else {
        Outcome::Refused(format!("{status}: {message}"))
    }
}

/// Backoff before retry `attempt` (1, 2, ...): 250 ms doubling, at most 30 s, or what
/// the server asked for.
fn backoff(attempt: u32, asked: Option<Duration>) -> Duration {
    asked.unwrap_or_else(|| {
        Duration::from_millis(250u64 << attempt.min(7).saturating_sub(1)).min(Duration::from_secs(30))
    })
}

/// Whether to go on after a send.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    /// SIGINT or SIGTERM while waiting to retry (following): what was not acknowledged
    /// is left for the next run.
    Stopped,
}

/// What became of one request.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    Accepted,
    /// Refused while following: reported and not sent again.
    Dropped,
    Stopped,
}

/// Sends batches of samples and keeps the watermarks, the checkpoint and the tally.
struct Sender<'a> {
    args: &'a RemoteWriteArgs,
    url: hyper::Uri,
    transport: Transport,
    auth: Auth,
    runtime: tokio::runtime::Runtime,
    /// None: retry for as long as it runs (following).
    max_retries: Option<u32>,
    follow: bool,
    marks: Watermarks,
    sent: Sent,
    series: HashSet<u32>,
    bar: Option<indicatif::ProgressBar>,
}

impl Sender<'_> {
    fn say(&self, message: String) {
        match &self.bar {
            Some(bar) => bar.println(format!("metricsctl: {message}")),
            None => eprintln!("metricsctl: {message}"),
        }
    }

    /// Sends the samples of `pending` the watermarks do not cover, in (time, labels)
    /// order, in batches.
    fn send(&mut self, pending: &mut [Pending]) -> Result<Flow> {
        pending.sort_by(|a, b| a.labels.cmp(b.labels));
        let processes: Vec<ProcessKey> = pending.iter().map(|p| process_of(p.labels)).collect();
        let count: u64 = pending.iter().map(|p| p.points.len() as u64).sum();
        if let Some(bar) = &self.bar {
            bar.inc_length(count);
        }
        let mut order = in_time_order(pending);
        loop {
            // One batch: up to the limit of samples, grouped by series in time order.
            let mut batch: Vec<(usize, Vec<Sample>)> = Vec::new();
            let mut position: HashMap<usize, usize> = HashMap::new();
            while batch.iter().map(|(_, s)| s.len()).sum::<usize>() < self.args.max_samples_per_request {
                let Some((at, point)) = order.next() else { break };
                let p = pending[at].points[point];
                if self.marks.covers(&processes[at], p.t, pending[at].labels) {
                    self.sent.skipped += 1;
                    continue;
                }
                let slot = *position.entry(at).or_insert_with(|| {
                    batch.push((at, Vec::new()));
                    batch.len() - 1
                });
                batch[slot].1.push(Sample { value: p.v, timestamp: p.t });
            }
            if batch.is_empty() {
                break;
            }
            let in_batch: usize = batch.iter().map(|(_, s)| s.len()).sum();
            let request = WriteRequest {
                timeseries: batch
                    .iter()
                    .map(|(at, samples)| TimeSeries {
                        labels: pending[*at]
                            .labels
                            .iter()
                            .map(|(name, value)| Label { name: name.clone(), value: value.clone() })
                            .collect(),
                        samples: samples.clone(),
                    })
                    .collect(),
            };
            let body = Bytes::from(encode(&request));
            let delivery = self.post_until_answered(body.clone())?;
            if delivery == Delivery::Stopped {
                return Ok(Flow::Stopped);
            }
            for (at, samples) in &batch {
                let last = samples.last().expect("a batch holds no empty series");
                self.marks.advance(&processes[*at], last.timestamp, pending[*at].labels);
                self.series.insert(pending[*at].id);
            }
            if let Some(path) = &self.args.checkpoint {
                self.marks.save(path, &self.args.url, self.sent.samples + self.sent.refused + in_batch as u64)?;
            }
            self.sent.requests += 1;
            self.sent.bytes += body.len() as u64;
            if delivery == Delivery::Dropped {
                self.sent.refused += in_batch as u64;
            } else {
                self.sent.samples += in_batch as u64;
            }
            if let Some(bar) = &self.bar {
                bar.set_position(self.sent.samples + self.sent.refused + self.sent.skipped);
            }
        }
        Ok(Flow::Continue)
    }

    /// Posts `body` until the server takes it, retrying with backoff; a refusal ends the
    /// run, or, following, is reported and the batch dropped (as Prometheus' own remote
    /// write queue drops what a store will never take).
    fn post_until_answered(&mut self, body: Bytes) -> Result<Delivery> {
        let mut attempt = 0;
        loop {
            match self.runtime.block_on(post(&self.url, &self.transport, &self.auth, body.clone())) {
                Outcome::Accepted => return Ok(Delivery::Accepted),
                Outcome::Refused(message) => {
                    let message = crate::output::sanitize(&message);
                    if !self.follow {
                        if let Some(bar) = &self.bar {
                            bar.abandon();
                        }
                        bail!("the server refused a request (not retried): {message}");
                    }
                    self.say(format!("the server refused a request (dropped, not retried): {message}"));
                    return Ok(Delivery::Dropped);
                }
                Outcome::Retry { why, after } => {
                    attempt += 1;
                    let why = crate::output::sanitize(&why);
                    if self.max_retries.is_some_and(|max| attempt > max) {
                        bail!("gave up after {attempt} retries: {why}", attempt = attempt - 1);
                    }
                    self.sent.retries += 1;
                    let wait = backoff(attempt, after);
                    let say = format!("retry {attempt} in {:.1} s: {why}", wait.as_secs_f64());
                    match &self.bar {
                        Some(bar) => bar.set_message(say),
                        None => eprintln!("metricsctl: {say}"),
                    }
                    let until = std::time::Instant::now() + wait;
                    while std::time::Instant::now() < until {
                        if self.follow && super::stop_requested() {
                            return Ok(Delivery::Stopped);
                        }
                        std::thread::sleep(Duration::from_millis(50).min(until - std::time::Instant::now()));
                    }
                }
            }
        }
    }

    fn summary(&self, out: &mut dyn Write) -> Result<()> {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let mut table = Table::new(vec!["".into(), "value".into()]);
        let row = |k: &str, v: u64| vec![Cell::Text(k.into()), Cell::Num(Num::Int(v.into()))];
        table.rows.push(row("samples sent", self.sent.samples));
        table.rows.push(row("series", self.series.len() as u64));
        table.rows.push(row("requests", self.sent.requests));
        table.rows.push(row("bytes sent", self.sent.bytes));
        table.rows.push(row("retries", self.sent.retries));
        if self.args.checkpoint.is_some() {
            table.rows.push(row("skipped (sent before, per the checkpoint)", self.sent.skipped));
        }
        if self.follow {
            table.rows.push(row("refused (dropped)", self.sent.refused));
        }
        let format = if self.args.format == Format::Csv { Format::Table } else { self.args.format };
        table.write(format, Terminal::detect(), out)?;
        Ok(())
    }
}

pub fn run(args: RemoteWriteArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let url: hyper::Uri = args.url.parse().with_context(|| format!("invalid --url {:?}", args.url))?;
    let transport = Transport::for_url(&url, args.ca_file.as_deref())?;
    if args.max_samples_per_request == 0 {
        crate::usage_error!("--max-samples-per-request must be positive");
    }
    let marks = match &args.checkpoint {
        Some(path) => Watermarks::load(path, &args.url)?,
        None => Watermarks::default(),
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} samples {msg}",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let mut sender = Sender {
        url,
        transport,
        auth: Auth::from_args(&args)?,
        runtime: tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        max_retries: match (args.max_retries, args.follow) {
            (Some(max), _) => Some(max),
            (None, false) => Some(DEFAULT_MAX_RETRIES),
            (None, true) => None,
        },
        follow: args.follow,
        marks,
        sent: Sent::default(),
        series: HashSet::new(),
        bar,
        args: &args,
    };
    if args.follow {
        return follow(&mut sender, out);
    }
    let input = QueryInput::new(&args.files, Filter::default(), args.input.strict, args.semantics.baseline)?;
    let mut store = SeriesStore::new(args.resource_labels, Horizon::Everything);
    input.run(&mut store)?;
    let index = store.into_index();
    let mut pending: Vec<Pending> = index
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| Pending { id: i as u32, labels: &s.labels, points: &s.points })
        .collect();
    sender.send(&mut pending)?;
    sender.summary(out)?;
    input.finished()
}

/// Retries of one request when `--max-retries` is not given and the run does not follow.
const DEFAULT_MAX_RETRIES: u32 = 10;

/// How long a followed process must be quiet before its incomplete export is sent.
const HOLD_FOR: Duration = Duration::from_secs(5);

/// The engine and the store a followed file feeds.
struct Followed {
    live: LiveEngine,
    store: SeriesStore,
}

impl Fed for Followed {
    fn scan_options(&self) -> ScanOptions {
        self.live.scan_options().clone()
    }

    fn apply(&mut self, chunk: ParsedChunk) -> Vec<(u64, String)> {
        self.live.apply(chunk, &mut self.store)
    }

    fn feed(&mut self, source: usize, bytes: Vec<u8>) -> Vec<(u64, String)> {
        self.live.feed(source, bytes, &mut self.store)
    }

    fn caught_up(&mut self) {
        self.live.caught_up(&mut self.store);
    }

    fn settle(&mut self) {
        self.live.settle(&mut self.store);
    }

    fn take_error(&mut self) -> Option<anyhow::Error> {
        self.store.error.take()
    }
}

/// `--follow`: every sample the files hold, then every export as it settles, until
/// SIGINT or SIGTERM. An export still being written when it stops is left for the next
/// run (with `--checkpoint`, nothing is sent twice or left out).
fn follow(sender: &mut Sender, out: &mut dyn Write) -> Result<ExitCode> {
    let args = sender.args;
    let files = if args.files.is_empty() {
        vec![PathBuf::from(metricsctl_reader::input::DEFAULT_PATH)]
    } else {
        args.files.clone()
    };
    for f in &files {
        let source = metricsctl_reader::input::Source::from_arg(f);
        if source.is_stream() {
            crate::usage_error!("{}: --follow follows plain files (not stdin or compressed files)", source.name);
        }
    }
    let options = EngineOptions { baseline: args.semantics.baseline, ..EngineOptions::default() };
    let mut live = LiveEngine::with_options(MetricMatcher::default(), options);
    // A sender can wait: an export whose lines come in parts (a backlog shipped late) is
    // held until its lines have stopped coming for a while, so that it goes out whole.
    live.hold_for = HOLD_FOR;
    let fed = Mutex::new(Followed { live, store: SeriesStore::new(args.resource_labels, Horizon::Everything) });
    let strict = args.input.strict;
    // A bad line under --strict ends the run (the note is called with the lock held).
    let failure: std::cell::RefCell<Option<anyhow::Error>> = std::cell::RefCell::new(None);
    let mut note = |note: FeedNote| match note {
        FeedNote::BadLine { path, line, reason, .. } => {
            let message = format!("{}:{line}: {reason}", path.display());
            if strict {
                failure.borrow_mut().get_or_insert(anyhow::anyhow!("{}", sanitize(&message)));
            } else {
                eprintln!("metricsctl: {}: skipped", sanitize(&message));
            }
        }
        FeedNote::Event { path, event } => eprintln!("metricsctl: {}: {}", path.display(), event.describe()),
        FeedNote::Problem { path, error } => {
            let prefix = path.map(|p| format!("{}: ", p.display())).unwrap_or_default();
            eprintln!("metricsctl: {prefix}{}", sanitize(&format!("{error:#}")));
        }
    };
    super::stop_on_signals();
    let mut feeder = Feeder::catch_up(files, &fed, CatchUp::Everything, &mut note)?;
    let mut stopped = false;
    while !stopped {
        let got = feeder.poll(&fed, &mut note)?;
        let drained = fed.lock().unwrap_or_else(|e| e.into_inner()).store.drain();
        if let Some(error) = failure.borrow_mut().take() {
            return Err(error);
        }
        if !drained.is_empty() {
            let fed = fed.lock().unwrap_or_else(|e| e.into_inner());
            let mut pending: Vec<Pending> =
                drained.iter().map(|(id, points)| Pending { id: *id, labels: fed.store.labels(*id), points }).collect();
            stopped = sender.send(&mut pending)? == Flow::Stopped;
        }
        stopped |= super::stop_requested();
        if !got && !stopped {
            std::thread::sleep(POLL_INTERVAL);
        }
    }
    sender.summary(out)?;
    Ok(if sender.sent.refused > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
