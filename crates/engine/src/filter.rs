//! The filters shared by every query command (README.md, "Filters") and label lookup by
//! full, short (`route` = `http.route`) or built-in (`service`, `instance`, `metric`) name.

use anyhow::{bail, Result};
use regex::Regex;

pub use metricsctl_reader::matcher::MetricMatcher;

use metricsctl_format::record::AttrValue;
use metricsctl_format::series::{SeriesKey, SeriesMeta};
use metricsctl_format::timestamp::TimeArg;
use metricsctl_format::value::AttrRef;

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

/// A label's value borrowed from the series it was looked up in: grouping a million
/// series compares and hashes these, and copies only a new group's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelRef<'a> {
    Attr(AttrRef<'a>),
    Missing,
}

impl LabelRef<'_> {
    pub fn to_owned(self) -> LabelValue {
        match self {
            LabelRef::Attr(v) => LabelValue::Attr(v.to_owned()),
            LabelRef::Missing => LabelValue::Missing,
        }
    }
}

impl LabelValue {
    pub fn as_ref(&self) -> LabelRef<'_> {
        match self {
            LabelValue::Attr(v) => LabelRef::Attr(v.as_ref()),
            LabelValue::Missing => LabelRef::Missing,
        }
    }
}

/// Looks a label up by name: built-ins first, then the exact attribute or resource key,
/// then a key whose last dot-segment is `name` when exactly one such key exists.
pub fn lookup_label(key: &SeriesKey, meta: &SeriesMeta, name: &str) -> Result<LabelValue> {
    lookup_label_ref(key, meta, name).map(LabelRef::to_owned)
}

/// [`lookup_label`], borrowing the value.
pub fn lookup_label_ref<'a>(key: &'a SeriesKey, meta: &'a SeriesMeta, name: &str) -> Result<LabelRef<'a>> {
    let found = |v: Option<AttrRef<'a>>| v.map_or(LabelRef::Missing, LabelRef::Attr);
    match name {
        "service" => return Ok(LabelRef::Attr(AttrRef::Str(&key.service))),
        "metric" => return Ok(LabelRef::Attr(AttrRef::Str(&key.metric))),
        "instance" => return Ok(found(meta.resource.get("service.instance.id"))),
        "scope" | "otel_scope_name" => return Ok(found(key.scope.as_ref().map(|s| AttrRef::Str(&s.name)))),
        "otel_scope_version" => {
            return Ok(found(key.scope.as_ref().and_then(|s| s.version.as_deref()).map(AttrRef::Str)))
        }
        _ => {}
    }
    if let Some(v) = key.attributes.get(name).or_else(|| meta.resource.get(name)) {
        return Ok(LabelRef::Attr(v));
    }
    for set in [&key.attributes, &*meta.resource] {
        let mut found = set.iter().filter(|(k, _)| k.rsplit('.').next() == Some(name));
        if let Some((k1, v)) = found.next() {
            if let Some((k2, _)) = found.next() {
                bail!("label name {name:?} is ambiguous ({k1:?} and {k2:?} both end in it): use the full name");
            }
            return Ok(LabelRef::Attr(v));
        }
    }
    Ok(LabelRef::Missing)
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
