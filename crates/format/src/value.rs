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

/// A histogram's finite bucket bounds, shared by the samples of one layout (they rarely
/// change). A thin pointer (`Arc<[f64]>` is two words): every packed histogram keeps
/// one, and 8 bytes less puts a million of them in a smaller malloc block.
pub type Bounds = Arc<Vec<f64>>;

/// A histogram data point with per-bucket counts; `counts` has one more entry than
/// `bounds`: the overflow (+Inf) bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub count: u64,
    pub sum: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub bounds: Bounds,
    pub counts: Vec<u64>,
}

impl Histogram {
    pub fn same_layout(&self, other: &Histogram) -> bool {
        same_bounds(&self.bounds, &other.bounds)
    }
}

/// Whether two histograms' bucket bounds are one layout (shared, mostly).
pub fn same_bounds(a: &Bounds, b: &Bounds) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    Num(Num),
    /// Shared by the sinks one step reaches; what is kept per series is packed
    /// ([`PackedHistogram`]).
    Hist(Arc<Histogram>),
}

impl SampleValue {
    /// How high a cumulative value stands: the number, or a histogram's count.
    pub fn level(&self) -> Num {
        match self {
            SampleValue::Num(n) => *n,
            SampleValue::Hist(h) => Num::Int(i128::from(h.count)),
        }
    }
}

/// A [`SampleValue`] in 16 bytes instead of 32, for what is kept per series and per held
/// sample (the engine keeps a million): integers that fit in 64 bits (what a line holds,
/// but for counters past `i64::MAX`) inline, wider ones boxed, histograms packed (or
/// shared as parsed, where few are kept).
#[derive(Debug, Clone, PartialEq)]
pub enum CompactValue {
    Int(i64),
    Float(f64),
    Wide(Box<i128>),
    Hist(Box<PackedHistogram>),
    /// A histogram as parsed, shared with the sample it came from ([`CompactValue::keep`]).
    Shared(Arc<Histogram>),
}

impl From<SampleValue> for CompactValue {
    fn from(value: SampleValue) -> CompactValue {
        match value {
            SampleValue::Num(Num::Int(v)) => match i64::try_from(v) {
                Ok(small) => CompactValue::Int(small),
                Err(_) => CompactValue::Wide(Box::new(v)),
            },
            SampleValue::Num(Num::Float(v)) => CompactValue::Float(v),
            SampleValue::Hist(h) => CompactValue::Hist(Box::new(PackedHistogram::pack(&h))),
        }
    }
}

impl CompactValue {
    /// The value, its histogram packed when `pack`, else shared as parsed: packing
    /// saves memory only when many series are held, and costs a packing and an unpacking
    /// a sample.
    pub fn keep(value: SampleValue, pack: bool) -> CompactValue {
        match value {
            SampleValue::Hist(h) if !pack => CompactValue::Shared(h),
            value => CompactValue::from(value),
        }
    }

    /// The value as the rest of the program takes it (a histogram unpacked).
    pub fn expand(&self) -> SampleValue {
        match self {
            CompactValue::Int(v) => SampleValue::Num(Num::Int(i128::from(*v))),
            CompactValue::Float(v) => SampleValue::Num(Num::Float(*v)),
            CompactValue::Wide(v) => SampleValue::Num(Num::Int(**v)),
            CompactValue::Hist(h) => SampleValue::Hist(Arc::new(h.unpack())),
            CompactValue::Shared(h) => SampleValue::Hist(Arc::clone(h)),
        }
    }

    /// [`SampleValue::level`] without unpacking a histogram.
    pub fn level(&self) -> Num {
        match self {
            CompactValue::Int(v) => Num::Int(i128::from(*v)),
            CompactValue::Float(v) => Num::Float(*v),
            CompactValue::Wide(v) => Num::Int(**v),
            CompactValue::Hist(h) => Num::Int(i128::from(h.count())),
            CompactValue::Shared(h) => Num::Int(i128::from(h.count)),
        }
    }
}

