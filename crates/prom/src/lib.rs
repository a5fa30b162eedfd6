//! Prometheus from metrics.jsonl (docs/PROMETHEUS.md).
//!
//! - [`text`]: the exposition writer (text format 0.0.4 and OpenMetrics 1.0) and the
//!   naming rules.
//! - [`validate`]: a strict reader of the writer's output.
//! - [`exposition`]: the latest sample of every series, through the engine, for
//!   `to-prometheus`, `serve` and the embedded endpoint.
//! - [`history`]: every sample, sorted as OpenMetrics wants it, in bounded memory.

pub mod exposition;
pub mod history;
pub mod remote;
pub mod text;
pub mod validate;

pub use validate::validate_exposition;
