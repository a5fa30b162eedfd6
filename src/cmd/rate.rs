//! `metricsctl rate [by LABELS] --step D`: per-second rate per group per time bucket.
//!
//! An increase is attributed to the bucket holding the later of its two samples; the
//! bucket's rate is its increase divided by the step. No extrapolation: every sample is
//! there.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::cli::{split_positionals, RateArgs};
use crate::cmd::{group_cells, warn_nothing_matched};
use crate::output::{sparkline, Cell, Format, Table, Terminal};
use metricsctl_engine::engine::{Increase, SeriesId, SeriesInfo, Sink, Step};
use metricsctl_engine::group::Grouper;
use metricsctl_engine::query::QueryInput;
use metricsctl_format::record::{MetricType, Num};
use metricsctl_format::timestamp::{format_utc, parse_duration, NANOS_PER_SEC};

use metricsctl_engine::sum::DEFAULT_METRIC;
const MAX_BUCKETS: i64 = 100_000;
const SPARKLINE_WIDTH: usize = 60;

pub struct RateSink {
    pub grouper: Grouper,
    step: i64,
    /// Per group: bucket start -> increase.
    pub buckets: Vec<BTreeMap<i64, Num>>,
    gauges: Vec<String>,
}

impl RateSink {
    pub fn new(by: Vec<String>, step: i64) -> RateSink {
        RateSink { grouper: Grouper::new(by), step, buckets: Vec::new(), gauges: Vec::new() }
    }
}

impl Sink for RateSink {
    fn want_series(&mut self, id: SeriesId, info: &SeriesInfo) -> bool {
        if info.key.metric_type == MetricType::Gauge {
            if !self.gauges.iter().any(|m| **m == *info.key.metric) {
                self.gauges.push(info.key.metric.to_string());
            }
            return false;
        }
        let Some(group) = self.grouper.assign(id, info) else { return false };
        if self.buckets.len() <= group {
            self.buckets.resize_with(group + 1, BTreeMap::new);
        }
        true
    }

    fn step(&mut self, id: SeriesId, _info: &SeriesInfo, step: &Step<'_>) {
        let Some(group) = self.grouper.group_of(id) else { return };
        let increase = match &step.increase {
            Increase::Num(n) => *n,
            Increase::Hist(h) => Num::Int(i128::from(h.count)),
            Increase::None => return,
        };
        let bucket = step.timestamp.div_euclid(self.step) * self.step;
        let slot = self.buckets[group].entry(bucket).or_insert(Num::ZERO);
        *slot = slot.plus(increase);
    }
}

pub fn run(args: RateArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let step = parse_duration(&args.step)?;
    if step <= 0 {
        bail!("--step must be positive");
    }
    let pos = split_positionals(&args.args, &args.by, false)?;
    let filter = args.filter.build(Some(DEFAULT_METRIC))?;
    let input = QueryInput::new(&pos.files, filter, args.input.strict, args.semantics.baseline)?;
    let mut sink = RateSink::new(pos.by, step);
    let engine = input.run(&mut sink)?;
    sink.grouper.finish()?;
    if !sink.gauges.is_empty() {
        eprintln!("warning: ignored gauge metric(s) {}: a rate needs a counter or a histogram", sink.gauges.join(", "));
    }
    if sink.grouper.keys.is_empty() {
        warn_nothing_matched(&args.filter.metric, DEFAULT_METRIC);
    }
    let window = engine.window();
    let first = window
        .since
        .or_else(|| sink.buckets.iter().filter_map(|b| b.keys().next().copied()).min())
        .map(|t| t.div_euclid(step) * step);
    let last = window
        .until
        .or(engine.stats.newest_timestamp)
        .or_else(|| sink.buckets.iter().filter_map(|b| b.keys().next_back().copied()).max())
        .map(|t| t.div_euclid(step) * step);
    let starts: Vec<i64> = match (first, last) {
        (Some(f), Some(l)) if l >= f => {
            let n = (l - f) / step + 1;
            if n > MAX_BUCKETS {
                bail!("{n} steps of {} are too many: use a larger --step or a narrower --since/--until", args.step);
            }
            (0..n).map(|i| f + i * step).collect()
        }
        _ => Vec::new(),
    };
    // A step the window cuts is divided by the time it covers, not the whole step.
    let covered_secs = |start: i64| {
        let from = window.since.map_or(start, |since| since.max(start));
        let to = window.until.map_or(start + step, |until| until.saturating_add(1).min(start + step));
        (to - from).max(1) as f64 / NANOS_PER_SEC as f64
    };
    let rates: Vec<Vec<f64>> = sink
        .buckets
        .iter()
        .map(|b| starts.iter().map(|&s| b.get(&s).map_or(0.0, |n| n.as_f64() / covered_secs(s))).collect())
        .collect();
    let term = Terminal::detect();
    let table = match args.output.format {
        Format::Table => summary_table(&sink.grouper, &rates),
        Format::Json | Format::Csv => rows_table(&sink.grouper, &starts, &rates),
    };
    table.write(args.output.format, term, out)?;
    input.finished()
}

/// One row per group: average, peak and last rate, and the trend.
fn summary_table(grouper: &Grouper, rates: &[Vec<f64>]) -> Table {
    const COLUMNS: [&str; 4] = ["avg/s", "max/s", "last/s", "trend"];
    let mut headers = grouper.headers(&COLUMNS);
    headers.extend(COLUMNS.map(String::from));
    let mut order: Vec<usize> = (0..rates.len()).collect();
    let avg = |r: &[f64]| if r.is_empty() { 0.0 } else { r.iter().sum::<f64>() / r.len() as f64 };
    order.sort_by(|&a, &b| avg(&rates[b]).total_cmp(&avg(&rates[a])).then(a.cmp(&b)));
    let mut table = Table::new(headers);
    for g in order {
        let r = &rates[g];
        let mut row = group_cells(grouper, g);
        row.push(Cell::Float(avg(r)));
        row.push(Cell::Float(r.iter().copied().fold(0.0, f64::max)));
        row.push(Cell::Float(r.last().copied().unwrap_or(0.0)));
        row.push(Cell::Text(sparkline(&downsample(r, SPARKLINE_WIDTH))));
        table.rows.push(row);
    }
    table
}

/// One row per group per step: `{time, <labels>, rate}`.
fn rows_table(grouper: &Grouper, starts: &[i64], rates: &[Vec<f64>]) -> Table {
    let mut headers = vec!["time".to_string()];
    headers.extend(grouper.headers(&["time", "rate"]));
    headers.push("rate".into());
    let mut table = Table::new(headers);
    for (i, start) in starts.iter().enumerate() {
        for (g, r) in rates.iter().enumerate() {
            let mut row = vec![Cell::Text(format_utc(*start))];
            row.extend(group_cells(grouper, g));
            row.push(Cell::Float(r[i]));
            table.rows.push(row);
        }
    }
    table
}

/// Averages neighbouring values so that at most `width` remain.
fn downsample(values: &[f64], width: usize) -> Vec<f64> {
    if values.len() <= width {
        return values.to_vec();
    }
    let per = values.len().div_ceil(width);
    values.chunks(per).map(|c| c.iter().sum::<f64>() / c.len() as f64).collect()
}
