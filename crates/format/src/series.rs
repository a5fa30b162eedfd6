//! Series identity (docs/SEMANTICS.md): service, metric, attributes, resource and
//! instrumentation scope, with attribute order not mattering.

use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::fast::FixedState;

use crate::record::{parse_label_set, LabelSet, MetricType, Record, Scope};
use crate::text::canonical_text;

/// What identifies a series (docs/SEMANTICS.md), in canonical text form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeriesKey {
    pub service: String,
    pub metric: String,
    pub metric_type: MetricType,
    pub attributes: String,
    /// Shared by every series of a process (the catalog keeps one copy).
    pub resource: Arc<str>,
    pub scope: Option<Scope>,
}

impl SeriesKey {
    pub fn fingerprint(&self) -> u64 {
        FixedState::with_seed(0x6d65_7472_6963_7363).hash_one(self)
    }
}

/// What a series carries besides its identity, taken from the first line that named it.
#[derive(Debug, Clone)]
pub struct SeriesMeta {
    pub labels: LabelSet,
    /// Shared by every series of a process (the catalog keeps one copy).
    pub resource: Arc<LabelSet>,
    pub unit: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug)]
pub struct ChunkSeries {
    pub fingerprint: u64,
    pub key: SeriesKey,
    pub meta: SeriesMeta,
}

/// Builds the canonical identity of the series a record belongs to.
pub fn make_series(record: &Record<'_>) -> Result<ChunkSeries, String> {
    let labels = parse_label_set(record.attributes, "attributes")?;
    let resource = parse_label_set(record.resource, "resource")?;
    let service = match &record.service_name {
        Some(s) => s.to_string(),
        None => resource
            .iter()
            .find(|(k, _)| k == "service.name")
            .map_or_else(|| "unknown_service".to_string(), |(_, v)| v.to_string()),
    };
    let key = SeriesKey {
        service,
        metric: record.metric_name.to_string(),
        metric_type: record.metric_type,
        attributes: canonical_text(&labels),
        resource: canonical_text(&resource).into(),
        scope: record.scope.clone(),
    };
    Ok(ChunkSeries {
        fingerprint: key.fingerprint(),
        key,
        meta: SeriesMeta {
            labels,
            resource: Arc::new(resource),
            unit: record.unit.as_ref().map(|s| s.to_string()),
            description: record.description.as_ref().map(|s| s.to_string()),
        },
    })
}