/// A [`Histogram`] as it is kept per series (a million of them: the engine's last and
/// held samples, the exposition's latest), in about 80 bytes with its box where a shared
/// `Histogram` takes 256 with 16 buckets: the count and the bucket counts as
/// variable-length integers (one byte each below 128), the sum, min and max beside them
/// in one block.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedHistogram {
    bounds: Bounds,
    /// A header (which of min and max there are, whether the count is left out because
    /// it is the buckets' total, and the number of buckets unless it is one more than
    /// the bounds: usually one byte), the count if not left out, the sum, the min and
    /// max there are, then each bucket's count. Fifteen buckets of small counts then
    /// take 40 bytes, a block of 48 where two bytes more take 64.
    bytes: Box<[u8]>,
}

const HAS_MIN: u64 = 1;
const HAS_MAX: u64 = 2;
const COUNT_IS_TOTAL: u64 = 4;
const HEADER_FLAGS: u32 = 3;

impl PackedHistogram {
    pub fn pack(h: &Histogram) -> PackedHistogram {
        let total = h.counts.iter().try_fold(0u64, |total, &c| total.checked_add(c));
        let count_is_total = total == Some(h.count);
        let len = h.counts.len() as u64;
        let len_code = if h.counts.len() == h.bounds.len() + 1 { 0 } else { len + 1 };
        let header = (len_code << HEADER_FLAGS)
            | (u64::from(h.min.is_some()) * HAS_MIN)
            | (u64::from(h.max.is_some()) * HAS_MAX)
            | (u64::from(count_is_total) * COUNT_IS_TOTAL);
        // The exact size, so that the block is allocated once.
        let varints: usize = h.counts.iter().map(|&c| varint_len(c)).sum();
        let extremes = 8 * (usize::from(h.min.is_some()) + usize::from(h.max.is_some()));
        let count_len = if count_is_total { 0 } else { varint_len(h.count) };
        let size = varint_len(header) + count_len + 8 + extremes + varints;
        let mut bytes = Vec::with_capacity(size);
        put_varint(&mut bytes, header);
        if !count_is_total {
            put_varint(&mut bytes, h.count);
        }
        bytes.extend_from_slice(&h.sum.to_le_bytes());
        for v in h.min.iter().chain(&h.max) {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        for &c in &h.counts {
            put_varint(&mut bytes, c);
        }
        debug_assert_eq!(bytes.len(), size);
        PackedHistogram { bounds: Arc::clone(&h.bounds), bytes: bytes.into_boxed_slice() }
    }

    pub fn unpack(&self) -> Histogram {
        let (count, sum, min, max, mut counts) = self.parts();
        let mut all = Vec::with_capacity(counts.len());
        all.extend(&mut counts);
        Histogram { count, sum, min, max, bounds: Arc::clone(&self.bounds), counts: all }
    }

    pub fn count(&self) -> u64 {
        let (count, ..) = self.parts();
        count
    }

    pub fn bounds(&self) -> &Bounds {
        &self.bounds
    }

    /// The count, sum, min, max and the bucket counts in order.
    pub fn parts(&self) -> (u64, f64, Option<f64>, Option<f64>, PackedCounts<'_>) {
        let (stated_count, sum, min, max, counts) = self.stated_parts();
        // Left out only when the buckets' total is exact (no overflow), so this sums back.
        let count = stated_count.unwrap_or_else(|| counts.clone().sum());
        (count, sum, min, max, counts)
    }

    /// [`PackedHistogram::parts`], with the count only if it was not left out.
    fn stated_parts(&self) -> (Option<u64>, f64, Option<f64>, Option<f64>, PackedCounts<'_>) {
        let mut at = 0;
        let header = take_varint(&self.bytes, &mut at);
        let stated_count = (header & COUNT_IS_TOTAL == 0).then(|| take_varint(&self.bytes, &mut at));
        let take_f64 = |at: &mut usize| {
            let v = f64::from_le_bytes(self.bytes[*at..*at + 8].try_into().expect("eight bytes"));
            *at += 8;
            v
        };
        let sum = take_f64(&mut at);
        let min = (header & HAS_MIN != 0).then(|| take_f64(&mut at));
        let max = (header & HAS_MAX != 0).then(|| take_f64(&mut at));
        let len = match header >> HEADER_FLAGS {
            0 => self.bounds.len() + 1,
            code => (code - 1) as usize,
        };
        (stated_count, sum, min, max, PackedCounts { bytes: &self.bytes, at, left: len })
    }
}

/// Bucket counts a histogram is decoded into on the stack (layouts with more use the heap).
const INLINE_BUCKETS: usize = 40;

impl PackedHistogram {
    /// Calls `f` with the count, the sum and the bucket counts, decoded once: the checks
    /// and the increase of a sample read them several times, and the varints are the
    /// engine's costliest reading of a histogram.
    pub(crate) fn decoded<R>(&self, f: impl FnOnce(u64, f64, &[u64]) -> R) -> R {
        let (stated_count, sum, _, _, counts) = self.stated_parts();
        let mut inline = [0u64; INLINE_BUCKETS];
        let spilled: Vec<u64>;
        let counts: &[u64] = if counts.len() <= INLINE_BUCKETS {
            let len = counts.len();
            for (slot, c) in inline.iter_mut().zip(counts) {
                *slot = c;
            }
            &inline[..len]
        } else {
            spilled = counts.collect();
            &spilled
        };
        // Left out only when the buckets' total is exact (no overflow), so this sums back.
        let count = stated_count.unwrap_or_else(|| counts.iter().sum());
        f(count, sum, counts)
    }
}

/// The bucket counts of a [`PackedHistogram`], decoded as they are read.
#[derive(Clone)]
pub struct PackedCounts<'a> {
    bytes: &'a [u8],
    at: usize,
    left: usize,
}

