//! PromQL's values, and their JSON: exactly the `data` object of Prometheus' HTTP API
//! (`/api/v1/query`, `/api/v1/query_range`), so that tools that read Prometheus read
//! `query --format json`.

use serde_json::{json, Value as Json};

pub use crate::store::Labels;
use crate::store::METRIC_NAME;

/// One element of an instant vector. `t` is the sample's own time where PromQL keeps it
/// (a selector's result, for `timestamp()`), the evaluation time otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
}

/// One series of a range vector. `increases`: the engine's exact increase of each point,
/// when the points are a file's own samples (for `--exact`).
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
    pub increases: Option<Vec<f64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    String(String),
    Vector(Vec<Sample>),
    Matrix(Vec<RangeSeries>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar(_) => "scalar",
            Value::String(_) => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// The result of a query: the value, and the time it was evaluated at (instant queries).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub value: Value,
    pub time: i64,
}

impl QueryResult {
    /// Prometheus' `data` object.
    pub fn to_json(&self) -> Json {
        let t = self.time;
        let result = match &self.value {
            Value::Scalar(v) => json!([timestamp_json(t), value_text(*v)]),
            Value::String(s) => json!([timestamp_json(t), s]),
            Value::Vector(samples) => Json::Array(
                samples
                    .iter()
                    .map(|s| json!({"metric": labels_json(&s.labels), "value": [timestamp_json(t), value_text(s.v)]}))
                    .collect(),
            ),
            Value::Matrix(series) => Json::Array(
                series
                    .iter()
                    .map(|s| {
                        let values: Vec<Json> =
                            s.points.iter().map(|&(t, v)| json!([timestamp_json(t), value_text(v)])).collect();
                        json!({"metric": labels_json(&s.labels), "values": values})
                    })
                    .collect(),
            ),
        };
        json!({"resultType": self.value.type_name(), "result": result})
    }
}

pub fn labels_json(labels: &Labels) -> Json {
    let mut map = serde_json::Map::new();
    for (k, v) in labels {
        map.insert(k.clone(), Json::String(v.clone()));
    }
    Json::Object(map)
}

/// Seconds with the milliseconds Prometheus keeps, as its API writes them.
pub fn timestamp_json(millis: i64) -> Json {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let text = if ms == 0 { secs.to_string() } else { format!("{secs}.{ms:03}") };
    serde_json::from_str(&text).unwrap_or(Json::Null)
}

/// A sample value as Prometheus writes it: the shortest text that reads back the same,
/// never an exponent, and `+Inf`, `-Inf`, `NaN`.
pub fn value_text(v: f64) -> String {
    metricsctl_format::record::format_float(v)
}

/// The labels without `__name__`.
pub fn without_name(labels: &Labels) -> Labels {
    labels.iter().filter(|(k, _)| k != METRIC_NAME).cloned().collect()
}

pub fn label<'a>(labels: &'a Labels, name: &str) -> Option<&'a str> {
    labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Sets (or, with an empty value, removes) a label, keeping the order.
pub fn set_label(labels: &mut Labels, name: &str, value: &str) {
    match labels.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
        Ok(i) if value.is_empty() => {
            labels.remove(i);
        }
        Ok(i) => labels[i].1 = value.to_string(),
        Err(_) if value.is_empty() => {}
        Err(i) => labels.insert(i, (name.to_string(), value.to_string())),
    }
}

/// The labels a vector selector's metric is shown with in text: `name{k="v",...}`.
pub fn labels_text(labels: &Labels) -> String {
    let name = label(labels, METRIC_NAME).unwrap_or("");
    let rest: Vec<String> =
        labels.iter().filter(|(k, _)| k != METRIC_NAME).map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", rest.join(", "))
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, as Prometheus 2.x requires of a label name.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
