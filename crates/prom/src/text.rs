//! Prometheus exposition (docs/PROMETHEUS.md): text format 0.0.4 and OpenMetrics 1.0, from
//! series in this project's model. One writer for `to-prometheus` and anything else
//! that exposes metrics.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::io::Write;
use std::sync::Arc;

use foldhash::fast::FixedState;
use rayon::prelude::*;

use anyhow::{bail, Context, Result};

use metricsctl_format::record::{format_float, Histogram, MetricType, Num, SampleValue};
use metricsctl_format::series::{SeriesKey, SeriesMeta};
use metricsctl_format::value::{self, AttrRef, CompactValue, LabelsView};

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`: other characters become `_`.
pub fn metric_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        let ok = c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit());
        out.push(if ok { c } else { '_' });
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`: `http.route` -> `http_route`.
pub fn label_name(key: &str) -> String {
    translated_name(key).into_owned()
}

/// [`label_name`], borrowed when the name needs no translation (most do not).
fn translated_name(key: &str) -> Cow<'_, str> {
    let ok = |(i, b): (usize, u8)| b.is_ascii_alphabetic() || b == b'_' || (i > 0 && b.is_ascii_digit());
    if !key.is_empty() && key.bytes().enumerate().all(ok) {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len());
    for (i, c) in key.chars().enumerate() {
        let ok = c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit());
        out.push(if ok { c } else { '_' });
    }
    if out.is_empty() {
        out.push('_');
    }
    Cow::Owned(out)
}

/// Label values escape `\`, `"` and newlines: a value can never start a new line.
pub fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text: `\` and newlines escaped (and `"` in OpenMetrics), a carriage return made a
/// space.
pub fn escape_help(v: &str, openmetrics: bool) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            // Neither format has an escape for it, and readers that split lines on it
            // would cut the HELP line in two (a name or description can hold one).
            '\r' => out.push(' '),
            '"' if openmetrics => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

fn attr_text(v: AttrRef<'_>) -> String {
    v.to_string()
}

fn attr_str(v: AttrRef<'_>) -> &str {
    match v {
        AttrRef::Str(s) | AttrRef::Num(s) => s,
        AttrRef::Bool(true) => "true",
        AttrRef::Bool(false) => "false",
    }
}

/// Resource attributes that become `job` and `instance` rather than `target_info` labels.
const IDENTIFYING: [&str; 2] = ["service.name", "service.instance.id"];

/// What a Prometheus label was made from, said when two clash.
enum LabelOrigin<'a> {
    Attribute(&'a str),
    ServiceName,
    InstanceId,
    ScopeName,
    ScopeVersion,
    Resource(&'a str),
}

impl fmt::Display for LabelOrigin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelOrigin::Attribute(k) => write!(f, "attribute {k:?}"),
            LabelOrigin::ServiceName => f.write_str("service_name"),
            LabelOrigin::InstanceId => f.write_str("resource service.instance.id"),
            LabelOrigin::ScopeName => f.write_str("scope name"),
            LabelOrigin::ScopeVersion => f.write_str("scope version"),
            LabelOrigin::Resource(k) => write!(f, "resource attribute {k:?}"),
        }
    }
}

