//! The parallel reader: blocks are parsed on the rayon pool into compact samples with
//! chunk-local series ids, then handed to the caller strictly in input order.
//!
//! Memory is bounded by the blocks in flight, not by the file: a parsed block keeps
//! ~70 bytes per wanted line and the canonical key of each series it saw once.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};
use std::sync::mpsc::{channel, sync_channel};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};
use foldhash::fast::FixedState;

use crate::input::{block_lines, Block, BlockReader, FileRange, Source, MAX_LINE};
use crate::matcher::MetricMatcher;
use metricsctl_format::record::{parse_line, LineParser, MetricType, Record, SampleValue, Scope};
use metricsctl_format::series::{make_series, ChunkSeries, SeriesMaker};
use metricsctl_format::shape::ShapeCache;
use metricsctl_format::template::{CacheLimit, Split, TemplateCache};

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
    /// Bad lines that look like a piece of a JSON object printed over several lines.
    pub fragments: u64,
    /// Lines read by a template learnt before (timestamp and value only).
    pub by_template: u64,
    /// Lines read by a shape learnt before (timestamp, value and attribute values).
    pub by_shape: u64,
    /// Only the newest sample of each series was read ([`ScanOptions::latest_only`]): the
    /// spacing of the samples says nothing about the export interval.
    pub latest_only: bool,
}

/// Whether a line is what pretty-printed JSON has on a line of its own: a brace, or a
/// `"key": value` member.
fn is_fragment_of_pretty_json(text: &str) -> bool {
    let t = text.trim();
    matches!(t, "{" | "}" | "}," | "[" | "]" | "]," | "},{") || (t.starts_with('"') && t.contains("\":"))
}

/// What became of a line: its series, timestamp and value, or why it is bad. The
/// reader's shortcuts are checked against a full parse in these terms (tests, fuzzing).
pub type LineOutcome = Result<String, String>;

fn sample_outcome(key: &metricsctl_format::series::SeriesKey, timestamp: i64, value: &SampleValue) -> LineOutcome {
    Ok(format!("{key:?} @{timestamp} = {value:?}"))
}

/// What a full parse of `line` alone makes of it.
pub fn full_parse_outcome(line: &str) -> LineOutcome {
    let record = parse_line(line)?;
    let series = make_series(&record)?;
    sample_outcome(&series.key, record.timestamp, &record.value)
}

impl ParsedChunk {
    /// The outcome of each line the block reported (a sample or a bad line), by its
    /// 0-based number in the block.
    pub fn line_outcomes(&self) -> BTreeMap<u64, LineOutcome> {
        let mut out = BTreeMap::new();
        for s in &self.samples {
            out.insert(s.line, sample_outcome(&self.series[s.series as usize].key, s.timestamp, &s.value));
        }
        for b in &self.bad {
            out.insert(b.line, Err(b.reason.clone()));
        }
        out
    }
}

/// What to parse.
#[derive(Clone)]
pub struct ScanOptions {
    pub metrics: MetricMatcher,
    /// Bytes read per block (tests use small blocks to split exports across them).
    pub block_size: usize,
    /// Only the newest sample of each cumulative series matters (`to-prometheus`,
    /// `serve`): of the lines that repeat a known series, only the newest per block
    /// has its value read; the values of the others are not validated.
    pub latest_only: bool,
}

/// A line of a known series whose value is read only if it is the newest (latest_only).
struct Candidate {
    series: u32,
    line: u64,
    timestamp: i64,
    start_timestamp: Option<i64>,
    metric_type: MetricType,
    /// Byte offsets in the block: the line, and its value.
    text: std::ops::Range<usize>,
    value: std::ops::Range<usize>,
}

/// Interning key of a series within one block, borrowed from the block's text.
#[derive(PartialEq, Eq, Hash)]
struct LocalKey<'a> {
    service: Option<Cow<'a, str>>,
    metric: Cow<'a, str>,
    metric_type: MetricType,
    attributes: &'a str,
    resource: &'a str,
    /// Owned: a scope is rare, and parsed out of its line's text.
    scope: Option<Scope>,
}

/// What a worker keeps from one block to the next so that the next goes faster: the
/// templates it learnt, the series it canonicalised, the line parser's scratch, and the
/// buffer it reads file ranges into. Results never depend on it: a fresh parser gives
/// the same chunk as one that parsed other blocks before (the tests below check it).
#[derive(Default)]
pub struct BlockParser {
    templates: TemplateCache,
    shapes: ShapeCache,
    series: SeriesCache,
    lines: LineParser,
    /// Blocks parsed so far: numbers the templates' chunk slots.
    blocks: u64,
    /// Where file ranges are read, reused (still in this worker's cache).
    buffer: Vec<u8>,
}

