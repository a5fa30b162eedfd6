//! `metricsctl load-test`: CLI glue for [`crate::loadtest`].

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::cli::LoadTestArgs;
use crate::loadtest::{self, LoadTestPlan};
use crate::output::Terminal;
use metricsctl_format::timestamp::parse_duration;
use metricsctl_otel::config::MetricsConfig;

pub fn run(args: LoadTestArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let config = MetricsConfig::load(&args.metrics)?;
    let duration = match &args.duration {
        Some(d) => {
            let nanos = parse_duration(d)?;
            if nanos <= 0 {
                bail!("-z must be positive");
            }
            Some(std::time::Duration::from_nanos(nanos as u64))
        }
        None => None,
    };
    if args.rate.is_some_and(|q| !(q > 0.0 && q.is_finite())) {
        bail!("-q must be a positive number of requests per second");
    }
    if args.connections == 0 {
        bail!("-c must be at least 1");
    }
    let plan = LoadTestPlan {
        requests: args.requests,
        duration,
        connections: args.connections,
        rate: args.rate,
        url: args.url.clone(),
        no_middleware: args.no_middleware,
        listen: args.listen,
        serve_only: args.serve_only,
        grpc: args.grpc,
        progress: std::io::stderr().is_terminal() && !args.serve_only,
        live: !args.serve_only
            && !args.no_live
            && (args.live || (std::io::stderr().is_terminal() && std::io::stdin().is_terminal())),
    };
    let summary = loadtest::run(plan, &config)?;
    loadtest::write_summary(&summary, args.format, Terminal::detect(), out)?;
    out.flush()?;
    if let Some(check) = &summary.cross_check {
        if !check.ok {
            bail!(
                "cross-check failed: the client counted {} requests, {} in {} says {}",
                check.client_total,
                check.metric,
                summary.metrics_file.as_deref().unwrap_or("-"),
                check.file_total
            );
        }
    }
    // Like a shell: 128 + SIGINT, after the final snapshot was written.
    Ok(if summary.interrupted { ExitCode::from(130) } else { ExitCode::SUCCESS })
}
