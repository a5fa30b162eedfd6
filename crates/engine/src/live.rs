//! Files that are still being written, read as they grow: `serve` and `top`.
//!
//! - [`LiveEngine`]: blocks of lines fed as they arrive into an engine and a sink, with
//!   line numbers kept per source and exports handed out once they are settled.
//! - [`Feeder`]: files followed like `tail -F`. It catches up on what they hold (the
//!   parallel reader, newest samples only, up to their last 32 MiB, which are read line
//!   by line), then feeds what is appended, in blocks of whole lines.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::engine::{Engine, EngineOptions, ProcessId, Sink};
use metricsctl_reader::follow::{FollowEvent, Follower};
use metricsctl_reader::input::{Block, Source, BLOCK_SIZE, LATEST_BLOCK_SIZE};
use metricsctl_reader::matcher::MetricMatcher;
use metricsctl_reader::scan::{scan, BadLine, BlockParser, ChunkOrigin, ParsedChunk, ScanOptions};

/// An engine fed lines as they arrive (a followed file, an SDK collection).
pub struct LiveEngine {
    pub engine: Engine,
    options: ScanOptions,
    /// Learns the templates of the lines fed, for the next feeds.
    parser: BlockParser,
    /// Lines fed so far per source, for line numbers in messages.
    lines: Vec<u64>,
    /// Per process: its sample count when a block last fed it samples, and when (None:
    /// in the files' catch-up, lines that were all there already).
    fed: Vec<(u64, Option<Instant>)>,
    /// How long a process goes without new lines before its pending export's time can be
    /// up by the wall clock ([`ARRIVAL_QUIET`] unless set).
    pub hold_for: Duration,
}

/// How long a process must go without new lines before its pending export's time can
/// be up by the wall clock. A process writing now is held by its export's deadline
/// already; this holds one whose lines are old (a backlog shipped in parts), whose
/// deadline has long passed when the first part arrives.
pub const ARRIVAL_QUIET: Duration = Duration::from_secs(1);

impl LiveEngine {
    /// Reads the metrics `metrics` names (all by default) with the engine's defaults.
    pub fn new(metrics: MetricMatcher) -> LiveEngine {
        LiveEngine::with_options(metrics, EngineOptions::default())
    }

    pub fn with_options(metrics: MetricMatcher, options: EngineOptions) -> LiveEngine {
        LiveEngine {
            engine: Engine::new(options),
            options: ScanOptions { metrics, block_size: BLOCK_SIZE, latest_only: false },
            parser: BlockParser::default(),
            lines: Vec::new(),
            fed: Vec::new(),
            hold_for: ARRIVAL_QUIET,
        }
    }

    /// Feeds whole lines of `source`; returns its bad lines with their 1-based numbers.
    /// The exports they complete are handed to `sink` at once; one still being written
    /// is not, until it is complete or its time is up (see [`Engine::flush_settled`]).
    pub fn feed(&mut self, source: usize, bytes: Vec<u8>, sink: &mut dyn Sink) -> Vec<(u64, String)> {
        let block = Block::from_bytes(source, bytes);
        let chunk = self.parser.parse(&block, &self.options);
        let bad = self.apply(chunk, sink);
        self.settle(sink);
        bad
    }

    /// Applies a block parsed elsewhere (the parallel reader), the next of its source;
    /// returns its bad lines with their 1-based numbers.
    pub fn apply(&mut self, chunk: ParsedChunk, sink: &mut dyn Sink) -> Vec<(u64, String)> {
        let source = chunk.source;
        if self.lines.len() <= source {
            self.lines.resize(source + 1, 0);
        }
        let origin = ChunkOrigin { source, first_line: self.lines[source] + 1 };
        self.lines[source] += chunk.lines;
        let bad = chunk.bad.iter().map(|BadLine { line, reason }| (origin.first_line + line, reason.clone())).collect();
        self.engine.apply_chunk(origin, chunk, sink);
        let now = Some(Instant::now());
        for (pid, process) in self.engine.processes.iter().enumerate() {
            match self.fed.get_mut(pid) {
                Some(fed) if fed.0 == process.samples => {}
                Some(fed) => *fed = (process.samples, now),
                None => self.fed.push((process.samples, now)),
            }
        }
        bad
    }

