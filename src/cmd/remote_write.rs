//! `metricsctl remote-write --url URL [FILE...]`: every sample of the input, with the
//! names and labels of `to-prometheus --history`, sent in time order to a Prometheus
//! remote write 1.0 endpoint (protobuf, snappy), in batches.
//!
//! 5xx and 429 answers are retried with exponential backoff (Retry-After is honoured);
//! other 4xx are reported with the server's message. With `--checkpoint`, the last
//! acknowledged sample is recorded after every batch, so that a re-run sends only the
//! rest: samples go in (time, labels) order, which does not depend on how the input was
//! read, and the checkpoint is the last of them the server took.

use std::collections::BinaryHeap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde::{Deserialize, Serialize};

use crate::cli::RemoteWriteArgs;
use crate::output::{Cell, Format, Table, Terminal};
use metricsctl_engine::filter::Filter;
use metricsctl_engine::query::QueryInput;
use metricsctl_prom::remote::{encode, Label, Sample, TimeSeries, WriteRequest};
use metricsctl_promql::store::{Horizon, SeriesIndex, SeriesStore};

/// The last sample a server acknowledged, in the order samples are sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Checkpoint {
    url: String,
    timestamp_ms: i64,
    labels: Vec<(String, String)>,
    samples_sent: u64,
}

impl Checkpoint {
    fn load(path: &Path, url: &str) -> Result<Option<Checkpoint>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
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
        Ok(Some(checkpoint))
    }

    /// Replaces the file atomically and durably: a crash leaves the old one or the new.
    fn save(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        file.write_all(serde_json::to_string(self)?.as_bytes())?;
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
    series: usize,
    requests: u64,
    bytes: u64,
    retries: u64,
    skipped: u64,
}

