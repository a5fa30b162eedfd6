//! The samples PromQL selects from: every series `to-prometheus --history` would write
//! (the same names, labels and values, through [`metricsctl_prom::text`]), fed by the
//! engine's steps, so that restarts, duplicates and delta lines are what they are for
//! every other command. Each sample also keeps the engine's exact increase, for
//! `query --exact`.
//!
//! Only samples a query can look at are kept (see [`Horizon`]): memory grows with the
//! series and the samples in the query's reach, not with the file.

use std::collections::HashMap;
use std::sync::Arc;

use metricsctl_engine::engine::{
    Engine, EngineOptions, Increase, ProcessId, SeriesId, SeriesInfo, Sink, Step, StepKind,
};
use metricsctl_format::record::{MetricType, Num, SampleValue};
use metricsctl_format::timestamp::NANOS_PER_SEC;
use metricsctl_prom::exposition::exposed_value;
use metricsctl_prom::text::{
    for_each_point, histogram_point_values, point_values, target_info_labels, ExpositionFormat, FamilyBuilder,
    TARGET_INFO,
};

/// A series' labels, sorted by name, `__name__` among them.
pub type Labels = Vec<(String, String)>;

pub const METRIC_NAME: &str = "__name__";

/// One sample: time in milliseconds (Prometheus' resolution), value, and the exact
/// increase the engine computed for it (NaN where there is none: gauges, target_info).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub t: i64,
    pub v: f64,
    pub increase: f64,
}

#[derive(Debug)]
pub struct StoredSeries {
    pub labels: Labels,
    pub points: Vec<Point>,
}

/// Which samples are kept: those from `first` to `last` (milliseconds), the query's
/// evaluation times widened by how far it looks back and forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Horizon {
    Between { first: i64, last: i64 },
    Everything,
}

impl Horizon {
    fn keeps(self, t: i64) -> bool {
        match self {
            Horizon::Between { first, last } => t >= first && t <= last,
            Horizon::Everything => true,
        }
    }
}

/// Where one engine series' points go.
struct Route {
    metric: String,
    metric_type: MetricType,
    labels: Labels,
    /// The histogram layout `targets` were resolved for.
    bounds: Option<metricsctl_format::value::Bounds>,
    /// The stored series of each of its exposed points, in `for_each_point`'s order.
    targets: Vec<u32>,
}

pub struct SeriesStore {
    builder: FamilyBuilder,
    resource_labels: bool,
    horizon: Horizon,
    series: Vec<StoredSeries>,
    index: HashMap<Labels, u32>,
    routes: HashMap<SeriesId, Route>,
    /// Running totals of delta series: Prometheus sees them cumulative.
    delta_totals: HashMap<SeriesId, SampleValue>,
    /// Per process: its target_info series and when it was last written (at most once a
    /// second, as `--history` writes it).
    target_info: HashMap<ProcessId, (Option<u32>, i64)>,
    newest: Option<i64>,
    values: Vec<Num>,
    increases: Vec<f64>,
    pub error: Option<anyhow::Error>,
}

impl SeriesStore {
    pub fn new(resource_labels: bool, horizon: Horizon) -> SeriesStore {
        SeriesStore {
            builder: FamilyBuilder::default(),
            resource_labels,
            horizon,
            series: Vec::new(),
            index: HashMap::new(),
            routes: HashMap::new(),
            delta_totals: HashMap::new(),
            target_info: HashMap::new(),
            newest: None,
            values: Vec::new(),
            increases: Vec::new(),
            error: None,
        }
    }

    /// The newest sample stored, in milliseconds.
    pub fn newest(&self) -> Option<i64> {
        self.newest
    }

    fn series_for(&mut self, labels: Labels) -> u32 {
        if let Some(&i) = self.index.get(&labels) {
            return i;
        }
        let i = self.series.len() as u32;
        self.index.insert(labels.clone(), i);
        self.series.push(StoredSeries { labels, points: Vec::new() });
        i
    }

    fn push(&mut self, series: u32, point: Point) {
        if self.horizon.keeps(point.t) {
            self.series[series as usize].points.push(point);
        }
    }

    fn resolve(&mut self, id: SeriesId, value: &SampleValue) {
        let Some(route) = self.routes.get(&id) else { return };
        let Some(family) = self.builder.family(&route.metric, route.metric_type) else { return };
        let mut wanted = Vec::new();
        for_each_point(family, value, ExpositionFormat::default(), |name, le, _| {
            let mut labels = route.labels.clone();
            labels.push((METRIC_NAME.to_string(), name.to_string()));
            if let Some(le) = le {
                labels.push(("le".to_string(), le.to_string()));
            }
            labels.sort();
            wanted.push(labels);
        });
        let targets = wanted.into_iter().map(|labels| self.series_for(labels)).collect();
        let route = self.routes.get_mut(&id).expect("resolved above");
        route.targets = targets;
        route.bounds = match value {
            SampleValue::Hist(h) => Some(h.bounds.clone()),
            SampleValue::Num(_) => None,
        };
    }

