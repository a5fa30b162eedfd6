//! Property tests of the semantics (docs/SEMANTICS.md): totals are exact across restarts,
//! whatever the block boundaries of the parallel reader, and whatever real exports and
//! log pipelines do to the lines (pauses, per-line timestamps, shuffled data points,
//! interleaved processes, runs of lines sent twice: `metricsctl_synth::disturb`).

use std::collections::BTreeMap;
use std::io::Write;

use metricsctl_engine::engine::{Grouping, FIXED_EXPORT_GAP};
use metricsctl_engine::filter::Filter;
use metricsctl_engine::query::{self, QueryOptions};
use metricsctl_engine::sum::{SumSink, Total};
use metricsctl_format::record::Num;
use metricsctl_reader::input::Source;
use metricsctl_synth::disturb::{Disturbance, Disturber, Export};
use proptest::prelude::*;

const ROUTES: [&str; 4] = ["/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/users", "/healthz"];
const BASE_SECS: i64 = 1_765_850_400; // 2025-12-16T02:00:00Z

/// What one process does in one export interval.
#[derive(Debug, Clone)]
struct Interval {
    restart: bool,
    requests: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Scenario {
    processes: usize,
    routes: usize,
    /// [tick][process]
    ticks: Vec<Vec<Interval>>,
    start_timestamps: bool,
    block_size: usize,
    shuffle_seed: u64,
    /// Milliseconds between exports: as the reference exporter's 10 s, or sub-second as in tests.
    interval_ms: i64,
    disturbance: Disturbance,
}

fn disturbance() -> impl Strategy<Value = Disturbance> {
    (any::<bool>(), any::<bool>(), 0.0f64..0.5, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(per_line, pauses, max_pause, shuffle, interleave, resend)| Disturbance {
            line_spacing: if per_line { 2_000_000 } else { 0 },
            pause_chance: if pauses { 0.1 } else { 0.0 },
            max_pause,
            shuffle,
            interleave,
            resend_chance: if resend { 0.08 } else { 0.0 },
            max_resend: 20,
        },
    )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    scenario_with(prop_oneof![1 => Just(Disturbance::default()), 1 => Just(Disturbance::all()), 3 => disturbance()])
}

fn scenario_with(disturbances: impl Strategy<Value = Disturbance>) -> impl Strategy<Value = Scenario> {
    (
        1usize..=3,
        1usize..=4,
        2usize..=20,
        any::<bool>(),
        32usize..2048,
        any::<u64>(),
        prop_oneof![Just(10_000i64), Just(300i64), Just(10i64)],
        disturbances,
    )
        .prop_flat_map(|(processes, routes, ticks, start_timestamps, block_size, shuffle_seed, interval_ms, d)| {
            let interval = (
                prop::bool::weighted(0.12),
                prop::collection::vec(prop_oneof![3 => Just(0u8), 2 => 1u8..4, 1 => 4u8..40], routes),
            )
                .prop_map(|(restart, requests)| Interval { restart, requests });
            prop::collection::vec(prop::collection::vec(interval, processes), ticks).prop_map(move |ticks| Scenario {
                processes,
                routes,
                ticks,
                start_timestamps,
                block_size,
                shuffle_seed,
                interval_ms,
                // Lines 2 ms apart do not fit in exports 10 ms apart.
                disturbance: Disturbance { line_spacing: if interval_ms < 100 { 0 } else { d.line_spacing }, ..d },
            })
        })
}

fn timestamp(secs: i64, millis: i64) -> String {
    // As the reference exporter writes them: milliseconds and a +0800 offset.
    metricsctl_format::timestamp::format_millis_with_offset((secs * 1000 + millis) * 1_000_000, 8 * 3600)
}

/// xorshift64: the scenario's own deterministic choices.
fn next(rng: &mut u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

struct Simulated {
    file: String,
    expected: BTreeMap<String, u64>,
    /// Every restart can be seen in the file by the rules of docs/SEMANTICS.md.
    restarts_visible: bool,
}

impl Simulated {
    /// The file, written where the reader can read it.
    fn write(&self) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(self.file.as_bytes()).unwrap();
        f
    }
}

fn simulate(s: &Scenario) -> Simulated {
    let mut out = String::new();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    let mut values = vec![vec![0u64; s.routes]; s.processes];
    let mut recorded = vec![vec![false; s.routes]; s.processes];
    // Last exported value of each series in the current lifetime.
    let mut exported = vec![vec![0u64; s.routes]; s.processes];
    // Values last written to the file (any lifetime): what the reader compares against.
    let mut in_file: Vec<Vec<Option<u64>>> = vec![vec![None; s.routes]; s.processes];
    let mut has_exported = vec![false; s.processes];
    // For exports too close to group reliably (10 ms): each series must show a restart
    // on its own (its value drops), the last value it wrote, and whether a restart
    // happened since.
    let mut last_written: Vec<Vec<Option<u64>>> = vec![vec![None; s.routes]; s.processes];
    let mut restart_since: Vec<Vec<bool>> = vec![vec![false; s.routes]; s.processes];
    let mut unseen_restart = vec![false; s.processes];
    // Start of each process' lifetime, in ms after BASE_SECS.
    let mut start = vec![-5_000i64; s.processes];
    let mut visible = true;
    let mut rng = s.shuffle_seed | 1;
    let mut disturber = Disturber::new(s.disturbance, s.shuffle_seed);
    let mut bytes = Vec::new();
    for (tick, intervals) in s.ticks.iter().enumerate() {
        let mut tick_exports = Vec::new();
        let now_ms = tick as i64 * s.interval_ms;
        let now = BASE_SECS + now_ms.div_euclid(1000);
        let now_frac = now_ms.rem_euclid(1000);
        let mut order: Vec<usize> = (0..s.processes).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, (next(&mut rng) % (i as u64 + 1)) as usize);
        }
        for p in order {
            let iv = &intervals[p];
            if iv.restart && has_exported[p] {
                values[p] = vec![0; s.routes];
                recorded[p] = vec![false; s.routes];
                exported[p] = vec![0; s.routes];
                start[p] = now_ms - 1;
                unseen_restart[p] = true;
                restart_since[p] = vec![true; s.routes];
            }
            for (r, &n) in iv.requests.iter().enumerate() {
                values[p][r] += u64::from(n);
                recorded[p][r] |= n > 0;
            }
            if !recorded[p].iter().any(|&x| x) {
                continue;
            }
            if unseen_restart[p] && !s.start_timestamps && s.interval_ms > 100 {
                // The reader trusts a vanished series only between exports more than
                // 100 ms apart (closer ones cannot be grouped reliably).
                let vanished = (0..s.routes).any(|r| in_file[p][r].is_some() && !recorded[p][r]);
                let decreased =
                    (0..s.routes).any(|r| recorded[p][r] && in_file[p][r].is_some_and(|old| values[p][r] < old));
                visible &= vanished || decreased;
            }
            unseen_restart[p] = false;
            has_exported[p] = true;
            // The SDK does not promise an order of series within an export: a series
            // new in this export may come first.
            let mut export_lines: Vec<String> = Vec::new();
            for r in 0..s.routes {
                if !recorded[p][r] {
                    in_file[p][r] = None;
                    continue;
                }
                if s.interval_ms <= 100 && !s.start_timestamps && restart_since[p][r] {
                    visible &= last_written[p][r].is_none_or(|old| values[p][r] < old);
                }
                restart_since[p][r] = false;
                last_written[p][r] = Some(values[p][r]);
                *expected.entry(ROUTES[r].to_string()).or_default() += values[p][r] - exported[p][r];
                exported[p][r] = values[p][r];
                in_file[p][r] = Some(values[p][r]);
                // Attribute order varies from line to line: it must not matter.
                let attrs = if next(&mut rng) % 2 == 0 {
                    format!(
                        r#"{{"http.method":"GET","http.route":"{}","http.status_code":200,"status":"success"}}"#,
                        ROUTES[r]
                    )
                } else {
                    format!(
                        r#"{{"status":"success","http.status_code":200,"http.route":"{}","http.method":"GET"}}"#,
                        ROUTES[r]
                    )
                };
                let start_field = if s.start_timestamps {
                    format!(r#","start_timestamp":"{}""#, timestamp(BASE_SECS, start[p]))
                } else {
                    String::new()
                };
                export_lines.push(format!(
                    r#"{{"timestamp":"{}","service_name":"sre","metric_name":"http_server_requests_total","metric_type":"counter","value":{},"attributes":{attrs},"resource":{{"service.name":"sre","service.instance.id":"sre-{p}"}}{start_field}}}"#,
                    timestamp(now, now_frac + p as i64),
                    values[p][r],
                ));
            }
            for i in (1..export_lines.len()).rev() {
                export_lines.swap(i, (next(&mut rng) % (i as u64 + 1)) as usize);
            }
            let scheduled = (BASE_SECS * 1000 + now_ms + p as i64) * 1_000_000;
            tick_exports.push((p, Export { scheduled, interval: s.interval_ms * 1_000_000, lines: export_lines }));
        }
        disturber.write_tick(tick_exports, &mut bytes);
    }
    out.push_str(std::str::from_utf8(&bytes).unwrap());
    Simulated { file: out, expected, restarts_visible: visible }
}

