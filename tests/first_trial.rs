//! What a first trial as a new user hit (issue 14), one test per defect, each running
//! the binary.

mod common;
use common::*;
use predicates::prelude::*;
use serde_json::json;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn counter(ts: &str, metric: &str, value: &str, extra: &str) -> String {
    format!(
        r#"{{"timestamp":"{ts}","service_name":"s","metric_name":"{metric}","metric_type":"counter","value":{value}{extra}}}"#
    ) + "\n"
}

/// 1. An output that is one of the inputs is refused, a link to it included.
#[test]
fn output_that_is_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "m.jsonl", &std::fs::read_to_string(fixture("restarts.jsonl")).unwrap());
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    for output in [file.clone(), link.display().to_string()] {
        metricsctl()
            .args(["to-prometheus", "-o", &output, &file])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("is the input"));
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), std::fs::read_to_string(fixture("restarts.jsonl")).unwrap());
}

/// 2. A negative counter is a bad line, cumulative or delta.
#[test]
fn negative_counters_are_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let text = counter("2025-01-01T00:00:00Z", "c_total", "-7", "")
        + &counter("2025-01-01T00:00:10Z", "c_total", "-5", "")
        + &counter("2025-01-01T00:00:20Z", "c_total", "4", "")
        + &counter("2025-01-01T00:00:30Z", "d_total", "-2", r#","temporality":"delta""#);
    let file = write(&dir, "neg.jsonl", &text);
    metricsctl()
        .args(["sum", "-m", "c_total", &file])
        .assert()
        .success()
        .stderr(predicate::str::contains("line 1: counter value -7 is below 0"));
    assert_eq!(json(&["sum", "-m", "c_total", &file]), json!([{"value": 4}]));
    let (v, code) = check_json(&file);
    assert_eq!((code, &v["bad_lines"]), (1, &json!(3)));
    assert!(!stdout_of(&["to-prometheus", &file]).contains("-"), "no negative sample is exposed");
}

/// 3. Quantiles stay within the recorded min and max.
#[test]
fn quantiles_are_clamped_to_min_and_max() {
    let dir = tempfile::tempdir().unwrap();
    let line = r#"{"timestamp":"2025-01-01T00:00:00Z","service_name":"s","metric_name":"d_seconds","metric_type":"histogram","value":{"count":4,"sum":40,"min":9,"max":11,"buckets":[{"upper_bound":1,"count":0},{"upper_bound":"+Inf","count":4}]}}"#;
    let file = write(&dir, "h.jsonl", &format!("{line}\n"));
    let v = json(&["quantile", "p50,p99", "-m", "d_seconds", &file]);
    assert_eq!(v[0]["p50"], json!(9.0), "{v}");
    assert_eq!(v[0]["p99"], json!(9.0), "{v}");
    assert_eq!(v[0]["mean"], json!(10.0));
}