/// The Prometheus labels of a series: translated attributes, `job`, `instance`, the
/// scope's `otel_scope_name` and `otel_scope_version`, and with `resource_labels` the
/// other resource attributes. A clash after translation is an
/// error, not a silent merge. Made once per series (a million, in a cardinality
/// explosion), so nothing is allocated but the translated names that differ.
pub fn series_labels(key: &SeriesKey, meta: &SeriesMeta, resource_labels: bool) -> Result<Labels> {
    let mut labels: Vec<(Cow<'_, str>, &str, LabelOrigin<'_>)> = Vec::with_capacity(key.attributes.len() + 2);
    for (k, v) in key.attributes.iter() {
        labels.push((translated_name(k), attr_str(v), LabelOrigin::Attribute(k)));
    }
    labels.push((Cow::Borrowed("job"), &key.service, LabelOrigin::ServiceName));
    if let Some(v) = meta.resource.get("service.instance.id") {
        labels.push((Cow::Borrowed("instance"), attr_str(v), LabelOrigin::InstanceId));
    }
    // The names of the OpenTelemetry–Prometheus compatibility specification.
    if let Some(scope) = &key.scope {
        labels.push((Cow::Borrowed("otel_scope_name"), &scope.name, LabelOrigin::ScopeName));
        if let Some(version) = &scope.version {
            labels.push((Cow::Borrowed("otel_scope_version"), version, LabelOrigin::ScopeVersion));
        }
    }
    if resource_labels {
        for (k, v) in meta.resource.iter() {
            if !IDENTIFYING.contains(&k) {
                labels.push((translated_name(k), attr_str(v), LabelOrigin::Resource(k)));
            }
        }
    }
    // Stable: labels of one name stay in the order they were made. The clash reported
    // is the first one met making them in that order: the earliest second of a name.
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| labels[a].0.cmp(&labels[b].0));
    let clash = order.windows(2).filter(|w| labels[w[0]].0 == labels[w[1]].0).min_by_key(|w| w[1]);
    if let Some(w) = clash {
        let (name, _, origin) = &labels[w[1]];
        let other = &labels[order[order.partition_point(|&i| labels[i].0 < *name)]].2;
        bail!(
            "series {}: label {name:?} from {origin} clashes with {other} after translation to Prometheus names",
            key.metric
        );
    }
    let pairs = order.iter().map(|&i| (&*labels[i].0, AttrRef::Str(labels[i].1)));
    value::Labels::from_pairs(pairs)
        .map(Labels::shared)
        .with_context(|| format!("series {}: labels over 256 MiB", key.metric))
}

/// `target_info` labels of a process: job, instance and its other resource attributes;
/// `None` when it has no other attributes.
pub fn target_info_labels(service: &str, resource: &value::Labels) -> Option<Vec<(String, String)>> {
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in resource.iter() {
        if !IDENTIFYING.contains(&k) {
            labels.entry(label_name(k)).or_insert_with(|| attr_text(v));
        }
    }
    if labels.is_empty() {
        return None;
    }
    labels.insert("job".into(), service.to_string());
    if let Some(v) = resource.get("service.instance.id") {
        labels.insert("instance".into(), attr_text(v));
    }
    Some(labels.into_iter().collect())
}

/// One sample of one series, with its time for `--history`.
#[derive(Debug, Clone)]
pub struct ExposedSample {
    /// Shared with the sink that keeps them between scrapes: a million series are not
    /// copied to be written.
    pub labels: Labels,
    /// Compact: a family of a million samples is held while it is sorted and written.
    pub value: CompactValue,
    pub timestamp: Option<i64>,
}

/// A metric family: every series of one metric, with its metadata.
#[derive(Debug, Clone)]
pub struct Family {
    /// Metric name as in the input.
    pub name: String,
    pub metric_type: MetricType,
    pub help: Option<String>,
    pub samples: Vec<ExposedSample>,
}

