//! Helpers for the end-to-end tests: run the real binary on fixtures.
#![allow(dead_code)]

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

pub fn metricsctl() -> Command {
    let mut cmd = Command::cargo_bin("metricsctl").unwrap();
    cmd.env_remove("NO_COLOR").env("TERM", "xterm");
    cmd
}

pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name).display().to_string()
}

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// Runs the binary with `--format json` appended and parses stdout; asserts exit 0.
pub fn json(args: &[&str]) -> Value {
    let out = metricsctl().args(args).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "metricsctl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// `check --format json FILE`: the report and the exit code.
pub fn check_json(file: &str) -> (Value, i32) {
    let out = metricsctl().args(["check", "--format", "json", file]).output().unwrap();
    (serde_json::from_slice(&out.stdout).unwrap(), out.status.code().unwrap())
}

/// `sum --format json` rows as (label value text, value) pairs for one label.
pub fn sum_by(label: &str, args: &[&str]) -> Vec<(String, Value)> {
    let mut all = vec!["sum", "by", label];
    all.extend_from_slice(args);
    let v = json(&all);
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let key = match &row[label] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (key, row["value"].clone())
        })
        .collect()
}

pub fn stdout_of(args: &[&str]) -> String {
    let out = metricsctl().args(args).output().unwrap();
    assert!(out.status.success(), "metricsctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub fn require(tool: &str) {
    let found =
        std::process::Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap().status.success();
    assert!(found, "{tool} is not installed: run scripts/test.sh, which installs what the tests need");
}

pub struct Prometheus(pub std::process::Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn http_get(port: u16, path_and_query: &str) -> Option<String> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

pub fn promql(port: u16, query: &str, time: f64) -> Vec<Value> {
    let q: String = query
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    let body = http_get(port, &format!("/api/v1/query?query={q}&time={time}")).expect("query answered");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["status"], "success", "{v}");
    v["data"]["result"].as_array().unwrap().clone()
}

/// Starts a real Prometheus server with `config` (YAML) on a free port, storing in
/// `dir/data`, with `extra` flags; returns once it is ready.
pub fn start_prometheus(dir: &Path, config: &str, extra: &[&str]) -> (Prometheus, u16) {
    require("prometheus");
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let server = Prometheus(
        std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while http_get(port, "/-/ready").is_none_or(|b| !b.contains("Ready")) {
        assert!(started.elapsed() < Duration::from_secs(60), "prometheus did not become ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    (server, port)
}

/// A metricsctl process running in the background, its stderr read line by line.
pub struct Running {
    pub child: Child,
    lines: Receiver<String>,
    pub stderr: Vec<String>,
}

impl Running {
    pub fn start(args: &[&str]) -> Running {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("metricsctl"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines, stderr: Vec::new() }
    }

    /// Waits for a stderr line containing `marker`; returns the text after it.
    pub fn wait_for(&mut self, marker: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stderr.push(line.clone());
                    if let Some((_, rest)) = line.split_once(marker) {
                        return rest.trim().to_string();
                    }
                }
                Err(_) => panic!("no {marker:?} on stderr; got {:#?}", self.stderr),
            }
        }
    }

    /// The port of an address announced as `marker ADDR` (`127.0.0.1:PORT`, maybe in a URL).
    pub fn announced_port(&mut self, marker: &str) -> u16 {
        let rest = self.wait_for(marker);
        let addr = rest.trim_start_matches("http://").split(['/', ' ', ';']).next().unwrap().to_string();
        addr.rsplit(':').next().unwrap().parse().unwrap_or_else(|_| panic!("no port in {rest:?}"))
    }

    /// Waits for the process to exit by itself; returns its status, stdout and stderr.
    pub fn wait(mut self, timeout: Duration) -> (std::process::ExitStatus, String, Vec<String>) {
        use std::io::Read;
        let mut stdout = self.child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "metricsctl did not exit in {timeout:?}: {:#?}", self.stderr);
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.stderr.push(line);
        }
        (status, reader.join().unwrap(), std::mem::take(&mut self.stderr))
    }

    /// Sends `signal` (INT, TERM) and waits for the exit; returns the exit status and the rest of stderr.
    pub fn stop(self, signal: &str) -> (std::process::ExitStatus, Vec<String>) {
        let (status, _, stderr) = self.terminate(signal);
        (status, stderr)
    }

    /// Sends `signal` and waits for the exit; returns its status, stdout and stderr.
    pub fn terminate(self, signal: &str) -> (std::process::ExitStatus, String, Vec<String>) {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap();
        self.wait(Duration::from_secs(30))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
