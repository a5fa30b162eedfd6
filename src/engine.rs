//! Series semantics (SPEC section 3): turns cumulative snapshots into exact increases.
//!
//! Samples arrive in input order. The samples of one *export* of one *process* (same
//! service and resource) are held back until the export is complete, so that a restart
//! visible in any of its series (a decrease, a changed `start_timestamp`, a series that
//! vanished) is known before any of its steps is computed. A series whose previous
//! sample lies before a restart of its process counts its new value from zero, even
//! when the value happens to be no smaller than before.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::filter::Window;
use crate::record::{Histogram, MetricType, Num, SampleValue};
use crate::scan::{ChunkOrigin, ParsedChunk, Sample};
use crate::series::{SeriesKey, SeriesMeta};
use crate::timestamp::NANOS_PER_SEC;

/// Consecutive lines of one process further apart than this belong to different exports
/// even when no series repeats: one export's lines are microseconds to milliseconds
/// apart (collection time), exports are seconds apart (at least 100 ms).
pub const EXPORT_GAP: i64 = NANOS_PER_SEC / 10;

pub type SeriesId = u32;
pub type ProcessId = u32;

#[derive(Debug)]
pub struct SeriesInfo {
    pub key: SeriesKey,
    pub meta: SeriesMeta,
    pub process: ProcessId,
}

#[derive(Debug)]
pub struct ProcessInfo {
    pub service: String,
    pub resource: std::sync::Arc<str>,
    pub meta_resource: std::sync::Arc<crate::record::LabelSet>,
}

/// Every series and process seen, interned by fingerprint with byte-exact confirmation.
#[derive(Default)]
pub struct Catalog {
    pub series: Vec<SeriesInfo>,
    by_fingerprint: HashMap<u64, SeriesId, BuildHasherDefault<PassThrough>>,
    /// Next series with the same fingerprint (collision chain), or `u32::MAX`.
    same_fingerprint: Vec<SeriesId>,
    pub processes: Vec<ProcessInfo>,
    process_ids: HashMap<(String, std::sync::Arc<str>), ProcessId>,
}

/// The fingerprints are already well-mixed hashes.
#[derive(Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

