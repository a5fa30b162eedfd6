//! Histogram arithmetic, in one place: the increase between two cumulative samples
//! (and when there is none, because the process restarted), the sum of increases within
//! one layout and across layouts, and Prometheus' `histogram_quantile`.

use crate::record::Histogram;
use crate::value::{same_bounds, PackedHistogram};

/// Whether a histogram of `after` count and bucket counts can be a later cumulative
/// sample of one of `before`'s: the same bucket layout, and neither the count nor any
/// bucket lower. Anything else means the process restarted in between
/// (docs/SEMANTICS.md).
fn continues(before: u64, after: u64, same_layout: bool, mut buckets: impl Iterator<Item = (u64, u64)>) -> bool {
    after >= before && same_layout && buckets.all(|(before, after)| after >= before)
}

/// The observations from a sample of `count`, `sum` and bucket counts `before` to
/// `later`, which continues it.
fn increase(count: u64, sum: f64, before: impl Iterator<Item = u64>, later: &Histogram) -> Histogram {
    Histogram {
        count: later.count - count,
        sum: later.sum - sum,
        // Which observations were the smallest and largest of the increase is unknown.
        min: None,
        max: None,
        bounds: later.bounds.clone(),
        counts: later.counts.iter().zip(before).map(|(after, before)| after - before).collect(),
    }
}

impl Histogram {
    /// Whether `later` can be a later cumulative sample of the same process ([`continues`]).
    pub fn continues_into(&self, later: &Histogram) -> bool {
        let buckets = self.counts.iter().copied().zip(later.counts.iter().copied());
        continues(self.count, later.count, self.same_layout(later), buckets)
    }

    /// The observations between this cumulative sample and `later`, or `None` when
    /// `later` does not continue it (a restart: `later` then counts from zero).
    pub fn increase_to(&self, later: &Histogram) -> Option<Histogram> {
        self.continues_into(later).then(|| increase(self.count, self.sum, self.counts.iter().copied(), later))
    }

    /// No observation, in this layout.
    pub fn zero_like(&self) -> Histogram {
        Histogram {
            count: 0,
            sum: 0.0,
            min: None,
            max: None,
            bounds: self.bounds.clone(),
            counts: vec![0; self.counts.len()],
        }
    }

    /// This increase and `other` together, when they have one layout (to merge layouts,
    /// use [`HistogramSum`]).
    pub fn plus(&self, other: &Histogram) -> Option<Histogram> {
        if !self.same_layout(other) {
            return None;
        }
        Some(Histogram {
            count: self.count + other.count,
            sum: self.sum + other.sum,
            min: None,
            max: None,
            bounds: self.bounds.clone(),
            counts: self.counts.iter().zip(&other.counts).map(|(a, b)| a + b).collect(),
        })
    }
}

/// A sum of histogram increases with one bucket layout (the union of the layouts added).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramSum {
    pub count: u64,
    pub sum: f64,
    /// Finite upper bounds, increasing.
    pub bounds: Vec<f64>,
    /// Per-bucket counts; one more than `bounds` (the +Inf bucket).
    pub counts: Vec<u64>,
}

impl HistogramSum {
    pub fn add(&mut self, h: &Histogram) {
        self.add_buckets(h.count, h.sum, &h.bounds, &h.counts);
    }

    /// Adds another sum (windows of sums: `top`).
    pub fn merge(&mut self, other: &HistogramSum) {
        self.add_buckets(other.count, other.sum, &other.bounds, &other.counts);
    }

    fn add_buckets(&mut self, count: u64, sum: f64, bounds: &[f64], counts: &[u64]) {
        self.count += count;
        self.sum += sum;
        if self.counts.is_empty() {
            self.bounds = bounds.to_vec();
            self.counts = counts.to_vec();
            return;
        }
        if *self.bounds != *bounds {
            self.widen_to(bounds);
        }
        if *self.bounds == *bounds {
            for (a, b) in self.counts.iter_mut().zip(counts) {
                *a += b;
            }
            return;
        }
        // The other layout is a subset of ours: each of its buckets goes to ours with the
        // same upper bound (all we know is that its observations are <= that bound).
        for (i, &c) in counts.iter().enumerate() {
            let target = match bounds.get(i) {
                Some(b) => self.bounds.iter().position(|x| x == b).unwrap_or(self.bounds.len()),
                None => self.bounds.len(),
            };
            self.counts[target] += c;
        }
    }

