//! Writes a realistic metrics.jsonl for benchmarks and demos.
//!
//! ```text
//! cargo run --release -p metricsctl-synth --example generate -- --size 2GB --out bench/data/metrics.jsonl --truth bench/data/truth.json
//! ```

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Parser;
use metricsctl_synth::disturb::Disturbance;
use metricsctl_synth::generate::{generate, generate_cardinality, GenerateOptions};
use metricsctl_synth::shape::Shape;

#[derive(Parser)]
struct Args {
    /// Where to write (refuses to replace an existing file unless --force).
    #[arg(long, default_value = "logs/metrics.jsonl")]
    out: PathBuf,
    /// Approximate size: 50MB, 2GB, ...
    #[arg(long, default_value = "50MB")]
    size: String,
    #[arg(long, default_value_t = 3)]
    services: usize,
    #[arg(long, default_value_t = 3)]
    instances: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Mean exports between restarts of a process (0 = never).
    #[arg(long, default_value_t = 400)]
    restart_every: u64,
    /// Omit start_timestamp, as the reference Go exporter does.
    #[arg(long)]
    no_start_timestamp: bool,
    /// Stamp each line when it is written, this many milliseconds after the previous
    /// one of its export (0: one timestamp per export).
    #[arg(long, default_value_t = 0.0, value_name = "MS")]
    line_spacing_ms: f64,
    /// Chance per export of a pause (GC, throttling, a slow disk) before a random line.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    pauses: f64,
    /// Longest pause, as a share of the export interval.
    #[arg(long, default_value_t = 0.45, value_name = "SHARE")]
    max_pause: f64,
    /// List the data points of each metric in another order in every export.
    #[arg(long)]
    shuffle: bool,
    /// Interleave the lines of processes exporting at the same moment by write time.
    #[arg(long)]
    interleave: bool,
    /// Chance per line that a run of 1-20 lines ending with it is sent again (an
    /// at-least-once log shipper's retry).
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    resend: f64,
    /// All of the above at once: lines 3 ms apart, pauses in 10% of exports, shuffled,
    /// interleaved, runs sent again after 5% of lines.
    #[arg(long)]
    disturb: bool,
    /// How the lines are written: writer (this project's), go (the reference design's Go exporter:
    /// no "+Inf" bucket, no start_timestamp), no-resource, utc-nanos, colon-offset,
    /// reordered (keys in another order).
    #[arg(long, default_value = "writer", value_parser = ["writer", "go", "no-resource", "utc-nanos", "colon-offset", "reordered"])]
    shape: String,
    /// Instead: a cardinality explosion of this many users (a `user_id` label on a
    /// counter and a histogram each), one process, --exports exports, in --shape (the
    /// disturbances do not apply to it).
    #[arg(long, value_name = "SERIES")]
    cardinality: Option<u64>,
    /// Exports of the --cardinality file.
    #[arg(long, default_value_t = 3)]
    exports: u64,
    /// Also write the exact requests per route as JSON here.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
}

fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim().to_ascii_uppercase();
    let (num, mult) = if let Some(n) = s.strip_suffix("GB") {
        (n, 1u64 << 30)
    } else if let Some(n) = s.strip_suffix("MB") {
        (n, 1 << 20)
    } else if let Some(n) = s.strip_suffix("KB") {
        (n, 1 << 10)
    } else {
        (s.as_str(), 1)
    };
    let v: f64 = num.trim().parse().with_context(|| format!("invalid size {s:?}"))?;
    Ok((v * mult as f64) as u64)
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.out.exists() && !args.force {
        bail!("{} exists; pass --force to replace it", args.out.display());
    }
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let options = GenerateOptions {
        target_bytes: parse_size(&args.size)?,
        services: args.services,
        instances: args.instances,
        seed: args.seed,
        restart_every: args.restart_every,
        start_timestamps: !args.no_start_timestamp,
        disturbance: if args.disturb {
            Disturbance::all()
        } else {
            Disturbance {
                line_spacing: (args.line_spacing_ms * 1e6) as i64,
                pause_chance: args.pauses,
                max_pause: args.max_pause,
                shuffle: args.shuffle,
                interleave: args.interleave,
                resend_chance: args.resend,
                max_resend: 20,
            }
        },
        shape: Shape::parse(&args.shape).expect("one of the listed shapes"),
        ..GenerateOptions::default()
    };
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    let g = match args.cardinality {
        Some(series) => generate_cardinality(&mut writer, series, args.exports, args.seed, options.shape)?,
        None => generate(&mut writer, &options)?,
    };
    writer.flush()?;
    eprintln!(
        "wrote {} ({} bytes, {} lines, {} restarts, {} bad lines)",
        args.out.display(),
        g.bytes,
        g.lines,
        g.restarts,
        g.bad_lines
    );
    if let Some(truth) = args.truth {
        std::fs::write(&truth, serde_json::to_string_pretty(&g.requests_by_route)?)
            .with_context(|| format!("cannot write {}", truth.display()))?;
    }
    Ok(())
}
