//! Writing lines of the record format (docs/FORMAT.md), for every producer: the JSON
//! file exporter (the SDK's data) and `receive` (OTLP requests).

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::timestamp::{format_millis_with_offset, format_utc};

/// A number as JSON: integers exact, floats finite.
pub trait JsonNumber: Copy {
    /// `None` for NaN and infinities, which JSON cannot carry.
    fn json(self) -> Option<String>;
}

impl JsonNumber for u64 {
    fn json(self) -> Option<String> {
        Some(self.to_string())
    }
}

impl JsonNumber for i64 {
    fn json(self) -> Option<String> {
        Some(self.to_string())
    }
}

impl JsonNumber for f64 {
    fn json(self) -> Option<String> {
        self.is_finite().then(|| serde_json::Number::from_f64(self).map_or_else(|| "0".into(), |n| n.to_string()))
    }
}

pub fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// How a line's timestamps are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeStyle {
    /// UTC with every fraction digit there is (`2025-12-16T01:30:17.594123456Z`): what
    /// this project's exporter and `receive` write.
    #[default]
    Utc,
    /// Milliseconds at a fixed offset (`2025-12-16T09:30:17.594+0800`, offset in
    /// seconds): what the reference Go exporter writes.
    MillisAt(i64),
}

impl TimeStyle {
    pub fn format(self, nanos: i64) -> String {
        match self {
            TimeStyle::Utc => format_utc(nanos),
            TimeStyle::MillisAt(offset) => format_millis_with_offset(nanos, offset),
        }
    }
}

/// What every line of one metric shares.
pub struct LineHead<'a> {
    pub service: &'a str,
    pub resource: &'a str,
    /// The instrumentation scope as a JSON object ([`scope_json`]), or empty for none.
    pub scope: &'a str,
    pub name: &'a str,
    pub unit: &'a str,
    pub description: &'a str,
}

/// One data point's own fields.
pub struct Point<'a> {
    pub metric_type: &'a str,
    pub time: i64,
    pub start: Option<i64>,
    pub delta: bool,
    pub value: &'a str,
    pub attributes: &'a str,
}

/// Appends one line, with UTC timestamps.
pub fn push_line(out: &mut Vec<u8>, head: &LineHead<'_>, point: &Point<'_>) {
    push_line_styled(out, head, point, TimeStyle::Utc);
}

