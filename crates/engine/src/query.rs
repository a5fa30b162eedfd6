//! Runs a query: reads the input through the parallel scanner into the engine and a
//! command's sink, and accounts for bad lines and other findings on stderr.

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::engine::{
    Boundary, Dropped, Engine, EngineOptions, Grouping, LinePos, Restart, RestartReason, ScheduleFit, SeriesId,
    SeriesInfo, Sink, Step,
};
use crate::filter::{Filter, Window};
use metricsctl_format::text::sanitize;
use metricsctl_reader::input::{sources, Source};
use metricsctl_reader::scan::{scan, ScanOptions};

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
    /// Per source: valid lines (of wanted metrics or not).
    pub valid: Vec<u64>,
    /// Per source: bad lines that look like pieces of pretty-printed JSON.
    pub fragments: Vec<u64>,
    pub inferred_types: u64,
}

impl ScanReport {
    /// An error when the input had lines but none of them valid (garbage, a binary
    /// file, a format this is not).
    pub fn nothing_valid(&self, sources: &[Source]) -> Option<anyhow::Error> {
        let bad: u64 = self.bad.iter().map(|b| b.count).sum();
        if bad == 0 || self.valid.iter().any(|&v| v > 0) {
            return None;
        }
        let names: Vec<String> = sources.iter().map(|s| sanitize(&s.name).into_owned()).collect();
        let first = self
            .bad
            .iter()
            .zip(sources)
            .find_map(|(b, s)| b.first.first().map(|(line, reason)| format!("{}:{line}: {}", s.name, reason)))
            .unwrap_or_default();
        let hint = sources
            .iter()
            .zip(&self.bad)
            .zip(&self.fragments)
            .find(|((_, b), &f)| looks_pretty_printed(b.count, f))
            .map(|((s, _), _)| format!("; {}", pretty_printed_hint(&s.name)))
            .unwrap_or_default();
        Some(anyhow::anyhow!(
            "no valid line in {} ({bad} bad lines; first: {}){hint}",
            names.join(", "),
            sanitize(&first)
        ))
    }
}

/// Most of a source's bad lines are pieces of JSON objects printed over several lines.
fn looks_pretty_printed(bad: u64, fragments: u64) -> bool {
    fragments >= 3 && fragments * 2 >= bad
}

fn pretty_printed_hint(name: &str) -> String {
    let name = sanitize(name);
    format!(
        "{name} looks like pretty-printed JSON (one object over several lines), and metricsctl reads one object \
         per line: convert it with `jq -c . {name} > {name}.jsonl`"
    )
}

pub struct QueryOptions {
    pub strict: bool,
    pub baseline: bool,
    /// Bad lines to keep per source with their reasons.
    pub keep_bad: usize,
    pub block_size: usize,
    /// Only the newest sample of each series is wanted (see [`ScanOptions::latest_only`]).
    pub latest_only: bool,
    /// How exports are found, and whether duplicates are dropped: the defaults, but for
    /// the property tests' mutation checks.
    pub grouping: Grouping,
    pub keep_duplicates: bool,
    /// See [`EngineOptions::pack_histograms_above_series`].
    pub pack_histograms_above_series: usize,
}

impl Default for QueryOptions {
    fn default() -> QueryOptions {
        QueryOptions {
            strict: false,
            baseline: false,
            keep_bad: 1,
            block_size: metricsctl_reader::input::BLOCK_SIZE,
            latest_only: false,
            grouping: Grouping::Learned,
            keep_duplicates: false,
            pack_histograms_above_series: crate::engine::PACK_HISTOGRAMS_ABOVE_SERIES,
        }
    }
}

/// Applies the filter's series conditions before the command's own sink.
struct FilteredSink<'a> {
    filter: &'a Filter,
    inner: &'a mut dyn Sink,
    error: Option<anyhow::Error>,
}

