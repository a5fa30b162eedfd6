//! A real Prometheus server scrapes metricsctl: the embedded Prometheus exporter of an
//! instrumented server under load, and `metricsctl serve` following a file as it grows.
//! scripts/test.sh installs Debian's prometheus; a missing one fails the test.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

fn scrape_config(job: &str, port: u16) -> String {
    // honor_labels: the exposed job and instance (the service's) win over the target's.
    format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: {job}\n    honor_labels: true\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// The single value of an instant query, if there is one.
fn scalar(prometheus: u16, query: &str) -> Option<f64> {
    let result = promql(prometheus, query, now());
    result.first().map(|r| r["value"][1].as_str().unwrap().parse().unwrap())
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn prometheus_scrapes_the_embedded_exporter_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Running::start(&[
        "load-test",
        "--serve-only",
        "--listen",
        "127.0.0.1:0",
        "--exporter",
        "prometheus",
        "--prometheus-listen",
        "127.0.0.1:0",
        "--export-interval",
        "1s",
    ]);
    let metrics_port = server.announced_port("prometheus exporter serving");
    let app_port = server.announced_port("serving on");
    let (_prometheus, prometheus) = start_prometheus(dir.path(), &scrape_config("app", metrics_port), &[]);
    wait_until("the first scrape", Duration::from_secs(30), || scalar(prometheus, "up{job=\"app\"}") == Some(1.0));

    let client = metricsctl()
        .args(["load-test", "--url", &format!("http://127.0.0.1:{app_port}"), "-z", "5s", "-c", "8", "-q", "800"])
        .args(["--json-file-path", dir.path().join("client.jsonl").to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert!(client.status.success(), "{}", String::from_utf8_lossy(&client.stderr));
    let summary: Value = serde_json::from_slice(&client.stdout).unwrap();
    let sent = summary["requests"].as_f64().unwrap();
    assert!(sent > 1000.0, "{summary}");
    assert_eq!(summary["errors"], serde_json::json!({}), "every request got a response");

    wait_until("Prometheus to count every request", Duration::from_secs(30), || {
        scalar(prometheus, "sum(http_server_requests_total)") == Some(sent)
    });
    // It scraped while the load ran: the total rose over several scrapes.
    let samples = scalar(prometheus, "max(count_over_time(http_server_requests_total[1m]))").unwrap();
    assert!(samples >= 4.0, "only {samples} scrapes saw the counter");
    let rises = scalar(prometheus, "sum(changes(http_server_requests_total[1m]))").unwrap();
    assert!(rises >= 3.0, "the counters rose in only {rises} scrapes: not scraped under load");
    // The exporter's labels: job and instance from the resource, routes as templates.
    let by_route = promql(prometheus, "sum by (job, http_route) (http_server_requests_total)", now());
    assert!(by_route.iter().all(|r| r["metric"]["job"] == "sre"), "{by_route:?}");
    assert!(by_route.iter().any(|r| r["metric"]["http_route"] == "/api/v1/orders/{id}"), "{by_route:?}");
    let (status, stderr) = server.stop("INT");
    assert!(status.code() == Some(130) || status.success(), "{status:?} {stderr:#?}");
}

/// Parses the text exposition into (series, value), series as `name{k="v",...}` with
/// labels sorted.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (name, rest) = line.split_at(line.find(['{', ' ']).unwrap());
        let mut labels = BTreeMap::new();
        let mut rest = rest;
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let mut end = 0;
            loop {
                let (i, c) = chars.next().unwrap();
                if c == '}' {
                    end = i + 1;
                    break;
                }
                if c == ',' {
                    continue;
                }
                let key_start = i;
                let mut key_end = i;
                for (j, c) in chars.by_ref() {
                    if c == '=' {
                        key_end = j;
                        break;
                    }
                }
                let key = body[key_start..key_end].to_string();
                assert_eq!(chars.next().map(|(_, c)| c), Some('"'));
                let mut value = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next().unwrap().1 {
                            'n' => value.push('\n'),
                            other => value.push(other),
                        },
                        '"' => break,
                        c => value.push(c),
                    }
                }
                labels.insert(key, value);
                let _ = end;
            }
            rest = &body[end..];
        }
        let value: f64 = rest.split_whitespace().next().unwrap().parse().unwrap();
        out.insert(format!("{name}{}", serde_json::to_string(&labels).unwrap()), value);
    }
    out
}