/// The samples of `index` in (time, labels) order: series are sorted by labels, so a
/// heap on (time, series) gives it.
fn in_time_order(index: &SeriesIndex) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut heap: BinaryHeap<std::cmp::Reverse<(i64, usize, usize)>> = index
        .series
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.points.is_empty())
        .map(|(i, s)| std::cmp::Reverse((s.points[0].t, i, 0)))
        .collect();
    std::iter::from_fn(move || {
        let std::cmp::Reverse((_, series, point)) = heap.pop()?;
        if let Some(next) = index.series[series].points.get(point + 1) {
            heap.push(std::cmp::Reverse((next.t, series, point + 1)));
        }
        Some((series, point))
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

async fn post(url: &hyper::Uri, auth: &Auth, body: Bytes) -> Outcome {
    let host = url.host().unwrap_or("localhost").to_string();
    let port = url.port_u16().unwrap_or(80);
    let stream = match tokio::net::TcpStream::connect((host.as_str(), port)).await {
        Ok(s) => s,
        Err(e) => return Outcome::Retry { why: format!("connect: {}", e.kind()), after: None },
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await {
        Ok(pair) => pair,
        Err(e) => return Outcome::Retry { why: format!("handshake: {e}"), after: None },
    };
    tokio::spawn(async move {
        let _ = conn.await;
    });
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
    let response = match tokio::time::timeout(Duration::from_secs(60), sender.send_request(request)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Outcome::Retry { why: format!("http: {e}"), after: None },
        Err(_) => return Outcome::Retry { why: "no answer in 60 s".into(), after: None },
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

pub fn run(args: RemoteWriteArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let url: hyper::Uri = args.url.parse().with_context(|| format!("invalid --url {:?}", args.url))?;
    if url.scheme_str() != Some("http") {
        crate::usage_error!("--url: only http:// endpoints are supported (put a TLS proxy in front for https)");
    }
    if args.max_samples_per_request == 0 {
        crate::usage_error!("--max-samples-per-request must be positive");
    }
    let auth = Auth::from_args(&args)?;
    let checkpoint = match &args.checkpoint {
        Some(path) => Checkpoint::load(path, &args.url)?,
        None => None,
    };
    let input = QueryInput::new(&args.files, Filter::default(), args.input.strict, args.semantics.baseline)?;
    let mut store = SeriesStore::new(args.resource_labels, Horizon::Everything);
    input.run(&mut store)?;
    let index = store.into_index();
    let total: u64 = index.series.iter().map(|s| s.points.len() as u64).sum();

    let done_before = |series: usize, point: usize| -> bool {
        let Some(c) = &checkpoint else { return false };
        let s = &index.series[series];
        (s.points[point].t, &s.labels) <= (c.timestamp_ms, &c.labels)
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} samples {msg}",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut sent = Sent::default();
    let mut touched = std::collections::HashSet::new();
    let mut order = in_time_order(&index).peekable();
    loop {
        // One batch: up to the limit of samples, grouped by series in time order.
        let mut batch: Vec<(usize, Vec<Sample>)> = Vec::new();
        let mut position: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
        let mut last = None;
        let mut in_batch = 0usize;
        while in_batch < args.max_samples_per_request {
            let Some((series, point)) = order.next() else { break };
            if done_before(series, point) {
                sent.skipped += 1;
                continue;
            }
            let p = index.series[series].points[point];
            let slot = *position.entry(series).or_insert_with(|| {
                batch.push((series, Vec::new()));
                batch.len() - 1
            });
            batch[slot].1.push(Sample { value: p.v, timestamp: p.t });
            last = Some((series, p.t));
            in_batch += 1;
        }
        if batch.is_empty() {
            break;
        }
        let request = WriteRequest {
            timeseries: batch
                .iter()
                .map(|(series, samples)| TimeSeries {
                    labels: index.series[*series]
                        .labels
                        .iter()
                        .map(|(name, value)| Label { name: name.clone(), value: value.clone() })
                        .collect(),
                    samples: samples.clone(),
                })
                .collect(),
        };
        let body = Bytes::from(encode(&request));
        let mut attempt = 0;
        loop {
            match runtime.block_on(post(&url, &auth, body.clone())) {
                Outcome::Accepted => break,
                Outcome::Refused(message) => {
                    if let Some(bar) = &bar {
                        bar.abandon();
                    }
                    bail!("the server refused a request (not retried): {}", crate::output::sanitize(&message));
                }
                Outcome::Retry { why, after } => {
                    attempt += 1;
                    if attempt > args.max_retries {
                        bail!("gave up after {} retries: {}", args.max_retries, crate::output::sanitize(&why));
                    }
                    sent.retries += 1;
                    let wait = backoff(attempt, after);
                    let say =
                        format!("retry {attempt} in {:.1} s: {}", wait.as_secs_f64(), crate::output::sanitize(&why));
                    match &bar {
                        Some(bar) => bar.set_message(say),
                        None => eprintln!("metricsctl: {say}"),
                    }
                    std::thread::sleep(wait);
                }
            }
        }
        sent.requests += 1;
        sent.bytes += body.len() as u64;
        sent.samples += in_batch as u64;
        for (series, _) in &batch {
            touched.insert(*series);
        }
        if let (Some(path), Some((series, t))) = (&args.checkpoint, last) {
            let already = checkpoint.as_ref().map_or(0, |c| c.samples_sent);
            Checkpoint {
                url: args.url.clone(),
                timestamp_ms: t,
                labels: index.series[series].labels.clone(),
                samples_sent: already + sent.samples,
            }
            .save(path)?;
        }
        if let Some(bar) = &bar {
            bar.set_position(sent.samples + sent.skipped);
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    sent.series = touched.len();
    let mut table = Table::new(vec!["".into(), "value".into()]);
    let row = |k: &str, v: u64| vec![Cell::Text(k.into()), Cell::Num(metricsctl_format::record::Num::Int(v.into()))];
    table.rows.push(row("samples sent", sent.samples));
    table.rows.push(row("series", sent.series as u64));
    table.rows.push(row("requests", sent.requests));
    table.rows.push(row("bytes sent", sent.bytes));
    table.rows.push(row("retries", sent.retries));
    if checkpoint.is_some() {
        table.rows.push(row("skipped (sent before, per the checkpoint)", sent.skipped));
    }
    let format = if args.format == Format::Csv { Format::Table } else { args.format };
    table.write(format, Terminal::detect(), out)?;
    input.finished()
}
