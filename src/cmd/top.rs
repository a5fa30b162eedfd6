//! `metricsctl top`: CLI glue for [`crate::top`].

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::TopArgs;
use crate::top::model::{TopOptions, GRPC_DURATION, GRPC_REQUESTS, HTTP_DURATION, HTTP_REQUESTS};
use crate::top::{self, TopPlan};
use crate::usage_error;
use metricsctl_format::timestamp::parse_duration;

/// Sparkline columns.
const HISTORY: usize = 30;

pub fn run(args: TopArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let window = parse_duration(&args.window)?;
    let step = parse_duration(&args.step)?;
    if window < metricsctl_format::timestamp::NANOS_PER_SEC || step < metricsctl_format::timestamp::NANOS_PER_SEC {
        usage_error!("--window and --step must be at least 1s");
    }
    let (requests, latency) = if args.grpc { (GRPC_REQUESTS, GRPC_DURATION) } else { (HTTP_REQUESTS, HTTP_DURATION) };
    let by_given = args.by != ["route"];
    let by = if args.grpc && !by_given { vec!["rpc.service".into(), "rpc.method".into()] } else { args.by };
    if by.iter().any(String::is_empty) {
        usage_error!("--by: empty label name");
    }
    let files =
        if args.files.is_empty() { vec![PathBuf::from(metricsctl_reader::input::DEFAULT_PATH)] } else { args.files };
    for f in &files {
        let source = metricsctl_reader::input::Source::from_arg(f);
        if source.is_stream() {
            usage_error!("{}: top follows plain files (not stdin or compressed files)", source.name);
        }
    }
    let plan = TopPlan {
        files,
        options: TopOptions {
            by,
            requests_metric: args.requests.unwrap_or_else(|| requests.into()),
            latency_metric: args.latency.unwrap_or_else(|| latency.into()),
            window,
            step,
            history: HISTORY,
        },
        screen: !args.once && std::io::stdout().is_terminal() && std::io::stdin().is_terminal(),
        once: args.once,
        format: args.format,
    };
    top::run(plan, out)?;
    Ok(ExitCode::SUCCESS)
}
