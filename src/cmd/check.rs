//! `metricsctl check`: validates every line and reports what would make answers wrong or
//! a backend unhappy. Exit 1 when it finds a problem.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use crate::cli::CheckArgs;
use crate::output::{sanitize, Cell, Format, Table, Terminal};
use metricsctl_engine::engine::{Engine, SeriesId, SeriesInfo, Sink, Step};
use metricsctl_engine::filter::Filter;
use metricsctl_engine::query::{self, line_name, process_name, restart_evidence, QueryOptions, ScanReport};
use metricsctl_format::record::MetricType;
use metricsctl_format::timestamp::format_utc;
use metricsctl_format::value::AttrRef;
use metricsctl_reader::input::{sources, Source};

const SHOWN_BAD_LINES: usize = 20;

/// Label names that identify a request or a user: unbounded values by nature (the reference system's
/// section 10.1 names user_id and request_id).
const UNBOUNDED_LABELS: &[&str] = &["user_id", "request_id", "session_id", "trace_id", "span_id", "uuid", "email"];

/// Unit suffixes a histogram name should end in (the reference design's naming rules).
const UNIT_SUFFIXES: &[&str] = &[
    "_seconds",
    "_milliseconds",
    "_bytes",
    "_ratio",
    "_percent",
    "_meters",
    "_celsius",
    "_grams",
    "_joules",
    "_volts",
    "_amperes",
    "_hertz",
    "_count",
    "_size",
];

struct Everything;

impl Sink for Everything {
    fn want_series(&mut self, _: SeriesId, _: &SeriesInfo) -> bool {
        false
    }
    fn step(&mut self, _: SeriesId, _: &SeriesInfo, _: &Step<'_>) {}
}

#[derive(Debug)]
struct MetricReport<'a> {
    name: String,
    metric_type: MetricType,
    series: usize,
    /// Label -> distinct values, borrowed from the catalog: a label with a million values
    /// is counted without a copy of each.
    labels: BTreeMap<&'a str, HashSet<AttrRef<'a>>>,
}

/// Naming problems of a metric name (the reference design's naming rules), empty when it
/// follows them.
pub fn naming_problems(name: &str, metric_type: MetricType) -> Vec<String> {
    let mut out = Vec::new();
    let snake = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':');
    if !snake {
        out.push("is not lower snake_case (use lowercase letters, digits and underscores)".to_string());
    }
    match metric_type {
        MetricType::Counter if !name.ends_with("_total") => out.push("is a counter but does not end in _total".into()),
        MetricType::Gauge | MetricType::Histogram if name.ends_with("_total") => {
            out.push(format!("ends in _total but is a {}", metric_type.as_str()))
        }
        MetricType::Histogram if !UNIT_SUFFIXES.iter().any(|s| name.ends_with(s)) => {
            out.push("is a histogram without a unit suffix (_seconds, _bytes, ...)".into())
        }
        _ => {}
    }
    out
}

