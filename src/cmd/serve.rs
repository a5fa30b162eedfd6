//! `metricsctl serve`: follows metrics files like `tail -F` and serves their latest
//! samples at `/metrics`, so that a real Prometheus scrapes a file as if it scraped the
//! processes that wrote it. Series that their process stopped exporting are left out,
//! which Prometheus turns into staleness markers as for a real target.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;

use crate::cli::ServeArgs;
use metricsctl_engine::live::{CatchUp, FeedNote, Feeder};
use metricsctl_format::text::sanitize;
use metricsctl_format::timestamp::parse_duration;
use metricsctl_prom::exposition::{content_type, negotiate, LiveExposition, Staleness};
use metricsctl_reader::follow::POLL_INTERVAL;
use metricsctl_reader::input::Source;

/// Bad lines shown per file; the rest are counted.
const BAD_LINES_SHOWN: u64 = 10;

struct Served {
    live: Mutex<LiveExposition>,
    staleness: Staleness,
}

/// Says what the feeder found on stderr: the first few bad lines of each file, changes
/// of file, and what cannot be served.
fn report(note: FeedNote) {
    match note {
        FeedNote::BadLine { path, count, line, reason } => {
            if count <= BAD_LINES_SHOWN {
                eprintln!("metricsctl: {}:{line}: skipped: {}", path.display(), sanitize(reason));
            }
            if count == BAD_LINES_SHOWN {
                eprintln!("metricsctl: {}: further bad lines are counted, not shown", path.display());
            }
        }
        FeedNote::Event { path, event } => {
            eprintln!("metricsctl: {}: {}", path.display(), event.describe());
        }
        FeedNote::Problem { path, error } => {
            let prefix = path.map(|p| format!("{}: ", p.display())).unwrap_or_default();
            eprintln!("metricsctl: {prefix}not served: {}", sanitize(&format!("{error:#}")));
        }
    }
}

/// How long a scrape may take no chunk before it is abandoned: the files are not
/// followed while an exposition is written, so a client that stops reading must not
/// hold them up for longer than a scrape timeout.
const SCRAPE_STALL: Duration = Duration::from_secs(30);

/// Chunks of an exposition on their way to the client; a write fails once the client
/// is gone or has read nothing for [`SCRAPE_STALL`], which ends the rendering.
struct ToClient {
    chunks: tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
    runtime: tokio::runtime::Handle,
}

impl std::io::Write for ToClient {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let sent = self.runtime.block_on(tokio::time::timeout(SCRAPE_STALL, self.chunks.send(Ok(buf.to_vec()))));
        match sent {
            Ok(Ok(())) => Ok(buf.len()),
            Ok(Err(_)) => Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the scrape was abandoned")),
            Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the scraper stopped reading")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The exposition is streamed as it is rendered (about a megabyte at a time): the text
/// of a million series is gigabytes, which a scrape held whole in memory (3.8 GB at its
/// peak for 2,000,000 series, where what was read took 1.4).
async fn metrics(State(served): State<Arc<Served>>, headers: HeaderMap) -> impl IntoResponse {
    let format = negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let (chunks, body) = tokio::sync::mpsc::channel(2);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let live = served.live.lock().unwrap_or_else(|e| e.into_inner());
        // An error is the client gone: nobody is left to tell.
        let _ = live.write(format, Some(served.staleness), &mut ToClient { chunks, runtime });
    });
    let body = axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(body));
    ([(header::CONTENT_TYPE, content_type(format))], body)
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let files =
        if args.files.is_empty() { vec![PathBuf::from(metricsctl_reader::input::DEFAULT_PATH)] } else { args.files };
    for f in &files {
        let source = Source::from_arg(f);
        if source.is_stream() {
            bail!("{}: serve follows plain files (not stdin or compressed files)", source.name);
        }
    }
    let after_nanos = parse_duration(&args.stale_after).context("--stale-after")?;
    if after_nanos <= 0 {
        bail!("--stale-after must be positive");
    }
    let listener =
        std::net::TcpListener::bind(args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
    listener.set_nonblocking(true)?;
    let served = Arc::new(Served {
        live: Mutex::new(LiveExposition::new(args.resource_labels)),
        staleness: Staleness { after_nanos },
    });
    // Everything already in the files first: a scrape must never see an old value
    // after a newer one. Then what was appended meanwhile.
    let mut feeder = Feeder::catch_up(files, &served.live, CatchUp::Newest, &mut report)?;
    while feeder.poll(&served.live, &mut report)? {}
    let series = served.live.lock().unwrap_or_else(|e| e.into_inner()).series();
    eprintln!("metricsctl: serving {series} series at http://{}/metrics; Ctrl-C to stop", listener.local_addr()?);

    let stop = Arc::new(AtomicBool::new(false));
    let follow = {
        let stop = Arc::clone(&stop);
        let served = Arc::clone(&served);
        std::thread::Builder::new().name("metricsctl-serve-follow".into()).spawn(move || -> Result<()> {
            while !stop.load(Ordering::Relaxed) {
                if !feeder.poll(&served.live, &mut report)? {
                    std::thread::sleep(POLL_INTERVAL);
                }
            }
            Ok(())
        })?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let app = axum::Router::new().route("/metrics", axum::routing::get(metrics)).with_state(Arc::clone(&served));
        let server = axum::serve(listener, app).with_graceful_shutdown(super::termination());
        server.await.context("serving /metrics")
    });
    stop.store(true, Ordering::Relaxed);
    match follow.join() {
        Ok(r) => r?,
        Err(_) => bail!("the file follower panicked"),
    }
    result?;
    Ok(ExitCode::SUCCESS)
}
