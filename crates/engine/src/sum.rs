//! Totals by group over the window: the exact increase of counters and histograms,
//! the sum of the latest values of gauges. The answer of `sum`, and what `explain`
//! and `load-test` check against.

use std::collections::HashMap;

use crate::engine::{Increase, SeriesId, SeriesInfo, Sink, Step};
use crate::group::Grouper;
use metricsctl_format::histogram::HistogramSum;
use metricsctl_format::record::{MetricType, Num, SampleValue};

/// The metric `sum` and `explain` read when none is named: requests.
pub const DEFAULT_METRIC: &str = "http_server_requests_total";

/// The total of one group.
#[derive(Debug, Clone, PartialEq)]
pub enum Total {
    Counter(Num),
    Histogram {
        count: u64,
        sum: f64,
    },
    /// Sum of the latest values of the group's series.
    Gauge(Num),
}

#[derive(Default)]
struct Acc {
    counter: Option<Num>,
    histogram: HistogramSum,
    gauge_series: Vec<SeriesId>,
}

pub struct SumSink {
    pub grouper: Grouper,
    accs: Vec<Acc>,
    /// Latest in-window value and time of each gauge series.
    gauge_latest: HashMap<SeriesId, (i64, Num)>,
}

impl SumSink {
    pub fn new(by: Vec<String>) -> SumSink {
        SumSink { grouper: Grouper::new(by), accs: Vec::new(), gauge_latest: Default::default() }
    }

    /// Totals per group, in group order.
    pub fn totals(&self) -> Vec<Total> {
        self.grouper
            .keys
            .iter()
            .zip(&self.accs)
            .map(|(key, acc)| match key.metric_type {
                MetricType::Counter => Total::Counter(acc.counter.unwrap_or(Num::ZERO)),
                MetricType::Histogram => Total::Histogram { count: acc.histogram.count, sum: acc.histogram.sum },
                MetricType::Gauge => Total::Gauge(
                    acc.gauge_series
                        .iter()
                        .filter_map(|s| self.gauge_latest.get(s).map(|(_, v)| *v))
                        .fold(Num::ZERO, Num::plus),
                ),
            })
            .collect()
    }
}

impl Sink for SumSink {
    fn want_series(&mut self, id: SeriesId, info: &SeriesInfo) -> bool {
        let Some(group) = self.grouper.assign(id, info) else { return false };
        if self.accs.len() <= group {
            self.accs.resize_with(group + 1, Acc::default);
        }
        if info.key.metric_type == MetricType::Gauge {
            self.accs[group].gauge_series.push(id);
        }
        true
    }

    fn step(&mut self, id: SeriesId, _info: &SeriesInfo, step: &Step<'_>) {
        let Some(group) = self.grouper.group_of(id) else { return };
        let acc = &mut self.accs[group];
        match &step.increase {
            Increase::Num(n) => acc.counter = Some(acc.counter.unwrap_or(Num::ZERO).plus(*n)),
            Increase::Hist(h) => acc.histogram.add(h),
            Increase::None => {
                if let SampleValue::Num(v) = step.value {
                    let slot = self.gauge_latest.entry(id).or_insert((step.timestamp, *v));
                    if step.timestamp >= slot.0 {
                        *slot = (step.timestamp, *v);
                    }
                }
            }
        }
    }
}
