//! What `top` shows, computed from the engine's steps: per group, the requests, errors
//! and latency observations of every second, and from them the rates, error ratios
//! and quantiles of a sliding window ending at the newest sample.
//!
//! An increase is filed under the second of the later of its two samples and covers
//! the time since the earlier one; a series' first sample (counted from zero) is taken
//! to cover one export interval. Until the input covers a whole window, rates are over
//! the time it does cover.

use std::collections::{HashMap, VecDeque};

use metricsctl_engine::engine::{Engine, Increase, SeriesId, SeriesInfo, Sink, Step};
use metricsctl_engine::filter::lookup_label;
use metricsctl_format::histogram::{HistogramSum, ObservedRange};
use metricsctl_format::record::{MetricType, SampleValue};
use metricsctl_format::timestamp::NANOS_PER_SEC;
use metricsctl_format::value::AttrRef;

/// The instruments `top` reads when none are named: the reference design's HTTP server
/// metrics.
pub const HTTP_REQUESTS: &str = "http_server_requests_total";
pub const HTTP_DURATION: &str = "http_server_request_duration_seconds";
pub const GRPC_REQUESTS: &str = "grpc_server_requests_total";
pub const GRPC_DURATION: &str = "grpc_server_request_duration_seconds";

pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

#[derive(Debug, Clone)]
pub struct TopOptions {
    pub by: Vec<String>,
    /// The request counter; its series' status labels tell errors apart.
    pub requests_metric: String,
    /// The latency histogram; its counts stand in for requests when the counter is absent.
    pub latency_metric: String,
    /// Sliding window of the rates, error ratios and quantiles (nanoseconds).
    pub window: i64,
    /// Width of one sparkline column (nanoseconds), and how many columns.
    pub step: i64,
    pub history: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Unwanted,
    Requests { error: bool },
    Latency { error: bool },
}

/// One second's increases of a group.
#[derive(Debug, Clone, Default)]
struct Second {
    second: i64,
    requests: f64,
    errors: f64,
    /// The latency histogram's count, and of its error series.
    observed: f64,
    observed_errors: f64,
    latency: HistogramSum,
    range: ObservedRange,
}

#[derive(Debug, Default)]
struct GroupHistory {
    /// Seconds with increases, oldest first.
    seconds: VecDeque<Second>,
    /// Whether the group has a request counter series (else its latency histogram's
    /// count is its requests).
    has_counter: bool,
}

/// The engine's steps, kept per group and second for a window and a sparkline.
pub struct TopModel {
    pub options: TopOptions,
    /// Per group: its values of the `by` labels ("" where a series has none).
    pub group_labels: Vec<Vec<String>>,
    group_index: HashMap<Vec<String>, usize>,
    /// Per series: its role and group.
    roles: Vec<(Role, usize)>,
    groups: Vec<GroupHistory>,
    /// A `by` label that cannot be looked up (ambiguous), said once.
    pub label_error: Option<String>,
    /// Whether the latency histogram is in seconds (its unit, or its name says so).
    pub latency_in_seconds: bool,
    /// Newest sample time of the steps seen.
    pub newest: Option<i64>,
    /// Earliest time the steps seen cover.
    covered_from: Option<i64>,
    /// Steps are counted only while this is set: the catch-up's newest-samples-only
    /// reading gives increases over long stretches, which would show as spikes.
    pub counting: bool,
    /// Export interval assumed for a series' first sample.
    pub interval: i64,
    /// Counts the steps taken in, so that a view recomputes its rows only after some.
    pub version: u64,
}

/// A status label that says the request failed: an HTTP 5xx, `status="error"`, or a
/// gRPC status other than OK.
fn is_error(info: &SeriesInfo) -> bool {
    info.key.attributes.iter().any(|(key, value)| {
        let number = || match value {
            AttrRef::Num(text) | AttrRef::Str(text) => text.parse::<i64>().ok(),
            AttrRef::Bool(_) => None,
        };
        match key {
            "http.status_code" | "http.response.status_code" => number().is_some_and(|code| code >= 500),
            "rpc.status_code" | "rpc.grpc.status_code" => number().is_some_and(|code| code != 0),
            "status" => matches!(value, AttrRef::Str("error")),
            _ => false,
        }
    })
}

