//! Synthetic metrics.jsonl files for tests and benchmarks.
//!
//! - [`generate`]: files in the exporter's shape, the middleware's instruments for
//!   several services and instances, with restarts and bad lines, and the exact
//!   answer they hold.
//! - [`disturb`]: what real exporters and log shippers do to such files (pauses,
//!   reordering, interleaving, re-sent lines), none of which changes their meaning.

pub mod disturb;
pub mod generate;
