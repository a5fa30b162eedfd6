//! Lines of one series repeat byte for byte except for their timestamp and value: an
//! exporter writes the same keys in the same order every time. Once a parser has parsed
//! a line of a series, it recognises the next ones by comparing the rest of the line, and
//! reads only their timestamp and value. On the files this tool reads, that is most lines,
//! at a fraction of the cost of a JSON parse.
//!
//! A line is split as `{"timestamp":"` TS + MIDDLE + VALUE + TAIL, where MIDDLE runs from
//! the quote after TS to the end of the first `"value":` and holds no `\`, `{` or `[`
//! (so it stays at the top level of the object, outside any string), and VALUE ends at
//! the first `,` or `}` (a number) or after the first `},"` (an object).
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
use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::FixedState;
use std::hash::BuildHasher;

use crate::record::{LineParser, MetricType, Record, SampleValue};
use crate::series::ChunkSeries;

const PREFIX: &[u8] = b"{\"timestamp\":\"";
const VALUE_KEY: &[u8] = b"\"value\":";

/// A line cut into its parts (see the module's documentation).
pub struct Split<'a> {
    pub timestamp: &'a [u8],
    pub middle: &'a [u8],
    pub value: &'a [u8],
    pub tail: &'a [u8],
}

impl<'a> Split<'a> {
    pub fn new(line: &'a [u8]) -> Option<Split<'a>> {
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
            timestamp: &line[PREFIX.len()..after_timestamp],
            middle,
            value: &value[..value_len],
            tail: &value[value_len..],
        })
    }

    pub fn value_is_object(&self) -> bool {
        self.value.first() == Some(&b'{')
    }

    fn hash(&self) -> u64 {
        FixedState::with_seed(11).hash_one((self.middle, self.tail))
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

struct Entry {
    /// MIDDLE then TAIL.
    text: Box<[u8]>,
    middle_len: usize,
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
        self.middle_len == split.middle.len()
            && self.text.len() == split.middle.len() + split.tail.len()
            && &self.text[..self.middle_len] == split.middle
            && &self.text[self.middle_len..] == split.tail
            // A series whose type was inferred from its value is another series when
            // the value changes kind.
            && (!self.template.type_inferred || self.template.value_is_object == split.value_is_object())
    }
}

/// Above this many templates (hostile input) the cache starts over.
const TEMPLATE_LIMIT: usize = 1 << 16;

const NO_ENTRY: u32 = u32::MAX;

/// The templates one parser has learnt, with the entry it hit last (to predict the
/// next). Owned by the block parser that learnt them; a fresh cache knows none.
pub struct TemplateCache {
    entries: Vec<Entry>,
    by_hash: HashMap<u64, Vec<u32>, FixedState>,
    /// The entry hit last.
    last: Cell<u32>,
}

impl Default for TemplateCache {
    fn default() -> TemplateCache {
        TemplateCache { entries: Vec::new(), by_hash: HashMap::default(), last: Cell::new(NO_ENTRY) }
    }
}

impl TemplateCache {
    /// The template whose MIDDLE and TAIL the line has, if one was learnt, and the slot
    /// where the caller keeps the series' index in its chunk.
    pub fn find(&self, split: &Split<'_>) -> Option<(&Template, &Cell<(u64, u32)>)> {
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
        let entry = &self.entries[found as usize];
        Some((&entry.template, &entry.chunk_slot))
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
        if memchr::memchr(b'\\', split.tail).is_some() {
            return;
        }
        let template = Template {
            series: Arc::clone(series),
            metric_name: record.metric_name.as_ref().into(),
            metric_type: record.metric_type,
            type_inferred: record.type_inferred,
            value_is_object: split.value_is_object(),
            delta: record.delta,
            start_timestamp: record.start_timestamp,
        };
        // The value must have been cut where it ends, and the timestamp read as the parse did.
        if split.parse_value(&template, parser).as_ref() != Some(&record.value)
            || split.parse_timestamp() != Some(record.timestamp)
        {
            return;
        }
        let hash = split.hash();
        if self.entries.len() >= TEMPLATE_LIMIT {
            *self = TemplateCache::default();
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
        let mut text = Vec::with_capacity(split.middle.len() + split.tail.len());
        text.extend_from_slice(split.middle);
        text.extend_from_slice(split.tail);
        self.entries.push(Entry {
            text: text.into_boxed_slice(),
            middle_len: split.middle.len(),
            template,
            next: Cell::new(NO_ENTRY),
            chunk_slot: Cell::new((0, 0)),
        });
    }
}
