//! `metricsctl sum [by LABELS]`: exact totals per group over the window.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{split_positionals, SumArgs};
use crate::cmd::{group_cells, warn_nothing_matched};
use crate::output::{Cell, Table, Terminal};
use metricsctl_engine::group::Grouper;
use metricsctl_engine::query::QueryInput;
use metricsctl_engine::sum::{SumSink, Total, DEFAULT_METRIC};
use metricsctl_format::record::Num;

fn value_of(t: &Total) -> f64 {
    match t {
        Total::Counter(n) | Total::Gauge(n) => n.as_f64(),
        Total::Histogram { count, .. } => *count as f64,
    }
}

pub fn run(args: SumArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let pos = split_positionals(&args.args, &args.by, false)?;
    let filter = args.filter.build(Some(DEFAULT_METRIC))?;
    let input = QueryInput::new(&pos.files, filter, args.input.strict, args.semantics.baseline)?;
    let mut sink = SumSink::new(pos.by);
    input.run(&mut sink)?;
    sink.grouper.finish()?;
    if sink.grouper.keys.is_empty() {
        warn_nothing_matched(&args.filter.metric, DEFAULT_METRIC);
    }
    for (metric, types) in several_types(&sink.grouper) {
        eprintln!(
            "warning: metric {} appears as {}: its rows are told apart by the type column",
            metricsctl_format::text::sanitize(&metric),
            types.join(" and ")
        );
    }
    let table = sum_table(&sink);
    table.write(args.output.format, Terminal::detect(), out)?;
    input.finished()
}

/// Metrics that appear with several types among the groups, with the types.
fn several_types(grouper: &Grouper) -> Vec<(String, Vec<&'static str>)> {
    let mut types: std::collections::BTreeMap<&str, Vec<&'static str>> = Default::default();
    for k in &grouper.keys {
        let t = types.entry(k.metric.as_str()).or_default();
        if !t.contains(&k.metric_type.as_str()) {
            t.push(k.metric_type.as_str());
        }
    }
    types.into_iter().filter(|(_, t)| t.len() > 1).map(|(m, t)| (m.to_string(), t)).collect()
}

fn sum_table(sink: &SumSink) -> Table {
    let totals = sink.totals();
    let grouper = &sink.grouper;
    let has_scalar = totals.iter().any(|t| !matches!(t, Total::Histogram { .. }));
    let has_hist = totals.iter().any(|t| matches!(t, Total::Histogram { .. }));
    let show_type = !several_types(grouper).is_empty();
    let mut headers = grouper.headers(&["value", "count", "sum", "mean", "type"]);
    if show_type {
        headers.push("type".into());
    }
    let label_columns = headers.len();
    if has_scalar || !has_hist {
        headers.push("value".into());
    }
    if has_hist {
        headers.extend(["count", "sum", "mean"].map(String::from));
    }
    let mut order: Vec<usize> = (0..totals.len()).collect();
    // Largest first; ties in group order, so output is deterministic.
    order.sort_by(|&a, &b| value_of(&totals[b]).total_cmp(&value_of(&totals[a])).then(a.cmp(&b)));
    let row_for = |labels: Vec<Cell>, total: &Total| {
        let mut row = labels;
        match total {
            Total::Counter(n) | Total::Gauge(n) => {
                row.push(Cell::Num(*n));
                if has_hist {
                    row.extend([Cell::Empty, Cell::Empty, Cell::Empty]);
                }
            }
            Total::Histogram { count, sum } => {
                if has_scalar {
                    row.push(Cell::Empty);
                }
                row.push(Cell::Num(Num::Int(i128::from(*count))));
                row.push(Cell::Float(*sum));
                row.push(if *count > 0 { Cell::Float(sum / *count as f64) } else { Cell::Empty });
            }
        }
        row
    };
    let mut table = Table::new(headers);
    for &g in &order {
        let mut labels = group_cells(grouper, g);
        if show_type {
            labels.push(Cell::Text(grouper.keys[g].metric_type.as_str().into()));
        }
        table.rows.push(row_for(labels, &totals[g]));
    }
    // A total adds rows of one metric only: requests and in-flight requests do not add up.
    let one_metric =
        grouper.keys.windows(2).all(|w| w[0].metric == w[1].metric && w[0].metric_type == w[1].metric_type);
    if label_columns > 0 && totals.len() > 1 && one_metric {
        let mut labels = vec![Cell::Empty; label_columns];
        labels[0] = Cell::Text("total".into());
        let scalar = totals.iter().fold(None, |acc: Option<Num>, t| match t {
            Total::Counter(n) | Total::Gauge(n) => Some(acc.unwrap_or(Num::ZERO).plus(*n)),
            Total::Histogram { .. } => acc,
        });
        let (count, sum) = totals.iter().fold((0u64, 0.0f64), |(c, s), t| match t {
            Total::Histogram { count, sum } => (c + count, s + sum),
            _ => (c, s),
        });
        let mut row = labels;
        if has_scalar || !has_hist {
            row.push(scalar.map_or(Cell::Empty, Cell::Num));
        }
        if has_hist {
            row.push(Cell::Num(Num::Int(i128::from(count))));
            row.push(Cell::Float(sum));
            row.push(if count > 0 { Cell::Float(sum / count as f64) } else { Cell::Empty });
        }
        table.footer = Some(row);
    }
    table
}
