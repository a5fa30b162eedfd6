//! The command line (README.md). Every flag is defined once, here, with its help.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};

use crate::output::Format;
use metricsctl_engine::filter::{Filter, LabelMatcher, MetricMatcher};
use metricsctl_format::timestamp::TimeArg;

#[derive(Debug, Parser)]
#[command(
    name = "metricsctl",
    version,
    about = "Query, check and convert OpenTelemetry metrics written as JSON Lines",
    long_about = "Query, check and convert OpenTelemetry metrics written as JSON Lines \
                  (one cumulative snapshot of every series per export, as in logs/metrics.jsonl).\n\n\
                  FILE defaults to logs/metrics.jsonl; `-` reads stdin; *.gz files are decompressed; \
                  several files are one input (rotated files are ordered by their first timestamp)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the last records (read backwards from the end of the file), and follow.
    Tail(TailArgs),
    /// Exact totals per group: counter increases, histogram count/sum/mean, gauge sums.
    Sum(SumArgs),
    /// Per-second rate per group per time step, with a sparkline.
    Rate(RateArgs),
    /// Quantiles (default p50, p90, p99) of a histogram over the window, per group.
    Quantile(QuantileArgs),
    /// Validate files: bad lines, series and label cardinality, naming, restarts.
    Check(CheckArgs),
    /// Why a total is what it is: each sample counted from zero (first, restart) with
    /// its evidence, and each line dropped (duplicate, conflict, out of order).
    Explain(ExplainArgs),
    /// PromQL over the files, answered as Prometheus 2.x answers it over the same
    /// samples; with --exact, increase() and rate() are the exact increase `sum` counts.
    Query(QueryArgs),
    /// Prometheus exposition of the latest samples (or, with --history, of every sample).
    ToPrometheus(ToPrometheusArgs),
    /// Follow files and serve their latest samples at /metrics for Prometheus to scrape.
    Serve(ServeArgs),
    /// A live view of growing files: request rate, errors and latency per route.
    Top(TopArgs),
    /// Send every sample to a Prometheus remote write endpoint (Mimir, Thanos, Cortex, VictoriaMetrics, Prometheus).
    RemoteWrite(RemoteWriteArgs),
    /// Receive OTLP metrics (gRPC, HTTP protobuf or JSON) from any SDK and append them to a file.
    Receive(ReceiveArgs),
    /// Drive load at an instrumented server, write its metrics, and cross-check them.
    LoadTest(LoadTestArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

/// Options every command that reads input shares.
#[derive(Debug, Args, Clone, Default)]
pub struct InputArgs {
    /// Fail on the first bad line instead of skipping it.
    #[arg(long)]
    pub strict: bool,
}

/// The filters shared by the query commands.
#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// Metric name, exact or glob (`http_server_*`); repeatable.
    #[arg(short = 'm', long = "metric", value_name = "NAME")]
    pub metric: Vec<String>,
    /// Only this route (the `http.route` attribute).
    #[arg(long, value_name = "ROUTE")]
    pub route: Option<String>,
    /// Only this service.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be
    /// short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`).
    #[arg(short = 'w', long = "where", value_name = "COND")]
    pub conditions: Vec<String>,
    /// Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// End of the window: RFC 3339, or a duration before the newest sample.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

impl FilterArgs {
    pub fn build(&self, default_metric: Option<&str>) -> Result<Filter> {
        let metrics: Vec<String> = if self.metric.is_empty() {
            default_metric.map(|m| vec![m.to_string()]).unwrap_or_default()
        } else {
            self.metric.clone()
        };
        let mut labels = Vec::new();
        if let Some(route) = &self.route {
            labels.push(LabelMatcher::equals("route", route));
        }
        if let Some(service) = &self.service {
            labels.push(LabelMatcher::equals("service", service));
        }
        for c in &self.conditions {
            labels.push(LabelMatcher::parse(c)?);
        }
        Ok(Filter {
            metrics: MetricMatcher::new(&metrics)?,
            labels,
            since: self.since.as_deref().map(TimeArg::parse).transpose()?,
            until: self.until.as_deref().map(TimeArg::parse).transpose()?,
        })
    }
}

#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Options of the commands that compute increases.
#[derive(Debug, Args, Clone, Default)]
pub struct SemanticsArgs {
    /// Take each series' first sample as a baseline instead of counting it from zero
    /// (for inputs whose beginning was rotated away). A series whose start_timestamp
    /// lies inside the input still counts from zero.
    #[arg(long)]
    pub baseline: bool,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    /// Number of records to show.
    #[arg(short = 'n', long = "lines", default_value_t = 10, value_name = "N")]
    pub lines: usize,
    /// Keep reading appended records; survives rotation and truncation like `tail -F`.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show counters' and histograms' increase and per-second rate since their previous
    /// sample instead of their cumulative value.
    #[arg(long)]
    pub rate: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format: `json` prints the records as JSON lines.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Input files (default logs/metrics.jsonl).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SumArgs {
    /// Group by these labels (comma-separated); same as `by LABELS`.
    #[arg(long, value_name = "LABELS", value_delimiter = ',')]
    pub by: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// `[by LABEL[,LABEL...]] [FILE...]`
    #[arg(value_name = "[by LABELS] [FILE]")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RateArgs {
    /// Group by these labels (comma-separated); same as `by LABELS`.
    #[arg(long, value_name = "LABELS", value_delimiter = ',')]
    pub by: Vec<String>,
    /// Width of each time bucket.
    #[arg(long, default_value = "1m", value_name = "DURATION")]
    pub step: String,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// `[by LABEL[,LABEL...]] [FILE...]`
    #[arg(value_name = "[by LABELS] [FILE]")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct QuantileArgs {
    /// Group by these labels (comma-separated); same as `by LABELS`.
    #[arg(long, value_name = "LABELS", value_delimiter = ',')]
    pub by: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// `[Q[,Q...]] [by LABEL[,LABEL...]] [FILE...]`, e.g. `0.5,0.99 by route`
    #[arg(value_name = "[Q,...] [by LABELS] [FILE]")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A label with more distinct values than this on one metric is a problem.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub max_label_values: usize,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Input files (default logs/metrics.jsonl).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Input files (default logs/metrics.jsonl).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The PromQL expression, e.g. 'sum by (http_route) (rate(http_server_requests_total[5m]))'
    /// (one starting with `-` is taken as the expression too).
    #[arg(value_name = "PROMQL", allow_hyphen_values = true)]
    pub query: String,
    /// Input files (default logs/metrics.jsonl).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Evaluate at this time: RFC 3339, Unix seconds, now-DURATION, or a duration before
    /// the newest sample (default: the newest sample of the input).
    #[arg(long, value_name = "TIME", conflicts_with_all = ["start", "end"])]
    pub time: Option<String>,
    /// A range query from this time (with --end), in the forms --time takes.
    #[arg(long, value_name = "TIME", requires = "end")]
    pub start: Option<String>,
    /// A range query up to this time (with --start).
    #[arg(long, value_name = "TIME", requires = "start")]
    pub end: Option<String>,
    /// Resolution of a range query (default: a hundredth of the range, at least 1s).
    #[arg(long, value_name = "DURATION", requires = "start")]
    pub step: Option<String>,
    /// How far back a selector looks for a series' latest sample.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub lookback_delta: String,
    /// increase() and rate() of counters and histograms are the exact, reset-aware,
    /// non-extrapolated increase that `sum` computes, not Prometheus' extrapolation.
    #[arg(long)]
    pub exact: bool,
    /// Copy the resource attributes onto every series instead of a `target_info` series.
    #[arg(long)]
    pub resource_labels: bool,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ToPrometheusArgs {
    /// Write OpenMetrics 1.0 (ending in `# EOF`) instead of the text format 0.0.4.
    #[arg(long)]
    pub openmetrics: bool,
    /// Every sample with its timestamp, as OpenMetrics that `promtool tsdb
    /// create-blocks-from openmetrics` backfills (implies --openmetrics).
    #[arg(long)]
    pub history: bool,
    /// Copy the resource attributes onto every series instead of a `target_info` series.
    #[arg(long)]
    pub resource_labels: bool,
    /// Write to this file (atomically: a temporary file, then a rename).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub input: InputArgs,
    /// Input files (default logs/metrics.jsonl).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to serve /metrics on.
    #[arg(long, default_value = "127.0.0.1:9464", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// A series whose latest sample is this much older than the newest sample of the
    /// input is no longer served (its process stopped exporting); a cumulative series
    /// missing from its process's latest export is not served either.
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub stale_after: String,
    /// Copy the resource attributes onto every series instead of a `target_info` series.
    #[arg(long)]
    pub resource_labels: bool,
    /// Files to follow (default logs/metrics.jsonl); each may be missing at start.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Group by these labels (comma-separated; a suffix such as `route` finds `http.route`).
    #[arg(long, value_delimiter = ',', default_value = "route", value_name = "LABELS")]
    pub by: Vec<String>,
    /// Sliding window of the rates, error ratios and latency quantiles.
    #[arg(long, default_value = "1m", value_name = "DURATION")]
    pub window: String,
    /// Width of one column of the rate sparkline.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub step: String,
    /// The request counter (default http_server_requests_total; with --grpc the gRPC one).
    #[arg(long, value_name = "NAME")]
    pub requests: Option<String>,
    /// The latency histogram, in seconds (default http_server_request_duration_seconds);
    /// its counts stand in for requests when the counter is absent.
    #[arg(long, value_name = "NAME")]
    pub latency: Option<String>,
    /// gRPC methods instead of HTTP routes: grpc_server_* grouped by rpc.service,rpc.method.
    #[arg(long)]
    pub grpc: bool,
    /// Print one snapshot of what the files hold and exit, instead of following them.
    #[arg(long)]
    pub once: bool,
    /// Format of the snapshots printed when stdout is not a terminal (or with --once).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Files to follow (default logs/metrics.jsonl); each may be missing at start.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RemoteWriteArgs {
    /// The endpoint, e.g. http://127.0.0.1:9090/api/v1/write (http or https).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// Samples per request at most.
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub max_samples_per_request: usize,
    /// Retries of one request (5xx, 429, no answer) before giving up [default: 10;
    /// without end with --follow].
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,
    /// Keep sending as the files grow (like `tail -F`), each export once it is
    /// complete, until SIGINT or SIGTERM; refused requests are reported and dropped.
    #[arg(long)]
    pub follow: bool,
    /// Trust the CA certificates in this PEM file too (https endpoints; the system's
    /// roots are always trusted).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Record the last acknowledged sample here after every request; a re-run with the
    /// same file sends only what comes after it.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Basic auth user; the password comes from --basic-auth-password-file or
    /// $METRICSCTL_REMOTE_WRITE_PASSWORD.
    #[arg(long, value_name = "USER")]
    pub basic_auth_user: Option<String>,
    #[arg(long, value_name = "FILE")]
    pub basic_auth_password_file: Option<PathBuf>,
    /// A bearer token from this file (or $METRICSCTL_REMOTE_WRITE_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub bearer_token_file: Option<PathBuf>,
    /// An extra header (`X-Scope-OrgID: tenant-1`); repeatable.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Copy the resource attributes onto every series instead of a `target_info` series.
    #[arg(long)]
    pub resource_labels: bool,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Files to send (default logs/metrics.jsonl).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReceiveArgs {
    /// OTLP/gRPC address (`off` to disable).
    #[arg(long, default_value = "127.0.0.1:4317", value_name = "ADDR")]
    pub otlp_grpc: String,
    /// OTLP/HTTP address, serving POST /v1/metrics with protobuf or JSON bodies (`off` to disable).
    #[arg(long, default_value = "127.0.0.1:4318", value_name = "ADDR")]
    pub otlp_http: String,
    /// The metrics file to append to (never truncated).
    #[arg(short = 'o', long = "output", default_value = "logs/metrics.jsonl", value_name = "FILE")]
    pub output: PathBuf,
    /// Larger requests (after decompression) are refused with an error status.
    #[arg(long, default_value_t = 16 << 20, value_name = "BYTES")]
    pub max_request_bytes: usize,
    /// What is written: a line per data point in the record format, or each request as
    /// one OTLP/JSON line (what the Collector's otlpjsonfile receiver reads; metricsctl
    /// reads it too).
    #[arg(long, value_enum, default_value_t = ReceiveOutput::Records, value_name = "FORMAT")]
    pub output_format: ReceiveOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReceiveOutput {
    /// The record format (docs/FORMAT.md).
    Records,
    /// One ExportMetricsServiceRequest per line, in protobuf's JSON mapping.
    OtlpJson,
}

#[derive(Debug, Args)]
pub struct LoadTestArgs {
    /// Number of requests (default 20000 unless -z is given).
    #[arg(short = 'n', long = "requests", value_name = "N")]
    pub requests: Option<u64>,
    /// Run for this long (30s, 2m); requests in flight at the deadline finish and are
    /// reported apart.
    #[arg(short = 'z', long = "duration", value_name = "DURATION")]
    pub duration: Option<String>,
    /// Concurrent connections (HTTP/1.1 keep-alive, one per worker).
    #[arg(short = 'c', long = "connections", default_value_t = 32, value_name = "N")]
    pub connections: usize,
    /// Total requests per second (open model: latency counts from the intended send time).
    #[arg(short = 'q', long = "rate", value_name = "RPS")]
    pub rate: Option<f64>,
    /// Load an external server instead of the built-in one (client-side metrics are
    /// then recorded, as http_client_*).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Address of the built-in server.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Only run the built-in server (for an outside load generator) until Ctrl-C or -z.
    #[arg(long)]
    pub serve_only: bool,
    /// Run the built-in server without the metrics middleware (to measure its cost).
    #[arg(long)]
    pub no_middleware: bool,
    /// Also start a gRPC server (orders.OrderService, users.UserService) and send a
    /// quarter of the requests as gRPC calls.
    #[arg(long)]
    pub grpc: bool,
    /// Draw a live view while the load runs (requests/s, latency histogram, status codes);
    /// the default when stderr is a terminal.
    #[arg(long, overrides_with = "no_live")]
    pub live: bool,
    /// A progress bar instead of the live view.
    #[arg(long, overrides_with = "live")]
    pub no_live: bool,
    #[command(flatten)]
    pub metrics: metricsctl_otel::config::MetricsFlags,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The positional words of `sum`, `rate` and `quantile`: optional quantiles, an optional
/// `by LABELS`, then files.
#[derive(Debug, Default, PartialEq)]
pub struct Positionals {
    pub quantiles: Option<Vec<f64>>,
    pub by: Vec<String>,
    pub files: Vec<PathBuf>,
}

/// A quantile as `0.99` or as a percentile `p99`, `p99.9`.
fn parse_quantile(text: &str) -> Result<f64, std::num::ParseFloatError> {
    match text.strip_prefix(['p', 'P']) {
        Some(pct) => pct.parse::<f64>().map(|p| p / 100.0),
        None => text.parse::<f64>(),
    }
}

pub fn split_positionals(args: &[String], by_flag: &[String], allow_quantiles: bool) -> Result<Positionals> {
    let mut out = Positionals { by: by_flag.to_vec(), ..Default::default() };
    let mut rest = args;
    if allow_quantiles {
        if let Some(first) = rest.first() {
            let parsed: Result<Vec<f64>, _> = first.split(',').map(|q| parse_quantile(q.trim())).collect();
            if let Ok(qs) = parsed {
                if let Some(bad) = qs.iter().find(|q| !(0.0..=1.0).contains(*q)) {
                    bail!("quantile {bad} is outside [0, 1]");
                }
                out.quantiles = Some(qs);
                rest = &rest[1..];
            }
        }
    }
    if rest.first().map(String::as_str) == Some("by") {
        let Some(labels) = rest.get(1) else {
            bail!("`by` needs a label list, e.g. `by route` or `by route,method`");
        };
        if !out.by.is_empty() {
            bail!("give the grouping either as `by LABELS` or as `--by LABELS`, not both");
        }
        out.by = labels.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        rest = &rest[2..];
    }
    out.files = rest.iter().map(PathBuf::from).collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn positionals() {
        let p = split_positionals(&words("by route,method a.jsonl"), &[], false).unwrap();
        assert_eq!(p.by, vec!["route", "method"]);
        assert_eq!(p.files, vec![PathBuf::from("a.jsonl")]);
        let p = split_positionals(&words("0.5,0.99 by route"), &[], true).unwrap();
        assert_eq!(p.quantiles, Some(vec![0.5, 0.99]));
        assert_eq!(p.by, vec!["route"]);
        let p = split_positionals(&words("x.jsonl"), &["route".into()], false).unwrap();
        assert_eq!(p.by, vec!["route"]);
        assert!(split_positionals(&words("by"), &[], false).is_err());
        assert!(split_positionals(&words("1.5"), &[], true).is_err());
    }
}
