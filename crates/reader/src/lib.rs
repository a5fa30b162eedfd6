//! Reading metrics.jsonl files (docs/FORMAT.md, "Reading").
//!
//! - [`input`]: sources (plain files, compressed by content, stdin), their order, the
//!   block reader and the file ranges parser threads read themselves.
//! - [`scan`]: the parallel reader: blocks parsed by a [`scan::BlockParser`] per worker,
//!   handed on in input order.
//! - [`matcher`]: which metric names a read keeps, tested before a line is parsed.
//! - [`backwards`]: the newest lines of a file, independent of its size.
//! - [`follow`]: following a file by name across rotation and truncation.

pub mod backwards;
pub mod follow;
pub mod input;
pub mod matcher;
pub mod scan;
