//! The parallel reader: blocks are parsed on the rayon pool into compact samples with
//! chunk-local series ids, then handed to the caller strictly in input order.
//!
//! Memory is bounded by the blocks in flight, not by the file: a parsed block keeps
//! ~70 bytes per wanted line and the canonical key of each series it saw once.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};
use std::sync::mpsc::{channel, sync_channel};
use std::sync::Arc;

use anyhow::{bail, Result};
use foldhash::fast::FixedState;

use crate::filter::MetricMatcher;
use crate::input::{block_lines, Block, BlockReader, Source, MAX_LINE};
use crate::record::{parse_line, MetricType, Record, SampleValue};
use crate::series::{make_series, ChunkSeries};

#[derive(Debug)]
pub struct Sample {
    /// Index into the chunk's `series`.
    pub series: u32,
    /// 0-based line index within the block.
    pub line: u64,
    pub timestamp: i64,
    pub start_timestamp: Option<i64>,
    pub delta: bool,
    pub value: SampleValue,
}

#[derive(Debug)]
pub struct BadLine {
    /// 0-based line index within the block.
    pub line: u64,
    pub reason: String,
}

/// The result of parsing one block.
#[derive(Debug, Default)]
pub struct ParsedChunk {
    pub source: usize,
    /// Lines in the block (a final line without newline included).
    pub lines: u64,
    pub bad: Vec<BadLine>,
    pub series: Vec<Arc<ChunkSeries>>,
    pub samples: Vec<Sample>,
    /// Lines whose `metric_type` was missing and inferred.
    pub inferred_types: u64,
    /// Valid lines of metrics the query does not want (not parsed when the byte
    /// pre-check could tell).
    pub skipped: u64,
}

/// What to parse.
#[derive(Clone)]
pub struct ScanOptions {
    pub metrics: MetricMatcher,
    /// Bytes read per block (tests use small blocks to split exports across them).
    pub block_size: usize,
}

/// Interning key of a series within one block, borrowed from the block's text.
#[derive(PartialEq, Eq, Hash)]
struct LocalKey<'a> {
    service: Option<Cow<'a, str>>,
    metric: Cow<'a, str>,
    metric_type: MetricType,
    attributes: &'a str,
    resource: &'a str,
}

pub fn parse_block(block: &Block, options: &ScanOptions) -> ParsedChunk {
    let mut out = ParsedChunk { source: block.source, ..Default::default() };
    let mut local: HashMap<LocalKey<'_>, Result<u32, String>, FixedState> = HashMap::default();
    for (index, line) in block_lines(block) {
        out.lines = index + 1;
        let Some(line) = line else {
            out.bad.push(BadLine { line: index, reason: format!("line longer than {} MiB", MAX_LINE >> 20) });
            continue;
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Some(name) = crate::record::quick_metric_name(line) {
            if !options.metrics.matches_bytes(name) {
                out.skipped += 1;
                continue;
            }
        }
        // Validated per parsed line: most lines of a query are skipped unread.
        let text = match std::str::from_utf8(line) {
            Ok(t) => t,
            Err(e) => {
                out.bad.push(BadLine { line: index, reason: format!("invalid UTF-8 at byte {}", e.valid_up_to()) });
                continue;
            }
        };
        let record = match parse_line(text) {
            Ok(r) => r,
            Err(reason) => {
                out.bad.push(BadLine { line: index, reason });
                continue;
            }
        };
        if !options.metrics.matches(&record.metric_name) {
            out.skipped += 1;
            continue;
        }
        if record.type_inferred {
            out.inferred_types += 1;
        }
        let key = LocalKey {
            service: record.service_name.clone(),
            metric: record.metric_name.clone(),
            metric_type: record.metric_type,
            attributes: record.attributes.map_or("", |r| r.get()),
            resource: record.resource.map_or("", |r| r.get()),
        };
        let series = match local.get(&key) {
            Some(Ok(id)) => *id,
            Some(Err(reason)) => {
                out.bad.push(BadLine { line: index, reason: reason.clone() });
                continue;
            }
            None => {
                let made = cached_series(&key, &record).map(|s| {
                    out.series.push(s);
                    (out.series.len() - 1) as u32
                });
                local.insert(key, made.clone());
                match made {
                    Ok(id) => id,
                    Err(reason) => {
                        out.bad.push(BadLine { line: index, reason });
                        continue;
                    }
                }
            }
        };
        out.samples.push(Sample {
            series,
            line: index,
            timestamp: record.timestamp,
            start_timestamp: record.start_timestamp,
            delta: record.delta,
            value: record.value,
        });
    }
    out
}

/// A series as its lines spell it, owned, for the per-thread cache.
struct RawSeriesText {
    service: Option<String>,
    metric: String,
    metric_type: MetricType,
    attributes: String,
    resource: String,
}

impl RawSeriesText {
    fn matches(&self, k: &LocalKey<'_>) -> bool {
        self.metric_type == k.metric_type
            && self.metric == k.metric
            && self.attributes == k.attributes
            && self.resource == k.resource
            && self.service.as_deref() == k.service.as_deref()
    }
}

type CachedSeries = Result<Arc<ChunkSeries>, String>;

/// Above this many cached spellings (hostile input) the cache starts over.
const SERIES_CACHE_LIMIT: usize = 1 << 16;

/// Canonical identities by raw spelling (hash of the spelling -> candidates).
#[derive(Default)]
struct SeriesCache {
    entries: usize,
    by_hash: HashMap<u64, Vec<(RawSeriesText, CachedSeries)>, FixedState>,
}

thread_local! {
    /// Each worker canonicalises a series once rather than once per block.
    static SERIES_CACHE: std::cell::RefCell<SeriesCache> = std::cell::RefCell::new(SeriesCache::default());
}

fn cached_series(key: &LocalKey<'_>, record: &Record<'_>) -> CachedSeries {
    let hash = FixedState::with_seed(7).hash_one(key);
    SERIES_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(entries) = cache.by_hash.get(&hash) {
            if let Some((_, found)) = entries.iter().find(|(raw, _)| raw.matches(key)) {
                return found.clone();
            }
        }
        if cache.entries >= SERIES_CACHE_LIMIT {
            *cache = SeriesCache::default();
        }
        let made = make_series(record).map(Arc::new);
        let raw = RawSeriesText {
            service: key.service.as_deref().map(str::to_string),
            metric: key.metric.to_string(),
            metric_type: key.metric_type,
            attributes: key.attributes.to_string(),
            resource: key.resource.to_string(),
        };
        cache.entries += 1;
        cache.by_hash.entry(hash).or_default().push((raw, made.clone()));
        made
    })
}

