//! A strict reader of this crate's own exposition output: every rule of the text
//! format 0.0.4 and OpenMetrics 1.0 that a scraper relies on, checked line by line.
//! The fuzz target `expose` holds the writer to it (any input, valid output), and
//! tests use it where promtool would be too slow to run per case.

use std::collections::{BTreeMap, HashSet};

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks escapes: only `\\`, `\n` and the characters in `extra` may follow a backslash.
fn check_escapes(text: &str, extra: &[char]) -> Result<(), String> {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\\' | 'n') => {}
                Some(c) if extra.contains(&c) => {}
                other => return Err(format!("invalid escape \\{other:?} in {text:?}")),
            }
        }
    }
    Ok(())
}

/// `{name="value",...}`: the labels and the rest of the line after `}`.
type Labels = Vec<(String, String)>;

fn parse_labels(text: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    let mut rest = text;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or_else(|| format!("label without '=' in {text:?}"))?;
        let name = &rest[..eq];
        if !valid_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        rest = rest[eq + 1..].strip_prefix('"').ok_or_else(|| format!("label {name} value not quoted"))?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => return Err(format!("invalid escape {other:?} in label {name}")),
                },
                Some((i, '"')) => break i,
                Some((_, '\n')) => return Err(format!("raw newline in label {name}")),
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated value of label {name}")),
            }
        };
        if labels.iter().any(|(n, _)| n == name) {
            return Err(format!("label {name} repeated"));
        }
        labels.push((name.to_string(), value));
        rest = &rest[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => text.parse::<f64>().map_err(|_| format!("invalid value {text:?}")),
    }
}

#[derive(Default)]
struct HistogramSeries {
    last_le: Option<f64>,
    last_count: f64,
    inf: Option<f64>,
    count: Option<f64>,
    sum: bool,
}

