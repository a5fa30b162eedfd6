//! `metricsctl top`: a live view of growing metrics files. The files are followed like
//! `tail -F` into the engine (so restarts, duplicates and interleaved processes count as
//! everywhere else) and [`model::TopModel`]; [`view`] draws what it holds full-screen,
//! or prints it as plain snapshots when stdout is not a terminal.

pub mod model;
pub mod view;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use self::model::{TopModel, TopOptions};
use self::view::{Snapshot, ViewState};
use crate::output::{sanitize, Format};
use metricsctl_engine::live::{CatchUp, Fed, FeedNote, Feeder, LiveEngine};
use metricsctl_format::timestamp::now_nanos;
use metricsctl_reader::follow::POLL_INTERVAL;
use metricsctl_reader::matcher::MetricMatcher;
use metricsctl_reader::scan::{ParsedChunk, ScanOptions};

/// The engine and the model it feeds.
pub struct TopFed {
    pub live: LiveEngine,
    pub model: TopModel,
}

impl TopFed {
    pub fn new(options: TopOptions) -> Result<TopFed> {
        let metrics = MetricMatcher::new(&[options.requests_metric.clone(), options.latency_metric.clone()])?;
        Ok(TopFed { live: LiveEngine::new(metrics), model: TopModel::new(options) })
    }

    /// Hands out the exports whose time is up by the wall clock.
    pub fn settle(&mut self) {
        self.live.settle(&mut self.model);
        self.model.learn_interval(&self.live.engine);
    }

    /// Hands out everything fed (the input is complete: `--once`).
    pub fn finish(&mut self) {
        self.live.finish(&mut self.model);
    }

    pub fn snapshot(&self, inputs: &[String], bad_lines: u64) -> Snapshot {
        let engine = &self.live.engine;
        let mut services: Vec<String> = engine.catalog.processes.iter().map(|p| p.service.to_string()).collect();
        services.sort();
        services.dedup();
        let options = &self.model.options;
        Snapshot {
            inputs: inputs.to_vec(),
            newest: self.model.newest,
            window: options.window,
            step: options.step,
            services,
            instances: engine.catalog.processes.len(),
            restarts: engine.processes.iter().map(|p| p.restarts.len()).sum(),
            bad_lines,
            by: options.by.clone(),
            latency_in_seconds: self.model.latency_in_seconds,
            rows: self.model.rows(),
        }
    }
}

impl Fed for TopFed {
    fn scan_options(&self) -> ScanOptions {
        self.live.scan_options().clone()
    }

    /// Only the catch-up's newest-samples-only reading comes this way: the engine learns
    /// every series' level from it, the view counts nothing from it.
    fn apply(&mut self, chunk: ParsedChunk) -> Vec<(u64, String)> {
        self.model.counting = false;
        let bad = self.live.apply(chunk, &mut self.model);
        self.model.counting = true;
        bad
    }

    fn feed(&mut self, source: usize, bytes: Vec<u8>) -> Vec<(u64, String)> {
        let bad = self.live.feed(source, bytes, &mut self.model);
        self.model.learn_interval(&self.live.engine);
        bad
    }

    fn caught_up(&mut self) {
        self.live.caught_up(&mut self.model);
        self.model.learn_interval(&self.live.engine);
    }

    fn settle(&mut self) {
        TopFed::settle(self);
    }

    fn take_error(&mut self) -> Option<anyhow::Error> {
        self.model.label_error.take().map(anyhow::Error::msg)
    }
}

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    Quit,
    Redraw,
    Nothing,
}

/// Applies a key press to the view: q, Esc and Ctrl-C quit; s sorts by the next column;
/// / types a filter (Enter applies, Esc cancels); p pauses; ↑ ↓ PgUp PgDn Home scroll.
pub fn handle_key(state: &mut ViewState, key: KeyEvent) -> KeyAction {
    if key.kind == KeyEventKind::Release {
        return KeyAction::Nothing;
    }
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return KeyAction::Quit;
    }
    if let Some(typed) = &mut state.editing {
        match key.code {
            KeyCode::Enter => {
                state.filter = std::mem::take(typed);
                state.editing = None;
                state.scroll = 0;
            }
            KeyCode::Esc => state.editing = None,
            KeyCode::Backspace => {
                typed.pop();
            }
            KeyCode::Char(c) => typed.push(c),
            _ => return KeyAction::Nothing,
        }
        return KeyAction::Redraw;
    }
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc => return KeyAction::Quit,
        KeyCode::Char('s') => state.sort = state.sort.next(),
        KeyCode::Char('/') => state.editing = Some(state.filter.clone()),
        KeyCode::Char('p') => state.paused = !state.paused,
        KeyCode::Up => state.scroll = state.scroll.saturating_sub(1),
        KeyCode::Down => state.scroll += 1,
        KeyCode::PageUp => state.scroll = state.scroll.saturating_sub(10),
        KeyCode::PageDown => state.scroll += 10,
        KeyCode::Home => state.scroll = 0,
        _ => return KeyAction::Nothing,
    }
    KeyAction::Redraw
}

/// How `top` was asked to run.
pub struct TopPlan {
    pub files: Vec<PathBuf>,
    pub options: TopOptions,
    /// Draw full-screen (stdout is a terminal), or print snapshots.
    pub screen: bool,
    pub once: bool,
    pub format: Format,
}