pub fn run(args: CheckArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if args.output.format == Format::Csv {
        crate::usage_error!("check has no csv output: its formats are table and json");
    }
    let sources = sources(&args.files)?;
    let options = QueryOptions { keep_bad: SHOWN_BAD_LINES, ..QueryOptions::default() };
    let (engine, report) = query::run(&sources, &Filter::default(), &options, &mut Everything)?;

    let mut metrics: BTreeMap<(&str, MetricType), MetricReport> = BTreeMap::new();
    for s in &engine.catalog.series {
        let m = metrics.entry((&s.key.metric, s.key.metric_type)).or_insert_with(|| MetricReport {
            name: s.key.metric.to_string(),
            metric_type: s.key.metric_type,
            series: 0,
            labels: BTreeMap::new(),
        });
        m.series += 1;
        for (k, v) in s.key.attributes.iter() {
            m.labels.entry(k).or_default().insert(v);
        }
    }

    let mut problems: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for damage in sources.iter().filter_map(Source::damage) {
        problems.push(damage);
    }
    let bad_total: u64 = report.bad.iter().map(|b| b.count).sum();
    if bad_total > 0 {
        problems.push(format!("{bad_total} bad line(s)"));
    }
    let mut names_seen: BTreeMap<&str, Vec<MetricType>> = BTreeMap::new();
    for m in metrics.values() {
        names_seen.entry(&m.name).or_default().push(m.metric_type);
        for p in naming_problems(&m.name, m.metric_type) {
            problems.push(format!("metric {} {p}", sanitize(&m.name)));
        }
        for (label, values) in &m.labels {
            let short = label.rsplit('.').next().unwrap_or(label);
            if UNBOUNDED_LABELS.contains(&short) {
                problems.push(format!(
                    "metric {} has label {} ({} values): request or user ids make unbounded cardinality",
                    sanitize(&m.name),
                    sanitize(label),
                    values.len()
                ));
            } else if values.len() > args.max_label_values {
                problems.push(format!(
                    "metric {} has high-cardinality label {} ({} distinct values, more than {})",
                    sanitize(&m.name),
                    sanitize(label),
                    values.len(),
                    args.max_label_values
                ));
            }
        }
    }
    for (name, types) in &names_seen {
        if types.len() > 1 {
            let t: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
            problems.push(format!("metric {} appears with several types: {}", sanitize(name), t.join(", ")));
        }
    }
    let stats = &engine.stats;
    if stats.out_of_order > 0 {
        problems.push(format!("{} sample(s) older than their series' previous sample", stats.out_of_order));
    }
    if stats.conflicts > 0 {
        let first = stats
            .first_conflict
            .map(|(pos, earlier, _)| {
                format!(" (first: {} against {})", line_name(&sources, pos), line_name(&sources, earlier))
            })
            .unwrap_or_default();
        problems.push(format!(
            "{} conflicting sample(s): the same series and timestamp as an earlier line with another value{first}",
            stats.conflicts
        ));
    }
    if stats.duplicates > 0 {
        let first = stats
            .first_duplicate
            .map(|(pos, earlier)| {
                format!(" (first: {} repeats {})", line_name(&sources, pos), line_name(&sources, earlier))
            })
            .unwrap_or_default();
        notes.push(format!("dropped {} duplicate sample(s): lines sent again{first}", stats.duplicates));
    }
    for split in &stats.splits {
        notes.push(format!(
            "{} holds samples of {} older than those read before it: read as a separate instance",
            sanitize(&sources[split.source].name),
            process_name(&engine, split.joined)
        ));
    }
    let guesses: Vec<_> =
        engine.processes.iter().flat_map(|p| p.restarts.iter()).filter(|r| !r.confirmed && r.resets > 0).collect();
    if !guesses.is_empty() {
        problems.push(format!(
            "{} restart(s) inferred only from vanished series and never confirmed: {} series were counted from zero \
             there on a guess (`metricsctl explain` shows each)",
            guesses.len(),
            guesses.iter().map(|r| r.resets).sum::<u64>()
        ));
    }
    for (pid, fit) in engine.ambiguous_schedules() {
        problems.push(format!("{}: {}", process_name(&engine, pid), query::schedule_ambiguity(fit)));
    }
    for pid in engine.suspicious_processes() {
        let p = &engine.catalog.processes[pid as usize];
        problems.push(format!(
            "service {} with resource {{{}}}: its series took turns between two levels or held two values at one \
             time {} times in {} exports; several instances probably share this resource (set \
             service.instance.id), so their series cannot be told apart",
            sanitize(&p.service),
            sanitize(p.resource.trim_end_matches(',')),
            engine.processes[pid as usize].oscillations + engine.processes[pid as usize].conflicts,
            engine.processes[pid as usize].exports
        ));
    }
    if report.inferred_types > 0 {
        notes.push(format!(
            "{} line(s) had no metric_type; it was inferred (object value = histogram, _total = counter, else gauge)",
            report.inferred_types
        ));
    }

    let findings = Findings {
        sources: &sources,
        report: &report,
        engine: &engine,
        metrics: &metrics,
        problems: &problems,
        notes: &notes,
    };
    match args.output.format {
        Format::Json => findings.write_json(out)?,
        Format::Table | Format::Csv => findings.write_text(out, Terminal::detect())?,
    }
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Everything `check` found, to be written as text or JSON.
struct Findings<'a> {
    sources: &'a [Source],
    report: &'a ScanReport,
    engine: &'a Engine,
    metrics: &'a BTreeMap<(&'a str, MetricType), MetricReport<'a>>,
    problems: &'a [String],
    notes: &'a [String],
}

