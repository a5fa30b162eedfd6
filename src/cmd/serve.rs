//! `metricsctl serve`: follows metrics files like `tail -F` and serves their latest
//! samples at `/metrics`, so that a real Prometheus scrapes a file as if it scraped the
//! processes that wrote it. Series that their process stopped exporting are left out,
//! which Prometheus turns into staleness markers as for a real target.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;

use crate::cli::ServeArgs;
use metricsctl_format::text::sanitize;
use metricsctl_format::timestamp::parse_duration;
use metricsctl_prom::exposition::{content_type, negotiate, LiveExposition, Staleness};
use metricsctl_reader::follow::{FollowEvent, Follower, POLL_INTERVAL};
use metricsctl_reader::input::{Source, BLOCK_SIZE, LATEST_BLOCK_SIZE};
use metricsctl_reader::scan::{scan, ScanOptions};

/// Bad lines shown per file; the rest are counted.
const BAD_LINES_SHOWN: u64 = 10;

struct Served {
    live: Mutex<LiveExposition>,
    staleness: Staleness,
}

/// The followed files, fed into the exposition in blocks of whole lines.
struct Feeder {
    paths: Vec<PathBuf>,
    followers: Vec<Follower>,
    bad_lines: Vec<u64>,
}

/// Says a bad line on stderr (the first few of each file), counting them all.
fn report_bad_line(path: &Path, count: &mut u64, line: u64, reason: &str) {
    *count += 1;
    if *count <= BAD_LINES_SHOWN {
        eprintln!("metricsctl: {}:{line}: skipped: {}", path.display(), sanitize(reason));
    }
    if *count == BAD_LINES_SHOWN {
        eprintln!("metricsctl: {}: further bad lines are counted, not shown", path.display());
    }
}

/// Where the last complete line of `file` ends (0 when it has none).
fn complete_lines_end(file: &std::fs::File) -> Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut end = file.metadata()?.len();
    let mut chunk = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let buf = &mut chunk[..(end - start) as usize];
        file.read_exact_at(buf, start)?;
        if let Some(i) = memchr::memrchr(b'\n', buf) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// The end of each file read line by line at catch-up: the rest only by each series'
/// newest samples. The last exports must be real ones, so that what each process's
/// latest export holds is known (a series missing from it is stale).
const TAIL_BYTES: u64 = 32 << 20;

/// Where the first line starting at or after `offset` begins.
fn line_start_at_or_after(file: &std::fs::File, offset: u64, end: u64) -> Result<u64> {
    use std::os::unix::fs::FileExt;
    if offset == 0 {
        return Ok(0);
    }
    let mut at = offset - 1;
    let mut chunk = vec![0u8; 64 << 10];
    while at < end {
        let n = chunk.len().min((end - at) as usize);
        file.read_exact_at(&mut chunk[..n], at)?;
        if let Some(i) = memchr::memchr(b'\n', &chunk[..n]) {
            return Ok(at + i as u64 + 1);
        }
        at += n as u64;
    }
    Ok(end)
}

