//! Series identity (docs/SEMANTICS.md): service, metric, attributes, resource and
//! instrumentation scope, with attribute order not mattering.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use foldhash::fast::FixedState;

use crate::record::{parse_label_set, MetricType, Record, Scope};
use crate::text::canonical_text;
use crate::value::Labels;

/// What identifies a series (docs/SEMANTICS.md), in canonical form: attributes sorted
/// by key, the rest as its [`MetricKey`] (through `Deref`: `key.metric`, `key.service`).
/// Equal and hashed by that identity alone: the metadata beside it ([`MetricInfo::meta`]) is
/// not part of it.
#[derive(Clone)]
pub struct SeriesKey {
    /// Shared by the series of one metric of one process that a parser made
    /// ([`SeriesMaker`]): a million series of a metric cost one, not a million, and one
    /// pointer each where the identity and the metadata were two.
    pub metric_info: Arc<MetricInfo>,
    /// Sorted by key: equal for equal sets whatever their order in the line. Kept once:
    /// they are the series' labels too.
    pub attributes: Labels,
}

impl PartialEq for SeriesKey {
    fn eq(&self, other: &SeriesKey) -> bool {
        (Arc::ptr_eq(&self.metric_info, &other.metric_info) || self.metric_info.key == other.metric_info.key)
            && self.attributes == other.attributes
    }
}

impl Eq for SeriesKey {}

/// The identity only, as equality sees it.
impl std::fmt::Debug for SeriesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeriesKey")
            .field("metric_key", &self.metric_info.key)
            .field("attributes", &self.attributes)
            .finish()
    }
}

impl Hash for SeriesKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.metric_info.key.hash(state);
        self.attributes.hash(state);
    }
}

/// A metric of one process as its lines describe it: the identity its series share, and
/// the metadata of the line that named it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MetricInfo {
    pub key: MetricKey,
    pub meta: SeriesMeta,
}

/// A series' identity but for its attributes: what the series of one metric of one
/// process have in common.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetricKey {
    pub service: Arc<str>,
    pub metric: Arc<str>,
    pub metric_type: MetricType,
    /// The resource's canonical text.
    pub resource: Arc<str>,
    pub scope: Option<Arc<Scope>>,
}

impl std::ops::Deref for SeriesKey {
    type Target = MetricKey;

    fn deref(&self) -> &MetricKey {
        &self.metric_info.key
    }
}

impl SeriesKey {
    pub fn fingerprint(&self) -> u64 {
        FingerprintPrefix::new(&self.metric_info.key).fingerprint(&self.attributes)
    }
}

/// A fingerprint hashed as far as the metric identity: what the fingerprints of one
/// metric's series share, so that a series made from its attributes alone
/// ([`crate::shape`]) hashes only them.
#[derive(Clone)]
pub struct FingerprintPrefix(foldhash::fast::FoldHasher);

impl FingerprintPrefix {
    pub fn new(metric_key: &MetricKey) -> FingerprintPrefix {
        let mut hasher = FixedState::with_seed(0x6d65_7472_6963_7363).build_hasher();
        // As `SeriesKey`'s `Hash` does: the metric's identity, then the attributes.
        metric_key.hash(&mut hasher);
        FingerprintPrefix(hasher)
    }

    pub fn fingerprint(&self, attributes: &Labels) -> u64 {
        let mut hasher = self.0.clone();
        attributes.hash(&mut hasher);
        hasher.finish()
    }
}

/// What a series carries besides its identity, taken from the first line that named it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeriesMeta {
    pub resource: Arc<Labels>,
    pub unit: Option<Arc<str>>,
    pub description: Option<Arc<str>>,
}

#[derive(Debug, Clone)]
pub struct ChunkSeries {
    pub fingerprint: u64,
    pub key: SeriesKey,
}

impl ChunkSeries {
    pub fn meta(&self) -> &SeriesMeta {
        &self.key.metric_info.meta
    }
}

