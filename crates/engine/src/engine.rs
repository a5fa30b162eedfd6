//! Series semantics (docs/SEMANTICS.md): turns cumulative snapshots into exact increases.
//!
//! Samples arrive in input order. The samples of one *export* of one *process* (same
//! service and resource) are held back until the export is complete, so that a restart
//! visible in any of its series (a decrease, a changed `start_timestamp`, a series that
//! vanished) is known before any of its steps is computed. A series whose previous
//! sample lies before a restart of its process counts its new value from zero, even
//! when the value happens to be no smaller than before.
//!
//! **Where an export ends.** Real exports are disturbed: lines are stamped one by one as
//! they are written, a pause (GC, CPU throttling, a slow disk) can stop an export for a
//! large part of the interval, data points come in another order each time, another
//! process's lines interleave, and log shippers send runs of lines twice. So an export
//! does not end after a fixed silence. It ends when one of its series appears again
//! (after exact duplicates are dropped), or when a line comes after the export's time is
//! up: each process's export interval is learnt from the spacing of its series' samples
//! (a running median), and its schedule from the times its exports began (a late first
//! line does not move the schedule unless the next export is late too). A line belongs
//! to a new export once it is three quarters of an interval past the pending export's
//! scheduled start: pauses of up to half an interval stay inside their export, and the
//! next export begins a full interval after the last. When an export ends, the line
//! that ended it bounds when the export was due; its last lines later than that allows
//! go to the next export (`take_next_exports_lines`).
//!
//! Until a process's interval is known (its first export), its lines are grouped until a
//! series repeats; the repeat gives a first spacing, and the held lines three quarters of
//! it past the export's start are moved to the next export.
//!
//! **Duplicates and conflicts.** A line equal to a recent sample of its series (same
//! timestamp and value) is dropped and counted; the same timestamp with another value is
//! a conflict, dropped and reported with both lines. Neither ends an export.
//!
//! **Evidence.** Each restart keeps how it was inferred. A decrease or a changed
//! `start_timestamp` is proof. A restart inferred only from vanished series is a guess
//! until a vanished series comes back lower or with a new start time; commands say when
//! an answer depends on an unconfirmed guess.
//!
//! **Several files.** Files are read one after the other. A file whose samples of a
//! process begin before that process's newest sample from the files read before was
//! written by another instance with the same resource (rotated files of one process do
//! not overlap in time): its samples are read as a separate process.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use crate::filter::Window;
use metricsctl_format::record::{Histogram, MetricType, Num, SampleValue};
use metricsctl_format::series::ChunkSeries;
use metricsctl_format::timestamp::NANOS_PER_SEC;
use metricsctl_format::value::{CompactValue, Labels};
use metricsctl_reader::scan::{ChunkOrigin, ParsedChunk, Sample};

/// Exports closer together than this cannot be told apart reliably (test setups export
/// every few milliseconds): evidence is then applied per series only.
pub const MIN_SEPARABLE_INTERVAL: i64 = NANOS_PER_SEC / 10;

/// The silence that ended an export before intervals were learnt. Only the property
/// tests use it now, to show that a fixed gap is not exact (a mutation check).
pub const FIXED_EXPORT_GAP: i64 = NANOS_PER_SEC / 10;

/// A pending export whose interval is not known yet is complete after this much quiet
/// (only when following a growing file: `serve`).
const QUIET_WITHOUT_INTERVAL: i64 = NANOS_PER_SEC;

/// Samples per series remembered to recognise lines sent again.
const RECENT: usize = 4;

/// Export spacings a process's interval is the median of.
const SPACINGS: usize = 8;

/// Series spacings an export's spacing is the median of, taken evenly through the
/// export: all of them would keep 8 MB for one number in an export of a million series,
/// and the median of 65,536 of them is the same for any export whose series keep time
/// with each other.
const EXPORT_SPACING_SAMPLE: usize = 1 << 16;

/// Spacings of series' samples (or lines) to hold before a process's interval is
/// first learnt.
const BOOTSTRAP_SPACINGS: usize = 16;
const BOOTSTRAP_LINES: usize = 1 << 16;

pub type SeriesId = u32;
pub type ProcessId = u32;

/// Where a line is in the input: its source and 1-based line number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct LinePos {
    pub source: usize,
    pub line: u64,
}

/// A series as the catalog keeps it: its identity and metadata as a parser made them
/// (`info.key`, `info.meta()`, through `Deref`), and its process: 40 bytes. Kept by
/// value, not behind the parser's `Arc`: a million series then save a million
/// allocations of 64 bytes for 32 more bytes each here. What the series share (their
/// metric and process, their metadata) stays shared.
#[derive(Debug)]
pub struct SeriesInfo {
    series: ChunkSeries,
    pub process: ProcessId,
}

impl std::ops::Deref for SeriesInfo {
    type Target = ChunkSeries;
    fn deref(&self) -> &ChunkSeries {
        &self.series
    }
}

#[derive(Debug)]
pub struct ProcessInfo {
    pub service: Arc<str>,
    pub resource: Arc<str>,
    pub meta_resource: Arc<Labels>,
    /// 0 for the process as first read; `source + 1` when a source held another
    /// instance with the same service and resource (see the module doc).
    pub lineage: u32,
}

/// Every series and process seen, interned by fingerprint with byte-exact confirmation.
#[derive(Default)]
pub struct Catalog {
    pub series: Vec<SeriesInfo>,
    /// Series ids by fingerprint (and lineage). The table holds only ids, 4 bytes a slot
    /// where a map from fingerprint to id took 16: the hash is the series' own
    /// fingerprint (already a well-mixed hash), read back from `series` when the table
    /// grows, and series whose fingerprints collide are told apart by their keys.
    by_fingerprint: hashbrown::HashTable<SeriesId>,
    pub processes: Vec<ProcessInfo>,
    process_ids: HashMap<(Arc<str>, Arc<str>, u32), ProcessId, foldhash::fast::FixedState>,
}

fn lineage_fingerprint(fingerprint: u64, lineage: u32) -> u64 {
    fingerprint ^ u64::from(lineage).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl Catalog {
    /// The series `cs` is in `lineage`, if known. `guess` is tried before the index:
    /// the lines of an export come in the order of the last one, so the series after the
    /// one found last is most often the next, and checking it reads memory in order
    /// where the index takes a cache miss after another (a million series).
    fn find(&self, cs: &ChunkSeries, lineage: u32, guess: SeriesId) -> Option<SeriesId> {
        if let Some(info) = self.series.get(guess as usize) {
            if info.fingerprint == cs.fingerprint
                && info.key == cs.key
                && self.processes[info.process as usize].lineage == lineage
            {
                return Some(guess);
            }
        }
        self.by_fingerprint
            .find(lineage_fingerprint(cs.fingerprint, lineage), |&id| {
                let info = &self.series[id as usize];
                info.fingerprint == cs.fingerprint
                    && info.key == cs.key
                    && self.processes[info.process as usize].lineage == lineage
            })
            .copied()
    }

    /// The process a series not seen yet belongs to as first read, if known.
    fn base_process(&self, cs: &ChunkSeries) -> Option<ProcessId> {
        self.process_ids.get(&(cs.key.service.clone(), cs.key.resource.clone(), 0)).copied()
    }

    /// Returns the id of the series and whether it is new.
    fn intern(&mut self, cs: &ChunkSeries, lineage: u32, guess: SeriesId) -> (SeriesId, bool) {
        match self.find(cs, lineage, guess) {
            Some(id) => (id, false),
            None => (self.insert(cs, lineage), true),
        }
    }

    /// Adds a series that [`Catalog::find`] did not find.
    fn insert(&mut self, cs: &ChunkSeries, lineage: u32) -> SeriesId {
        let id = self.series.len() as SeriesId;
        let process_key = (cs.key.service.clone(), cs.key.resource.clone(), lineage);
        let next_process = self.processes.len() as ProcessId;
        let process = *self.process_ids.entry(process_key).or_insert_with(|| {
            self.processes.push(ProcessInfo {
                service: cs.key.service.clone(),
                resource: cs.key.resource.clone(),
                meta_resource: cs.meta().resource.clone(),
                lineage,
            });
            next_process
        });
        // A parser's series share their process's resource (`SeriesMaker`): the copy
        // shares it too, and copies only the attributes.
        self.series.push(SeriesInfo { series: cs.clone(), process });
        let (series, processes) = (&self.series, &self.processes);
        self.by_fingerprint.insert_unique(lineage_fingerprint(cs.fingerprint, lineage), id, |&id| {
            let info = &series[id as usize];
            lineage_fingerprint(info.fingerprint, processes[info.process as usize].lineage)
        });
        id
    }
}

/// How a step's increase was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// The series' first sample in the input: counted from zero.
    First,
    /// The series' first sample, taken as a baseline (`--baseline`): no increase.
    Baseline,
    /// Difference from the previous sample.
    Continue,
    /// The series was reset since the previous sample: counted from zero.
    Restart,
    /// A delta-temporality sample: its value is the increase.
    Delta,
}

/// Why a step was counted from zero ([`StepKind::Restart`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetCause {
    /// The process restarted: the index of the restart in its [`ProcessState::restarts`].
    Process(u32),
    /// The series' own value decreased (exports too close to tell apart).
    Decrease,
    /// The series' own `start_timestamp` changed (exports too close to tell apart).
    StartTimestamp,
}

/// The increase a step contributes.
#[derive(Debug, Clone, PartialEq)]
pub enum Increase {
    /// Gauges have none.
    None,
    Num(Num),
    Hist(Histogram),
}

#[derive(Debug)]
pub struct Step<'a> {
    pub timestamp: i64,
    pub previous_timestamp: Option<i64>,
    pub kind: StepKind,
    /// The sample's own value (cumulative, or the delta for delta lines).
    pub value: &'a SampleValue,
    /// The level of the series' previous cumulative value (a histogram's count), when
    /// it had one.
    pub previous: Option<Num>,
    pub increase: Increase,
    pub cause: Option<ResetCause>,
    /// The process's export the sample belongs to (0, 1, ... in input order).
    pub export: u32,
    pub line: LinePos,
}

