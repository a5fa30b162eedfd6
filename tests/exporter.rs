//! The embedded exporter through the real opentelemetry_sdk: nothing lost at exit, both
//! tokio runtime flavours, delta temporality, and the files it writes read back exactly.

use std::time::{Duration, Instant};

use metricsctl_otel::config::{MetricsConfig, TemporalityChoice};
use metricsctl_otel::MetricsPipeline;
use opentelemetry::KeyValue;

fn config(dir: &std::path::Path, temporality: TemporalityChoice) -> MetricsConfig {
    MetricsConfig {
        json_file_path: dir.join("logs/metrics.jsonl"),
        // Longer than any test: only force_flush and shutdown export.
        export_interval: Duration::from_secs(600),
        temporality,
        instance_id: "test-0".into(),
        ..MetricsConfig::default()
    }
}

fn total(path: &std::path::Path) -> u64 {
    let out = assert_cmd::Command::cargo_bin("metricsctl")
        .unwrap()
        .args(["sum", "-m", "jobs_total", "--format", "csv"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().nth(1).unwrap().parse().unwrap()
}

fn record_and_shut_down(dir: &std::path::Path, temporality: TemporalityChoice) {
    let pipeline = MetricsPipeline::start(&config(dir, temporality)).unwrap();
    let meter = pipeline.meter("test");
    let counter = meter.u64_counter("jobs_total").build();
    for i in 0..1000u64 {
        counter.add(1, &[KeyValue::new("kind", if i % 3 == 0 { "a" } else { "b" })]);
        if i == 400 {
            pipeline.force_flush().unwrap();
        }
    }
    let started = Instant::now();
    pipeline.shutdown(Duration::from_secs(5)).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_short_lived_process_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    record_and_shut_down(dir.path(), TemporalityChoice::Cumulative);
    let path = dir.path().join("logs/metrics.jsonl");
    assert_eq!(total(&path), 1000);
    let text = std::fs::read_to_string(&path).unwrap();
    // Two exports (flush and shutdown) of two series.
    assert_eq!(text.lines().count(), 4, "{text}");
}

#[test]
fn delta_temporality_lines_sum_to_the_same_total() {
    let dir = tempfile::tempdir().unwrap();
    record_and_shut_down(dir.path(), TemporalityChoice::Delta);
    let path = dir.path().join("logs/metrics.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.lines().all(|l| l.contains(r#""temporality":"delta""#)), "{text}");
    assert_eq!(total(&path), 1000);
}

#[test]
fn appends_and_never_truncates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs/metrics.jsonl");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let earlier = "{\"timestamp\":\"2025-01-01T00:00:00Z\",\"metric_name\":\"other_total\",\"value\":5}\n";
    std::fs::write(&path, earlier).unwrap();
    record_and_shut_down(dir.path(), TemporalityChoice::Cumulative);
    assert!(std::fs::read_to_string(&path).unwrap().starts_with(earlier));
}

fn in_runtime(flavour: &str) {
    let dir = tempfile::tempdir().unwrap();
    let rt = match flavour {
        "current_thread" => tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
        _ => tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap(),
    };
    let path = dir.path().join("logs/metrics.jsonl");
    rt.block_on(async {
        let pipeline = MetricsPipeline::start(&config(dir.path(), TemporalityChoice::Cumulative)).unwrap();
        let counter = pipeline.meter("test").u64_counter("jobs_total").build();
        for _ in 0..250 {
            counter.add(1, &[]);
            tokio::task::yield_now().await;
        }
        // Called from inside the runtime, blocking its only thread: must not hang.
        let started = Instant::now();
        pipeline.force_flush().unwrap();
        pipeline.shutdown(Duration::from_secs(3)).unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
    });
    assert_eq!(total(&path), 250);
}

#[test]
fn works_on_a_current_thread_runtime() {
    in_runtime("current_thread");
}

#[test]
fn works_on_a_one_worker_runtime() {
    in_runtime("multi_thread");
}

#[test]
fn a_hanging_write_is_abandoned_and_shutdown_still_returns_in_time() {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("metrics.jsonl");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // A reader that never reads: the exporter can open the FIFO, and its writes block
    // once the pipe buffer (64 KiB) is full, like a hung disk or NFS mount.
    const O_NONBLOCK: i32 = 0o4000;
    let _reader = std::fs::OpenOptions::new().read(true).custom_flags(O_NONBLOCK).open(&fifo).unwrap();
    let config = MetricsConfig {
        json_file_path: fifo.clone(),
        export_interval: Duration::from_secs(600),
        export_timeout: Duration::from_millis(500),
        instance_id: "hang-0".into(),
        ..MetricsConfig::default()
    };
    let pipeline = MetricsPipeline::start(&config).unwrap();
    let counter = pipeline.meter("test").u64_counter("jobs_total").build();
    // Enough series for one export to exceed the pipe buffer.
    for i in 0..2000 {
        counter.add(1, &[KeyValue::new("job_id", i)]);
    }
    let started = Instant::now();
    let flushed = pipeline.force_flush();
    assert!(flushed.is_err(), "an export that cannot finish must report an error");
    assert!(started.elapsed() < Duration::from_secs(3), "export took {:?}", started.elapsed());
    let started = Instant::now();
    let _ = pipeline.shutdown(Duration::from_secs(2));
    assert!(started.elapsed() < Duration::from_millis(2500), "shutdown took {:?}", started.elapsed());
}