/// Builds the canonical identity of the series a record belongs to.
pub fn make_series(record: &Record<'_>) -> Result<ChunkSeries, String> {
    SeriesMaker::default().make(record)
}

/// Makes series as [`make_series`] does, sharing what the series of one parser have in
/// common: a process's resource (its canonical text and its parsed labels, made once per
/// distinct raw text rather than once per series), the texts, the [`MetricKey`]s and the
/// [`SeriesMeta`]s. A million series of one metric then cost one of each in the parser,
/// not a million.
#[derive(Default)]
pub struct SeriesMaker {
    resources: HashMap<String, (Arc<str>, Arc<Labels>), FixedState>,
    texts: HashSet<Arc<str>, FixedState>,
    scopes: HashSet<Arc<Scope>, FixedState>,
    metric_infos: HashSet<Arc<MetricInfo>, FixedState>,
    /// The metrics of the last lines, by their text: lines of a few metrics take turns,
    /// and a line whose metric is among them skips six lookups.
    recent: Vec<RecentMetric>,
    recent_next: usize,
}

/// The text a metric's identity and metadata were made from, and what was made.
struct RecentMetric {
    service_name: Option<String>,
    metric_name: String,
    metric_type: MetricType,
    raw_resource: String,
    scope: Option<Scope>,
    unit: Option<String>,
    description: Option<String>,
    metric_info: Arc<MetricInfo>,
}

const RECENT_METRICS: usize = 4;

impl RecentMetric {
    fn made_from(&self, record: &Record<'_>) -> bool {
        self.metric_name == record.metric_name
            && self.metric_type == record.metric_type
            && self.service_name.as_deref() == record.service_name.as_deref()
            && self.raw_resource == record.resource.map_or("", |r| r.get())
            && self.unit.as_deref() == record.unit.as_deref()
            && self.description.as_deref() == record.description.as_deref()
            && self.scope == record.scope
    }
}

/// Above this many distinct resources or texts (hostile input) the maker starts over.
const SHARED_LIMIT: usize = 1 << 12;

impl SeriesMaker {
    pub fn make(&mut self, record: &Record<'_>) -> Result<ChunkSeries, String> {
        // Kept for as long as the series is known: no room to grow.
        let attributes = compact(&parse_label_set(record.attributes, "attributes")?, "attributes")?;
        if let Some(recent) = self.recent.iter().find(|r| r.made_from(record)) {
            let key = SeriesKey { metric_info: Arc::clone(&recent.metric_info), attributes };
            return Ok(ChunkSeries { fingerprint: key.fingerprint(), key });
        }
        let raw_resource = record.resource.map_or("", |r| r.get());
        let (resource_text, resource) = match self.resources.get(raw_resource) {
            Some((text, labels)) => (Arc::clone(text), Arc::clone(labels)),
            None => {
                let resource = parse_label_set(record.resource, "resource")?;
                let made: (Arc<str>, Arc<Labels>) =
                    (canonical_text(&resource).into(), Arc::new(compact(&resource, "resource")?));
                if self.resources.len() >= SHARED_LIMIT {
                    self.resources.clear();
                }
                self.resources.insert(raw_resource.to_string(), made.clone());
                made
            }
        };
        let service = match &record.service_name {
            Some(s) => self.shared_text(s),
            None => match resource.get("service.name") {
                Some(v) => self.shared_text(&v.to_string()),
                None => self.shared_text("unknown_service"),
            },
        };
        let metric_key = MetricKey {
            service,
            metric: self.shared_text(&record.metric_name),
            metric_type: record.metric_type,
            resource: resource_text,
            scope: record.scope.as_ref().map(|s| self.shared_scope(s)),
        };
        let unit = record.unit.as_deref().map(|t| self.shared_text(t));
        let description = record.description.as_deref().map(|t| self.shared_text(t));
        let meta = SeriesMeta { resource, unit, description };
        let key =
            SeriesKey { metric_info: shared(&mut self.metric_infos, MetricInfo { key: metric_key, meta }), attributes };
        let recent = RecentMetric {
            service_name: record.service_name.as_deref().map(str::to_string),
            metric_name: record.metric_name.to_string(),
            metric_type: record.metric_type,
            raw_resource: raw_resource.to_string(),
            scope: record.scope.clone(),
            unit: record.unit.as_deref().map(str::to_string),
            description: record.description.as_deref().map(str::to_string),
            metric_info: Arc::clone(&key.metric_info),
        };
        if self.recent.len() < RECENT_METRICS {
            self.recent.push(recent);
        } else {
            self.recent[self.recent_next] = recent;
            self.recent_next = (self.recent_next + 1) % RECENT_METRICS;
        }
        Ok(ChunkSeries { fingerprint: key.fingerprint(), key })
    }
}