/// What was not applied, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropKind {
    /// The same timestamp and value as an earlier sample of the series.
    Duplicate,
    /// The same timestamp as an earlier sample of the series, another value.
    Conflict,
    /// Older than the series' newest sample.
    OutOfOrder,
}

#[derive(Debug, Clone, Copy)]
pub struct Dropped {
    pub kind: DropKind,
    pub timestamp: i64,
    pub line: LinePos,
    /// The line of the sample it repeats or conflicts with, when known.
    pub earlier: Option<LinePos>,
}

/// A consumer of the engine's output.
pub trait Sink {
    /// A series was seen for the first time; return whether its steps are wanted.
    fn want_series(&mut self, id: SeriesId, info: &SeriesInfo) -> bool;
    /// A step of a wanted series inside the window.
    fn step(&mut self, id: SeriesId, info: &SeriesInfo, step: &Step<'_>);
    /// A sample of a wanted series that was not applied.
    fn dropped(&mut self, _id: SeriesId, _info: &SeriesInfo, _dropped: &Dropped) {}
}

/// How export boundaries are found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Grouping {
    /// From each process's learnt interval and schedule (see the module doc).
    #[default]
    Learned,
    /// A silence longer than this (nanoseconds) ends an export: the rule before
    /// intervals were learnt, kept for the property tests' mutation check.
    #[doc(hidden)]
    FixedGap(i64),
}

#[derive(Debug, Clone, Copy)]
pub struct EngineOptions {
    pub window: Window,
    /// Treat each series' first sample as a baseline (inputs whose head was rotated
    /// away), unless its `start_timestamp` shows it started inside the input.
    pub baseline: bool,
    pub grouping: Grouping,
    /// Apply duplicate lines as new samples: the behaviour before duplicates were
    /// dropped, kept for the property tests' mutation check.
    #[doc(hidden)]
    pub keep_duplicates: bool,
    /// How many series the engine may know before it packs the histograms it holds
    /// ([`PACK_HISTOGRAMS_ABOVE_SERIES`]; tests set 0 and `usize::MAX` to check that the
    /// answers do not depend on it).
    pub pack_histograms_above_series: usize,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            window: Window::default(),
            baseline: false,
            grouping: Grouping::default(),
            keep_duplicates: false,
            pack_histograms_above_series: PACK_HISTOGRAMS_ABOVE_SERIES,
        }
    }
}

/// How the export a restart was seen in began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Boundary {
    /// The process's first export in the input.
    #[default]
    First,
    /// A series of the previous export appeared again.
    Repeat,
    /// A line came after the previous export's time was up: `silence` after the
    /// previous export's latest line, with the learnt `interval`.
    Timing { silence: i64, interval: i64 },
    /// A line came on time by the schedule the pending export had moved away from (see
    /// `ProcessState::due_by_old_schedule`), `silence` after its latest line.
    OldSchedule { silence: i64, interval: i64 },
    /// A silence longer than the fixed gap ([`Grouping::FixedGap`]).
    Gap { silence: i64 },
}

/// Why a restart was inferred.
#[derive(Debug, Clone, PartialEq)]
pub enum RestartReason {
    /// A series decreased: its level (value, or a histogram's count) before and after.
    Decrease {
        series: SeriesId,
        from: Num,
        to: Num,
    },
    StartTimestamp {
        series: SeriesId,
        from: Option<i64>,
        to: i64,
    },
    /// `missing` of the previous export's `of` cumulative series are not in this one.
    Vanished {
        missing: u32,
        of: u32,
        examples: Vec<SeriesId>,
    },
}

#[derive(Debug, Clone)]
pub struct Restart {
    pub timestamp: i64,
    pub export: u32,
    pub reason: RestartReason,
    pub began_by: Boundary,
    /// Proved by a decrease or a changed `start_timestamp`, now or when a vanished
    /// series came back; a restart inferred from vanished series alone is a guess.
    pub confirmed: bool,
    /// Steps of wanted series inside the window counted from zero because of it.
    pub counted_from_zero: u64,
    /// Steps of any series counted from zero because of it.
    pub resets: u64,
}

/// A sample held in a pending export: all of an export is held until it is complete
/// (a million series: a million of these), so not the chunk's [`Sample`] (whose chunk
/// index and line are `id` and `pos` here), and packed: 48 bytes, with a histogram
/// behind a pointer (packed too when many series are held: [`PACK_HISTOGRAMS_ABOVE_SERIES`]).
#[derive(Debug)]
struct Pending {
    id: SeriesId,
    delta: bool,
    pos: PackedPos,
    timestamp: i64,
    start: MaybeTime,
    value: CompactValue,
}

/// How many series the engine knows before it packs the histograms it holds: a packed
/// histogram takes a third of the memory of a parsed one, but packing each sample and
/// unpacking it again took a quarter of `quantile`'s time on a file of 702 series. Below
/// this, the parsed ones cost at most a few MB more; above it, values are packed as they
/// are held (those kept before are replaced by their series' next sample).
pub const PACK_HISTOGRAMS_ABOVE_SERIES: usize = 1 << 14;

impl Pending {
    fn new(id: SeriesId, sample: Sample, pos: LinePos, pack: bool) -> Pending {
        let Sample { timestamp, start_timestamp, delta, value, .. } = sample;
        let start = MaybeTime::new(start_timestamp);
        Pending { id, delta, pos: PackedPos::new(pos), timestamp, start, value: CompactValue::keep(value, pack) }
    }

    fn start_timestamp(&self) -> Option<i64> {
        self.start.get()
    }

    /// Where the line is. A position [`PackedPos`] cannot hold (a millionth file) reads
    /// as the first line of the first file; no input has that many files.
    fn line(&self) -> LinePos {
        self.pos.get().unwrap_or_default()
    }
}

/// An optional time in 8 bytes instead of 16: `i64::MIN` (in the year 1677) is none, and
/// a time given as `i64::MIN` is kept as one nanosecond later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MaybeTime(i64);

impl MaybeTime {
    const NONE: MaybeTime = MaybeTime(i64::MIN);

    fn new(time: Option<i64>) -> MaybeTime {
        time.map_or(MaybeTime::NONE, |t| MaybeTime(t.max(i64::MIN + 1)))
    }

    fn get(self) -> Option<i64> {
        (self != MaybeTime::NONE).then_some(self.0)
    }
}

/// A recent sample of a series, to recognise lines sent again, in 16 bytes (every series
/// keeps four): its timestamp, and in one word 24 bits of its value's fingerprint and its
/// position (the source in 10 bits, the line in 30). A position beyond that (a 1,024th
/// file, a line past the billionth) is kept as unknown: the sample is still recognised
/// when sent again, only the report cannot name its line. Two values with the same
/// timestamp and the same 24 bits are taken for a duplicate rather than a conflict: the
/// line is dropped either way (the earlier value is kept), only the report differs.
#[derive(Debug, Clone, Copy)]
struct Seen {
    timestamp: i64,
    packed: u64,
}

impl Seen {
    const EMPTY: Seen = Seen { timestamp: i64::MIN, packed: 0 };
    const LINE_BITS: u32 = 30;
    const SOURCE_BITS: u32 = 10;
    const POSITION_BITS: u32 = Self::LINE_BITS + Self::SOURCE_BITS;
    const UNKNOWN_SOURCE: u64 = (1 << Self::SOURCE_BITS) - 1;

    fn new(timestamp: i64, fingerprint: u64, pos: LinePos) -> Seen {
        let fits = pos.line != 0 && pos.line < 1 << Self::LINE_BITS && (pos.source as u64) < Self::UNKNOWN_SOURCE;
        let position = if fits {
            (pos.source as u64) << Self::LINE_BITS | pos.line
        } else {
            Self::UNKNOWN_SOURCE << Self::LINE_BITS
        };
        Seen { timestamp, packed: Self::fingerprint_bits(fingerprint) << Self::POSITION_BITS | position }
    }

    fn fingerprint_bits(fingerprint: u64) -> u64 {
        fingerprint >> Self::POSITION_BITS
    }

    /// A filled entry's position is never 0: lines are numbered from 1.
    fn filled(&self) -> bool {
        self.packed != 0
    }

    fn same_value(&self, fingerprint: u64) -> bool {
        self.packed >> Self::POSITION_BITS == Self::fingerprint_bits(fingerprint)
    }

    fn at(&self) -> Option<LinePos> {
        let position = self.packed & ((1 << Self::POSITION_BITS) - 1);
        let source = position >> Self::LINE_BITS;
        (self.filled() && source != Self::UNKNOWN_SOURCE)
            .then_some(LinePos { source: source as usize, line: position & ((1 << Self::LINE_BITS) - 1) })
    }
}

/// A [`LinePos`] in 8 bytes instead of 16, as every pending sample keeps one: the
/// source in the top 20 bits, the line in the other 44. A position beyond that (a
/// millionth file, or a line past the 17 trillionth) is kept as [`PackedPos::UNKNOWN`]:
/// its sample is still recognised when sent again, only the report cannot name it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PackedPos(u64);

impl PackedPos {
    const LINE_BITS: u32 = 44;
    /// Line 0 does not exist (lines are numbered from 1).
    const EMPTY: PackedPos = PackedPos(0);
    const UNKNOWN: PackedPos = PackedPos(u64::MAX);

    fn new(pos: LinePos) -> PackedPos {
        let fits =
            pos.line != 0 && pos.line < 1 << Self::LINE_BITS && (pos.source as u64) < (1 << (64 - Self::LINE_BITS)) - 1;
        if fits {
            PackedPos((pos.source as u64) << Self::LINE_BITS | pos.line)
        } else {
            PackedPos::UNKNOWN
        }
    }

    fn get(self) -> Option<LinePos> {
        (self != PackedPos::UNKNOWN && self != PackedPos::EMPTY).then_some(LinePos {
            source: (self.0 >> Self::LINE_BITS) as usize,
            line: self.0 & ((1 << Self::LINE_BITS) - 1),
        })
    }
}