impl Sink for FilteredSink<'_> {
    fn want_series(&mut self, id: SeriesId, info: &SeriesInfo) -> bool {
        match self.filter.series_matches(&info.key, info.meta()) {
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

    fn dropped(&mut self, id: SeriesId, info: &SeriesInfo, dropped: &Dropped) {
        self.inner.dropped(id, info, dropped);
    }
}

/// Resolves `--since`/`--until`, relative ones against the newest sample of the input.
/// A window relative to a newest sample further behind the clock than this is said to
/// be taken from that sample.
const STALE_NEWEST: i64 = 3600 * metricsctl_format::timestamp::NANOS_PER_SEC;

pub fn resolve_window(sources: &[Source], filter: &Filter) -> Result<Window> {
    let newest =
        if filter.needs_newest_timestamp() { metricsctl_reader::backwards::newest_timestamp(sources)? } else { None };
    let window = Window {
        since: filter.since.and_then(|t| t.resolve(newest)),
        until: filter.until.and_then(|t| t.resolve(newest)),
    };
    if let (Some(since), Some(until)) = (window.since, window.until) {
        if since > until {
            crate::usage_error!(
                "--since ({}) is later than --until ({}): the window is empty",
                metricsctl_format::timestamp::format_utc(since),
                metricsctl_format::timestamp::format_utc(until)
            );
        }
    }
    if let Some(newest) = newest {
        let behind = metricsctl_format::timestamp::now_nanos() - newest;
        if behind > STALE_NEWEST {
            eprintln!(
                "note: relative times count back from the newest sample of the input, {} ({} before now); \
                 use now-DURATION to count from the clock",
                metricsctl_format::timestamp::format_utc(newest),
                metricsctl_format::timestamp::format_duration(behind)
            );
        }
    }
    Ok(window)
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
    let mut engine = Engine::new(EngineOptions {
        window,
        baseline: options.baseline,
        grouping: options.grouping,
        keep_duplicates: options.keep_duplicates,
        pack_histograms_above_series: options.pack_histograms_above_series,
    });
    let mut report = ScanReport {
        lines: vec![0; sources.len()],
        bad: vec![BadLines::default(); sources.len()],
        valid: vec![0; sources.len()],
        fragments: vec![0; sources.len()],
        inferred_types: 0,
    };
    let scan_options = ScanOptions {
        metrics: filter.metrics.clone(),
        block_size: options.block_size,
        latest_only: options.latest_only,
    };
    let mut filtered = FilteredSink { filter, inner: sink, error: None };
    scan(sources, &scan_options, |origin, chunk| {
        report.lines[origin.source] += chunk.lines;
        report.valid[origin.source] += chunk.samples.len() as u64 + chunk.skipped;
        report.fragments[origin.source] += chunk.fragments;
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

/// The one-line summary of bad lines per source, as docs/FORMAT.md words it.
pub fn warn_bad_lines(sources: &[Source], report: &ScanReport) {
    for ((src, bad), &fragments) in sources.iter().zip(&report.bad).zip(&report.fragments) {
        if bad.count == 0 {
            continue;
        }
        if looks_pretty_printed(bad.count, fragments) {
            eprintln!("note: {}", pretty_printed_hint(&src.name));
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

/// `file:line` of a position in the input.
pub fn line_name(sources: &[Source], pos: LinePos) -> String {
    format!("{}:{}", sanitize(&sources[pos.source].name), pos.line)
}

/// A series as people read it: `metric{labels}`.
pub fn series_name(info: &SeriesInfo) -> String {
    sanitize(&format!("{}{}", info.key.metric, metricsctl_format::text::labels_text(&info.key.attributes))).into_owned()
}

/// A process as people read it: `service [resource]`.
pub fn process_name(engine: &Engine, pid: crate::engine::ProcessId) -> String {
    let p = &engine.catalog.processes[pid as usize];
    let res: Vec<String> = p.meta_resource.iter().map(|(k, v)| format!("{k}={v}")).collect();
    sanitize(&format!("{} [{}]", p.service, res.join(" "))).into_owned()
}

fn seconds(nanos: i64) -> String {
    let s = nanos as f64 / metricsctl_format::timestamp::NANOS_PER_SEC as f64;
    if s >= 10.0 {
        format!("{s:.1} s")
    } else {
        format!("{s:.3} s")
    }
}

/// How a restart was inferred, in words: the evidence, whether it is a guess, and how
/// the export it was seen in began.
pub fn restart_evidence(engine: &Engine, restart: &Restart) -> String {
    let name = |id: SeriesId| series_name(&engine.catalog.series[id as usize]);
    let mut text = match &restart.reason {
        RestartReason::Decrease { series, from, to } => {
            format!("{} decreased from {} to {}", name(*series), from, to)
        }
        RestartReason::StartTimestamp { series, from, to } => match from {
            Some(from) => format!(
                "start_timestamp of {} changed from {} to {}",
                name(*series),
                metricsctl_format::timestamp::format_utc(*from),
                metricsctl_format::timestamp::format_utc(*to)
            ),
            None => {
                format!(
                    "{} started at {}, after its previous sample",
                    name(*series),
                    metricsctl_format::timestamp::format_utc(*to)
                )
            }
        },
        RestartReason::Vanished { missing, of, examples } => {
            let names: Vec<String> = examples.iter().map(|&id| name(id)).collect();
            let more = if (*missing as usize) > names.len() { ", ..." } else { "" };
            format!("{missing} of the previous export's {of} series vanished ({}{more})", names.join(", "))
        }
    };
    if matches!(restart.reason, RestartReason::Vanished { .. }) {
        if restart.confirmed {
            text.push_str("; confirmed later: a missing series came back lower or with a new start time");
        } else {
            text.push_str("; a guess: no series decreased or changed its start time");
        }
        match restart.began_by {
            Boundary::Timing { silence, interval } => text.push_str(&format!(
                "; the export began by timing alone (a line {} after the previous one, past 3/4 of the learnt interval of {})",
                seconds(silence),
                seconds(interval)
            )),
            Boundary::OldSchedule { silence, interval } => text.push_str(&format!(
                "; the export began by timing alone (a line {} after the previous one, on time by the schedule that two exports paused alike had moved; learnt interval {})",
                seconds(silence),
                seconds(interval)
            )),
            Boundary::Gap { silence } => text.push_str(&format!("; the export began after a silence of {}", seconds(silence))),
            Boundary::Repeat | Boundary::First => {}
        }
    }
    text
}

/// What a schedule learnt from too few lines rests on: the interval it took, and the
/// one that explained the lines as well (or almost: see `fit_schedule`).
pub fn schedule_ambiguity(fit: &ScheduleFit) -> String {
    let needs = |fit: &ScheduleFit| {
        let near_half = match fit.near_half_pauses {
            0 => String::new(),
            n => format!(", {n} of almost half an interval"),
        };
        format!("{} restart(s), {} long pause(s){near_half}", fit.restarts, fit.pauses)
    };
    let Some(other) = &fit.alternative else { return String::new() };
    format!(
        "its first lines fit exports every {} ({}) {} every {} ({}); the answer assumes every {}, a guess from too \
         few lines",
        seconds(fit.interval),
        needs(fit),
        if fit.rare_events() == other.rare_events() { "as well as" } else { "almost as well as" },
        seconds(other.interval),
        needs(other),
        seconds(fit.interval)
    )
}

/// Warnings about what the engine inferred that may make answers wrong.
/// Restarts are judged from every sample: not when only the newest were read.
pub fn warn_engine_findings(sources: &[Source], engine: &Engine, restarts: bool) {
    let stats = &engine.stats;
    if stats.out_of_order > 0 {
        let at = stats
            .first_out_of_order
            .map(|(pos, _)| format!(" (first: {})", line_name(sources, pos)))
            .unwrap_or_default();
        eprintln!("warning: ignored {} samples older than their series' previous sample{at}", stats.out_of_order);
    }
    if stats.duplicates > 0 {
        let at = stats
            .first_duplicate
            .map(|(pos, earlier)| {
                format!(" (first: {} repeats {})", line_name(sources, pos), line_name(sources, earlier))
            })
            .unwrap_or_default();
        let plural = if stats.duplicates == 1 { "" } else { "s" };
        eprintln!("note: dropped {} duplicate sample{plural}: lines sent again{at}", stats.duplicates);
    }
    if stats.conflicts > 0 {
        let at = stats
            .first_conflict
            .map(|(pos, earlier, _)| {
                format!(" (first: {} against {})", line_name(sources, pos), line_name(sources, earlier))
            })
            .unwrap_or_default();
        eprintln!(
            "warning: dropped {} conflicting sample(s): the same series and timestamp as an earlier line with another \
             value; the earlier one was kept{at}",
            stats.conflicts
        );
    }
    for split in &stats.splits {
        eprintln!(
            "note: {} holds samples of {} older than those read before it: read as a separate instance \
             (rotated files of one process do not overlap in time; set service.instance.id to tell instances apart)",
            sanitize(&sources[split.source].name),
            process_name(engine, split.joined)
        );
    }
    if !restarts {
        return;
    }
    let guesses: Vec<_> = engine.unconfirmed_restarts().collect();
    if let Some((pid, first)) = guesses.first() {
        let counted: u64 = guesses.iter().map(|(_, r)| r.counted_from_zero).sum();
        eprintln!(
            "warning: the answer assumes {} restart(s) inferred only from vanished series ({counted} series counted \
             from zero; first: {} at {}: {}); `metricsctl explain` shows the evidence",
            guesses.len(),
            process_name(engine, *pid),
            metricsctl_format::timestamp::format_utc(first.timestamp),
            restart_evidence(engine, first)
        );
    }
    for (pid, fit) in engine.ambiguous_schedules() {
        eprintln!("warning: {}: {}", process_name(engine, pid), schedule_ambiguity(fit));
    }
    for pid in engine.suspicious_processes() {
        let p = &engine.catalog.processes[pid as usize];
        eprintln!(
            "warning: the series of service {:?} with resource {{{}}} take turns between two levels or hold two \
             values at one time ({} times in {} exports): several instances probably write without a \
             distinguishing resource (set service.instance.id); their totals cannot be exact",
            sanitize(&p.service),
            sanitize(p.resource.trim_end_matches(',')),
            engine.processes[pid as usize].oscillations + engine.processes[pid as usize].conflicts,
            engine.processes[pid as usize].exports
        );
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
    pub fn run(&self, sink: &mut dyn Sink) -> Result<Engine> {
        let (engine, report) = run(&self.sources, &self.filter, &self.options, sink)?;
        if let Some(e) = report.nothing_valid(&self.sources) {
            return Err(e);
        }
        warn_bad_lines(&self.sources, &report);
        warn_engine_findings(&self.sources, &engine, !self.options.latest_only);
        Ok(engine)
    }
}