impl Iterator for PackedCounts<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(take_varint(self.bytes, &mut self.at))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for PackedCounts<'_> {}

fn varint_len(v: u64) -> usize {
    (64 - v.leading_zeros() as usize).max(1).div_ceil(7)
}

/// LEB128: seven bits a byte, low first, the high bit set on all but the last.
fn put_varint(bytes: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        bytes.push((v as u8) | 0x80);
        v >>= 7;
    }
    bytes.push(v as u8);
}

fn take_varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let byte = bytes[*at];
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return v;
        }
        shift += 7;
    }
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

/// A label set kept for as long as its series is known, in one allocation however many
/// labels it has: the keys' and values' text end to end, then where each key and value
/// ends and what kind of value it is, then how many labels there are, then how many
/// bytes each of those numbers takes. The numbers are written in ASCII bytes of seven
/// bits each, as few as the text's length needs (one up to 127 bytes), so that the whole
/// stays one `str`. A [`LabelSet`] of four labels costs nine allocations and about 500
/// bytes; with a million series that is most of a command's memory.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Labels {
    /// Text, then a table entry per label (key end, value end, kind), then the count,
    /// then the width of a number as an ASCII digit; empty for no labels.
    packed: Box<str>,
}

/// The most bytes of one number in the table: seven bits each.
const MAX_POSITION_BYTES: usize = 4;
/// Text a label set can hold: what four bytes of seven bits can point into (no line the
/// reader takes is longer: `MAX_LINE` is 64 MiB).
const MAX_LABELS_TEXT: usize = 1 << (7 * MAX_POSITION_BYTES);

/// Bytes of seven bits that `n` needs.
fn position_bytes(n: usize) -> usize {
    (1..MAX_POSITION_BYTES).find(|&width| n < 1 << (7 * width)).unwrap_or(MAX_POSITION_BYTES)
}

fn push_position(packed: &mut String, position: usize, width: usize) {
    for i in 0..width {
        packed.push(char::from(((position >> (7 * i)) & 0x7f) as u8));
    }
}

fn read_position(bytes: &[u8], width: usize) -> usize {
    bytes[..width].iter().rev().fold(0, |n, &b| n << 7 | usize::from(b))
}