/// A series' recent drops, to spot two writers taking turns (see [`Engine::suspicious_processes`]).
#[derive(Debug, Clone, Copy)]
enum Swing {
    Steady,
    /// Dropped from `before` to `after` in the latest export.
    Dropped {
        before: f64,
        after: f64,
    },
    /// Then back at `peak`, at or above the level before the drop.
    Recovered {
        after: f64,
        peak: f64,
    },
}

struct SeriesState {
    /// Export index of the last applied sample, or `NONE`.
    last_export: u32,
    last_timestamp: i64,
    last_start: MaybeTime,
    last_value: Option<CompactValue>,
    /// The newest samples taken, pending ones included; the newest is at `recent_next - 1`.
    recent: [Seen; RECENT],
    recent_next: u8,
    wanted: bool,
    /// A sample of the series is in its process's pending export (only the newest
    /// export is ever pending).
    pending: bool,
}

impl SeriesState {
    fn last_start(&self) -> Option<i64> {
        self.last_start.get()
    }

    /// Newest timestamp taken, pending samples included (for order checks).
    fn latest_timestamp(&self) -> i64 {
        self.recent[(self.recent_next as usize + RECENT - 1) % RECENT].timestamp
    }
}

const NONE: u32 = u32::MAX;

#[derive(Default)]
pub struct ProcessState {
    pending: Vec<Pending>,
    export: u32,
    export_started: bool,
    /// Timestamps of the first and latest line of the pending export.
    export_first_timestamp: i64,
    export_last_timestamp: i64,
    /// When the pending export was due by the process's schedule.
    schedule: i64,
    /// A time the process's exports are due at (modulo the interval).
    phase: Option<i64>,
    /// How late the previous export began, when it did.
    late_by: Option<i64>,
    /// The phase before the pending export's start moved the schedule (late by the same
    /// amount as the export before): until the next export shows which phase holds, a
    /// line on time by this one can end the pending export.
    moved_from: Option<i64>,
    began_by: Boundary,
    /// Pending series that were in the previous export.
    continuing: u32,
    /// Timestamp of the latest line of the previous export.
    previous_export_last_timestamp: i64,
    /// Cumulative series in the previous export.
    previous_cumulative: u32,
    /// When the previous export's time was up, and whether it was handed out before
    /// (complete, while following a file): a new series' line until then joins it.
    previous_deadline: Option<i64>,
    previous_flushed_early: bool,
    spacings: Vec<i64>,
    spacing_next: usize,
    /// The learnt export interval (median of recent export spacings).
    pub interval: Option<i64>,
    /// Lines held, and their series' spacings, until the interval is first learnt.
    bootstrap: Vec<Pending>,
    bootstrap_spacings: Vec<i64>,
    bootstrapped: bool,
    restart_exports: Vec<u32>,
    bad_lines_at_export_start: u64,
    bad_lines_at_previous_export: u64,
    pub restarts: Vec<Restart>,
    pub exports: u32,
    /// Exports begun because the previous one's time was up (no series repeated).
    pub timing_boundaries: u32,
    /// Times a series' values (or start times) took turns between two levels: what two
    /// instances writing as one process look like.
    pub oscillations: u32,
    /// Samples dropped for the same timestamp as an earlier one with another value.
    pub conflicts: u32,
    /// The schedule learnt from the first lines, when another one explained them as
    /// well but with other restarts: the answer rests on a guess.
    pub ambiguous_schedule: Option<ScheduleFit>,
    /// Newest timestamp of the process, pending samples included.
    pub newest: Option<i64>,
    /// Samples taken (not dropped), pending ones included: a live feed tells by it
    /// which processes a block fed.
    pub samples: u64,
    /// Of a process as first read: the source read last and the lineage its samples
    /// there belong to.
    route: Option<(usize, ProcessId)>,
    lineages: Vec<ProcessId>,
}

impl ProcessState {
    fn record_spacing(&mut self, spacing: i64) {
        if spacing <= 0 {
            return;
        }
        if self.spacings.len() < SPACINGS {
            self.spacings.push(spacing);
        } else {
            self.spacings[self.spacing_next] = spacing;
        }
        self.spacing_next = (self.spacing_next + 1) % SPACINGS;
        // The interval moves only when most recent exports agree on another one.
        if let Some(common) = common_spacing(&mut self.spacings.clone()) {
            self.interval = Some(common);
        }
    }

    /// When the pending export's time is up, if the interval is known.
    fn deadline(&self) -> Option<i64> {
        self.interval.map(|i| self.schedule.saturating_add(i / 4 * 3))
    }

    /// Whether a line at `ts` begins an export on the schedule the pending export moved
    /// away from. Two exports in a row paused alike look like a new schedule; the next
    /// export on the old one then comes before the moved deadline. Its line is on time by
    /// the old phase, well after the pending export began, and after a long silence: an
    /// export that took half an interval does not fall silent for a quarter of one.
    fn due_by_old_schedule(&self, ts: i64) -> bool {
        let (Some(old), Some(interval)) = (self.moved_from, self.interval) else { return false };
        // The learnt interval can be off by a few milliseconds, so after a few exports
        // a line on time comes just before the old phase's due time as well as after.
        let late = (ts - old).rem_euclid(interval.max(1));
        interval > 0
            && (late < interval / 10 || late > interval - interval / 10)
            && ts.saturating_sub(self.export_first_timestamp) >= interval / 2
            && ts.saturating_sub(self.export_last_timestamp) >= interval / 4
    }

    /// Every series of the previous export is back: nothing is missing.
    fn complete(&self) -> bool {
        self.previous_cumulative > 0 && self.continuing >= self.previous_cumulative
    }
}

/// A process whose samples in one source were read as a separate instance.
#[derive(Debug, Clone, Copy)]
pub struct SourceSplit {
    /// The process as first read, and the separate one.
    pub joined: ProcessId,
    pub separate: ProcessId,
    pub source: usize,
}

/// Counters of what the engine saw that users should know about.
#[derive(Debug, Default, Clone)]
pub struct EngineStats {
    pub samples: u64,
    pub out_of_order: u64,
    pub first_out_of_order: Option<(LinePos, SeriesId)>,
    pub duplicates: u64,
    pub first_duplicate: Option<(LinePos, LinePos)>,
    pub conflicts: u64,
    /// The first conflict: the dropped line and the earlier one it contradicts.
    pub first_conflict: Option<(LinePos, LinePos, SeriesId)>,
    pub newest_timestamp: Option<i64>,
    pub oldest_timestamp: Option<i64>,
    pub splits: Vec<SourceSplit>,
}

pub struct Engine {
    pub catalog: Catalog,
    series: Vec<SeriesState>,
    /// The swing of each series that is not [`Swing::Steady`]: few series ever drop, and
    /// a swing kept in every series' state would cost 24 bytes each.
    swings: HashMap<SeriesId, Swing, foldhash::fast::FixedState>,
    /// The start time before the last change of `start_timestamp`, of the series whose
    /// start time changed (few: kept aside for the same reason).
    starts_before_change: HashMap<SeriesId, i64, foldhash::fast::FixedState>,
    pub processes: Vec<ProcessState>,
    options: EngineOptions,
    pub stats: EngineStats,
    /// Chunk-local series id -> global id, reused across chunks.
    local_map: Vec<SeriesId>,
    /// The series after the one resolved last: the likely next ([`Catalog::find`]).
    next_guess: SeriesId,
    /// Bad lines passed so far, in input order.
    bad_lines_seen: u64,
    spacing_scratch: Vec<i64>,
    /// The last chunk held only each series' newest samples: their spacing is not the
    /// export interval.
    latest_only: bool,
}

fn value_fingerprint(v: &SampleValue) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(0x7370_6163_696e_6773).build_hasher();
    match v {
        SampleValue::Num(Num::Int(i)) => {
            h.write_u8(0);
            h.write_i128(*i);
        }
        SampleValue::Num(Num::Float(f)) => {
            h.write_u8(1);
            h.write_u64(f.to_bits());
        }
        SampleValue::Hist(hist) => {
            h.write_u8(2);
            h.write_u64(hist.count);
            h.write_u64(hist.sum.to_bits());
            for c in &hist.counts {
                h.write_u64(*c);
            }
            for b in hist.bounds.iter() {
                h.write_u64(b.to_bits());
            }
        }
    }
    h.finish()
}

/// A value's level: the number for counters and gauges, the count for histograms.
impl Engine {
    pub fn new(options: EngineOptions) -> Engine {
        Engine {
            catalog: Catalog::default(),
            series: Vec::new(),
            swings: HashMap::default(),
            starts_before_change: HashMap::default(),
            processes: Vec::new(),
            options,
            stats: EngineStats::default(),
            local_map: Vec::new(),
            next_guess: 0,
            bad_lines_seen: 0,
            spacing_scratch: Vec::new(),
            latest_only: false,
        }
    }

    pub fn apply_chunk(&mut self, origin: ChunkOrigin, chunk: ParsedChunk, sink: &mut dyn Sink) {
        self.local_map.clear();
        self.local_map.resize(chunk.series.len(), NONE);
        self.latest_only = chunk.latest_only;
        let learn = !chunk.latest_only;
        let mut ids = Vec::with_capacity(chunk.samples.len());
        for sample in &chunk.samples {
            let local = sample.series as usize;
            let mut id = self.local_map[local];
            if id == NONE {
                id = self.resolve(origin.source, &chunk.series[local], sample, sink);
                self.local_map[local] = id;
            }
            ids.push(id);
        }
        let newest = chunk.latest_only.then(|| newest_of_each_series(&chunk.samples, &ids));
        let mut bad = chunk.bad.iter().map(|b| b.line).peekable();
        for (i, (sample, id)) in chunk.samples.into_iter().zip(ids).enumerate() {
            while bad.next_if(|&line| line < sample.line).is_some() {
                self.bad_lines_seen += 1;
            }
            if !sample.delta && newest.as_ref().is_some_and(|newest| newest[&id] != i) {
                continue;
            }
            let pos = LinePos { source: origin.source, line: origin.first_line + sample.line };
            self.push(id, sample, pos, learn, sink);
        }
        self.bad_lines_seen += bad.count() as u64;
        metricsctl_reader::scan::release(chunk.series);
    }

