//! `metricsctl remote-write`: a real Prometheus (`--web.enable-remote-write-receiver`)
//! gets every sample and answers PromQL as `to-prometheus` exposes the file; servers
//! that answer 503, 429 with Retry-After or 400 get nothing lost and nothing twice; a
//! run killed in the middle and re-run with `--checkpoint` sends every sample once.

mod common;
use common::*;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metricsctl_prom::remote::decode;
use metricsctl_synth::generate::{generate, GenerateOptions};

const START_SECS: i64 = 1_765_850_400;

/// Two services with two instances each, restarting now and then, every 10 s.
fn generated_file(dir: &Path) -> PathBuf {
    let path = dir.join("metrics.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let options = GenerateOptions {
        target_bytes: 3 << 20,
        services: 2,
        instances: 2,
        seed: 11,
        restart_every: 8,
        bad_line_every: 0,
        start_secs: START_SECS,
        ..GenerateOptions::default()
    };
    let generated = generate(&mut file, &options).unwrap();
    assert!(generated.restarts >= 2, "{generated:?}");
    file.flush().unwrap();
    path
}

/// `name{labels} value` lines of to-prometheus, as (sorted labels with __name__, value).
fn exposed(file: &str) -> BTreeMap<Vec<(String, String)>, f64> {
    let text = stdout_of(&["to-prometheus", file]);
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut set = vec![("__name__".to_string(), name.to_string())];
        // Label values here hold no `,` or `"` (generated file).
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap();
            set.push((k.to_string(), v.trim_matches('"').to_string()));
        }
        set.sort();
        out.insert(set, value.parse().unwrap());
    }
    out
}

fn summary(out: &[u8]) -> HashMap<String, u64> {
    let v: serde_json::Value = serde_json::from_slice(out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| (row[""].as_str().unwrap().to_string(), row["value"].as_u64().unwrap()))
        .collect()
}

#[test]
fn a_real_prometheus_answers_as_to_prometheus_exposes() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated_file(dir.path());
    let file = file.to_str().unwrap();
    let (_prometheus, port) = start_prometheus(dir.path(), "global: {}\n", &["--web.enable-remote-write-receiver"]);
    let url = format!("http://127.0.0.1:{port}/api/v1/write");
    let out = metricsctl()
        .args(["remote-write", "--url", &url, "--max-samples-per-request", "500", "--format", "json", file])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sent = summary(&out.stdout);
    assert_eq!(sent["retries"], 0);
    assert!(sent["requests"] > 10, "{sent:?}");
    assert_prometheus_holds(port, file, sent["samples sent"]);
}