impl Labels {
    /// `None` when the text is over 256 MiB, which no line the reader takes can hold.
    pub fn new(set: &[(String, AttrValue)]) -> Option<Labels> {
        Labels::from_pairs(set.iter().map(|(k, v)| (k.as_str(), v.as_ref())))
    }

    /// From key-value pairs already in key order.
    pub fn from_pairs<'a>(pairs: impl Iterator<Item = (&'a str, AttrRef<'a>)> + Clone) -> Option<Labels> {
        let count = pairs.clone().count();
        if count == 0 {
            return Some(Labels::default());
        }
        let text: usize = pairs.clone().map(|(k, v)| k.len() + value_text(v).len()).sum();
        if text >= MAX_LABELS_TEXT || count >= MAX_LABELS_TEXT {
            return None;
        }
        let width = position_bytes(text.max(count));
        let mut packed = String::with_capacity(text + count * (2 * width + 1) + width + 1);
        for (key, value) in pairs.clone() {
            packed.push_str(key);
            packed.push_str(value_text(value));
        }
        let mut end = 0;
        for (key, value) in pairs {
            end += key.len();
            push_position(&mut packed, end, width);
            end += value_text(value).len();
            push_position(&mut packed, end, width);
            packed.push(match value {
                AttrRef::Str(_) => 's',
                AttrRef::Num(_) => 'n',
                AttrRef::Bool(true) => 't',
                AttrRef::Bool(false) => 'f',
            });
        }
        push_position(&mut packed, count, width);
        packed.push(char::from(b'0' + width as u8));
        Some(Labels { packed: packed.into_boxed_str() })
    }

    pub fn len(&self) -> usize {
        self.view().len()
    }

    pub fn is_empty(&self) -> bool {
        self.packed.is_empty()
    }

    /// Key and value of each label, in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, AttrRef<'_>)> + Clone + '_ {
        self.view().iter()
    }

    /// The packed text, to keep elsewhere (in an `Arc<str>`) and read with [`LabelsView`].
    pub fn into_packed(self) -> Box<str> {
        self.packed
    }

    fn view(&self) -> LabelsView<'_> {
        LabelsView(&self.packed)
    }

    pub fn get(&self, name: &str) -> Option<AttrRef<'_>> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    pub fn to_label_set(&self) -> LabelSet {
        self.iter().map(|(k, v)| (k.to_string(), v.to_owned())).collect()
    }
}

/// A packed label set ([`Labels`]) read where it is kept: in a [`Labels`], or in the
/// `Arc<str>` of another owner ([`Labels::into_packed`]), so that a shared label set is
/// one heap block, not an `Arc` and a block behind it.
#[derive(Clone, Copy)]
pub struct LabelsView<'a>(&'a str);

