//! `metricsctl quantile [Q,...] [by LABELS]`: quantiles of a histogram over the window.
//!
//! The window's increase of every series' buckets is merged per group and fed to
//! Prometheus' `histogram_quantile` interpolation. The result can only be as precise as
//! the buckets: inside a bucket, observations are assumed evenly spread.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::cli::{split_positionals, QuantileArgs};
use crate::cmd::{group_cells, warn_nothing_matched};
use crate::output::{Cell, Table, Terminal};
use metricsctl_engine::engine::{Increase, SeriesId, SeriesInfo, Sink, Step};
use metricsctl_engine::group::Grouper;
use metricsctl_engine::query::QueryInput;
use metricsctl_format::histogram::{HistogramSum, ObservedRange};
use metricsctl_format::record::{MetricType, Num, SampleValue};

/// The histogram `quantile` reads when none is named: request latency.
pub const DEFAULT_HISTOGRAM: &str = "http_server_request_duration_seconds";
pub const DEFAULT_QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

pub struct QuantileSink {
    pub grouper: Grouper,
    pub sums: Vec<HistogramSum>,
    /// Per group: the recorded range of the samples whose increases were counted.
    pub observed: Vec<ObservedRange>,
    not_histograms: Vec<String>,
}

impl QuantileSink {
    pub fn new(by: Vec<String>) -> QuantileSink {
        QuantileSink { grouper: Grouper::new(by), sums: Vec::new(), observed: Vec::new(), not_histograms: Vec::new() }
    }

    /// The `q` quantile of a group, clamped to the recorded min and max when every
    /// counted sample carried them.
    pub fn quantile(&self, group: usize, q: f64) -> Option<f64> {
        Some(self.observed[group].clamp(self.sums[group].quantile(q)?))
    }
}

impl Sink for QuantileSink {
    fn want_series(&mut self, id: SeriesId, info: &SeriesInfo) -> bool {
        if info.key.metric_type != MetricType::Histogram {
            if !self.not_histograms.iter().any(|m| **m == *info.key.metric) {
                self.not_histograms.push(info.key.metric.to_string());
            }
            return false;
        }
        let Some(group) = self.grouper.assign(id, info) else { return false };
        if self.sums.len() <= group {
            self.sums.resize_with(group + 1, HistogramSum::default);
            self.observed.resize(group + 1, ObservedRange::Unset);
        }
        true
    }

    fn step(&mut self, id: SeriesId, _info: &SeriesInfo, step: &Step<'_>) {
        if let (Some(group), Increase::Hist(h)) = (self.grouper.group_of(id), &step.increase) {
            self.sums[group].add(h);
            if h.count == 0 {
                return;
            }
            let SampleValue::Hist(sample) = step.value else { return };
            self.observed[group].include(sample);
        }
    }
}

/// Column name of a quantile: 0.5 -> p50, 0.999 -> p99.9.
pub fn quantile_name(q: f64) -> String {
    let pct = q * 100.0;
    let text = format!("{pct:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("p{text}")
}

pub fn run(args: QuantileArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let pos = split_positionals(&args.args, &args.by, true)?;
    let quantiles = pos.quantiles.clone().unwrap_or_else(|| DEFAULT_QUANTILES.to_vec());
    if quantiles.is_empty() {
        bail!("no quantiles given");
    }
    let filter = args.filter.build(Some(DEFAULT_HISTOGRAM))?;
    let input = QueryInput::new(&pos.files, filter, args.input.strict, args.semantics.baseline)?;
    let mut sink = QuantileSink::new(pos.by);
    input.run(&mut sink)?;
    sink.grouper.finish()?;
    if !sink.not_histograms.is_empty() {
        eprintln!("warning: ignored metric(s) that are not histograms: {}", sink.not_histograms.join(", "));
    }
    if sink.grouper.keys.is_empty() {
        warn_nothing_matched(&args.filter.metric, DEFAULT_HISTOGRAM);
    }
    let mut columns = vec!["count".to_string(), "mean".to_string()];
    columns.extend(quantiles.iter().map(|&q| quantile_name(q)));
    let reserved: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut headers = sink.grouper.headers(&reserved);
    headers.extend(columns.iter().cloned());
    let mut order: Vec<usize> = (0..sink.sums.len()).collect();
    order.sort_by(|&a, &b| sink.sums[b].count.cmp(&sink.sums[a].count).then(a.cmp(&b)));
    let mut table = Table::new(headers);
    for g in order {
        let s = &sink.sums[g];
        let mut row = group_cells(&sink.grouper, g);
        row.push(Cell::Num(Num::Int(i128::from(s.count))));
        row.push(s.mean().map_or(Cell::Empty, Cell::Float));
        row.extend(quantiles.iter().map(|&q| sink.quantile(g, q).map_or(Cell::Empty, Cell::Float)));
        table.rows.push(row);
    }
    table.write(args.output.format, Terminal::detect(), out)?;
    input.finished()
}

#[cfg(test)]
mod tests {
    use super::quantile_name;

    #[test]
    fn names() {
        assert_eq!(quantile_name(0.5), "p50");
        assert_eq!(quantile_name(0.99), "p99");
        assert_eq!(quantile_name(0.999), "p99.9");
    }
}