    /// The global id of a chunk's series, in the lineage its process has in `source`
    /// (decided by the process's first sample there).
    fn resolve(&mut self, source: usize, cs: &ChunkSeries, sample: &Sample, sink: &mut dyn Sink) -> SeriesId {
        let known = self.catalog.find(cs, 0, self.next_guess);
        let base = match known {
            Some(id) => Some(self.catalog.series[id as usize].process),
            None => self.catalog.base_process(cs),
        };
        let lineage = match base {
            Some(base) => self.lineage_in(base, source, cs, sample),
            None => 0,
        };
        if let (Some(id), 0) = (known, lineage) {
            self.next_guess = id + 1;
            return id;
        }
        let processes_before = self.catalog.processes.len();
        let (id, new) = match (known, lineage) {
            (None, 0) => (self.catalog.insert(cs, 0), true),
            _ => self.catalog.intern(cs, lineage, self.next_guess),
        };
        self.next_guess = id + 1;
        if new {
            let info = &self.catalog.series[id as usize];
            let wanted = sink.want_series(id, info);
            self.series.push(SeriesState {
                wanted,
                last_export: NONE,
                last_timestamp: i64::MIN,
                last_start: MaybeTime::NONE,
                last_value: None,
                recent: [Seen::EMPTY; RECENT],
                recent_next: 0,
                pending: false,
            });
            while self.processes.len() < self.catalog.processes.len() {
                self.processes.push(ProcessState::default());
            }
        }
        if self.catalog.processes.len() > processes_before {
            let created = self.catalog.series[id as usize].process;
            let base = base.unwrap_or(created);
            let state = &mut self.processes[base as usize];
            state.route = Some((source, created));
            state.lineages.push(created);
            if created != base {
                self.stats.splits.push(SourceSplit { joined: base, separate: created, source });
            }
        }
        id
    }

    /// The lineage of process `base` that `source` continues: the one it was routed to
    /// for this source, else the one this sample repeats or follows in time, else a new one.
    fn lineage_in(&mut self, base: ProcessId, source: usize, cs: &ChunkSeries, sample: &Sample) -> u32 {
        if let Some((routed_source, target)) = self.processes[base as usize].route {
            if routed_source == source {
                return self.catalog.processes[target as usize].lineage;
            }
        }
        let lineages = self.processes[base as usize].lineages.clone();
        // A line sent again across a rotation joins the lineage that has it.
        for &p in &lineages {
            let lineage = self.catalog.processes[p as usize].lineage;
            if let Some(id) = self.catalog.find(cs, lineage, self.next_guess) {
                let state = &self.series[id as usize];
                if state.recent.iter().any(|s| s.filled() && s.timestamp == sample.timestamp) {
                    return lineage;
                }
            }
        }
        let follows = lineages
            .iter()
            .copied()
            .filter(|&p| self.processes[p as usize].newest.is_none_or(|n| n <= sample.timestamp))
            .max_by_key(|&p| self.processes[p as usize].newest);
        match follows {
            Some(p) => {
                self.processes[base as usize].route = Some((source, p));
                self.catalog.processes[p as usize].lineage
            }
            None => source as u32 + 1,
        }
    }

    fn drop_sample(
        &mut self,
        id: SeriesId,
        kind: DropKind,
        sample: &Sample,
        pos: LinePos,
        earlier: Option<LinePos>,
        sink: &mut dyn Sink,
    ) {
        match kind {
            DropKind::Duplicate => {
                self.stats.duplicates += 1;
                if self.stats.first_duplicate.is_none() {
                    self.stats.first_duplicate = earlier.map(|e| (pos, e));
                }
            }
            DropKind::Conflict => {
                self.stats.conflicts += 1;
                let pid = self.catalog.series[id as usize].process;
                self.processes[pid as usize].conflicts += 1;
                if self.stats.first_conflict.is_none() {
                    self.stats.first_conflict = earlier.map(|e| (pos, e, id));
                }
            }
            DropKind::OutOfOrder => {
                self.stats.out_of_order += 1;
                if self.stats.first_out_of_order.is_none() {
                    self.stats.first_out_of_order = Some((pos, id));
                }
            }
        }
        if self.series[id as usize].wanted {
            let dropped = Dropped { kind, timestamp: sample.timestamp, line: pos, earlier };
            sink.dropped(id, &self.catalog.series[id as usize], &dropped);
        }
    }

    /// Whether the sample repeats one the series already has (then it was dropped).
    fn drop_if_seen(&mut self, id: SeriesId, sample: &Sample, pos: LinePos, sink: &mut dyn Sink) -> bool {
        let state = &self.series[id as usize];
        if sample.timestamp > state.latest_timestamp() {
            return false;
        }
        let fingerprint = value_fingerprint(&sample.value);
        let seen = state
            .recent
            .iter()
            .find(|s| s.filled() && s.timestamp == sample.timestamp)
            .map(|s| (s.same_value(fingerprint), s.at()));
        match seen {
            Some((same, at)) => {
                let kind = if same { DropKind::Duplicate } else { DropKind::Conflict };
                self.drop_sample(id, kind, sample, pos, at, sink);
                true
            }
            None => false,
        }
    }

    fn push(&mut self, id: SeriesId, sample: Sample, pos: LinePos, learn: bool, sink: &mut dyn Sink) {
        self.stats.samples += 1;
        let ts = sample.timestamp;
        self.stats.newest_timestamp = Some(self.stats.newest_timestamp.map_or(ts, |n| n.max(ts)));
        self.stats.oldest_timestamp = Some(self.stats.oldest_timestamp.map_or(ts, |n| n.min(ts)));
        if !self.options.keep_duplicates && self.drop_if_seen(id, &sample, pos, sink) {
            return;
        }
        let state = &mut self.series[id as usize];
        let previous = state.latest_timestamp();
        if ts < previous {
            self.drop_sample(id, DropKind::OutOfOrder, &sample, pos, None, sink);
            return;
        }
        let slot = state.recent_next as usize;
        state.recent[slot] = Seen::new(ts, value_fingerprint(&sample.value), pos);
        state.recent_next = ((slot + 1) % RECENT) as u8;
        let pid = self.catalog.series[id as usize].process;
        let pack = self.catalog.series.len() > self.options.pack_histograms_above_series;
        let process = &mut self.processes[pid as usize];
        process.newest = Some(process.newest.map_or(ts, |n| n.max(ts)));
        process.samples += 1;
        if self.options.grouping == Grouping::Learned && learn && !process.bootstrapped {
            // The interval is not known yet: hold the lines, and the spacing of each
            // series' samples among them, until there are enough to learn it.
            if previous != i64::MIN && ts > previous {
                process.bootstrap_spacings.push(ts.saturating_sub(previous));
            }
            process.bootstrap.push(Pending::new(id, sample, pos, pack));
            if process.bootstrap_spacings.len() >= BOOTSTRAP_SPACINGS || process.bootstrap.len() >= BOOTSTRAP_LINES {
                self.end_bootstrap(pid, sink);
            }
            return;
        }
        self.group(pid, Pending::new(id, sample, pos, pack), sink);
    }

    /// Learns the interval from the held lines' spacings, then groups them.
    fn end_bootstrap(&mut self, pid: ProcessId, sink: &mut dyn Sink) {
        let process = &mut self.processes[pid as usize];
        if process.bootstrapped {
            return;
        }
        process.bootstrapped = true;
        let mut spacings = std::mem::take(&mut process.bootstrap_spacings);
        let lines: Vec<(SeriesId, i64)> = process.bootstrap.iter().map(|p| (p.id, p.timestamp)).collect();
        if let Some(fit) = fit_schedule(&lines, &mut spacings) {
            // As many times as the running estimate holds: one disturbed export later
            // does not outvote what the first lines showed.
            for _ in 0..SPACINGS {
                process.record_spacing(fit.interval);
            }
            process.phase = Some(fit.phase);
            if fit.alternative.is_some() {
                process.ambiguous_schedule = Some(fit);
            }
        }
        for p in std::mem::take(&mut process.bootstrap) {
            self.group(pid, p, sink);
        }
    }

    /// Puts a sample in its process's pending export, ending that export first when
    /// the sample cannot belong to it.
    fn group(&mut self, pid: ProcessId, p: Pending, sink: &mut dyn Sink) {
        let id = p.id;
        let ts = p.timestamp;
        let process = &self.processes[pid as usize];
        if !process.export_started {
            if let Some(deadline) = process.previous_deadline {
                let state = &self.series[id as usize];
                let in_previous = state.last_export != NONE && state.last_export + 1 == process.export;
                if process.previous_flushed_early && !in_previous && ts < deadline {
                    // A new series' line of an export handed out as soon as it was
                    // complete (following a file): it still belongs to that export.
                    self.apply_late_member(pid, p, sink);
                    return;
                }
            }
        }
        let state = &self.series[id as usize];
        let boundary = if !process.export_started {
            None
        } else if state.pending {
            Some(Boundary::Repeat)
        } else if p.start_timestamp().is_some_and(|start| start > process.export_first_timestamp) {
            // Started after the pending export began: it cannot be in it.
            Some(Boundary::Repeat)
        } else {
            let silence = ts.saturating_sub(process.export_last_timestamp);
            match self.options.grouping {
                Grouping::Learned => {
                    let interval = process.interval.unwrap_or(0);
                    if process.deadline().is_some_and(|deadline| ts >= deadline) {
                        Some(Boundary::Timing { silence, interval })
                    } else if process.due_by_old_schedule(ts) {
                        Some(Boundary::OldSchedule { silence, interval })
                    } else {
                        None
                    }
                }
                Grouping::FixedGap(gap) => (silence > gap).then_some(Boundary::Gap { silence }),
            }
        };
        let mut carried = Vec::new();
        if let Some(boundary) = boundary {
            carried = self.take_next_exports_lines(pid, id, ts);
            self.flush(pid, !self.latest_only, sink);
            if matches!(boundary, Boundary::Timing { .. } | Boundary::OldSchedule { .. }) {
                self.processes[pid as usize].timing_boundaries += 1;
            }
        }
        if !self.processes[pid as usize].export_started {
            let first = carried.first().map_or(ts, |c| c.timestamp);
            self.start_export(pid, first, boundary.unwrap_or(Boundary::First));
        }
        for c in carried {
            self.add_pending(pid, c);
        }
        self.add_pending(pid, p);
    }