    /// Re-buckets to the union of our bounds and `other`.
    fn widen_to(&mut self, other: &[f64]) {
        let mut union: Vec<f64> = self.bounds.iter().chain(other).copied().collect();
        union.sort_by(f64::total_cmp);
        union.dedup();
        if union == self.bounds {
            return;
        }
        let mut counts = vec![0u64; union.len() + 1];
        for (i, &c) in self.counts.iter().enumerate() {
            let target = match self.bounds.get(i) {
                Some(b) => union.iter().position(|x| x == b).unwrap_or(union.len()),
                None => union.len(),
            };
            counts[target] += c;
        }
        self.bounds = union;
        self.counts = counts;
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// Prometheus' `histogram_quantile` on these buckets: linear interpolation inside the
    /// bucket holding the rank, 0 as the lower edge of the first bucket (when its upper
    /// bound is positive), and the highest finite bound when the rank falls in +Inf.
    /// `None` when there are no observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total: u64 = self.counts.iter().sum();
        if total == 0 || self.bounds.is_empty() {
            return None;
        }
        if q < 0.0 {
            return Some(f64::NEG_INFINITY);
        }
        if q > 1.0 {
            return Some(f64::INFINITY);
        }
        let rank = q * total as f64;
        let mut cumulative = 0u64;
        for (i, &bound) in self.bounds.iter().enumerate() {
            let before = cumulative;
            cumulative += self.counts[i];
            if cumulative as f64 >= rank {
                if i == 0 && bound <= 0.0 {
                    return Some(bound);
                }
                let start = if i == 0 { 0.0 } else { self.bounds[i - 1] };
                let in_bucket = (cumulative - before) as f64;
                if in_bucket == 0.0 {
                    return Some(start);
                }
                return Some(start + (bound - start) * ((rank - before as f64) / in_bucket));
            }
        }
        self.bounds.last().copied()
    }
}

impl PackedHistogram {
    /// [`Histogram::continues_into`] without unpacking either.
    pub fn continues_into(&self, later: &PackedHistogram) -> bool {
        self.decoded(|before, _, before_counts| {
            later.decoded(|after, _, after_counts| {
                let buckets = before_counts.iter().copied().zip(after_counts.iter().copied());
                continues(before, after, same_bounds(self.bounds(), later.bounds()), buckets)
            })
        })
    }

    /// [`Histogram::continues_into`], this one packed.
    pub fn continues_into_unpacked(&self, later: &Histogram) -> bool {
        self.decoded(|before, _, before_counts| self.continues_with(before, before_counts, later))
    }

    /// [`Histogram::increase_to`], this one packed.
    pub fn increase_to(&self, later: &Histogram) -> Option<Histogram> {
        self.decoded(|count, sum, before| {
            self.continues_with(count, before, later).then(|| increase(count, sum, before.iter().copied(), later))
        })
    }