/// 4. A group label named like an output field keeps its value, under `<name>_label`.
#[test]
fn group_labels_never_collide_with_output_fields() {
    let dir = tempfile::tempdir().unwrap();
    let text = counter("2025-01-01T00:00:00Z", "c_total", "4", r#","attributes":{"value":"v1","time":"t1"}"#)
        + &counter("2025-01-01T00:01:00Z", "c_total", "6", r#","attributes":{"value":"v1","time":"t1"}"#);
    let file = write(&dir, "c.jsonl", &text);
    assert_eq!(json(&["sum", "by", "value", "-m", "c_total", &file]), json!([{"value_label": "v1", "value": 6}]));
    let csv = stdout_of(&["sum", "by", "value", "-m", "c_total", "--format", "csv", &file]);
    assert_eq!(csv.lines().next(), Some("value_label,value"));
    let rows = json(&["rate", "by", "time", "-m", "c_total", "--step", "1m", &file]);
    assert!(rows[0]["time"].as_str().unwrap().starts_with("2025-01-01T00:0"), "{rows}");
    assert_eq!(rows[0]["time_label"], "t1");
}

/// 5. The total row adds one metric only.
#[test]
fn total_rows_do_not_add_different_metrics() {
    let out = stdout_of(&["sum", "by", "route", "-m", "http_server_*", &fixture("restarts.jsonl")]);
    assert!(!out.lines().any(|l| l.starts_with("| total")), "{out}");
    assert!(stdout_of(&["sum", "by", "route", &fixture("restarts.jsonl")]).contains("| total"));
}

/// 6. A step the window cuts is divided by the time it covers.
#[test]
fn a_partial_first_step_is_divided_by_its_share() {
    let dir = tempfile::tempdir().unwrap();
    // A constant 0.3/s: +3 every 10 s for 10 minutes.
    let text: String = (0..60)
        .map(|i| {
            counter(&format!("2025-01-01T00:{:02}:{:02}Z", i / 6, i % 6 * 10), "c_total", &(3 * i).to_string(), "")
        })
        .collect();
    let file = write(&dir, "c.jsonl", &text);
    let rows = json(&["rate", "-m", "c_total", "--step", "1m", "--since", "2025-01-01T00:05:30Z", &file]);
    for row in rows.as_array().unwrap() {
        let rate = row["rate"].as_f64().unwrap();
        assert!((rate - 0.3).abs() < 1e-9, "{rows}");
    }
}

/// 7. A metric seen as a counter and as a gauge: warned, rows typed.
#[test]
fn a_metric_with_two_types_is_warned_about_and_typed() {
    let dir = tempfile::tempdir().unwrap();
    let gauge = r#"{"timestamp":"2025-01-01T00:00:00Z","service_name":"s","metric_name":"x_total","metric_type":"gauge","value":5}"#;
    let file = write(&dir, "x.jsonl", &(counter("2025-01-01T00:00:00Z", "x_total", "3", "") + gauge + "\n"));
    metricsctl()
        .args(["sum", "-m", "x_total", &file])
        .assert()
        .success()
        .stderr(predicate::str::contains("appears as counter and gauge"));
    assert_eq!(
        json(&["sum", "-m", "x_total", &file]),
        json!([{"type": "gauge", "value": 5}, {"type": "counter", "value": 3}])
    );
}

/// 8. A closed pipe is success for every command and format.
#[test]
fn a_closed_pipe_is_success() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..3000)
        .map(|i| {
            counter(
                &metricsctl_format::timestamp::format_utc(1_735_689_600_000_000_000 + i * 10_000_000_000),
                "c_total",
                &i.to_string(),
                "",
            )
        })
        .collect();
    let file = write(&dir, "long.jsonl", &text);
    let bin = assert_cmd::cargo::cargo_bin("metricsctl");
    let commands: Vec<Vec<&str>> = vec![
        vec!["rate", "-m", "c_total", "--step", "10s"],
        vec!["tail", "-n", "3000"],
        vec!["to-prometheus", "--history"],
        vec!["explain", "-m", "c_total"],
    ];
    for command in commands {
        for format in ["table", "json", "csv"] {
            if (command[0] == "tail" && format == "csv") || (command[0] == "to-prometheus" && format != "table") {
                continue;
            }
            let mut args = command.clone();
            if command[0] != "to-prometheus" {
                args.extend(["--format", format]);
            }
            let mut child = std::process::Command::new(&bin)
                .args(&args)
                .arg(&file)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut first = [0u8; 1];
            std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
            drop(child.stdout.take());
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
            assert!(!String::from_utf8_lossy(&out.stderr).contains("Broken pipe"), "{args:?}");
        }
    }
}

/// 9. Input with no valid line is an error naming the file.
#[test]
fn no_valid_line_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "garbage.bin", "\u{1}\u{2}garbage\n\u{7f}more\n");
    metricsctl()
        .args(["sum", &file])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no valid line in").and(predicate::str::contains("2 bad lines; first:")));
}

