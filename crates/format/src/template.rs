//! Lines of one series repeat byte for byte except for their timestamp and value: an
//! exporter writes the same keys in the same order every time. Once a parser has parsed
//! a line of a series, it recognises the next ones by comparing the rest of the line, and
//! reads only their timestamp and value. On the files this tool reads, that is most lines,
//! at a fraction of the cost of a JSON parse.
//!
//! A line in the writer's shape is split as `{"timestamp":"` TS + MIDDLE + VALUE + TAIL,
//! where MIDDLE runs from the quote after TS to the end of the first `"value":` and holds
//! no `\`, `{` or `[` (so it stays at the top level of the object, outside any string),
//! and VALUE ends at the first `,` or `}` (a number) or after the first `},"` (an object).
//!
//! A line with its keys in any other order (another exporter, a shipper that re-encodes)
//! is split by walking its structure into HEAD, the first of TS and VALUE, MIDDLE, the
//! other, and TAIL, TS and VALUE being the top-level `"timestamp"` and `"value"`. The walk
//! decides where they are from the bytes before them, so a line equal to a learnt one in
//! HEAD, MIDDLE and TAIL is cut at the same places, and the argument below holds for it
//! as for the writer's shape; lines with a `\` outside TS and VALUE are not split.
//!
//! Why this is exact: a template is learnt only from a line that parsed, whose TAIL has
//! no `\`, and whose VALUE text parses on its own to the line's value, so that its TAIL
//! is what follows a complete value at the top level, outside strings. A line with the
//! same MIDDLE and TAIL whose VALUE parses on its own is then the same object with
//! another timestamp and value: valid JSON, the same fields, the same series. A line
//! whose VALUE is not read (the superseded lines of `to-prometheus`) still cannot be
//! taken for another series' line when it is valid: a VALUE cut short ends inside a
//! string (an odd number of quotes before TAIL, which holds an even number when it is
//! valid from outside strings) or inside a nested object (TAIL would close one level too
//! many), and no valid TAIL reads the same from both places.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use foldhash::fast::FixedState;
use std::hash::BuildHasher;

use crate::record::{LineParser, MetricType, Record, SampleValue};
use crate::series::ChunkSeries;

const PREFIX: &[u8] = b"{\"timestamp\":\"";
const VALUE_KEY: &[u8] = b"\"value\":";

/// A line cut into its parts (see the module's documentation): HEAD, the first of the
/// timestamp's text and the value, MIDDLE, the other, TAIL.
pub struct Split<'a> {
    pub head: &'a [u8],
    pub timestamp: &'a [u8],
    pub middle: &'a [u8],
    pub value: &'a [u8],
    pub tail: &'a [u8],
    /// The timestamp comes before the value (always, in the writer's shape).
    pub timestamp_first: bool,
}

