//! PromQL's functions, as Prometheus 2.x computes them (its promql/functions.go is the
//! reference: extrapolation, regression, the quantile rules), plus the exact increase
//! of `--exact`.

use anyhow::{bail, Result};
use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr, VectorSelector};
use regex::Regex;

use crate::store::METRIC_NAME;
use crate::value::{is_valid_label_name, label, set_label, without_name, Labels, RangeSeries, Sample, Value};

/// A range vector with where its range lies: extrapolation needs both ends.
#[derive(Debug, Clone)]
pub struct RangeArg {
    pub series: Vec<RangeSeries>,
    /// The range's length, start and end (milliseconds).
    pub range: i64,
    pub range_start: i64,
    pub range_end: i64,
    /// The selector it came from, for absent_over_time's labels.
    pub selector: Option<VectorSelector>,
}

pub enum Arg {
    Value(Value),
    Range(RangeArg),
}

fn vector(arg: Arg, name: &str) -> Result<Vec<Sample>> {
    match arg {
        Arg::Value(Value::Vector(v)) => Ok(v),
        Arg::Value(other) => bail!("{name}() expects an instant vector, got {}", other.type_name()),
        Arg::Range(_) => bail!("{name}() expects an instant vector, got a range vector"),
    }
}

fn range(arg: Arg, name: &str) -> Result<RangeArg> {
    match arg {
        Arg::Range(r) => Ok(r),
        Arg::Value(other) => bail!("{name}() expects a range vector, got {}", other.type_name()),
    }
}

fn scalar(arg: Arg, name: &str) -> Result<f64> {
    match arg {
        Arg::Value(Value::Scalar(v)) => Ok(v),
        _ => bail!("{name}() expects a scalar argument"),
    }
}

fn string(arg: Arg, name: &str) -> Result<String> {
    match arg {
        Arg::Value(Value::String(s)) => Ok(s),
        _ => bail!("{name}() expects a string argument"),
    }
}

/// Go's math.Max and math.Min: NaN wins, unlike f64::max.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn map_values(v: Vec<Sample>, ts: i64, f: impl Fn(f64) -> f64) -> Value {
    Value::Vector(v.into_iter().map(|s| Sample { labels: without_name(&s.labels), t: ts, v: f(s.v) }).collect())
}

/// One value per series of a range, the metric name dropped; `None` leaves it out.
fn per_series(r: RangeArg, ts: i64, f: impl Fn(&RangeSeries, &RangeArg) -> Option<f64>) -> Value {
    let mut out = Vec::with_capacity(r.series.len());
    for s in &r.series {
        if let Some(v) = f(s, &r) {
            out.push(Sample { labels: without_name(&s.labels), t: ts, v });
        }
    }
    Value::Vector(out)
}

