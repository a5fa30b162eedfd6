//! One module per subcommand, each with a `run` function; what several share here.

pub mod check;
pub mod completions;
pub mod explain;
pub mod load_test;
pub mod quantile;
pub mod query;
pub mod rate;
pub mod receive;
pub mod serve;
pub mod sum;
pub mod tail;
pub mod to_prometheus;

use metricsctl_engine::group::Grouper;

use crate::output::Cell;

/// The group columns of one group's row.
pub fn group_cells(grouper: &Grouper, group: usize) -> Vec<Cell> {
    let key = &grouper.keys[group];
    let mut c = Vec::new();
    if grouper.show_metric() {
        c.push(Cell::Text(key.metric.clone()));
    }
    c.extend(key.labels.iter().map(|v| Cell::Json(v.to_json())));
    c
}

/// Says on stderr that nothing matched, naming the metrics asked for.
pub fn warn_nothing_matched(metrics: &[String], default: &str) {
    let wanted = if metrics.is_empty() { default.to_string() } else { metrics.join(", ") };
    eprintln!("warning: no series matched (metric {wanted}, with the filters given)");
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, the ways a long-running command is stopped.
pub async fn termination() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