/// Position of a chunk in the input, for line numbers in messages.
#[derive(Debug, Clone, Copy)]
pub struct ChunkOrigin {
    pub source: usize,
    /// 1-based number of the block's first line in its source.
    pub first_line: u64,
}

/// Reads every source in order, parses blocks in parallel, and calls `apply` with each
/// parsed block in input order. An error from `apply` stops the scan.
pub fn scan<F>(sources: &[Source], options: &ScanOptions, mut apply: F) -> Result<()>
where
    F: FnMut(ChunkOrigin, ParsedChunk) -> Result<()>,
{
    let block_size = options.block_size;
    let options = Arc::new(options.clone());
    let max_in_flight = rayon::current_num_threads() + 1;
    // Parsed blocks send their buffers back to the reader for reuse.
    let (recycle_tx, recycle_rx) = channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let (block_tx, block_rx) = sync_channel::<Result<(u64, Block)>>(1);
        scope.spawn(move || {
            let mut seq = 0u64;
            for (i, src) in sources.iter().enumerate() {
                let mut reader = match BlockReader::new(i, src, block_size) {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = block_tx.send(Err(e));
                        return;
                    }
                };
                loop {
                    match reader.next_block(recycle_rx.try_recv().ok()) {
                        Ok(Some(block)) => {
                            if block_tx.send(Ok((seq, block))).is_err() {
                                return;
                            }
                            seq += 1;
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = block_tx.send(Err(e));
                            return;
                        }
                    }
                }
            }
        });

        let (done_tx, done_rx) = channel::<(u64, std::thread::Result<ParsedChunk>)>();
        let mut in_flight = 0usize;
        let mut reader_done = false;
        let mut next = 0u64;
        let mut ready: BTreeMap<u64, ParsedChunk> = BTreeMap::new();
        let mut line_base: Vec<u64> = vec![1; sources.len()];
        loop {
            while !reader_done && in_flight < max_in_flight {
                match block_rx.recv() {
                    Ok(Ok((seq, block))) => {
                        in_flight += 1;
                        let tx = done_tx.clone();
                        let recycle = recycle_tx.clone();
                        let options = Arc::clone(&options);
                        rayon::spawn(move || {
                            // rayon aborts the process on a panic in a spawned task;
                            // catch it so that it becomes an ordinary error instead.
                            let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                parse_block(&block, &options)
                            }));
                            let _ = recycle.send(block.into_buffer());
                            let _ = tx.send((seq, parsed));
                        });
                    }
                    Ok(Err(e)) => return Err(e),
                    Err(_) => reader_done = true,
                }
            }
            if in_flight == 0 {
                break;
            }
            let Ok((seq, parsed)) = done_rx.recv() else {
                bail!("a parser thread stopped unexpectedly");
            };
            in_flight -= 1;
            let Ok(parsed) = parsed else {
                bail!("internal error: the parser panicked");
            };
            ready.insert(seq, parsed);
            while let Some(chunk) = ready.remove(&next) {
                next += 1;
                let origin = ChunkOrigin { source: chunk.source, first_line: line_base[chunk.source] };
                line_base[chunk.source] += chunk.lines;
                apply(origin, chunk)?;
            }
        }
        Ok(())
    })
}