/// One block being parsed.
struct BlockState<'b> {
    out: ParsedChunk,
    newest: Newest,
    data_start: usize,
    number: u64,
    /// The last timestamp read and its text: the lines of an export share it.
    last_timestamp: (&'b [u8], i64),
    /// This block's series by spelling, and by identity (templates hand out the same
    /// `Arc`), to their index in the chunk.
    local: HashMap<LocalKey<'b>, Result<u32, String>, FixedState>,
    by_pointer: HashMap<*const ChunkSeries, u32, FixedState>,
}

impl BlockState<'_> {
    fn offsets(&self, part: &[u8]) -> std::ops::Range<usize> {
        let start = part.as_ptr() as usize - self.data_start;
        start..start + part.len()
    }
}

impl BlockParser {
    /// A parser as it is after a cardinality explosion: its templates resting, so that
    /// lines of series it has not learnt go to its shapes. Tests and fuzzing compare it
    /// with a full parse.
    pub fn with_templates_resting() -> BlockParser {
        BlockParser { templates: TemplateCache::resting(), ..BlockParser::default() }
    }
}

/// Parses one block with a parser that knows nothing yet (see [`BlockParser::parse`]).
pub fn parse_block(block: &Block, options: &ScanOptions) -> ParsedChunk {
    BlockParser::default().parse(block, options)
}

