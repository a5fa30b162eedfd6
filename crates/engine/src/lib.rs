//! Series and process semantics over metrics.jsonl (docs/SEMANTICS.md).
//!
//! - [`engine`]: cumulative snapshots to exact increases: exports, restarts,
//!   duplicates, conflicts.
//! - [`filter`]: the filters every query shares, as plain values.
//! - [`query`]: a query's run: the parallel reader into the engine and a sink, and
//!   what it found about the input.
//! - [`group`]: series filed into groups by label values.
//! - [`sum`]: totals by group, the question `sum`, `explain` and `load-test` ask.
//! - [`live`]: files still being written, followed and fed as they grow.

pub mod engine;
pub mod filter;
pub mod group;
pub mod live;
pub mod query;
pub mod sum;

/// A mistake in how a query was asked (a window that ends before it starts, a label
/// that does not exist), as opposed to a problem with the input: exit 2, like clap's.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Returns a [`UsageError`] from the enclosing function.
#[macro_export]
macro_rules! usage_error {
    ($($arg:tt)*) => {
        return Err($crate::UsageError(format!($($arg)*)).into())
    };
}
