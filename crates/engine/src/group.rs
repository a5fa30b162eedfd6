//! Series filed into groups by the values of the labels a query groups by (`sum by
//! route`), once per series, with the checks that catch a misspelt label.

use std::collections::HashMap;

use anyhow::{bail, Result};

use crate::engine::{SeriesId, SeriesInfo};
use crate::filter::{lookup_label, LabelValue};
use metricsctl_format::record::MetricType;

/// A group: the metric (always part of the key, shown when several metrics are
/// selected) and the values of the `by` labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    pub metric: String,
    pub metric_type: MetricType,
    pub labels: Vec<LabelValue>,
}

/// Assigns series to groups by label values, once per series.
pub struct Grouper {
    pub labels: Vec<String>,
    label_seen: Vec<bool>,
    index: HashMap<GroupKey, usize>,
    pub keys: Vec<GroupKey>,
    /// Each series' group (u32: a million series cost 4 MB, not 8).
    series_group: Vec<u32>,
    pub error: Option<anyhow::Error>,
}

const NO_GROUP: u32 = u32::MAX;

impl Grouper {
    pub fn new(labels: Vec<String>) -> Grouper {
        Grouper {
            label_seen: vec![false; labels.len()],
            labels,
            index: HashMap::new(),
            keys: Vec::new(),
            series_group: Vec::new(),
            error: None,
        }
    }

    /// Files the series into its group; returns the group, or `None` on a lookup error
    /// (kept for `finish`).
    pub fn assign(&mut self, id: SeriesId, info: &SeriesInfo) -> Option<usize> {
        let mut values = Vec::with_capacity(self.labels.len());
        for (i, name) in self.labels.iter().enumerate() {
            match lookup_label(&info.key, info.meta(), name) {
                Ok(v) => {
                    if v != LabelValue::Missing {
                        self.label_seen[i] = true;
                    }
                    values.push(v);
                }
                Err(e) => {
                    self.error.get_or_insert(e);
                    return None;
                }
            }
        }
        let key = GroupKey { metric: info.key.metric.to_string(), metric_type: info.key.metric_type, labels: values };
        let group = match self.index.get(&key) {
            Some(&group) => group,
            None => {
                let group = self.keys.len();
                self.index.insert(key.clone(), group);
                self.keys.push(key);
                group
            }
        };
        let id = id as usize;
        if self.series_group.len() <= id {
            self.series_group.resize(id + 1, NO_GROUP);
        }
        // Groups are fewer than series, whose ids are u32.
        self.series_group[id] = group as u32;
        Some(group)
    }

    pub fn group_of(&self, id: SeriesId) -> Option<usize> {
        self.series_group.get(id as usize).copied().filter(|&g| g != NO_GROUP).map(|g| g as usize)
    }

    /// Reports a lookup error, or a `by` label no selected series has (a typo).
    pub fn finish(&mut self) -> Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if !self.keys.is_empty() {
            for (label, seen) in self.labels.iter().zip(&self.label_seen) {
                if !seen {
                    bail!("no selected series has a label {label:?} (labels can be given by full attribute name, e.g. http.route, or by its last segment, e.g. route)");
                }
            }
        }
        Ok(())
    }

    /// Whether rows need a `metric` column: several metrics and not already grouped by it.
    pub fn show_metric(&self) -> bool {
        let first = self.keys.first().map(|k| &k.metric);
        !self.labels.iter().any(|l| l == "metric") && self.keys.iter().any(|k| Some(&k.metric) != first)
    }

    /// The group columns: `metric` when several metrics are shown, then the `by` labels
    /// as named, but a label named like one of the command's own columns (`reserved`)
    /// gets the suffix `_label`, so that no key is lost or doubled.
    pub fn headers(&self, reserved: &[&str]) -> Vec<String> {
        let mut h = Vec::new();
        if self.show_metric() {
            h.push("metric".to_string());
        }
        h.extend(self.labels.iter().map(|l| {
            let clashes = reserved.contains(&l.as_str());
            if clashes {
                format!("{l}_label")
            } else {
                l.clone()
            }
        }));
        h
    }
}