impl<'a> LabelsView<'a> {
    /// `packed` must come from [`Labels::into_packed`].
    pub fn new(packed: &'a str) -> LabelsView<'a> {
        LabelsView(packed)
    }

    /// The width of the table's numbers (0 for no labels).
    fn width(self) -> usize {
        self.0.as_bytes().last().map_or(0, |&w| usize::from(w - b'0'))
    }

    pub fn len(self) -> usize {
        match self.width() {
            0 => 0,
            width => read_position(&self.0.as_bytes()[self.0.len() - 1 - width..], width),
        }
    }

    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    /// Key and value of each label, in key order.
    pub fn iter(self) -> impl ExactSizeIterator<Item = (&'a str, AttrRef<'a>)> + Clone + 'a {
        let count = self.len();
        let width = self.width();
        let entry_bytes = 2 * width + 1;
        let packed = self.0;
        let bytes = packed.as_bytes();
        let table = bytes.len().saturating_sub(1 + width + count * entry_bytes);
        (0..count).map(move |i| {
            let entry = &bytes[table + i * entry_bytes..];
            let start = match i {
                0 => 0,
                _ => read_position(&bytes[table + (i - 1) * entry_bytes + width..], width),
            };
            let key_end = read_position(entry, width);
            let value_end = read_position(&entry[width..], width);
            let key = &packed[start..key_end];
            let value = &packed[key_end..value_end];
            let value = match entry[2 * width] {
                b's' => AttrRef::Str(value),
                b'n' => AttrRef::Num(value),
                b't' => AttrRef::Bool(true),
                _ => AttrRef::Bool(false),
            };
            (key, value)
        })
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

    #[test]
    fn compact_values_are_the_values_they_were_made_from() {
        let histogram = Arc::new(Histogram {
            count: 3,
            sum: 1.5,
            min: None,
            max: Some(1.0),
            bounds: Arc::from(vec![0.5, 1.0]),
            counts: vec![1, 2, 0],
        });
        let values = [
            SampleValue::Num(Num::Int(0)),
            SampleValue::Num(Num::Int(i128::from(i64::MIN))),
            SampleValue::Num(Num::Int(i128::from(i64::MAX))),
            SampleValue::Num(Num::Int(i128::from(u64::MAX))),
            SampleValue::Num(Num::Int(-i128::from(u64::MAX) * 7)),
            SampleValue::Num(Num::Float(-0.0)),
            SampleValue::Num(Num::Float(f64::INFINITY)),
            SampleValue::Hist(Arc::clone(&histogram)),
        ];
        for v in values {
            let compact = CompactValue::from(v.clone());
            assert_eq!(compact.expand(), v);
        }
        let SampleValue::Hist(shared) = CompactValue::from(SampleValue::Hist(Arc::clone(&histogram))).expand() else {
            unreachable!()
        };
        assert!(Arc::ptr_eq(&shared.bounds, &histogram.bounds), "a layout is shared, not copied");
        // A packed histogram is a thin pointer to the shared layout and one to its bytes:
        // 24 bytes, a 32-byte malloc block (32 took 48).
        assert_eq!(std::mem::size_of::<PackedHistogram>(), 24);
        assert_eq!(std::mem::size_of::<CompactValue>(), 16);
        assert_eq!(std::mem::size_of::<Option<CompactValue>>(), 16);
    }
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
        assert_eq!(Labels::new(&[]).unwrap().len(), 0);
        assert_ne!(labels, Labels::new(&set[1..]).unwrap());
        // Positions past one byte of seven bits, and many labels.
        let long: LabelSet =
            (0..300).map(|i| (format!("key{i:03}"), AttrValue::Str("v".repeat(i * 7) + "é"))).collect();
        let labels = Labels::new(&long).unwrap();
        assert_eq!(labels.len(), 300);
        assert_eq!(labels.to_label_set(), long);
        assert_eq!(std::mem::size_of::<Labels>(), 16);
    }

    #[test]
    fn labels_take_as_few_bytes_a_position_as_their_text_needs() {
        // A series of a cardinality explosion: 39 bytes of text, one byte a position.
        let user: LabelSet = vec![
            ("http.route".into(), AttrValue::Str("/api/v1/orders".into())),
            ("user_id".into(), AttrValue::Str("u0000000".into())),
        ];
        let labels = Labels::new(&user).unwrap();
        assert_eq!(labels.packed.len(), 39 + 2 * 3 + 1 + 1);
        assert_eq!(labels.to_label_set(), user);
        // Each side of the one-byte and two-byte limits, and many labels with no value text.
        for text in [126, 127, 128, 16_383, 16_384] {
            let set: LabelSet = vec![("k".into(), AttrValue::Str("v".repeat(text - 1)))];
            let labels = Labels::new(&set).unwrap();
            assert_eq!(labels.to_label_set(), set, "{text} bytes");
            assert_eq!(labels.get("k"), Some(AttrRef::Str(&"v".repeat(text - 1))));
        }
        let flags: LabelSet = (0..200).map(|i| (format!("{i:03}"), AttrValue::Bool(i % 3 == 0))).collect();
        let labels = Labels::new(&flags).unwrap();
        assert_eq!(labels.len(), 200);
        assert_eq!(labels.to_label_set(), flags);
        let few: LabelSet =
            (0..150).map(|i| (char::from_u32(0x100 + i).unwrap().to_string(), AttrValue::Bool(true))).collect();
        assert_eq!(Labels::new(&few).unwrap().to_label_set(), few);
    }
}