/// The function `call` names, applied to its arguments (evaluated by the caller, range
/// vectors with their range) at `ts`. `timestamp()` is the caller's: it needs its
/// selector's samples before they are evaluated. With `exact`, increase() and rate()
/// are the engine's exact increases where the samples have them.
pub fn call(call: &Call, args: Vec<Arg>, ts: i64, exact: bool) -> Result<Value> {
    let name = call.func.name;
    let exprs: Vec<&Expr> = call.args.args.iter().map(|a| &**a).collect();
    let mut args = args.into_iter();
    let mut next = || args.next().ok_or_else(|| anyhow::anyhow!("{name}(): missing argument"));
    Ok(match name {
        "time" => Value::Scalar(ts as f64 / 1000.0),
        "pi" => Value::Scalar(std::f64::consts::PI),
        "vector" => Value::Vector(vec![Sample { labels: Vec::new(), t: ts, v: scalar(next()?, name)? }]),
        "scalar" => {
            let v = vector(next()?, name)?;
            Value::Scalar(if v.len() == 1 { v[0].v } else { f64::NAN })
        }
        "abs" => map_values(vector(next()?, name)?, ts, f64::abs),
        "ceil" => map_values(vector(next()?, name)?, ts, f64::ceil),
        "floor" => map_values(vector(next()?, name)?, ts, f64::floor),
        "exp" => map_values(vector(next()?, name)?, ts, f64::exp),
        "sqrt" => map_values(vector(next()?, name)?, ts, f64::sqrt),
        "ln" => map_values(vector(next()?, name)?, ts, f64::ln),
        "log2" => map_values(vector(next()?, name)?, ts, f64::log2),
        "log10" => map_values(vector(next()?, name)?, ts, f64::log10),
        "sgn" => map_values(vector(next()?, name)?, ts, |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        }),
        "acos" => map_values(vector(next()?, name)?, ts, f64::acos),
        "acosh" => map_values(vector(next()?, name)?, ts, f64::acosh),
        "asin" => map_values(vector(next()?, name)?, ts, f64::asin),
        "asinh" => map_values(vector(next()?, name)?, ts, f64::asinh),
        "atan" => map_values(vector(next()?, name)?, ts, f64::atan),
        "atanh" => map_values(vector(next()?, name)?, ts, f64::atanh),
        "cos" => map_values(vector(next()?, name)?, ts, f64::cos),
        "cosh" => map_values(vector(next()?, name)?, ts, f64::cosh),
        "sin" => map_values(vector(next()?, name)?, ts, f64::sin),
        "sinh" => map_values(vector(next()?, name)?, ts, f64::sinh),
        "tan" => map_values(vector(next()?, name)?, ts, f64::tan),
        "tanh" => map_values(vector(next()?, name)?, ts, f64::tanh),
        "deg" => map_values(vector(next()?, name)?, ts, |v| v * 180.0 / std::f64::consts::PI),
        "rad" => map_values(vector(next()?, name)?, ts, |v| v * std::f64::consts::PI / 180.0),
        "round" => {
            let v = vector(next()?, name)?;
            let to_nearest = match args_left(&mut next) {
                Some(a) => scalar(a, name)?,
                None => 1.0,
            };
            let inverse = 1.0 / to_nearest;
            map_values(v, ts, |x| (x * inverse + 0.5).floor() / inverse)
        }
        "clamp" => {
            let v = vector(next()?, name)?;
            let (min, max) = (scalar(next()?, name)?, scalar(next()?, name)?);
            if max < min {
                Value::Vector(Vec::new())
            } else {
                map_values(v, ts, |x| go_max(min, go_min(max, x)))
            }
        }
        "clamp_min" => {
            let v = vector(next()?, name)?;
            let min = scalar(next()?, name)?;
            map_values(v, ts, |x| go_max(min, x))
        }
        "clamp_max" => {
            let v = vector(next()?, name)?;
            let max = scalar(next()?, name)?;
            map_values(v, ts, |x| go_min(max, x))
        }
        "sort" | "sort_desc" => {
            let mut v = vector(next()?, name)?;
            // NaN first for sort, last for sort_desc, as Prometheus' heaps order them.
            if name == "sort" {
                v.sort_by(|a, b| nan_first(a.v, b.v));
            } else {
                v.sort_by(|a, b| nan_first(b.v, a.v));
            }
            Value::Vector(v)
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute" | "month" | "year" => {
            let v = match args_left(&mut next) {
                Some(a) => vector(a, name)?,
                None => vec![Sample { labels: Vec::new(), t: ts, v: ts as f64 / 1000.0 }],
            };
            map_values(v, ts, |x| date_part(name, x))
        }
        "label_replace" => {
            let v = vector(next()?, name)?;
            let dst = string(next()?, name)?;
            let replacement = string(next()?, name)?;
            let src = string(next()?, name)?;
            let regex = string(next()?, name)?;
            let re = Regex::new(&format!("^(?s:{regex})$"))
                .map_err(|e| anyhow::anyhow!("invalid regular expression in label_replace(): {regex}: {e}"))?;
            if !is_valid_label_name(&dst) {
                bail!("invalid destination label name in label_replace(): {dst}");
            }
            let mut out = Vec::with_capacity(v.len());
            for mut s in v {
                let value = label(&s.labels, &src).unwrap_or("").to_string();
                if let Some(caps) = re.captures(&value) {
                    let mut result = String::new();
                    caps.expand(&replacement, &mut result);
                    set_label(&mut s.labels, &dst, &result);
                }
                s.t = ts;
                out.push(s);
            }
            Value::Vector(out)
        }
        "label_join" => {
            let v = vector(next()?, name)?;
            let dst = string(next()?, name)?;
            let separator = string(next()?, name)?;
            let mut sources = Vec::new();
            while let Some(a) = args_left(&mut next) {
                sources.push(string(a, name)?);
            }
            if !is_valid_label_name(&dst) {
                bail!("invalid destination label name in label_join(): {dst}");
            }
            for src in &sources {
                if !is_valid_label_name(src) && src != METRIC_NAME {
                    bail!("invalid source label name in label_join(): {src}");
                }
            }
            let mut out = Vec::with_capacity(v.len());
            for mut s in v {
                let joined: Vec<&str> = sources.iter().map(|l| label(&s.labels, l).unwrap_or("")).collect();
                let joined = joined.join(&separator);
                set_label(&mut s.labels, &dst, &joined);
                s.t = ts;
                out.push(s);
            }
            Value::Vector(out)
        }
        "histogram_quantile" => {
            let q = scalar(next()?, name)?;
            histogram_quantile(q, vector(next()?, name)?, ts)
        }
        "absent" => {
            let v = vector(next()?, name)?;
            if v.is_empty() {
                Value::Vector(vec![Sample { labels: absent_labels(exprs.first().copied()), t: ts, v: 1.0 }])
            } else {
                Value::Vector(Vec::new())
            }
        }
        "absent_over_time" => {
            let r = range(next()?, name)?;
            if r.series.iter().all(|s| s.points.is_empty()) {
                let labels = r.selector.as_ref().map(selector_absent_labels).unwrap_or_default();
                Value::Vector(vec![Sample { labels, t: ts, v: 1.0 }])
            } else {
                Value::Vector(Vec::new())
            }
        }
        "rate" | "increase" | "delta" => {
            let r = range(next()?, name)?;
            let (is_counter, is_rate) = (name != "delta", name == "rate");
            per_series(r, ts, |s, r| {
                if exact && is_counter {
                    if let Some(increase) = exact_increase(s) {
                        return Some(if is_rate { increase / (r.range as f64 / 1000.0) } else { increase });
                    }
                }
                extrapolated_rate(s, r, is_counter, is_rate)
            })
        }
        "irate" | "idelta" => {
            let r = range(next()?, name)?;
            let is_rate = name == "irate";
            per_series(r, ts, |s, _| {
                let n = s.points.len();
                if n < 2 {
                    return None;
                }
                let (last, previous) = (s.points[n - 1], s.points[n - 2]);
                let mut v = if is_rate && last.1 < previous.1 { last.1 } else { last.1 - previous.1 };
                let interval = last.0 - previous.0;
                if interval == 0 {
                    return None;
                }
                if is_rate {
                    v /= interval as f64 / 1000.0;
                }
                Some(v)
            })
        }
        "deriv" => per_series(range(next()?, name)?, ts, |s, _| {
            (s.points.len() >= 2).then(|| linear_regression(&s.points, s.points[0].0).0)
        }),
        "predict_linear" => {
            let r = range(next()?, name)?;
            let duration = scalar(next()?, name)?;
            per_series(r, ts, |s, _| {
                (s.points.len() >= 2).then(|| {
                    let (slope, intercept) = linear_regression(&s.points, ts);
                    slope * duration + intercept
                })
            })
        }
        "resets" => per_series(range(next()?, name)?, ts, |s, _| {
            Some(s.points.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64)
        }),
        "changes" => per_series(range(next()?, name)?, ts, |s, _| {
            Some(s.points.windows(2).filter(|w| w[1].1 != w[0].1 && !(w[1].1.is_nan() && w[0].1.is_nan())).count()
                as f64)
        }),
        "avg_over_time" => over_time(next()?, name, ts, |p| {
            let mut mean = 0.0f64;
            let mut count = 0.0;
            for &(_, v) in p {
                count += 1.0;
                if mean.is_infinite() {
                    if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                        continue;
                    }
                    if !v.is_infinite() && !v.is_nan() {
                        continue;
                    }
                }
                mean += v / count - mean / count;
            }
            mean
        })?,
        "sum_over_time" => over_time(next()?, name, ts, |p| kahan_sum(p.iter().map(|&(_, v)| v)))?,
        "count_over_time" => over_time(next()?, name, ts, |p| p.len() as f64)?,
        "last_over_time" => {
            let r = range(next()?, name)?;
            // The only *_over_time that keeps the metric name.
            let out = r
                .series
                .iter()
                .filter_map(|s| s.points.last().map(|&(_, v)| Sample { labels: s.labels.clone(), t: ts, v }))
                .collect();
            Value::Vector(out)
        }
        "present_over_time" => over_time(next()?, name, ts, |_| 1.0)?,
        "max_over_time" => over_time(next()?, name, ts, |p| {
            p.iter().skip(1).fold(p[0].1, |max, &(_, v)| if v > max || max.is_nan() { v } else { max })
        })?,
        "min_over_time" => over_time(next()?, name, ts, |p| {
            p.iter().skip(1).fold(p[0].1, |min, &(_, v)| if v < min || min.is_nan() { v } else { min })
        })?,
        "stddev_over_time" => over_time(next()?, name, ts, |p| variance(p).sqrt())?,
        "stdvar_over_time" => over_time(next()?, name, ts, variance)?,
        "quantile_over_time" => {
            let q = scalar(next()?, name)?;
            over_time(next()?, name, ts, |p| quantile(q, p.iter().map(|&(_, v)| v).collect()))?
        }
        "holt_winters" | "double_exponential_smoothing" => {
            let r = range(next()?, name)?;
            let (sf, tf) = (scalar(next()?, name)?, scalar(next()?, name)?);
            if !(sf > 0.0 && sf < 1.0) {
                bail!("invalid smoothing factor. Expected: 0 < sf < 1, got: {sf}");
            }
            if !(tf > 0.0 && tf < 1.0) {
                bail!("invalid trend factor. Expected: 0 < tf < 1, got: {tf}");
            }
            per_series(r, ts, |s, _| double_exponential_smoothing(&s.points, sf, tf))
        }
        other => bail!("function {other}() is not supported by metricsctl query"),
    })
}

