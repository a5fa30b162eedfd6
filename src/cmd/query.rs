//! `metricsctl query 'PROMQL'`: PromQL over the files (docs/PROMQL.md). The query's
//! selectors become the reader's metric pre-check, its reach bounds what is kept, and the
//! answer is printed as a table, CSV, or Prometheus' API JSON.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::QueryArgs;
use crate::output::{sparkline, Cell, Format, Table, Terminal};
use metricsctl_engine::filter::Filter;
use metricsctl_engine::query::QueryInput;
use metricsctl_format::timestamp::{format_utc, parse_duration, TimeArg};
use metricsctl_promql::eval::{EvalOptions, QueryTimes};
use metricsctl_promql::store::{millis, Horizon, SeriesStore, METRIC_NAME};
use metricsctl_promql::value::{labels_text, value_text, Labels, QueryResult, Value};
use metricsctl_promql::Plan;

/// The times asked for, before the newest sample is known.
enum Asked {
    Instant(TimeArg),
    Range { start: TimeArg, end: TimeArg, step: Option<i64> },
}

impl Asked {
    fn relative(&self) -> bool {
        match self {
            Asked::Instant(t) => t.is_relative(),
            Asked::Range { start, end, .. } => start.is_relative() || end.is_relative(),
        }
    }

    /// Evaluation times in milliseconds, relative ones counted back from `newest`.
    fn resolve(&self, newest: Option<i64>) -> Result<QueryTimes> {
        let at = |t: TimeArg| t.resolve(newest).map(millis).context("the input holds no samples to count back from");
        match self {
            Asked::Instant(t) => Ok(QueryTimes::Instant(at(*t)?)),
            Asked::Range { start, end, step } => {
                let (start, end) = (at(*start)?, at(*end)?);
                if end < start {
                    crate::usage_error!("--end ({}) is before --start ({})", format_utc(end * 1_000_000), {
                        format_utc(start * 1_000_000)
                    });
                }
                let step = step.map(millis).unwrap_or_else(|| ((end - start) / 100).max(1000));
                if step <= 0 {
                    crate::usage_error!("--step must be positive");
                }
                if (end - start) / step > 11_000 {
                    crate::usage_error!(
                        "exceeded maximum resolution of 11,000 points per timeseries: try a larger --step (Prometheus' limit)"
                    );
                }
                Ok(QueryTimes::Range { start, end, step })
            }
        }
    }
}

fn time_arg(flag: &str, text: &str) -> Result<TimeArg> {
    TimeArg::parse(text).with_context(|| format!("--{flag}"))
}

pub fn run(args: QueryArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let expr = match metricsctl_promql::parse(&args.query) {
        Ok(expr) => expr,
        Err(message) => crate::usage_error!("cannot parse the query {:?}: {message}", args.query),
    };
    let lookback = millis(parse_duration(&args.lookback_delta).context("--lookback-delta")?);
    if lookback <= 0 {
        crate::usage_error!("--lookback-delta must be positive");
    }
    let asked = match (&args.time, &args.start, &args.end) {
        (_, Some(start), Some(end)) => Asked::Range {
            start: time_arg("start", start)?,
            end: time_arg("end", end)?,
            step: args.step.as_deref().map(parse_duration).transpose().context("--step")?,
        },
        (Some(t), _, _) => Asked::Instant(time_arg("time", t)?),
        _ => Asked::Instant(TimeArg::BeforeNewest(0)),
    };
    let options = EvalOptions { lookback, exact: args.exact, ..EvalOptions::default() };
    let plan = Plan::new(&expr, options.lookback, options.subquery_step);
    let filter = Filter { metrics: plan.metric_matcher(), ..Filter::default() };
    let input = QueryInput::new(&args.files, filter, args.input.strict, args.semantics.baseline)?;

    // Relative times count back from the newest sample of the input, read from its end;
    // when that cannot be read first (stdin), everything is kept and counted afterwards.
    let newest = if asked.relative() { metricsctl_reader::backwards::newest_timestamp(&input.sources)? } else { None };
    let known = if asked.relative() && newest.is_none() { None } else { Some(asked.resolve(newest)?) };
    let horizon = known.map_or(Horizon::Everything, |times| plan.horizon(times));
    let mut store = SeriesStore::new(args.resource_labels, horizon);
    input.run(&mut store)?;
    if let Some(e) = store.error.take() {
        return Err(e);
    }
    let stored_newest = store.newest();
    let index = store.into_index();
    let times = match known {
        Some(times) => times,
        None => asked.resolve(stored_newest.map(|ms| ms * 1_000_000))?,
    };
    let result = metricsctl_promql::evaluate(&index, &expr, times, &options)?;
    write_result(&result, times, args.output.format, Terminal::detect(), out)?;
    input.finished()
}

