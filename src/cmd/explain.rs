//! `metricsctl explain`: why a total is what it is. The reset log of the matching series:
//! every sample counted from zero (a series' first, or one after a restart) with the
//! evidence for it, and every line that was not applied (duplicates, conflicts, samples
//! older than their series' newest).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ExplainArgs;
use crate::cmd::warn_nothing_matched;
use crate::output::{Cell, Table, Terminal};
use metricsctl_engine::engine::{
    DropKind, Dropped, Engine, Increase, LinePos, ProcessId, ResetCause, RestartReason, SeriesId, SeriesInfo, Sink,
    Step, StepKind,
};
use metricsctl_engine::query::QueryInput;
use metricsctl_engine::query::{line_name, restart_evidence, series_name};
use metricsctl_format::record::Num;
use metricsctl_format::timestamp::format_utc;

/// The name of a kind of evidence, as `check --format json` and `explain` give it.
pub fn reason_kind(reason: &RestartReason) -> &'static str {
    match reason {
        RestartReason::Decrease { .. } => "decrease",
        RestartReason::StartTimestamp { .. } => "start_timestamp",
        RestartReason::Vanished { .. } => "vanished",
    }
}

#[derive(Debug)]
enum Event {
    Counted { kind: StepKind, cause: Option<ResetCause>, counted: Option<Num>, previous: Option<Num>, now: Num },
    Dropped(Dropped),
}

#[derive(Debug)]
struct Entry {
    line: LinePos,
    timestamp: i64,
    series: SeriesId,
    process: ProcessId,
    event: Event,
}

#[derive(Default)]
struct ExplainSink {
    entries: Vec<Entry>,
    series: usize,
}

impl Sink for ExplainSink {
    fn want_series(&mut self, _: SeriesId, _: &SeriesInfo) -> bool {
        self.series += 1;
        true
    }

    fn step(&mut self, id: SeriesId, info: &SeriesInfo, step: &Step<'_>) {
        if !matches!(step.kind, StepKind::First | StepKind::Baseline | StepKind::Restart) {
            return;
        }
        let counted = match &step.increase {
            Increase::Num(n) => Some(*n),
            Increase::Hist(h) => Some(Num::Int(i128::from(h.count))),
            Increase::None => None,
        };
        self.entries.push(Entry {
            line: step.line,
            timestamp: step.timestamp,
            series: id,
            process: info.process,
            event: Event::Counted {
                kind: step.kind,
                cause: step.cause,
                counted,
                previous: step.previous,
                now: step.value.level(),
            },
        });
    }

    fn dropped(&mut self, id: SeriesId, info: &SeriesInfo, dropped: &Dropped) {
        self.entries.push(Entry {
            line: dropped.line,
            timestamp: dropped.timestamp,
            series: id,
            process: info.process,
            event: Event::Dropped(*dropped),
        });
    }
}

/// The event's name, the kind of its evidence, and the evidence in words.
fn describe(engine: &Engine, input: &QueryInput, entry: &Entry) -> (&'static str, &'static str, String) {
    match &entry.event {
        Event::Counted { kind: StepKind::First, .. } => {
            ("first", "first_sample", "its first sample in the input: counted from zero".into())
        }
        Event::Counted { kind: StepKind::Baseline, .. } => {
            ("baseline", "first_sample", "its first sample in the input, taken as a baseline (--baseline)".into())
        }
        Event::Counted { cause, previous, now, .. } => match cause {
            Some(ResetCause::Process(r)) => {
                let restart = &engine.processes[entry.process as usize].restarts[*r as usize];
                let kind = if restart.confirmed { reason_kind(&restart.reason) } else { "vanished_unconfirmed" };
                ("restart", kind, format!("the process restarted: {}", restart_evidence(engine, restart)))
            }
            Some(ResetCause::Decrease) => (
                "reset",
                "decrease",
                format!(
                    "its value decreased from {} to {} (exports too close together to apply evidence process-wide)",
                    previous.unwrap_or(Num::ZERO),
                    now
                ),
            ),
            Some(ResetCause::StartTimestamp) | None => (
                "reset",
                "start_timestamp",
                "its start_timestamp changed (exports too close together to apply evidence process-wide)".into(),
            ),
        },
        Event::Dropped(d) => {
            let earlier = d.earlier.map(|e| line_name(&input.sources, e)).unwrap_or_default();
            match d.kind {
                DropKind::Duplicate => ("dropped", "duplicate", format!("the same timestamp and value as {earlier}")),
                DropKind::Conflict => (
                    "dropped",
                    "conflict",
                    format!("the same timestamp as {earlier} with another value; that one was kept"),
                ),
                DropKind::OutOfOrder => ("dropped", "out_of_order", "older than the series' newest sample".into()),
            }
        }
    }
}

pub fn run(args: ExplainArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let filter = args.filter.build(Some(metricsctl_engine::sum::DEFAULT_METRIC))?;
    let input = QueryInput::new(&args.files, filter, args.input.strict, args.semantics.baseline)?;
    let mut sink = ExplainSink::default();
    let engine = input.run(&mut sink)?;
    if sink.series == 0 {
        warn_nothing_matched(&args.filter.metric, metricsctl_engine::sum::DEFAULT_METRIC);
    }
    sink.entries.sort_by_key(|e| e.line);
    let mut table = Table::new(
        ["time", "line", "series", "instance", "event", "counted", "evidence_kind", "evidence"]
            .map(String::from)
            .to_vec(),
    );
    for entry in &sink.entries {
        let info = &engine.catalog.series[entry.series as usize];
        let (event, kind, evidence) = describe(&engine, &input, entry);
        let counted = match &entry.event {
            Event::Counted { kind: StepKind::Baseline, .. } => Cell::Num(Num::ZERO),
            Event::Counted { counted: Some(n), .. } => Cell::Num(*n),
            _ => Cell::Empty,
        };
        let process = &engine.catalog.processes[entry.process as usize];
        let instance_id = process.meta_resource.get("service.instance.id").map(|v| v.to_string());
        let mut instance = match instance_id {
            Some(id) => format!("{} {id}", process.service),
            None => process.service.to_string(),
        };
        if process.lineage > 0 {
            instance.push_str(&format!(" (from {})", input.sources[process.lineage as usize - 1].name));
        }
        let instance = Cell::Text(instance);
        table.rows.push(vec![
            Cell::Text(format_utc(entry.timestamp)),
            Cell::Text(line_name(&input.sources, entry.line)),
            Cell::Text(series_name(info)),
            instance,
            Cell::Text(event.into()),
            counted,
            Cell::Text(kind.into()),
            Cell::Text(evidence),
        ]);
    }
    table.write(args.output.format, Terminal::detect(), out)?;
    input.finished()
}
