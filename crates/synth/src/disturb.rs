//! Real-world disturbances applied to well-formed exports, for the property tests and
//! the benchmark files: what exporters and log pipelines do to the lines that none of
//! this changes the meaning of (docs/SEMANTICS.md, "Exports as they really arrive").
//!
//! - each line stamped when it is written, a few milliseconds after the previous one;
//! - a pause (GC, CPU throttling, a slow disk) before a random line of an export, up to
//!   a share of the interval;
//! - the data points of each metric in another order in every export (the Go SDK
//!   iterates a map);
//! - the lines of processes exporting at the same moment interleaved by write time;
//! - a run of lines sent again (at-least-once log shippers after a retry).
//!
//! The lines must begin with `{"timestamp":"...","`, as this project's writers and the
//! reference exporter write them; the timestamp is replaced.

use metricsctl_format::timestamp::format_millis_with_offset;

/// What to do to the exports, and how often.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Disturbance {
    /// Nanoseconds between consecutive lines of one export (0: one timestamp per export).
    pub line_spacing: i64,
    /// Chance per export of a pause before one of its lines.
    pub pause_chance: f64,
    /// Longest pause, as a share of the interval (below 0.5: see the engine's rule).
    pub max_pause: f64,
    /// Shuffle the data points of each metric in each export.
    pub shuffle: bool,
    /// Write the lines of all processes' exports of one tick in the order of their
    /// timestamps, as processes exporting at the same moment do.
    pub interleave: bool,
    /// Chance per line that, after it, a run of 1 to `max_resend` lines of its tick
    /// ending with it is sent again.
    pub resend_chance: f64,
    pub max_resend: usize,
}

impl Disturbance {
    /// Every disturbance at once, at rates that make each one frequent.
    pub fn all() -> Disturbance {
        Disturbance {
            line_spacing: 3_000_000,
            pause_chance: 0.1,
            max_pause: 0.45,
            shuffle: true,
            interleave: true,
            resend_chance: 0.05,
            max_resend: 20,
        }
    }
}

/// One export of one process, as written without disturbance.
#[derive(Debug, Clone)]
pub struct Export {
    /// When the export was due, nanoseconds since the epoch.
    pub scheduled: i64,
    /// The process's export interval, nanoseconds.
    pub interval: i64,
    pub lines: Vec<String>,
}

/// xorshift64*: deterministic choices from a seed.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

const TIMESTAMP_PREFIX: &str = r#"{"timestamp":""#;

fn metric_of(line: &str) -> &str {
    const KEY: &str = r#""metric_name":""#;
    line.find(KEY).map_or("", |i| {
        let rest = &line[i + KEY.len()..];
        &rest[..rest.find('"').unwrap_or(rest.len())]
    })
}

fn restamp(line: &str, nanos: i64) -> String {
    let Some(rest) = line.strip_prefix(TIMESTAMP_PREFIX) else { return line.to_string() };
    let end = rest.find('"').unwrap_or(0);
    format!("{TIMESTAMP_PREFIX}{}{}", format_millis_with_offset(nanos, 8 * 3600), &rest[end..])
}

/// Writes exports tick by tick with the disturbances applied. A process writes its
/// exports one after the other: one delayed by a pause delays the next.
#[derive(Debug, Clone)]
pub struct Disturber {
    pub disturbance: Disturbance,
    pub rng: Rng,
    /// Per process: when its last line was written.
    busy_until: Vec<i64>,
}

impl Disturber {
    pub fn new(disturbance: Disturbance, seed: u64) -> Disturber {
        Disturber { disturbance, rng: Rng(seed | 1), busy_until: Vec::new() }
    }

    /// Writes the exports of one tick (each process's export due at about the same
    /// time, by process index) to `out`; returns how many lines it wrote.
    pub fn write_tick(&mut self, exports: Vec<(usize, Export)>, out: &mut Vec<u8>) -> usize {
        let mut count = 0;
        let d = self.disturbance;
        let rng = &mut self.rng;
        // (write time, order of writing, line)
        let mut written: Vec<(i64, usize, String)> = Vec::new();
        for (process, export) in exports {
            if self.busy_until.len() <= process {
                self.busy_until.resize(process + 1, i64::MIN);
            }
            let mut lines = export.lines;
            if d.shuffle {
                let mut start = 0;
                while start < lines.len() {
                    let metric = metric_of(&lines[start]).to_string();
                    let end = (start..lines.len()).find(|&i| metric_of(&lines[i]) != metric).unwrap_or(lines.len());
                    rng.shuffle(&mut lines[start..end]);
                    start = end;
                }
            }
            let pause_before = rng.chance(d.pause_chance).then(|| rng.below(lines.len() as u64) as usize);
            let pause = (d.max_pause * rng.unit() * export.interval as f64) as i64;
            let restamped = d.line_spacing > 0 || pause_before.is_some();
            let mut at = if restamped { export.scheduled.max(self.busy_until[process]) } else { export.scheduled };
            for (i, line) in lines.into_iter().enumerate() {
                if i > 0 {
                    at += d.line_spacing;
                }
                if pause_before == Some(i) {
                    at += pause;
                }
                let line = if restamped { restamp(&line, at) } else { line };
                let order = written.len();
                written.push((at, order, line));
            }
            self.busy_until[process] = at;
        }
        if d.interleave {
            written.sort_by_key(|&(at, order, _)| (at, order));
        }
        for (i, (_, _, line)) in written.iter().enumerate() {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
            count += 1;
            if d.max_resend > 0 && rng.chance(d.resend_chance) {
                // The shipper's retry: the last lines again.
                let run = (1 + rng.below(d.max_resend as u64) as usize).min(i + 1);
                for (_, _, again) in &written[i + 1 - run..=i] {
                    out.extend_from_slice(again.as_bytes());
                    out.push(b'\n');
                    count += 1;
                }
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restamping_keeps_the_rest_of_the_line() {
        let line = r#"{"timestamp":"2025-12-16T09:30:17.594+0800","metric_name":"m","value":1}"#;
        assert_eq!(
            restamp(line, 1_765_848_617_745_000_000),
            r#"{"timestamp":"2025-12-16T09:30:17.745+0800","metric_name":"m","value":1}"#
        );
        assert_eq!(metric_of(line), "m");
    }

    #[test]
    fn no_disturbance_writes_the_lines_as_they_are() {
        let export = Export { scheduled: 0, interval: 10, lines: vec!["a".into(), "b".into()] };
        let mut out = Vec::new();
        Disturber::new(Disturbance::default(), 7).write_tick(vec![(0, export)], &mut out);
        assert_eq!(out, b"a\nb\n");
    }
}
