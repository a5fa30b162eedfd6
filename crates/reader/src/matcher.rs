//! Which metric names a read keeps: exact names and globs, tested on the name's bytes
//! before a line is parsed, so that unwanted lines cost one search.

use std::sync::Arc;

use anyhow::{Context, Result};
use globset::{Glob, GlobSet, GlobSetBuilder};

/// Metric names wanted by a query: exact names and globs; empty = every metric.
#[derive(Clone, Default)]
pub struct MetricMatcher {
    exact: Arc<Vec<String>>,
    globs: Option<Arc<GlobSet>>,
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
        Ok(MetricMatcher { exact: Arc::new(exact), globs })
    }

    pub fn is_all(&self) -> bool {
        self.exact.is_empty() && self.globs.is_none()
    }

    pub fn matches(&self, name: &str) -> bool {
        self.is_all() || self.exact.iter().any(|e| e == name) || self.globs.as_ref().is_some_and(|g| g.is_match(name))
    }

    pub fn matches_bytes(&self, name: &[u8]) -> bool {
        if self.is_all() {
            return true;
        }
        if self.exact.iter().any(|e| e.as_bytes() == name) {
            return true;
        }
        match &self.globs {
            None => false,
            Some(g) => match std::str::from_utf8(name) {
                Ok(s) => g.is_match(s),
                // Not UTF-8: let the full parse report it.
                Err(_) => true,
            },
        }
    }
}