impl Family {
    /// The family name as exposed: counters without `_total` in OpenMetrics, with it in
    /// the text format.
    pub fn exposed_name(&self, openmetrics: bool) -> String {
        let base = metric_name(&self.name);
        match self.metric_type {
            MetricType::Counter => {
                let stem = base.strip_suffix("_total").unwrap_or(&base).to_string();
                if openmetrics {
                    stem
                } else {
                    format!("{stem}_total")
                }
            }
            _ => base,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ExpositionFormat {
    pub openmetrics: bool,
}

fn write_labels<'a>(
    out: &mut Vec<u8>,
    labels: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    extra: Option<(&'a str, &'a str)>,
) {
    if labels.len() == 0 && extra.is_none() {
        return;
    }
    out.push(b'{');
    let mut first = true;
    for (k, v) in labels.chain(extra) {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b"=\"");
        out.extend_from_slice(escape_label_value(v).as_bytes());
        out.push(b'"');
    }
    out.push(b'}');
}

fn timestamp_text(ts: i64, openmetrics: bool) -> String {
    if openmetrics {
        // Seconds, with the fraction that is there.
        let secs = ts.div_euclid(1_000_000_000);
        let nanos = ts.rem_euclid(1_000_000_000);
        if nanos == 0 {
            format!("{secs}")
        } else {
            format!("{secs}.{:09}", nanos).trim_end_matches('0').to_string()
        }
    } else {
        (ts.div_euclid(1_000_000)).to_string()
    }
}

fn write_sample<'a>(
    out: &mut Vec<u8>,
    name: &str,
    labels: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    extra: Option<(&'a str, &'a str)>,
    value: &str,
    ts: Option<&str>,
) {
    out.extend_from_slice(name.as_bytes());
    write_labels(out, labels, extra);
    out.push(b' ');
    out.extend_from_slice(value.as_bytes());
    if let Some(ts) = ts {
        out.push(b' ');
        out.extend_from_slice(ts.as_bytes());
    }
    out.push(b'\n');
}

fn num_text(n: Num) -> String {
    match n {
        Num::Int(v) => v.to_string(),
        Num::Float(v) => format_float(v),
    }
}

/// Writes one family: HELP and TYPE once, then its samples (sorted by labels, then time).
/// `out` is handed to `w` and emptied whenever it holds [`SPILL_BYTES`]: an exposition of
/// a million series is not held whole in memory.
pub fn write_family(
    out: &mut Vec<u8>,
    w: &mut dyn Write,
    family: &mut Family,
    format: ExpositionFormat,
) -> std::io::Result<()> {
    // On every core: after a cardinality explosion a family has a million samples, and
    // sorting and rendering them on one thread was most of `to-prometheus`.
    family.samples.par_sort_by(|a, b| a.labels.cmp(&b.labels).then(a.timestamp.cmp(&b.timestamp)));
    write_family_header(out, family, format);
    let family = &*family;
    let slices_at_once = 4 * rayon::current_num_threads();
    for group in family.samples.chunks(RENDER_SLICE * slices_at_once) {
        let rendered: Vec<Vec<u8>> = group
            .par_chunks(RENDER_SLICE)
            .map(|slice| {
                let mut text = Vec::with_capacity(slice.len() * 128);
                for s in slice {
                    write_family_sample(&mut text, family, s, format);
                }
                text
            })
            .collect();
        for text in rendered {
            out.extend_from_slice(&text);
            if out.len() >= SPILL_BYTES {
                w.write_all(out)?;
                out.clear();
            }
        }
    }
    Ok(())
}

/// Samples rendered by one task: enough to be worth a task, few enough that the slices
/// rendered at once stay a few megabytes (a histogram's sample is a dozen lines).
const RENDER_SLICE: usize = 1024;

/// How much of an exposition is buffered before it is written out.
pub const SPILL_BYTES: usize = 1 << 20;

/// `# HELP` and `# TYPE` of a family.
pub fn write_family_header(out: &mut Vec<u8>, family: &Family, format: ExpositionFormat) {
    let om = format.openmetrics;
    let name = family.exposed_name(om);
    // Linters want HELP on every family; without a description, the input's name says
    // what it is.
    let fallback = format!("{} (no description in the input)", family.name);
    let help = family.help.as_deref().filter(|h| !h.is_empty()).unwrap_or(&fallback);
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help, om));
    let _ = writeln!(out, "# TYPE {name} {}", family.metric_type.as_str());
}

/// The sample lines of one point of a family (a histogram point has several).
pub fn write_family_sample(out: &mut Vec<u8>, family: &Family, s: &ExposedSample, format: ExpositionFormat) {
    let ts = s.timestamp.map(|t| timestamp_text(t, format.openmetrics));
    let ts = ts.as_deref();
    for_each_point(family, &s.value.expand(), format, |name, le, value| {
        write_sample(out, name, s.labels.iter(), le.map(|le| ("le", le)), &num_text(value), ts);
    });
}