impl Catalog {
    /// Returns the id of the series and whether it is new.
    fn intern(&mut self, cs: &crate::series::ChunkSeries) -> (SeriesId, bool) {
        let mut candidate = self.by_fingerprint.get(&cs.fingerprint).copied();
        while let Some(id) = candidate {
            if self.series[id as usize].key == cs.key {
                return (id, false);
            }
            let next = self.same_fingerprint[id as usize];
            candidate = (next != u32::MAX).then_some(next);
        }
        let id = self.series.len() as SeriesId;
        let chain = self.by_fingerprint.insert(cs.fingerprint, id).unwrap_or(u32::MAX);
        self.same_fingerprint.push(chain);
        let process_key = (cs.key.service.clone(), cs.key.resource.clone());
        let next_process = self.processes.len() as ProcessId;
        let process = *self.process_ids.entry(process_key).or_insert_with(|| {
            self.processes.push(ProcessInfo {
                service: cs.key.service.clone(),
                resource: cs.key.resource.clone(),
                meta_resource: cs.meta.resource.clone(),
            });
            next_process
        });
        // The process's copy of the resource, not one per series: a million series of
        // one process cost one resource.
        let shared = &self.processes[process as usize];
        let mut key = cs.key.clone();
        key.resource = shared.resource.clone();
        let mut meta = cs.meta.clone();
        meta.resource = shared.meta_resource.clone();
        self.series.push(SeriesInfo { key, meta, process });
        (id, true)
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
    /// The process restarted since the previous sample: counted from zero.
    Restart,
    /// A delta-temporality sample: its value is the increase.
    Delta,
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
    pub increase: Increase,
}

/// A consumer of the engine's output.
pub trait Sink {
    /// A series was seen for the first time; return whether its steps are wanted.
    fn want_series(&mut self, id: SeriesId, info: &SeriesInfo) -> bool;
    /// A step of a wanted series inside the window.
    fn step(&mut self, id: SeriesId, info: &SeriesInfo, step: &Step<'_>);
}

#[derive(Debug, Clone, Copy, Default)]
pub struct EngineOptions {
    pub window: Window,
    /// Treat each series' first sample as a baseline (inputs whose head was rotated
    /// away), unless its `start_timestamp` shows it started inside the input.
    pub baseline: bool,
}

/// Why a restart was inferred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartReason {
    Decrease { series: SeriesId },
    StartTimestamp { series: SeriesId },
    Vanished { count: u32 },
}

#[derive(Debug, Clone)]
pub struct Restart {
    pub timestamp: i64,
    pub reason: RestartReason,
}

struct SeriesState {
    wanted: bool,
    /// Export index of the last applied sample, or `NONE`.
    last_export: u32,
    /// Export index the series has a sample pending in, or `NONE`.
    pending_export: u32,
    last_timestamp: i64,
    /// Newest timestamp seen, pending samples included (for order checks).
    latest_timestamp: i64,
    last_start: Option<i64>,
    last_value: Option<SampleValue>,
    /// The value (and start time) before this series last dropped, to spot values
    /// that come back.
    value_before_drop: Option<(SampleValue, Option<i64>)>,
}

const NONE: u32 = u32::MAX;

#[derive(Default)]
pub struct ProcessState {
    pending: Vec<(SeriesId, Sample)>,
    export: u32,
    export_started: bool,
    /// Timestamps of the first and latest line of the pending export.
    export_first_timestamp: i64,
    export_last_timestamp: i64,
    /// Timestamp of the latest line of the previous export.
    previous_export_last_timestamp: i64,
    /// Cumulative series in the previous export.
    previous_cumulative: u32,
    restart_exports: Vec<u32>,
    bad_lines_at_export_start: u64,
    bad_lines_at_previous_export: u64,
    pub restarts: Vec<Restart>,
    pub exports: u32,
    /// Times a series dropped and, one export later, was back at or above its value
    /// before the drop: what two instances writing as one process look like.
    pub oscillations: u32,
}

/// Counters of what the engine saw that users should know about.
#[derive(Debug, Default, Clone)]
pub struct EngineStats {
    pub samples: u64,
    pub out_of_order: u64,
    pub first_out_of_order: Option<(ChunkOrigin, u64, SeriesId)>,
    pub newest_timestamp: Option<i64>,
    pub oldest_timestamp: Option<i64>,
}

pub struct Engine {
    pub catalog: Catalog,
    series: Vec<SeriesState>,
    pub processes: Vec<ProcessState>,
    options: EngineOptions,
    pub stats: EngineStats,
    /// Chunk-local series id -> global id, reused across chunks.
    local_map: Vec<SeriesId>,
    /// Bad lines passed so far, in input order.
    bad_lines_seen: u64,
}

impl Engine {
    pub fn new(options: EngineOptions) -> Engine {
        Engine {
            catalog: Catalog::default(),
            series: Vec::new(),
            processes: Vec::new(),
            options,
            stats: EngineStats::default(),
            local_map: Vec::new(),
            bad_lines_seen: 0,
        }
    }

    pub fn apply_chunk(&mut self, origin: ChunkOrigin, chunk: ParsedChunk, sink: &mut dyn Sink) {
        self.local_map.clear();
        for cs in &chunk.series {
            let (id, new) = self.catalog.intern(cs);
            if new {
                let info = &self.catalog.series[id as usize];
                let wanted = sink.want_series(id, info);
                self.series.push(SeriesState {
                    wanted,
                    last_export: NONE,
                    pending_export: NONE,
                    last_timestamp: i64::MIN,
                    latest_timestamp: i64::MIN,
                    last_start: None,
                    last_value: None,
                    value_before_drop: None,
                });
                while self.processes.len() < self.catalog.processes.len() {
                    self.processes.push(ProcessState::default());
                }
            }
            self.local_map.push(id);
        }
        let mut bad = chunk.bad.iter().map(|b| b.line).peekable();
        for sample in chunk.samples {
            while bad.next_if(|&line| line < sample.line).is_some() {
                self.bad_lines_seen += 1;
            }
            let id = self.local_map[sample.series as usize];
            self.push(origin, id, sample, sink);
        }
        self.bad_lines_seen += bad.count() as u64;
    }

