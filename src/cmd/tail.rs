//! `metricsctl tail [-n N] [-f] [--rate]`: the last records, read backwards from the end
//! of the file, then (with `-f`) every record appended.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::cli::TailArgs;
use crate::output::{format_float_short, sanitize, Format};
use metricsctl_engine::filter::{Filter, Window};
use metricsctl_engine::query::resolve_window;
use metricsctl_format::histogram::HistogramSum;
use metricsctl_format::record::{parse_line, Histogram, MetricType, Num, Record, SampleValue};
use metricsctl_format::series::{make_series, SeriesKey};
use metricsctl_format::timestamp::NANOS_PER_SEC;
use metricsctl_format::value::Labels;
use metricsctl_reader::backwards::BackwardLines;
use metricsctl_reader::follow::{FollowEvent, Follower, POLL_INTERVAL};
use metricsctl_reader::input::{open_file, sources, Source, SourceKind};

/// How far `--rate` looks back past the shown records for their previous samples.
const RATE_LOOKBACK_LINES: usize = 200_000;

/// A record to show, with its series' previous sample when `--rate` needs one.
struct Shown {
    line: String,
    key: SeriesKey,
    previous: Option<(i64, SampleValue)>,
}

/// Where a bad line was: its number, or its distance from the end when read backwards.
#[derive(Clone, Copy)]
enum LinePos {
    Number(u64),
    FromEnd(u64),
}

#[derive(Default)]
struct BadLineTally {
    count: u64,
    first: Option<String>,
}

struct Selector {
    filter: Filter,
    window: Window,
    strict: bool,
    bad: Vec<BadLineTally>,
    /// While following: each bad line is said as it comes (the first few).
    live: bool,
}

/// Bad lines said one by one while following; the rest are counted.
const LIVE_BAD_LINES_SHOWN: u64 = 10;

impl Selector {
    /// Counts a bad line (and says it while following); with --strict, the error.
    fn bad_line(&mut self, source: usize, name: &str, pos: LinePos, reason: &str) -> Result<()> {
        let at = match pos {
            LinePos::Number(n) => format!("line {n}"),
            LinePos::FromEnd(0) => "a line read while following".to_string(),
            LinePos::FromEnd(n) => format!("line {n} from the end"),
        };
        if self.strict {
            bail!("{name}: {at}: {reason}");
        }
        let tally = &mut self.bad[source];
        tally.count += 1;
        tally.first.get_or_insert(format!("{at}: {}", sanitize(reason)));
        if self.live && tally.count <= LIVE_BAD_LINES_SHOWN {
            eprintln!("metricsctl: {}: skipped a bad line: {}", sanitize(name), sanitize(reason));
            if tally.count == LIVE_BAD_LINES_SHOWN {
                eprintln!("metricsctl: {}: further bad lines are counted, not shown", sanitize(name));
            }
        }
        Ok(())
    }

    /// The record lines a line holds: the line itself, or an OTLP/JSON request's data
    /// points as record lines (what every other command reads them as). A request that
    /// cannot be read, or points the format cannot carry, count as a bad line.
    fn expand<'l>(&mut self, source: usize, name: &str, pos: LinePos, line: &'l [u8]) -> Result<Vec<Cow<'l, [u8]>>> {
        if !metricsctl_otel::otlp::is_json_request(line) {
            return Ok(vec![Cow::Borrowed(line)]);
        }
        let mut records = Vec::new();
        match metricsctl_otel::otlp::convert_json_line(line, &mut records) {
            Ok(conversion) => {
                if conversion.rejected_points() > 0 {
                    self.bad_line(source, name, pos, &format!("OTLP: {}", conversion.rejection_message()))?;
                }
            }
            Err(reason) => self.bad_line(source, name, pos, &format!("OTLP/JSON: {reason}"))?,
        }
        Ok(records.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| Cow::Owned(l.to_vec())).collect())
    }

    /// Parses a line; `Ok(None)` for blank lines, bad lines (tallied) and non-matches.
    fn select<'a>(
        &mut self,
        source: usize,
        name: &str,
        pos: LinePos,
        line: &'a [u8],
    ) -> Result<Option<(Record<'a>, SeriesKey)>> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let parsed = std::str::from_utf8(line)
            .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))
            .and_then(parse_line)
            .and_then(|r| make_series(&r).map(|s| (r, s)));
        let (record, series) = match parsed {
            Ok(v) => v,
            Err(reason) => {
                self.bad_line(source, name, pos, &reason)?;
                return Ok(None);
            }
        };
        if !self.window.contains(record.timestamp) || !self.filter.series_matches(&series.key, series.meta())? {
            return Ok(None);
        }
        Ok(Some((record, series.key)))
    }
}

