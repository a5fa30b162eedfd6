//! What a query reads, worked out from its syntax tree before the input is: the metrics
//! its selectors can match (the reader's pre-check skips every other line unparsed), and
//! how far back and forward of its evaluation times it looks (the store keeps nothing
//! else).

use std::sync::Arc;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{Expr, Offset, VectorSelector};

use metricsctl_prom::text::{metric_name, TARGET_INFO};
use metricsctl_reader::matcher::MetricMatcher;

use crate::eval::{millis, QueryTimes};
use crate::store::{Horizon, METRIC_NAME};

#[derive(Debug, Clone)]
pub struct Plan {
    /// How far before an evaluation time samples are read (milliseconds).
    pub back: i64,
    /// How far after one (negative offsets).
    pub forward: i64,
    /// A selector has `@`: it reads around a fixed time, not the evaluation times.
    pub pinned: bool,
    selectors: Vec<VectorSelector>,
}

fn offset_millis(offset: &Option<Offset>) -> i64 {
    match offset {
        Some(Offset::Pos(d)) => millis(d),
        Some(Offset::Neg(d)) => millis(d).saturating_neg(),
        None => 0,
    }
}

impl Plan {
    pub fn new(expr: &Expr, lookback: i64, subquery_step: i64) -> Plan {
        let mut plan = Plan { back: 0, forward: 0, pinned: false, selectors: Vec::new() };
        plan.walk(expr, 0, 0, lookback, subquery_step);
        plan
    }

    fn walk(&mut self, expr: &Expr, back: i64, forward: i64, lookback: i64, subquery_step: i64) {
        let mut reach = |vs: &VectorSelector, range: i64| {
            let offset = offset_millis(&vs.offset);
            self.back = self.back.max(back.saturating_add(range).saturating_add(offset.max(0)));
            self.forward = self.forward.max(forward.saturating_add(offset.saturating_neg().max(0)));
            self.pinned |= vs.at.is_some();
            self.selectors.push(vs.clone());
        };
        match expr {
            Expr::VectorSelector(vs) => reach(vs, lookback),
            Expr::MatrixSelector(ms) => reach(&ms.vs, millis(&ms.range)),
            Expr::Subquery(sq) => {
                let offset = offset_millis(&sq.offset);
                self.pinned |= sq.at.is_some();
                let step = sq.step.as_ref().map(millis).unwrap_or(subquery_step);
                let back = back.saturating_add(millis(&sq.range)).saturating_add(offset.max(0)).saturating_add(step);
                let forward = forward.saturating_add(offset.saturating_neg().max(0));
                self.walk(&sq.expr, back, forward, lookback, subquery_step);
            }
            Expr::Paren(p) => self.walk(&p.expr, back, forward, lookback, subquery_step),
            Expr::Unary(u) => self.walk(&u.expr, back, forward, lookback, subquery_step),
            Expr::Binary(b) => {
                self.walk(&b.lhs, back, forward, lookback, subquery_step);
                self.walk(&b.rhs, back, forward, lookback, subquery_step);
            }
            Expr::Aggregate(a) => {
                self.walk(&a.expr, back, forward, lookback, subquery_step);
                if let Some(p) = &a.param {
                    self.walk(p, back, forward, lookback, subquery_step);
                }
            }
            Expr::Call(c) => {
                for a in &c.args.args {
                    self.walk(a, back, forward, lookback, subquery_step);
                }
            }
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }

    /// The samples the store keeps for these evaluation times.
    pub fn horizon(&self, times: QueryTimes) -> Horizon {
        if self.pinned {
            return Horizon::Everything;
        }
        Horizon::Between {
            first: times.first().saturating_sub(self.back),
            last: times.last().saturating_add(self.forward),
        }
    }

    /// The metrics of the input the query can select: exactly the names that expose
    /// what a selector names, and for names that are not Prometheus names as they stand
    /// (`http.server.duration`) or selectors by regular expression, the matchers tried on
    /// every name the metric could be exposed under. Every metric when a selector names
    /// none, or could select `target_info` (every process has it).
    pub fn metric_matcher(&self) -> MetricMatcher {
        let mut name_matchers: Vec<Vec<Matcher>> = Vec::new();
        for vs in &self.selectors {
            let mut ms: Vec<Matcher> = vs.matchers.matchers.iter().filter(|m| m.name == METRIC_NAME).cloned().collect();
            if let Some(name) = &vs.name {
                ms.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name));
            }
            if ms.is_empty() || !vs.matchers.or_matchers.is_empty() {
                return MetricMatcher::default();
            }
            if ms.iter().all(|m| m.is_match(TARGET_INFO)) {
                return MetricMatcher::default();
            }
            name_matchers.push(ms);
        }
        if name_matchers.is_empty() {
            return MetricMatcher::default();
        }
        let equal_only = name_matchers.iter().all(|ms| ms.iter().all(|m| matches!(m.op, MatchOp::Equal)));
        let mut exact = Vec::new();
        for ms in &name_matchers {
            for m in ms.iter().filter(|m| matches!(m.op, MatchOp::Equal)) {
                exact.extend(input_names_exposed_as(&m.value));
            }
        }
        exact.sort();
        exact.dedup();
        let rule = Arc::new(move |input: &str| {
            if equal_only && is_prometheus_name(input) {
                // The exact list holds every such name.
                return false;
            }
            let names = exposed_names(input);
            name_matchers.iter().any(|ms| names.iter().any(|n| ms.iter().all(|m| m.is_match(n))))
        });
        // With names only, a plain name is in the exact list or not wanted: the rule is
        // for names that translate (`http.server.duration`).
        MetricMatcher::with_rule(exact, rule, equal_only)
    }
}