    fn push(&mut self, origin: ChunkOrigin, id: SeriesId, sample: Sample, sink: &mut dyn Sink) {
        self.stats.samples += 1;
        let ts = sample.timestamp;
        self.stats.newest_timestamp = Some(self.stats.newest_timestamp.map_or(ts, |n| n.max(ts)));
        self.stats.oldest_timestamp = Some(self.stats.oldest_timestamp.map_or(ts, |n| n.min(ts)));
        let state = &mut self.series[id as usize];
        if ts < state.latest_timestamp {
            self.stats.out_of_order += 1;
            if self.stats.first_out_of_order.is_none() {
                self.stats.first_out_of_order = Some((origin, sample.line, id));
            }
            return;
        }
        state.latest_timestamp = ts;
        let pid = self.catalog.series[id as usize].process;
        let process = &mut self.processes[pid as usize];
        let repeats = state.pending_export == process.export && process.export_started;
        let gap = process.export_started && ts - process.export_last_timestamp > EXPORT_GAP;
        if repeats || gap {
            self.flush(pid, sink);
        }
        let process = &mut self.processes[pid as usize];
        if !process.export_started {
            process.export_started = true;
            process.export_first_timestamp = ts;
            process.bad_lines_at_export_start = self.bad_lines_seen;
        }
        process.export_last_timestamp = process.export_last_timestamp.max(ts);
        self.series[id as usize].pending_export = process.export;
        process.pending.push((id, sample));
    }

    /// Completes the pending export of a process: decides whether it follows a restart,
    /// then computes and hands out its steps.
    fn flush(&mut self, pid: ProcessId, sink: &mut dyn Sink) {
        let process = &mut self.processes[pid as usize];
        if !process.export_started {
            return;
        }
        let export = process.export;
        let pending = std::mem::take(&mut process.pending);
        let mut restart: Option<RestartReason> = None;
        let mut continuing = 0u32;
        let mut cumulative = 0u32;
        for (id, sample) in &pending {
            if sample.delta {
                continue;
            }
            cumulative += 1;
            let state = &self.series[*id as usize];
            if state.last_export == NONE {
                continue;
            }
            if state.last_export + 1 == export {
                continuing += 1;
            }
            // Evidence that an already recorded restart explains (a series that missed
            // exports since) is not a new restart.
            if restarted_between(&self.processes[pid as usize].restart_exports, state.last_export, export) {
                continue;
            }
            let metric_type = self.catalog.series[*id as usize].key.metric_type;
            if restart.is_none() {
                if let (Some(new), Some(old)) = (sample.start_timestamp, state.last_start) {
                    if new != old {
                        restart = Some(RestartReason::StartTimestamp { series: *id });
                    }
                } else if sample.start_timestamp.is_some_and(|s| s > state.last_timestamp) {
                    restart = Some(RestartReason::StartTimestamp { series: *id });
                }
            }
            if restart.is_none() && metric_type != MetricType::Gauge {
                if let Some(old) = &state.last_value {
                    if decreased(old, &sample.value) {
                        restart = Some(RestartReason::Decrease { series: *id });
                    }
                }
            }
        }
        let process = &mut self.processes[pid as usize];
        // A series missing from an export means the process restarted (cumulative series
        // never disappear), unless a bad line since the previous export explains it, or
        // the exports are too close together (< EXPORT_GAP) to be told apart reliably:
        // lines of one could then have been grouped with the other.
        let bad_line_nearby = self.bad_lines_seen > process.bad_lines_at_previous_export;
        let separated = process.export_first_timestamp - process.previous_export_last_timestamp > EXPORT_GAP;
        if restart.is_none() && export > 0 && continuing < process.previous_cumulative && !bad_line_nearby && separated
        {
            restart = Some(RestartReason::Vanished { count: process.previous_cumulative - continuing });
        }
        // Exports closer together than EXPORT_GAP cannot be grouped reliably: evidence
        // may sit in the wrong group, so it is not applied to the whole process; each
        // series still resets on its own decrease or changed start_timestamp.
        if !separated && export > 0 {
            restart = None;
        }
        if let Some(reason) = restart {
            let timestamp = pending.first().map_or(0, |(_, s)| s.timestamp);
            process.restart_exports.push(export);
            process.restarts.push(Restart { timestamp, reason });
        }
        process.previous_cumulative = cumulative;
        process.previous_export_last_timestamp = process.export_last_timestamp;
        process.bad_lines_at_previous_export = process.bad_lines_at_export_start;
        process.exports += 1;
        process.export += 1;
        process.export_started = false;
        let restart_exports = std::mem::take(&mut process.restart_exports);

        let window = self.options.window;
        let input_start = self.stats.oldest_timestamp.unwrap_or(i64::MIN);
        for (id, sample) in pending {
            let state = &mut self.series[id as usize];
            let info = &self.catalog.series[id as usize];
            let metric_type = info.key.metric_type;
            let kind = if sample.delta {
                StepKind::Delta
            } else if state.last_export == NONE {
                // A start inside the input means the series began there: count from zero.
                let started_inside = sample.start_timestamp.is_some_and(|s| s >= input_start);
                if self.options.baseline && !started_inside {
                    StepKind::Baseline
                } else {
                    StepKind::First
                }
            } else if restarted_between(&restart_exports, state.last_export, export)
                || (metric_type != MetricType::Gauge
                    && state.last_value.as_ref().is_some_and(|old| decreased(old, &sample.value)))
                || matches!((sample.start_timestamp, state.last_start), (Some(new), Some(old)) if new != old)
            {
                StepKind::Restart
            } else {
                StepKind::Continue
            };
            let increase = match (metric_type, kind) {
                (MetricType::Gauge, _) => Increase::None,
                (_, StepKind::Baseline) => zero_like(&sample.value),
                (_, StepKind::First | StepKind::Restart | StepKind::Delta) => as_increase(&sample.value),
                (_, StepKind::Continue) => match &state.last_value {
                    Some(old) => difference(old, &sample.value),
                    None => as_increase(&sample.value),
                },
            };
            let previous_timestamp = (state.last_export != NONE).then_some(state.last_timestamp);
            if metric_type != MetricType::Gauge && !sample.delta {
                if let Some((before, start_before)) = state.value_before_drop.take() {
                    // A restarted process that has already caught up with its old value
                    // has a new start time; a second writer brings the old one back.
                    let same_writer_back = sample.start_timestamp.is_none() || sample.start_timestamp == start_before;
                    if same_writer_back && !decreased(&before, &sample.value) {
                        self.processes[pid as usize].oscillations += 1;
                    }
                }
                if let Some(old) = &state.last_value {
                    if decreased(old, &sample.value) {
                        state.value_before_drop = Some((old.clone(), state.last_start));
                    }
                }
            }
            if state.wanted && window.contains(sample.timestamp) {
                let step =
                    Step { timestamp: sample.timestamp, previous_timestamp, kind, value: &sample.value, increase };
                sink.step(id, info, &step);
            }
            if !sample.delta {
                state.last_export = export;
                state.last_timestamp = sample.timestamp;
                state.last_start = sample.start_timestamp.or(state.last_start);
                state.last_value = Some(sample.value);
            }
            state.pending_export = NONE;
        }
        self.processes[pid as usize].restart_exports = restart_exports;
    }

