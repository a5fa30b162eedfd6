//! One module per subcommand, each with a `run` function; what several share here.

pub mod check;
pub mod completions;
pub mod explain;
pub mod load_test;
pub mod quantile;
pub mod query;
pub mod rate;
pub mod receive;
pub mod remote_write;
pub mod serve;
pub mod sum;
pub mod tail;
pub mod to_prometheus;
pub mod top;

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

/// Set by SIGINT or SIGTERM while following files, so that a command can say what it
/// has to say (bad lines counted) before it exits.
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn request_stop(_: libc::c_int) {
    STOP.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// From now on SIGINT and SIGTERM set [`stop_requested`] instead of killing the process.
pub fn stop_on_signals() {
    let handler = request_stop as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

pub fn stop_requested() -> bool {
    STOP.load(std::sync::atomic::Ordering::Relaxed)
}