fn metricsctl_sum_by_route(path: &std::path::Path, block_size: usize) -> BTreeMap<String, u64> {
    sum_by_route_with(path, QueryOptions { strict: true, block_size, ..QueryOptions::default() }).0
}

/// The totals by route, and whether the engine said its schedule was a guess.
fn sum_by_route_with(path: &std::path::Path, options: QueryOptions) -> (BTreeMap<String, u64>, bool) {
    let sources = vec![Source::from_arg(path)];
    let filter = Filter::metrics(&["http_server_requests_total"]).unwrap();
    let mut sink = SumSink::new(vec!["route".into()]);
    let (engine, _) = query::run(&sources, &filter, &options, &mut sink).unwrap();
    let guessed_schedule = engine.ambiguous_schedules().next().is_some();
    sink.grouper.finish().unwrap();
    let totals = sink.totals();
    let by_route = sink
        .grouper
        .keys
        .iter()
        .zip(totals)
        .map(|(k, t)| {
            let Total::Counter(Num::Int(v)) = t else { panic!("not an integer counter total: {t:?}") };
            (k.labels[0].text(), u64::try_from(v).unwrap())
        })
        .collect();
    (by_route, guessed_schedule)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(300),
        max_global_rejects: 200_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sum_equals_the_requests_exported(s in scenario()) {
        let sim = simulate(&s);
        prop_assume!(sim.restarts_visible);
        let f = sim.write();
        let options = QueryOptions { strict: true, block_size: s.block_size, ..QueryOptions::default() };
        let (got, guessed_schedule) = sum_by_route_with(f.path(), options);
        // Lines that two schedules fit alike, with other restarts, cannot give an exact
        // answer; the engine says its schedule is a guess (how rarely is checked below).
        if !guessed_schedule {
            prop_assert_eq!(got, sim.expected, "file:\n{}", sim.file);
        }
    }
}