/// Prometheus at `port` holds `samples` samples, and every series answers with the value
/// to-prometheus exposes for `file`.
fn assert_prometheus_holds(port: u16, file: &str, samples: u64) {
    let newest = metricsctl_format::timestamp::parse_rfc3339(
        std::fs::read_to_string(file).unwrap().lines().last().unwrap().split('"').nth(3).unwrap(),
    )
    .unwrap() as f64
        / 1e9;
    let stored = promql(port, r#"{__name__=~".+"}[1d]"#, newest);
    let counted: usize = stored.iter().map(|s| s["values"].as_array().unwrap().len()).sum();
    assert_eq!(counted as u64, samples, "Prometheus holds every sample sent");

    let expected = exposed(file);
    let result = promql(port, r#"{__name__=~".+"}"#, newest);
    let mut got = BTreeMap::new();
    for series in &result {
        let mut labels: Vec<(String, String)> = series["metric"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        labels.sort();
        got.insert(labels, series["value"][1].as_str().unwrap().parse::<f64>().unwrap());
    }
    assert_eq!(got.len(), expected.len(), "as many series in Prometheus as to-prometheus exposes");
    for (labels, value) in &expected {
        let g = got.get(labels).unwrap_or_else(|| panic!("{labels:?} missing in Prometheus"));
        assert!((g - value).abs() <= 1e-9 * value.abs().max(1.0), "{labels:?}: {g} != {value}");
    }
}

#[test]
fn a_real_prometheus_fed_by_a_follower_answers_as_to_prometheus_exposes() {
    let dir = tempfile::tempdir().unwrap();
    let whole = generated_file(dir.path());
    let batch = fake_server(Arc::new(|_| (200, "", "")));
    assert!(remote_write(batch.port, whole.to_str().unwrap(), &[]).status.success());
    let total = batch.accepted.lock().unwrap().len();
    let lines = lines_of(&whole);
    let live = dir.path().join("live.jsonl");
    append(&live, &lines[..lines.len() / 2]);
    let (_prometheus, port) = start_prometheus(dir.path(), "global: {}\n", &["--web.enable-remote-write-receiver"]);
    let url = format!("http://127.0.0.1:{port}/api/v1/write");
    let running =
        Running::start(&["remote-write", "--follow", "--url", &url, "--format", "json", live.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(1500));
    append(&live, &lines[lines.len() / 2..]);
    let newest = metricsctl_format::timestamp::parse_rfc3339(lines.last().unwrap().split('"').nth(3).unwrap()).unwrap()
        as f64
        / 1e9;
    let stored = || -> usize {
        let series = promql(port, r#"{__name__=~".+"}[1d]"#, newest);
        series.iter().map(|s| s["values"].as_array().unwrap().len()).sum()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while stored() < total {
        if Instant::now() > deadline {
            let held = stored();
            let (status, stdout, stderr) = running.terminate("TERM");
            panic!("Prometheus holds {held} of {total} samples; the follower: {status:?} {stdout} {stderr:#?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, stdout, stderr) = running.terminate("TERM");
    assert!(status.success(), "{stderr:#?}");
    assert_prometheus_holds(port, live.to_str().unwrap(), summary(stdout.as_bytes())["samples sent"]);
}

/// A remote write endpoint answering by `policy(request number)`: (status, extra header,
/// body). Records the samples of the requests it accepted.
struct FakeServer {
    port: u16,
    accepted: Arc<Mutex<Vec<(String, i64)>>>,
    requests: Arc<Mutex<u64>>,
}

type Policy = dyn Fn(u64) -> (u16, &'static str, &'static str) + Send + Sync;

fn fake_server(policy: Arc<Policy>) -> FakeServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::new(Mutex::new(0u64));
    let (a, r) = (Arc::clone(&accepted), Arc::clone(&requests));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (a, r, policy) = (Arc::clone(&a), Arc::clone(&r), Arc::clone(&policy));
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut length = 0usize;
                let mut encoding = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if let Some(v) = lower.strip_prefix("content-encoding:") {
                        encoding = v.trim().to_string();
                    }
                }
                let mut body = vec![0u8; length];
                reader.read_exact(&mut body).unwrap();
                assert_eq!(encoding, "snappy");
                let n = {
                    let mut r = r.lock().unwrap();
                    *r += 1;
                    *r
                };
                let (status, header, message) = policy(n);
                if status == 0 {
                    // Hang: never answer.
                    std::thread::sleep(Duration::from_secs(3600));
                }
                if status == 200 {
                    let request = decode(&body).unwrap();
                    let mut a = a.lock().unwrap();
                    for ts in &request.timeseries {
                        let labels: Vec<String> = ts.labels.iter().map(|l| format!("{}={}", l.name, l.value)).collect();
                        for s in &ts.samples {
                            a.push((labels.join(","), s.timestamp));
                        }
                    }
                }
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\n{header}Content-Length: {}\r\nConnection: close\r\n\r\n{message}",
                    message.len()
                );
            });
        }
    });
    FakeServer { port, accepted, requests }
}

fn remote_write(port: u16, file: &str, extra: &[&str]) -> std::process::Output {
    let url = format!("http://127.0.0.1:{port}/api/v1/write");
    let mut args = vec!["remote-write", "--url", url.as_str(), "--max-samples-per-request", "1000", "--format", "json"];
    args.extend_from_slice(extra);
    args.push(file);
    metricsctl().args(&args).output().unwrap()
}

/// Every sample once: no sample missing from `accepted`, none twice.
fn assert_each_once(accepted: &[(String, i64)], expected: usize) {
    let mut seen = std::collections::HashSet::new();
    for s in accepted {
        assert!(seen.insert(s.clone()), "sent twice: {s:?}");
    }
    assert_eq!(seen.len(), expected, "every sample arrived");
}

#[test]
fn retries_on_503_and_429_honour_retry_after_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated_file(dir.path());
    let file = file.to_str().unwrap();
    let all = fake_server(Arc::new(|_| (200, "", "")));
    let out = remote_write(all.port, file, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let total = all.accepted.lock().unwrap().len();
    assert_each_once(&all.accepted.lock().unwrap(), total);
    assert_eq!(summary(&out.stdout)["samples sent"] as usize, total);

    let flaky = fake_server(Arc::new(|n| match n {
        2 => (503, "", "overloaded"),
        4 => (429, "Retry-After: 2\r\n", "slow down"),
        _ => (200, "", ""),
    }));
    let started = Instant::now();
    let out = remote_write(flaky.port, file, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() >= Duration::from_secs(2), "Retry-After: 2 was honoured");
    assert_eq!(summary(&out.stdout)["retries"], 2);
    assert_each_once(&flaky.accepted.lock().unwrap(), total);
}

#[test]
fn other_4xx_answers_are_not_retried_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated_file(dir.path());
    let server = fake_server(Arc::new(|_| (400, "", "out of order sample")));
    let out = remote_write(server.port, file.to_str().unwrap(), &["--header", "X-Scope-OrgID: t1"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("400") && stderr.contains("out of order sample"), "{stderr}");
    assert_eq!(*server.requests.lock().unwrap(), 1, "no retry");
}

#[test]
fn secrets_are_sent_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated_file(dir.path());
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cr3t-token\n").unwrap();
    let server = fake_server(Arc::new(|_| (401, "", "bad credentials")));
    let out = remote_write(server.port, file.to_str().unwrap(), &["--bearer-token-file", token.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("bad credentials") && !all.contains("s3cr3t"), "{all}");
}

#[test]
fn a_kill_then_a_rerun_with_the_checkpoint_sends_every_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated_file(dir.path());
    let file = file.to_str().unwrap();
    let checkpoint = dir.path().join("checkpoint.json");
    let all = fake_server(Arc::new(|_| (200, "", "")));
    assert!(remote_write(all.port, file, &[]).status.success());
    let total = all.accepted.lock().unwrap().len();

    // The 6th request hangs; the sender is killed there (SIGKILL: nothing to clean up).
    let hanging = Arc::new(Mutex::new(true));
    let h = Arc::clone(&hanging);
    let server = fake_server(Arc::new(move |n| if n >= 6 && *h.lock().unwrap() { (0, "", "") } else { (200, "", "") }));
    let url = format!("http://127.0.0.1:{}/api/v1/write", server.port);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("metricsctl"))
        .args(["remote-write", "--url", &url, "--max-samples-per-request", "1000", "--checkpoint"])
        .arg(&checkpoint)
        .arg(file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while *server.requests.lock().unwrap() < 6 {
        assert!(Instant::now() < deadline, "the sender did not get to the 6th request");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(server.accepted.lock().unwrap().len(), 5000, "5 requests of 1000 were acknowledged");

    *hanging.lock().unwrap() = false;
    let out = remote_write(server.port, file, &["--checkpoint", checkpoint.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sent = summary(&out.stdout);
    assert_eq!(sent["skipped (sent before, per the checkpoint)"], 5000);
    assert_each_once(&server.accepted.lock().unwrap(), total);
}

/// The lines of `file`, to be written in parts as a service would.
fn lines_of(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file).unwrap().lines().map(|l| format!("{l}\n")).collect()
}

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path).unwrap();
    f.write_all(lines.concat().as_bytes()).unwrap();
}