#[test]
fn prometheus_scraping_serve_sees_what_to_prometheus_says() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.jsonl");
    let path = file.to_str().unwrap();
    // The file does not exist yet: serve waits for it, as tail -F would.
    let mut serve = Running::start(&["serve", "--listen", "127.0.0.1:0", path]);
    let serve_port = serve.announced_port("at http://");
    let (_prometheus, prometheus) = start_prometheus(dir.path(), &scrape_config("serve", serve_port), &[]);

    // The file grows: a load test exports every 500 ms while Prometheus scrapes.
    let load = metricsctl()
        .args(["load-test", "-z", "4s", "-c", "4", "-q", "500", "--grpc", "--export-interval", "500ms"])
        .args(["--json-file-path", path, "--instance-id", "appended-1"])
        .output()
        .unwrap();
    assert!(load.status.success(), "{}", String::from_utf8_lossy(&load.stderr));
    serve.wait_for("file appeared");

    let expected = parse_exposition(&stdout_of(&["to-prometheus", path]));
    assert!(expected.len() > 50, "{expected:?}");
    let total =
        expected.iter().filter(|(k, _)| k.starts_with("http_server_requests_total{")).map(|(_, v)| v).sum::<f64>();
    wait_until("a scrape after the last export", Duration::from_secs(30), || {
        scalar(prometheus, "sum(http_server_requests_total)") == Some(total)
    });
    // Every series and value Prometheus holds now equals to-prometheus on the file.
    let result = promql(prometheus, "{job=\"sre\"}", now());
    let mut scraped = BTreeMap::new();
    for r in &result {
        let mut labels: BTreeMap<String, String> = serde_json::from_value(r["metric"].clone()).unwrap();
        let name = labels.remove("__name__").unwrap();
        let value: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
        scraped.insert(format!("{name}{}", serde_json::to_string(&labels).unwrap()), value);
    }
    let missing: Vec<_> = expected.keys().filter(|k| !scraped.contains_key(*k)).collect();
    let extra: Vec<_> = scraped.keys().filter(|k| !expected.contains_key(*k)).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing {missing:#?}\nextra {extra:#?}");
    for (series, value) in &expected {
        assert_eq!(scraped[series], *value, "{series}");
    }
    let (status, stderr) = serve.stop("TERM");
    assert!(status.success(), "{stderr:#?}");
}

#[test]
fn serve_leaves_out_series_that_stopped_being_exported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.jsonl");
    let line = |t: &str, route: &str, v: u64| {
        format!(
            r#"{{"timestamp":"{t}","service_name":"svc","metric_name":"http_server_requests_total","metric_type":"counter","value":{v},"attributes":{{"http.route":"{route}"}},"resource":{{"service.instance.id":"a"}}}}"#
        ) + "\n"
    };
    let first = line("2025-01-01T00:00:00Z", "/kept", 1) + &line("2025-01-01T00:00:00Z", "/dropped", 4);
    std::fs::write(&file, first).unwrap();
    let mut serve = Running::start(&["serve", "--listen", "127.0.0.1:0", file.to_str().unwrap()]);
    let port = serve.announced_port("at http://");
    let body = http_get(port, "/metrics").unwrap();
    assert!(body.contains("{http_route=\"/dropped\",instance=\"a\",job=\"svc\"} 4"), "{body}");

    // The next export no longer has /dropped: a scrape of the process would not show it.
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
    f.write_all(line("2025-01-01T00:00:10Z", "/kept", 3).as_bytes()).unwrap();
    wait_until("serve to read the new export", Duration::from_secs(10), || {
        http_get(port, "/metrics").is_some_and(|b| b.contains("{http_route=\"/kept\",instance=\"a\",job=\"svc\"} 3"))
    });
    let body = http_get(port, "/metrics").unwrap();
    assert!(!body.contains("/dropped"), "{body}");
    // to-prometheus, a conversion of the whole file, still has its last value.
    assert!(stdout_of(&["to-prometheus", file.to_str().unwrap()]).contains("/dropped"));

    // Ten minutes later in the file's time, another process exports: the first one is gone.
    let other = line("2025-01-01T00:10:10Z", "/other", 1).replace("\"a\"", "\"b\"");
    f.write_all(other.as_bytes()).unwrap();
    wait_until("the first process to go stale", Duration::from_secs(10), || {
        http_get(port, "/metrics").is_some_and(|b| b.contains("/other") && !b.contains("/kept"))
    });
    let (status, _) = serve.stop("INT");
    assert!(status.success());
}

