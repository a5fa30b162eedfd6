//! Series filed into groups by the values of the labels a query groups by (`sum by
//! route`), once per series, with the checks that catch a misspelt label.

use std::hash::{BuildHasher, Hash, Hasher};

use anyhow::{bail, Result};
use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::engine::{SeriesId, SeriesInfo};
use crate::filter::{lookup_label_ref, LabelRef, LabelValue};
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
    /// Groups by [`group_hash`], each an index into `keys`.
    index: HashTable<usize>,
    pub keys: Vec<GroupKey>,
    /// Each series' group (u32: a million series cost 4 MB, not 8).
    series_group: Vec<u32>,
    pub error: Option<anyhow::Error>,
}

const NO_GROUP: u32 = u32::MAX;

impl GroupKey {
    fn index_hash(&self) -> u64 {
        group_hash(&self.metric, self.metric_type, self.labels.iter().map(LabelValue::as_ref))
    }
}

/// The hash a group is found by, from borrowed values: one series' lookup allocates
/// nothing unless it starts a group.
fn group_hash<'a>(metric: &str, metric_type: MetricType, labels: impl Iterator<Item = LabelRef<'a>>) -> u64 {
    let mut h = FixedState::with_seed(0x6772_6f75_7073).build_hasher();
    metric.hash(&mut h);
    metric_type.hash(&mut h);
    for label in labels {
        label.hash(&mut h);
    }
    h.finish()
}

impl Grouper {
    pub fn new(labels: Vec<String>) -> Grouper {
        Grouper {
            label_seen: vec![false; labels.len()],
            labels,
            index: HashTable::new(),
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
            match lookup_label_ref(&info.key, info.meta(), name) {
                Ok(v) => {
                    if v != LabelRef::Missing {
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
        let (metric, metric_type) = (&*info.key.metric, info.key.metric_type);
        let hash = group_hash(metric, metric_type, values.iter().copied());
        let keys = &self.keys;
        let is_this = |&group: &usize| {
            let key = &keys[group];
            key.metric == metric
                && key.metric_type == metric_type
                && key.labels.iter().map(LabelValue::as_ref).eq(values.iter().copied())
        };
        let group = match self.index.find(hash, is_this) {
            Some(&group) => group,
            None => {
                let group = self.keys.len();
                self.keys.push(GroupKey {
                    metric: metric.to_string(),
                    metric_type,
                    labels: values.into_iter().map(LabelRef::to_owned).collect(),
                });
                let keys = &self.keys;
                self.index.insert_unique(hash, group, |&g| keys[g].index_hash());
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
