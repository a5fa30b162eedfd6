//! RFC 3339 timestamps as nanoseconds since the Unix epoch, and durations.
//!
//! Hand-rolled because it runs once per line on the hot path: chrono's parser is
//! several times slower, and jiff accepts strings that are not RFC 3339.

use anyhow::{bail, Context, Result};

pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)` (also `t`, `z`, or a space
/// as separator) into nanoseconds since the epoch, keeping every fraction digit up to 9.
///
/// ```
/// use metricsctl_format::timestamp::{format_utc, parse_rfc3339};
///
/// let t = parse_rfc3339("2025-12-16T09:30:17.594+0800").unwrap();
/// assert_eq!(t, parse_rfc3339("2025-12-16T01:30:17.594Z").unwrap());
/// assert_eq!(format_utc(t), "2025-12-16T01:30:17.594Z");
/// ```
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let b = text.as_bytes();
    let err = || format!("invalid timestamp {text:?} (expected RFC 3339)");
    if b.len() < 20 {
        return Err(err());
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[range] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let sep_ok = b[4] == b'-' && b[7] == b'-' && matches!(b[10], b'T' | b't' | b' ') && b[13] == b':' && b[16] == b':';
    if !sep_ok {
        return Err(err());
    }
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        (digits(0..4), digits(5..7), digits(8..10), digits(11..13), digits(14..16), digits(17..19))
    else {
        return Err(err());
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(err());
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return Err(err());
        }
        for _ in n..9 {
            nanos *= 10;
        }
    }
    let offset_secs = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &b[i + 1..];
            let (h, m) = match rest.len() {
                5 if rest[2] == b':' => (digits(i + 1..i + 3), digits(i + 4..i + 6)),
                4 => (digits(i + 1..i + 3), digits(i + 3..i + 5)),
                _ => return Err(err()),
            };
            let (Some(h), Some(m)) = (h, m) else {
                return Err(err());
            };
            if h > 23 || m > 59 {
                return Err(err());
            }
            let s = h * 3600 + m * 60;
            if sign == b'+' {
                s
            } else {
                -s
            }
        }
        _ => return Err(err()),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_secs;
    // Metrics are stamped in Unix time: an earlier time is a corrupt line, and with it
    // out, two times never differ by more than an i64 holds.
    if secs < 0 {
        return Err(format!("timestamp {text:?} is before 1970-01-01T00:00:00Z"));
    }
    secs.checked_mul(NANOS_PER_SEC)
        .and_then(|v| v.checked_add(nanos))
        .ok_or_else(|| format!("timestamp {text:?} is out of range"))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian (year, month, day) of a day counted from 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The wall clock in nanoseconds since the epoch.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Formats nanoseconds since the epoch as RFC 3339 in UTC, with as many fraction
/// digits as needed (none, 3, 6 or 9).
pub fn format_utc(nanos: i64) -> String {
    let secs = nanos.div_euclid(NANOS_PER_SEC);
    let frac = nanos.rem_euclid(NANOS_PER_SEC);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut out = format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60);
    if frac != 0 {
        if frac % 1_000_000 == 0 {
            out.push_str(&format!(".{:03}", frac / 1_000_000));
        } else if frac % 1_000 == 0 {
            out.push_str(&format!(".{:06}", frac / 1_000));
        } else {
            out.push_str(&format!(".{frac:09}"));
        }
    }
    out.push('Z');
    out
}

/// RFC 3339 with milliseconds and a fixed `±HHMM` offset, the form of the reference exporter's own
/// example lines (`2025-12-16T09:30:17.594+0800`).
pub fn format_millis_with_offset(nanos: i64, offset_secs: i64) -> String {
    let local = nanos.div_euclid(1_000_000) + offset_secs * 1000;
    let millis = local.rem_euclid(1000);
    let secs = local.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let off = offset_secs.abs();
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}{sign}{:02}{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        off / 3600,
        off / 60 % 60
    )
}

/// A duration for people: `10s`, `1.5s`, `250ms`, `2m30s` (to the millisecond).
pub fn format_duration(nanos: i64) -> String {
    let millis = (nanos as f64 / 1e6).round() as i64;
    if millis.abs() < 1000 {
        return format!("{millis}ms");
    }
    let (secs, ms) = (millis / 1000, millis % 1000);
    let frac = if ms == 0 { String::new() } else { format!(".{ms:03}").trim_end_matches('0').to_string() };
    if secs < 60 {
        format!("{secs}{frac}s")
    } else if secs < 3600 {
        format!("{}m{}{frac}s", secs / 60, secs % 60)
    } else {
        format!("{}h{}m{}{frac}s", secs / 3600, secs / 60 % 60, secs % 60)
    }
}

/// Parses durations such as `10s`, `1m30s`, `2h`, `1d`, `1w`, `250ms`.
pub fn parse_duration(text: &str) -> Result<i64> {
    let t = text.trim();
    if t.is_empty() {
        bail!("empty duration");
    }
    let mut total: i64 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits_end == 0 {
            bail!("invalid duration {text:?} (expected e.g. 30s, 15m, 2h, 1d)");
        }
        let number: f64 = rest[..digits_end].parse().with_context(|| format!("invalid duration {text:?}"))?;
        rest = &rest[digits_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86_400e9,
            "w" => 604_800e9,
            "" => bail!("duration {text:?} needs a unit (s, m, h, d, ...)"),
            other => bail!("unknown unit {other:?} in duration {text:?}"),
        };
        total = total
            .checked_add((number * scale).round() as i64)
            .with_context(|| format!("duration {text:?} is too large"))?;
    }
    Ok(total)
}

