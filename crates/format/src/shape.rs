//! Lines of one metric of one process are written with the same bytes except for their
//! timestamp, their value and the values of their attributes. When there are more series
//! than the parsers' template caches hold (a `user_id` label: a million series, each line
//! seen once per export), the caches rest ([`crate::template::CacheLimit`]) and every
//! line would be parsed in full. A shape recognises those lines by what they share.
//!
//! A shape is learnt from a line that parsed, split as templates split it
//! ([`Split`]): its HEAD, MIDDLE and TAIL, where the part holding the top-level
//! `"attributes"` object has the contents of that object's string values cut out (the
//! holes). A line matches when its other two parts are equal to the shape's, and its
//! third is the shape's text with something in each hole that has no `"`, `\` or control
//! character and is UTF-8.
//!
//! Why this is exact: such a hole is the whole contents of a JSON string with no escape,
//! so the matching line has the learnt line's tokens in the learnt line's places, only
//! the characters inside those strings differ. Parsed in full, it gives the learnt
//! line's record with those attribute values, and its split cuts it at the same places
//! (the template argument in [`crate::template`] holds for the rest). Its series is
//! then the learnt series' metric identity and metadata with the attributes put
//! together from the learnt keys, the learnt non-string values and the holes, sorted as
//! a parse sorts them. Each shape checks, when it is learnt, that it makes the learnt
//! line's series from the learnt line.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::Arc;

use foldhash::fast::FixedState;

use crate::record::{parse_label_set, LineParser, Record};
use crate::series::{ChunkSeries, FingerprintPrefix, SeriesKey};
use crate::template::{skip_space, skip_string, skip_value, Split, Template};
use crate::value::{AttrRef, AttrValue, Labels};

/// Shapes a parser keeps at most (a metric per process takes one; hostile input many).
const MAX_SHAPES: usize = 1 << 12;

const NO_SHAPE: u32 = u32::MAX;

/// Holes a line's series is made from without a heap allocation (most lines have few).
const INLINE_HOLES: usize = 8;

/// Where a label's value comes from in a matching line.
enum LabelValue {
    /// The contents of the hole with this index.
    Hole(usize),
    /// A number or boolean: part of the shape's text, the same in every line.
    Fixed(AttrValue),
}

struct Shape {
    /// The learnt line's template: its series gives the metric identity and metadata.
    template: Template,
    fingerprint: FingerprintPrefix,
    /// Which part (0 HEAD, 1 MIDDLE, 2 TAIL) holds the attributes.
    part: usize,
    /// The two other parts, in order.
    fixed: [Box<[u8]>; 2],
    /// The part holding the attributes, cut at the holes: one more piece than holes.
    pieces: Vec<Box<[u8]>>,
    /// The labels in key order, as a parse sorts them.
    labels: Vec<(Box<str>, LabelValue)>,
    timestamp_first: bool,
    /// The shape matched after this one last time (lines of a few metrics take turns).
    next: Cell<u32>,
}

/// The shapes one parser has learnt. Owned by the block parser, like its templates.
#[derive(Default)]
pub struct ShapeCache {
    shapes: Vec<Shape>,
    /// By the hash of the two parts without holes, and which part has them.
    by_hash: HashMap<u64, Vec<u32>, FixedState>,
    /// The parts that hold the holes of some shape: a lookup hashes the other two.
    holes_in: [bool; 3],
    last: Cell<u32>,
    /// The holes of the line matched last, in its part.
    holes: Vec<Range<usize>>,
}

fn parts<'a>(split: &Split<'a>) -> [&'a [u8]; 3] {
    [split.head, split.middle, split.tail]
}

fn others(part: usize) -> [usize; 2] {
    match part {
        0 => [1, 2],
        1 => [0, 2],
        _ => [0, 1],
    }
}

fn fixed_hash(split: &Split<'_>, part: usize) -> u64 {
    let parts = parts(split);
    let [a, b] = others(part);
    FixedState::with_seed(13).hash_one((parts[a], parts[b], part, split.timestamp_first))
}

impl Shape {
    /// Whether the line has this shape; its holes' ranges (in the part) go to `holes`.
    fn matches(&self, split: &Split<'_>, holes: &mut Vec<Range<usize>>) -> bool {
        let parts = parts(split);
        let [a, b] = others(self.part);
        if self.timestamp_first != split.timestamp_first || *self.fixed[0] != *parts[a] || *self.fixed[1] != *parts[b] {
            return false;
        }
        // A type inferred from the value is another series when the value changes kind.
        if self.template.type_inferred && self.template.value_is_object != split.value_is_object() {
            return false;
        }
        let text = parts[self.part];
        holes.clear();
        let Some(mut at) = text.starts_with(&self.pieces[0]).then_some(self.pieces[0].len()) else { return false };
        for piece in &self.pieces[1..] {
            let Some(len) = memchr::memchr2(b'"', b'\\', &text[at..]) else { return false };
            let hole = at..at + len;
            if text[hole.end] != b'"' || text[hole.clone()].iter().any(|&b| b < 0x20) {
                return false;
            }
            at = hole.end;
            holes.push(hole);
            if !text[at..].starts_with(piece) {
                return false;
            }
            at += piece.len();
        }
        at == text.len()
    }