/// Checks a whole exposition; the error names the line.
pub fn validate_exposition(text: &str, openmetrics: bool) -> Result<(), String> {
    let in_line = |n: usize, e: String| format!("line {n}: {e}");
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the last line has no newline".into());
    }
    let mut families_done: HashSet<String> = HashSet::new();
    let mut family: Option<(String, String)> = None;
    let mut series_seen: HashSet<(String, Labels, Option<String>)> = HashSet::new();
    let mut histograms: BTreeMap<Labels, HistogramSeries> = BTreeMap::new();
    let mut eof = false;
    let finish_histograms = |histograms: &mut BTreeMap<Labels, HistogramSeries>| -> Result<(), String> {
        for (labels, h) in std::mem::take(histograms) {
            let (Some(inf), Some(count)) = (h.inf, h.count) else {
                return Err(format!("histogram series {labels:?} lacks its +Inf bucket or _count"));
            };
            if inf != count || !h.sum {
                return Err(format!("histogram series {labels:?}: +Inf bucket {inf} != count {count}, or no _sum"));
            }
        }
        Ok(())
    };
    for (i, line) in text.split_terminator('\n').enumerate() {
        let n = i + 1;
        if eof {
            return Err(in_line(n, "content after # EOF".into()));
        }
        if line.contains('\r') {
            return Err(in_line(n, "carriage return".into()));
        }
        if let Some(comment) = line.strip_prefix('#') {
            if openmetrics && comment == " EOF" {
                eof = true;
                continue;
            }
            let mut parts = comment.strip_prefix(' ').unwrap_or("").splitn(3, ' ');
            let (keyword, name, rest) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next());
            if !valid_metric_name(name) {
                return Err(in_line(n, format!("invalid family name {name:?}")));
            }
            let new_family = family.as_ref().is_none_or(|(f, _)| f != name);
            if new_family {
                if let Some((done, _)) = family.take() {
                    finish_histograms(&mut histograms).map_err(|e| in_line(n, e))?;
                    families_done.insert(done);
                }
                if families_done.contains(name) {
                    return Err(in_line(n, format!("family {name} appears twice")));
                }
                family = Some((name.to_string(), String::new()));
            }
            match keyword {
                "HELP" => {
                    let extra: &[char] = if openmetrics { &['"'] } else { &[] };
                    check_escapes(rest.unwrap_or(""), extra).map_err(|e| in_line(n, e))?;
                }
                "TYPE" => {
                    let kind = rest.unwrap_or("");
                    let allowed: &[&str] = if openmetrics {
                        &["counter", "gauge", "histogram", "info"]
                    } else {
                        &["counter", "gauge", "histogram"]
                    };
                    if !allowed.contains(&kind) {
                        return Err(in_line(n, format!("invalid type {kind:?}")));
                    }
                    let current = family.as_mut().expect("set above");
                    if !current.1.is_empty() {
                        return Err(in_line(n, format!("second TYPE for {name}")));
                    }
                    current.1 = kind.to_string();
                }
                other => return Err(in_line(n, format!("unknown comment {other:?}"))),
            }
            continue;
        }
        let split = line.find(['{', ' ']).ok_or_else(|| in_line(n, "sample without value".into()))?;
        let name = &line[..split];
        if !valid_metric_name(name) {
            return Err(in_line(n, format!("invalid metric name {name:?}")));
        }
        let (labels, rest) = if let Some(after) = line[split..].strip_prefix('{') {
            parse_labels(after).map_err(|e| in_line(n, e))?
        } else {
            (Vec::new(), &line[split..])
        };
        let mut fields =
            rest.strip_prefix(' ').ok_or_else(|| in_line(n, "no space before the value".into()))?.split(' ');
        let value = parse_value(fields.next().unwrap_or("")).map_err(|e| in_line(n, e))?;
        let timestamp = fields.next().map(str::to_string);
        if let Some(ts) = &timestamp {
            let ok = if openmetrics { ts.parse::<f64>().is_ok_and(f64::is_finite) } else { ts.parse::<i64>().is_ok() };
            if !ok {
                return Err(in_line(n, format!("invalid timestamp {ts:?}")));
            }
        }
        if fields.next().is_some() {
            return Err(in_line(n, "trailing fields".into()));
        }
        let Some((family_name, kind)) = &family else {
            return Err(in_line(n, "sample before any TYPE".into()));
        };
        let suffix = name
            .strip_prefix(family_name.as_str())
            .ok_or_else(|| in_line(n, format!("sample {name} outside its family {family_name}")))?;
        let allowed: &[&str] = match (kind.as_str(), openmetrics) {
            ("counter", true) => &["_total", "_created"],
            ("counter", false) | ("gauge", _) => &[""],
            ("histogram", _) => &["_bucket", "_sum", "_count", "_created"],
            ("info", _) => &["_info"],
            _ => return Err(in_line(n, format!("sample of {family_name} before its TYPE"))),
        };
        if !allowed.contains(&suffix) {
            return Err(in_line(n, format!("sample {name} does not belong to {kind} {family_name}")));
        }
        if !series_seen.insert((name.to_string(), labels.clone(), timestamp.clone())) {
            return Err(in_line(n, format!("series {name}{labels:?} repeated")));
        }
        if kind == "counter" && (value.is_nan() || value < 0.0) {
            return Err(in_line(n, format!("counter value {value} is not a non-negative number")));
        }
        if kind == "histogram" && timestamp.is_none() {
            let mut key = labels.clone();
            let le = key.iter().position(|(k, _)| k == "le").map(|i| key.remove(i).1);
            let h = histograms.entry(key).or_default();
            match suffix {
                "_bucket" => {
                    let le = le.ok_or_else(|| in_line(n, "bucket without le".into()))?;
                    let bound = parse_value(&le).map_err(|e| in_line(n, e))?;
                    if h.last_le.is_some_and(|last| bound <= last) || value < h.last_count {
                        return Err(in_line(n, format!("bucket le={le} out of order or not cumulative")));
                    }
                    h.last_le = Some(bound);
                    h.last_count = value;
                    if bound == f64::INFINITY {
                        h.inf = Some(value);
                    }
                }
                "_count" => h.count = Some(value),
                "_sum" => h.sum = true,
                _ => {}
            }
        }
    }
    finish_histograms(&mut histograms)?;
    if openmetrics && !eof {
        return Err("OpenMetrics output without # EOF".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_exposition;

    #[test]
    fn catches_what_a_scraper_would_reject() {
        let good = "# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\\\"\\n\"} 1\n";
        assert_eq!(validate_exposition(good, false), Ok(()));
        let bad = [
            "# TYPE a counter\na{k=\"v\ninjected 1\"} 1\n",
            "# TYPE a counter\na{k=\"v\"} 1\n# TYPE b gauge\nb 1\n# TYPE a counter\n",
            "# TYPE a gauge\na{1k=\"v\"} 1\n",
            "# TYPE a gauge\na{k=\"v\",k=\"w\"} 1\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",
            "# TYPE a gauge\na 1\na 2\n",
            "# HELP a bad \\q escape\n# TYPE a gauge\na 1\n",
        ];
        for text in bad {
            assert!(validate_exposition(text, false).is_err(), "accepted: {text:?}");
        }
        assert!(validate_exposition("# TYPE a gauge\na 1\n", true).is_err(), "OpenMetrics needs # EOF");
        assert_eq!(validate_exposition("# TYPE a counter\na_total 1\n# EOF\n", true), Ok(()));
    }
}