/// The file as it is at start is read by the parallel reader, then followed: line
/// numbers of bad lines run on across the two, and a last line still being written is
/// read once it is complete.
#[test]
fn serve_reads_what_is_there_then_follows_with_line_numbers_intact() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.jsonl");
    let line = |v: u64| {
        format!(
            r#"{{"timestamp":"2025-01-01T00:00:{v:02}Z","service_name":"svc","metric_name":"jobs_total","metric_type":"counter","value":{v}}}"#
        ) + "\n"
    };
    let partial = line(3);
    let (head, tail) = partial.split_at(40);
    std::fs::write(&file, format!("{}not json\n{}{head}", line(1), line(2))).unwrap();
    let mut serve = Running::start(&["serve", "--listen", "127.0.0.1:0", file.to_str().unwrap()]);
    assert!(serve.wait_for("metrics.jsonl:2:").contains("skipped"));
    let port = serve.announced_port("at http://");
    assert!(http_get(port, "/metrics").unwrap().contains("jobs_total{job=\"svc\"} 2\n"));

    let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
    f.write_all(format!("{tail}bad again\n").as_bytes()).unwrap();
    assert!(serve.wait_for("metrics.jsonl:5:").contains("skipped"));
    wait_until("the completed line", Duration::from_secs(10), || {
        http_get(port, "/metrics").is_some_and(|b| b.contains("jobs_total{job=\"svc\"} 3\n"))
    });
    let (status, _) = serve.stop("TERM");
    assert!(status.success());
}

/// A scrape of many series is streamed as it is rendered, and the files are not
/// followed meanwhile: a scraper that goes away after the first bytes must not leave
/// `serve` stuck. After one does, a full scrape has every series, and a line appended
/// to the file is served.
#[test]
fn a_scrape_abandoned_midway_leaves_serve_serving_and_following() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.jsonl");
    let padding = "x".repeat(100);
    let line = |t: &str, user: usize, v: u64| {
        format!(
            r#"{{"timestamp":"{t}","service_name":"svc","metric_name":"logins_total","metric_type":"counter","value":{v},"attributes":{{"user":"{padding}{user}"}}}}"#
        ) + "\n"
    };
    const USERS: usize = 200_000;
    let mut text = String::with_capacity(USERS * 240);
    for user in 0..USERS {
        text.push_str(&line("2025-01-01T00:00:00Z", user, 1));
    }
    std::fs::write(&file, text).unwrap();
    let mut serve = Running::start(&["serve", "--listen", "127.0.0.1:0", file.to_str().unwrap()]);
    let port = serve.announced_port("at http://");

    let mut abandoned = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(abandoned, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut first = vec![0; 64 << 10];
    abandoned.read_exact(&mut first).unwrap();
    drop(abandoned);

    let body = http_get(port, "/metrics").expect("a full scrape after an abandoned one");
    let served = body.lines().filter(|l| l.starts_with("logins_total{")).count();
    assert_eq!(served, USERS, "{}", &body[..body.len().min(2000)]);

    let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
    f.write_all(line("2025-01-01T00:00:10Z", 0, 5).as_bytes()).unwrap();
    wait_until("serve to follow the file after the scrapes", Duration::from_secs(30), || {
        http_get(port, "/metrics").is_some_and(|b| b.contains(&format!("user=\"{padding}0\"}} 5")))
    });
    let (status, _) = serve.stop("INT");
    assert!(status.success());
}
