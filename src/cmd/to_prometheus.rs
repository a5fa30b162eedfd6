//! `metricsctl to-prometheus`: the latest sample of every series as a Prometheus scrape
//! would show it (text 0.0.4 or OpenMetrics), or with `--history` every sample with its
//! timestamp as OpenMetrics for `promtool tsdb create-blocks-from openmetrics`.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::ToPrometheusArgs;
use crate::cmd::QueryInput;
use crate::engine::{ProcessId, SeriesId, SeriesInfo, Sink, Step, StepKind};
use crate::prometheus::{
    target_info_labels, write_exposition, ExposedSample, ExposedValue, ExpositionFormat, FamilyBuilder, TargetInfo,
};
use crate::record::{Histogram, MetricType, Num, SampleValue};

pub struct ExpositionSink {
    builder: FamilyBuilder,
    resource_labels: bool,
    history: bool,
    labels: HashMap<SeriesId, Vec<(String, String)>>,
    /// Latest value per series (or the running total of delta lines).
    current: HashMap<SeriesId, (i64, ExposedValue)>,
    processes: BTreeSet<ProcessId>,
    /// With `--history`: when each process exported (at most one time per second).
    export_times: HashMap<ProcessId, Vec<i64>>,
    meta: HashMap<SeriesId, (String, MetricType)>,
    pub error: Option<anyhow::Error>,
}

impl ExpositionSink {
    pub fn new(resource_labels: bool, history: bool) -> ExpositionSink {
        ExpositionSink {
            builder: FamilyBuilder::default(),
            resource_labels,
            history,
            labels: HashMap::new(),
            current: HashMap::new(),
            processes: BTreeSet::new(),
            export_times: HashMap::new(),
            meta: HashMap::new(),
            error: None,
        }
    }
}

fn add_histograms(total: &Histogram, delta: &Histogram) -> Histogram {
    if !total.same_layout(delta) {
        return delta.clone();
    }
    Histogram {
        count: total.count + delta.count,
        sum: total.sum + delta.sum,
        min: None,
        max: None,
        bounds: total.bounds.clone(),
        counts: total.counts.iter().zip(&delta.counts).map(|(a, b)| a + b).collect(),
    }
}

impl Sink for ExpositionSink {
    fn want_series(&mut self, id: SeriesId, info: &SeriesInfo) -> bool {
        match self.builder.labels_for(id, &info.key, &info.meta, self.resource_labels) {
            Ok(labels) => {
                self.labels.insert(id, labels);
                self.processes.insert(info.process);
                self.meta.insert(id, (info.key.metric.clone(), info.key.metric_type));
                true
            }
            Err(e) => {
                self.error.get_or_insert(e);
                false
            }
        }
    }

    fn step(&mut self, id: SeriesId, info: &SeriesInfo, step: &Step<'_>) {
        if self.history {
            let times = self.export_times.entry(info.process).or_default();
            if times.last().is_none_or(|&t| step.timestamp >= t + crate::timestamp::NANOS_PER_SEC) {
                times.push(step.timestamp);
            }
        }
        let value = match (step.value, step.kind) {
            // Prometheus counters are cumulative: delta lines add up.
            (SampleValue::Num(n), StepKind::Delta) => {
                let before = match self.current.get(&id) {
                    Some((_, ExposedValue::Num(t))) => *t,
                    _ => Num::ZERO,
                };
                ExposedValue::Num(before.plus(*n))
            }
            (SampleValue::Hist(h), StepKind::Delta) => match self.current.get(&id) {
                Some((_, ExposedValue::Hist(t))) => ExposedValue::Hist(add_histograms(t, h)),
                _ => ExposedValue::Hist((**h).clone()),
            },
            (SampleValue::Num(n), _) => ExposedValue::Num(*n),
            (SampleValue::Hist(h), _) => ExposedValue::Hist((**h).clone()),
        };
        if self.history {
            if let (Some(labels), Some((metric, kind))) = (self.labels.get(&id), self.meta.get(&id)) {
                let sample =
                    ExposedSample { labels: labels.clone(), value: value.clone(), timestamp: Some(step.timestamp) };
                self.builder.push(metric, *kind, sample);
            }
        }
        let slot = self.current.entry(id).or_insert((step.timestamp, value.clone()));
        if step.timestamp >= slot.0 {
            *slot = (step.timestamp, value);
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a
/// rename: readers never see a partial file, and a failure leaves the old one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().with_context(|| format!("{} is not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
        f.sync_all().with_context(|| format!("cannot sync {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub fn run(args: ToPrometheusArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let filter = args.filter.build(None)?;
    let input = QueryInput::new(&args.files, filter, args.input.strict, false)?;
    let mut sink = ExpositionSink::new(args.resource_labels, args.history);
    let engine = input.run(&mut sink)?;
    if let Some(e) = sink.error.take() {
        return Err(e);
    }
    let format = ExpositionFormat { openmetrics: args.openmetrics || args.history };
    let mut builder = std::mem::take(&mut sink.builder);
    if !args.history {
        for (id, (_, value)) in sink.current.drain() {
            if let (Some(labels), Some((metric, kind))) = (sink.labels.get(&id), sink.meta.get(&id)) {
                builder.push(metric, *kind, ExposedSample { labels: labels.clone(), value, timestamp: None });
            }
        }
    }
    let mut target_info: Vec<TargetInfo> = Vec::new();
    for &p in sink.processes.iter().filter(|_| !args.resource_labels) {
        let info = &engine.catalog.processes[p as usize];
        let Some(labels) = target_info_labels(&info.service, &info.meta_resource) else { continue };
        match sink.export_times.get(&p) {
            Some(times) if args.history => target_info.extend(times.iter().map(|&t| (labels.clone(), Some(t)))),
            _ => target_info.push((labels, None)),
        }
    }
    let mut families = builder.into_families();
    let mut bytes = Vec::with_capacity(1 << 16);
    write_exposition(&mut bytes, &mut families, &target_info, format);
    match &args.output {
        Some(path) => write_atomically(path, &bytes)?,
        None => out.write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}