impl Findings<'_> {
    fn write_text(&self, out: &mut dyn Write, term: Terminal) -> Result<()> {
        let Findings { sources, report, engine, metrics, problems, notes } = *self;
        let mut files = Table::new(["file", "lines", "bad lines"].map(String::from).to_vec());
        for (i, s) in sources.iter().enumerate() {
            files.rows.push(vec![
                Cell::Text(s.name.clone()),
                Cell::Num(metricsctl_format::record::Num::Int(report.lines[i].into())),
                Cell::Num(metricsctl_format::record::Num::Int(report.bad[i].count.into())),
            ]);
        }
        files.write(Format::Table, term, out)?;
        let bad: Vec<(String, u64, &str)> = sources
            .iter()
            .zip(&report.bad)
            .flat_map(|(s, b)| b.first.iter().map(move |(l, r)| (s.name.clone(), *l, r.as_str())))
            .take(SHOWN_BAD_LINES)
            .collect();
        if !bad.is_empty() {
            writeln!(out, "\nbad lines (first {}):", bad.len())?;
            for (file, line, reason) in bad {
                writeln!(out, "  {}:{line}: {}", sanitize(&file), sanitize(reason))?;
            }
        }
        writeln!(out)?;
        let mut t = Table::new(["metric", "type", "series", "labels (distinct values)"].map(String::from).to_vec());
        for m in metrics.values() {
            let labels: Vec<String> = m.labels.iter().map(|(k, v)| format!("{k}={}", v.len())).collect();
            t.rows.push(vec![
                Cell::Text(m.name.clone()),
                Cell::Text(m.metric_type.as_str().into()),
                Cell::Num(metricsctl_format::record::Num::Int(m.series as i128)),
                Cell::Text(labels.join(" ")),
            ]);
        }
        t.write(Format::Table, term, out)?;
        writeln!(out, "\nprocesses: {}", engine.catalog.processes.len())?;
        for (pid, p) in engine.processes.iter().enumerate() {
            let interval = p
                .interval
                .map(|i| format!(", interval {}", metricsctl_format::timestamp::format_duration(i)))
                .unwrap_or_default();
            writeln!(
                out,
                "  {}: {} exports{interval}, {} restart(s)",
                process_name(engine, pid as u32),
                p.exports,
                p.restarts.len()
            )?;
            for r in p.restarts.iter().take(10) {
                writeln!(out, "    restart at {}: {}", format_utc(r.timestamp), restart_evidence(engine, r))?;
            }
            if p.restarts.len() > 10 {
                writeln!(out, "    ... {} more", p.restarts.len() - 10)?;
            }
        }
        for n in notes {
            writeln!(out, "\nnote: {n}")?;
        }
        writeln!(out)?;
        if problems.is_empty() {
            writeln!(out, "ok: no problems found")?;
        } else {
            writeln!(out, "{} problem(s):", problems.len())?;
            for p in problems {
                writeln!(out, "  - {p}")?;
            }
        }
        Ok(())
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<()> {
        let Findings { sources, report, engine, metrics, problems, notes } = *self;
        let files: Vec<_> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "file": s.name,
                "lines": report.lines[i],
                "bad_lines": report.bad[i].count,
                "first_bad_lines": report.bad[i].first.iter().map(|(l, r)| json!({"line": l, "reason": r})).collect::<Vec<_>>(),
            })
        })
        .collect();
        let metrics: Vec<_> = metrics
        .values()
        .map(|m| {
            json!({
                "metric": m.name,
                "type": m.metric_type.as_str(),
                "series": m.series,
                "labels": m.labels.iter().map(|(k, v)| (k.to_string(), json!(v.len()))).collect::<serde_json::Map<_, _>>(),
            })
        })
        .collect();
        let processes: Vec<_> = engine
        .processes
        .iter()
        .enumerate()
        .map(|(pid, p)| {
            let info = &engine.catalog.processes[pid];
            json!({
                "service": &*info.service,
                "resource": info.meta_resource.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect::<serde_json::Map<_, _>>(),
                "exports": p.exports,
                "interval_seconds": p.interval.map(|i| i as f64 / metricsctl_format::timestamp::NANOS_PER_SEC as f64),
                "restarts": p.restarts.iter().map(|r| json!({
                    "time": format_utc(r.timestamp),
                    "evidence": crate::cmd::explain::reason_kind(&r.reason),
                    "confirmed": r.confirmed,
                    "reason": restart_evidence(engine, r),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
        let doc = json!({
            "ok": problems.is_empty(),
            "files": files,
            "lines": report.lines.iter().sum::<u64>(),
            "bad_lines": report.bad.iter().map(|b| b.count).sum::<u64>(),
            "inferred_types": report.inferred_types,
            "series": engine.catalog.series.len(),
            "metrics": metrics,
            "processes": processes,
            "problems": problems,
            "notes": notes,
        });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naming_follows_the_seed() {
        assert!(naming_problems("http_server_requests_total", MetricType::Counter).is_empty());
        assert!(naming_problems("http_server_request_duration_seconds", MetricType::Histogram).is_empty());
        assert!(naming_problems("http_server_active_requests", MetricType::Gauge).is_empty());
        assert!(!naming_problems("httpRequests", MetricType::Counter).is_empty());
        assert!(!naming_problems("http_requests", MetricType::Counter).is_empty());
        assert!(!naming_problems("http_request_duration", MetricType::Histogram).is_empty());
    }
}