    /// The series of a line that matched, from its holes; `None` when a hole is not UTF-8.
    fn series(&self, split: &Split<'_>, holes: &[Range<usize>]) -> Option<ChunkSeries> {
        let text = parts(split)[self.part];
        // Each hole is checked once: `from_pairs` walks the pairs several times.
        let mut inline = [""; INLINE_HOLES];
        let spilled: Vec<&str>;
        let values: &[&str] = if holes.len() <= INLINE_HOLES {
            for (slot, hole) in inline.iter_mut().zip(holes) {
                *slot = std::str::from_utf8(&text[hole.clone()]).ok()?;
            }
            &inline[..holes.len()]
        } else {
            spilled = holes.iter().map(|hole| std::str::from_utf8(&text[hole.clone()]).ok()).collect::<Option<_>>()?;
            &spilled
        };
        let attributes = Labels::from_pairs(self.labels.iter().map(|(key, value)| {
            let value = match value {
                LabelValue::Hole(i) => AttrRef::Str(values[*i]),
                LabelValue::Fixed(v) => v.as_ref(),
            };
            (&**key, value)
        }))?;
        let learnt = &self.template.series;
        Some(ChunkSeries {
            fingerprint: self.fingerprint.fingerprint(&attributes),
            key: SeriesKey { metric_info: Arc::clone(&learnt.key.metric_info), attributes },
        })
    }
}

impl ShapeCache {
    pub fn template(&self, found: u32) -> &Template {
        &self.shapes[found as usize].template
    }

    /// The series of the line [`ShapeCache::find`] matched last; `None` when one of its
    /// attribute values is not UTF-8.
    pub fn series(&self, found: u32, split: &Split<'_>) -> Option<ChunkSeries> {
        self.shapes[found as usize].series(split, &self.holes)
    }

    /// The shape of the line, if one was learnt ([`ShapeCache::template`],
    /// [`ShapeCache::series`]).
    pub fn find(&mut self, split: &Split<'_>) -> Option<u32> {
        if self.shapes.is_empty() {
            return None;
        }
        let previous = self.shapes.get(self.last.get() as usize);
        let predicted = previous.map(|p| p.next.get()).filter(|&i| i != NO_SHAPE);
        if let Some(i) = predicted {
            if self.shapes[i as usize].matches(split, &mut self.holes) {
                self.last.set(i);
                return Some(i);
            }
        }
        for part in (0..3).filter(|&p| self.holes_in[p]) {
            let Some(candidates) = self.by_hash.get(&fixed_hash(split, part)) else { continue };
            if let Some(&i) = candidates.iter().find(|&&i| self.shapes[i as usize].matches(split, &mut self.holes)) {
                if let Some(p) = previous {
                    p.next.set(i);
                }
                self.last.set(i);
                return Some(i);
            }
        }
        None
    }

    /// Learns the shape of a line that parsed into `record` and `series`, when its
    /// attributes have string values to cut out and the shape remakes the series.
    pub fn learn(&mut self, line: &[u8], record: &Record<'_>, series: &Arc<ChunkSeries>, parser: &mut LineParser) {
        let Some(split) = Split::new(line) else { return };
        if self.find(&split).is_some() {
            return;
        }
        let Some(attributes) = record.attributes else { return };
        let Some(attributes_at) = (attributes.get().as_ptr() as usize).checked_sub(line.as_ptr() as usize) else {
            return;
        };
        let attributes_end = attributes_at + attributes.get().len();
        let part_starts = parts(&split).map(|p| p.as_ptr() as usize - line.as_ptr() as usize);
        let Some(part) = (0..3)
            .find(|&p| part_starts[p] <= attributes_at && attributes_end <= part_starts[p] + parts(&split)[p].len())
        else {
            return;
        };
        let text = parts(&split)[part];
        let object = attributes_at - part_starts[part]..attributes_end - part_starts[part];
        let Some(members) = string_members(text, object) else { return };
        if members.is_empty() {
            return;
        }
        let Ok(parsed) = parse_label_set(Some(attributes), "attributes") else { return };
        let mut labels = Vec::with_capacity(parsed.len());
        for (key, value) in parsed {
            let hole = members.iter().position(|(k, _)| *k == key.as_bytes());
            let value = match (hole, value) {
                (Some(i), AttrValue::Str(_)) => LabelValue::Hole(i),
                (None, v @ (AttrValue::Num(_) | AttrValue::Bool(_))) => LabelValue::Fixed(v),
                _ => return,
            };
            labels.push((key.into_boxed_str(), value));
        }
        let Some(template) = Template::checked(&split, record, series, parser) else { return };
        let mut pieces = Vec::with_capacity(members.len() + 1);
        let mut at = 0;
        for (_, hole) in &members {
            pieces.push(text[at..hole.start].into());
            at = hole.end;
        }
        pieces.push(text[at..].into());
        let [a, b] = others(part);
        let shape = Shape {
            fingerprint: FingerprintPrefix::new(&series.key.metric_info.key),
            template,
            part,
            fixed: [parts(&split)[a].into(), parts(&split)[b].into()],
            pieces,
            labels,
            timestamp_first: split.timestamp_first,
            next: Cell::new(NO_SHAPE),
        };
        // The shape must remake the learnt line's series from the learnt line.
        let mut holes = Vec::new();
        let remade = shape.matches(&split, &mut holes).then(|| shape.series(&split, &holes)).flatten();
        if !remade.is_some_and(|s| s.key == series.key && s.fingerprint == series.fingerprint) {
            return;
        }
        if self.shapes.len() >= MAX_SHAPES {
            *self = ShapeCache::default();
        }
        self.by_hash.entry(fixed_hash(&split, part)).or_default().push(self.shapes.len() as u32);
        self.holes_in[part] = true;
        self.shapes.push(shape);
    }
}