    /// The pending export's last lines that, seen from the line at `ts` of the next
    /// export (of series `next`), were the next export's first: a line of the next export
    /// means that export was due by `ts`, so the pending one was due an interval before,
    /// and a line more than three quarters of an interval after that (and more than half
    /// an interval after the pending export's schedule) is not a paused line of it. The
    /// schedule a line was grouped by can be off when two exports in a row were paused
    /// alike; this is where that is caught, before the export is handed out.
    fn take_next_exports_lines(&mut self, pid: ProcessId, next: SeriesId, ts: i64) -> Vec<Pending> {
        let process = &mut self.processes[pid as usize];
        let interval = match (self.options.grouping, process.interval) {
            (Grouping::Learned, Some(interval)) if interval >= MIN_SEPARABLE_INTERVAL && !self.latest_only => interval,
            _ => return Vec::new(),
        };
        let cut = ts.saturating_sub(interval / 4).max(process.schedule.saturating_add(interval / 2));
        let pending = &process.pending;
        let mut keep = pending.len();
        // The next export's line's own series was in the pending export before it: that
        // line and the ones before it stay.
        while keep > 1 && pending[keep - 1].timestamp >= cut && pending[keep - 1].id != next {
            keep -= 1;
        }
        if keep == pending.len() {
            return Vec::new();
        }
        let carried = process.pending.split_off(keep);
        process.export_last_timestamp = process.pending.iter().map(|p| p.timestamp).max().unwrap_or(i64::MIN);
        for c in &carried {
            self.series[c.id as usize].pending = false;
        }
        carried
    }

    fn start_export(&mut self, pid: ProcessId, first: i64, began_by: Boundary) {
        let bad_lines_seen = self.bad_lines_seen;
        let process = &mut self.processes[pid as usize];
        process.export_started = true;
        process.export_first_timestamp = first;
        process.export_last_timestamp = first;
        process.began_by = began_by;
        process.continuing = 0;
        process.bad_lines_at_export_start = bad_lines_seen;
        let phase_before = process.phase;
        process.moved_from = None;
        process.schedule = match (process.interval, process.phase) {
            (Some(interval), Some(phase)) if interval > 0 => {
                let late = (first - phase).rem_euclid(interval);
                let same_lateness = process.late_by.is_some_and(|before| (before - late).abs() < interval / 20);
                if late < interval / 10 || late >= interval / 2 || same_lateness {
                    // On time (the schedule drifts with it), or earlier than the
                    // schedule allows, or late by the same amount twice: the schedule
                    // is this export's start.
                    if same_lateness && late >= interval / 10 {
                        process.moved_from = phase_before;
                    }
                    process.phase = Some(first);
                    process.late_by = None;
                    first
                } else {
                    // A first line late by a pause keeps the schedule.
                    process.late_by = Some(late);
                    first - late
                }
            }
            _ => {
                process.phase = Some(first);
                first
            }
        };
    }

    fn add_pending(&mut self, pid: ProcessId, pending: Pending) {
        let process = &mut self.processes[pid as usize];
        let state = &mut self.series[pending.id as usize];
        process.export_last_timestamp = process.export_last_timestamp.max(pending.timestamp);
        if !pending.delta && state.last_export != NONE && state.last_export + 1 == process.export {
            process.continuing += 1;
        }
        state.pending = true;
        process.pending.push(pending);
    }

    /// Completes the pending export of a process: decides whether it follows a restart,
    /// then computes and hands out its steps.
    fn flush(&mut self, pid: ProcessId, learn: bool, sink: &mut dyn Sink) {
        let process = &mut self.processes[pid as usize];
        if !process.export_started {
            return;
        }
        let export = process.export;
        let pending = std::mem::take(&mut process.pending);
        let separated = match self.options.grouping {
            Grouping::Learned => process.interval.is_some_and(|i| i >= MIN_SEPARABLE_INTERVAL),
            Grouping::FixedGap(gap) => {
                process.export_first_timestamp.saturating_sub(process.previous_export_last_timestamp) > gap
            }
        };
        let mut restart: Option<RestartReason> = None;
        let mut continuing = 0u32;
        let mut cumulative = 0u32;
        let mut start_unchanged = false;
        self.spacing_scratch.clear();
        let spacing_stride = (pending.len() / EXPORT_SPACING_SAMPLE).max(1) as u32;
        for p in &pending {
            if p.delta {
                continue;
            }
            cumulative += 1;
            let state = &self.series[p.id as usize];
            if state.last_export == NONE {
                continue;
            }
            if state.last_export + 1 == export {
                if continuing % spacing_stride == 0 {
                    self.spacing_scratch.push(p.timestamp.saturating_sub(state.last_timestamp));
                }
                continuing += 1;
                start_unchanged |= matches!((p.start_timestamp(), state.last_start()), (Some(a), Some(b)) if a == b);
            }
            // Evidence that an already recorded restart explains (a series that missed
            // exports since) is not a new restart.
            if restarted_between(&self.processes[pid as usize].restart_exports, state.last_export, export).is_some() {
                continue;
            }
            let metric_type = self.catalog.series[p.id as usize].key.metric_type;
            if restart.is_none() {
                if let Some(new) = p.start_timestamp() {
                    let changed = state.last_start().map_or(new > state.last_timestamp, |old| old != new);
                    if changed {
                        restart =
                            Some(RestartReason::StartTimestamp { series: p.id, from: state.last_start(), to: new });
                    }
                }
            }
            if restart.is_none() && metric_type != MetricType::Gauge {
                if let Some(old) = &state.last_value {
                    if decreased_compact(old, &p.value) {
                        let (from, to) = (old.level(), p.value.level());
                        restart = Some(RestartReason::Decrease { series: p.id, from, to });
                    }
                }
            }
        }
        if learn && !self.spacing_scratch.is_empty() {
            let middle = self.spacing_scratch.len() / 2;
            let (_, median, _) = self.spacing_scratch.select_nth_unstable(middle);
            let median = *median;
            self.processes[pid as usize].record_spacing(median);
        }
        let process = &mut self.processes[pid as usize];
        // A series missing from an export means the process restarted (cumulative series
        // never disappear), unless a bad line since the previous export explains it, the
        // exports are too close together to be told apart, or the series that continue
        // kept their start_timestamp (then the process did not restart).
        let bad_line_nearby = self.bad_lines_seen > process.bad_lines_at_previous_export;
        if restart.is_none()
            && export > 0
            && continuing < process.previous_cumulative
            && !bad_line_nearby
            && separated
            && !start_unchanged
        {
            // The previous export's members are the process's series applied in it: found by
            // a scan, only when a restart needs them, rather than kept (4 bytes a series).
            let examples = (0..self.series.len() as SeriesId)
                .filter(|&id| {
                    let s = &self.series[id as usize];
                    s.last_export.checked_add(1) == Some(export)
                        && !s.pending
                        && self.catalog.series[id as usize].process == pid
                })
                .take(3)
                .collect();
            restart = Some(RestartReason::Vanished {
                missing: process.previous_cumulative - continuing,
                of: process.previous_cumulative,
                examples,
            });
        }
        // Exports closer together than can be told apart: evidence may sit in the wrong
        // group, so it is not applied to the whole process; each series still resets on
        // its own decrease or changed start_timestamp.
        if !separated && export > 0 {
            restart = None;
        }
        if let Some(reason) = restart {
            let timestamp = pending.first().map_or(0, |p| p.timestamp);
            let confirmed = !matches!(reason, RestartReason::Vanished { .. });
            process.restart_exports.push(export);
            process.restarts.push(Restart {
                timestamp,
                export,
                reason,
                began_by: process.began_by,
                confirmed,
                counted_from_zero: 0,
                resets: 0,
            });
        }
        process.previous_cumulative = cumulative;
        process.previous_export_last_timestamp = process.export_last_timestamp;
        process.bad_lines_at_previous_export = process.bad_lines_at_export_start;
        process.previous_deadline = process.deadline();
        process.previous_flushed_early = false;
        process.exports += 1;
        process.export += 1;
        process.export_started = false;
        let restart_exports = std::mem::take(&mut process.restart_exports);
        for p in pending {
            self.apply(pid, p, export, &restart_exports, sink);
        }
        self.processes[pid as usize].restart_exports = restart_exports;
    }

    /// A line of a new series that belongs to the export handed out last.
    fn apply_late_member(&mut self, pid: ProcessId, p: Pending, sink: &mut dyn Sink) {
        let process = &mut self.processes[pid as usize];
        let export = process.export - 1;
        if !p.delta {
            process.previous_cumulative += 1;
        }
        process.previous_export_last_timestamp = process.previous_export_last_timestamp.max(p.timestamp);
        let restart_exports = std::mem::take(&mut process.restart_exports);
        self.apply(pid, p, export, &restart_exports, sink);
        self.processes[pid as usize].restart_exports = restart_exports;
    }

