//! `metricsctl top`: its numbers are the other commands' over its window, its drawing
//! is pinned by snapshots (ratatui's TestBackend), and it runs in a real terminal
//! (tmux) beside a load-test that appends to the file it shows.

mod common;

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{fixture, fixture_path, json, metricsctl, require};
use metricsctl::output::Format;
use metricsctl::top::model::{TopOptions, HTTP_DURATION, HTTP_REQUESTS};
use metricsctl::top::view::{self, SortKey, ViewState};
use metricsctl::top::{handle_key, KeyAction, TopFed};
use metricsctl_format::timestamp::{format_utc, parse_rfc3339, NANOS_PER_SEC};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use serde_json::Value;

fn options(window_secs: i64) -> TopOptions {
    TopOptions {
        by: vec!["route".into()],
        requests_metric: HTTP_REQUESTS.into(),
        latency_metric: HTTP_DURATION.into(),
        window: window_secs * NANOS_PER_SEC,
        step: 10 * NANOS_PER_SEC,
        history: 12,
    }
}

fn rows_by_route(v: &Value) -> Vec<(String, Value)> {
    v.as_array().unwrap().iter().map(|r| (r["route"].as_str().unwrap().to_string(), r.clone())).collect()
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Over its window, `top` counts what `sum` counts from the window's first second, its
/// error ratio is `sum -w status=error` over that, and its quantiles are `quantile`'s.
#[test]
fn once_agrees_with_sum_and_quantile_over_the_window() {
    let file = fixture("top.jsonl");
    for window in ["1m", "30s", "5m"] {
        let top = json(&["top", "--once", "--window", window, &file]);
        let rows = rows_by_route(&top);
        assert_eq!(rows.len(), 5, "{top}");
        let newest = parse_rfc3339(rows[0].1["time"].as_str().unwrap()).unwrap();
        let window_secs = metricsctl_format::timestamp::parse_duration(window).unwrap() / NANOS_PER_SEC;
        let since = format_utc((newest.div_euclid(NANOS_PER_SEC) - window_secs + 1) * NANOS_PER_SEC);
        let totals = rows_by_route(&json(&["sum", "by", "route", "--since", &since, &file]));
        let errors = rows_by_route(&json(&["sum", "by", "route", "--since", &since, "-w", "status=error", &file]));
        let quantiles = rows_by_route(&json(&["quantile", "by", "route", "--since", &since, &file]));
        for (route, row) in &rows {
            let total = totals.iter().find(|(r, _)| r == route).map(|(_, v)| number(&v["value"])).unwrap();
            assert_eq!(number(&row["requests"]), total, "{window} {route}");
            let failed = errors.iter().find(|(r, _)| r == route).map_or(0.0, |(_, v)| number(&v["value"]));
            assert!((number(&row["error_ratio"]) - failed / total).abs() < 1e-12, "{window} {route}: {row}");
            // The file covers 90 s: a 5m window is over what it covers.
            let covered = (window_secs as f64).min(90.0);
            let rate = number(&row["rate"]);
            assert!((rate - total / covered).abs() < total / covered * 0.02, "{window} {route}: rate {rate}");
            let q = &quantiles.iter().find(|(r, _)| r == route).unwrap().1;
            for p in ["p50", "p90", "p99"] {
                assert!((number(&row[p]) - number(&q[p])).abs() < 1e-9, "{window} {route} {p}: {row} vs {q}");
            }
        }
    }
}

/// The fixture's second process restarts in the middle: `top` counts across it (from
/// zero after the restart), and says it saw it.
#[test]
fn once_counts_across_restarts_and_says_so() {
    let out = common::stdout_of(&["top", "--once", "--window", "5m", &fixture("top.jsonl")]);
    assert!(out.contains("services sre · instances 2 · restarts 1 · bad lines 0"), "{out}");
    let all = json(&["top", "--once", "--window", "5m", &fixture("top.jsonl")]);
    let sum: f64 = rows_by_route(&json(&["sum", "by", "route", &fixture("top.jsonl")]))
        .iter()
        .map(|(_, v)| number(&v["value"]))
        .sum();
    let top: f64 = all.as_array().unwrap().iter().map(|r| number(&r["requests"])).sum();
    assert_eq!(top, sum, "a window longer than the file holds everything sum counts");
}

#[test]
fn grpc_view_groups_by_service_and_method() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grpc.jsonl");
    let lines = [
        r#"{"timestamp":"2025-12-16T10:00:00Z","service_name":"s","metric_name":"grpc_server_requests_total","metric_type":"counter","value":10,"attributes":{"rpc.service":"orders.OrderService","rpc.method":"Get","rpc.status_code":0}}"#,
        r#"{"timestamp":"2025-12-16T10:00:00Z","service_name":"s","metric_name":"grpc_server_requests_total","metric_type":"counter","value":1,"attributes":{"rpc.service":"orders.OrderService","rpc.method":"Get","rpc.status_code":14}}"#,
        r#"{"timestamp":"2025-12-16T10:00:10Z","service_name":"s","metric_name":"grpc_server_requests_total","metric_type":"counter","value":40,"attributes":{"rpc.service":"orders.OrderService","rpc.method":"Get","rpc.status_code":0}}"#,
        r#"{"timestamp":"2025-12-16T10:00:10Z","service_name":"s","metric_name":"grpc_server_requests_total","metric_type":"counter","value":11,"attributes":{"rpc.service":"orders.OrderService","rpc.method":"Get","rpc.status_code":14}}"#,
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let v = json(&["top", "--once", "--grpc", path.to_str().unwrap()]);
    let row = &v.as_array().unwrap()[0];
    assert_eq!(row["rpc.service"], "orders.OrderService");
    assert_eq!(row["rpc.method"], "Get");
    // Both series' first samples count from zero: 10 + 1, then 30 + 10 more.
    assert_eq!(number(&row["requests"]), 51.0);
    assert!((number(&row["error_ratio"]) - 11.0 / 51.0).abs() < 1e-12, "{row}");
}

/// Histograms alone (OpenTelemetry's semantic conventions record no request counter):
/// the histogram's count is the request count.
#[test]
fn latency_histogram_alone_counts_requests() {
    let v = json(&["top", "--once", "--requests", "absent_total", &fixture("top.jsonl")]);
    let with_counter = json(&["top", "--once", &fixture("top.jsonl")]);
    for (a, b) in v.as_array().unwrap().iter().zip(with_counter.as_array().unwrap()) {
        assert_eq!(a["route"], b["route"]);
        assert_eq!(a["requests"], b["requests"], "the generator's histogram counts every request the counter does");
    }
}

#[test]
fn usage_errors() {
    let out = metricsctl().args(["top", "--once", "--window", "0s", &fixture("top.jsonl")]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = metricsctl().args(["top", "--once", "-"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plain files"));
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

#[test]
fn keys_sort_filter_pause_scroll_and_quit() {
    let mut state = ViewState::default();
    assert_eq!(handle_key(&mut state, key(KeyCode::Char('s'))), KeyAction::Redraw);
    assert_eq!(state.sort, SortKey::Errors);
    for _ in 0..5 {
        handle_key(&mut state, key(KeyCode::Char('s')));
    }
    assert_eq!(state.sort, SortKey::Rate, "s cycles through every column back to the first");
    handle_key(&mut state, key(KeyCode::Char('/')));
    for c in "ord".chars() {
        handle_key(&mut state, key(KeyCode::Char(c)));
    }
    assert_eq!(handle_key(&mut state, key(KeyCode::Char('q'))), KeyAction::Redraw, "q is typed into the filter");
    handle_key(&mut state, key(KeyCode::Backspace));
    handle_key(&mut state, key(KeyCode::Enter));
    assert_eq!(state.filter, "ord");
    handle_key(&mut state, key(KeyCode::Char('/')));
    handle_key(&mut state, key(KeyCode::Char('x')));
    handle_key(&mut state, key(KeyCode::Esc));
    assert_eq!(state.filter, "ord", "Esc cancels the filter being typed");
    handle_key(&mut state, key(KeyCode::Char('p')));
    assert!(state.paused);
    handle_key(&mut state, key(KeyCode::Down));
    handle_key(&mut state, key(KeyCode::Down));
    handle_key(&mut state, key(KeyCode::Up));
    assert_eq!(state.scroll, 1);
    assert_eq!(handle_key(&mut state, key(KeyCode::Esc)), KeyAction::Quit);
    assert_eq!(handle_key(&mut state, key(KeyCode::Char('q'))), KeyAction::Quit);
    assert_eq!(handle_key(&mut state, KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), KeyAction::Quit);
}

/// The fixture fed through the engine as `top --once` does.
fn fixture_snapshot() -> view::Snapshot {
    let mut fed = TopFed::new(options(60)).unwrap();
    let bytes = std::fs::read(fixture_path("top.jsonl")).unwrap();
    let bad = metricsctl_engine::live::Fed::feed(&mut fed, 0, bytes);
    assert!(bad.is_empty());
    fed.finish();
    fed.snapshot(&["fixtures/top.jsonl".into()], 0)
}

/// The screen as text, one line per row.
fn screen(snapshot: &view::Snapshot, state: &ViewState, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    // The wall clock, pinned: 90 s after the newest sample.
    let now = snapshot.newest.unwrap() + 90 * NANOS_PER_SEC;
    terminal.draw(|frame| view::draw(frame, snapshot, state, now)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        let line: String = (0..buffer.area.width).map(|x| buffer[(x, y)].symbol().to_string()).collect();
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Compares with tests/snapshots/NAME.txt; `UPDATE_SNAPSHOTS=1` rewrites it.
fn assert_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run with UPDATE_SNAPSHOTS=1", path.display()));
    assert_eq!(actual, expected, "the drawing changed; if on purpose, UPDATE_SNAPSHOTS=1 rewrites {name}.txt");
}

#[test]
fn drawing_snapshots() {
    let snapshot = fixture_snapshot();
    let state = ViewState::default();
    assert_snapshot("top_default", &screen(&snapshot, &state, 110, 14));

    let sorted = ViewState { sort: SortKey::P99, ..ViewState::default() };
    let drawn = screen(&snapshot, &sorted, 110, 14);
    let order: Vec<&str> = drawn.lines().skip(3).take(5).map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(order[0], "/api/v1/payments", "the slowest route first when sorted by p99:\n{drawn}");
    assert_snapshot("top_sorted_p99", &drawn);

    let filtered = ViewState { filter: "ORDERS".into(), paused: true, ..ViewState::default() };
    assert_snapshot("top_filtered_paused", &screen(&snapshot, &filtered, 110, 14));

    let typing = ViewState { editing: Some("pay".into()), ..ViewState::default() };
    let drawn = screen(&snapshot, &typing, 110, 14);
    assert!(drawn.contains("filter: pay"), "{drawn}");

    // A narrow terminal still shows the routes and the rate.
    let narrow = screen(&snapshot, &state, 60, 10);
    assert!(narrow.contains("/api/v1/orders") && narrow.contains("req/s"), "{narrow}");
    // More rows than fit: scrolling moves them.
    let scrolled = ViewState { scroll: 2, ..ViewState::default() };
    let drawn = screen(&snapshot, &scrolled, 110, 8);
    assert!(!drawn.contains("/api/v1/orders ") && drawn.contains("/healthz"), "{drawn}");
}

#[test]
fn plain_snapshot_matches_drawing_numbers() {
    let snapshot = fixture_snapshot();
    let mut out = Vec::new();
    view::write_plain(&snapshot, &ViewState::default(), snapshot.newest.unwrap(), Format::Table, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let drawn = screen(&snapshot, &ViewState::default(), 110, 14);
    let route_line = |t: &str| t.lines().find(|l| l.contains("/api/v1/payments")).unwrap().to_string();
    let cells = |l: String| l.split(['|', ' ']).filter(|c| !c.is_empty()).take(6).map(String::from).collect::<Vec<_>>();
    assert_eq!(cells(route_line(&text)), cells(route_line(&drawn)));
}

/// Without a terminal, `top` prints a snapshot after the catch-up and another after
/// each export appended, across a rotation, and stops on SIGTERM with exit 0.
#[test]
fn plain_snapshots_follow_a_growing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    let all = std::fs::read_to_string(fixture_path("top.jsonl")).unwrap();
    let lines: Vec<&str> = all.lines().collect();
    // The first 3 exports, then the rest one export (100 lines) at a time.
    std::fs::write(&path, lines[..300].join("\n") + "\n").unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("metricsctl"))
        .args(["top", "--format", "csv", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let newest_of = |rx: &std::sync::mpsc::Receiver<String>| -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("a snapshot");
            if line.starts_with("/api/v1/orders,") {
                return line.split(',').nth(1).unwrap().to_string();
            }
        }
    };
    let mut seen = vec![newest_of(&rx)];
    for export in 3..8 {
        if export == 6 {
            // Rotated, as logrotate does: the rest goes to a new file under the name.
            std::fs::rename(&path, dir.path().join("metrics.jsonl.1")).unwrap();
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
        file.write_all((lines[export * 100..(export + 1) * 100].join("\n") + "\n").as_bytes()).unwrap();
        drop(file);
        seen.push(newest_of(&rx));
    }
    let times: Vec<i64> = seen.iter().map(|t| parse_rfc3339(t).unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "the newest sample moves with every export appended: {seen:?}");
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// A real terminal: tmux runs `top` on the file a load-test appends to.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(dir: &Path, command: &str) -> Tmux {
        require("tmux");
        let socket = dir.join("tmux.sock").display().to_string();
        let status = std::process::Command::new("tmux")
            .args(["-S", &socket, "new-session", "-d", "-x", "120", "-y", "30", "-c"])
            .arg(dir)
            .arg(command)
            .env("TERM", "xterm-256color")
            .status()
            .unwrap();
        assert!(status.success());
        Tmux { socket }
    }

    fn screen(&self) -> String {
        let out = std::process::Command::new("tmux").args(["-S", &self.socket, "capture-pane", "-p"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        std::process::Command::new("tmux").args(["-S", &self.socket, "send-keys", keys]).status().unwrap();
    }

    /// Waits until the screen satisfies `ready`; returns it.
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "no {what} on the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux").args(["-S", &self.socket, "kill-server"]).status();
    }
}

fn header_newest(screen: &str) -> Option<String> {
    let line = screen.lines().next()?;
    let (_, rest) = line.split_once("newest ")?;
    Some(rest.split_whitespace().next()?.to_string())
}

#[test]
fn top_in_a_real_terminal_follows_a_load_test() {
    let dir = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("metricsctl").display().to_string();
    let file = dir.path().join("metrics.jsonl");
    let mut load = std::process::Command::new(&bin)
        .args(["load-test", "--no-live", "-z", "40s", "-q", "200", "-c", "4", "--export-interval", "1s"])
        .arg("--json-file-path")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let tmux =
        Tmux::start(dir.path(), &format!("{bin} top --window 10s --step 1s metrics.jsonl; echo EXIT=$?; sleep 60"));
    let first = tmux.wait_for("routes of the load-test", |s| s.contains("/api/v1/orders") && s.contains("/healthz"));
    assert!(first.contains("req/s▼"), "sorted by rate at first:\n{first}");
    let newest = header_newest(&first).unwrap();
    let later = tmux.wait_for("a newer export", |s| header_newest(s).is_some_and(|n| n != newest));
    assert!(later.contains("services sre · instances 1"), "{later}");
    tmux.keys("s");
    let sorted = tmux.wait_for("the error column sorted", |s| s.contains("err%▼"));
    assert!(!sorted.contains("req/s▼"), "{sorted}");
    tmux.keys("q");
    let done = tmux.wait_for("the exit code", |s| s.contains("EXIT="));
    assert!(done.contains("EXIT=0"), "{done}");
    let _ = load.kill();
    let _ = load.wait();
}

#[test]
fn load_test_live_view_in_a_real_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("metricsctl").display().to_string();
    let tmux = Tmux::start(
        dir.path(),
        &format!(
            "{bin} load-test -z 8s -q 300 -c 4 --export-interval 1s --json-file-path m.jsonl > summary.txt; echo EXIT=$?; sleep 60"
        ),
    );
    let live = tmux.wait_for("the live view", |s| s.contains("requests/s (peak") && s.contains("status codes"));
    assert!(live.contains("load-test → http://127.0.0.1:"), "{live}");
    tmux.wait_for("a status code counted", |s| s.lines().any(|l| l.contains("200  ")));
    let done = tmux.wait_for("the exit code", |s| s.contains("EXIT="));
    assert!(done.contains("EXIT=0"), "{done}");
    let summary = std::fs::read_to_string(dir.path().join("summary.txt")).unwrap();
    assert!(summary.contains("client and metrics file agree"), "the summary follows the view:\n{summary}");
}
