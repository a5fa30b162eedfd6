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
    /// Shared (not copied) by whoever keeps a series' latest value: the engine, and
    /// `to-prometheus` and `serve`'s exposition.
    Hist(Arc<Histogram>),
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

/// An attribute value borrowed from a [`Labels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttrRef<'a> {
    Str(&'a str),
    /// The number's JSON text, kept exact (`200`, `1.5`).
    Num(&'a str),
    Bool(bool),
}

impl AttrRef<'_> {
    pub fn to_owned(self) -> AttrValue {
        match self {
            AttrRef::Str(s) => AttrValue::Str(s.to_string()),
            AttrRef::Num(n) => AttrValue::Num(n.to_string()),
            AttrRef::Bool(b) => AttrValue::Bool(b),
        }
    }

    pub fn to_json(self) -> serde_json::Value {
        match self {
            AttrRef::Str(s) => s.into(),
            AttrRef::Num(n) => serde_json::from_str(n).unwrap_or_else(|_| n.into()),
            AttrRef::Bool(b) => b.into(),
        }
    }
}

impl AttrValue {
    pub fn as_ref(&self) -> AttrRef<'_> {
        match self {
            AttrValue::Str(s) => AttrRef::Str(s),
            AttrValue::Num(n) => AttrRef::Num(n),
            AttrValue::Bool(b) => AttrRef::Bool(*b),
        }
    }
}

impl fmt::Display for AttrRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrRef::Str(s) | AttrRef::Num(s) => f.write_str(s),
            AttrRef::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A label set kept for as long as its series is known, in two allocations however many
/// labels it has: the keys' and values' text end to end, and where each ends. A
/// [`LabelSet`] of four labels costs nine allocations and about 500 bytes; with a
/// million series that is most of a command's memory.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Labels {
    text: Box<str>,
    ends: Box<[LabelEnds]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct LabelEnds {
    key: u32,
    value: u32,
    kind: AttrKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AttrKind {
    Str,
    Num,
    True,
    False,
}

impl Labels {
    /// `None` when the text is over 4 GiB, which no line of the format can hold.
    pub fn new(set: &[(String, AttrValue)]) -> Option<Labels> {
        Labels::from_pairs(set.iter().map(|(k, v)| (k.as_str(), v.as_ref())))
    }

    /// From key-value pairs already in key order.
    pub fn from_pairs<'a>(pairs: impl Iterator<Item = (&'a str, AttrRef<'a>)> + Clone) -> Option<Labels> {
        let mut text = String::with_capacity(pairs.clone().map(|(k, v)| k.len() + value_text(v).len()).sum());
        let mut ends = Vec::with_capacity(pairs.size_hint().0);
        for (key, value) in pairs {
            text.push_str(key);
            let key_end = u32::try_from(text.len()).ok()?;
            text.push_str(value_text(value));
            let kind = match value {
                AttrRef::Str(_) => AttrKind::Str,
                AttrRef::Num(_) => AttrKind::Num,
                AttrRef::Bool(true) => AttrKind::True,
                AttrRef::Bool(false) => AttrKind::False,
            };
            ends.push(LabelEnds { key: key_end, value: u32::try_from(text.len()).ok()?, kind });
        }
        Some(Labels { text: text.into_boxed_str(), ends: ends.into_boxed_slice() })
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Key and value of each label, in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, AttrRef<'_>)> + Clone + '_ {
        self.ends.iter().enumerate().map(|(i, e)| {
            let start = if i == 0 { 0 } else { self.ends[i - 1].value as usize };
            let key = &self.text[start..e.key as usize];
            let value = &self.text[e.key as usize..e.value as usize];
            let value = match e.kind {
                AttrKind::Str => AttrRef::Str(value),
                AttrKind::Num => AttrRef::Num(value),
                AttrKind::True => AttrRef::Bool(true),
                AttrKind::False => AttrRef::Bool(false),
            };
            (key, value)
        })
    }

    pub fn get(&self, name: &str) -> Option<AttrRef<'_>> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    pub fn to_label_set(&self) -> LabelSet {
        self.iter().map(|(k, v)| (k.to_string(), v.to_owned())).collect()
    }
}

fn value_text(value: AttrRef<'_>) -> &str {
    match value {
        AttrRef::Str(s) | AttrRef::Num(s) => s,
        AttrRef::Bool(_) => "",
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_give_back_the_set_they_were_made_from() {
        let set: LabelSet = vec![
            ("".into(), AttrValue::Str("".into())),
            ("a".into(), AttrValue::Str("x=\"y\",é".into())),
            ("code".into(), AttrValue::Num("-1.5e3".into())),
            ("no".into(), AttrValue::Bool(false)),
            ("yes".into(), AttrValue::Bool(true)),
        ];
        let labels = Labels::new(&set).unwrap();
        assert_eq!(labels.len(), 5);
        assert_eq!(labels.to_label_set(), set);
        assert_eq!(labels.get("code"), Some(AttrRef::Num("-1.5e3")));
        assert_eq!(labels.get("no"), Some(AttrRef::Bool(false)));
        assert_eq!(labels.get(""), Some(AttrRef::Str("")));
        assert_eq!(labels.get("missing"), None);
        assert!(Labels::new(&[]).unwrap().is_empty());
        assert_ne!(labels, Labels::new(&set[1..]).unwrap());
    }
}