/// The Prometheus series one value of a family is exposed as, in order: one for a number
/// (`_total` for a counter), and for a histogram its cumulative `_bucket{le}`s, `_sum`
/// and `_count`. Calls `point(sample name, le, value)`. The writer and PromQL's store
/// both go through here, so that they agree on every name.
pub fn for_each_point(
    family: &Family,
    value: &SampleValue,
    format: ExpositionFormat,
    mut point: impl FnMut(&str, Option<&str>, Num),
) {
    let om = format.openmetrics;
    let name = family.exposed_name(om);
    let mut values = Vec::with_capacity(16);
    point_values(value, |v| values.push(v));
    match (value, family.metric_type) {
        (SampleValue::Num(_), MetricType::Counter) => {
            let sample_name = if om { format!("{name}_total") } else { name };
            point(&sample_name, None, values[0]);
        }
        (SampleValue::Num(_), _) => point(&name, None, values[0]),
        (SampleValue::Hist(h), _) => {
            let bucket = format!("{name}_bucket");
            for (i, v) in values[..h.counts.len()].iter().enumerate() {
                point(&bucket, Some(&bucket_label(h.bounds.get(i).copied())), *v);
            }
            point(&format!("{name}_sum"), None, values[h.counts.len()]);
            point(&format!("{name}_count"), None, values[h.counts.len() + 1]);
        }
    }
}

/// The values of [`for_each_point`]'s series, in its order, without their names: what a
/// store of many samples of one layout needs per sample.
pub fn point_values(value: &SampleValue, mut point: impl FnMut(Num)) {
    match value {
        SampleValue::Num(n) => point(*n),
        SampleValue::Hist(h) => histogram_point_values(h, point),
    }
}

/// [`point_values`] of a histogram: cumulative buckets, sum, count.
pub fn histogram_point_values(h: &Histogram, mut point: impl FnMut(Num)) {
    let mut cumulative = 0u64;
    for c in &h.counts {
        cumulative = cumulative.saturating_add(*c);
        point(Num::Int(i128::from(cumulative)));
    }
    point(Num::Float(h.sum));
    point(Num::Int(i128::from(h.count)));
}

/// The `le` label of a bucket with this upper bound (`None`: the +Inf bucket).
pub fn bucket_label(bound: Option<f64>) -> String {
    bound.map_or_else(|| "+Inf".to_string(), format_float)
}

/// Writes every family sorted by name, `target_info` for the processes, and the
/// OpenMetrics `# EOF`.
/// A `target_info` sample: labels, and a time with `--history`.
pub type TargetInfo = (Vec<(String, String)>, Option<i64>);

pub fn write_exposition(
    w: &mut dyn Write,
    families: &mut [Family],
    target_info: &[TargetInfo],
    format: ExpositionFormat,
) -> std::io::Result<()> {
    families.sort_by_key(|f| f.exposed_name(format.openmetrics));
    let mut out = Vec::with_capacity(SPILL_BYTES + (1 << 12));
    let mut target_written = target_info.is_empty();
    for family in families.iter_mut() {
        if !target_written && family.exposed_name(format.openmetrics).as_str() > TARGET_INFO {
            write_target_info(&mut out, target_info, format);
            target_written = true;
        }
        write_family(&mut out, w, family, format)?;
    }
    if !target_written {
        write_target_info(&mut out, target_info, format);
    }
    if format.openmetrics {
        out.extend_from_slice(b"# EOF\n");
    }
    w.write_all(&out)
}

fn write_target_info(out: &mut Vec<u8>, target_info: &[TargetInfo], format: ExpositionFormat) {
    write_target_info_header(out, format);
    let mut sorted = target_info.to_vec();
    sorted.sort();
    sorted.dedup();
    for sample in &sorted {
        write_target_info_sample(out, sample, format);
    }
}

/// The name `target_info` sorts under among the families.
pub const TARGET_INFO: &str = "target_info";

