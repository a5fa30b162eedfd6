//! The latest sample of every series, as a Prometheus scrape shows it. One path for
//! `to-prometheus`, `serve` (files that keep growing) and the embedded Prometheus
//! exporter (the SDK's current state): the engine's semantics, then [`crate::text`]'s
//! writer, so that the three agree on names, labels and values.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::history::{ExternalSorter, SortKey, DEFAULT_RUN_BYTES};
use crate::text::{
    target_info_labels, write_exposition, write_family_header, write_family_sample, write_target_info_header,
    write_target_info_sample, ExposedSample, ExpositionFormat, FamilyBuilder, Labels, TargetInfo, TARGET_INFO,
};
use metricsctl_engine::engine::{Catalog, ProcessId, SeriesId, SeriesInfo, Sink, Step, StepKind};
use metricsctl_engine::live::{Fed, LiveEngine};
use metricsctl_format::record::{Num, SampleValue};
use metricsctl_format::value::CompactValue;
use metricsctl_reader::matcher::MetricMatcher;
use metricsctl_reader::scan::{ParsedChunk, ScanOptions};

/// Keeps, per series, its latest value (delta lines summed into a cumulative value),
/// and with `history` every sample.
pub struct ExpositionSink {
    builder: FamilyBuilder,
    resource_labels: bool,
    history: bool,
    /// By series id (the catalog's ids are dense): `None` for series not exposed.
    labels: Vec<Option<Labels>>,
    /// Latest value per series (or the running total of delta lines), with its time.
    current: Vec<Option<Current>>,
    processes: BTreeSet<ProcessId>,
    /// Newest sample of each process, and its latest export: a cumulative series whose
    /// latest sample is from an earlier export was not in it.
    process_newest: HashMap<ProcessId, i64>,
    process_export: HashMap<ProcessId, u32>,
    /// Series written as deltas: the SDK leaves a delta series out of an export when it
    /// did not change, so missing from an export does not make it stale.
    delta_series: HashSet<SeriesId>,
    /// With `--history`: when each process exported (at most one time per second).
    export_times: HashMap<ProcessId, Vec<i64>>,
    /// With `--history`: every sample's lines, sorted in bounded memory.
    sorter: Option<ExternalSorter>,
    pub error: Option<anyhow::Error>,
}

/// A series' latest value, with its time and its process's export. The value is kept
/// compact (16 bytes, not 32: a million series of a cardinality explosion each keep one).
struct Current {
    timestamp: i64,
    export: u32,
    value: CompactValue,
}

/// When a series stops being exposed, as a scrape of its process would stop showing it.
#[derive(Debug, Clone, Copy)]
pub struct Staleness {
    /// A series whose latest sample is this much older than the newest sample of the
    /// input is gone (its process stopped exporting).
    pub after_nanos: i64,
}

impl ExpositionSink {
    pub fn new(resource_labels: bool, history: bool) -> ExpositionSink {
        ExpositionSink {
            builder: FamilyBuilder::default(),
            resource_labels,
            history,
            labels: Vec::new(),
            current: Vec::new(),
            processes: BTreeSet::new(),
            process_newest: HashMap::new(),
            process_export: HashMap::new(),
            delta_series: HashSet::new(),
            export_times: HashMap::new(),
            sorter: history.then(|| ExternalSorter::new(DEFAULT_RUN_BYTES)),
            error: None,
        }
    }

    /// With `--history`: holds at most about `bytes` of samples in memory.
    pub fn with_run_bytes(mut self, bytes: usize) -> ExpositionSink {
        if self.history {
            self.sorter = Some(ExternalSorter::new(bytes));
        }
        self
    }

    fn labels_of(&self, id: SeriesId) -> Option<&Labels> {
        self.labels.get(id as usize)?.as_ref()
    }

    fn current_of(&self, id: SeriesId) -> Option<&Current> {
        self.current.get(id as usize)?.as_ref()
    }

    fn is_live(&self, id: SeriesId, process: ProcessId, current: &Current, newest: i64, staleness: Staleness) -> bool {
        if current.timestamp < newest.saturating_sub(staleness.after_nanos) {
            return false;
        }
        if self.delta_series.contains(&id) {
            return true;
        }
        self.process_export.get(&process).is_none_or(|&latest| current.export == latest)
    }

