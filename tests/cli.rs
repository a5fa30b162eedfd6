//! The command-line contract: exit codes, broken pipes, default path, completions.

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};

use clap_complete::Shell;
use predicates::prelude::*;

#[test]
fn usage_errors_exit_2() {
    metricsctl().args(["sum", "--bogus"]).assert().code(2);
    metricsctl().assert().code(2);
    metricsctl().args(["--version"]).assert().success();
}

#[test]
fn errors_exit_1_with_context() {
    let dir = tempfile::tempdir().unwrap();
    metricsctl()
        .current_dir(dir.path())
        .args(["sum"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("metricsctl: cannot open logs/metrics.jsonl"));
    metricsctl()
        .args(["sum", "--since", "yesterday", &fixture("restarts.jsonl")])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("invalid time \"yesterday\""));
    metricsctl()
        .args(["sum", "-w", "route", &fixture("restarts.jsonl")])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("expected KEY=VALUE"));
}

#[test]
fn default_input_is_logs_metrics_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    std::fs::copy(fixture_path("seed_timeline.jsonl"), dir.path().join("logs/metrics.jsonl")).unwrap();
    metricsctl().current_dir(dir.path()).args(["sum", "--format", "csv"]).assert().success().stdout("value\n40\n");
}

#[test]
fn broken_pipe_exits_0_silently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.jsonl");
    let line = std::fs::read_to_string(fixture_path("seed_timeline.jsonl")).unwrap();
    std::fs::write(&path, line.repeat(20_000)).unwrap();
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("metricsctl"))
        .args(["tail", "-n", "50000"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(!first.is_empty());
    // stdout's reader is gone now, as after `| head -1`.
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn no_color_and_pipes_get_plain_ascii_tables() {
    let out =
        metricsctl().env("NO_COLOR", "1").args(["sum", "by", "route", &fixture("restarts.jsonl")]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.is_ascii(), "{text}");
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn committed_completions_match_the_cli() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let update = std::env::var_os("UPDATE_COMPLETIONS").is_some();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell, Shell::Elvish] {
        let name = metricsctl::cmd::completions::file_name(shell);
        let generated = metricsctl().args(["completions", &shell.to_string()]).output().unwrap().stdout;
        assert!(!generated.is_empty());
        let path = dir.join(name);
        if update {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "completions/{name} is out of date: run `UPDATE_COMPLETIONS=1 cargo test --test cli committed_completions`"
        );
    }
}
