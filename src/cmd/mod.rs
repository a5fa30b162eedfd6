//! One module per subcommand, each with a `run` function; shared grouping here.

pub mod check;
pub mod completions;
pub mod explain;
pub mod load_test;
pub mod quantile;
pub mod rate;
pub mod receive;
pub mod serve;
pub mod sum;
pub mod tail;
pub mod to_prometheus;

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::engine::{SeriesId, SeriesInfo};
use crate::filter::{lookup_label, Filter, LabelValue};
use crate::input::{sources, Source};
use crate::output::Cell;
use crate::query::{self, QueryOptions};
use crate::record::MetricType;

/// A group: the metric (always part of the key, shown when several metrics are
/// selected) and the values of the `by` labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    pub metric: String,
    pub metric_type: MetricType,
    pub labels: Vec<LabelValue>,
}

/// Assigns series to groups by label values, once per series.
pub struct Grouper {
    pub labels: Vec<String>,
    label_seen: Vec<bool>,
    index: HashMap<GroupKey, usize>,
    pub keys: Vec<GroupKey>,
    series_group: Vec<usize>,
    pub error: Option<anyhow::Error>,
}

const NO_GROUP: usize = usize::MAX;

impl Grouper {
    pub fn new(labels: Vec<String>) -> Grouper {
        Grouper {
            label_seen: vec![false; labels.len()],
            labels,
            index: HashMap::new(),
            keys: Vec::new(),
            series_group: Vec::new(),
            error: None,
        }
    }

    /// Files the series into its group; returns the group, or `None` on a lookup error
    /// (kept for `finish`).
    pub fn assign(&mut self, id: SeriesId, info: &SeriesInfo) -> Option<usize> {
        let mut values = Vec::with_capacity(self.labels.len());
        for (i, name) in self.labels.iter().enumerate() {
            match lookup_label(&info.key, &info.meta, name) {
                Ok(v) => {
                    if v != LabelValue::Missing {
                        self.label_seen[i] = true;
                    }
                    values.push(v);
                }
                Err(e) => {
                    self.error.get_or_insert(e);
                    return None;
                }
            }
        }
        let key = GroupKey { metric: info.key.metric.clone(), metric_type: info.key.metric_type, labels: values };
        let next = self.keys.len();
        let group = *self.index.entry(key.clone()).or_insert(next);
        if group == next {
            self.keys.push(key);
        }
        let id = id as usize;
        if self.series_group.len() <= id {
            self.series_group.resize(id + 1, NO_GROUP);
        }
        self.series_group[id] = group;
        Some(group)
    }

    pub fn group_of(&self, id: SeriesId) -> Option<usize> {
        self.series_group.get(id as usize).copied().filter(|&g| g != NO_GROUP)
    }

    /// Reports a lookup error, or a `by` label no selected series has (a typo).
    pub fn finish(&mut self) -> Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if !self.keys.is_empty() {
            for (label, seen) in self.labels.iter().zip(&self.label_seen) {
                if !seen {
                    bail!("no selected series has a label {label:?} (labels can be given by full attribute name, e.g. http.route, or by its last segment, e.g. route)");
                }
            }
        }
        Ok(())
    }

    /// Whether rows need a `metric` column: several metrics and not already grouped by it.
    pub fn show_metric(&self) -> bool {
        let first = self.keys.first().map(|k| &k.metric);
        !self.labels.iter().any(|l| l == "metric") && self.keys.iter().any(|k| Some(&k.metric) != first)
    }

    /// The group columns: `metric` when several metrics are shown, then the `by` labels
    /// as named, but a label named like one of the command's own columns (`reserved`)
    /// gets the suffix `_label`, so that no key is lost or doubled.
    pub fn headers(&self, reserved: &[&str]) -> Vec<String> {
        let mut h = Vec::new();
        if self.show_metric() {
            h.push("metric".to_string());
        }
        h.extend(self.labels.iter().map(|l| {
            let clashes = reserved.contains(&l.as_str());
            if clashes {
                format!("{l}_label")
            } else {
                l.clone()
            }
        }));
        h
    }

    pub fn cells(&self, group: usize) -> Vec<Cell> {
        let key = &self.keys[group];
        let mut c = Vec::new();
        if self.show_metric() {
            c.push(Cell::Text(key.metric.clone()));
        }
        c.extend(key.labels.iter().map(|v| Cell::Json(v.to_json())));
        c
    }
}

/// Everything a query command needs to read its input.
pub struct QueryInput {
    pub sources: Vec<Source>,
    pub filter: Filter,
    pub options: QueryOptions,
}

impl QueryInput {
    pub fn new(files: &[PathBuf], filter: Filter, strict: bool, baseline: bool) -> Result<QueryInput> {
        Ok(QueryInput {
            sources: sources(files)?,
            filter,
            options: QueryOptions { strict, baseline, ..QueryOptions::default() },
        })
    }

    /// The command's exit once its answer is out: an error when a compressed input was
    /// cut short (the answer covers what came before).
    pub fn finished(&self) -> Result<std::process::ExitCode> {
        let damage: Vec<String> = self.sources.iter().filter_map(Source::damage).collect();
        if !damage.is_empty() {
            bail!("{}", damage.join("; "));
        }
        Ok(std::process::ExitCode::SUCCESS)
    }

    /// Runs the query into `sink`, printing warnings about the input on stderr.
    pub fn run(&self, sink: &mut dyn crate::engine::Sink) -> Result<crate::engine::Engine> {
        let (engine, report) = query::run(&self.sources, &self.filter, &self.options, sink)?;
        if let Some(e) = report.nothing_valid(&self.sources) {
            return Err(e);
        }
        query::warn_bad_lines(&self.sources, &report);
        query::warn_engine_findings(&self.sources, &engine, !self.options.latest_only);
        Ok(engine)
    }
}

/// Says on stderr that nothing matched, naming the metrics asked for.
pub fn warn_nothing_matched(metrics: &[String], default: &str) {
    let wanted = if metrics.is_empty() { default.to_string() } else { metrics.join(", ") };
    eprintln!("warning: no series matched (metric {wanted}, with the filters given)");
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, the ways a long-running command is stopped.
pub async fn termination() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