pub fn write_target_info_header(out: &mut Vec<u8>, format: ExpositionFormat) {
    if format.openmetrics {
        let _ = writeln!(out, "# TYPE target info");
    } else {
        let _ = writeln!(out, "# HELP target_info Target metadata");
        let _ = writeln!(out, "# TYPE target_info gauge");
    }
}

pub fn write_target_info_sample(out: &mut Vec<u8>, (labels, ts): &TargetInfo, format: ExpositionFormat) {
    let ts = ts.map(|t| timestamp_text(t, format.openmetrics));
    let labels = labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    write_sample(out, "target_info", labels, None, "1", ts.as_deref());
}

/// A series' Prometheus labels, sorted by name, packed as the format packs attributes
/// ([`value::Labels`], every value a string) in one shared block (`Arc<str>`, read with
/// [`LabelsView`]). A `Vec` of `String` pairs costs a million series of five labels
/// about 600 MB; this, about 100 MB.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Labels(Arc<str>);

impl Default for Labels {
    fn default() -> Labels {
        Labels::shared(value::Labels::default())
    }
}

impl Labels {
    /// `None` when the text is over 256 MiB, which no line the reader takes can hold.
    pub fn new(pairs: &[(String, String)]) -> Option<Labels> {
        let pairs = pairs.iter().map(|(k, v)| (k.as_str(), AttrRef::Str(v)));
        value::Labels::from_pairs(pairs).map(Labels::shared)
    }

    fn shared(packed: value::Labels) -> Labels {
        Labels(Arc::from(packed.into_packed()))
    }

    fn view(&self) -> LabelsView<'_> {
        LabelsView::new(&self.0)
    }

    /// Name and value of each label, sorted by name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + Clone + '_ {
        self.view().iter().map(|(k, v)| match v {
            AttrRef::Str(s) | AttrRef::Num(s) => (k, s),
            AttrRef::Bool(b) => (k, if b { "true" } else { "false" }),
        })
    }

    pub fn len(&self) -> usize {
        self.view().len()
    }

    pub fn is_empty(&self) -> bool {
        self.view().is_empty()
    }

    pub fn to_vec(&self) -> Vec<(String, String)> {
        self.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }
}