    fn note_target_info(&mut self, info: &SeriesInfo, timestamp: i64) {
        if self.resource_labels {
            return;
        }
        let (series, last) = match self.target_info.get(&info.process) {
            Some(&entry) => entry,
            None => {
                let labels = target_info_labels(&info.key.service, &info.meta().resource).map(|mut labels| {
                    labels.push((METRIC_NAME.to_string(), TARGET_INFO.to_string()));
                    labels.sort();
                    labels
                });
                let series = labels.map(|l| self.series_for(l));
                (series, i64::MIN)
            }
        };
        let Some(series) = series else {
            self.target_info.insert(info.process, (None, last));
            return;
        };
        if last == i64::MIN || timestamp >= last + NANOS_PER_SEC {
            self.push(series, Point { t: millis(timestamp), v: 1.0, increase: f64::NAN });
            self.target_info.insert(info.process, (Some(series), timestamp));
        }
    }

    /// A stored series' labels (`id` as [`SeriesStore::drain`] hands it out).
    pub fn labels(&self, id: u32) -> &Labels {
        &self.series[id as usize].labels
    }

    /// Takes the samples stored so far, per series (in no order), leaving every series
    /// known with none: a follower sends what is new and keeps only what comes next.
    pub fn drain(&mut self) -> Vec<(u32, Vec<Point>)> {
        self.series
            .iter_mut()
            .enumerate()
            .filter(|(_, s)| !s.points.is_empty())
            .map(|(i, s)| (i as u32, std::mem::take(&mut s.points)))
            .collect()
    }

    /// The stored series in Prometheus' order (by labels), with an index by name.
    pub fn into_index(self) -> SeriesIndex {
        let mut series = self.series;
        series.retain(|s| !s.points.is_empty());
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        let mut by_name: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, s) in series.iter().enumerate() {
            if let Some((_, name)) = s.labels.iter().find(|(k, _)| k == METRIC_NAME) {
                by_name.entry(name.clone()).or_default().push(i as u32);
            }
        }
        SeriesIndex { series, by_name, newest: self.newest }
    }
}

/// Nanoseconds to Prometheus' milliseconds.
pub fn millis(nanos: i64) -> i64 {
    nanos.div_euclid(1_000_000)
}

impl Sink for SeriesStore {
    fn want_series(&mut self, id: SeriesId, info: &SeriesInfo) -> bool {
        match self.builder.labels_for(id, &info.key, info.meta(), self.resource_labels) {
            Ok(labels) => {
                let route = Route {
                    metric: info.key.metric.to_string(),
                    metric_type: info.key.metric_type,
                    labels: labels.to_vec(),
                    bounds: None,
                    targets: Vec::new(),
                };
                self.routes.insert(id, route);
                true
            }
            Err(e) => {
                self.error.get_or_insert(e);
                false
            }
        }
    }

    fn step(&mut self, id: SeriesId, info: &SeriesInfo, step: &Step<'_>) {
        let t = millis(step.timestamp);
        self.newest = Some(self.newest.map_or(t, |n| n.max(t)));
        let kept = self.horizon.keeps(t);
        // Outside the query's reach only a delta series' running total matters.
        if !kept && step.kind != StepKind::Delta {
            return;
        }
        if kept {
            self.note_target_info(info, step.timestamp);
        }
        let mut values = std::mem::take(&mut self.values);
        values.clear();
        let delta_total = (step.kind == StepKind::Delta).then(|| exposed_value(self.delta_totals.get(&id), step));
        let layout = match (&delta_total, step.value) {
            (Some(SampleValue::Hist(h)), _) => Some(&h.bounds),
            (Some(SampleValue::Num(_)), _) => None,
            (None, SampleValue::Hist(h)) => Some(&h.bounds),
            (None, SampleValue::Num(_)) => None,
        };
        let stale = self.routes.get(&id).is_some_and(|r| {
            r.targets.is_empty()
                || match (&r.bounds, layout) {
                    (Some(a), Some(b)) => !Arc::ptr_eq(a, b) && a[..] != b[..],
                    (None, None) => false,
                    _ => true,
                }
        });
        match (&delta_total, step.value) {
            (Some(total), _) => point_values(total, |n| values.push(n)),
            (None, SampleValue::Num(n)) => values.push(*n),
            (None, SampleValue::Hist(h)) => histogram_point_values(h, |n| values.push(n)),
        }
        if stale && kept {
            let value = delta_total.clone().unwrap_or_else(|| exposed_value(None, step));
            self.resolve(id, &value);
        }
        let mut increases = std::mem::take(&mut self.increases);
        increases.clear();
        match &step.increase {
            Increase::Num(n) => increases.push(n.as_f64()),
            Increase::Hist(h) => histogram_point_values(h, |n| increases.push(n.as_f64())),
            Increase::None => {}
        }
        if increases.len() != values.len() {
            increases.clear();
            increases.resize(values.len(), f64::NAN);
        }
        if let Some(route) = self.routes.get(&id) {
            if kept {
                for ((&series, v), &increase) in route.targets.iter().zip(&values).zip(&increases) {
                    self.series[series as usize].points.push(Point { t, v: v.as_f64(), increase });
                }
            }
        }
        if let Some(total) = delta_total {
            self.delta_totals.insert(id, total);
        }
        self.values = values;
        self.increases = increases;
    }
}