/// The members of the object at `object` in `text` whose values are strings: each key's
/// text and the range of its value's contents. `None` when the object is not a flat
/// object of plain members.
fn string_members(text: &[u8], object: Range<usize>) -> Option<Vec<(&[u8], Range<usize>)>> {
    let end = object.end;
    let mut i = skip_space(text, object.start);
    if text.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_space(text, i + 1);
    let mut members = Vec::new();
    if text.get(i) == Some(&b'}') {
        return Some(members);
    }
    loop {
        if text.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(text, i)?;
        let key = &text[i + 1..key_end - 1];
        i = skip_space(text, key_end);
        if text.get(i) != Some(&b':') {
            return None;
        }
        let value = skip_space(text, i + 1);
        let value_end = match text.get(value)? {
            b'"' => {
                let value_end = skip_string(text, value)?;
                members.push((key, value + 1..value_end - 1));
                value_end
            }
            b'{' | b'[' => return None,
            _ => skip_value(text, value)?,
        };
        i = skip_space(text, value_end);
        match text.get(i)? {
            b',' => i = skip_space(text, i + 1),
            b'}' if i + 1 == end => return Some(members),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_line;
    use crate::series::make_series;

    fn learnt(lines: &[&str]) -> ShapeCache {
        let mut cache = ShapeCache::default();
        let mut parser = LineParser::default();
        for line in lines {
            let record = parse_line(line).unwrap();
            let series = Arc::new(make_series(&record).unwrap());
            cache.learn(line.as_bytes(), &record, &series, &mut parser);
        }
        cache
    }

    /// What the shape makes of a line, next to what a full parse makes of it.
    fn both(cache: &mut ShapeCache, line: &str) -> (Option<String>, Option<String>) {
        let full = parse_line(line).ok().and_then(|r| Some(format!("{:?}", make_series(&r).ok()?.key)));
        let split = Split::new(line.as_bytes()).unwrap();
        let shaped = cache.find(&split).and_then(|found| cache.series(found, &split)).map(|s| {
            assert_eq!(s.fingerprint, s.key.fingerprint());
            format!("{:?}", s.key)
        });
        (shaped, full)
    }

    #[test]
    fn a_shape_makes_the_series_a_parse_makes_and_refuses_what_it_cannot_vouch_for() {
        let line = |attrs: &str| {
            format!(
                r#"{{"timestamp":"2025-01-01T00:00:00Z","metric_name":"m_total","metric_type":"counter","value":1,"attributes":{attrs},"resource":{{"host":"h"}}}}"#
            )
        };
        let mut cache = learnt(&[&line(r#"{"z":"a","code":200,"b":"x"}"#)]);
        let (shaped, full) = both(&mut cache, &line(r#"{"z":"other","code":200,"b":"ü"}"#));
        assert!(shaped.is_some());
        assert_eq!(shaped, full);
        let (shaped, full) = both(&mut cache, &line(r#"{"z":"","code":200,"b":"y"}"#));
        assert_eq!(shaped, full);
        // Another fixed value, a quote, a control character: not this shape.
        for attrs in [r#"{"z":"a","code":500,"b":"x"}"#, "{\"z\":\"a\u{1}\",\"code\":200,\"b\":\"x\"}"] {
            assert_eq!(both(&mut cache, &line(attrs)).0, None, "{attrs}");
        }
        // Another key order is another shape; a value that is not a string, too.
        assert_eq!(both(&mut cache, &line(r#"{"b":"x","code":200,"z":"a"}"#)).0, None);
        assert_eq!(both(&mut cache, &line(r#"{"z":1,"code":200,"b":"x"}"#)).0, None);
    }

    #[test]
    fn a_shape_holds_in_any_key_order() {
        let line = |user: &str| {
            format!(
                r#"{{"resource":{{"service.name":"s"}},"attributes":{{"user_id":"{user}","route":"/a"}},"value":3,"metric_name":"m_total","timestamp":"2025-01-01T00:00:00Z"}}"#
            )
        };
        let mut cache = learnt(&[&line("u1")]);
        let (shaped, full) = both(&mut cache, &line("u2"));
        assert!(shaped.is_some());
        assert_eq!(shaped, full);
    }
}