/// As the pairs compare: by name, then value, label by label.
impl Ord for Labels {
    fn cmp(&self, other: &Labels) -> std::cmp::Ordering {
        self.iter().cmp(other.iter())
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Labels) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Debug for Labels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The series that registered a metric's label set: its id, the metric (an index into
/// [`FamilyBuilder::metrics`]), the labels. 16 bytes: a million series each have one.
type Owner = (u32, u32, Labels);

/// Families being assembled from series, keyed by metric name (and then type: one name
/// of two types is two families, which [`FamilyBuilder::labels_for`] rejects when their
/// exposed names clash).
#[derive(Default, Clone)]
pub struct FamilyBuilder {
    families: HashMap<Arc<str>, Vec<Family>>,
    /// Hash of a metric and a Prometheus label set -> the series that produced them, to
    /// catch collisions (labels shared with the caller, not copied).
    /// A table of owners, not a map from hash to owner: the hash is made again from the
    /// owner when the table grows, so a slot holds 16 bytes, not 40.
    owners: hashbrown::HashTable<Owner>,
    /// The metrics owners name, by index, and their indices.
    metrics: Vec<Arc<str>>,
    metric_index: HashMap<Arc<str>, u32, FixedState>,
    /// Family and sample names (in either format) -> the metric exposed under them.
    claimed: HashMap<String, (Arc<str>, MetricType)>,
}

/// Every family and sample name a metric takes in the text format or OpenMetrics.
fn exposed_names(metric: &str, metric_type: MetricType) -> Vec<String> {
    let base = metric_name(metric);
    match metric_type {
        MetricType::Counter => {
            let stem = base.strip_suffix("_total").unwrap_or(&base).to_string();
            vec![format!("{stem}_total"), stem]
        }
        MetricType::Gauge => vec![base],
        MetricType::Histogram => {
            vec![format!("{base}_bucket"), format!("{base}_sum"), format!("{base}_count"), base]
        }
    }
}

impl FamilyBuilder {
    /// Registers a series; fails when its labels collide with another series' after
    /// translation (two series would become one).
    pub fn labels_for(&mut self, id: u32, key: &SeriesKey, meta: &SeriesMeta, resource_labels: bool) -> Result<Labels> {
        let labels = series_labels(key, meta, resource_labels)?;
        let family = (Arc::clone(&key.metric), key.metric_type);
        if self.family(&key.metric, key.metric_type).is_none() {
            let names = exposed_names(&key.metric, key.metric_type);
            for name in &names {
                if let Some((other, other_type)) = self.claimed.get(name).filter(|c| **c != family) {
                    bail!(
                        "metric {} ({}) and metric {other} ({}) would both be exposed as {name}: one family, two meanings",
                        key.metric,
                        key.metric_type.as_str(),
                        other_type.as_str()
                    );
                }
            }
            for name in names {
                self.claimed.insert(name, family.clone());
            }
        }
        let next_metric = self.metrics.len() as u32;
        let metric = *self.metric_index.entry(Arc::clone(&key.metric)).or_insert_with(|| {
            self.metrics.push(Arc::clone(&key.metric));
            next_metric
        });
        let metrics = &self.metrics;
        let hash_of =
            |metric: u32, labels: &Labels| FixedState::with_seed(5).hash_one((&metrics[metric as usize], labels));
        let owner = match self.owners.entry(
            hash_of(metric, &labels),
            |(_, m, known)| *m == metric && *known == labels,
            |(_, m, known)| hash_of(*m, known),
        ) {
            hashbrown::hash_table::Entry::Occupied(first) => first.get().0,
            hashbrown::hash_table::Entry::Vacant(slot) => {
                slot.insert((id, metric, labels.clone()));
                id
            }
        };
        if owner != id {
            bail!(
                "two series of {} have the same Prometheus labels {{{}}} (they differ in resource attributes that are not labels: try --resource-labels)",
                key.metric,
                labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v))).collect::<Vec<_>>().join(",")
            );
        }
        if self.family(&key.metric, key.metric_type).is_none() {
            self.families.entry(family.0).or_default().push(Family {
                name: key.metric.to_string(),
                metric_type: key.metric_type,
                help: meta.description.as_deref().map(str::to_string),
                samples: Vec::new(),
            });
        }
        Ok(labels)
    }

    pub fn push(&mut self, metric: &str, metric_type: MetricType, sample: ExposedSample) {
        let family = self.families.get_mut(metric).and_then(|f| f.iter_mut().find(|f| f.metric_type == metric_type));
        if let Some(f) = family {
            f.samples.push(sample);
        }
    }

    /// The family of a registered metric (its samples are whatever was pushed).
    pub fn family(&self, metric: &str, metric_type: MetricType) -> Option<&Family> {
        self.families.get(metric)?.iter().find(|f| f.metric_type == metric_type)
    }

    /// The families registered, with no samples: what a render fills, without a copy of
    /// the owners of every series.
    pub fn empty_families(&self) -> FamilyBuilder {
        let families = self
            .families
            .iter()
            .map(|(name, of_name)| {
                let empty = of_name
                    .iter()
                    .map(|f| Family {
                        name: f.name.clone(),
                        metric_type: f.metric_type,
                        help: f.help.clone(),
                        samples: Vec::new(),
                    })
                    .collect();
                (Arc::clone(name), empty)
            })
            .collect();
        FamilyBuilder { families, ..FamilyBuilder::default() }
    }

    pub fn into_families(self) -> Vec<Family> {
        self.families.into_values().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_labels_give_back_their_pairs_and_sort_as_the_pairs_do() {
        let sets: Vec<Vec<(String, String)>> = [
            &[][..],
            &[("a", "")][..],
            &[("a", "b"), ("c", "d")][..],
            &[("a", "bc"), ("d", "")][..],
            &[("ab", "c"), ("d", "")][..],
            &[("job", "x\n\"é"), ("le", "+Inf")][..],
        ]
        .iter()
        .map(|set| set.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
        .collect();
        for a in &sets {
            let packed = Labels::new(a).unwrap();
            assert_eq!(&packed.to_vec(), a);
            assert_eq!(packed.len(), a.len());
            for b in &sets {
                assert_eq!(packed.cmp(&Labels::new(b).unwrap()), a.cmp(b), "{a:?} {b:?}");
                assert_eq!(packed == Labels::new(b).unwrap(), a == b);
            }
        }
    }

    #[test]
    fn names_are_translated() {
        assert_eq!(metric_name("http_server_requests_total"), "http_server_requests_total");
        assert_eq!(metric_name("http.server-requests"), "http_server_requests");
        assert_eq!(metric_name("1abc"), "_abc");
        assert_eq!(label_name("http.route"), "http_route");
        assert_eq!(label_name("rpc:method"), "rpc_method");
        assert_eq!(label_name("route"), "route");
        assert_eq!(label_name("2xx"), "_xx");
        assert_eq!(label_name(""), "_");
        assert_eq!(label_name("é"), "_");
    }

    fn labels_of(line: &str, resource_labels: bool) -> Result<Vec<(String, String)>> {
        let record = metricsctl_format::record::parse_line(line).unwrap();
        let series = metricsctl_format::series::make_series(&record).unwrap();
        series_labels(&series.key, series.meta(), resource_labels).map(|l| l.to_vec())
    }

    #[test]
    fn series_labels_are_sorted_translated_and_clashes_named_in_the_order_met() {
        let line = |attributes: &str| {
            format!(
                r#"{{"timestamp":"2025-01-01T00:00:00Z","service_name":"svc","metric_name":"m","value":1,"attributes":{attributes},"resource":{{"service.instance.id":"i-1","host.name":"h","zone":"z"}},"scope":{{"name":"lib","version":"2"}}}}"#
            )
        };
        let pairs = |p: &[(&str, &str)]| p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert_eq!(
            labels_of(&line(r#"{"http.route":"/a","code":200,"ok":true}"#), true).unwrap(),
            pairs(&[
                ("code", "200"),
                ("host_name", "h"),
                ("http_route", "/a"),
                ("instance", "i-1"),
                ("job", "svc"),
                ("ok", "true"),
                ("otel_scope_name", "lib"),
                ("otel_scope_version", "2"),
                ("zone", "z"),
            ])
        );
        let error = |attributes: &str, resource_labels: bool| {
            labels_of(&line(attributes), resource_labels).unwrap_err().to_string()
        };
        assert_eq!(
            error(r#"{"a.b":"1","a_b":"2","a-b":"3"}"#, false),
            r#"series m: label "a_b" from attribute "a.b" clashes with attribute "a-b" after translation to Prometheus names"#
        );
        assert_eq!(
            error(r#"{"job":"x","z.z":"1","z_z":"2"}"#, false),
            r#"series m: label "z_z" from attribute "z_z" clashes with attribute "z.z" after translation to Prometheus names"#
        );
        assert_eq!(
            error(r#"{"zone":"other"}"#, true),
            r#"series m: label "zone" from resource attribute "zone" clashes with attribute "zone" after translation to Prometheus names"#
        );
        assert_eq!(
            error(r#"{"instance":"x"}"#, false),
            r#"series m: label "instance" from resource service.instance.id clashes with attribute "instance" after translation to Prometheus names"#
        );
    }

    #[test]
    fn values_and_help_are_escaped() {
        assert_eq!(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape_help("x\\y\n\"z\"", false), "x\\\\y\\n\"z\"");
        assert_eq!(escape_help("\"z\"", true), "\\\"z\\\"");
    }

    #[test]
    fn openmetrics_timestamps_are_seconds() {
        assert_eq!(timestamp_text(1_765_850_410_594_000_000, true), "1765850410.594");
        assert_eq!(timestamp_text(1_765_850_410_000_000_000, true), "1765850410");
        assert_eq!(timestamp_text(1_765_850_410_594_000_000, false), "1765850410594");
    }
}
