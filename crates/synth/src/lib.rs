//! Synthetic metrics.jsonl files for tests and benchmarks.
//!
//! - [`generate`]: files in the exporter's shape, the middleware's instruments for
//!   several services and instances, with restarts and bad lines, and the exact
//!   answer they hold.
//! - [`disturb`]: what real exporters and log shippers do to such files (pauses,
//!   reordering, interleaving, re-sent lines), none of which changes their meaning.
//! - [`shape`]: the same records as other writers put them on a line (no "+Inf" bucket,
//!   no resource, other time styles, other key orders).

pub mod disturb;
pub mod generate;
pub mod shape;