#[test]
fn a_restart_invisible_in_one_series_is_seen_through_the_others() {
    // users is 2 before and after the restart; orders shows it. Whatever the block
    // size splits, users must count 2 + 2.
    let s = Scenario {
        processes: 1,
        routes: 3,
        ticks: vec![
            vec![Interval { restart: false, requests: vec![10, 0, 2] }],
            vec![Interval { restart: true, requests: vec![3, 0, 2] }],
        ],
        start_timestamps: false,
        block_size: 0,
        shuffle_seed: 7,
        interval_ms: 10_000,
        disturbance: Disturbance::default(),
    };
    let sim = simulate(&s);
    assert!(sim.restarts_visible);
    let f = sim.write();
    for block_size in [16, 100, 300, 1 << 20] {
        let got = metricsctl_sum_by_route(f.path(), block_size);
        assert_eq!(got.get("/api/v1/users"), Some(&4), "block size {block_size}");
        assert_eq!(got.get("/api/v1/orders"), Some(&13), "block size {block_size}");
    }
}

/// Of `cases` disturbed scenarios (exports 10 s apart, restarts visible): how many a
/// variant of the reader gets wrong without saying its schedule is a guess, and how
/// many it says so of.
struct Outcomes {
    tried: u32,
    wrong: u32,
    guessed: u32,
}

fn wrong_answers(cases: u32, options: impl Fn(usize) -> QueryOptions) -> Outcomes {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let strategy = scenario_with(Just(Disturbance::all()));
    let mut runner =
        TestRunner::new_with_rng(Config::default(), TestRng::deterministic_rng(Config::default().rng_algorithm));
    let (mut tried, mut wrong, mut guessed) = (0, 0, 0);
    while tried < cases {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        let sim = simulate(&s);
        if s.interval_ms != 10_000 || !sim.restarts_visible {
            continue;
        }
        tried += 1;
        let f = sim.write();
        let (got, guessed_schedule) = sum_by_route_with(f.path(), options(s.block_size));
        if guessed_schedule {
            guessed += 1;
        } else if got != sim.expected {
            if std::env::var_os("SHOW_WRONG").is_some() {
                std::fs::write(format!("/tmp/wrong-{wrong}.jsonl"), &sim.file).unwrap();
                eprintln!("{s:?}\ngot {got:?}\nexpected {:?}", sim.expected);
            }
            wrong += 1;
        }
    }
    Outcomes { tried, wrong, guessed }
}

