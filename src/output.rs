//! Output: tables for people, JSON and CSV for machines (README.md, "Output").

use std::borrow::Cow;
use std::io::{IsTerminal, Write};

use anyhow::Result;
use clap::ValueEnum;
use comfy_table::{presets, CellAlignment, ContentArrangement, Table as ComfyTable};

pub use metricsctl_format::text::sanitize;

use metricsctl_format::record::{format_float, Num};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Aligned columns for people (plain ASCII when stdout is not a terminal).
    #[default]
    Table,
    /// A JSON array of row objects with stable keys: the machine contract.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// Whether stdout is a terminal, and whether colour may be used there.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    pub is_tty: bool,
    pub color: bool,
}

impl Terminal {
    pub fn detect() -> Terminal {
        let is_tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
            || std::env::var("TERM").is_ok_and(|t| t == "dumb");
        Terminal { is_tty, color: is_tty && !no_color }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Num(Num),
    Float(f64),
    Json(serde_json::Value),
    Empty,
}

impl Cell {
    fn display(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(s) => sanitize(s),
            Cell::Num(n) => n.to_string().into(),
            Cell::Float(v) => format_float_short(*v).into(),
            Cell::Json(serde_json::Value::String(s)) => sanitize(s),
            Cell::Json(serde_json::Value::Null) => "".into(),
            Cell::Json(v) => v.to_string().into(),
            Cell::Empty => "".into(),
        }
    }

    fn csv_text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Num(n) => n.to_string(),
            Cell::Float(v) => format_float(*v),
            Cell::Json(serde_json::Value::String(s)) => s.clone(),
            Cell::Json(serde_json::Value::Null) => String::new(),
            Cell::Json(v) => v.to_string(),
            Cell::Empty => String::new(),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Text(s) => s.clone().into(),
            Cell::Num(n) => n.to_json(),
            Cell::Float(v) => serde_json::Number::from_f64(*v).map_or(serde_json::Value::Null, Into::into),
            Cell::Json(v) => v.clone(),
            Cell::Empty => serde_json::Value::Null,
        }
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Cell::Num(_) | Cell::Float(_) | Cell::Json(serde_json::Value::Number(_)))
    }
}

/// Floats for people: up to 6 significant decimals, no noise digits.
pub fn format_float_short(v: f64) -> String {
    if !v.is_finite() {
        return format_float(v);
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (5 - magnitude).clamp(0, 12) as usize;
    let s = format!("{v:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Rows with named columns, written in any of the formats.
#[derive(Debug, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// A last row shown in table output only (totals).
    pub footer: Option<Vec<Cell>>,
}

impl Table {
    pub fn new(headers: Vec<String>) -> Table {
        Table { headers, ..Default::default() }
    }

    pub fn write(&self, format: Format, term: Terminal, out: &mut dyn Write) -> Result<()> {
        match format {
            Format::Table => self.write_table(term, out),
            Format::Json => {
                let rows: Vec<serde_json::Value> = self
                    .rows
                    .iter()
                    .map(|row| {
                        let obj: serde_json::Map<String, serde_json::Value> =
                            self.headers.iter().cloned().zip(row.iter().map(Cell::to_json)).collect();
                        serde_json::Value::Object(obj)
                    })
                    .collect();
                serde_json::to_writer_pretty(&mut *out, &rows)?;
                writeln!(out)?;
                Ok(())
            }
            Format::Csv => {
                let mut w = csv::Writer::from_writer(&mut *out);
                w.write_record(&self.headers)?;
                for row in &self.rows {
                    w.write_record(row.iter().map(|c| {
                        let text = c.csv_text();
                        // CSV is data, but not a way to send escape sequences to a terminal.
                        if term.is_tty {
                            sanitize(&text).into_owned()
                        } else {
                            text
                        }
                    }))?;
                }
                w.flush()?;
                Ok(())
            }
        }
    }

    fn write_table(&self, term: Terminal, out: &mut dyn Write) -> Result<()> {
        let mut t = ComfyTable::new();
        t.load_preset(if term.is_tty { presets::UTF8_FULL_CONDENSED } else { presets::ASCII_MARKDOWN });
        t.set_content_arrangement(ContentArrangement::Disabled);
        if !term.color {
            t.force_no_tty();
        } else {
            t.enforce_styling();
        }
        t.set_header(self.headers.iter().map(|h| {
            let c = comfy_table::Cell::new(h);
            if term.color {
                c.add_attribute(comfy_table::Attribute::Bold)
            } else {
                c
            }
        }));
        let numeric: Vec<bool> =
            (0..self.headers.len()).map(|i| self.rows.iter().any(|r| r.get(i).is_some_and(Cell::is_numeric))).collect();
        for row in self.rows.iter().chain(self.footer.iter()) {
            t.add_row(row.iter().map(|c| comfy_table::Cell::new(c.display())));
        }
        for (i, is_num) in numeric.iter().enumerate() {
            if *is_num {
                if let Some(col) = t.column_mut(i) {
                    col.set_cell_alignment(CellAlignment::Right);
                }
            }
        }
        writeln!(out, "{t}")?;
        Ok(())
    }
}

/// Eight-level sparkline of a series of non-negative values.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().filter(|v| v.is_finite()).fold(0.0f64, f64::max);
    values
        .iter()
        .map(|&v| {
            if max <= 0.0 || !v.is_finite() || v <= 0.0 {
                BARS[0]
            } else {
                BARS[(((v / max) * 7.0).round() as usize).min(7)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_terminal_controls() {
        assert_eq!(sanitize("plain"), "plain");
        assert_eq!(sanitize("a\nb\x1b[31m"), "a\\nb\\u001b[31m");
        assert_eq!(sanitize("\u{9b}x"), "\\u009bx");
    }

    #[test]
    fn short_floats() {
        assert_eq!(format_float_short(0.123456789), "0.123457");
        assert_eq!(format_float_short(12.5), "12.5");
        assert_eq!(format_float_short(40.0), "40");
        assert_eq!(format_float_short(1234.56789), "1234.57");
    }

    #[test]
    fn sparkline_scales_to_max() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0]), "▁▅█");
    }
}