impl TopModel {
    pub fn new(options: TopOptions) -> TopModel {
        TopModel {
            options,
            group_labels: Vec::new(),
            group_index: HashMap::new(),
            roles: Vec::new(),
            groups: Vec::new(),
            label_error: None,
            latency_in_seconds: true,
            newest: None,
            covered_from: None,
            counting: true,
            interval: 10 * NANOS_PER_SEC,
            version: 0,
        }
    }

    /// Seconds older than this before the newest are of no use to the view.
    fn kept_span(&self) -> i64 {
        self.options.window.max(self.options.step.saturating_mul(self.options.history as i64))
    }

    fn record(&mut self, group: usize, step: &Step<'_>, role: Role) {
        let second = step.timestamp.div_euclid(NANOS_PER_SEC);
        let history = &mut self.groups[group];
        let at = match history.seconds.binary_search_by_key(&second, |s| s.second) {
            Ok(i) => i,
            Err(i) => {
                history.seconds.insert(i, Second { second, ..Second::default() });
                i
            }
        };
        let slot = &mut history.seconds[at];
        match (role, &step.increase) {
            (Role::Requests { error }, Increase::Num(n)) => {
                slot.requests += n.as_f64();
                if error {
                    slot.errors += n.as_f64();
                }
            }
            (Role::Latency { error }, Increase::Hist(h)) => {
                slot.observed += h.count as f64;
                if error {
                    slot.observed_errors += h.count as f64;
                }
                if h.count > 0 {
                    slot.latency.add(h);
                    if let SampleValue::Hist(sample) = step.value {
                        slot.range.include(sample);
                    }
                }
            }
            _ => {}
        }
    }

    fn prune(&mut self) {
        let Some(newest) = self.newest else { return };
        let oldest = (newest - self.kept_span()).div_euclid(NANOS_PER_SEC);
        for history in &mut self.groups {
            while history.seconds.front().is_some_and(|s| s.second < oldest) {
                history.seconds.pop_front();
            }
        }
    }

    /// Takes the export interval from the engine's learnt intervals (the longest).
    pub fn learn_interval(&mut self, engine: &Engine) {
        if let Some(interval) = engine.processes.iter().filter_map(|p| p.interval).max() {
            self.interval = interval;
        }
    }

    /// The rows of the view at the newest sample.
    pub fn rows(&self) -> Vec<Row> {
        let Some(now) = self.newest else { return Vec::new() };
        let now_second = now.div_euclid(NANOS_PER_SEC);
        let window_seconds = (self.options.window / NANOS_PER_SEC).max(1);
        let step_seconds = (self.options.step / NANOS_PER_SEC).max(1);
        // The window is the last whole seconds up to and including the newest sample's.
        let in_window = |s: &Second| s.second > now_second - window_seconds;
        let window_start = (now_second - window_seconds + 1) * NANOS_PER_SEC;
        let window_end = (now_second + 1) * NANOS_PER_SEC;
        let covered = (window_end - self.covered_from.unwrap_or(now).max(window_start)).max(NANOS_PER_SEC);
        let covered_secs = covered as f64 / NANOS_PER_SEC as f64;
        let mut rows = Vec::with_capacity(self.groups.len());
        for (group, history) in self.groups.iter().enumerate() {
            let requests_of = |s: &Second| if history.has_counter { s.requests } else { s.observed };
            let errors_of = |s: &Second| if history.has_counter { s.errors } else { s.observed_errors };
            let mut requests = 0.0;
            let mut errors = 0.0;
            let mut latency = HistogramSum::default();
            let mut range = ObservedRange::Unset;
            for s in history.seconds.iter().filter(|s| in_window(s)) {
                requests += requests_of(s);
                errors += errors_of(s);
                if s.latency.count > 0 {
                    latency.merge(&s.latency);
                    range.merge(s.range);
                }
            }
            let mut sparkline = vec![0.0; self.options.history];
            for s in &history.seconds {
                let column = ((now_second - s.second).max(0) / step_seconds) as usize;
                if column < sparkline.len() {
                    let i = sparkline.len() - 1 - column;
                    sparkline[i] += requests_of(s) / step_seconds as f64;
                }
            }
            rows.push(Row {
                labels: self.group_labels[group].clone(),
                rate: requests / covered_secs,
                requests,
                error_ratio: (requests > 0.0).then(|| errors / requests),
                quantiles: QUANTILES.map(|q| latency.quantile(q).map(|v| range.clamp(v))),
                sparkline,
            });
        }
        rows
    }
}