/// Appends one line, with timestamps written in `style`.
pub fn push_line_styled(out: &mut Vec<u8>, head: &LineHead<'_>, point: &Point<'_>, style: TimeStyle) {
    let Point { metric_type, time, start, delta, value, attributes } = *point;
    let mut line = String::with_capacity(256 + value.len() + attributes.len() + head.resource.len());
    let _ = write!(
        line,
        r#"{{"timestamp":"{}","service_name":{},"metric_name":{},"metric_type":"{metric_type}","value":{value}"#,
        style.format(time),
        json_string(head.service),
        json_string(head.name),
    );
    if !head.unit.is_empty() {
        let _ = write!(line, r#","unit":{}"#, json_string(head.unit));
    }
    if !head.description.is_empty() {
        let _ = write!(line, r#","description":{}"#, json_string(head.description));
    }
    let _ = write!(line, r#","attributes":{attributes},"resource":{}"#, head.resource);
    if !head.scope.is_empty() {
        let _ = write!(line, r#","scope":{}"#, head.scope);
    }
    if let Some(start) = start {
        let _ = write!(line, r#","start_timestamp":"{}""#, style.format(start));
    }
    if delta {
        line.push_str(r#","temporality":"delta""#);
    }
    line.push_str("}\n");
    out.extend_from_slice(line.as_bytes());
}

/// An instrumentation scope as the format writes it: `{"name":...,"version":...}`, the
/// version left out when empty.
pub fn scope_json(name: &str, version: &str) -> String {
    if version.is_empty() {
        format!(r#"{{"name":{}}}"#, json_string(name))
    } else {
        format!(r#"{{"name":{},"version":{}}}"#, json_string(name), json_string(version))
    }
}

/// A histogram value: count, sum, min and max when known, and per-bucket
/// counts with their upper bounds, the last one `"+Inf"`.
pub fn histogram_value(
    count: u64,
    sum: &str,
    min: Option<String>,
    max: Option<String>,
    bounds: &[f64],
    counts: &[u64],
) -> String {
    let mut value = format!(r#"{{"count":{count},"sum":{sum}"#);
    if let (Some(min), Some(max)) = (min, max) {
        let _ = write!(value, r#","min":{min},"max":{max}"#);
    }
    value.push_str(r#","buckets":["#);
    for (i, count) in counts.iter().enumerate() {
        if i > 0 {
            value.push(',');
        }
        match bounds.get(i) {
            Some(b) => {
                let b = b.json().unwrap_or_else(|| "0".into());
                let _ = write!(value, r#"{{"upper_bound":{b},"count":{count}}}"#);
            }
            None => {
                let _ = write!(value, r#"{{"upper_bound":"+Inf","count":{count}}}"#);
            }
        }
    }
    value.push_str("]}");
    value
}

/// Appends whole exports to a file: each with one `write` on a file opened with
/// `O_APPEND` (no other writer's line can land inside it), then `fsync` (once `append`
/// returns, the data survives a crash). Never truncates.
///
/// A write cut short (disk full, file size limit, a crash of an earlier writer) leaves a
/// partial last line. The next append then starts with a newline, so that the partial
/// line stays one bad line instead of swallowing the first line of the next export.
pub struct Appender {
    path: PathBuf,
    file: Option<File>,
    /// The file may end inside a line.
    terminate_partial_line: bool,
}

impl Appender {
    /// Creates the parent directory and opens `path` for appending.
    pub fn open(path: &Path) -> anyhow::Result<Appender> {
        use anyhow::Context;
        ignore_file_size_signal();
        let file = open_append(path).with_context(|| format!("cannot open {} for appending", path.display()))?;
        let terminate_partial_line = ends_inside_a_line(&file);
        Ok(Appender { path: path.to_path_buf(), file: Some(file), terminate_partial_line })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        // After a failure (disk full, directory made read-only, file removed) the file
        // is opened again, so that writing resumes when the cause goes away.
        if self.file.is_none() {
            let file = open_append(&self.path)?;
            self.terminate_partial_line |= ends_inside_a_line(&file);
            self.file = Some(file);
        }
        let f = self.file.as_mut().expect("opened above");
        let written = if self.terminate_partial_line {
            let mut joined = Vec::with_capacity(bytes.len() + 1);
            joined.push(b'\n');
            joined.extend_from_slice(bytes);
            f.write_all(&joined)
        } else {
            f.write_all(bytes)
        };
        let written = written.and_then(|()| f.sync_data());
        match written {
            Ok(()) => self.terminate_partial_line = false,
            Err(_) => {
                self.file = None;
                // Part of the write may have landed.
                self.terminate_partial_line = true;
            }
        }
        written
    }
}

/// Whether the file's last byte is not a newline (an empty file ends no line).
fn ends_inside_a_line(file: &File) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(len) = file.metadata().map(|m| m.len()) else { return false };
    let mut last = [0u8; 1];
    len > 0 && file.read_at(&mut last, len - 1).is_ok_and(|n| n == 1 && last[0] != b'\n')
}

/// Writing past `ulimit -f` raises SIGXFSZ, whose default action kills the process: a
/// service would die for its metrics file. Ignored (unless the program installed its
/// own handler), the write fails with EFBIG instead, which the writer reports and
/// retries.
fn ignore_file_size_signal() {
    // SAFETY: sigaction with a null new action only reads the current one; SIG_IGN is
    // async-signal-safe and changes nothing else.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGXFSZ, std::ptr::null(), &mut current) == 0 && current.sa_sigaction == libc::SIG_DFL
        {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // Readable too, to see whether the file ends inside a line.
    OpenOptions::new().create(true).read(true).append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as the writer writes them, a counter's and a histogram's, two of each
    /// series with other timestamps and values.
    fn written() -> Vec<String> {
        let head = LineHead {
            service: "sre",
            resource: r#"{"service.instance.id":"sre-0","service.name":"sre"}"#,
            scope: "",
            name: "http_server_request_duration_seconds",
            unit: "s",
            description: "HTTP request duration",
        };
        let counter_head = LineHead { name: "http_server_requests_total", unit: "1", ..head };
        let attributes = r#"{"http.method":"GET","http.route":"/api/v1/orders/{id}","http.status_code":200}"#;
        let mut out = Vec::new();
        for (i, count) in [(0i64, 3u64), (1, 7)] {
            let time = 1_765_000_000_000_000_000 + i * 10_000_000_000;
            let counter = count.to_string();
            let point = Point {
                metric_type: "counter",
                time,
                start: Some(1_764_999_000_000_000_000),
                delta: false,
                value: &counter,
                attributes,
            };
            push_line(&mut out, &counter_head, &point);
            let sum = (count as f64 * 0.0125).json().unwrap();
            let value = histogram_value(
                count,
                &sum,
                Some("0.001".into()),
                Some("0.3".into()),
                &[0.005, 0.1, 2.5],
                &[1, count - 2, 1, 0],
            );
            push_line(&mut out, &head, &Point { metric_type: "histogram", value: &value, ..point });
        }
        String::from_utf8(out).unwrap().lines().map(String::from).collect()
    }

    /// The reader's fast paths are tuned to these bytes: if the writer changes its shape,
    /// this fails rather than every read silently taking the slow path.
    #[test]
    fn the_writers_lines_take_the_readers_fast_paths() {
        use crate::record::{LineParser, SampleValue};
        use crate::series::make_series;
        use crate::template::{Split, TemplateCache};

        let lines = written();
        let mut parser = LineParser::default();
        let mut templates = TemplateCache::default();
        for first in &lines[..2] {
            let record = parser.parse_line(first).unwrap();
            let series = make_series(&record).map(std::sync::Arc::new);
            templates.learn(first.as_bytes(), &record, &series, &mut parser);
        }
        for next in &lines[2..] {
            let split = Split::new(next.as_bytes()).expect("the writer's line splits");
            let (template, _) = templates.find(&split).expect("the next line of a series is known by its bytes");
            let full = parser.parse_line(next).unwrap();
            assert_eq!(split.parse_value(template, &mut parser).as_ref(), Some(&full.value));
            assert_eq!(split.parse_timestamp(), Some(full.timestamp));
            if let SampleValue::Hist(_) = full.value {
                assert!(parser.reads_histogram_fast(split.value), "histogram not read by the fast path: {next}");
            }
        }
    }

    #[test]
    fn a_partial_last_line_stays_apart_from_the_next_export() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        std::fs::write(&path, "{\"complete\":1}\n{\"cut sho").unwrap();
        let mut appender = Appender::open(&path).unwrap();
        appender.append(b"{\"next\":1}\n").unwrap();
        appender.append(b"{\"next\":2}\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"complete\":1}\n{\"cut sho\n{\"next\":1}\n{\"next\":2}\n");

        // A file that ends with its newline gets nothing added; neither does a new one.
        let clean = dir.path().join("dir/clean.jsonl");
        Appender::open(&clean).unwrap().append(b"a\n").unwrap();
        Appender::open(&clean).unwrap().append(b"b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&clean).unwrap(), "a\nb\n");
    }
}
