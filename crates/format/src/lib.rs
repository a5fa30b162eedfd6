//! The metrics.jsonl record format, in one place (docs/FORMAT.md).
//!
//! - [`value`]: the record model: types, numbers, histograms, attributes.
//! - [`record`]: the parser of one line, with its fast paths for the exporter's own
//!   bytes, and the parser state that makes them fast ([`record::LineParser`]).
//! - [`series`]: what identifies a series.
//! - [`histogram`]: histogram arithmetic: increases, sums across layouts, quantiles.
//! - [`template`]: lines of a known series recognised by their bytes.
//! - [`shape`]: lines of a known metric recognised by their bytes but for their
//!   attribute values (more series than templates can hold).
//! - [`write`]: the one writer of the line format, and the appender that writes
//!   whole lines to a file.
//! - [`timestamp`]: RFC 3339 timestamps, durations, time arguments.
//! - [`text`]: label sets and untrusted text for people.

pub mod histogram;
pub mod record;
pub mod series;
pub mod shape;
pub mod template;
pub mod text;
pub mod timestamp;
pub mod value;
pub mod write;