fn write_result(
    result: &QueryResult,
    times: QueryTimes,
    format: Format,
    term: Terminal,
    out: &mut dyn Write,
) -> Result<()> {
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, &result.to_json())?;
        writeln!(out)?;
        return Ok(());
    }
    let time_text = |ms: i64| format_utc(ms * 1_000_000);
    let table = match &result.value {
        Value::Scalar(v) => {
            let mut t = Table::new(vec!["time".into(), "value".into()]);
            t.rows.push(vec![Cell::Text(time_text(result.time)), Cell::Float(*v)]);
            t
        }
        Value::String(s) => {
            let mut t = Table::new(vec!["time".into(), "value".into()]);
            t.rows.push(vec![Cell::Text(time_text(result.time)), Cell::Text(s.clone())]);
            t
        }
        Value::Vector(samples) => {
            let columns = LabelColumns::new(samples.iter().map(|s| &s.labels));
            let mut headers = columns.headers();
            if format == Format::Csv {
                headers.push("time".into());
            }
            headers.push("value".into());
            let mut t = Table::new(headers);
            for s in samples {
                let mut row = columns.cells(&s.labels);
                if format == Format::Csv {
                    row.push(Cell::Text(time_text(result.time)));
                }
                row.push(if format == Format::Csv { Cell::Text(value_text(s.v)) } else { Cell::Float(s.v) });
                t.rows.push(row);
            }
            t
        }
        Value::Matrix(series) => {
            let columns = LabelColumns::new(series.iter().map(|s| &s.labels));
            let mut headers = columns.headers();
            if format == Format::Csv {
                headers.extend(["time".into(), "value".into()]);
                let mut t = Table::new(headers);
                for s in series {
                    for &(ts, v) in &s.points {
                        let mut row = columns.cells(&s.labels);
                        row.extend([Cell::Text(time_text(ts)), Cell::Text(value_text(v))]);
                        t.rows.push(row);
                    }
                }
                t
            } else {
                headers.extend(["points", "min", "max", "last"].map(String::from));
                let range = matches!(times, QueryTimes::Range { .. });
                if range {
                    headers.push("over time".into());
                }
                let mut t = Table::new(headers);
                for s in series {
                    let values: Vec<f64> = s.points.iter().map(|p| p.1).collect();
                    let mut row = columns.cells(&s.labels);
                    let finite = values.iter().copied().filter(|v| !v.is_nan());
                    row.push(Cell::Num(metricsctl_format::record::Num::Int(values.len() as i128)));
                    row.push(Cell::Float(finite.clone().fold(f64::INFINITY, f64::min)));
                    row.push(Cell::Float(finite.fold(f64::NEG_INFINITY, f64::max)));
                    row.push(Cell::Float(values.last().copied().unwrap_or(f64::NAN)));
                    if range {
                        row.push(Cell::Text(series_sparkline(&s.points, times)));
                    }
                    t.rows.push(row);
                }
                t
            }
        }
    };
    if table.rows.is_empty() && format == Format::Table {
        eprintln!(
            "note: the result is empty at {}: no series matched, or none had the samples its functions need \
             (rate() and increase() need two in their range)",
            time_text(result.time)
        );
    }
    table.write(format, term, out)
}

/// A sparkline with a bar per step of the range, empty where the series has no value.
fn series_sparkline(points: &[(i64, f64)], times: QueryTimes) -> String {
    let QueryTimes::Range { start, end, step } = times else { return String::new() };
    let steps = ((end - start) / step + 1) as usize;
    // At most 60 bars: steps are averaged into them.
    let bars = steps.min(60);
    let mut sums = vec![(0.0f64, 0u32); bars];
    for &(t, v) in points {
        let i = (((t - start) / step) as usize * bars / steps).min(bars - 1);
        if v.is_finite() {
            sums[i].0 += v;
            sums[i].1 += 1;
        }
    }
    let values: Vec<f64> = sums.iter().map(|&(s, n)| if n == 0 { f64::NAN } else { s / n as f64 }).collect();
    let line = sparkline(&values);
    line.chars().zip(&values).map(|(c, v)| if v.is_nan() { ' ' } else { c }).collect()
}

/// Labels as columns when there are few enough to read; otherwise one column with the
/// series in PromQL's notation.
struct LabelColumns {
    names: Option<Vec<String>>,
}

const MAX_LABEL_COLUMNS: usize = 8;

impl LabelColumns {
    fn new<'a>(all: impl Iterator<Item = &'a Labels>) -> LabelColumns {
        let mut names = BTreeSet::new();
        for labels in all {
            names.extend(labels.iter().map(|(k, _)| k.clone()));
        }
        let names = (names.len() <= MAX_LABEL_COLUMNS).then(|| names.into_iter().collect());
        LabelColumns { names }
    }

    fn headers(&self) -> Vec<String> {
        match &self.names {
            Some(names) => names.iter().map(|n| if n == METRIC_NAME { "metric".into() } else { n.clone() }).collect(),
            None => vec!["series".into()],
        }
    }

    fn cells(&self, labels: &Labels) -> Vec<Cell> {
        match &self.names {
            Some(names) => names
                .iter()
                .map(|n| labels.iter().find(|(k, _)| k == n).map_or(Cell::Empty, |(_, v)| Cell::Text(v.clone())))
                .collect(),
            None => vec![Cell::Text(labels_text(labels))],
        }
    }
}
