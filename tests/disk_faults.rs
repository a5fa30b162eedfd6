//! The exporter when the disk fails under it: a file size limit (`ulimit -f`), a full
//! file system and a read-only one. The service keeps serving, the error is said on
//! stderr, and exports resume when the cause goes away. The file systems are real:
//! a small tmpfs mounted for the test (these tests run as root, as CI does).

mod common;
use common::*;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Lines of `path` that do not parse, by 1-based number.
fn damaged_lines(path: &Path) -> Vec<usize> {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    text.split_terminator('\n')
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && metricsctl_format::record::parse_line(l).is_err())
        .map(|(i, _)| i + 1)
        .collect()
}

#[test]
fn a_file_size_limit_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.jsonl");
    let bin = assert_cmd::cargo::cargo_bin("metricsctl");
    // 32 KiB: a few exports fit, then every write fails with EFBIG (SIGXFSZ would kill).
    let script = format!(
        "ulimit -f 32; exec '{}' load-test -z 3s -c 4 -q 400 --export-interval 100ms --json-file-path '{}' --format json",
        bin.display(),
        file.display()
    );
    let out = StdCommand::new("bash").arg("-c").arg(&script).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), None, "killed by a signal: {stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    assert!(stderr.contains("the service goes on"), "{stderr}");
    // The server answered every request all along.
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary["requests"].as_u64().unwrap() > 500, "{summary}");
    assert_eq!(summary["errors"], serde_json::json!({}), "{summary}");
    // The final snapshot could not be written, and the cross-check says so (exit 1).
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cross-check failed"), "{stderr}");
    // The file stopped at the limit with whole exports and at most one partial line.
    assert!(std::fs::metadata(&file).unwrap().len() <= 32 * 1024);
    let damaged = damaged_lines(&file);
    assert!(damaged.len() <= 1, "{damaged:?}");
}

/// A tmpfs of `size` mounted on a new directory; unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let status = StdCommand::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", at.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success(), "cannot mount a tmpfs (these tests need root, as in CI)");
        Tmpfs(at.to_path_buf())
    }

    fn remount(&self, options: &str) -> bool {
        StdCommand::new("mount")
            .args(["-o", &format!("remount,{options}"), self.0.to_str().unwrap()])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = StdCommand::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_and_a_read_only_file_system_are_survived_and_exports_resume() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(&dir.path().join("mnt"), "8m");
    let file = fs.0.join("metrics.jsonl");
    let mut load = Running::start(&[
        "load-test",
        "-z",
        "10s",
        "-c",
        "4",
        "-q",
        "300",
        "--export-interval",
        "100ms",
        "--json-file-path",
        file.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let started = Instant::now();
    while std::fs::metadata(&file).map_or(0, |m| m.len()) < 10_000 {
        assert!(started.elapsed() < Duration::from_secs(10), "nothing exported");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Fill the file system: the next exports fail with ENOSPC.
    let filler_path = fs.0.join("filler");
    let mut filler = std::fs::File::create(&filler_path).unwrap();
    while filler.write_all(&[0u8; 4096]).is_ok() {}
    drop(filler);
    load.wait_for("No space left on device");

    // Read-only: the exporter closed the file after the failed write, so the remount
    // goes through between two retries; reopening then fails with EROFS.
    let started = Instant::now();
    while !fs.remount("ro") {
        assert!(started.elapsed() < Duration::from_secs(10), "the file system stayed busy");
        std::thread::sleep(Duration::from_millis(20));
    }
    load.wait_for("Read-only file system");

    // The cause goes away: exports resume.
    assert!(fs.remount("rw"));
    std::fs::remove_file(&filler_path).unwrap();
    load.wait_for("again, after");

    let (status, stdout, stderr) = load.wait(Duration::from_secs(30));
    // The final snapshot landed, and the cumulative totals are exact: the cross-check
    // (client counts against the file, per route) passes.
    assert!(status.success(), "{stderr:#?}\n{stdout}");
    let summary: Value = serde_json::from_slice(stdout.as_bytes()).unwrap();
    assert_eq!(summary["cross_check"]["ok"], true, "{summary}");
    assert_eq!(summary["errors"], serde_json::json!({}), "the service served throughout: {summary}");
    // The write cut short by ENOSPC is one bad line; the export after it is intact.
    let damaged = damaged_lines(&file);
    assert!(damaged.len() <= 1, "{damaged:?}");
}
