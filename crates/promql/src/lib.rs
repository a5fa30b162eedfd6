//! PromQL over metrics files (docs/PROMQL.md), answering as Prometheus 2.x does over the
//! same file backfilled with `to-prometheus --history`, without a Prometheus.
//!
//! - [`store`]: the samples of the series to-prometheus exposes, fed by the engine,
//!   kept only as far back as the query looks.
//! - [`eval`]: the evaluator over promql-parser's syntax tree; [`functions`] holds the
//!   function library and [`value`] the value types and Prometheus' API JSON.
//! - [`plan`]: what a query reads: the metrics for the reader's pre-check, and how far
//!   back and forward it looks.

pub mod eval;
pub mod functions;
pub mod plan;
pub mod store;
pub mod value;

pub use eval::{evaluate, EvalOptions, QueryTimes};
pub use plan::Plan;
pub use store::SeriesStore;
pub use value::Value;

/// Parses a query, with the parser's message (and position) on error.
pub fn parse(query: &str) -> Result<promql_parser::parser::Expr, String> {
    promql_parser::parser::parse(query)
}