/// Mutation check: the property test above can tell the rules that hold from the ones
/// that do not. A fixed 100 ms gap between exports, or applying lines sent twice, gets
/// disturbed files wrong; the reader as it is gets every one right, and says its
/// schedule is a guess of few.
#[test]
fn the_property_fails_for_a_fixed_gap_and_for_kept_duplicates() {
    let exact = |block_size| QueryOptions { block_size, ..QueryOptions::default() };
    let Outcomes { tried, wrong, guessed } =
        wrong_answers(std::env::var("CASES").map_or(300, |c| c.parse().unwrap()), exact);
    assert_eq!(wrong, 0, "the reader got {wrong} of {tried} disturbed files wrong");
    eprintln!("the reader said its schedule was a guess of {guessed} of {tried} disturbed files");
    assert!(guessed * 50 <= tried, "the reader guessed the schedule of {guessed} of {tried} disturbed files");
    let fixed_gap = |block_size| QueryOptions {
        block_size,
        grouping: Grouping::FixedGap(FIXED_EXPORT_GAP),
        ..QueryOptions::default()
    };
    let Outcomes { tried, wrong, .. } = wrong_answers(60, fixed_gap);
    assert!(wrong > tried / 10, "a fixed gap got only {wrong} of {tried} disturbed files wrong");
    let kept_duplicates = |block_size| QueryOptions { block_size, keep_duplicates: true, ..QueryOptions::default() };
    let Outcomes { tried, wrong, .. } = wrong_answers(60, kept_duplicates);
    assert!(wrong > tried / 10, "keeping duplicates got only {wrong} of {tried} disturbed files wrong");
}

/// A case a 50,000-case run found (docs/TESTING.md): a process of three lines, 10 s
/// apart but for a restart after each of the first two exports, whose one series
/// spacing is 20 s. 20 s fits it with both exports 42% late and no restart; the answer
/// was one request short without a word. Such weak evidence is now said to be a guess.
#[test]
fn three_lines_with_a_restart_after_each_are_exact_or_said_to_be_a_guess() {
    let tick = |restart, requests: [u8; 2]| Interval { restart, requests: requests.to_vec() };
    let s = Scenario {
        processes: 2,
        routes: 2,
        ticks: vec![
            vec![tick(false, [0, 0]), tick(false, [1, 0])],
            vec![tick(false, [1, 0]), tick(false, [0, 1])],
            vec![tick(true, [0, 1]), tick(false, [0, 0])],
            vec![tick(true, [1, 0]), tick(false, [0, 0])],
        ],
        start_timestamps: false,
        block_size: 1685,
        shuffle_seed: 7608902604048739270,
        interval_ms: 10_000,
        disturbance: Disturbance::all(),
    };
    let sim = simulate(&s);
    assert!(sim.restarts_visible);
    let f = sim.write();
    let options = QueryOptions { strict: true, block_size: s.block_size, ..QueryOptions::default() };
    let (got, guessed_schedule) = sum_by_route_with(f.path(), options);
    assert!(guessed_schedule || got == sim.expected, "{got:?} != {:?}, file:\n{}", sim.expected, sim.file);
}

/// Every step and drop the engine gives, as text: what a sink sees.
#[derive(Default)]
struct Steps(Vec<String>);

impl metricsctl_engine::engine::Sink for Steps {
    fn want_series(&mut self, _id: u32, _info: &metricsctl_engine::engine::SeriesInfo) -> bool {
        true
    }

    fn step(
        &mut self,
        id: u32,
        _info: &metricsctl_engine::engine::SeriesInfo,
        step: &metricsctl_engine::engine::Step<'_>,
    ) {
        self.0.push(format!("{id} {step:?}"));
    }

    fn dropped(
        &mut self,
        id: u32,
        _info: &metricsctl_engine::engine::SeriesInfo,
        dropped: &metricsctl_engine::engine::Dropped,
    ) {
        self.0.push(format!("{id} dropped {dropped:?}"));
    }
}

/// Histograms are held packed only when many series are (the engine's
/// `PACK_HISTOGRAMS_ABOVE_SERIES`): packed or as parsed, every step of every series is
/// the same, through restarts, pauses, shuffles and lines sent twice.
#[test]
fn histograms_held_packed_or_as_parsed_give_the_same_steps() {
    use metricsctl_synth::generate::{generate, GenerateOptions};
    for (start_timestamps, disturbance) in [(true, Disturbance::default()), (false, Disturbance::all())] {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let options = GenerateOptions {
            target_bytes: 3 << 20,
            restart_every: 15,
            start_timestamps,
            disturbance,
            ..GenerateOptions::default()
        };
        let generated = generate(&mut f, &options).unwrap();
        f.flush().unwrap();
        assert!(generated.restarts > 0, "{generated:?}");
        let steps = |pack_histograms_above_series| {
            let sources = vec![Source::from_arg(f.path())];
            let filter = Filter::default();
            let options = QueryOptions { pack_histograms_above_series, ..QueryOptions::default() };
            let mut sink = Steps::default();
            let (engine, _) = query::run(&sources, &filter, &options, &mut sink).unwrap();
            let findings = (engine.stats.duplicates, engine.stats.conflicts, engine.unconfirmed_restarts().count());
            (sink.0, findings)
        };
        let (packed, findings) = steps(0);
        assert!(packed.iter().any(|s| s.contains("Hist(") && s.contains("kind: Continue")));
        assert!(packed.iter().any(|s| s.contains("Hist(") && s.contains("kind: Restart")));
        assert_eq!(steps(usize::MAX), (packed, findings));
    }
}