fn args_left(next: &mut impl FnMut() -> Result<Arg>) -> Option<Arg> {
    next().ok()
}

fn over_time(arg: Arg, name: &str, ts: i64, f: impl Fn(&[(i64, f64)]) -> f64) -> Result<Value> {
    let r = range(arg, name)?;
    Ok(per_series(r, ts, |s, _| (!s.points.is_empty()).then(|| f(&s.points))))
}

fn kahan_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for v in values {
        let t = sum + v;
        if sum.abs() >= v.abs() {
            c += (sum - t) + v;
        } else {
            c += (v - t) + sum;
        }
        sum = t;
    }
    sum + c
}

fn variance(p: &[(i64, f64)]) -> f64 {
    let (mut count, mut mean, mut aux) = (0.0f64, 0.0f64, 0.0f64);
    for &(_, v) in p {
        count += 1.0;
        let delta = v - mean;
        mean += delta / count;
        aux += delta * (v - mean);
    }
    aux / count
}

/// The exact increase of a range: the engine's reset-aware increase of each sample in
/// it, summed (`None` when the samples have none, as gauges).
fn exact_increase(s: &RangeSeries) -> Option<f64> {
    let increases = s.increases.as_ref()?;
    if increases.is_empty() || increases.iter().any(|v| v.is_nan()) {
        return None;
    }
    Some(kahan_sum(increases.iter().copied()))
}