impl Feeder {
    /// Reads what the files hold now, up to their last complete line, and follows each
    /// from there: one file after the other, each by the parallel reader (newest samples
    /// only) up to its last 32 MiB, which are read line by line.
    fn catch_up(paths: Vec<PathBuf>, served: &Served) -> Result<Feeder> {
        let mut starts = vec![0u64; paths.len()];
        let mut bad_lines = vec![0u64; paths.len()];
        let mut live = served.live.lock().unwrap_or_else(|e| e.into_inner());
        for (i, path) in paths.iter().enumerate() {
            let Ok(file) = std::fs::File::open(path) else { continue };
            // A file truncated under us: the follower reads it from the start instead.
            let end = complete_lines_end(&file).unwrap_or(0);
            if end == 0 {
                continue;
            }
            starts[i] = end;
            let tail = line_start_at_or_after(&file, end.saturating_sub(TAIL_BYTES), end).unwrap_or(0);
            if tail > 0 {
                // What comes before matters only by each series' newest sample.
                let options =
                    ScanOptions { latest_only: true, block_size: LATEST_BLOCK_SIZE, ..live.scan_options().clone() };
                let source = Source { limit: Some(tail), ..Source::from_arg(path) };
                scan(std::slice::from_ref(&source), &options, |_, mut chunk| {
                    chunk.source = i;
                    for (line, reason) in live.apply(chunk) {
                        report_bad_line(path, &mut bad_lines[i], line, &reason);
                    }
                    Ok(())
                })?;
            }
            let mut bytes = vec![0u8; (end - tail) as usize];
            std::os::unix::fs::FileExt::read_exact_at(&file, &mut bytes, tail)
                .with_context(|| format!("cannot read {}", path.display()))?;
            for (line, reason) in live.feed(i, bytes) {
                report_bad_line(path, &mut bad_lines[i], line, &reason);
            }
        }
        if let Some(e) = live.take_error() {
            eprintln!("metricsctl: not served: {}", sanitize(&format!("{e:#}")));
        }
        drop(live);
        let followers = paths.iter().zip(&starts).map(|(p, &start)| Follower::new(p, start)).collect();
        Ok(Feeder { paths, followers, bad_lines })
    }

    /// Reads what is new in every file; returns whether anything was.
    fn poll(&mut self, served: &Served) -> Result<bool> {
        let mut any = false;
        for (source, follower) in self.followers.iter_mut().enumerate() {
            let path = &self.paths[source];
            let bad_lines = &mut self.bad_lines[source];
            let mut block = Vec::new();
            let mut feed = |block: Vec<u8>| {
                let mut live = served.live.lock().unwrap_or_else(|e| e.into_inner());
                for (line, reason) in live.feed(source, block) {
                    report_bad_line(path, bad_lines, line, &reason);
                }
                if let Some(e) = live.take_error() {
                    eprintln!("metricsctl: {}: not served: {}", path.display(), sanitize(&format!("{e:#}")));
                }
            };
            let mut on_line = |line: &[u8]| -> Result<()> {
                block.extend_from_slice(line);
                block.push(b'\n');
                if block.len() >= BLOCK_SIZE {
                    feed(std::mem::take(&mut block));
                }
                Ok(())
            };
            let mut on_event = |event: FollowEvent| {
                let what = match event {
                    FollowEvent::Truncated => "file truncated; reading it from the start",
                    FollowEvent::Replaced => "file replaced; following the new file",
                    FollowEvent::Appeared => "file appeared; following it",
                    FollowEvent::Vanished => "file removed; waiting for it to come back",
                };
                eprintln!("metricsctl: {}: {what}", path.display());
            };
            any |= follower.poll(&mut on_line, &mut on_event)?;
            if !block.is_empty() {
                feed(block);
            }
        }
        Ok(any)
    }
}

async fn metrics(State(served): State<Arc<Served>>, headers: HeaderMap) -> impl IntoResponse {
    let format = negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let body = served.live.lock().unwrap_or_else(|e| e.into_inner()).render(format, Some(served.staleness));
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
    let mut feeder = Feeder::catch_up(files, &served)?;
    while feeder.poll(&served)? {}
    let series = served.live.lock().unwrap_or_else(|e| e.into_inner()).series();
    eprintln!("metricsctl: serving {series} series at http://{}/metrics; Ctrl-C to stop", listener.local_addr()?);

    let stop = Arc::new(AtomicBool::new(false));
    let follow = {
        let stop = Arc::clone(&stop);
        let served = Arc::clone(&served);
        std::thread::Builder::new().name("metricsctl-serve-follow".into()).spawn(move || -> Result<()> {
            while !stop.load(Ordering::Relaxed) {
                if !feeder.poll(&served)? {
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