    /// The exposition of the latest samples; with `staleness`, series that a scrape of
    /// their process would no longer show are left out.
    pub fn render_latest(&self, catalog: &Catalog, format: ExpositionFormat, staleness: Option<Staleness>) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(1 << 16);
        self.write_latest(catalog, format, staleness, &mut bytes).expect("writing to memory does not fail");
        bytes
    }

    /// [`ExpositionSink::render_latest`] written out as it is made (`to-prometheus`).
    pub fn write_latest(
        &self,
        catalog: &Catalog,
        format: ExpositionFormat,
        staleness: Option<Staleness>,
        w: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let newest = self.process_newest.values().copied().max().unwrap_or(i64::MIN);
        let mut builder = self.builder.empty_families();
        let mut live_processes = BTreeSet::new();
        let current = self.current.iter().enumerate().filter_map(|(id, c)| Some((id as SeriesId, c.as_ref()?)));
        for (id, current) in current {
            let info = &catalog.series[id as usize];
            let process = info.process;
            if let Some(staleness) = staleness {
                if !self.is_live(id, process, current, newest, staleness) {
                    continue;
                }
            }
            if let Some(labels) = self.labels_of(id) {
                let sample = ExposedSample { labels: labels.clone(), value: current.value.clone(), timestamp: None };
                builder.push(&info.key.metric, info.key.metric_type, sample);
                live_processes.insert(process);
            }
        }
        let target_info = self.target_info(catalog, &live_processes, false);
        let mut families = builder.into_families();
        families.retain(|f| !f.samples.is_empty() || staleness.is_none());
        write_exposition(w, &mut families, &target_info, format)
    }

    /// Every sample with its timestamp (`--history`), as OpenMetrics. Returns how many
    /// sorted runs went through temporary files.
    pub fn write_history(&mut self, catalog: &Catalog, out: &mut dyn std::io::Write) -> anyhow::Result<usize> {
        let processes = self.processes.clone();
        let target_info = self.target_info(catalog, &processes, true);
        let mut sorter = self.sorter.take().ok_or_else(|| anyhow::anyhow!("not a --history exposition"))?;
        let format = ExpositionFormat { openmetrics: true };
        if !target_info.is_empty() {
            let mut header = Vec::new();
            write_target_info_header(&mut header, format);
            sorter.set_header(TARGET_INFO, header);
        }
        for sample in &target_info {
            let mut text = Vec::new();
            write_target_info_sample(&mut text, sample, format);
            let key = SortKey {
                family: TARGET_INFO.to_string(),
                labels: sample.0.clone(),
                timestamp: sample.1.unwrap_or(0),
                seq: 0,
            };
            sorter.push(key, text)?;
        }
        let runs = sorter.runs();
        sorter.write(out)?;
        Ok(runs)
    }

    fn target_info(&self, catalog: &Catalog, processes: &BTreeSet<ProcessId>, history: bool) -> Vec<TargetInfo> {
        let mut target_info = Vec::new();
        if self.resource_labels {
            return target_info;
        }
        for &p in processes {
            let info = &catalog.processes[p as usize];
            let Some(labels) = target_info_labels(&info.service, &info.meta_resource) else { continue };
            match self.export_times.get(&p) {
                Some(times) if history => target_info.extend(times.iter().map(|&t| (labels.clone(), Some(t)))),
                _ => target_info.push((labels, None)),
            }
        }
        target_info
    }
}

/// The value Prometheus sees after `step`, given the one it saw before: the sample's own
/// value, except that delta lines add up (Prometheus counters are cumulative; a new
/// histogram layout starts the total over).
pub fn exposed_value(before: Option<&SampleValue>, step: &Step<'_>) -> SampleValue {
    match (step.value, step.kind) {
        (SampleValue::Num(n), StepKind::Delta) => {
            let before = match before {
                Some(SampleValue::Num(t)) => *t,
                _ => Num::ZERO,
            };
            SampleValue::Num(before.plus(*n))
        }
        (SampleValue::Hist(h), StepKind::Delta) => match before {
            Some(SampleValue::Hist(t)) => SampleValue::Hist(Arc::new(t.plus(h).unwrap_or_else(|| (**h).clone()))),
            _ => SampleValue::Hist(Arc::clone(h)),
        },
        (value, _) => value.clone(),
    }
}

