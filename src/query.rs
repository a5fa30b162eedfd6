//! Runs a query: reads the input through the parallel scanner into the engine and a
//! command's sink, and accounts for bad lines and other findings on stderr.

use anyhow::{bail, Result};

use crate::engine::{Engine, EngineOptions, SeriesId, SeriesInfo, Sink, Step};
use crate::filter::{Filter, Window};
use crate::input::Source;
use crate::output::sanitize;
use crate::scan::{scan, ScanOptions};

/// Bad lines of one source: how many, and the first few with reasons.
#[derive(Debug, Default, Clone)]
pub struct BadLines {
    pub count: u64,
    pub first: Vec<(u64, String)>,
}

/// What a scan found besides the samples.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Per source: lines read.
    pub lines: Vec<u64>,
    pub bad: Vec<BadLines>,
    pub inferred_types: u64,
}

pub struct QueryOptions {
    pub strict: bool,
    pub baseline: bool,
    /// Bad lines to keep per source with their reasons.
    pub keep_bad: usize,
    pub block_size: usize,
    /// Only the newest sample of each series is wanted (see [`ScanOptions::latest_only`]).
    pub latest_only: bool,
}

/// Applies the filter's series conditions before the command's own sink.
struct FilteredSink<'a> {
    filter: &'a Filter,
    inner: &'a mut dyn Sink,
    error: Option<anyhow::Error>,
}

impl Sink for FilteredSink<'_> {
    fn want_series(&mut self, id: SeriesId, info: &SeriesInfo) -> bool {
        match self.filter.series_matches(&info.key, &info.meta) {
            Ok(true) => self.inner.want_series(id, info),
            Ok(false) => false,
            Err(e) => {
                self.error.get_or_insert(e);
                false
            }
        }
    }

    fn step(&mut self, id: SeriesId, info: &SeriesInfo, step: &Step<'_>) {
        self.inner.step(id, info, step);
    }
}

/// Resolves `--since`/`--until`, relative ones against the newest sample of the input.
pub fn resolve_window(sources: &[Source], filter: &Filter) -> Result<Window> {
    let newest = if filter.needs_newest_timestamp() { crate::backwards::newest_timestamp(sources)? } else { None };
    Ok(Window {
        since: filter.since.and_then(|t| t.resolve(newest)),
        until: filter.until.and_then(|t| t.resolve(newest)),
    })
}

/// Reads the input into `sink`; returns the engine (for its catalog and findings) and
/// the scan report. Warnings go to stderr.
pub fn run(
    sources: &[Source],
    filter: &Filter,
    options: &QueryOptions,
    sink: &mut dyn Sink,
) -> Result<(Engine, ScanReport)> {
    let window = resolve_window(sources, filter)?;
    let mut engine = Engine::new(EngineOptions { window, baseline: options.baseline });
    let mut report =
        ScanReport { lines: vec![0; sources.len()], bad: vec![BadLines::default(); sources.len()], inferred_types: 0 };
    let scan_options = ScanOptions {
        metrics: filter.metrics.clone(),
        block_size: options.block_size,
        latest_only: options.latest_only,
    };
    let mut filtered = FilteredSink { filter, inner: sink, error: None };
    scan(sources, &scan_options, |origin, chunk| {
        report.lines[origin.source] += chunk.lines;
        report.inferred_types += chunk.inferred_types;
        let bad = &mut report.bad[origin.source];
        for b in &chunk.bad {
            let line = origin.first_line + b.line;
            if options.strict {
                bail!("{}:{}: {}", sources[origin.source].name, line, b.reason);
            }
            bad.count += 1;
            if bad.first.len() < options.keep_bad {
                bad.first.push((line, b.reason.clone()));
            }
        }
        engine.apply_chunk(origin, chunk, &mut filtered);
        if let Some(e) = filtered.error.take() {
            return Err(e);
        }
        Ok(())
    })?;
    engine.finish(&mut filtered);
    if let Some(e) = filtered.error.take() {
        return Err(e);
    }
    Ok((engine, report))
}

/// The one-line summary of bad lines per source, as SPEC section 2 words it.
pub fn warn_bad_lines(sources: &[Source], report: &ScanReport) {
    for (src, bad) in sources.iter().zip(&report.bad) {
        if bad.count == 0 {
            continue;
        }
        let first = bad
            .first
            .first()
            .map(|(line, reason)| format!(" (first: line {line}: {})", sanitize(reason)))
            .unwrap_or_default();
        let plural = if bad.count == 1 { "" } else { "s" };
        eprintln!("warning: skipped {} bad line{plural} in {}{first}", bad.count, src.name);
    }
}

/// Warnings about what the engine inferred that may make answers wrong.
/// Restarts are judged from every sample: not when only the newest were read.
pub fn warn_engine_findings(sources: &[Source], engine: &Engine, restarts: bool) {
    let stats = &engine.stats;
    if stats.out_of_order > 0 {
        let at = stats
            .first_out_of_order
            .map(|(origin, line, _)| format!(" (first: {}:{})", sources[origin.source].name, origin.first_line + line))
            .unwrap_or_default();
        eprintln!("warning: ignored {} samples older than their series' previous sample{at}", stats.out_of_order);
    }
    let suspicious = if restarts { engine.suspicious_processes() } else { Vec::new() };
    for pid in suspicious {
        let p = &engine.catalog.processes[pid as usize];
        eprintln!(
            "warning: {} restarts in {} exports of service {:?} with resource {{{}}}: several instances \
             probably write without a distinguishing resource (set service.instance.id); totals may be too high",
            engine.processes[pid as usize].restarts.len(),
            engine.processes[pid as usize].exports,
            sanitize(&p.service),
            sanitize(p.resource.trim_end_matches(','))
        );
    }
}
