//! metricsctl: query, check and convert OpenTelemetry metrics written as JSON Lines.
//!
//! The library holds everything; `main.rs` only calls [`run`].
//!
//! - [`record`]: one line of metrics.jsonl, parsed and validated.
//! - [`input`], [`scan`], [`backwards`]: reading files forwards in parallel blocks, and
//!   backwards from the end.
//! - [`engine`]: series and process semantics: exact increases across restarts.
//! - [`filter`], [`output`], [`stats`]: shared filters, output formats, histogram maths.
//! - [`prometheus`], [`exposition`]: the Prometheus writer and the latest samples it
//!   exposes (`to-prometheus`, `serve`, the embedded `/metrics`).
//! - [`line_writer`], [`otlp`], [`telemetry`]: producing metrics.jsonl: the seed-format
//!   writer, OTLP requests to lines (`receive`), the embedded exporters and middleware.
//! - [`cmd`]: one module per subcommand.

pub mod backwards;
pub mod cli;
pub mod cmd;
pub mod disturb;
pub mod engine;
pub mod exposition;
pub mod filter;
pub mod follow;
pub mod generate;
pub mod history;
pub mod input;
pub mod line_writer;
pub mod loadtest;
pub mod otlp;
pub mod output;
pub mod prometheus;
pub mod query;
pub mod record;
pub mod scan;
pub mod series;
pub mod stats;
pub mod telemetry;
pub mod template;
pub mod timestamp;

use std::io::{self, BufWriter, IsTerminal, LineWriter, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Parses the command line, runs the command, and turns the outcome into an exit code:
/// 0 success (a closed stdout pipe included), 1 error, 2 usage error.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run_command(cli.command) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("metricsctl: {}", output::sanitize(&format!("{e:#}")));
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}

fn run_command(command: Command) -> anyhow::Result<ExitCode> {
    let stdout = io::stdout();
    // Line-buffered on a terminal (and while following), block-buffered into pipes.
    let line_buffered = stdout.is_terminal() || matches!(&command, Command::Tail(t) if t.follow);
    let mut out: Box<dyn Write> = if line_buffered {
        Box::new(LineWriter::new(stdout.lock()))
    } else {
        Box::new(BufWriter::with_capacity(64 << 10, stdout.lock()))
    };
    let code = match command {
        Command::Tail(args) => cmd::tail::run(args, &mut out)?,
        Command::Sum(args) => cmd::sum::run(args, &mut out)?,
        Command::Rate(args) => cmd::rate::run(args, &mut out)?,
        Command::Quantile(args) => cmd::quantile::run(args, &mut out)?,
        Command::Check(args) => cmd::check::run(args, &mut out)?,
        Command::Explain(args) => cmd::explain::run(args, &mut out)?,
        Command::LoadTest(args) => cmd::load_test::run(args, &mut out)?,
        Command::Serve(args) => cmd::serve::run(args)?,
        Command::Receive(args) => cmd::receive::run(args)?,
        Command::ToPrometheus(args) => cmd::to_prometheus::run(args, &mut out)?,
        Command::Completions(args) => cmd::completions::run(args, &mut out)?,
    };
    out.flush()?;
    Ok(code)
}
