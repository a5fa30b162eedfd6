//! Which metric names a read keeps: exact names and globs, tested on the name's bytes
//! before a line is parsed, so that unwanted lines cost one search.

use std::sync::Arc;

use anyhow::{Context, Result};
use globset::{Glob, GlobSet, GlobSetBuilder};

/// Metric names wanted by a query: exact names, globs, and a rule of the query's own
/// (PromQL's name matchers, tried on the names a metric is exposed under); empty =
/// every metric.
#[derive(Clone, Default)]
pub struct MetricMatcher {
    exact: Arc<Vec<String>>,
    globs: Option<Arc<GlobSet>>,
    rule: Option<NameRule>,
    /// The rule is only asked about names with a byte outside `[A-Za-z0-9_:]`.
    rule_for_foreign_names_only: bool,
}

/// A test of names the exact list does not hold.
pub type NameRule = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// A name made only of `[A-Za-z0-9_:]` (what Prometheus and most exporters write).
fn is_plain_name(name: &[u8]) -> bool {
    name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

impl std::fmt::Debug for MetricMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricMatcher")
            .field("exact", &self.exact)
            .field("globs", &self.globs.is_some())
            .field("rule", &self.rule.is_some())
            .finish()
    }
}

impl MetricMatcher {
    pub fn new(patterns: &[String]) -> Result<MetricMatcher> {
        let mut exact = Vec::new();
        let mut builder = GlobSetBuilder::new();
        let mut any_glob = false;
        for p in patterns {
            if p.contains(['*', '?', '[', '{']) {
                builder.add(Glob::new(p).with_context(|| format!("invalid metric pattern {p:?}"))?);
                any_glob = true;
            } else {
                exact.push(p.clone());
            }
        }
        let globs = if any_glob { Some(Arc::new(builder.build().context("invalid metric patterns")?)) } else { None };
        Ok(MetricMatcher { exact: Arc::new(exact), globs, rule: None, rule_for_foreign_names_only: false })
    }

    /// Exact names, then `rule` for any other name; with `foreign_names_only`, only for
    /// names with a byte outside `[A-Za-z0-9_:]` (the exact list holds every plain name
    /// wanted), so that the lines skipped cost no call.
    pub fn with_rule(exact: Vec<String>, rule: NameRule, foreign_names_only: bool) -> MetricMatcher {
        MetricMatcher {
            exact: Arc::new(exact),
            globs: None,
            rule: Some(rule),
            rule_for_foreign_names_only: foreign_names_only,
        }
    }

    fn rule_applies(&self, name: &[u8]) -> bool {
        self.rule.is_some() && !(self.rule_for_foreign_names_only && is_plain_name(name))
    }

    pub fn is_all(&self) -> bool {
        self.exact.is_empty() && self.globs.is_none() && self.rule.is_none()
    }

    pub fn matches(&self, name: &str) -> bool {
        self.is_all()
            || self.exact.iter().any(|e| e == name)
            || self.globs.as_ref().is_some_and(|g| g.is_match(name))
            || (self.rule_applies(name.as_bytes()) && self.rule.as_ref().is_some_and(|r| r(name)))
    }

    pub fn matches_bytes(&self, name: &[u8]) -> bool {
        if self.is_all() {
            return true;
        }
        if self.exact.iter().any(|e| e.as_bytes() == name) {
            return true;
        }
        let rule = self.rule_applies(name);
        if self.globs.is_none() && !rule {
            return false;
        }
        match std::str::from_utf8(name) {
            Ok(s) => {
                self.globs.as_ref().is_some_and(|g| g.is_match(s)) || (rule && self.rule.as_ref().is_some_and(|r| r(s)))
            }
            // Not UTF-8: let the full parse report it.
            Err(_) => true,
        }
    }
}
