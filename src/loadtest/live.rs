//! `load-test --live`: what the workers see while the load runs, drawn full-screen on
//! stderr (stdout stays the summary's): progress, requests per second, a latency
//! histogram and status codes. q or Ctrl-C stops the load early, as Ctrl-C does
//! without the view.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Gauge, Paragraph, Sparkline};
use ratatui::Frame;
use tokio::time::Instant;

/// Completions as the workers report them, one at a time.
#[derive(Debug, Clone)]
pub struct LiveTally {
    start: Instant,
    /// Latency of the completed requests, µs.
    pub latency: Histogram<u64>,
    /// "200", "503", "grpc Ok", "error: timeout", ...
    pub outcomes: BTreeMap<String, u64>,
    /// Completions per second since the start.
    pub per_second: Vec<u64>,
    pub done: u64,
}

impl LiveTally {
    pub fn new(start: Instant) -> LiveTally {
        LiveTally {
            start,
            latency: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
            outcomes: BTreeMap::new(),
            per_second: Vec::new(),
            done: 0,
        }
    }

    /// A request finished at `at`: with a latency when it got an answer.
    pub fn record(&mut self, at: Instant, latency_micros: Option<u64>, outcome: &str) {
        let second = at.saturating_duration_since(self.start).as_secs() as usize;
        if self.per_second.len() <= second {
            self.per_second.resize(second + 1, 0);
        }
        self.per_second[second] += 1;
        self.done += 1;
        if let Some(l) = latency_micros {
            let _ = self.latency.record(l.min(3_600_000_000));
        }
        match self.outcomes.get_mut(outcome) {
            Some(n) => *n += 1,
            None => {
                self.outcomes.insert(outcome.to_string(), 1);
            }
        }
    }
}

/// How far the load is: by requests (`-n`) or by time (`-z`).
#[derive(Debug, Clone, Copy)]
pub struct Goal {
    pub requests: Option<u64>,
    pub duration: Option<Duration>,
}

/// Latency bins between the fastest request and the 99.9th percentile, counted.
fn latency_bins(h: &Histogram<u64>, bins: usize) -> Vec<(String, u64)> {
    if h.is_empty() || bins == 0 {
        return Vec::new();
    }
    let low = h.min();
    let high = h.value_at_quantile(0.999).max(low + 1);
    let width = (high - low).div_ceil(bins as u64).max(1);
    let mut out: Vec<(String, u64)> =
        (0..bins).map(|i| (format!("{:.1}ms", (low + width * (i as u64 + 1)) as f64 / 1e3), 0u64)).collect();
    for v in h.iter_recorded() {
        let i = ((v.value_iterated_to().saturating_sub(low)) / width).min(bins as u64 - 1) as usize;
        out[i].1 += v.count_at_value();
    }
    out
}

/// Draws the view of `tally` after `elapsed`.
pub fn draw(frame: &mut Frame, target: &str, goal: Goal, tally: &LiveTally, elapsed: Duration) {
    let [title, gauge, chart, bottom, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Percentage(45),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let secs = elapsed.as_secs_f64().max(1e-9);
    frame.render_widget(
        Paragraph::new(format!(
            "load-test → {target} · {} requests in {:.1} s · {:.0} req/s",
            tally.done,
            secs,
            tally.done as f64 / secs
        ))
        .style(Style::default().add_modifier(Modifier::BOLD)),
        title,
    );
    let (ratio, label) = match (goal.duration, goal.requests) {
        (Some(d), _) => {
            (elapsed.as_secs_f64() / d.as_secs_f64().max(1e-9), format!("{:.0} s of {:.0} s", secs, d.as_secs_f64()))
        }
        (None, Some(n)) => (tally.done as f64 / n.max(1) as f64, format!("{} of {n}", tally.done)),
        (None, None) => (0.0, String::new()),
    };
    frame.render_widget(Gauge::default().ratio(ratio.clamp(0.0, 1.0)).label(label), gauge);

    // The second still running is not a whole second's worth: leave it out.
    let whole = tally.per_second.len().saturating_sub(1);
    let shown = (chart.width.saturating_sub(2)) as usize;
    let rates = &tally.per_second[whole.saturating_sub(shown)..whole];
    let peak = rates.iter().copied().max().unwrap_or(0);
    frame.render_widget(
        Sparkline::default().block(Block::bordered().title(format!("requests/s (peak {peak})"))).data(rates),
        chart,
    );

    let [histogram, statuses] =
        Layout::horizontal([Constraint::Percentage(65), Constraint::Percentage(35)]).areas(bottom);
    let bins = latency_bins(&tally.latency, (histogram.height.saturating_sub(2)) as usize);
    let bars: Vec<Bar> =
        bins.iter().map(|(label, n)| Bar::default().label(Line::from(label.clone())).value(*n)).collect();
    let quantiles = if tally.latency.is_empty() {
        String::new()
    } else {
        let q = |q: f64| tally.latency.value_at_quantile(q) as f64 / 1e3;
        format!(" p50 {:.2}ms p90 {:.2}ms p99 {:.2}ms", q(0.5), q(0.9), q(0.99))
    };
    frame.render_widget(
        BarChart::default()
            .block(Block::bordered().title(format!("latency{quantiles}")))
            .direction(ratatui::layout::Direction::Horizontal)
            .bar_width(1)
            .bar_gap(0)
            .data(BarGroup::default().bars(&bars)),
        histogram,
    );
    let lines: Vec<Line> = tally.outcomes.iter().map(|(k, n)| Line::from(format!("{k:>14}  {n}"))).collect();
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title("status codes")), statuses);
    frame.render_widget(
        Paragraph::new("q or Ctrl-C stop early (the final snapshot is still written)")
            .style(Style::default().add_modifier(Modifier::DIM)),
        keys,
    );
}

/// Runs the view on its own thread until `stopped` says the load ended, calling
/// `interrupt` when the user stops it early; the terminal is restored when it returns.
pub fn spawn(
    target: String,
    goal: Goal,
    tally: Arc<Mutex<LiveTally>>,
    stopped: impl Fn() -> bool + Send + 'static,
    interrupt: impl Fn() + Send + 'static,
) -> std::thread::JoinHandle<anyhow::Result<()>> {
    std::thread::spawn(move || -> anyhow::Result<()> {
        use ratatui::crossterm::{execute, terminal};
        let started = std::time::Instant::now();
        terminal::enable_raw_mode()?;
        let mut stderr = std::io::stderr();
        // Cleared here: ratatui's own clear asks the terminal for the cursor position
        // through stdout, which is the summary's (and may be a file).
        execute!(stderr, terminal::EnterAlternateScreen, terminal::Clear(terminal::ClearType::All))?;
        let result = (|| -> anyhow::Result<()> {
            let mut term = ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stderr()))?;
            while !stopped() {
                let snapshot = tally.lock().unwrap_or_else(|e| e.into_inner()).clone();
                term.draw(|frame| draw(frame, &target, goal, &snapshot, started.elapsed()))?;
                if event::poll(Duration::from_millis(100))? {
                    if let Event::Key(key) = event::read()? {
                        let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
                        if key.kind != KeyEventKind::Release && (ctrl_c || key.code == KeyCode::Char('q')) {
                            interrupt();
                        }
                    }
                }
            }
            Ok(())
        })();
        let _ = execute!(stderr, terminal::LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
        result
    })
}
