//! Drawing `top`: a header (the input, services and instances, restarts, bad lines), a
//! table of the groups sorted by a column, and a line of keys. The same snapshot is
//! printed as plain text when stdout is not a terminal.

use std::io::Write;

use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell as TuiCell, Paragraph, Row as TuiRow, Table as TuiTable};
use ratatui::Frame;

use super::model::Row;
use crate::output::{format_float_short, sanitize, sparkline, Cell, Format, Table, Terminal};
use metricsctl_format::timestamp::{format_duration, format_utc, NANOS_PER_SEC};

/// What the view shows at one moment: computed from the model and the engine, drawn
/// or printed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The files followed.
    pub inputs: Vec<String>,
    /// Newest sample time.
    pub newest: Option<i64>,
    pub window: i64,
    pub step: i64,
    pub services: Vec<String>,
    pub instances: usize,
    pub restarts: usize,
    pub bad_lines: u64,
    pub by: Vec<String>,
    pub latency_in_seconds: bool,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Rate,
    Errors,
    P50,
    P90,
    P99,
    Labels,
}

impl SortKey {
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Rate => SortKey::Errors,
            SortKey::Errors => SortKey::P50,
            SortKey::P50 => SortKey::P90,
            SortKey::P90 => SortKey::P99,
            SortKey::P99 => SortKey::Labels,
            SortKey::Labels => SortKey::Rate,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Rate => "req/s",
            SortKey::Errors => "err%",
            SortKey::P50 => "p50",
            SortKey::P90 => "p90",
            SortKey::P99 => "p99",
            SortKey::Labels => "name",
        }
    }
}

/// How the user looks at the snapshot: sort, filter, scroll, pause.
#[derive(Debug, Clone, Default)]
pub struct ViewState {
    pub sort: SortKey,
    /// Rows whose labels contain this (case-insensitive).
    pub filter: String,
    /// The filter being typed after `/`.
    pub editing: Option<String>,
    pub paused: bool,
    /// First row shown.
    pub scroll: usize,
    /// The latest thing the input had to say (a bad line, a rotated file).
    pub notice: Option<String>,
}

/// The snapshot's rows that pass the filter, in the view's order.
pub fn visible_rows<'a>(snapshot: &'a Snapshot, state: &ViewState) -> Vec<&'a Row> {
    let needle = state.filter.to_lowercase();
    let mut rows: Vec<&Row> = snapshot
        .rows
        .iter()
        .filter(|r| needle.is_empty() || r.labels.join(" ").to_lowercase().contains(&needle))
        .collect();
    let labels = |r: &Row| r.labels.join("\u{0}");
    // Larger first, rows without a value last, then by name: a stable order between
    // redraws.
    let descending = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => b.total_cmp(&a),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    };
    rows.sort_by(|a, b| {
        let order = match state.sort {
            SortKey::Rate => descending(Some(a.rate), Some(b.rate)),
            SortKey::Errors => descending(a.error_ratio, b.error_ratio),
            SortKey::P50 => descending(a.quantiles[0], b.quantiles[0]),
            SortKey::P90 => descending(a.quantiles[1], b.quantiles[1]),
            SortKey::P99 => descending(a.quantiles[2], b.quantiles[2]),
            SortKey::Labels => std::cmp::Ordering::Equal,
        };
        order.then_with(|| labels(a).cmp(&labels(b)))
    });
    rows
}

/// A latency: ms or s when the histogram is in seconds, the plain number otherwise.
fn latency_text(v: Option<f64>, in_seconds: bool) -> String {
    match v {
        None => "-".into(),
        Some(v) if !in_seconds => format_float_short(v),
        Some(v) if v < 1.0 => format!("{:.1}ms", v * 1e3),
        Some(v) => format!("{v:.2}s"),
    }
}

fn error_text(ratio: Option<f64>) -> String {
    ratio.map_or("-".into(), |r| format!("{:.1}%", r * 100.0))
}

fn rate_text(rate: f64) -> String {
    if rate >= 100.0 {
        format!("{rate:.0}")
    } else {
        format!("{rate:.1}")
    }
}