/// One line of the view.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub labels: Vec<String>,
    /// Requests per second over the window.
    pub rate: f64,
    /// Requests in the window.
    pub requests: f64,
    pub error_ratio: Option<f64>,
    /// p50, p90, p99 of the window's latency observations (as `quantile` estimates them).
    pub quantiles: [Option<f64>; 3],
    /// Requests per second per step, oldest first, the last ending at the newest sample.
    pub sparkline: Vec<f64>,
}

impl TopModel {
    fn group_of(&mut self, info: &SeriesInfo) -> Option<usize> {
        let mut labels = Vec::with_capacity(self.options.by.len());
        for name in &self.options.by {
            match lookup_label(&info.key, info.meta(), name) {
                Ok(value) => labels.push(value.text()),
                Err(e) => {
                    self.label_error.get_or_insert_with(|| format!("{e:#}"));
                    return None;
                }
            }
        }
        let next = self.group_labels.len();
        let group = *self.group_index.entry(labels.clone()).or_insert(next);
        if group == next {
            self.group_labels.push(labels);
            self.groups.push(GroupHistory::default());
        }
        Some(group)
    }
}

impl Sink for TopModel {
    fn want_series(&mut self, id: SeriesId, info: &SeriesInfo) -> bool {
        let role = if *info.key.metric == *self.options.requests_metric && info.key.metric_type == MetricType::Counter {
            Role::Requests { error: is_error(info) }
        } else if *info.key.metric == *self.options.latency_metric && info.key.metric_type == MetricType::Histogram {
            self.latency_in_seconds = info.meta().unit.as_deref() == Some("s") || info.key.metric.ends_with("_seconds");
            Role::Latency { error: is_error(info) }
        } else {
            return false;
        };
        let Some(group) = self.group_of(info) else { return false };
        if matches!(role, Role::Requests { .. }) {
            self.groups[group].has_counter = true;
        }
        let id = id as usize;
        if self.roles.len() <= id {
            self.roles.resize(id + 1, (Role::Unwanted, 0));
        }
        self.roles[id] = (role, group);
        true
    }

    fn step(&mut self, id: SeriesId, _info: &SeriesInfo, step: &Step<'_>) {
        let Some(&(role, group)) = self.roles.get(id as usize) else { return };
        if !self.counting || role == Role::Unwanted {
            return;
        }
        let from = step.previous_timestamp.unwrap_or(step.timestamp - self.interval);
        self.covered_from = Some(self.covered_from.map_or(from, |c| c.min(from)));
        if self.newest.is_some_and(|n| step.timestamp < n - self.kept_span()) {
            return;
        }
        let second = |t: i64| t.div_euclid(NANOS_PER_SEC);
        let next_second = self.newest.is_none_or(|n| second(step.timestamp) > second(n));
        if self.newest.is_none_or(|n| step.timestamp > n) {
            self.newest = Some(step.timestamp);
        }
        self.record(group, step, role);
        self.version += 1;
        if next_second {
            self.prune();
        }
    }
}