impl<'a> Split<'a> {
    /// The writer's shape by byte searches, any other key order by a walk of the line's
    /// structure.
    pub fn new(line: &'a [u8]) -> Option<Split<'a>> {
        Split::writers_shape(line).or_else(|| Split::any_order(line))
    }

    fn writers_shape(line: &'a [u8]) -> Option<Split<'a>> {
        static VALUE_FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
        static OBJECT_END: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
        let rest = line.strip_prefix(PREFIX)?;
        let after_timestamp = PREFIX.len() + memchr::memchr(b'"', rest)?;
        let finder = VALUE_FINDER.get_or_init(|| memchr::memmem::Finder::new(VALUE_KEY));
        let value_start = after_timestamp + finder.find(&line[after_timestamp..])? + VALUE_KEY.len();
        let middle = &line[after_timestamp..value_start];
        if memchr::memchr3(b'\\', b'{', b'[', middle).is_some() {
            return None;
        }
        let value = &line[value_start..];
        let value_len = match value.first()? {
            b'{' => OBJECT_END.get_or_init(|| memchr::memmem::Finder::new(b"},\"")).find(value)? + 1,
            b'-' | b'0'..=b'9' => memchr::memchr2(b',', b'}', value)?,
            _ => return None,
        };
        Some(Split {
            head: &line[..PREFIX.len()],
            timestamp: &line[PREFIX.len()..after_timestamp],
            middle,
            value: &value[..value_len],
            tail: &value[value_len..],
            timestamp_first: true,
        })
    }

    /// Any key order (other exporters, log shippers that re-encode): the top-level
    /// `"timestamp"` and `"value"` members are found by walking the object, strings and
    /// nesting included. HEAD, MIDDLE and TAIL are then the line's bytes around them; a
    /// line with the same bytes there is walked to the same places, so the template
    /// argument holds as for the writer's shape. Lines with a `\` outside the timestamp
    /// and the value are left to the full parse.
    fn any_order(line: &'a [u8]) -> Option<Split<'a>> {
        let mut i = skip_space(line, 0);
        if line.get(i) != Some(&b'{') {
            return None;
        }
        i += 1;
        let (mut timestamp, mut value) = (None, None);
        loop {
            i = skip_space(line, i);
            if line.get(i) != Some(&b'"') {
                return None;
            }
            let key_end = i + 1 + memchr::memchr2(b'"', b'\\', line.get(i + 1..)?)?;
            if line[key_end] == b'\\' {
                return None;
            }
            let key = &line[i + 1..key_end];
            i = skip_space(line, key_end + 1);
            if line.get(i) != Some(&b':') {
                return None;
            }
            let start = skip_space(line, i + 1);
            let end = skip_value(line, start)?;
            match key {
                b"timestamp" if timestamp.is_none() => timestamp = Some((start, end)),
                b"value" if value.is_none() => value = Some((start, end)),
                b"timestamp" | b"value" => return None,
                _ => {}
            }
            i = skip_space(line, end);
            match line.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => break,
                _ => return None,
            }
        }
        if skip_space(line, i + 1) != line.len() {
            return None;
        }
        let ((ts_start, ts_end), (value_start, value_end)) = (timestamp?, value?);
        // The timestamp's text, inside its quotes, with none in it.
        if line[ts_start] != b'"' || ts_end - ts_start < 2 {
            return None;
        }
        let (ts_start, ts_end) = (ts_start + 1, ts_end - 1);
        if memchr::memchr2(b'"', b'\\', &line[ts_start..ts_end]).is_some() {
            return None;
        }
        let split = if ts_start < value_start {
            Split {
                head: &line[..ts_start],
                timestamp: &line[ts_start..ts_end],
                middle: &line[ts_end..value_start],
                value: &line[value_start..value_end],
                tail: &line[value_end..],
                timestamp_first: true,
            }
        } else {
            Split {
                head: &line[..value_start],
                value: &line[value_start..value_end],
                middle: &line[value_end..ts_start],
                timestamp: &line[ts_start..ts_end],
                tail: &line[ts_end..],
                timestamp_first: false,
            }
        };
        if [split.head, split.middle, split.tail].iter().any(|part| memchr::memchr(b'\\', part).is_some()) {
            return None;
        }
        Some(split)
    }

    pub fn value_is_object(&self) -> bool {
        self.value.first() == Some(&b'{')
    }

    fn hash(&self) -> u64 {
        FixedState::with_seed(11).hash_one((self.head, self.middle, self.tail, self.timestamp_first))
    }

    /// The timestamp, when it is plain ASCII and RFC 3339.
    pub fn parse_timestamp(&self) -> Option<i64> {
        crate::timestamp::parse_rfc3339(std::str::from_utf8(self.timestamp).ok()?).ok()
    }

    /// The value, when its text parses on its own with the checks of a full parse.
    pub fn parse_value(&self, template: &Template, parser: &mut LineParser) -> Option<SampleValue> {
        parser.parse_value(self.value, template.metric_type).ok()
    }
}

pub(crate) fn skip_space(line: &[u8], mut i: usize) -> usize {
    while line.get(i).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    i
}

/// The end of the JSON value starting at `i`: a string with its escapes, an object or
/// array with everything nested in it, or a number or literal up to its delimiter.
/// Validity is not checked beyond the nesting: a template is learnt only from a line that
/// parsed, and matched only by lines equal to it outside the timestamp and the value.
pub(crate) fn skip_value(line: &[u8], i: usize) -> Option<usize> {
    match *line.get(i)? {
        b'"' => skip_string(line, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *line.get(j)? {
                    b'"' => {
                        j = skip_string(line, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let len = line[i..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'))
                .unwrap_or(line.len() - i);
            (len > 0).then_some(i + len)
        }
    }
}

/// The end of the string starting at the quote at `i`.
pub(crate) fn skip_string(line: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j += memchr::memchr2(b'"', b'\\', line.get(j..)?)?;
        if line[j] == b'"' {
            return Some(j + 1);
        }
        j += 2;
    }
}

/// What the parsed line of a series says about the lines that repeat it.
#[derive(Clone)]
pub struct Template {
    pub series: Arc<ChunkSeries>,
    pub metric_name: Arc<str>,
    pub metric_type: MetricType,
    pub type_inferred: bool,
    pub value_is_object: bool,
    pub delta: bool,
    pub start_timestamp: Option<i64>,
}

impl Template {
    /// The template of a line that parsed into `record` and `series`, when its split cut
    /// the value where it ends and its timestamp reads as the parse read it.
    pub fn checked(
        split: &Split<'_>,
        record: &Record<'_>,
        series: &Arc<ChunkSeries>,
        parser: &mut LineParser,
    ) -> Option<Template> {
        let template = Template {
            series: Arc::clone(series),
            metric_name: record.metric_name.as_ref().into(),
            metric_type: record.metric_type,
            type_inferred: record.type_inferred,
            value_is_object: split.value_is_object(),
            delta: record.delta,
            start_timestamp: record.start_timestamp,
        };
        let value_cut_right = split.parse_value(&template, parser).as_ref() == Some(&record.value);
        (value_cut_right && split.parse_timestamp() == Some(record.timestamp)).then_some(template)
    }
}

struct Entry {
    /// HEAD, MIDDLE, TAIL.
    text: Box<[u8]>,
    head_len: usize,
    middle_len: usize,
    timestamp_first: bool,
    template: Template,
    /// The entry hit after this one last time: the lines of an export come in the same
    /// order every time, so this predicts the next line's template without a hash.
    next: Cell<u32>,
    /// The block being parsed (numbered by the cache's owner) and the series' index in
    /// its chunk.
    chunk_slot: Cell<(u64, u32)>,
}

impl Entry {
    fn matches(&self, split: &Split<'_>) -> bool {
        let (head, rest) = self.text.split_at(self.head_len.min(self.text.len()));
        let (middle, tail) = rest.split_at(self.middle_len.min(rest.len()));
        self.timestamp_first == split.timestamp_first
            && middle == split.middle
            && tail == split.tail
            && head == split.head
            // A series whose type was inferred from its value is another series when
            // the value changes kind.
            && (!self.template.type_inferred || self.template.value_is_object == split.value_is_object())
    }
}

/// How many entries a parser's cache of series (templates, spellings) holds before it
/// starts over. A cache pays when the series it learnt come back before it fills. With
/// more series than it holds, seen in turn (a cardinality explosion: every series once
/// per export), each entry is learnt, never used and thrown away: a copy of the line,
/// memory and the allocator's time for nothing, in every parser. So a cache starts small
/// ([`CacheLimit::MIN`]); one that fills without paying rests (learns nothing), and it
/// grows to [`CacheLimit::MAX`] (which also bounds hostile input) once the series are
/// seen coming back: the hashes of the last `MAX` entries learnt, or that would have
/// been while resting, are remembered (8 bytes each, not the entries).
#[derive(Debug, Clone)]
pub struct CacheLimit {
    limit: usize,
    /// Hashes of entries learnt lately (cleared when it holds `MAX`).
    learnt: HashSet<u64, FixedState>,
    /// Entries learnt this round whose hash was in `learnt`: they would have been hits
    /// in a cache large enough.
    returning: u64,
    /// Learning nothing, since the smallest cache did not pay; `calls` counts the
    /// entries not learnt, in rounds of `MIN`.
    resting: bool,
    calls: usize,
}

impl Default for CacheLimit {
    fn default() -> CacheLimit {
        CacheLimit { limit: CacheLimit::MIN, learnt: HashSet::default(), returning: 0, resting: false, calls: 0 }
    }
}

impl CacheLimit {
    pub const MAX: usize = 1 << 16;
    pub const MIN: usize = 1 << 10;

    /// An entry with this hash would be learnt: whether the cache should keep it.
    pub fn learning(&mut self, hash: u64) -> bool {
        if self.learnt.len() >= CacheLimit::MAX {
            self.learnt.clear();
        }
        if !self.learnt.insert(hash) {
            self.returning += 1;
        }
        if self.resting {
            self.calls += 1;
            if self.calls >= CacheLimit::MIN {
                if self.returning >= CacheLimit::MIN as u64 / 2 {
                    self.resting = false;
                    self.limit = CacheLimit::MAX;
                }
                self.calls = 0;
                self.returning = 0;
            }
        }
        !self.resting
    }

    pub fn is_full(&self, entries: usize) -> bool {
        entries >= self.limit
    }

    /// The limit for the next round of a cache that filled with `entries`, of which
    /// lookups found one `hits` times.
    pub fn next_round(&mut self, entries: usize, hits: u64) {
        let pays = hits >= entries as u64 / 2 || self.returning >= entries as u64 / 2;
        self.resting = !pays && self.limit == CacheLimit::MIN;
        self.limit = if pays { CacheLimit::MAX } else { (self.limit / 2).max(CacheLimit::MIN) };
        self.returning = 0;
        self.calls = 0;
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A cache as it is after a cardinality explosion: resting, learning nothing.
    pub fn resting() -> CacheLimit {
        CacheLimit { resting: true, ..CacheLimit::default() }
    }
}

const NO_ENTRY: u32 = u32::MAX;

/// The templates one parser has learnt, with the entry it hit last (to predict the
/// next). Owned by the block parser that learnt them; a fresh cache knows none.
pub struct TemplateCache {
    entries: Vec<Entry>,
    by_hash: HashMap<u64, Vec<u32>, FixedState>,
    /// The entry hit last.
    last: Cell<u32>,
    hits: Cell<u64>,
    limit: CacheLimit,
}

impl Default for TemplateCache {
    fn default() -> TemplateCache {
        TemplateCache {
            entries: Vec::new(),
            by_hash: HashMap::default(),
            last: Cell::new(NO_ENTRY),
            hits: Cell::new(0),
            limit: CacheLimit::default(),
        }
    }
}

impl TemplateCache {
    /// The template whose MIDDLE and TAIL the line has, if one was learnt, and the slot
    /// where the caller keeps the series' index in its chunk.
    pub fn find(&self, split: &Split<'_>) -> Option<(&Template, &Cell<(u64, u32)>)> {
        if self.entries.is_empty() {
            return None;
        }
        let previous = self.entries.get(self.last.get() as usize);
        let predicted =
            previous.map(|p| p.next.get()).filter(|&i| self.entries.get(i as usize).is_some_and(|e| e.matches(split)));
        let found = match predicted {
            Some(i) => i,
            None => {
                let i = *self.by_hash.get(&split.hash())?.iter().find(|&&i| self.entries[i as usize].matches(split))?;
                if let Some(p) = previous {
                    p.next.set(i);
                }
                i
            }
        };
        self.last.set(found);
        self.hits.set(self.hits.get() + 1);
        let entry = &self.entries[found as usize];
        Some((&entry.template, &entry.chunk_slot))
    }

    /// A cache as it is after a cardinality explosion ([`CacheLimit::resting`]).
    pub fn resting() -> TemplateCache {
        TemplateCache { limit: CacheLimit::resting(), ..TemplateCache::default() }
    }

    /// Learning nothing: more series than the cache can hold, each seen once per round.
    /// Lines of unknown series then go to the shapes ([`crate::shape`]) before a full parse.
    pub fn is_resting(&self) -> bool {
        self.limit.resting
    }

    /// Counts a line of an unknown series that did not go through [`TemplateCache::learn`],
    /// as that would: a resting cache wakes when the series it did not learn come back.
    pub fn observe(&mut self, split: &Split<'_>) {
        self.limit.learning(split.hash());
    }

    /// Learns the template of a line that parsed into `record` and `series`, when the
    /// line has the shape and its parts meet the conditions that make reuse exact.
    pub fn learn(
        &mut self,
        line: &[u8],
        record: &Record<'_>,
        series: &Result<Arc<ChunkSeries>, String>,
        parser: &mut LineParser,
    ) {
        // A line of a series that cannot be made is bad whatever its value: its reason is
        // the full parse's, which may be about the value.
        let Ok(series) = series else { return };
        let Some(split) = Split::new(line) else { return };
        let hash = split.hash();
        if !self.limit.learning(hash) {
            return;
        }
        if memchr::memchr(b'\\', split.tail).is_some() {
            return;
        }
        let Some(template) = Template::checked(&split, record, series, parser) else { return };
        if self.limit.is_full(self.entries.len()) {
            let mut limit = std::mem::take(&mut self.limit);
            limit.next_round(self.entries.len(), self.hits.get());
            *self = TemplateCache { limit, ..TemplateCache::default() };
        }
        let candidates = self.by_hash.entry(hash).or_default();
        let known = |i: &u32| {
            let e: &Entry = &self.entries[*i as usize];
            e.matches(&split) && e.template.value_is_object == template.value_is_object
        };
        if candidates.iter().any(known) {
            return;
        }
        candidates.push(self.entries.len() as u32);
        let mut text = Vec::with_capacity(split.head.len() + split.middle.len() + split.tail.len());
        text.extend_from_slice(split.head);
        text.extend_from_slice(split.middle);
        text.extend_from_slice(split.tail);
        self.entries.push(Entry {
            text: text.into_boxed_slice(),
            head_len: split.head.len(),
            middle_len: split.middle.len(),
            timestamp_first: split.timestamp_first,
            template,
            next: Cell::new(NO_ENTRY),
            chunk_slot: Cell::new((0, 0)),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::CacheLimit;
    use std::collections::HashSet;

    /// Runs `rounds` passes over `series` keys, in turn, through a cache sized by a
    /// [`CacheLimit`] that starts over when full, as the parsers' caches do; returns the
    /// hit rate of the last pass and the limit at the end.
    fn cyclic(series: u64, rounds: u64) -> (f64, usize) {
        let mut limit = CacheLimit::default();
        let mut cache: HashSet<u64> = HashSet::new();
        let (mut hits, mut last_hits) = (0u64, 0u64);
        for _ in 0..rounds {
            last_hits = 0;
            for key in 0..series {
                let hash = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                if cache.contains(&hash) {
                    hits += 1;
                    last_hits += 1;
                    continue;
                }
                if limit.is_full(cache.len()) {
                    limit.next_round(cache.len(), hits);
                    cache.clear();
                    hits = 0;
                }
                if limit.learning(hash) {
                    cache.insert(hash);
                }
            }
        }
        (last_hits as f64 / series as f64, limit.limit())
    }

    #[test]
    fn a_cache_grows_when_its_series_come_back_and_stays_small_when_they_cannot() {
        // Fewer series than the smallest cache: never full.
        assert_eq!(cyclic(700, 3), (1.0, CacheLimit::MIN));
        // More than the smallest, fewer than the largest: it grows and then holds them.
        let (rate, limit) = cyclic(20_000, 4);
        assert_eq!(limit, CacheLimit::MAX);
        assert_eq!(rate, 1.0);
        // More than the largest: no size would pay, it stays at the smallest.
        let (rate, limit) = cyclic(200_000, 3);
        assert_eq!(limit, CacheLimit::MIN);
        assert_eq!(rate, 0.0);
    }
}