    /// Computes a sample's step in its export and hands it out.
    fn apply(&mut self, pid: ProcessId, p: Pending, export: u32, restart_exports: &[u32], sink: &mut dyn Sink) {
        let (id, pos) = (p.id, p.line());
        let sample = p;
        let input_start = self.stats.oldest_timestamp.unwrap_or(i64::MIN);
        let window = self.options.window;
        let baseline = self.options.baseline;
        let state = &mut self.series[id as usize];
        let info = &self.catalog.series[id as usize];
        let metric_type = info.key.metric_type;
        // The sinks take values as the rest of the program does (a histogram unpacked).
        let value = sample.value.expand();
        // Kept packed: unpacking a histogram costs two allocations a sample.
        let previous = state.last_value.as_ref();
        // A packed histogram's level is a sum over its buckets: read once.
        let previous_level = previous.map(CompactValue::level);
        let cumulative = !sample.delta && metric_type != MetricType::Gauge;
        let decreased_now = cumulative && previous.is_some_and(|old| decreased(old, &value));
        let start_changed = !sample.delta
            && matches!((sample.start_timestamp(), state.last_start()), (Some(new), Some(old)) if new != old);
        let process_restart = if state.last_export == NONE {
            None
        } else {
            restarted_between(restart_exports, state.last_export, export)
        };
        let (kind, cause) = if sample.delta {
            (StepKind::Delta, None)
        } else if state.last_export == NONE {
            // A start inside the input means the series began there: count from zero.
            let started_inside = sample.start_timestamp().is_some_and(|s| s >= input_start);
            if baseline && !started_inside {
                (StepKind::Baseline, None)
            } else {
                (StepKind::First, None)
            }
        } else if let Some(r) = process_restart {
            (StepKind::Restart, Some(ResetCause::Process(r as u32)))
        } else if decreased_now {
            (StepKind::Restart, Some(ResetCause::Decrease))
        } else if start_changed {
            (StepKind::Restart, Some(ResetCause::StartTimestamp))
        } else {
            (StepKind::Continue, None)
        };
        let process = &mut self.processes[pid as usize];
        if let Some(r) = process_restart {
            // A vanished series back lower, or with a new start, proves the restart.
            if decreased_now || start_changed {
                process.restarts[r].confirmed = true;
            }
        }
        let increase = match (metric_type, kind) {
            (MetricType::Gauge, _) => Increase::None,
            (_, StepKind::Baseline) => zero_like(&value),
            (_, StepKind::First | StepKind::Restart | StepKind::Delta) => as_increase(&value),
            (_, StepKind::Continue) => match previous {
                Some(old) => difference(old, &value),
                None => as_increase(&value),
            },
        };
        if cumulative {
            let consecutive = state.last_export != NONE && state.last_export + 1 == export;
            // A start time back to the one before its last change is a turn too.
            let turned = if start_changed {
                sample.start_timestamp().is_some()
                    && sample.start_timestamp() == self.starts_before_change.get(&id).copied()
            } else {
                let has_start = sample.start != MaybeTime::NONE;
                let levels = (previous_level, value.level());
                swung(&mut self.swings, id, levels, has_start, consecutive, decreased_now)
            };
            if turned {
                process.oscillations += 1;
            }
        }
        if let Some(ResetCause::Process(r)) = cause {
            process.restarts[r as usize].resets += 1;
        }
        let in_window = window.contains(sample.timestamp);
        if state.wanted && in_window {
            if let Some(ResetCause::Process(r)) = cause {
                process.restarts[r as usize].counted_from_zero += 1;
            }
            let step = Step {
                timestamp: sample.timestamp,
                previous_timestamp: (state.last_export != NONE).then_some(state.last_timestamp),
                kind,
                value: &value,
                previous: previous_level,
                increase,
                cause,
                export,
                line: pos,
            };
            sink.step(id, info, &step);
        }
        if !sample.delta {
            if start_changed {
                match state.last_start() {
                    Some(before) => self.starts_before_change.insert(id, before),
                    None => self.starts_before_change.remove(&id),
                };
            }
            state.last_export = export;
            state.last_timestamp = sample.timestamp;
            if sample.start != MaybeTime::NONE {
                state.last_start = sample.start;
            }
            state.last_value = Some(sample.value);
        }
        state.pending = false;
    }

    pub fn window(&self) -> Window {
        self.options.window
    }

    /// Completes every pending export; call once at the end of the input.
    pub fn finish(&mut self, sink: &mut dyn Sink) {
        for pid in 0..self.processes.len() {
            self.end_bootstrap(pid as ProcessId, sink);
            self.flush(pid as ProcessId, !self.latest_only, sink);
        }
    }

    /// Hands out the pending exports that are complete (every series of the previous
    /// export is back) or whose time is up at `now(process)`, for a file that is still
    /// being written: what a scrape should show. Nothing else changes, so `finish`
    /// still follows at the end.
    pub fn flush_settled(&mut self, now: &dyn Fn(ProcessId) -> i64, sink: &mut dyn Sink) {
        for pid in 0..self.processes.len() {
            let now = now(pid as ProcessId);
            let process = &self.processes[pid];
            let quiet = process.newest.is_some_and(|n| now.saturating_sub(n) >= QUIET_WITHOUT_INTERVAL);
            if !process.bootstrapped && (!process.bootstrap_spacings.is_empty() || quiet) {
                self.end_bootstrap(pid as ProcessId, sink);
            }
            let process = &self.processes[pid];
            if !process.export_started {
                continue;
            }
            let time_up = match process.deadline() {
                Some(deadline) => now >= deadline,
                None => now.saturating_sub(process.export_last_timestamp) >= QUIET_WITHOUT_INTERVAL,
            };
            let complete = process.complete();
            if complete || time_up {
                self.flush(pid as ProcessId, !self.latest_only, sink);
                self.processes[pid].previous_flushed_early = !time_up;
            }
        }
    }

    /// Processes whose series take turns between two levels (or two start times), or
    /// hold two values at one timestamp, so often that several instances probably share
    /// one resource (and so cannot be told apart).
    pub fn suspicious_processes(&self) -> Vec<ProcessId> {
        (0..self.processes.len())
            .filter(|&p| self.processes[p].oscillations >= 2 || self.processes[p].conflicts >= 2)
            .map(|p| p as ProcessId)
            .collect()
    }

    /// Processes whose schedule, learnt from their first lines, could as well have been
    /// another that finds other restarts.
    pub fn ambiguous_schedules(&self) -> impl Iterator<Item = (ProcessId, &ScheduleFit)> {
        self.processes
            .iter()
            .enumerate()
            .filter_map(|(pid, p)| Some((pid as ProcessId, p.ambiguous_schedule.as_ref()?)))
    }

    /// Restarts that were inferred from vanished series alone, never confirmed, and that
    /// some wanted step was counted from zero because of: answers depend on them.
    pub fn unconfirmed_restarts(&self) -> impl Iterator<Item = (ProcessId, &Restart)> {
        self.processes.iter().enumerate().flat_map(|(pid, p)| {
            p.restarts.iter().filter(|r| !r.confirmed && r.counted_from_zero > 0).map(move |r| (pid as ProcessId, r))
        })
    }
}

/// Of a chunk that holds only the newest samples, the index of each series' newest (the
/// first of equal timestamps, as reading every line keeps the earlier of a conflict);
/// delta samples are not among them (each is summed, so all are read).
/// A parser hands out each series' newest line once, but a series met by its template
/// and by a full parse in one block is two chunk series: only its global id tells them
/// for one. Which lines a parser reads by template depends on which blocks it parsed
/// before, so without this what reached the engine (and the duplicates it counted)
/// changed from one run to the next.
fn newest_of_each_series(samples: &[Sample], ids: &[SeriesId]) -> HashMap<SeriesId, usize, foldhash::fast::FixedState> {
    let mut newest: HashMap<SeriesId, usize, foldhash::fast::FixedState> = HashMap::default();
    for (i, (sample, &id)) in samples.iter().zip(ids).enumerate().filter(|(_, (sample, _))| !sample.delta) {
        newest
            .entry(id)
            .and_modify(|best| {
                if sample.timestamp > samples[*best].timestamp {
                    *best = i;
                }
            })
            .or_insert(i);
    }
    newest
}

/// The spacing most of `spacings` agree on (to within 2%), if more than half do. A pause
/// before a line lengthens one spacing and shortens the next, a skipped export doubles
/// one; most are the interval to within milliseconds.
fn common_spacing(spacings: &mut [i64]) -> Option<i64> {
    spacings.sort_unstable();
    let (mut best_start, mut best_len) = (0, 0);
    let mut start = 0;
    for end in 0..spacings.len() {
        while spacings[end] - spacings[start] > (spacings[start] / 50).max(NANOS_PER_SEC / 1000) {
            start += 1;
        }
        if end + 1 - start > best_len {
            (best_start, best_len) = (start, end + 1 - start);
        }
    }
    (best_len * 2 > spacings.len()).then(|| spacings[best_start + (best_len - 1) / 2])
}

/// The interval and due time that explain a process's first lines best. The candidates
/// are the common spacings of its series' samples; each is judged by what it makes of
/// the lines: a series twice in one export, or a line later than half an interval after
/// its export was due, cannot be. Then each candidate needs some rare events: restarts
/// (the fewest that explain every series missing from an export its process wrote) and
/// long pauses (exports with a line more than a quarter of an interval late, counted
/// twice when within a thirty-second of an interval of the latest a line can be); the
/// fewer the better. An interval nearly twice the true one needs no restart where a
/// sparse export followed one, but pauses of almost half an interval to fit its lines,
/// so neither kind is counted before the other. When another interval fits alike with
/// other restarts, the answer is a guess and says so (`ScheduleFit::alternative`).
/// Then the fewer series missing, and the smaller the
/// lines' mean delay (lines are written soon after their export is due). The last tie
/// goes to the spacing seen most often.
/// (impossible lines, rare events, missing series, mean delay, rank)
type FitScore = (u64, u64, u64, i64, usize);