/// Waits until `server` has accepted `count` samples.
fn wait_for_samples(server: &FakeServer, count: usize, running: &Running) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.accepted.lock().unwrap().len() < count {
        assert!(
            Instant::now() < deadline,
            "{} of {count} samples arrived: {:#?}",
            server.accepted.lock().unwrap().len(),
            running.stderr
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn follow(port: u16, file: &Path, extra: &[&str]) -> Running {
    let url = format!("http://127.0.0.1:{port}/api/v1/write");
    let mut args = vec!["remote-write", "--follow", "--url", url.as_str(), "--max-samples-per-request", "1000"];
    args.extend_from_slice(&["--format", "json"]);
    args.extend_from_slice(extra);
    args.push(file.to_str().unwrap());
    Running::start(&args)
}

fn sorted(samples: &[(String, i64)]) -> Vec<(String, i64)> {
    let mut s = samples.to_vec();
    s.sort();
    s
}

#[test]
fn following_sends_what_the_file_holds_then_each_export_as_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let whole = generated_file(dir.path());
    let batch = fake_server(Arc::new(|_| (200, "", "")));
    assert!(remote_write(batch.port, whole.to_str().unwrap(), &[]).status.success());
    let expected = sorted(&batch.accepted.lock().unwrap());

    // A third of the file is there when the follower starts; the rest is appended in
    // parts while it runs, cut anywhere (inside an export too).
    let lines = lines_of(&whole);
    let live = dir.path().join("live.jsonl");
    let third = lines.len() / 3;
    append(&live, &lines[..third]);
    let server = fake_server(Arc::new(|_| (200, "", "")));
    let running = follow(server.port, &live, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.accepted.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "nothing sent of what the file held");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Pauses between parts: short ones, one longer than the 5 s an export is held for
    // while its lines come (its rest must still go out, and once).
    for (i, part) in lines[third..].chunks(lines.len() / 7 + 1).enumerate() {
        append(&live, part);
        std::thread::sleep(Duration::from_millis(if i == 1 { 6000 } else { 300 }));
    }
    wait_for_samples(&server, expected.len(), &running);
    std::thread::sleep(Duration::from_millis(500));
    let (status, stdout, stderr) = running.terminate("TERM");
    assert!(status.success(), "{stderr:#?}");
    let accepted = server.accepted.lock().unwrap().clone();
    assert_each_once(&accepted, expected.len());
    assert_eq!(sorted(&accepted), expected, "the samples of a run over the whole file");
    let sent = summary(stdout.as_bytes());
    assert_eq!(sent["samples sent"] as usize, expected.len());
    assert_eq!(sent["refused (dropped)"], 0);
    assert!(sent["requests"] as usize > expected.len() / 1000, "{sent:?}");
}

#[test]
fn a_follower_killed_and_restarted_with_its_checkpoint_sends_every_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    let whole = generated_file(dir.path());
    let batch = fake_server(Arc::new(|_| (200, "", "")));
    assert!(remote_write(batch.port, whole.to_str().unwrap(), &[]).status.success());
    let expected = sorted(&batch.accepted.lock().unwrap());

    let lines = lines_of(&whole);
    let live = dir.path().join("live.jsonl");
    let half = lines.len() / 2;
    append(&live, &lines[..half]);
    let checkpoint = dir.path().join("checkpoint.json");
    let checkpoint = checkpoint.to_str().unwrap();
    // The 4th request hangs, and the follower is killed there.
    let hanging = Arc::new(Mutex::new(true));
    let h = Arc::clone(&hanging);
    let server = fake_server(Arc::new(move |n| if n >= 4 && *h.lock().unwrap() { (0, "", "") } else { (200, "", "") }));
    let mut running = follow(server.port, &live, &["--checkpoint", checkpoint]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while *server.requests.lock().unwrap() < 4 {
        assert!(Instant::now() < deadline, "the follower did not get to its 4th request");
        std::thread::sleep(Duration::from_millis(20));
    }
    running.child.kill().unwrap();
    running.child.wait().unwrap();
    assert_eq!(server.accepted.lock().unwrap().len(), 3000);

    // The service went on writing meanwhile.
    append(&live, &lines[half..half + (lines.len() - half) / 2]);
    *hanging.lock().unwrap() = false;
    let running = follow(server.port, &live, &["--checkpoint", checkpoint]);
    std::thread::sleep(Duration::from_millis(500));
    append(&live, &lines[half + (lines.len() - half) / 2..]);
    wait_for_samples(&server, expected.len(), &running);
    std::thread::sleep(Duration::from_millis(500));
    let (status, stdout, stderr) = running.terminate("INT");
    assert!(status.success(), "{stderr:#?}");
    assert_each_once(&server.accepted.lock().unwrap(), expected.len());
    assert_eq!(sorted(&server.accepted.lock().unwrap()), expected);
    assert_eq!(summary(stdout.as_bytes())["skipped (sent before, per the checkpoint)"], 3000);
}

#[test]
fn a_follower_reports_a_refused_request_goes_on_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let whole = generated_file(dir.path());
    let batch = fake_server(Arc::new(|_| (200, "", "")));
    assert!(remote_write(batch.port, whole.to_str().unwrap(), &[]).status.success());
    let total = batch.accepted.lock().unwrap().len();

    let server = fake_server(Arc::new(|n| if n == 2 { (400, "", "out of order sample") } else { (200, "", "") }));
    let mut running = follow(server.port, &whole, &[]);
    running.wait_for("out of order sample");
    wait_for_samples(&server, total - 1000, &running);
    let (status, stdout, stderr) = running.terminate("TERM");
    assert_eq!(status.code(), Some(1), "{stderr:#?}");
    let sent = summary(stdout.as_bytes());
    assert_eq!(sent["refused (dropped)"], 1000);
    assert_eq!(sent["samples sent"] as usize, total - 1000);
    assert_each_once(&server.accepted.lock().unwrap(), total - 1000);
}