/// Prometheus' rate/increase/delta: the change over the samples in the range (counter
/// resets added back), extrapolated towards the range's ends.
fn extrapolated_rate(s: &RangeSeries, r: &RangeArg, is_counter: bool, is_rate: bool) -> Option<f64> {
    let points = &s.points;
    if points.len() < 2 {
        return None;
    }
    let (first, last) = (points[0], points[points.len() - 1]);
    let mut result = last.1 - first.1;
    if is_counter {
        let mut previous = 0.0;
        for &(_, v) in points {
            if v < previous {
                result += previous;
            }
            previous = v;
        }
    }
    let mut duration_to_start = (first.0 - r.range_start) as f64 / 1000.0;
    let duration_to_end = (r.range_end - last.0) as f64 / 1000.0;
    let sampled = (last.0 - first.0) as f64 / 1000.0;
    let average_between = sampled / (points.len() - 1) as f64;
    if is_counter && result > 0.0 && first.1 >= 0.0 {
        let duration_to_zero = sampled * (first.1 / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    let threshold = average_between * 1.1;
    let mut extrapolate_to = sampled;
    extrapolate_to += if duration_to_start < threshold { duration_to_start } else { average_between / 2.0 };
    extrapolate_to += if duration_to_end < threshold { duration_to_end } else { average_between / 2.0 };
    result *= extrapolate_to / sampled;
    if is_rate {
        result /= r.range as f64 / 1000.0;
    }
    Some(result)
}

/// Least squares with x in seconds from `intercept_time`: (slope, intercept).
fn linear_regression(points: &[(i64, f64)], intercept_time: i64) -> (f64, f64) {
    let init = points[0].1;
    if points.iter().all(|&(_, v)| v == init) {
        return if init.is_infinite() { (f64::NAN, f64::NAN) } else { (0.0, init) };
    }
    let n = points.len() as f64;
    let xs = || points.iter().map(|&(t, _)| (t - intercept_time) as f64 / 1000.0);
    let sum_x = kahan_sum(xs());
    let sum_y = kahan_sum(points.iter().map(|&(_, v)| v));
    let sum_xy = kahan_sum(xs().zip(points).map(|(x, &(_, v))| x * v));
    let sum_x2 = kahan_sum(xs().map(|x| x * x));
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// holt_winters (double_exponential_smoothing in Prometheus 3): the smoothed value at
/// the last sample.
fn double_exponential_smoothing(points: &[(i64, f64)], sf: f64, tf: f64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, points[0].1);
    let mut b = points[1].1 - points[0].1;
    for (i, &(_, v)) in points.iter().enumerate().skip(1) {
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let next = sf * v + (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = next;
    }
    Some(s1)
}

/// A total order with NaN before every number, as Go's sorts of Prometheus' samples
/// order them.
fn nan_first(a: f64, b: f64) -> std::cmp::Ordering {
    b.is_nan().cmp(&a.is_nan()).then(a.total_cmp(&b))
}

/// Prometheus' quantile: linear interpolation between the closest ranks.
pub fn quantile(q: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| nan_first(*a, *b));
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// histogram_quantile over classic buckets: the series grouped by their labels but
/// `le`, Prometheus' interpolation inside the bucket the rank falls in.
fn histogram_quantile(q: f64, v: Vec<Sample>, ts: i64) -> Value {
    let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    let mut index: std::collections::HashMap<Labels, usize> = std::collections::HashMap::new();
    for s in v {
        let Some(bound) = label(&s.labels, "le").and_then(parse_go_float) else { continue };
        let key: Labels = s.labels.iter().filter(|(k, _)| k != "le").cloned().collect();
        let i = *index.entry(key).or_insert_with(|| {
            let labels = s.labels.iter().filter(|(k, _)| k != "le" && k != METRIC_NAME).cloned().collect();
            groups.push((labels, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((bound, s.v));
    }
    Value::Vector(
        groups.into_iter().map(|(labels, buckets)| Sample { labels, t: ts, v: bucket_quantile(q, buckets) }).collect(),
    )
}

/// Go's strconv.ParseFloat for `le` values: numbers, and the spellings of infinity.
fn parse_go_float(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "+inf" | "inf" | "+infinity" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if !buckets.last().is_some_and(|b| b.0 == f64::INFINITY) {
        return f64::NAN;
    }
    // Buckets with the same bound add up; counts never go down.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (bound, count) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == bound => last.1 += count,
            _ => merged.push((bound, count)),
        }
    }
    let mut max = f64::NEG_INFINITY;
    for b in &mut merged {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = merged[..merged.len() - 1].partition_point(|b| b.1 < rank);
    if b == merged.len() - 1 {
        return merged[merged.len() - 2].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let (mut start, end, mut count) = (0.0, merged[b].0, merged[b].1);
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// absent()'s labels: those its selector sets with one equality matcher.
fn absent_labels(expr: Option<&Expr>) -> Labels {
    match expr {
        Some(Expr::VectorSelector(vs)) => selector_absent_labels(vs),
        Some(Expr::MatrixSelector(ms)) => selector_absent_labels(&ms.vs),
        Some(Expr::Subquery(sq)) => absent_labels(Some(&sq.expr)),
        _ => Vec::new(),
    }
}

fn selector_absent_labels(vs: &VectorSelector) -> Labels {
    let mut labels: Labels = Vec::new();
    let mut ambiguous = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if matches!(m.op, MatchOp::Equal) && label(&labels, &m.name).is_none() {
            set_label(&mut labels, &m.name, &m.value);
        } else {
            ambiguous.push(m.name.clone());
        }
    }
    labels.retain(|(k, _)| !ambiguous.contains(k));
    labels
}

/// A date function of Unix seconds, in UTC.
fn date_part(name: &str, seconds: f64) -> f64 {
    let secs = seconds as i64;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = metricsctl_format::timestamp::civil_from_days(days);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    (match name {
        "day_of_month" => day,
        "day_of_week" => (days + 4).rem_euclid(7),
        "day_of_year" => month_days[..(month - 1) as usize].iter().sum::<i64>() + day,
        "days_in_month" => month_days[(month - 1) as usize],
        "hour" => of_day / 3600,
        "minute" => of_day / 60 % 60,
        "month" => month,
        _ => year,
    }) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        // 2025-12-16T02:00:50Z, a Tuesday.
        let t = 1_765_850_450.0;
        assert_eq!(date_part("year", t), 2025.0);
        assert_eq!(date_part("month", t), 12.0);
        assert_eq!(date_part("day_of_month", t), 16.0);
        assert_eq!(date_part("day_of_week", t), 2.0);
        assert_eq!(date_part("day_of_year", t), 350.0);
        assert_eq!(date_part("days_in_month", t), 31.0);
        assert_eq!(date_part("hour", t), 2.0);
        assert_eq!(date_part("minute", t), 0.0);
    }

    #[test]
    fn quantiles_interpolate_as_prometheus_does() {
        assert_eq!(quantile(0.5, vec![1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile(-0.5, vec![1.0]), f64::NEG_INFINITY);
        assert_eq!(quantile(1.5, vec![1.0]), f64::INFINITY);
        let buckets = vec![(0.1, 1.0), (0.5, 3.0), (f64::INFINITY, 4.0)];
        assert!((bucket_quantile(0.5, buckets.clone()) - 0.3).abs() < 1e-12);
        assert_eq!(bucket_quantile(0.99, buckets), 0.5);
        // Go sorts NaN first.
        assert!(quantile(0.0, vec![1.0, f64::NAN]).is_nan());
        assert_eq!(quantile(1.0, vec![f64::NAN, 2.0, 1.0]), 2.0);
    }
}