pub fn run(args: TailArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if args.format == Format::Csv {
        crate::usage_error!(
            "tail has no csv output: its formats are table (one record per line) and json (JSON lines)"
        );
    }
    let filter = args.filter.build(None)?;
    // Like tail -F, a file to follow that does not exist yet is waited for.
    let files = if args.files.is_empty() {
        vec![std::path::PathBuf::from(metricsctl_reader::input::DEFAULT_PATH)]
    } else {
        args.files.clone()
    };
    let waiting = args.follow && files.last().is_some_and(|f| f.as_os_str() != "-" && !f.exists());
    let backlog_files = &files[..files.len() - usize::from(waiting)];
    let mut sources = if backlog_files.is_empty() { Vec::new() } else { sources(backlog_files)? };
    if waiting {
        let path = files.last().expect("a file to wait for");
        eprintln!("metricsctl: {} does not exist yet; waiting for it", sanitize(&path.display().to_string()));
        sources.push(Source::from_arg(path));
    }
    if args.follow {
        if let Some(SourceKind::Compressed(..)) = sources.last().map(|s| &s.kind) {
            bail!("cannot follow a compressed file: name the uncompressed file last");
        }
        super::stop_on_signals();
    }
    let window = resolve_window(&sources[..sources.len() - usize::from(waiting)], &filter)?;
    let mut selector = Selector {
        filter,
        window,
        strict: args.input.strict,
        bad: (0..sources.len()).map(|_| BadLineTally::default()).collect(),
        live: false,
    };
    let backlog = &sources[..sources.len() - usize::from(waiting)];
    let (shown, follow_from) = if backlog.is_empty() {
        (Vec::new(), 0)
    } else {
        last_records(backlog, &mut selector, args.lines, args.rate, args.follow && !waiting)?
    };
    let follow_from = if waiting { 0 } else { follow_from };
    let mut previous: HashMap<SeriesKey, (i64, SampleValue)> = HashMap::new();
    for s in shown.iter().rev() {
        let record = parse_line(&s.line).map_err(anyhow::Error::msg)?;
        write_record(out, args.format, args.rate, &record, s.previous.as_ref())?;
        if args.follow && args.rate {
            previous.insert(s.key.clone(), (record.timestamp, record.value.clone()));
        }
    }
    out.flush()?;
    if !args.follow {
        report_bad(&sources, &selector);
        let damage: Vec<String> = sources.iter().filter_map(Source::damage).collect();
        if !damage.is_empty() {
            bail!("{}", damage.join("; "));
        }
        return Ok(ExitCode::SUCCESS);
    }
    report_bad(&sources, &selector);
    for tally in &mut selector.bad {
        *tally = BadLineTally::default();
    }
    selector.live = true;
    let last = sources.len() - 1;
    let src = &sources[last];
    let lines = args.lines;
    let mut on_line = |line: &[u8]| -> Result<()> {
        for line in selector.expand(last, &src.name, LinePos::FromEnd(0), line)? {
            let Some((record, key)) = selector.select(last, &src.name, LinePos::FromEnd(0), &line)? else { continue };
            let prev = if args.rate { previous.get(&key).cloned() } else { None };
            write_record(out, args.format, args.rate, &record, prev.as_ref())?;
            if args.rate {
                previous.insert(key, (record.timestamp, record.value.clone()));
            }
        }
        out.flush()?;
        Ok(())
    };
    let followed = match &src.kind {
        SourceKind::Stdin => {
            // What stdin holds already is a backlog: its last N records first (as
            // without -f), then every record as it comes.
            let (tx, rx) = std::sync::mpsc::channel::<std::io::Result<Vec<u8>>>();
            std::thread::spawn(move || {
                for line in std::io::stdin().lock().split(b'\n') {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let mut backlog: std::collections::VecDeque<Vec<u8>> = std::collections::VecDeque::new();
            let mut in_backlog = true;
            loop {
                if super::stop_requested() {
                    break Ok(());
                }
                let wait = if in_backlog { std::time::Duration::from_millis(200) } else { POLL_INTERVAL };
                let mut line = match rx.recv_timeout(wait) {
                    Ok(line) => line.context("cannot read stdin")?,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        if in_backlog {
                            in_backlog = false;
                            for line in backlog.drain(..) {
                                on_line(&line)?;
                            }
                        }
                        continue;
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        for line in backlog.drain(..) {
                            on_line(&line)?;
                        }
                        break Ok(());
                    }
                };
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if in_backlog {
                    backlog.push_back(line);
                    if backlog.len() > lines {
                        backlog.pop_front();
                    }
                } else {
                    on_line(&line)?;
                }
            }
        }
        SourceKind::Plain(path) | SourceKind::Compressed(path, _) => {
            let mut follower = Follower::new(path, follow_from);
            let name = src.name.clone();
            let mut on_event = |e: FollowEvent| {
                eprintln!("metricsctl: {name}: {}", e.describe());
            };
            loop {
                if super::stop_requested() {
                    break Ok::<(), anyhow::Error>(());
                }
                if !follower.poll(&mut on_line, &mut on_event)? {
                    std::thread::sleep(POLL_INTERVAL);
                }
            }
        }
    };
    followed?;
    report_bad(&sources, &selector);
    Ok(if super::stop_requested() { ExitCode::from(130) } else { ExitCode::SUCCESS })
}

fn report_bad(sources: &[Source], selector: &Selector) {
    for (src, bad) in sources.iter().zip(&selector.bad) {
        if bad.count > 0 {
            let plural = if bad.count == 1 { "" } else { "s" };
            eprintln!(
                "warning: skipped {} bad line{plural} in {} (first: {})",
                bad.count,
                src.name,
                bad.first.as_deref().unwrap_or("?")
            );
        }
    }
}

/// The last `n` matching records, newest first, and the offset in the last file where
/// following starts.
fn last_records(
    sources: &[Source],
    selector: &mut Selector,
    n: usize,
    rate: bool,
    follow: bool,
) -> Result<(Vec<Shown>, u64)> {
    let mut shown: Vec<Shown> = Vec::new();
    let mut follow_from = 0u64;
    // Series of shown records whose previous sample is still unknown, by index of the
    // oldest shown record of that series.
    let mut missing: HashMap<SeriesKey, usize> = HashMap::new();
    for (i, src) in sources.iter().enumerate().rev() {
        let done =
            |shown: &Vec<Shown>, missing: &HashMap<SeriesKey, usize>| shown.len() >= n && (!rate || missing.is_empty());
        if done(&shown, &missing) && !(follow && i == sources.len() - 1) {
            break;
        }
        match &src.kind {
            SourceKind::Plain(path) => {
                let file = open_file(path)?;
                let len = file.metadata().with_context(|| format!("cannot read {}", src.name))?.len();
                let mut lines = BackwardLines::open(file).with_context(|| format!("cannot read {}", src.name))?;
                if i == sources.len() - 1 {
                    follow_from = len;
                }
                let mut from_end = 0u64;
                let mut lookback = 0usize;
                while let Some(line) = lines.next_line().with_context(|| format!("cannot read {}", src.name))? {
                    from_end += 1;
                    if done(&shown, &missing) {
                        break;
                    }
                    let Some(line) = line else {
                        selector.bad[i].count += 1;
                        continue;
                    };
                    if follow && from_end == 1 && i == sources.len() - 1 && lines_ends_without_newline(path, len)? {
                        // A line still being written: the follower prints it when complete.
                        follow_from = len - line.len() as u64;
                        continue;
                    }
                    let pos = LinePos::FromEnd(from_end);
                    for line in selector.expand(i, &src.name, pos, &line)?.iter().rev() {
                        if done(&shown, &missing) {
                            break;
                        }
                        let Some((record, key)) = selector.select(i, &src.name, pos, line)? else { continue };
                        if shown.len() >= n {
                            lookback += 1;
                        }
                        take(&mut shown, &mut missing, n, rate, record, key, line)?;
                    }
                    if lookback > RATE_LOOKBACK_LINES {
                        break;
                    }
                }
            }
            SourceKind::Compressed(..) | SourceKind::Stdin => {
                if follow && i == sources.len() - 1 && src.kind == SourceKind::Stdin {
                    // stdin is followed as it comes: show nothing from a backlog first.
                    continue;
                }
                let older = forward_records(src, i, selector, n.saturating_sub(shown.len()), rate)?;
                for s in older.into_iter().rev() {
                    if shown.len() < n {
                        if rate && s.previous.is_none() {
                            missing.entry(s.key.clone()).or_insert(shown.len());
                        }
                        shown.push(s);
                    }
                }
            }
        }
    }
    Ok((shown, follow_from))
}

fn lines_ends_without_newline(path: &std::path::Path, len: u64) -> Result<bool> {
    use std::os::unix::fs::FileExt;
    if len == 0 {
        return Ok(false);
    }
    let mut last = [0u8; 1];
    open_file(path)?.read_exact_at(&mut last, len - 1)?;
    Ok(last[0] != b'\n')
}

/// Files a record read backwards: as a shown record while fewer than `n` are shown,
/// else as the previous sample of a shown record's series.
fn take(
    shown: &mut Vec<Shown>,
    missing: &mut HashMap<SeriesKey, usize>,
    n: usize,
    rate: bool,
    record: Record<'_>,
    key: SeriesKey,
    line: &[u8],
) -> Result<()> {
    if rate {
        if let Some(&idx) = missing.get(&key) {
            shown[idx].previous = Some((record.timestamp, record.value.clone()));
            missing.remove(&key);
        }
    }
    if shown.len() < n {
        if rate && record.metric_type != MetricType::Gauge {
            missing.insert(key.clone(), shown.len());
        }
        shown.push(Shown { line: String::from_utf8_lossy(line).into_owned(), key, previous: None });
    }
    Ok(())
}

/// The last `n` matching records of a stream, oldest first, each with its series'
/// previous sample.
fn forward_records(src: &Source, index: usize, selector: &mut Selector, n: usize, rate: bool) -> Result<Vec<Shown>> {
    let mut ring: VecDeque<Shown> = VecDeque::with_capacity(n.min(1 << 16));
    let mut last: HashMap<SeriesKey, (i64, SampleValue)> = HashMap::new();
    let reader = BufReader::new(src.open()?);
    for (no, line) in reader.split(b'\n').enumerate() {
        let mut line = line.with_context(|| format!("cannot read {}", src.name))?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let pos = LinePos::Number(no as u64 + 1);
        for line in selector.expand(index, &src.name, pos, &line)? {
            let Some((record, key)) = selector.select(index, &src.name, pos, &line)? else { continue };
            let previous = if rate { last.insert(key.clone(), (record.timestamp, record.value.clone())) } else { None };
            if n == 0 {
                continue;
            }
            if ring.len() == n {
                ring.pop_front();
            }
            ring.push_back(Shown { line: String::from_utf8_lossy(&line).into_owned(), key, previous });
        }
    }
    Ok(ring.into())
}

fn write_record(
    out: &mut dyn Write,
    format: Format,
    rate: bool,
    r: &Record<'_>,
    previous: Option<&(i64, SampleValue)>,
) -> Result<()> {
    match format {
        Format::Json if !rate => {
            let json = serde_json::to_string(&record_json(r, None))?;
            writeln!(out, "{json}")?;
        }
        Format::Json => {
            let json = serde_json::to_string(&record_json(r, Some(previous)))?;
            writeln!(out, "{json}")?;
        }
        Format::Table | Format::Csv => writeln!(out, "{}", render(r, rate, previous))?,
    }
    Ok(())
}

fn service_of(r: &Record<'_>) -> String {
    make_series(r).map(|s| s.key.service.to_string()).unwrap_or_else(|_| "unknown_service".into())
}

/// A record as a JSON object with the format's field names (normalised: service_name
/// filled in, metric_type explicit, buckets per-bucket with the +Inf bucket). With
/// `--rate`, `increase`, `interval_seconds` and `rate` are added.
fn record_json(r: &Record<'_>, rate: Option<Option<&(i64, SampleValue)>>) -> serde_json::Value {
    let series = make_series(r).ok();
    let labels = |set: &Labels| -> serde_json::Map<String, serde_json::Value> {
        set.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect()
    };
    let mut obj = serde_json::Map::new();
    obj.insert("timestamp".into(), r.timestamp_text.as_ref().into());
    obj.insert("service_name".into(), service_of(r).into());
    obj.insert("metric_name".into(), r.metric_name.as_ref().into());
    obj.insert("metric_type".into(), r.metric_type.as_str().into());
    obj.insert("value".into(), value_json(&r.value));
    if let Some(scope) = &r.scope {
        let mut s = serde_json::Map::new();
        s.insert("name".into(), scope.name.clone().into());
        if let Some(v) = &scope.version {
            s.insert("version".into(), v.clone().into());
        }
        obj.insert("scope".into(), s.into());
    }
    if let Some(u) = &r.unit {
        obj.insert("unit".into(), u.as_ref().into());
    }
    if let Some(d) = &r.description {
        obj.insert("description".into(), d.as_ref().into());
    }
    if let Some(s) = &series {
        obj.insert("attributes".into(), labels(&s.key.attributes).into());
        if !s.meta().resource.is_empty() {
            obj.insert("resource".into(), labels(&s.meta().resource).into());
        }
    }
    if let Some(previous) = rate {
        if let Some((increase, secs)) = increase_since(r, previous) {
            let inc = match &increase {
                SampleValue::Num(n) => n.to_json(),
                SampleValue::Hist(h) => serde_json::json!(h.count),
            };
            let per_sec = match &increase {
                SampleValue::Num(n) => n.as_f64(),
                SampleValue::Hist(h) => h.count as f64,
            } / secs;
            obj.insert("increase".into(), inc);
            obj.insert("interval_seconds".into(), serde_json::json!(secs));
            obj.insert("rate".into(), serde_json::json!(per_sec));
        }
    }
    serde_json::Value::Object(obj)
}

fn value_json(v: &SampleValue) -> serde_json::Value {
    match v {
        SampleValue::Num(n) => n.to_json(),
        SampleValue::Hist(h) => {
            let mut buckets: Vec<serde_json::Value> = h
                .bounds
                .iter()
                .zip(&h.counts)
                .map(|(b, c)| serde_json::json!({"upper_bound": b, "count": c}))
                .collect();
            buckets.push(serde_json::json!({"upper_bound": "+Inf", "count": h.counts.last().copied().unwrap_or(0)}));
            let mut obj = serde_json::json!({"count": h.count, "sum": h.sum, "buckets": buckets});
            if let Some(m) = h.min {
                obj["min"] = m.into();
            }
            if let Some(m) = h.max {
                obj["max"] = m.into();
            }
            obj
        }
    }
}

/// The increase since the previous sample (a decrease means a restart: from zero) and
/// the seconds between the two samples.
fn increase_since(r: &Record<'_>, previous: Option<&(i64, SampleValue)>) -> Option<(SampleValue, f64)> {
    if r.metric_type == MetricType::Gauge {
        return None;
    }
    let (prev_ts, prev) = previous?;
    let secs = r.timestamp.saturating_sub(*prev_ts) as f64 / NANOS_PER_SEC as f64;
    if secs <= 0.0 {
        return None;
    }
    let increase = match (&r.value, prev) {
        (SampleValue::Num(now), SampleValue::Num(before)) => {
            SampleValue::Num(if now.less_than(*before) { *now } else { now.minus(*before) })
        }
        (SampleValue::Hist(now), SampleValue::Hist(before)) => match before.increase_to(now) {
            Some(increase) => SampleValue::Hist(std::sync::Arc::new(increase)),
            None => SampleValue::Hist(now.clone()),
        },
        _ => return None,
    };
    Some((increase, secs))
}

fn labels_text(r: &Record<'_>) -> String {
    make_series(r).map(|s| metricsctl_format::text::labels_text(&s.key.attributes)).unwrap_or_default()
}

fn histogram_text(h: &Histogram) -> String {
    let mut sum = HistogramSum::default();
    sum.add(h);
    let p50 = sum.quantile(0.5).map_or("-".to_string(), format_float_short);
    format!("count={} sum={} p50={p50}", h.count, format_float_short(h.sum))
}

/// One compact line: time, service, metric{labels}, value. Every field is sanitised.
fn render(r: &Record<'_>, rate: bool, previous: Option<&(i64, SampleValue)>) -> String {
    // The scope, when there is one, after the service: `sre/io.opentelemetry.http`.
    let scope = r.scope.as_ref().map(|s| format!("/{}", s.name)).unwrap_or_default();
    let head = format!("{} {}{scope} {}{}", r.timestamp_text, service_of(r), r.metric_name, labels_text(r));
    let value = if rate && r.metric_type != MetricType::Gauge {
        match increase_since(r, previous) {
            Some((SampleValue::Num(n), secs)) => format!("+{n} ({}/s)", format_float_short(n.as_f64() / secs)),
            Some((SampleValue::Hist(h), secs)) => {
                format!("+{} ({}/s)", histogram_text(&h), format_float_short(h.count as f64 / secs))
            }
            None => "(no previous sample)".to_string(),
        }
    } else {
        match &r.value {
            SampleValue::Num(Num::Float(v)) => format_float_short(*v),
            SampleValue::Num(n) => n.to_string(),
            SampleValue::Hist(h) => histogram_text(h),
        }
    };
    sanitize(&format!("{head} {value}")).into_owned()
}
