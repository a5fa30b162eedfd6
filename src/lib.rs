//! metricsctl, the command: the command line, one module per subcommand, the load
//! test, and output for people and programs. Everything it reads, computes and writes
//! is in the library crates (docs/ARCHITECTURE.md); `main.rs` only calls [`run`].

pub mod cli;
pub mod cmd;
pub mod loadtest;
pub mod output;
pub mod top;

use std::io::{self, BufWriter, IsTerminal, LineWriter, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

pub use metricsctl_engine::{usage_error, UsageError};

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
            // Messages that span lines (a regex error points at the pattern) keep them;
            // nothing else from the input reaches the terminal unescaped.
            let text = format!("{e:#}");
            let lines: Vec<_> = text.lines().map(output::sanitize).collect();
            eprintln!("metricsctl: {}", lines.join("\n"));
            let usage = e.chain().any(|c| c.downcast_ref::<UsageError>().is_some());
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// Whether the error is a closed stdout pipe, however the writer wrapped it (CSV and
/// JSON writers keep the io::Error inside their own).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let kind = c
            .downcast_ref::<io::Error>()
            .map(io::Error::kind)
            .or_else(|| c.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind))
            .or_else(|| match c.downcast_ref::<csv::Error>().map(csv::Error::kind) {
                Some(csv::ErrorKind::Io(io)) => Some(io.kind()),
                _ => None,
            });
        kind == Some(io::ErrorKind::BrokenPipe)
    })
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
        Command::Top(args) => cmd::top::run(args, &mut out)?,
        Command::Receive(args) => cmd::receive::run(args)?,
        Command::RemoteWrite(args) => cmd::remote_write::run(args, &mut out)?,
        Command::Query(args) => cmd::query::run(args, &mut out)?,
        Command::ToPrometheus(args) => cmd::to_prometheus::run(args, &mut out)?,
        Command::Completions(args) => cmd::completions::run(args, &mut out)?,
    };
    out.flush()?;
    Ok(code)
}