impl Sink for ExpositionSink {
    fn want_series(&mut self, id: SeriesId, info: &SeriesInfo) -> bool {
        match self.builder.labels_for(id, &info.key, info.meta(), self.resource_labels) {
            Ok(labels) => {
                put(&mut self.labels, id, labels);
                self.processes.insert(info.process);
                true
            }
            Err(e) => {
                self.error.get_or_insert(e);
                false
            }
        }
    }

    fn step(&mut self, id: SeriesId, info: &SeriesInfo, step: &Step<'_>) {
        let newest = self.process_newest.entry(info.process).or_insert(step.timestamp);
        *newest = (*newest).max(step.timestamp);
        let export = self.process_export.entry(info.process).or_insert(step.export);
        *export = (*export).max(step.export);
        if self.history {
            let times = self.export_times.entry(info.process).or_default();
            if times.last().is_none_or(|&t| step.timestamp >= t + metricsctl_format::timestamp::NANOS_PER_SEC) {
                times.push(step.timestamp);
            }
        }
        if step.kind == StepKind::Delta {
            self.delta_series.insert(id);
        }
        // Only a delta line's value depends on the one before.
        let before = (step.kind == StepKind::Delta).then(|| self.current_of(id).map(|c| c.value.expand())).flatten();
        let value = exposed_value(before.as_ref(), step);
        if let Some(sorter) = self.sorter.as_mut() {
            let family = self.builder.family(&info.key.metric, info.key.metric_type);
            if let (Some(Some(labels)), Some(family)) = (self.labels.get(id as usize), family) {
                let format = ExpositionFormat { openmetrics: true };
                let name = family.exposed_name(true);
                if !sorter.has_header(&name) {
                    let mut header = Vec::new();
                    write_family_header(&mut header, family, format);
                    sorter.set_header(&name, header);
                }
                let sample = ExposedSample {
                    labels: labels.clone(),
                    value: CompactValue::from(value.clone()),
                    timestamp: Some(step.timestamp),
                };
                let mut text = Vec::with_capacity(256);
                write_family_sample(&mut text, family, &sample, format);
                let key = SortKey { family: name, labels: labels.to_vec(), timestamp: step.timestamp, seq: 0 };
                if let Err(e) = sorter.push(key, text) {
                    self.error.get_or_insert(e);
                }
            }
        }
        if self.current_of(id).is_none_or(|c| step.timestamp >= c.timestamp) {
            put(
                &mut self.current,
                id,
                Current { timestamp: step.timestamp, export: step.export, value: CompactValue::from(value) },
            );
        }
    }
}

/// Sets `slots[id]`, growing `slots` as ids come.
fn put<T>(slots: &mut Vec<Option<T>>, id: SeriesId, value: T) {
    let id = id as usize;
    if slots.len() <= id {
        slots.resize_with(id + 1, || None);
    }
    slots[id] = Some(value);
}

/// Lines fed as they arrive (a followed file, an SDK collection), exposed on demand.
pub struct LiveExposition {
    live: LiveEngine,
    sink: ExpositionSink,
}

impl LiveExposition {
    pub fn new(resource_labels: bool) -> LiveExposition {
        LiveExposition {
            live: LiveEngine::new(MetricMatcher::default()),
            sink: ExpositionSink::new(resource_labels, false),
        }
    }

    /// Feeds whole lines of `source`; returns its bad lines with their 1-based numbers.
    /// The exports they complete are exposed at once; one still being written is not,
    /// until it is complete or its time is up.
    pub fn feed(&mut self, source: usize, bytes: Vec<u8>) -> Vec<(u64, String)> {
        self.live.feed(source, bytes, &mut self.sink)
    }

    /// Applies a block parsed elsewhere (the parallel reader), the next of its source;
    /// returns its bad lines with their 1-based numbers.
    pub fn apply(&mut self, chunk: ParsedChunk) -> Vec<(u64, String)> {
        self.live.apply(chunk, &mut self.sink)
    }

    /// Exposes the pending exports that are complete, or whose time is up by the wall
    /// clock (a file that is no longer written shows all it holds).
    pub fn settle(&mut self) {
        self.live.settle(&mut self.sink);
    }

    /// Exposes everything fed, a pending export included (one complete collection).
    pub fn finish(&mut self) {
        self.live.finish(&mut self.sink);
    }