/// Whether a name is exposed as it is (`metric_name` leaves it alone), checked without
/// building the translation: the pre-check asks this of every line it skips.
fn is_prometheus_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Every name a metric of the input is exposed under, whatever its type.
fn exposed_names(input: &str) -> Vec<String> {
    let base = metric_name(input);
    let stem = base.strip_suffix("_total").unwrap_or(&base);
    vec![
        format!("{stem}_total"),
        format!("{base}_bucket"),
        format!("{base}_sum"),
        format!("{base}_count"),
        base.clone(),
    ]
}

/// The input metric names (already Prometheus names) exposed as `name`.
fn input_names_exposed_as(name: &str) -> Vec<String> {
    let mut names = vec![name.to_string()];
    for suffix in ["_total", "_bucket", "_sum", "_count"] {
        if let Some(stem) = name.strip_suffix(suffix) {
            names.push(stem.to_string());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(query: &str) -> MetricMatcher {
        let expr = crate::parse(query).unwrap();
        Plan::new(&expr, 300_000, 60_000).metric_matcher()
    }

    #[test]
    fn selectors_go_down_to_the_metrics_they_expose() {
        let m = matcher("sum(rate(http_server_requests_total[5m]))");
        assert!(m.matches("http_server_requests_total"));
        assert!(m.matches("http_server_requests"));
        assert!(!m.matches("http_server_request_duration_seconds"));
        let m = matcher("histogram_quantile(0.9, rate(http_server_request_duration_seconds_bucket[5m]))");
        assert!(m.matches("http_server_request_duration_seconds"));
        assert!(m.matches("http.server.request_duration_seconds"));
        assert!(!m.matches("http_server_requests_total"));
        let m = matcher("{__name__=~\"grpc_.*\"}");
        assert!(m.matches("grpc.server.requests"));
        assert!(!m.matches("http_server_requests_total"));
        assert!(matcher("{job=\"sre\"}").is_all());
        assert!(matcher("target_info").is_all());
        assert!(matcher("1 + 1").is_all());
        for name in ["http_server_requests_total", "a:b", "_x", "http.route", "1abc", "", "é"] {
            assert_eq!(is_prometheus_name(name), metric_name(name) == name, "{name}");
        }
    }

    #[test]
    fn reach_covers_ranges_offsets_and_subqueries() {
        let plan = |q: &str| Plan::new(&crate::parse(q).unwrap(), 300_000, 60_000);
        assert_eq!(plan("x").back, 300_000);
        assert_eq!(plan("rate(x[1h] offset 5m)").back, 3_900_000);
        assert_eq!(plan("x offset -10m").forward, 600_000);
        assert_eq!(plan("max_over_time(rate(x[1m])[5m:10s])").back, 60_000 + 300_000 + 10_000);
        assert!(plan("x @ 100").pinned);
    }
}