    /// Hands out the pending exports that are complete, or whose time is up by the wall
    /// clock and whose process was not fed for `hold_for` (a file that is no longer
    /// written shows all it holds).
    pub fn settle(&mut self, sink: &mut dyn Sink) {
        let now = metricsctl_format::timestamp::now_nanos();
        let (fed, hold_for) = (&self.fed, self.hold_for);
        let now_for = |pid: ProcessId| match fed.get(pid as usize) {
            Some((_, Some(at))) if at.elapsed() < hold_for => i64::MIN,
            _ => now,
        };
        self.engine.flush_settled(&now_for, sink);
    }

    /// The lines fed so far were all there before (the catch-up): no export of them is
    /// held for more lines to come, so what the files held is handed out whole now.
    pub fn caught_up(&mut self, sink: &mut dyn Sink) {
        for fed in &mut self.fed {
            fed.1 = None;
        }
        self.settle(sink);
    }

    /// Hands out everything fed, a pending export included (one complete collection).
    pub fn finish(&mut self, sink: &mut dyn Sink) {
        self.engine.finish(sink);
    }

    /// What the parallel reader needs to parse blocks for `apply`.
    pub fn scan_options(&self) -> &ScanOptions {
        &self.options
    }
}

/// What a [`Feeder`] feeds: a live engine with its sink.
pub trait Fed {
    fn scan_options(&self) -> ScanOptions;
    /// A block parsed by the parallel reader; returns its bad lines (1-based numbers).
    fn apply(&mut self, chunk: ParsedChunk) -> Vec<(u64, String)>;
    /// Whole lines of `source`, settled at once; returns their bad lines.
    fn feed(&mut self, source: usize, bytes: Vec<u8>) -> Vec<(u64, String)>;
    /// What the files held is read (see [`LiveEngine::caught_up`]).
    fn caught_up(&mut self);
    /// Hands out the exports whose time is up (see [`LiveEngine::settle`]); the feeder
    /// calls it after every poll, so that one held for more lines goes out once they
    /// have stopped coming, whether or not anything new was read.
    fn settle(&mut self);
    /// A problem the sink found in what was fed (a label clash, say), once.
    fn take_error(&mut self) -> Option<anyhow::Error> {
        None
    }
}

/// What the feeder has to say, for the caller to show (stderr, or a status line when
/// stderr is under a full-screen view).
#[derive(Debug)]
pub enum FeedNote<'a> {
    /// The `count`th bad line of `path` so far.
    BadLine {
        path: &'a Path,
        count: u64,
        line: u64,
        reason: &'a str,
    },
    Event {
        path: &'a Path,
        event: FollowEvent,
    },
    Problem {
        path: Option<&'a Path>,
        error: anyhow::Error,
    },
}

/// What a [`Feeder`] reads of what the files already hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// Each series' newest samples, but the last [`TAIL_BYTES`], read line by line:
    /// enough for a view of now (`serve`, `top`).
    Newest,
    /// Every sample (`remote-write --follow` sends the history first).
    Everything,
}

/// The end of each file read line by line at catch-up: the rest only by each series'
/// newest samples. The last exports must be real ones, so that what each process's
/// latest export holds is known (a series missing from it is stale), and views over a
/// recent window have it.
pub const TAIL_BYTES: u64 = 32 << 20;

/// Files followed like `tail -F`, fed in blocks of whole lines.
pub struct Feeder {
    paths: Vec<PathBuf>,
    followers: Vec<Follower>,
    /// Bad lines seen per file.
    pub bad_lines: Vec<u64>,
}