fn notice_text(note: &FeedNote) -> String {
    match note {
        FeedNote::BadLine { path, line, reason, .. } => format!("{}:{line}: skipped: {reason}", path.display()),
        FeedNote::Event { path, event } => {
            format!("{}: {}", path.display(), event.describe())
        }
        FeedNote::Problem { path, error } => {
            let prefix = path.map(|p| format!("{}: ", p.display())).unwrap_or_default();
            format!("{prefix}{error:#}")
        }
    }
}

pub fn run(plan: TopPlan, out: &mut dyn Write) -> Result<()> {
    let inputs: Vec<String> = plan.files.iter().map(|p| p.display().to_string()).collect();
    let fed = Mutex::new(TopFed::new(plan.options.clone())?);
    if plan.screen {
        run_screen(plan, inputs, &fed)
    } else {
        run_plain(plan, inputs, &fed, out)
    }
}

/// Snapshots on stdout: one after the catch-up, then one after every export (the
/// newest sample moved), until SIGINT or SIGTERM; with `--once`, one of everything
/// the files hold.
fn run_plain(plan: TopPlan, inputs: Vec<String>, fed: &Mutex<TopFed>, out: &mut dyn Write) -> Result<()> {
    let mut say = |note: FeedNote| eprintln!("metricsctl: {}", sanitize(&notice_text(&note)));
    let mut feeder = Feeder::catch_up(plan.files.clone(), fed, CatchUp::Newest, &mut say)?;
    while feeder.poll(fed, &mut say)? {}
    let state = ViewState::default();
    let bad = |feeder: &Feeder| feeder.bad_lines.iter().sum::<u64>();
    if plan.once {
        let mut fed = fed.lock().unwrap_or_else(|e| e.into_inner());
        fed.finish();
        view::write_plain(&fed.snapshot(&inputs, bad(&feeder)), &state, now_nanos(), plan.format, out)?;
        out.flush()?;
        return Ok(());
    }
    crate::cmd::stop_on_signals();
    let mut shown: Option<i64> = None;
    let mut first = true;
    while !crate::cmd::stop_requested() {
        let got = feeder.poll(fed, &mut say)?;
        let mut fed = fed.lock().unwrap_or_else(|e| e.into_inner());
        fed.settle();
        if first || fed.model.newest != shown {
            first = false;
            shown = fed.model.newest;
            view::write_plain(&fed.snapshot(&inputs, bad(&feeder)), &state, now_nanos(), plan.format, out)?;
            out.flush()?;
        }
        drop(fed);
        if !got {
            std::thread::sleep(POLL_INTERVAL);
        }
    }
    Ok(())
}

/// The full-screen view: redrawn when an export arrives, a key is pressed, or a second
/// has passed (the age of the newest sample).
fn run_screen(plan: TopPlan, inputs: Vec<String>, fed: &Mutex<TopFed>) -> Result<()> {
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    let result = screen_loop(&mut terminal, plan, inputs, fed);
    ratatui::try_restore().context("cannot restore the terminal")?;
    result
}

fn screen_loop(
    terminal: &mut ratatui::DefaultTerminal,
    plan: TopPlan,
    inputs: Vec<String>,
    fed: &Mutex<TopFed>,
) -> Result<()> {
    let mut state = ViewState { notice: Some("reading…".into()), ..ViewState::default() };
    let mut shown = Snapshot { inputs: inputs.clone(), by: plan.options.by.clone(), ..Snapshot::default() };
    terminal.draw(|frame| view::draw(frame, &shown, &state, now_nanos()))?;
    let notices = std::cell::RefCell::new(Vec::<String>::new());
    let mut note = |n: FeedNote| notices.borrow_mut().push(notice_text(&n));
    let mut feeder = Feeder::catch_up(plan.files.clone(), fed, CatchUp::Newest, &mut note)?;
    state.notice = None;
    let mut last_draw = Instant::now() - Duration::from_secs(1);
    let mut dirty = true;
    let mut shown_version = None;
    loop {
        let got = feeder.poll(fed, &mut note)?;
        if !state.paused {
            let mut fed = fed.lock().unwrap_or_else(|e| e.into_inner());
            fed.settle();
            let bad_lines = feeder.bad_lines.iter().sum();
            // The rows are recomputed only when steps came in (or the bad lines moved).
            let version = (fed.model.version, bad_lines, fed.live.engine.catalog.processes.len());
            if shown_version != Some(version) {
                shown_version = Some(version);
                let latest = fed.snapshot(&inputs, bad_lines);
                if latest != shown {
                    shown = latest;
                    dirty = true;
                }
            }
        }
        let latest = notices.borrow_mut().drain(..).next_back();
        if let Some(latest) = latest {
            state.notice = Some(latest);
            dirty = true;
        }
        if dirty || last_draw.elapsed() >= Duration::from_secs(1) {
            terminal.draw(|frame| view::draw(frame, &shown, &state, now_nanos()))?;
            last_draw = Instant::now();
            dirty = false;
        }
        let wait = if got { Duration::ZERO } else { POLL_INTERVAL };
        if event::poll(wait)? {
            match event::read()? {
                Event::Key(key) => match handle_key(&mut state, key) {
                    KeyAction::Quit => return Ok(()),
                    KeyAction::Redraw => dirty = true,
                    KeyAction::Nothing => {}
                },
                Event::Resize(..) => dirty = true,
                _ => {}
            }
        }
    }
}