/// A schedule that explains a process's first lines, and what it needs of them.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleFit {
    pub interval: i64,
    pub phase: i64,
    /// Restarts the lines need (the fewest that explain every series missing from an
    /// export), and exports with a line more than a quarter of an interval late.
    pub restarts: u64,
    pub pauses: u64,
    /// Exports with at least one of the lines.
    pub exports: u64,
    /// Of the long pauses, those with a line almost half an interval late (rarer still:
    /// each counts as two rare events).
    pub near_half_pauses: u64,
    /// An interval that explains them with as few rare events (or, when the lines are
    /// rare events half through, one more), but other restarts.
    pub alternative: Option<Box<ScheduleFit>>,
}

impl ScheduleFit {
    /// What the fit is judged by first: its restarts and long pauses.
    pub fn rare_events(&self) -> u64 {
        self.restarts + self.pauses + self.near_half_pauses
    }
}

fn fit_schedule(lines: &[(SeriesId, i64)], spacings: &mut [i64]) -> Option<ScheduleFit> {
    if spacings.is_empty() {
        return None;
    }
    spacings.sort_unstable();
    // Clusters of spacings within 2% of each other: (support, representative).
    let mut candidates: Vec<(usize, i64)> = Vec::new();
    let mut start = 0;
    while start < spacings.len() {
        let tolerance = (spacings[start] / 50).max(NANOS_PER_SEC / 1000);
        let end =
            (start..spacings.len()).find(|&i| spacings[i] - spacings[start] > tolerance).unwrap_or(spacings.len());
        candidates.push((end - start, spacings[start + (end - start - 1) / 2]));
        start = end;
    }
    candidates.sort_by_key(|&(support, interval)| (std::cmp::Reverse(support), interval));
    candidates.truncate(8);
    // Intervals are configured as round numbers, and the spacings scatter around them by
    // where each line fell in its export (2 ms a line): 298 and 304 ms are 300 ms, which
    // neither cluster is within 2% of.
    // And a late first line can put a lone spacing 7% short of it (9.358 s of 10 s): the
    // intervals exporters are configured with are candidates near a spacing, too.
    for i in 0..candidates.len() {
        let spacing = candidates[i].1;
        let conventional = CONVENTIONAL_INTERVALS_MS
            .iter()
            .map(|&ms| ms * 1_000_000)
            .find(|&interval| (interval - spacing).abs() <= interval / 10);
        for candidate in std::iter::once(round_interval(spacing)).chain(conventional) {
            if candidates.iter().all(|&(_, interval)| interval != candidate) {
                candidates.push((0, candidate));
            }
        }
    }
    // Few lines, of series each seen in exports far apart (a series that missed every
    // other export, each after a restart, is spaced twice the interval), may hold no
    // spacing of one series near the interval; the silences between the process's
    // lines do: the longest ones are between exports.
    let mut times: Vec<i64> = lines.iter().map(|&(_, t)| t).collect();
    times.sort_unstable();
    let mut silences: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let longest = silences.iter().copied().max().unwrap_or(0);
    silences.retain(|&silence| silence > 0 && silence >= longest / 3);
    silences.sort_unstable();
    silences.dedup_by(|a, b| *a - *b <= (*b / 50).max(NANOS_PER_SEC / 1000));
    for &silence in silences.iter().take(4) {
        if candidates.iter().all(|&(_, interval)| interval != silence) {
            candidates.push((0, silence));
        }
    }
    // A pause lengthens one spacing and shortens the next: over a series' samples the
    // spacings average to the interval.
    let mut by_series: Vec<(SeriesId, i64)> = lines.to_vec();
    by_series.sort_unstable();
    let mut i = 0;
    while i < by_series.len() {
        let id = by_series[i].0;
        let end = (i..by_series.len()).find(|&j| by_series[j].0 != id).unwrap_or(by_series.len());
        if end - i >= 3 {
            let span = by_series[end - 1].1 - by_series[i].1;
            candidates.push((0, span / (end - i - 1) as i64));
        }
        i = end;
    }
    candidates.retain(|&(_, interval)| interval > 0);
    candidates.truncate(24);
    let mut exports: Vec<(SeriesId, i64)> = Vec::with_capacity(lines.len());
    let mut late_exports: Vec<(i64, u64)> = Vec::new();
    let mut gaps: Vec<(i64, i64)> = Vec::new();
    let mut written: Vec<i64> = Vec::new();
    let mut fits: Vec<(FitScore, ScheduleFit)> = Vec::with_capacity(candidates.len());
    for (rank, &(_, interval)) in candidates.iter().enumerate() {
        times.clear();
        times.extend(lines.iter().map(|&(_, t)| t));
        let Some(phase) = estimate_phase(&mut times, interval) else { continue };
        let mut impossible = 0u64;
        let mut delays = 0i128;
        exports.clear();
        late_exports.clear();
        for &(id, t) in lines {
            let delay = (t - phase).rem_euclid(interval);
            let export = (t - phase).div_euclid(interval);
            if delay >= interval / 2 {
                impossible += 1;
            } else if delay > interval / 2 - interval / 32 {
                // Within a thirty-second of the interval of the latest a line can be:
                // rarer than a restart. An interval near twice the true one, or the mean
                // spacing of a series that missed an export, fits the lines this way.
                late_exports.push((export, 2));
            } else if delay > interval / 4 {
                late_exports.push((export, 1));
            }
            delays += i128::from(delay);
            exports.push((id, export));
        }
        // An export counts once, as late as its latest line.
        late_exports.sort_unstable_by_key(|&(export, weight)| (export, std::cmp::Reverse(weight)));
        late_exports.dedup_by_key(|&mut (export, _)| export);
        exports.sort_unstable();
        written.clear();
        written.extend(exports.iter().map(|&(_, export)| export));
        written.sort_unstable();
        written.dedup();
        let last_written = written.last().copied().unwrap_or(0);
        // A cumulative series is in every export its process writes until a restart: one
        // missing from a written export after `seen` needs a restart after `seen` and by
        // that export (an export with no line at all tells nothing).
        let first_written_after = |seen: i64| written.get(written.partition_point(|&e| e <= seen)).copied();
        let mut missing = 0u64;
        gaps.clear();
        for (i, &(id, export)) in exports.iter().enumerate() {
            match exports.get(i + 1).filter(|next| next.0 == id) {
                Some(&(_, next)) => match next - export {
                    0 => impossible += 1,
                    1 => {}
                    gap => {
                        missing += (gap - 1) as u64;
                        if let Some(missed) = first_written_after(export).filter(|&e| e < next) {
                            gaps.push((export + 1, missed));
                        }
                    }
                },
                // Its last line: missing from a written export after it (but the last,
                // which the held lines may end inside) needs a restart too.
                None => {
                    if let Some(missed) = first_written_after(export).filter(|&e| e < last_written) {
                        gaps.push((export + 1, missed));
                    }
                }
            }
        }
        let restarts = fewest_points_in_every(&mut gaps);
        let pauses = late_exports.len() as u64;
        let pause_weight = late_exports.iter().map(|&(_, weight)| weight).sum::<u64>();
        // Lines are written soon after their export is due: the mean delay, in
        // thousandths of the interval.
        let delay = (delays * 1000 / (i128::from(interval) * lines.len().max(1) as i128)) as i64;
        let score = (impossible, restarts + pause_weight, missing, delay, rank);
        let exports = written.len() as u64;
        let near_half_pauses = pause_weight - pauses;
        let fit = ScheduleFit { interval, phase, restarts, pauses, exports, near_half_pauses, alternative: None };
        fits.push((score, fit));
    }
    let (score, mut best) = fits.iter().min_by_key(|(score, _)| *score)?.clone();
    // Another interval as plausible (as few impossible lines and rare events) that
    // finds other restarts: the lines cannot tell which is true. Nor can they when the
    // best needs a rare event for every other export it finds (a process of three lines
    // with a restart after each of the first two fits twice its interval with both
    // exports late) and another needs one more.
    let weak = score.1 * 2 >= best.exports;
    best.alternative = fits
        .iter()
        .filter(|(other, fit)| {
            other.0 == score.0
                && (other.1 == score.1 || (weak && other.1 == score.1 + 1))
                && fit.restarts != best.restarts
                && (fit.interval - best.interval).abs() > best.interval / 50
        })
        .min_by_key(|(other, _)| *other)
        .map(|(_, fit)| Box::new(fit.clone()));
    Some(best)
}

/// The fewest points that lie in every one of `ranges` (inclusive): the fewest restarts
/// that explain every run of exports a series missed.
fn fewest_points_in_every(ranges: &mut [(i64, i64)]) -> u64 {
    ranges.sort_unstable_by_key(|&(first, last)| (last, first));
    let mut points = 0;
    let mut last_point = i64::MIN;
    for &(first, last) in ranges.iter() {
        if first > last_point {
            points += 1;
            last_point = last;
        }
    }
    points
}

/// Export intervals as people configure them, in milliseconds.
const CONVENTIONAL_INTERVALS_MS: [i64; 14] =
    [100, 200, 250, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 20_000, 30_000, 60_000, 120_000, 300_000];

/// `interval` to two significant digits (298 ms is 300 ms, 9.987 s is 10 s).
fn round_interval(interval: i64) -> i64 {
    let mut scale = 1i64;
    while interval / scale >= 100 {
        scale *= 10;
    }
    (interval + scale / 2) / scale * scale
}

/// When exports are due, modulo `interval`, from the times of their lines. Lines are
/// written at or after their export's due time, by up to half an interval (pauses),
/// never before: on the circle of times modulo the interval they fill one arc, and the
/// widest empty arc ends where exports are due.
fn estimate_phase(times: &mut [i64], interval: i64) -> Option<i64> {
    if times.is_empty() || interval <= 0 {
        return None;
    }
    for t in times.iter_mut() {
        *t = t.rem_euclid(interval);
    }
    times.sort_unstable();
    let mut due = times[0];
    let mut widest = times[0].saturating_add(interval) - times[times.len() - 1];
    for pair in times.windows(2) {
        if pair[1] - pair[0] > widest {
            widest = pair[1] - pair[0];
            due = pair[1];
        }
    }
    Some(due)
}