    pub fn window(&self) -> Window {
        self.options.window
    }

    /// Completes every pending export; call once at the end of the input.
    pub fn finish(&mut self, sink: &mut dyn Sink) {
        for pid in 0..self.processes.len() {
            self.flush(pid as ProcessId, sink);
        }
    }

    /// Processes whose restarts are so frequent that several instances probably share
    /// one resource (and so cannot be told apart).
    pub fn suspicious_processes(&self) -> Vec<ProcessId> {
        (0..self.processes.len()).filter(|&p| self.processes[p].oscillations >= 2).map(|p| p as ProcessId).collect()
    }
}

fn restarted_between(restarts: &[u32], after: u32, upto: u32) -> bool {
    // First restart export > after.
    let i = restarts.partition_point(|&r| r <= after);
    restarts.get(i).is_some_and(|&r| r <= upto)
}

fn decreased(old: &SampleValue, new: &SampleValue) -> bool {
    match (old, new) {
        (SampleValue::Num(a), SampleValue::Num(b)) => b.less_than(*a),
        (SampleValue::Hist(a), SampleValue::Hist(b)) => {
            b.count < a.count || !a.same_layout(b) || a.counts.iter().zip(&b.counts).any(|(x, y)| y < x)
        }
        _ => true,
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
        SampleValue::Hist(h) => Increase::Hist(Histogram {
            count: 0,
            sum: 0.0,
            min: None,
            max: None,
            bounds: h.bounds.clone(),
            counts: vec![0; h.counts.len()],
        }),
    }
}

fn difference(old: &SampleValue, new: &SampleValue) -> Increase {
    match (old, new) {
        (SampleValue::Num(a), SampleValue::Num(b)) => Increase::Num(b.minus(*a)),
        (SampleValue::Hist(a), SampleValue::Hist(b)) if a.same_layout(b) => Increase::Hist(Histogram {
            count: b.count - a.count,
            sum: b.sum - a.sum,
            min: None,
            max: None,
            bounds: b.bounds.clone(),
            counts: b.counts.iter().zip(&a.counts).map(|(n, o)| n - o).collect(),
        }),
        _ => as_increase(new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_between_exports() {
        let r = [3, 7];
        assert!(!restarted_between(&r, 0, 2));
        assert!(restarted_between(&r, 2, 3));
        assert!(!restarted_between(&r, 3, 6));
        assert!(restarted_between(&r, 3, 9));
        assert!(!restarted_between(&r, 7, 9));
    }
}