impl BlockParser {
    /// Parses one block: lines of unwanted metrics are skipped by a byte search, lines
    /// of known series by their template (timestamp and value only), the rest by a full
    /// parse that teaches this parser their template.
    pub fn parse(&mut self, block: &Block, options: &ScanOptions) -> ParsedChunk {
        let first = block_lines(block).find_map(|(_, line)| line.filter(|l| !l.iter().all(u8::is_ascii_whitespace)));
        if first.is_some_and(metricsctl_otlp::is_json_request) {
            return self.parse_otlp_json(block, options);
        }
        self.blocks += 1;
        let mut state = BlockState {
            out: ParsedChunk { source: block.source, latest_only: options.latest_only, ..Default::default() },
            newest: Newest::default(),
            data_start: block.data().as_ptr() as usize,
            number: self.blocks,
            last_timestamp: (b"", 0),
            local: HashMap::default(),
            by_pointer: HashMap::default(),
        };
        let wants_some = !options.metrics.is_all();
        for (index, line) in block_lines(block) {
            state.out.lines = index + 1;
            let Some(line) = line else {
                state.out.bad.push(BadLine { line: index, reason: format!("line longer than {} MiB", MAX_LINE >> 20) });
                continue;
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if let Some(name) = wants_some.then(|| metricsctl_format::record::quick_metric_name(line)).flatten() {
                if !options.metrics.matches_bytes(name) {
                    state.out.skipped += 1;
                    continue;
                }
            }
            if self.by_template(line, index, options, &mut state) {
                continue;
            }
            self.by_full_parse(line, index, options, &mut state);
        }
        if !state.newest.candidates.is_empty() {
            let newest = std::mem::take(&mut state.newest);
            newest.read_values(block.data(), &mut state.out, &mut self.lines);
        }
        state.out
    }

    /// A block of OTLP/JSON requests (the Collector's file exporter): each line becomes
    /// the record lines of its data points (`metricsctl_otlp`, what `receive` writes),
    /// which are parsed as any others and numbered as the line they came from. Points the
    /// format cannot carry make their line a bad line that says so.
    fn parse_otlp_json(&mut self, block: &Block, options: &ScanOptions) -> ParsedChunk {
        let mut records = Vec::new();
        let mut origin: Vec<u64> = Vec::new();
        let mut bad = Vec::new();
        let mut lines = 0;
        for (index, line) in block_lines(block) {
            lines = index + 1;
            let Some(line) = line else {
                bad.push(BadLine { line: index, reason: format!("line longer than {} MiB", MAX_LINE >> 20) });
                continue;
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let before = records.len();
            match metricsctl_otlp::convert_json_line(line, &mut records) {
                Ok(conversion) => {
                    let added = memchr::memchr_iter(b'\n', &records[before..]).count();
                    origin.extend(std::iter::repeat_n(index, added));
                    if conversion.rejected_points() > 0 {
                        bad.push(BadLine { line: index, reason: format!("OTLP: {}", conversion.rejection_message()) });
                    }
                }
                Err(reason) => {
                    records.truncate(before);
                    bad.push(BadLine { line: index, reason: format!("OTLP/JSON: {reason}") });
                }
            }
        }
        let mut chunk = self.parse(&Block::from_bytes(block.source, records), options);
        for sample in &mut chunk.samples {
            sample.line = origin[sample.line as usize];
        }
        for b in &mut chunk.bad {
            b.line = origin[b.line as usize];
        }
        chunk.bad.extend(bad);
        chunk.bad.sort_by_key(|b| b.line);
        // Several points of one request are still one bad line (its first reason said).
        chunk.bad.dedup_by_key(|b| b.line);
        chunk.lines = lines;
        chunk
    }

    /// Reads a line that repeats one parsed before but for its timestamp and value;
    /// false when the line is not such a line, or anything in it is unexpected (a bad
    /// timestamp or value), which the full parse then explains.
    fn by_template<'b>(
        &mut self,
        line: &'b [u8],
        index: u64,
        options: &ScanOptions,
        state: &mut BlockState<'b>,
    ) -> bool {
        let Some(split) = Split::new(line) else { return false };
        let out = &mut state.out;
        let (template, series) = match self.templates.find(&split) {
            Some((template, chunk_slot)) => {
                out.by_template += 1;
                if !options.metrics.matches(&template.metric_name) {
                    out.skipped += 1;
                    return true;
                }
                let series = match chunk_slot.get() {
                    (block, index) if block == state.number => index,
                    _ => {
                        // (A series may then appear twice in a chunk, once by its template and
                        // once by a full parse: the engine merges them.)
                        out.series.push(Arc::clone(&template.series));
                        let index = (out.series.len() - 1) as u32;
                        chunk_slot.set((state.number, index));
                        index
                    }
                };
                (template, series)
            }
            // More series than templates hold: the line's metric may have a shape.
            None if self.templates.is_resting() => {
                let Some(found) = self.shapes.find(&split) else { return false };
                // Counted as a full parse would count it: the templates wake when the
                // series they did not learn come back.
                self.templates.observe(&split);
                out.by_shape += 1;
                let template = self.shapes.template(found);
                if !options.metrics.matches(&template.metric_name) {
                    out.skipped += 1;
                    return true;
                }
                let Some(series) = self.shapes.series(found, &split) else { return false };
                // Not looked up in the block: a series met twice in it is two entries,
                // which the engine merges.
                out.series.push(Arc::new(series));
                (template, (out.series.len() - 1) as u32)
            }
            None => return false,
        };
        let timestamp = if state.last_timestamp.0 == split.timestamp {
            state.last_timestamp.1
        } else {
            let Some(t) = split.parse_timestamp() else { return false };
            state.last_timestamp = (split.timestamp, t);
            t
        };
        if options.latest_only && !template.delta {
            let candidate = Candidate {
                series,
                line: index,
                timestamp,
                start_timestamp: template.start_timestamp,
                metric_type: template.metric_type,
                text: state.offsets(line),
                value: state.offsets(split.value),
            };
            state.newest.offer(candidate);
            state.out.inferred_types += u64::from(template.type_inferred);
            return true;
        }
        let Some(value) = split.parse_value(template, &mut self.lines) else { return false };
        out.inferred_types += u64::from(template.type_inferred);
        out.samples.push(Sample {
            series,
            line: index,
            timestamp,
            start_timestamp: template.start_timestamp,
            delta: template.delta,
            value,
        });
        true
    }

    /// Learns the template of a line parsed in full, or its shape when templates rest.
    fn learn(&mut self, line: &[u8], record: &Record<'_>, series: &CachedSeries) {
        self.templates.learn(line, record, series, &mut self.lines);
        if let (true, Ok(series)) = (self.templates.is_resting(), series) {
            self.shapes.learn(line, record, series, &mut self.lines);
        }
    }

    /// Parses a line in full, makes (or finds) its series, and learns its template.
    fn by_full_parse<'b>(&mut self, line: &'b [u8], index: u64, options: &ScanOptions, state: &mut BlockState<'b>) {
        let out = &mut state.out;
        // Validated per parsed line: most lines of a query are skipped unread.
        let text = match std::str::from_utf8(line) {
            Ok(t) => t,
            Err(e) => {
                out.bad.push(BadLine { line: index, reason: format!("invalid UTF-8 at byte {}", e.valid_up_to()) });
                return;
            }
        };
        let record = match self.lines.parse_line(text) {
            Ok(r) => r,
            Err(reason) => {
                out.fragments += u64::from(is_fragment_of_pretty_json(text));
                out.bad.push(BadLine { line: index, reason });
                return;
            }
        };
        let key = LocalKey {
            service: record.service_name.clone(),
            metric: record.metric_name.clone(),
            metric_type: record.metric_type,
            attributes: record.attributes.map_or("", |r| r.get()),
            resource: record.resource.map_or("", |r| r.get()),
            scope: record.scope.clone(),
        };
        if !options.metrics.matches(&record.metric_name) {
            // The byte search did not find this line's name (keys in another order than
            // the writer's): its template lets the series' next lines be skipped unparsed.
            let made = self.series.get_or_make(&key, &record);
            self.learn(line, &record, &made);
            out.skipped += 1;
            return;
        }
        if record.type_inferred {
            out.inferred_types += 1;
        }
        let series = match state.local.entry(key) {
            Entry::Occupied(known) => match known.get() {
                Ok(id) => {
                    // A series seen in this block whose line did not match its template:
                    // a new start_timestamp after a restart, or another spelling.
                    let known = Ok(Arc::clone(&out.series[*id as usize]));
                    self.learn(line, &record, &known);
                    *id
                }
                Err(reason) => {
                    out.bad.push(BadLine { line: index, reason: reason.clone() });
                    return;
                }
            },
            Entry::Vacant(slot) => {
                let made = self.series.get_or_make(slot.key(), &record);
                self.learn(line, &record, &made);
                let made = made.map(|s| {
                    *state.by_pointer.entry(Arc::as_ptr(&s)).or_insert_with(|| {
                        out.series.push(s);
                        (out.series.len() - 1) as u32
                    })
                });
                slot.insert(made.clone());
                match made {
                    Ok(id) => id,
                    Err(reason) => {
                        out.bad.push(BadLine { line: index, reason });
                        return;
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
}

/// The candidate lines of a block (latest_only), and the newest of each series.
#[derive(Default)]
struct Newest {
    candidates: Vec<Candidate>,
    /// By chunk series index: its newest candidate (by timestamp, then the first line), or NONE.
    best: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl Newest {
    fn offer(&mut self, c: Candidate) {
        let series = c.series as usize;
        if self.best.len() <= series {
            self.best.resize(series + 1, NONE);
        }
        let best = self.best[series];
        // The first of equal timestamps: reading every line keeps the earlier of a conflict.
        if best == NONE || c.timestamp > self.candidates[best as usize].timestamp {
            self.best[series] = self.candidates.len() as u32;
        }
        self.candidates.push(c);
    }

    /// Reads the value of each series' newest candidate; when it is bad, of the one
    /// before it, and so on. The others are superseded unread.
    fn read_values(self, data: &[u8], out: &mut ParsedChunk, parser: &mut LineParser) {
        let mut failed: Vec<u32> = Vec::new();
        for (series, &best) in self.best.iter().enumerate() {
            let mut at = best;
            while at != NONE {
                let c = &self.candidates[at as usize];
                if let Some(value) = read_value(data, c, out, parser) {
                    out.samples.push(Sample {
                        series: series as u32,
                        line: c.line,
                        timestamp: c.timestamp,
                        start_timestamp: c.start_timestamp,
                        delta: false,
                        value,
                    });
                    break;
                }
                // Rare: a bad newest line. The next newest of the series (the first of
                // equal timestamps), found by search.
                failed.push(at);
                at = self
                    .candidates
                    .iter()
                    .enumerate()
                    .filter(|(i, o)| o.series as usize == series && !failed.contains(&(*i as u32)))
                    .max_by_key(|(_, o)| (o.timestamp, std::cmp::Reverse(o.line)))
                    .map_or(NONE, |(i, _)| i as u32);
            }
        }
        out.samples.sort_unstable_by_key(|s| s.line);
        out.bad.sort_unstable_by_key(|b| b.line);
    }
}

/// The value of a candidate line, or `None` after recording why the line is bad.
fn read_value(data: &[u8], c: &Candidate, out: &mut ParsedChunk, parser: &mut LineParser) -> Option<SampleValue> {
    let value = parser.parse_value(&data[c.value.clone()], c.metric_type).ok();
    if value.is_some() {
        return value;
    }
    // The full parse says why (or, against expectation, reads it).
    match std::str::from_utf8(&data[c.text.clone()]).map_err(|e| e.to_string()).and_then(|t| parser.parse_line(t)) {
        Ok(record) => Some(record.value),
        Err(reason) => {
            out.bad.push(BadLine { line: c.line, reason });
            None
        }
    }
}

/// A series as its lines spell it, owned, for the parser's cache.
struct RawSeriesText {
    service: Option<String>,
    metric: String,
    metric_type: MetricType,
    attributes: String,
    resource: String,
    scope: Option<Scope>,
}

impl RawSeriesText {
    fn matches(&self, k: &LocalKey<'_>) -> bool {
        self.metric_type == k.metric_type
            && self.scope == k.scope
            && self.metric == k.metric
            && self.attributes == k.attributes
            && self.resource == k.resource
            && self.service.as_deref() == k.service.as_deref()
    }
}

type CachedSeries = Result<Arc<ChunkSeries>, String>;

/// Canonical identities by raw spelling (hash of the spelling -> candidates).
#[derive(Default)]
struct SeriesCache {
    entries: usize,
    hits: u64,
    limit: CacheLimit,
    by_hash: HashMap<u64, Vec<(RawSeriesText, CachedSeries)>, FixedState>,
    /// Outlives the cache's rounds: what series share is shared across them.
    maker: SeriesMaker,
}

impl SeriesCache {
    /// The canonical series of a spelling, made once per parser rather than per block.
    fn get_or_make(&mut self, key: &LocalKey<'_>, record: &Record<'_>) -> CachedSeries {
        let hash = FixedState::with_seed(7).hash_one(key);
        if let Some(entries) = self.by_hash.get(&hash) {
            if let Some((_, found)) = entries.iter().find(|(raw, _)| raw.matches(key)) {
                self.hits += 1;
                return found.clone();
            }
        }
        if self.limit.is_full(self.entries) {
            let mut limit = std::mem::take(&mut self.limit);
            limit.next_round(self.entries, self.hits);
            let maker = std::mem::take(&mut self.maker);
            *self = SeriesCache { limit, maker, ..SeriesCache::default() };
        }
        let made = self.maker.make(record).map(Arc::new);
        if !self.limit.learning(hash) {
            return made;
        }
        let raw = RawSeriesText {
            service: key.service.as_deref().map(str::to_string),
            metric: key.metric.to_string(),
            metric_type: key.metric_type,
            attributes: key.attributes.to_string(),
            resource: key.resource.to_string(),
            scope: key.scope.clone(),
        };
        self.entries += 1;
        self.by_hash.entry(hash).or_default().push((raw, made.clone()));
        made
    }
}

/// Frees a chunk's series once its reader is done with them, on the parser threads'
/// pool rather than the caller's thread. Series a parser's cache no longer holds (more
/// series than it keeps: a cardinality explosion) are freed here, with every string of
/// their identity, and that took half the time of the thread applying chunks in order,
/// the one every other waits for.
pub fn release(series: Vec<Arc<ChunkSeries>>) {
    if !series.is_empty() {
        rayon::spawn(move || drop(series));
    }
}

/// A block for a parser thread: read already (stdin, `.gz`), or to be read by it.
enum Job {
    Block(Block),
    Range(FileRange),
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
    // One parser per block in flight, taken by the task that parses a block and given
    // back after: its caches serve the next block whichever thread runs it.
    let parsers: Arc<Mutex<Vec<BlockParser>>> = Arc::default();
    // Parsed blocks send their buffers back to the reader for reuse.
    let (recycle_tx, recycle_rx) = channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let (block_tx, block_rx) = sync_channel::<Result<(u64, Job)>>(1);
        scope.spawn(move || {
            let mut seq = 0u64;
            let mut send = |job: Result<Job>| {
                let failed = job.is_err();
                let sent = block_tx.send(job.map(|j| (seq, j))).is_ok();
                seq += 1;
                sent && !failed
            };
            for (i, src) in sources.iter().enumerate() {
                match FileRange::split(i, src, block_size) {
                    Ok(Some(ranges)) => {
                        for range in ranges {
                            if !send(Ok(Job::Range(range))) {
                                return;
                            }
                        }
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        send(Err(e));
                        return;
                    }
                }
                let mut reader = match BlockReader::new(i, src, block_size) {
                    Ok(r) => r,
                    Err(e) => {
                        send(Err(e));
                        return;
                    }
                };
                loop {
                    match reader.next_block(recycle_rx.try_recv().ok()) {
                        Ok(Some(block)) => {
                            if !send(Ok(Job::Block(block))) {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            send(Err(e));
                            return;
                        }
                    }
                }
            }
        });

        let (done_tx, done_rx) = channel::<(u64, std::thread::Result<Result<ParsedChunk>>)>();
        let mut in_flight = 0usize;
        let mut reader_done = false;
        let mut next = 0u64;
        let mut ready: BTreeMap<u64, ParsedChunk> = BTreeMap::new();
        let mut line_base: Vec<u64> = vec![1; sources.len()];
        loop {
            while !reader_done && in_flight < max_in_flight {
                match block_rx.recv() {
                    Ok(Ok((seq, job))) => {
                        in_flight += 1;
                        let tx = done_tx.clone();
                        let recycle = recycle_tx.clone();
                        let options = Arc::clone(&options);
                        let parsers = Arc::clone(&parsers);
                        rayon::spawn(move || {
                            let mut parser = parsers.lock().ok().and_then(|mut p| p.pop()).unwrap_or_default();
                            // rayon aborts the process on a panic in a spawned task;
                            // catch it so that it becomes an ordinary error instead.
                            let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match job {
                                Job::Block(block) => {
                                    let parsed = parser.parse(&block, &options);
                                    let _ = recycle.send(block.into_buffer());
                                    Ok(parsed)
                                }
                                Job::Range(range) => {
                                    let block = range.read(std::mem::take(&mut parser.buffer))?;
                                    let parsed = parser.parse(&block, &options);
                                    parser.buffer = block.into_buffer();
                                    Ok(parsed)
                                }
                            }));
                            // A parser that panicked is dropped with its caches.
                            if parsed.is_ok() {
                                if let Ok(mut pool) = parsers.lock() {
                                    pool.push(parser);
                                }
                            }
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
            let parsed = parsed?;
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    type Outcomes = BTreeMap<u64, LineOutcome>;

    /// Each line parsed on its own, with no template to help.
    fn reference(lines: &[String]) -> Outcomes {
        lines.iter().enumerate().map(|(i, line)| (i as u64, full_parse_outcome(line))).collect()
    }

    fn scanned(lines: &[String], latest_only: bool) -> Outcomes {
        scanned_by(BlockParser::default(), lines, latest_only).line_outcomes()
    }

    fn scanned_by(mut parser: BlockParser, lines: &[String], latest_only: bool) -> ParsedChunk {
        let options = ScanOptions { metrics: MetricMatcher::default(), block_size: 1 << 20, latest_only };
        let block = || Block::from_bytes(0, lines.join("\n").into_bytes());
        // The first pass teaches the parser the templates; the second uses them.
        parser.parse(&block(), &options);
        parser.parse(&block(), &options)
    }

    /// Attribute values for the lines of a shape: plain, empty, not ASCII, and ones a
    /// shape must refuse (a quote, an escape, a control character) or that end the
    /// string early and make the line another one, or a bad one.
    const ATTRIBUTE_VALUES: [&str; 10] =
        ["u1", "", "ü/{id}", r#"a\"b"#, r#"\u0041"#, "tab\there", "\u{1}", r#"x","k2":"y"#, r#"x"}"#, "}, ["];

    /// A line of `line_of` with another value in its first attribute.
    fn with_attribute(line: &str, value: &str) -> String {
        ["/x/{id}", "/y/{id}", "\"v\"", "[v, }"].iter().fold(line.to_string(), |l, old| {
            let new = if old.starts_with('"') { format!("\"{value}\"") } else { value.to_string() };
            l.replacen(old, &new, 1)
        })
    }

    /// MIDDLE and TAIL of three series: one without a resource, one with, and one whose
    /// type is inferred from its value.
    const SHAPES: [(&str, &str); 3] = [
        (
            r#"","service_name":"a","metric_name":"c_total","metric_type":"counter","value":"#,
            r#","unit":"1","attributes":{"route":"/x/{id}"}}"#,
        ),
        (
            r#"","service_name":"a","metric_name":"c_total","metric_type":"counter","value":"#,
            r#","unit":"1","attributes":{"route":"/x/{id}"},"resource":{"host":"b"},"start_timestamp":"2025-01-01T00:00:00Z"}"#,
        ),
        (r#"","service_name":"a","metric_name":"h","value":"#, r#","attributes":{"k":"v"}}"#),
    ];

    /// Values that are right, wrong, or built to make a split in the wrong place look
    /// plausible: strings and objects holding the split markers, extra members.
    const VALUES: [&str; 20] = [
        "1",
        "42",
        "-3",
        "1.5e3",
        "18446744073709551615",
        r#"{"count":2,"sum":1.5,"buckets":[{"upper_bound":1,"count":1},{"upper_bound":"+Inf","count":1}]}"#,
        r#"{"count":3,"sum":2,"min":0.5,"max":1,"buckets":[{"upper_bound":1,"count":3}]}"#,
        r#"{"count":2,"sum":1.5,"buckets":[{"upper_bound":1,"count":5}]}"#,
        r#"{"sum":1,"count":1,"buckets":[]}"#,
        r#"{"count":1,"sum":1,"x":{"y":1},"buckets":[]}"#,
        r#"{"count":1,"sum":1,"note":"},\"","buckets":[]}"#,
        r#""7""#,
        "[1,2]",
        "null",
        r#"1,"resource":{"host":"b"}"#,
        r#"{"count":1,"sum":1,"buckets":[]},"resource":{"host":"b"}"#,
        r#"5,"start_timestamp":"2025-01-01T00:00:00Z""#,
        "1 ",
        "01",
        r#"{"count":1,"sum":1,"buckets":[]} "#,
    ];

    const TIMESTAMPS: [&str; 4] =
        ["2025-01-01T00:00:10Z", "2025-01-01T00:00:20.5+08:00", "2025-01-01T00:00:05Z", "yesterday"];

    /// Lines of other writers: the value before the timestamp, objects before both
    /// (HEAD, between the value and the timestamp, after the timestamp).
    const OTHER_ORDERS: [(&str, &str, &str); 3] = [
        (
            r#"{"attributes":{"route":"/x/{id}","value":"1"},"unit":"1","value":"#,
            r#","metric_type":"counter","metric_name":"c_total","service_name":"a","timestamp":""#,
            r#""}"#,
        ),
        // Another series that differs only before its value.
        (
            r#"{"attributes":{"route":"/y/{id}","value":"1"},"unit":"1","value":"#,
            r#","metric_type":"counter","metric_name":"c_total","service_name":"a","timestamp":""#,
            r#""}"#,
        ),
        (
            r#"{ "resource": {"host": "b"}, "metric_name": "h", "value": "#,
            r#", "timestamp": ""#,
            r#"", "service_name": "a", "attributes": {"k": "[v, }"} }"#,
        ),
    ];

    fn line_of(shape: usize, value: &str, timestamp: &str) -> String {
        match SHAPES.get(shape) {
            Some((middle, tail)) => format!("{{\"timestamp\":\"{timestamp}{middle}{value}{tail}"),
            None => {
                let (head, middle, tail) = OTHER_ORDERS[shape - SHAPES.len()];
                format!("{head}{value}{middle}{timestamp}{tail}")
            }
        }
    }

    fn lines_strategy() -> impl Strategy<Value = Vec<String>> {
        let shapes = SHAPES.len() + OTHER_ORDERS.len();
        let line = (0..shapes, 0..VALUES.len(), 0..TIMESTAMPS.len())
            .prop_map(|(s, v, t)| line_of(s, VALUES[v], TIMESTAMPS[t]));
        // Every shape once with a good value first, so that templates are learnt.
        let warm: Vec<String> = (0..shapes)
            .map(|s| {
                let value = if s == 2 || s == 5 { VALUES[5] } else { VALUES[1] };
                line_of(s, value, TIMESTAMPS[0])
            })
            .collect();
        proptest::collection::vec(line, 1..40).prop_map(move |mut lines| {
            let mut all = warm.clone();
            all.append(&mut lines);
            all
        })
    }

    /// The other writers' lines are not left to the full parse: once learnt, their
    /// templates read them.
    #[test]
    fn lines_in_other_key_orders_are_read_by_their_template() {
        let lines: Vec<String> = (0..6)
            .map(|i| {
                let good = [VALUES[0], VALUES[1], VALUES[3]];
                let (shape, value) =
                    if i % 2 == 0 { (SHAPES.len() + i % 4 / 2, good[i % 3]) } else { (SHAPES.len() + 2, VALUES[5]) };
                line_of(shape, value, TIMESTAMPS[i % 3])
            })
            .collect();
        let options = ScanOptions { metrics: MetricMatcher::default(), block_size: 1 << 20, latest_only: false };
        let block = || Block::from_bytes(0, lines.join("\n").into_bytes());
        let mut parser = BlockParser::default();
        let first = parser.parse(&block(), &options);
        assert!(first.bad.is_empty(), "{:?}", first.bad);
        let second = parser.parse(&block(), &options);
        assert_eq!(second.by_template, lines.len() as u64);
        assert_eq!(second.line_outcomes(), reference(&lines));
    }

    /// With more series than templates hold, lines of a known metric with other
    /// attribute values are read by its shape, and give what a full parse gives.
    #[test]
    fn lines_of_many_series_are_read_by_their_shape() {
        let lines: Vec<String> = (0..SHAPES.len() + OTHER_ORDERS.len())
            .flat_map(|shape| {
                let value = if shape == 2 || shape == 5 { VALUES[5] } else { VALUES[1] };
                (0..50).map(move |user| with_attribute(&line_of(shape, value, TIMESTAMPS[0]), &format!("u{user}")))
            })
            .collect();
        let read = scanned_by(BlockParser::with_templates_resting(), &lines, false);
        assert!(read.by_shape >= lines.len() as u64 - 6, "{} of {} lines by shape", read.by_shape, lines.len());
        assert_eq!(read.by_template, 0);
        assert_eq!(read.line_outcomes(), reference(&lines));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        /// Lines read by a shape (templates resting) give what a full parse gives,
        /// whatever their attribute values; with only the newest value read as well.
        #[test]
        fn shapes_change_nothing(
            lines in lines_strategy(),
            values in proptest::collection::vec(0..ATTRIBUTE_VALUES.len(), 40),
            latest_only in proptest::bool::ANY,
        ) {
            let lines: Vec<String> =
                lines.iter().enumerate().map(|(i, l)| with_attribute(l, ATTRIBUTE_VALUES[values[i % 40]])).collect();
            let read = scanned_by(BlockParser::with_templates_resting(), &lines, latest_only).line_outcomes();
            let reference = reference(&lines);
            if latest_only {
                for (line, outcome) in &read {
                    prop_assert_eq!(Some(outcome), reference.get(line), "line {}", line);
                }
            } else {
                prop_assert_eq!(read, reference);
            }
        }

        /// Lines recognised by their template give exactly what a full parse gives:
        /// the same series, timestamp and value, or the same reason they are bad.
        #[test]
        fn templates_change_nothing(lines in lines_strategy()) {
            prop_assert_eq!(scanned(&lines, false), reference(&lines));
        }

        /// A parser that has parsed other blocks (other series, other values, other
        /// bucket layouts) gives what a fresh one gives: its caches change no result.
        #[test]
        fn what_a_parser_read_before_changes_nothing(before in lines_strategy(), lines in lines_strategy()) {
            let options = ScanOptions { metrics: MetricMatcher::default(), block_size: 1 << 20, latest_only: false };
            let block = |lines: &[String]| Block::from_bytes(0, lines.join("\n").into_bytes());
            let mut used = BlockParser::default();
            used.parse(&block(&before), &options);
            let after = used.parse(&block(&lines), &options);
            let fresh = BlockParser::default().parse(&block(&lines), &options);
            prop_assert_eq!(after.line_outcomes(), fresh.line_outcomes());
        }

        /// With only the newest value read, each series gets the newest of its good
        /// samples (by timestamp, then line), and nothing else.
        #[test]
        fn latest_only_keeps_the_newest_good_sample(lines in lines_strategy()) {
            let reference = reference(&lines);
            let mut newest: BTreeMap<String, (i64, u64, String)> = BTreeMap::new();
            for (line, outcome) in &reference {
                if let Ok(sample) = outcome {
                    let record = parse_line(&lines[*line as usize]).unwrap();
                    let key = format!("{:?}", make_series(&record).unwrap().key);
                    let candidate = (record.timestamp, *line, sample.clone());
                    // The first of equal timestamps, as the engine keeps the earlier of a
                    // conflict.
                    if newest.get(&key).is_none_or(|n| n.0 < candidate.0) {
                        newest.insert(key, candidate);
                    }
                }
            }
            let latest = scanned(&lines, true);
            let mut got: Vec<String> = latest.values().filter_map(|o| o.clone().ok()).collect();
            let mut want: Vec<String> = newest.into_values().map(|n| n.2).collect();
            got.sort();
            want.sort();
            // A series may also keep older samples when its lines took the full parse.
            for w in &want {
                prop_assert!(got.contains(w), "missing {w}: {got:?}");
            }
            for (line, outcome) in &latest {
                prop_assert_eq!(Some(outcome), reference.get(line), "line {}", line);
            }
        }
    }
}
