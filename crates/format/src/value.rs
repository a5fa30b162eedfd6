//! The record model: metric types, exact numbers, histograms with per-bucket counts,
//! attribute values and label sets, as docs/FORMAT.md defines them. Their arithmetic
//! lives beside them ([`crate::histogram`] for histograms).

use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
}

impl MetricType {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
        }
    }
}

/// A counter or gauge value. Integers stay exact (u64 and i64 both fit in i128).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    pub const ZERO: Num = Num::Int(0);

    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(v) => v as f64,
            Num::Float(v) => v,
        }
    }

    pub fn plus(self, other: Num) -> Num {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a.checked_add(b).map_or(Num::Float(a as f64 + b as f64), Num::Int),
            (a, b) => Num::Float(a.as_f64() + b.as_f64()),
        }
    }

    pub fn minus(self, other: Num) -> Num {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a.checked_sub(b).map_or(Num::Float(a as f64 - b as f64), Num::Int),
            (a, b) => Num::Float(a.as_f64() - b.as_f64()),
        }
    }

    pub fn less_than(self, other: Num) -> bool {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a < b,
            (a, b) => a.as_f64() < b.as_f64(),
        }
    }

    pub fn to_json(self) -> serde_json::Value {
        match self {
            Num::Int(v) => {
                if let Ok(v) = i64::try_from(v) {
                    v.into()
                } else if let Ok(v) = u64::try_from(v) {
                    v.into()
                } else {
                    serde_json::Value::from(v as f64)
                }
            }
            Num::Float(v) => serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into),
        }
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(v) => write!(f, "{v}"),
            Num::Float(v) => write!(f, "{}", format_float(*v)),
        }
    }
}

/// Shortest round-trip representation, without a trailing `.0` surprise for integers
/// written as floats, and Prometheus spellings for the non-finite values.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        let s = format!("{v}");
        s
    }
}

/// A histogram data point with per-bucket counts; `counts` has one more entry than
/// `bounds`: the overflow (+Inf) bucket. Bounds are shared between the samples of a
/// layout (they rarely change).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub count: u64,
    pub sum: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub bounds: Arc<[f64]>,
    pub counts: Vec<u64>,
}

impl Histogram {
    pub fn same_layout(&self, other: &Histogram) -> bool {
        Arc::ptr_eq(&self.bounds, &other.bounds) || self.bounds == other.bounds
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    Num(Num),
    Hist(Box<Histogram>),
}

/// An attribute value: the JSON types OpenTelemetry attributes map to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttrValue {
    Str(String),
    /// The number's JSON text, kept exact (`200`, `1.5`).
    Num(String),
    Bool(bool),
}

impl AttrValue {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            AttrValue::Str(s) => s.clone().into(),
            AttrValue::Num(n) => serde_json::from_str(n).unwrap_or_else(|_| n.clone().into()),
            AttrValue::Bool(b) => (*b).into(),
        }
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Str(s) => f.write_str(s),
            AttrValue::Num(n) => f.write_str(n),
            AttrValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Attributes sorted by key, so that key order in the line does not matter.
pub type LabelSet = Vec<(String, AttrValue)>;