impl Feeder {
    /// Reads what the files hold now, up to their last complete line, and follows each
    /// from there: one file after the other, each by the parallel reader (all samples or
    /// the newest only, as `catch_up` says) up to its last [`TAIL_BYTES`], which are
    /// read line by line.
    pub fn catch_up<F: Fed>(
        paths: Vec<PathBuf>,
        fed: &Mutex<F>,
        catch_up: CatchUp,
        notes: &mut dyn FnMut(FeedNote),
    ) -> Result<Feeder> {
        let mut starts = vec![0u64; paths.len()];
        let mut bad_lines = vec![0u64; paths.len()];
        let mut fed = fed.lock().unwrap_or_else(|e| e.into_inner());
        for (i, path) in paths.iter().enumerate() {
            let Ok(file) = std::fs::File::open(path) else { continue };
            // A file truncated under us: the follower reads it from the start instead.
            let end = complete_lines_end(&file).unwrap_or(0);
            if end == 0 {
                continue;
            }
            starts[i] = end;
            let tail = line_start_at_or_after(&file, end.saturating_sub(TAIL_BYTES), end).unwrap_or(0);
            let mut note_bad = |bad: Vec<(u64, String)>, notes: &mut dyn FnMut(FeedNote)| {
                for (line, reason) in bad {
                    bad_lines[i] += 1;
                    notes(FeedNote::BadLine { path, count: bad_lines[i], line, reason: &reason });
                }
            };
            if tail > 0 {
                let options = match catch_up {
                    // What comes before matters only by each series' newest sample.
                    CatchUp::Newest => {
                        ScanOptions { latest_only: true, block_size: LATEST_BLOCK_SIZE, ..fed.scan_options() }
                    }
                    CatchUp::Everything => fed.scan_options(),
                };
                let source = Source { limit: Some(tail), ..Source::from_arg(path) };
                scan(std::slice::from_ref(&source), &options, |_, mut chunk| {
                    chunk.source = i;
                    note_bad(fed.apply(chunk), notes);
                    Ok(())
                })?;
            }
            let mut bytes = vec![0u8; (end - tail) as usize];
            std::os::unix::fs::FileExt::read_exact_at(&file, &mut bytes, tail)
                .with_context(|| format!("cannot read {}", path.display()))?;
            note_bad(fed.feed(i, bytes), notes);
            if let Some(error) = fed.take_error() {
                notes(FeedNote::Problem { path: Some(path), error });
            }
        }
        fed.caught_up();
        drop(fed);
        let followers = paths.iter().zip(&starts).map(|(p, &start)| Follower::new(p, start)).collect();
        Ok(Feeder { paths, followers, bad_lines })
    }

    /// Reads what is new in every file; returns whether anything was. The lock is taken
    /// per block, so that readers of `fed` wait for one block at most.
    pub fn poll<F: Fed>(&mut self, fed: &Mutex<F>, notes: &mut dyn FnMut(FeedNote)) -> Result<bool> {
        let mut any = false;
        for (source, follower) in self.followers.iter_mut().enumerate() {
            let path = &self.paths[source];
            let bad_lines = &mut self.bad_lines[source];
            let mut block = Vec::new();
            let mut feed = |block: Vec<u8>, notes: &mut dyn FnMut(FeedNote)| {
                let mut fed = fed.lock().unwrap_or_else(|e| e.into_inner());
                for (line, reason) in fed.feed(source, block) {
                    *bad_lines += 1;
                    notes(FeedNote::BadLine { path, count: *bad_lines, line, reason: &reason });
                }
                if let Some(error) = fed.take_error() {
                    notes(FeedNote::Problem { path: Some(path), error });
                }
            };
            let mut events = Vec::new();
            let mut on_line = |line: &[u8]| -> Result<()> {
                block.extend_from_slice(line);
                block.push(b'\n');
                if block.len() >= BLOCK_SIZE {
                    feed(std::mem::take(&mut block), notes);
                }
                Ok(())
            };
            any |= follower.poll(&mut on_line, &mut |event| events.push(event))?;
            if !block.is_empty() {
                feed(block, notes);
            }
            for event in events {
                notes(FeedNote::Event { path, event });
            }
        }
        fed.lock().unwrap_or_else(|e| e.into_inner()).settle();
        Ok(any)
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
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