/// The value in `set` equal to `value`, or `value`, then kept there.
fn shared<T: Eq + std::hash::Hash>(set: &mut HashSet<Arc<T>, FixedState>, value: T) -> Arc<T> {
    if let Some(known) = set.get(&value) {
        return Arc::clone(known);
    }
    if set.len() >= SHARED_LIMIT {
        set.clear();
    }
    let value = Arc::new(value);
    set.insert(Arc::clone(&value));
    value
}

fn compact(set: &[(String, crate::value::AttrValue)], what: &str) -> Result<Labels, String> {
    Labels::new(set).ok_or_else(|| format!("{what}: over 256 MiB of text"))
}

impl SeriesMaker {
    fn shared_scope(&mut self, scope: &Scope) -> Arc<Scope> {
        match self.scopes.get(scope) {
            Some(known) => Arc::clone(known),
            None => shared(&mut self.scopes, scope.clone()),
        }
    }

    fn shared_text(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.texts.get(text) {
            return Arc::clone(shared);
        }
        if self.texts.len() >= SHARED_LIMIT {
            self.texts.clear();
        }
        let shared: Arc<str> = text.into();
        self.texts.insert(Arc::clone(&shared));
        shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_line;

    #[test]
    fn a_maker_that_shares_makes_what_a_fresh_one_makes() {
        // More metrics than the maker remembers, taking turns, and lines that differ from
        // a remembered one in one field each.
        let variants = [
            r#""service_name":"a","metric_name":"m0_total","unit":"1""#,
            r#""service_name":"a","metric_name":"m0_total","unit":"2""#,
            r#""service_name":"a","metric_name":"m0_total","unit":"1","description":"d""#,
            r#""service_name":"b","metric_name":"m0_total","unit":"1""#,
            r#""metric_name":"m0_total","unit":"1""#,
            r#""service_name":"a","metric_name":"m0_total","metric_type":"gauge","unit":"1""#,
            r#""service_name":"a","metric_name":"m0_total","unit":"1","scope":{"name":"lib"}"#,
            r#""service_name":"a","metric_name":"m1_total","unit":"1""#,
            r#""service_name":"a","metric_name":"m2_total""#,
        ];
        let resources = [r#"{"service.name":"r","host":"h1"}"#, r#"{"service.name":"r","host":"h2"}"#, "{}"];
        let mut maker = SeriesMaker::default();
        for round in 0..3 {
            for (i, fields) in variants.iter().enumerate() {
                for resource in resources {
                    let line = format!(
                        r#"{{"timestamp":"2025-01-01T00:00:00Z",{fields},"value":{round},"attributes":{{"user":"u{i}"}},"resource":{resource}}}"#
                    );
                    let record = parse_line(&line).unwrap();
                    let shared = maker.make(&record).unwrap();
                    let fresh = make_series(&record).unwrap();
                    assert_eq!(shared.key, fresh.key, "{line}");
                    assert_eq!(shared.fingerprint, fresh.fingerprint, "{line}");
                    assert_eq!(shared.meta(), fresh.meta(), "{line}");
                }
            }
        }
    }
}
