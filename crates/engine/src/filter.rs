//! The filters shared by every query command (README.md, "Filters") and label lookup by
//! full, short (`route` = `http.route`) or built-in (`service`, `instance`, `metric`) name.

use anyhow::{bail, Result};
use regex::Regex;

pub use metricsctl_reader::matcher::MetricMatcher;

use metricsctl_format::record::AttrValue;
use metricsctl_format::series::{SeriesKey, SeriesMeta};
use metricsctl_format::timestamp::TimeArg;
use metricsctl_format::value::{AttrRef, Labels};

/// A label's value as a query sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LabelValue {
    Attr(AttrValue),
    Missing,
}

impl LabelValue {
    pub fn text(&self) -> String {
        match self {
            LabelValue::Attr(v) => v.to_string(),
            LabelValue::Missing => String::new(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            LabelValue::Attr(v) => v.to_json(),
            LabelValue::Missing => serde_json::Value::Null,
        }
    }
}

/// Looks a label up by name: built-ins first, then the exact attribute or resource key,
/// then a key whose last dot-segment is `name` when exactly one such key exists.
pub fn lookup_label(key: &SeriesKey, meta: &SeriesMeta, name: &str) -> Result<LabelValue> {
    match name {
        "service" => return Ok(LabelValue::Attr(AttrValue::Str(key.service.to_string()))),
        "metric" => return Ok(LabelValue::Attr(AttrValue::Str(key.metric.to_string()))),
        "instance" => {
            return Ok(find_exact(&meta.resource, "service.instance.id").map_or(LabelValue::Missing, LabelValue::Attr))
        }
        "scope" | "otel_scope_name" => {
            return Ok(key
                .scope
                .as_ref()
                .map_or(LabelValue::Missing, |s| LabelValue::Attr(AttrValue::Str(s.name.clone()))))
        }
        "otel_scope_version" => {
            return Ok(key
                .scope
                .as_ref()
                .and_then(|s| s.version.clone())
                .map_or(LabelValue::Missing, |v| LabelValue::Attr(AttrValue::Str(v))))
        }
        _ => {}
    }
    if let Some(v) = find_exact(&key.attributes, name).or_else(|| find_exact(&meta.resource, name)) {
        return Ok(LabelValue::Attr(v));
    }
    for set in [&key.attributes, &*meta.resource] {
        let mut found = set.iter().filter(|(k, _)| k.rsplit('.').next() == Some(name));
        if let Some((k1, v)) = found.next() {
            if let Some((k2, _)) = found.next() {
                bail!("label name {name:?} is ambiguous ({k1:?} and {k2:?} both end in it): use the full name");
            }
            return Ok(LabelValue::Attr(v.to_owned()));
        }
    }
    Ok(LabelValue::Missing)
}

fn find_exact(set: &Labels, name: &str) -> Option<AttrValue> {
    set.get(name).map(AttrRef::to_owned)
}

#[derive(Debug, Clone)]
enum MatchOp {
    Eq(String),
    Ne(String),
    Re(Regex),
}

/// One `-w KEY=VALUE`, `KEY!=VALUE` or `KEY=~REGEX` condition.
#[derive(Debug, Clone)]
pub struct LabelMatcher {
    key: String,
    op: MatchOp,
}

impl LabelMatcher {
    pub fn parse(text: &str) -> Result<LabelMatcher> {
        let (key, op) = if let Some((k, v)) = text.split_once("!=") {
            (k, MatchOp::Ne(v.to_string()))
        } else if let Some((k, v)) = text.split_once("=~") {
            // Anchored, as in PromQL.
            let re = Regex::new(&format!("^(?:{v})$"))
                .map_err(|e| crate::UsageError(format!("invalid regex in --where {text:?}: {e}")))?;
            (k, MatchOp::Re(re))
        } else if let Some((k, v)) = text.split_once('=') {
            (k, MatchOp::Eq(v.to_string()))
        } else {
            bail!("invalid --where {text:?}: expected KEY=VALUE, KEY!=VALUE or KEY=~REGEX");
        };
        let key = key.trim();
        if key.is_empty() {
            bail!("invalid --where {text:?}: empty label name");
        }
        Ok(LabelMatcher { key: key.to_string(), op })
    }

    pub fn equals(key: &str, value: &str) -> LabelMatcher {
        LabelMatcher { key: key.into(), op: MatchOp::Eq(value.into()) }
    }

    pub fn matches(&self, key: &SeriesKey, meta: &SeriesMeta) -> Result<bool> {
        let value = lookup_label(key, meta, &self.key)?.text();
        Ok(match &self.op {
            MatchOp::Eq(v) => &value == v,
            MatchOp::Ne(v) => &value != v,
            MatchOp::Re(re) => re.is_match(&value),
        })
    }
}

/// Everything `-m`, `--route`, `--service`, `-w`, `--since` and `--until` select.
#[derive(Clone, Default)]
pub struct Filter {
    pub metrics: MetricMatcher,
    pub labels: Vec<LabelMatcher>,
    pub since: Option<TimeArg>,
    pub until: Option<TimeArg>,
}

impl Filter {
    /// Every series of the named metrics (exact names or globs), at any time.
    pub fn metrics(patterns: &[&str]) -> Result<Filter> {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        Ok(Filter { metrics: MetricMatcher::new(&patterns)?, ..Filter::default() })
    }

    pub fn series_matches(&self, key: &SeriesKey, meta: &SeriesMeta) -> Result<bool> {
        if !self.metrics.matches(&key.metric) {
            return Ok(false);
        }
        for m in &self.labels {
            if !m.matches(key, meta)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub fn needs_newest_timestamp(&self) -> bool {
        self.since.is_some_and(TimeArg::is_relative) || self.until.is_some_and(TimeArg::is_relative)
    }
}

/// A resolved time window; both ends inclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Window {
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl Window {
    pub fn contains(&self, ts: i64) -> bool {
        self.since.is_none_or(|s| ts >= s) && self.until.is_none_or(|u| ts <= u)
    }
}