/// Unix seconds with an optional fraction (`1765850450`, `1765850450.594`), as
/// Prometheus' HTTP API takes them; nanoseconds since the epoch.
pub fn parse_unix_seconds(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 9 {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let nanos: i64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<9}").parse().ok()? };
    secs.checked_mul(NANOS_PER_SEC)?.checked_add(nanos)
}

/// A `--since`/`--until` argument: an absolute RFC 3339 time, or a duration before the
/// newest sample of the input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeArg {
    Absolute(i64),
    BeforeNewest(i64),
    /// `now` or `now-15m`: before the wall clock.
    BeforeNow(i64),
}

impl TimeArg {
    pub fn parse(text: &str) -> Result<TimeArg> {
        if text == "now" {
            return Ok(TimeArg::BeforeNow(0));
        }
        if let Some(d) = text.strip_prefix("now-") {
            return parse_duration(d)
                .map(TimeArg::BeforeNow)
                .with_context(|| format!("invalid time {text:?}: expected now-DURATION such as now-15m"));
        }
        if let Ok(ts) = parse_rfc3339(text) {
            return Ok(TimeArg::Absolute(ts));
        }
        if let Some(ts) = parse_unix_seconds(text) {
            return Ok(TimeArg::Absolute(ts));
        }
        if text.len() >= 10 && text.as_bytes()[4] == b'-' {
            // Looks like a date: say what is wrong with it rather than with a duration.
            parse_rfc3339(text).map_err(anyhow::Error::msg)?;
        }
        parse_duration(text)
            .map(TimeArg::BeforeNewest)
            .with_context(|| format!("invalid time {text:?}: expected RFC 3339 or a duration such as 15m"))
    }

    pub fn resolve(self, newest: Option<i64>) -> Option<i64> {
        match self {
            TimeArg::Absolute(ts) => Some(ts),
            TimeArg::BeforeNewest(d) => newest.map(|n| n - d),
            TimeArg::BeforeNow(d) => Some(now_nanos() - d),
        }
    }

    pub fn is_relative(self) -> bool {
        matches!(self, TimeArg::BeforeNewest(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_for_people_read_back() {
        for (nanos, text) in
            [(250_000_000, "250ms"), (10_000_000_000, "10s"), (1_500_000_000, "1.5s"), (150_000_000_000, "2m30s")]
        {
            assert_eq!(format_duration(nanos), text);
            assert_eq!(parse_duration(text).unwrap(), nanos);
        }
    }

    #[test]
    fn parses_every_offset_form_to_the_same_instant() {
        let a = parse_rfc3339("2025-12-16T09:30:17.594+0800").unwrap();
        let b = parse_rfc3339("2025-12-16T09:30:17.594+08:00").unwrap();
        let c = parse_rfc3339("2025-12-16T01:30:17.594Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(format_utc(c), "2025-12-16T01:30:17.594Z");
    }

    #[test]
    fn keeps_nanoseconds_and_accepts_zero_to_nine_digits() {
        let base = parse_rfc3339("2025-01-01T00:00:00Z").unwrap();
        assert_eq!(base, 1_735_689_600 * NANOS_PER_SEC);
        assert_eq!(parse_rfc3339("2025-01-01T00:00:00.1Z").unwrap() - base, 100_000_000);
        assert_eq!(parse_rfc3339("2025-01-01T00:00:00.123456789Z").unwrap() - base, 123_456_789);
        assert!(parse_rfc3339("2025-01-01T00:00:00.Z").is_err());
    }

    #[test]
    fn rejects_malformed_times() {
        for bad in [
            "2025-13-01T00:00:00Z",
            "2025-02-30T00:00:00Z",
            "2025-01-01T24:00:00Z",
            "2025-01-01T00:00:00",
            "2025-01-01T00:00:00+8",
            "2025-01-01T00:00:00Zjunk",
            "yesterday",
            "1696-12-16T10:00:10.000+0800",
            "1969-12-31T23:59:59Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 1, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn seed_style_formatting_round_trips() {
        let t = parse_rfc3339("2025-12-16T09:30:17.594+0800").unwrap();
        assert_eq!(format_millis_with_offset(t, 8 * 3600), "2025-12-16T09:30:17.594+0800");
        assert_eq!(format_millis_with_offset(t, -5 * 3600 - 1800), "2025-12-15T20:00:17.594-0530");
        assert_eq!(parse_rfc3339(&format_millis_with_offset(t, -5 * 3600 - 1800)).unwrap(), t);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m").unwrap(), 900 * NANOS_PER_SEC);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400 * NANOS_PER_SEC);
        assert_eq!(parse_duration("250ms").unwrap(), 250_000_000);
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("15y").is_err());
    }

    #[test]
    fn time_arguments_take_unix_seconds() {
        assert_eq!(TimeArg::parse("1765850450").unwrap(), TimeArg::Absolute(1_765_850_450 * NANOS_PER_SEC));
        assert_eq!(TimeArg::parse("1765850450.5").unwrap(), TimeArg::Absolute(1_765_850_450_500_000_000));
        assert_eq!(TimeArg::parse("15m").unwrap(), TimeArg::BeforeNewest(900 * NANOS_PER_SEC));
        for bad in [".5", "1.2.3", "1e9", "-5", "1.0123456789"] {
            assert_eq!(parse_unix_seconds(bad), None, "{bad}");
        }
    }
}