    /// A label clash or collision found in what was fed (the series is not exposed).
    pub fn take_error(&mut self) -> Option<anyhow::Error> {
        self.sink.error.take()
    }

    pub fn render(&self, format: ExpositionFormat, staleness: Option<Staleness>) -> Vec<u8> {
        self.sink.render_latest(&self.live.engine.catalog, format, staleness)
    }

    /// [`LiveExposition::render`] written out as it is made (`serve`: a million series
    /// are gigabytes of text).
    pub fn write(
        &self,
        format: ExpositionFormat,
        staleness: Option<Staleness>,
        w: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        self.sink.write_latest(&self.live.engine.catalog, format, staleness, w)
    }

    pub fn series(&self) -> usize {
        self.live.engine.catalog.series.len()
    }
}

impl Fed for LiveExposition {
    fn scan_options(&self) -> ScanOptions {
        self.live.scan_options().clone()
    }
    fn apply(&mut self, chunk: ParsedChunk) -> Vec<(u64, String)> {
        LiveExposition::apply(self, chunk)
    }
    fn feed(&mut self, source: usize, bytes: Vec<u8>) -> Vec<(u64, String)> {
        LiveExposition::feed(self, source, bytes)
    }
    fn caught_up(&mut self) {
        self.live.caught_up(&mut self.sink);
    }
    fn settle(&mut self) {
        LiveExposition::settle(self);
    }
    fn take_error(&mut self) -> Option<anyhow::Error> {
        LiveExposition::take_error(self)
    }
}

pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The format a scraper asked for in its `Accept` header: OpenMetrics when it prefers it
/// (Prometheus does), the text format otherwise.
pub fn negotiate(accept: Option<&str>) -> ExpositionFormat {
    let mut openmetrics_q = 0.0f32;
    let mut text_q = 0.0f32;
    for range in accept.unwrap_or("").split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut q = 1.0f32;
        let mut version_ok = true;
        for param in parts {
            if let Some(v) = param.strip_prefix("q=") {
                q = v.parse().unwrap_or(0.0);
            } else if let Some(v) = param.strip_prefix("version=") {
                // OpenMetrics 0.0.1 and 1.0.0 are what this writer produces.
                version_ok = media != "application/openmetrics-text" || v == "1.0.0" || v == "0.0.1";
            }
        }
        match media.as_str() {
            "application/openmetrics-text" if version_ok => openmetrics_q = openmetrics_q.max(q),
            "text/plain" | "*/*" | "text/*" => text_q = text_q.max(q),
            _ => {}
        }
    }
    ExpositionFormat { openmetrics: openmetrics_q > 0.0 && openmetrics_q >= text_q }
}