/// 10. An empty window is a usage error.
#[test]
fn since_after_until_is_a_usage_error() {
    metricsctl()
        .args(["sum", "--since", "2025-12-16T03:00:00Z", "--until", "2025-12-16T02:00:00Z", &fixture("restarts.jsonl")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is later than --until"));
}

/// 11. A configuration named explicitly must exist.
#[test]
fn a_named_config_must_exist() {
    metricsctl()
        .args(["load-test", "-n", "1", "--config", "/nonexistent/config.yaml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--config /nonexistent/config.yaml: no such file"));
}

/// 12. A regex error keeps its own lines.
#[test]
fn regex_errors_keep_their_lines() {
    let out = metricsctl().args(["sum", "-w", "route=~[a", &fixture("restarts.jsonl")]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.lines().count() >= 3 && !stderr.contains("\\n"), "{stderr}");
    assert!(stderr.contains("unclosed character class"), "{stderr}");
}

/// 13. Formats a command does not have are refused with the ones it has.
#[test]
fn formats_a_command_lacks_are_refused() {
    for (command, has) in [("tail", "table (one record per line) and json"), ("check", "table and json")] {
        metricsctl()
            .args([command, "--format", "csv", &fixture("restarts.jsonl")])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(has));
    }
}

/// 14. Percentiles are accepted as p50, p99, p99.9.
#[test]
fn percentiles_are_accepted() {
    let a = json(&["quantile", "p50,p99,p99.9", &fixture("histograms.jsonl")]);
    let b = json(&["quantile", "0.5,0.99,0.999", &fixture("histograms.jsonl")]);
    assert_eq!(a, b);
    assert!(a[0].get("p99.9").is_some(), "{a}");
}

/// 15. Pretty-printed JSON is recognised, with the fix.
#[test]
fn pretty_printed_json_is_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let pretty: String = std::fs::read_to_string(fixture("seed_examples.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(l).unwrap()).unwrap() + "\n")
        .collect();
    let file = write(&dir, "pretty.json", &pretty);
    let out = metricsctl().args(["sum", &file]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.matches("pretty-printed").count(), 1, "{stderr}");
    assert!(stderr.contains("jq -c ."), "{stderr}");
}

/// 17. Compression by magic bytes; a cut .gz gives what it holds, then an error; xz named.
#[test]
fn compression_is_recognised_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read(fixture("restarts.jsonl")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&plain[..], 3).unwrap();
    let expected = json(&["sum", "by", "route", &fixture("restarts.jsonl")]);
    for (name, bytes) in [("no-suffix", &gz), ("metrics.zst", &zst), ("zstd-no-suffix", &zst)] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(json(&["sum", "by", "route", path.to_str().unwrap()]), expected, "{name}");
    }
    for bytes in [&gz, &zst] {
        let out = metricsctl()
            .args(["sum", "by", "route", "--format", "json", "-"])
            .write_stdin(bytes.clone())
            .output()
            .unwrap();
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(), expected);
    }
    // A big file's .gz cut in the middle: the lines before the cut are counted.
    let big: String = (0..20_000)
        .map(|i| {
            counter(
                &metricsctl_format::timestamp::format_utc(1_735_689_600_000_000_000 + i * 10_000_000_000),
                "c_total",
                &i.to_string(),
                r#","attributes":{"pad":"0123456789abcdef0123456789abcdef"}"#,
            )
        })
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(big.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let cut = dir.path().join("cut.jsonl.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let out = metricsctl().args(["sum", "-m", "c_total", "--format", "json", cut.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(got[0]["value"].as_u64().unwrap() > 1000, "{got}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut.jsonl.gz is damaged or cut short"));
    // xz is named, not read as bad lines.
    let xz = dir.path().join("m.jsonl.xz");
    std::fs::write(&xz, [0xfd, b'7', b'z', b'X', b'Z', 0x00, 0, 0]).unwrap();
    metricsctl()
        .args(["sum", xz.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is xz-compressed, which metricsctl does not read"));
}

/// 18. A byte order mark is not a bad line.
#[test]
fn a_byte_order_mark_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("\u{feff}{}", std::fs::read_to_string(fixture("restarts.jsonl")).unwrap());
    let file = write(&dir, "bom.jsonl", &text);
    let (v, code) = check_json(&file);
    assert_eq!((code, &v["bad_lines"]), (0, &json!(0)));
    assert_eq!(json(&["sum", &file]), json(&["sum", &fixture("restarts.jsonl")]));
}

/// 19. tail -f: -n on stdin, waiting for a file, bad lines as they come and counted.
#[test]
fn tail_follow_applies_n_waits_and_reports() {
    let bin = assert_cmd::cargo::cargo_bin("metricsctl");
    let mut child = std::process::Command::new(&bin)
        .args(["tail", "-f", "-n", "2", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.as_mut().unwrap().write_all(&std::fs::read(fixture("restarts.jsonl")).unwrap()).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);

    let dir = tempfile::tempdir().unwrap();
    let later = dir.path().join("later.jsonl");
    let mut follow = Running::start(&["tail", "-f", later.to_str().unwrap()]);
    follow.wait_for("does not exist yet; waiting for it");
    std::fs::write(&later, "not json\n".to_string() + &counter("2025-01-01T00:00:00Z", "c_total", "1", "")).unwrap();
    follow.wait_for("skipped a bad line");
    std::thread::sleep(Duration::from_millis(300));
    let (status, stderr) = follow.stop("INT");
    assert_eq!(status.code(), Some(130), "{stderr:?}");
    assert!(stderr.iter().any(|l| l.contains("skipped 1 bad line")), "{stderr:?}");
}

/// 20. now-DURATION windows; a relative window from a newest sample long past says so.
#[test]
fn windows_relative_to_the_clock_and_to_an_old_newest_sample() {
    assert_eq!(json(&["sum", "--since", "now-1h", &fixture("restarts.jsonl")]), json!([{"value": 0}]));
    metricsctl()
        .args(["sum", "--since", "1h", &fixture("restarts.jsonl")])
        .assert()
        .success()
        .stderr(predicate::str::contains("count back from the newest sample of the input, 2025-12-16T02:01:10Z"));
}
