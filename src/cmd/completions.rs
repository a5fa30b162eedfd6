//! `metricsctl completions SHELL`: clap_complete's script for the shell.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionsArgs};

/// The committed file name of each shell's script under `completions/`.
pub fn file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "metricsctl.bash",
        Shell::Zsh => "_metricsctl",
        Shell::Fish => "metricsctl.fish",
        Shell::PowerShell => "_metricsctl.ps1",
        Shell::Elvish => "metricsctl.elv",
        _ => "metricsctl.unknown",
    }
}

pub fn script(shell: Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "metricsctl", &mut buf);
    buf
}

pub fn run(args: CompletionsArgs, out: &mut dyn Write) -> Result<ExitCode> {
    out.write_all(&script(args.shell))?;
    Ok(ExitCode::SUCCESS)
}