pub fn content_type(format: ExpositionFormat) -> &'static str {
    if format.openmetrics {
        OPENMETRICS_CONTENT_TYPE
    } else {
        TEXT_CONTENT_TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_gets_openmetrics_and_curl_gets_text() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(negotiate(Some(prometheus)).openmetrics);
        assert!(!negotiate(Some("*/*")).openmetrics);
        assert!(!negotiate(None).openmetrics);
        assert!(!negotiate(Some("text/plain;version=0.0.4,application/openmetrics-text;q=0.2")).openmetrics);
        assert!(!negotiate(Some("application/openmetrics-text;version=2.0.0")).openmetrics);
    }

    /// `--history` through temporary files (a run per sample) writes exactly what the
    /// in-memory sort writes, and what the old all-in-memory writer wrote.
    #[test]
    fn history_spilled_to_temporary_files_is_identical() {
        let history = |run_bytes: usize, fixture: &str| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(fixture);
            let filter = metricsctl_engine::filter::Filter::default();
            let input = metricsctl_engine::query::QueryInput::new(&[path], filter, false, false).unwrap();
            let mut sink = ExpositionSink::new(false, true).with_run_bytes(run_bytes);
            let engine = input.run(&mut sink).unwrap();
            let mut out = Vec::new();
            let runs = sink.write_history(&engine.catalog, &mut out).unwrap();
            (String::from_utf8(out).unwrap(), runs)
        };
        for fixture in ["prometheus_roundtrip.jsonl", "restarts.jsonl", "histograms.jsonl", "delta.jsonl"] {
            let (in_memory, runs) = history(usize::MAX, fixture);
            assert_eq!(runs, 0);
            let (spilled, runs) = history(1, fixture);
            assert!(runs >= 2, "{fixture}: {runs} runs");
            assert_eq!(spilled, in_memory, "{fixture}");
            crate::validate_exposition(&in_memory, true).unwrap();
        }
    }

    /// Reading only each series' newest value (to-prometheus, serve) exposes exactly what
    /// reading every line does, whatever the block boundaries.
    #[test]
    fn newest_values_only_expose_the_same() {
        let expose = |fixture: &str, latest_only: bool, block_size: usize| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(fixture);
            let filter = metricsctl_engine::filter::Filter::default();
            let mut input = metricsctl_engine::query::QueryInput::new(&[path], filter, false, false).unwrap();
            input.options.latest_only = latest_only;
            input.options.block_size = block_size;
            let mut sink = ExpositionSink::new(false, false);
            let engine = input.run(&mut sink).unwrap();
            String::from_utf8(sink.render_latest(&engine.catalog, ExpositionFormat::default(), None)).unwrap()
        };
        for fixture in [
            "prometheus_roundtrip.jsonl",
            "restarts.jsonl",
            "histograms.jsonl",
            "delta.jsonl",
            "bad_lines.jsonl",
            "seed_timeline.jsonl",
            "two_instances.jsonl",
        ] {
            let every_line = expose(fixture, false, 1 << 20);
            assert!(every_line.lines().count() >= 3, "{fixture}: {every_line}");
            for block_size in [200, 1000, 1 << 20] {
                assert_eq!(expose(fixture, true, block_size), every_line, "{fixture}, blocks of {block_size}");
            }
        }
    }

    #[test]
    fn delta_lines_add_up_and_stale_series_are_left_out() {
        let lines = concat!(
            r#"{"timestamp":"2025-01-01T00:00:00Z","service_name":"a","metric_name":"c_total","metric_type":"counter","value":5,"attributes":{"k":"x"}}"#,
            "\n",
            r#"{"timestamp":"2025-01-01T00:00:00Z","service_name":"a","metric_name":"c_total","metric_type":"counter","value":1,"attributes":{"k":"gone"}}"#,
            "\n",
            r#"{"timestamp":"2025-01-01T00:00:00Z","service_name":"a","metric_name":"d_total","metric_type":"counter","value":2,"temporality":"delta"}"#,
            "\n",
            r#"{"timestamp":"2025-01-01T00:00:10Z","service_name":"a","metric_name":"c_total","metric_type":"counter","value":7,"attributes":{"k":"x"}}"#,
            "\n",
            r#"{"timestamp":"2025-01-01T00:00:10Z","service_name":"a","metric_name":"d_total","metric_type":"counter","value":3,"temporality":"delta"}"#,
            "\n",
            r#"{"timestamp":"2025-01-01T00:00:20Z","service_name":"a","metric_name":"c_total","metric_type":"counter","value":9,"attributes":{"k":"x"}}"#,
            "\n",
        );
        let mut live = LiveExposition::new(false);
        assert!(live.feed(0, lines.as_bytes().to_vec()).is_empty());
        let text = |staleness| String::from_utf8(live.render(ExpositionFormat::default(), staleness)).unwrap();
        let all = text(None);
        assert!(all.contains("c_total{job=\"a\",k=\"x\"} 9\n"), "{all}");
        assert!(all.contains("c_total{job=\"a\",k=\"gone\"} 1\n"), "{all}");
        assert!(all.contains("d_total{job=\"a\"} 5\n"), "{all}");
        let scrape = text(Some(Staleness { after_nanos: 60 * metricsctl_format::timestamp::NANOS_PER_SEC }));
        assert!(!scrape.contains("gone"), "a series missing from the latest export is stale: {scrape}");
        assert!(scrape.contains("d_total{job=\"a\"} 5\n"), "an unchanged delta series is not stale: {scrape}");
        let scrape = text(Some(Staleness { after_nanos: 5 * metricsctl_format::timestamp::NANOS_PER_SEC }));
        assert!(!scrape.contains("d_total"), "{scrape}");
        assert!(scrape.contains("c_total{job=\"a\",k=\"x\"} 9\n"), "{scrape}");
    }
}