/// How old the newest sample is, to the second or coarser.
fn age_text(nanos: i64) -> String {
    let secs = nanos / NANOS_PER_SEC;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..86_400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// The header's lines, the same on screen and in plain snapshots.
fn header_lines(snapshot: &Snapshot, now: i64) -> [String; 2] {
    let newest = match snapshot.newest {
        Some(t) => {
            let age = now.saturating_sub(t);
            let ago = if age >= NANOS_PER_SEC { format!(" ({} ago)", age_text(age)) } else { String::new() };
            format!("newest {}{ago}", format_utc(t))
        }
        None => "no requests yet".into(),
    };
    let first = format!(
        "{} · {newest} · window {} · by {}",
        snapshot.inputs.join(", "),
        format_duration(snapshot.window),
        snapshot.by.join(",")
    );
    let services = if snapshot.services.is_empty() { "-".into() } else { snapshot.services.join(", ") };
    let second = format!(
        "services {services} · instances {} · restarts {} · bad lines {}",
        snapshot.instances, snapshot.restarts, snapshot.bad_lines
    );
    [sanitize(&first).into_owned(), sanitize(&second).into_owned()]
}

fn column_headers(snapshot: &Snapshot, sort: SortKey) -> Vec<String> {
    let mut headers: Vec<String> = snapshot.by.clone();
    headers.extend(["req/s", "err%", "p50", "p90", "p99"].map(String::from));
    headers.push(format!("req/s, last {}", format_duration(snapshot.step * snapshot.sparkline_len() as i64)));
    let marked = match sort {
        SortKey::Labels => 0,
        SortKey::Rate => snapshot.by.len(),
        SortKey::Errors => snapshot.by.len() + 1,
        SortKey::P50 => snapshot.by.len() + 2,
        SortKey::P90 => snapshot.by.len() + 3,
        SortKey::P99 => snapshot.by.len() + 4,
    };
    if let Some(h) = headers.get_mut(marked) {
        h.push_str(if sort == SortKey::Labels { "▲" } else { "▼" });
    }
    headers
}

impl Snapshot {
    fn sparkline_len(&self) -> usize {
        self.rows.first().map_or(0, |r| r.sparkline.len())
    }
}

fn row_cells(row: &Row, in_seconds: bool) -> Vec<String> {
    let mut cells: Vec<String> =
        row.labels.iter().map(|l| if l.is_empty() { "-".into() } else { sanitize(l).into_owned() }).collect();
    cells.push(rate_text(row.rate));
    cells.push(error_text(row.error_ratio));
    cells.extend(row.quantiles.iter().map(|q| latency_text(*q, in_seconds)));
    cells.push(sparkline(&row.sparkline));
    cells
}

/// Draws the view; `now` is the wall clock (for how old the newest sample is).
pub fn draw(frame: &mut Frame, snapshot: &Snapshot, state: &ViewState, now: i64) {
    let [header, table_area, status, keys] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(1), Constraint::Length(1), Constraint::Length(1)])
            .areas(frame.area());
    let [first, second] = header_lines(snapshot, now);
    let bold = Style::default().add_modifier(Modifier::BOLD);
    frame.render_widget(Paragraph::new(vec![Line::from(Span::styled(first, bold)), Line::from(second)]), header);

    let rows = visible_rows(snapshot, state);
    let height = table_area.height.saturating_sub(1) as usize;
    let scroll = state.scroll.min(rows.len().saturating_sub(height.max(1)));
    let mut widths: Vec<Constraint> = snapshot
        .by
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let widest = rows.iter().map(|r| r.labels[i].chars().count()).max().unwrap_or(0);
            // Labels keep their width; the sparkline gives way first on a narrow screen.
            Constraint::Min(widest.max(name.chars().count() + 1).clamp(4, 40) as u16)
        })
        .collect();
    widths.extend([Constraint::Length(8), Constraint::Length(7), Constraint::Length(9), Constraint::Length(9)]);
    widths.extend([Constraint::Length(9), Constraint::Fill(1)]);
    let header_row = TuiRow::new(column_headers(snapshot, state.sort).into_iter().map(TuiCell::from))
        .style(bold.add_modifier(Modifier::REVERSED));
    let body = rows
        .iter()
        .skip(scroll)
        .take(height)
        .map(|row| TuiRow::new(row_cells(row, snapshot.latency_in_seconds).into_iter().map(TuiCell::from)));
    frame.render_widget(TuiTable::new(body, widths).header(header_row), table_area);

    let status_text = if let Some(typed) = &state.editing {
        format!("filter: {typed}▏ (Enter to apply, Esc to cancel)")
    } else {
        let mut parts = Vec::new();
        if state.paused {
            parts.push("PAUSED".to_string());
        }
        if !state.filter.is_empty() {
            parts.push(format!("filter {:?}: {} of {} rows", state.filter, rows.len(), snapshot.rows.len()));
        } else {
            parts.push(format!("{} rows", rows.len()));
        }
        if let Some(notice) = &state.notice {
            parts.push(notice.clone());
        }
        parts.join(" · ")
    };
    frame.render_widget(Paragraph::new(sanitize(&status_text).into_owned()), status);
    let keys_text = format!(
        "q quit · s sort ({}) · / filter · p {} · ↑↓ scroll",
        state.sort.name(),
        if state.paused { "resume" } else { "pause" }
    );
    frame.render_widget(Paragraph::new(keys_text).style(Style::default().add_modifier(Modifier::DIM)), keys);
}

/// Prints the snapshot for scripts: as a table under the header lines, or as JSON or
/// CSV rows with plain numbers (seconds, ratios) under stable column names.
pub fn write_plain(
    snapshot: &Snapshot,
    state: &ViewState,
    now: i64,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let plain = Terminal { is_tty: false, color: false };
    if format == Format::Table {
        for line in header_lines(snapshot, now) {
            writeln!(out, "{line}")?;
        }
        let mut table = Table::new(column_headers(snapshot, state.sort));
        for row in visible_rows(snapshot, state) {
            table.rows.push(row_cells(row, snapshot.latency_in_seconds).into_iter().map(Cell::Text).collect());
        }
        table.write(format, plain, out)?;
        writeln!(out)?;
        return Ok(());
    }
    let mut headers = snapshot.by.clone();
    headers.extend(["time", "requests", "rate", "error_ratio", "p50", "p90", "p99"].map(String::from));
    let mut table = Table::new(headers);
    let number = |v: Option<f64>| v.map_or(Cell::Empty, Cell::Float);
    for row in visible_rows(snapshot, state) {
        let mut cells: Vec<Cell> = row.labels.iter().map(|l| Cell::Text(l.clone())).collect();
        cells.push(snapshot.newest.map_or(Cell::Empty, |t| Cell::Text(format_utc(t))));
        cells.push(Cell::Float(row.requests));
        cells.push(Cell::Float(row.rate));
        cells.push(number(row.error_ratio));
        cells.extend(row.quantiles.iter().map(|q| number(*q)));
        table.rows.push(cells);
    }
    table.write(format, plain, out)?;
    Ok(())
}