/// Updates a series' swing and says whether it just took another turn: down, back at or
/// above the level before, then down again to at or above the level after the first
/// drop, in consecutive exports (or, said by the caller, its start time back to the one
/// before the last change). A restarted process does neither: its start times only grow,
/// and its young series, once back above their old values, do not fall back.
fn swung(
    swings: &mut HashMap<SeriesId, Swing, foldhash::fast::FixedState>,
    id: SeriesId,
    (previous, value): (Option<Num>, Num),
    has_start: bool,
    consecutive: bool,
    decreased: bool,
) -> bool {
    if swings.is_empty() && !decreased {
        return false;
    }
    if has_start {
        swings.remove(&id);
        return false;
    }
    let now = value.as_f64();
    let before = previous.map_or(0.0, |v| v.as_f64());
    let swing = swings.get(&id).copied().unwrap_or(Swing::Steady);
    let (next, turned) = match swing {
        Swing::Recovered { after, peak } if consecutive && now < peak && now >= after => {
            (Swing::Dropped { before: peak, after: now }, true)
        }
        Swing::Dropped { before, after } if consecutive && now >= before => {
            (Swing::Recovered { after, peak: now }, false)
        }
        _ if decreased => (Swing::Dropped { before, after: now }, false),
        _ => (Swing::Steady, false),
    };
    match next {
        Swing::Steady => swings.remove(&id),
        swinging => swings.insert(id, swinging),
    };
    turned
}

/// The index of the first restart in `restarts` (export indices, ascending) after
/// export `after` and at or before `upto`.
fn restarted_between(restarts: &[u32], after: u32, upto: u32) -> Option<usize> {
    let i = restarts.partition_point(|&r| r <= after);
    restarts.get(i).is_some_and(|&r| r <= upto).then_some(i)
}

/// [`decreased`] without making the values whole: histograms compare in place.
fn decreased_compact(old: &CompactValue, new: &CompactValue) -> bool {
    match (old, new) {
        (CompactValue::Hist(a), CompactValue::Hist(b)) => !a.continues_into(b),
        (CompactValue::Hist(a), CompactValue::Shared(b)) => !a.continues_into_unpacked(b),
        (CompactValue::Shared(a), CompactValue::Shared(b)) => !a.continues_into(b),
        _ => decreased(old, &new.expand()),
    }
}

fn decreased(old: &CompactValue, new: &SampleValue) -> bool {
    match (old, new) {
        (CompactValue::Hist(a), SampleValue::Hist(b)) => !a.continues_into_unpacked(b),
        (CompactValue::Shared(a), SampleValue::Hist(b)) => !a.continues_into(b),
        (CompactValue::Hist(_) | CompactValue::Shared(_), _) | (_, SampleValue::Hist(_)) => true,
        (_, SampleValue::Num(b)) => b.less_than(old.level()),
    }
}

fn as_increase(v: &SampleValue) -> Increase {
    match v {
        SampleValue::Num(n) => Increase::Num(*n),
        SampleValue::Hist(h) => Increase::Hist((**h).clone()),
    }
}

fn zero_like(v: &SampleValue) -> Increase {
    match v {
        SampleValue::Num(_) => Increase::Num(Num::ZERO),
        SampleValue::Hist(h) => Increase::Hist(h.zero_like()),
    }
}

fn difference(old: &CompactValue, new: &SampleValue) -> Increase {
    match (old, new) {
        (CompactValue::Hist(a), SampleValue::Hist(b)) => match a.increase_to(b) {
            Some(increase) => Increase::Hist(increase),
            None => as_increase(new),
        },
        (CompactValue::Shared(a), SampleValue::Hist(b)) => match a.increase_to(b) {
            Some(increase) => Increase::Hist(increase),
            None => as_increase(new),
        },
        (CompactValue::Hist(_) | CompactValue::Shared(_), _) | (_, SampleValue::Hist(_)) => as_increase(new),
        (_, SampleValue::Num(b)) => Increase::Num(b.minus(old.level())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What every series costs while an export is open, and for as long as it is known
    /// (issue 17's memory per series): a field added here is paid a million times.
    #[test]
    fn per_series_state_stays_small() {
        assert_eq!(std::mem::size_of::<Pending>(), 48);
        assert_eq!(std::mem::size_of::<SeriesState>(), 104);
        assert_eq!(std::mem::size_of::<Seen>(), 16);
        assert_eq!(std::mem::size_of::<SeriesInfo>(), 40);
    }

    #[test]
    fn packed_positions_give_back_the_position_or_say_they_cannot() {
        for pos in [
            LinePos { source: 0, line: 1 },
            LinePos { source: 7, line: (1 << 44) - 1 },
            LinePos { source: (1 << 20) - 2, line: 3 },
        ] {
            assert_eq!(PackedPos::new(pos).get(), Some(pos));
        }
        for pos in [
            LinePos { source: 0, line: 1 << 44 },
            LinePos { source: (1 << 20) - 1, line: 1 },
            LinePos { source: 1 << 40, line: 1 },
        ] {
            assert_eq!(PackedPos::new(pos), PackedPos::UNKNOWN);
            assert_eq!(PackedPos::new(pos).get(), None);
        }
        assert_eq!(PackedPos::new(LinePos { source: 3, line: 0 }), PackedPos::UNKNOWN);
    }

    #[test]
    fn recent_samples_keep_their_position_and_value_or_say_they_cannot_name_the_line() {
        let fingerprint = value_fingerprint(&SampleValue::Num(Num::Int(42)));
        let other = value_fingerprint(&SampleValue::Num(Num::Int(43)));
        for pos in [
            LinePos { source: 0, line: 1 },
            LinePos { source: 1022, line: (1 << 30) - 1 },
            LinePos { source: 5, line: 123_456 },
        ] {
            let seen = Seen::new(-7, fingerprint, pos);
            assert!(seen.filled());
            assert_eq!(seen.at(), Some(pos));
            assert_eq!(seen.timestamp, -7);
            assert!(seen.same_value(fingerprint));
            assert!(!seen.same_value(other));
        }
        for pos in [
            LinePos { source: 0, line: 1 << 30 },
            LinePos { source: 1023, line: 1 },
            LinePos { source: 1 << 40, line: 1 },
            LinePos { source: 3, line: 0 },
        ] {
            let seen = Seen::new(i64::MIN, fingerprint, pos);
            assert!(seen.filled(), "{pos:?}");
            assert_eq!(seen.at(), None);
            assert!(seen.same_value(fingerprint));
        }
        assert!(!Seen::EMPTY.filled());
        assert_eq!(Seen::EMPTY.at(), None);
    }

    #[test]
    fn a_chunk_of_newest_samples_keeps_one_per_series_the_first_of_equal_timestamps() {
        let sample = |series: u32, line: u64, timestamp: i64, value: i128| Sample {
            series,
            line,
            timestamp,
            start_timestamp: None,
            delta: false,
            value: SampleValue::Num(Num::Int(value)),
        };
        // Chunk series 0 and 2 are one series (read by its template, then by a full
        // parse); series 1 has a conflict at its newest timestamp.
        let samples = [
            sample(0, 0, 10, 1),
            sample(1, 1, 20, 5),
            sample(2, 2, 30, 2),
            sample(1, 3, 20, 6),
            sample(0, 4, 25, 3),
            sample(1, 5, 15, 4),
            Sample { delta: true, ..sample(3, 6, 40, 1) },
        ];
        let ids = [7, 8, 7, 8, 7, 8, 9];
        let newest = newest_of_each_series(&samples, &ids);
        assert_eq!(newest.len(), 2, "delta samples are all read");
        assert_eq!(newest[&7], 2, "the newest of both chunk series");
        assert_eq!(newest[&8], 1, "the first of two lines with one timestamp");
    }

    #[test]
    fn optional_times_fit_in_eight_bytes() {
        for t in [None, Some(0), Some(i64::MAX), Some(-1), Some(1_765_850_400_000_000_000)] {
            assert_eq!(MaybeTime::new(t).get(), t);
        }
        assert_eq!(MaybeTime::new(Some(i64::MIN)).get(), Some(i64::MIN + 1));
    }

    #[test]
    fn restart_between_exports() {
        let r = [3, 7];
        assert_eq!(restarted_between(&r, 0, 2), None);
        assert_eq!(restarted_between(&r, 2, 3), Some(0));
        assert_eq!(restarted_between(&r, 3, 6), None);
        assert_eq!(restarted_between(&r, 3, 9), Some(1));
        assert_eq!(restarted_between(&r, 7, 9), None);
    }

    #[test]
    fn the_interval_moves_only_when_most_exports_agree() {
        let s = NANOS_PER_SEC;
        let mut p = ProcessState::default();
        for spacing in [10 * s, 10 * s + 3_000_000, 5 * s, 15 * s, 10 * s, 30 * s, 10 * s - 2_000_000] {
            p.record_spacing(spacing);
        }
        assert_eq!(p.interval, Some(10 * s));
        // Pauses everywhere: no spacing is common, the interval stays.
        for spacing in [7 * s, 13 * s, 12 * s, 8 * s] {
            p.record_spacing(spacing);
        }
        assert_eq!(p.interval, Some(10 * s));
        for _ in 0..SPACINGS / 2 + 1 {
            p.record_spacing(20 * s);
        }
        assert_eq!(p.interval, Some(20 * s));
    }

    #[test]
    fn exports_are_due_where_the_widest_gap_in_their_times_ends() {
        let s = NANOS_PER_SEC;
        // Due at :05 every 10 s; one export paused 4 s, lines a few ms apart.
        let mut times = [105 * s + 4 * s, 115 * s, 115 * s + 3_000_000, 125 * s, 125 * s + 3_000_000];
        assert_eq!(estimate_phase(&mut times, 10 * s), Some(5 * s));
        // Due at :09.9: the occupied arc wraps around the multiple of the interval.
        let mut times = [99 * s + 900_000_000, 110 * s + 100_000_000, 119 * s + 900_000_000];
        assert_eq!(estimate_phase(&mut times, 10 * s), Some(9 * s + 900_000_000));
    }
}