/// The series of lines held in memory (tests, fuzzing, a host that has its lines at
/// hand); bad lines are left out.
pub fn index_lines(lines: &[u8], resource_labels: bool) -> SeriesIndex {
    store_lines(lines, SeriesStore::new(resource_labels, Horizon::Everything))
}

/// Feeds lines held in memory through the engine into `store`.
fn store_lines(lines: &[u8], mut store: SeriesStore) -> SeriesIndex {
    use metricsctl_reader::input::Block;
    use metricsctl_reader::scan::{BlockParser, ChunkOrigin, ScanOptions};
    let mut engine = Engine::new(EngineOptions::default());
    let options = ScanOptions {
        metrics: Default::default(),
        block_size: metricsctl_reader::input::BLOCK_SIZE,
        latest_only: false,
    };
    let chunk = BlockParser::default().parse(&Block::from_bytes(0, lines.to_vec()), &options);
    engine.apply_chunk(ChunkOrigin { source: 0, first_line: 1 }, chunk, &mut store);
    engine.finish(&mut store);
    store.into_index()
}

/// The store, read-only and sorted, for evaluation.
pub struct SeriesIndex {
    pub series: Vec<StoredSeries>,
    by_name: HashMap<String, Vec<u32>>,
    newest: Option<i64>,
}

impl SeriesIndex {
    /// The series a query with this metric name (if it names one) can select from.
    pub fn candidates(&self, name: Option<&str>) -> Box<dyn Iterator<Item = &StoredSeries> + '_> {
        match name {
            Some(name) => {
                Box::new(self.by_name.get(name).into_iter().flatten().map(move |&i| &self.series[i as usize]))
            }
            None => Box::new(self.series.iter()),
        }
    }

    pub fn newest(&self) -> Option<i64> {
        self.newest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &str = concat!(
        r#"{"timestamp":"2025-01-01T00:00:00Z","service_name":"a","metric_name":"c_total","metric_type":"counter","value":5}"#,
        "\n",
        r#"{"timestamp":"2025-01-01T00:00:10Z","service_name":"a","metric_name":"c_total","metric_type":"counter","value":7}"#,
        "\n",
        r#"{"timestamp":"2025-01-01T00:00:20Z","service_name":"a","metric_name":"c_total","metric_type":"counter","value":2}"#,
        "\n",
        r#"{"timestamp":"2025-01-01T00:00:20Z","service_name":"a","metric_name":"d","metric_type":"counter","value":3,"temporality":"delta"}"#,
        "\n",
        r#"{"timestamp":"2025-01-01T00:00:30Z","service_name":"a","metric_name":"d","metric_type":"counter","value":4,"temporality":"delta"}"#,
        "\n",
    );

    #[test]
    fn samples_are_the_exposed_series_with_exact_increases() {
        let index = index_lines(LINES.as_bytes(), false);
        let names: Vec<&str> = index.series.iter().map(|s| s.labels[0].1.as_str()).collect();
        assert_eq!(names, ["c_total", "d_total"]);
        let c = &index.series[0];
        assert_eq!(c.labels, vec![("__name__".to_string(), "c_total".to_string()), ("job".into(), "a".into())]);
        let values: Vec<(f64, f64)> = c.points.iter().map(|p| (p.v, p.increase)).collect();
        // 5 counted from zero, +2, then a restart counted from zero.
        assert_eq!(values, [(5.0, 5.0), (7.0, 2.0), (2.0, 2.0)]);
        // Delta lines add up to the cumulative series Prometheus sees.
        let d: Vec<(f64, f64)> = index.series[1].points.iter().map(|p| (p.v, p.increase)).collect();
        assert_eq!(d, [(3.0, 3.0), (7.0, 4.0)]);
    }

    #[test]
    fn only_samples_within_the_horizon_are_kept() {
        let base = 1_735_689_600_000;
        let horizon = Horizon::Between { first: base + 10_000, last: base + 20_000 };
        let index = store_lines(LINES.as_bytes(), SeriesStore::new(false, horizon));
        let kept: Vec<Vec<i64>> = index.series.iter().map(|s| s.points.iter().map(|p| p.t - base).collect()).collect();
        assert_eq!(kept, [vec![10_000, 20_000], vec![20_000]]);
        // The delta total outside the horizon still counts: 3 + 4 would be 7 at 30 s.
        assert_eq!(index.series[1].points[0].v, 3.0);
    }
}