    fn continues_with(&self, count: u64, counts: &[u64], later: &Histogram) -> bool {
        let buckets = counts.iter().copied().zip(later.counts.iter().copied());
        continues(count, later.count, same_bounds(self.bounds(), &later.bounds), buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn h(bounds: &[f64], counts: &[u64]) -> Histogram {
        Histogram {
            count: counts.iter().sum(),
            sum: 0.0,
            min: None,
            max: None,
            bounds: Arc::new(bounds.to_vec()),
            counts: counts.to_vec(),
        }
    }

    /// Bucket counts of every magnitude, small ones most often; layouts past what
    /// `PackedHistogram::decoded` keeps on the stack too.
    fn counts() -> impl proptest::strategy::Strategy<Value = Vec<u64>> {
        use proptest::prelude::*;
        proptest::collection::vec(any::<u64>().prop_map(|c| c >> (c % 64)), 1..60)
    }

    proptest::proptest! {
        /// A packed histogram is the histogram it packed, and continues another as the
        /// unpacked ones do, whatever the counts (up to `u64::MAX`) and extremes.
        #[test]
        fn a_packed_histogram_is_the_one_it_packed(
            counts in counts(),
            later in counts(),
            sum: f64,
            min: Option<f64>,
            max: Option<f64>,
            count: u64,
            count_is_total: bool,
            bucket_per_bound: bool,
            relayout: bool,
        ) {
            let layout = |buckets: usize, scale: f64| -> crate::value::Bounds { Arc::new((1..buckets).map(|i| i as f64 * scale).collect()) };
            // The packing leaves out a count that is the buckets' total, and a number of
            // buckets that is one more than the bounds: both ways of each.
            let total = counts.iter().try_fold(0u64, |t, &c| t.checked_add(c));
            let count = if count_is_total { total.unwrap_or(count) } else { count };
            let bounds = layout(counts.len() + usize::from(bucket_per_bound), 1.0);
            let a = Histogram { count, sum, min, max, bounds, counts: counts.clone() };
            let packed = PackedHistogram::pack(&a);
            let unpacked = packed.unpack();
            // NaN sums and extremes compare by their bits.
            let bits = |h: &Histogram| (h.sum.to_bits(), h.min.map(f64::to_bits), h.max.map(f64::to_bits));
            proptest::prop_assert_eq!(bits(&unpacked), bits(&a));
            proptest::prop_assert_eq!((unpacked.count, &unpacked.counts, &unpacked.bounds), (a.count, &a.counts, &a.bounds));
            proptest::prop_assert_eq!(packed.count(), a.count);
            let later_count = later.iter().fold(0u64, |t, &c| t.saturating_add(c));
            let bounds = layout(later.len(), if relayout { 2.0 } else { 1.0 });
            let b = Histogram { count: later_count, sum, min: None, max: None, bounds, counts: later };
            proptest::prop_assert_eq!(packed.continues_into(&PackedHistogram::pack(&b)), a.continues_into(&b));
            proptest::prop_assert_eq!(packed.continues_into_unpacked(&b), a.continues_into(&b));
            let bits_of = |h: Option<Histogram>| h.map(|h| (h.count, h.sum.to_bits(), h.counts));
            proptest::prop_assert_eq!(bits_of(packed.increase_to(&b)), bits_of(a.increase_to(&b)));
        }
    }

    #[test]
    fn an_increase_exists_only_where_nothing_went_down() {
        let before = h(&[0.1, 1.0], &[2, 3, 1]);
        let after = h(&[0.1, 1.0], &[4, 3, 2]);
        assert!(before.continues_into(&after));
        assert_eq!(before.increase_to(&after).unwrap().counts, vec![2, 0, 1]);
        assert_eq!(before.increase_to(&after).unwrap().count, 3);
        // The count grew but one bucket fell: a restart, not a negative bucket.
        let bucket_down = h(&[0.1, 1.0], &[1, 9, 1]);
        assert!(!before.continues_into(&bucket_down));
        assert_eq!(before.increase_to(&bucket_down), None);
        // Another layout is another lifetime.
        assert_eq!(before.increase_to(&h(&[0.5, 1.0], &[4, 3, 2])), None);
        assert_eq!(before.plus(&h(&[0.5, 1.0], &[1, 1, 1])), None);
        assert_eq!(before.plus(&before.zero_like()).unwrap().counts, before.counts);
    }

    #[test]
    fn quantile_interpolates_like_prometheus() {
        // Buckets (0,0.1]: 10, (0.1,0.5]: 30, (0.5,1]: 50, +Inf: 10 -> 100 observations.
        let mut s = HistogramSum::default();
        s.add(&h(&[0.1, 0.5, 1.0], &[10, 30, 50, 10]));
        // rank 50 -> bucket (0.5,1], 10 into its 50 -> 0.5 + 0.5 * 10/50 = 0.6
        assert!((s.quantile(0.5).unwrap() - 0.6).abs() < 1e-12);
        // rank 5 -> first bucket: 0 + 0.1 * 5/10 = 0.05
        assert!((s.quantile(0.05).unwrap() - 0.05).abs() < 1e-12);
        // rank 95 -> +Inf bucket -> highest finite bound
        assert_eq!(s.quantile(0.95), Some(1.0));
        assert_eq!(HistogramSum::default().quantile(0.5), None);
    }

    #[test]
    fn merges_different_layouts_by_upper_bound() {
        let mut s = HistogramSum::default();
        s.add(&h(&[0.1, 1.0], &[1, 2, 3]));
        s.add(&h(&[0.5, 1.0], &[4, 5, 6]));
        assert_eq!(s.bounds, vec![0.1, 0.5, 1.0]);
        assert_eq!(s.counts, vec![1, 4, 7, 9]);
        assert_eq!(s.count, 21);
    }
}

/// The smallest recorded min and largest recorded max of the samples whose increases
/// were summed. A cumulative sample's min and max bound every observation since its
/// process started, so every observation of its increase: a quantile estimated from
/// the buckets can be clamped to them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ObservedRange {
    #[default]
    Unset,
    Known(f64, f64),
    /// Some summed sample had no min or max.
    Unknown,
}

impl ObservedRange {
    /// Takes in the min and max of one more summed sample.
    pub fn include(&mut self, sample: &Histogram) {
        self.merge(match sample.min.zip(sample.max) {
            Some((min, max)) => ObservedRange::Known(min, max),
            None => ObservedRange::Unknown,
        });
    }

    pub fn merge(&mut self, other: ObservedRange) {
        *self = match (*self, other) {
            (ObservedRange::Unset, o) => o,
            (s, ObservedRange::Unset) => s,
            (ObservedRange::Known(lo, hi), ObservedRange::Known(min, max)) => {
                ObservedRange::Known(lo.min(min), hi.max(max))
            }
            _ => ObservedRange::Unknown,
        };
    }

    /// `estimate` clamped to the range, when every summed sample carried one.
    pub fn clamp(self, estimate: f64) -> f64 {
        match self {
            ObservedRange::Known(min, max) if min <= max => estimate.clamp(min, max),
            _ => estimate,
        }
    }
}