/// A CA of its own and a server certificate for 127.0.0.1 it signed (openssl), as
/// (CA certificate, server certificate, server key) paths.
fn own_ca_and_server_certificate(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    require("openssl");
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    let steps: [&[&str]; 3] = [
        &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=metricsctl test CA"],
        &["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1"],
        &["x509", "-req", "-days", "1", "-CAcreateserial"],
    ];
    let files: [Vec<String>; 3] = [
        vec!["-keyout".into(), path("ca.key"), "-out".into(), path("ca.pem")],
        vec!["-keyout".into(), path("key.pem"), "-out".into(), path("server.csr")],
        vec![
            "-in".into(),
            path("server.csr"),
            "-CA".into(),
            path("ca.pem"),
            "-CAkey".into(),
            path("ca.key"),
            "-extfile".into(),
            path("server.ext"),
            "-out".into(),
            path("cert.pem"),
        ],
    ];
    for (step, files) in steps.iter().zip(&files) {
        let status = std::process::Command::new("openssl")
            .args(*step)
            .args(files)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "openssl {step:?}");
    }
    (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"))
}

#[test]
fn https_to_a_real_prometheus_trusting_its_ca_file() {
    require("prometheus");
    let dir = tempfile::tempdir().unwrap();
    let file = generated_file(dir.path());
    let file = file.to_str().unwrap();
    let (ca, cert, key) = own_ca_and_server_certificate(dir.path());
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!("tls_server_config:\n  cert_file: {}\n  key_file: {}\n", cert.display(), key.display()),
    )
    .unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global: {}\n").unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut tls_prometheus = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--web.config.file={}", web.display()))
        .arg("--web.enable-remote-write-receiver")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}/api/v1/write");

    // Without the CA the certificate does not verify: said at once, not retried.
    let started = Instant::now();
    let refused = loop {
        let out = metricsctl().args(["remote-write", "--url", &url, file]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        if stderr.contains("certificate") || started.elapsed() > Duration::from_secs(60) {
            break (out.status.code(), stderr);
        }
        std::thread::sleep(Duration::from_millis(300)); // Prometheus is still starting.
    };
    assert_eq!(refused.0, Some(1), "{}", refused.1);
    assert!(refused.1.contains("TLS") && !refused.1.contains("retry"), "{}", refused.1);

    let out = metricsctl()
        .args(["remote-write", "--url", &url, "--ca-file", ca.to_str().unwrap(), "--format", "json", file])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sent = summary(&out.stdout)["samples sent"];
    std::process::Command::new("kill").args(["-TERM", &tls_prometheus.id().to_string()]).status().unwrap();
    tls_prometheus.wait().unwrap();

    // The same store, reopened over plain http to be asked.
    let (_prometheus, port) = start_prometheus(dir.path(), "global: {}\n", &[]);
    assert_prometheus_holds(port, file, sent);
}
