//! The `metrics:` configuration block (docs/EMBEDDING.md) (`configs/config.yaml`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Deserialize;

use metricsctl_format::timestamp::parse_duration;

/// Cumulative (the default: every export holds totals since start) or delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum TemporalityChoice {
    #[default]
    Cumulative,
    Delta,
}

/// Where the metrics go: one of three exporters is chosen by configuration; any
/// combination runs on one `MeterProvider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "clap", value(rename_all = "snake_case"))]
pub enum ExporterKind {
    /// Appends JSON lines to `json_file_path` (the default).
    JsonFile,
    /// Serves `/metrics` on `prometheus_listen` for Prometheus to scrape.
    Prometheus,
    /// Pushes OTLP over gRPC to `otlp_endpoint`.
    Otlp,
}

impl ExporterKind {
    pub const NAMES: &'static str = "json_file, prometheus, otlp";

    pub fn name(self) -> &'static str {
        match self {
            ExporterKind::JsonFile => "json_file",
            ExporterKind::Prometheus => "prometheus",
            ExporterKind::Otlp => "otlp",
        }
    }

    fn parse(name: &str) -> Option<ExporterKind> {
        [ExporterKind::JsonFile, ExporterKind::Prometheus, ExporterKind::Otlp].into_iter().find(|k| k.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    pub service_name: String,
    pub service_version: String,
    pub environment: String,
    /// `service.instance.id`; tells processes of one service apart.
    pub instance_id: String,
    pub json_file_path: PathBuf,
    pub export_interval: Duration,
    pub export_timeout: Duration,
    pub temporality: TemporalityChoice,
    /// One or several, without repeats; never empty.
    pub exporters: Vec<ExporterKind>,
    /// Address of the Prometheus exporter's `/metrics` (port 0: any free port).
    pub prometheus_listen: std::net::SocketAddr,
    /// The OTLP exporter's collector (gRPC).
    pub otlp_endpoint: String,
}

pub const DEFAULT_PROMETHEUS_LISTEN: &str = "127.0.0.1:9464";
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://127.0.0.1:4317";

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            service_name: "sre".into(),
            service_version: "v1.0.0".into(),
            environment: "dev".into(),
            instance_id: default_instance_id(),
            json_file_path: PathBuf::from("./logs/metrics.jsonl"),
            export_interval: Duration::from_secs(10),
            export_timeout: Duration::from_secs(5),
            temporality: TemporalityChoice::Cumulative,
            exporters: vec![ExporterKind::JsonFile],
            prometheus_listen: DEFAULT_PROMETHEUS_LISTEN.parse().expect("a valid address"),
            otlp_endpoint: DEFAULT_OTLP_ENDPOINT.into(),
        }
    }
}

/// `<hostname>-<pid>`: unique per process lifetime on a machine.
pub fn default_instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}-{}", std::process::id())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    metrics: Option<FileMetrics>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileMetrics {
    service_name: Option<String>,
    service_version: Option<String>,
    environment: Option<String>,
    instance_id: Option<String>,
    json_file_path: Option<PathBuf>,
    export_interval: Option<String>,
    export_timeout: Option<String>,
    temporality: Option<TemporalityChoice>,
    exporters: Option<Vec<String>>,
    prometheus_listen: Option<String>,
    otlp_endpoint: Option<String>,
}

/// Values given on the command line; `None` keeps the file's (or the default) value.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct MetricsFlags {
    /// Configuration file with a `metrics:` block [default: configs/config.yaml, which
    /// may be missing (then the defaults apply); a file named here must exist].
    #[cfg_attr(feature = "clap", arg(long, value_name = "PATH"))]
    pub config: Option<PathBuf>,
    /// resource service.name.
    #[cfg_attr(feature = "clap", arg(long, value_name = "NAME"))]
    pub service_name: Option<String>,
    /// resource service.version.
    #[cfg_attr(feature = "clap", arg(long, value_name = "VERSION"))]
    pub service_version: Option<String>,
    /// resource deployment.environment.
    #[cfg_attr(feature = "clap", arg(long, value_name = "ENV"))]
    pub environment: Option<String>,
    /// resource service.instance.id (default: HOSTNAME-PID).
    #[cfg_attr(feature = "clap", arg(long, value_name = "ID"))]
    pub instance_id: Option<String>,
    /// Where the JSON file exporter appends.
    #[cfg_attr(feature = "clap", arg(long, value_name = "PATH"))]
    pub json_file_path: Option<PathBuf>,
    /// Time between exports.
    #[cfg_attr(feature = "clap", arg(long, value_name = "DURATION"))]
    pub export_interval: Option<String>,
    /// An export taking longer is abandoned with an error.
    #[cfg_attr(feature = "clap", arg(long, value_name = "DURATION"))]
    pub export_timeout: Option<String>,
    /// Cumulative snapshots (default) or deltas since the previous export.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub temporality: Option<TemporalityChoice>,
    /// Exporters to run, one or several (comma-separated): json_file, prometheus, otlp.
    #[cfg_attr(feature = "clap", arg(long = "exporter", value_enum, value_delimiter = ',', value_name = "EXPORTER"))]
    pub exporters: Vec<ExporterKind>,
    /// Where the prometheus exporter serves /metrics [default: 127.0.0.1:9464].
    #[cfg_attr(feature = "clap", arg(long, value_name = "ADDR"))]
    pub prometheus_listen: Option<std::net::SocketAddr>,
    /// The otlp exporter's collector [default: http://127.0.0.1:4317].
    #[cfg_attr(feature = "clap", arg(long, value_name = "URL"))]
    pub otlp_endpoint: Option<String>,
}

fn exporters(names: &[String], origin: &str) -> Result<Vec<ExporterKind>> {
    let mut kinds = Vec::new();
    for name in names {
        let Some(kind) = ExporterKind::parse(name.trim()) else {
            anyhow::bail!(
                "{origin}: metrics.exporters: unknown exporter {name:?} (expected one of {})",
                ExporterKind::NAMES
            );
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        anyhow::bail!("{origin}: metrics.exporters: name at least one of {}", ExporterKind::NAMES);
    }
    Ok(kinds)
}

fn otlp_endpoint(url: &str, key: &str) -> Result<String> {
    let ok = (url.starts_with("http://") || url.starts_with("https://")) && url.parse::<hyper::Uri>().is_ok();
    if !ok {
        anyhow::bail!("{key}: {url:?} is not an http:// or https:// URL");
    }
    Ok(url.to_string())
}

fn duration(text: &str, key: &str, origin: &str) -> Result<Duration> {
    let nanos = parse_duration(text).with_context(|| format!("{origin}: {key}"))?;
    if nanos <= 0 {
        anyhow::bail!("{origin}: {key}: must be positive");
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// The configuration file read when none is named.
pub const DEFAULT_CONFIG: &str = "configs/config.yaml";

impl MetricsConfig {
    /// Reads `path` (a missing file gives the defaults).
    pub fn from_file(path: &Path) -> Result<MetricsConfig> {
        let mut config = MetricsConfig::default();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(config),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let origin = path.display().to_string();
        let file: FileConfig =
            serde_norway::from_str(&text).with_context(|| format!("{origin}: invalid configuration"))?;
        let m = file.metrics.unwrap_or_default();
        if let Some(v) = m.service_name {
            config.service_name = v;
        }
        if let Some(v) = m.service_version {
            config.service_version = v;
        }
        if let Some(v) = m.environment {
            config.environment = v;
        }
        if let Some(v) = m.instance_id {
            config.instance_id = v;
        }
        if let Some(v) = m.json_file_path {
            config.json_file_path = v;
        }
        if let Some(v) = m.export_interval {
            config.export_interval = duration(&v, "metrics.export_interval", &origin)?;
        }
        if let Some(v) = m.export_timeout {
            config.export_timeout = duration(&v, "metrics.export_timeout", &origin)?;
        }
        if let Some(v) = m.temporality {
            config.temporality = v;
        }
        if let Some(v) = m.exporters {
            config.exporters = exporters(&v, &origin)?;
        }
        if let Some(v) = m.prometheus_listen {
            config.prometheus_listen = v.parse().with_context(|| {
                format!("{origin}: metrics.prometheus_listen: {v:?} is not an address like 127.0.0.1:9464")
            })?;
        }
        if let Some(v) = m.otlp_endpoint {
            config.otlp_endpoint = otlp_endpoint(&v, &format!("{origin}: metrics.otlp_endpoint"))?;
        }
        Ok(config)
    }

    /// The file's configuration with the flags applied on top.
    pub fn load(flags: &MetricsFlags) -> Result<MetricsConfig> {
        let mut config = match &flags.config {
            Some(path) => {
                if !path.exists() {
                    anyhow::bail!(
                        "--config {}: no such file (only the default {DEFAULT_CONFIG} may be missing)",
                        path.display()
                    );
                }
                MetricsConfig::from_file(path)?
            }
            None => MetricsConfig::from_file(Path::new(DEFAULT_CONFIG))?,
        };
        if let Some(v) = &flags.service_name {
            config.service_name = v.clone();
        }
        if let Some(v) = &flags.service_version {
            config.service_version = v.clone();
        }
        if let Some(v) = &flags.environment {
            config.environment = v.clone();
        }
        if let Some(v) = &flags.instance_id {
            config.instance_id = v.clone();
        }
        if let Some(v) = &flags.json_file_path {
            config.json_file_path = v.clone();
        }
        if let Some(v) = &flags.export_interval {
            config.export_interval = duration(v, "--export-interval", "flag")?;
        }
        if let Some(v) = &flags.export_timeout {
            config.export_timeout = duration(v, "--export-timeout", "flag")?;
        }
        if let Some(v) = flags.temporality {
            config.temporality = v;
        }
        if !flags.exporters.is_empty() {
            config.exporters.clear();
            for &kind in &flags.exporters {
                if !config.exporters.contains(&kind) {
                    config.exporters.push(kind);
                }
            }
        }
        if let Some(v) = flags.prometheus_listen {
            config.prometheus_listen = v;
        }
        if let Some(v) = &flags.otlp_endpoint {
            config.otlp_endpoint = otlp_endpoint(v, "--otlp-endpoint")?;
        }
        Ok(config)
    }

    pub fn exports_to(&self, kind: ExporterKind) -> bool {
        self.exporters.contains(&kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_the_seed_block_and_flags_win() {
        let f = write("metrics:\n  service_name: \"orders\"\n  export_interval: 2s\n  json_file_path: ./x.jsonl\n");
        let flags =
            MetricsFlags { config: Some(f.path().into()), export_interval: Some("500ms".into()), ..Default::default() };
        let c = MetricsConfig::load(&flags).unwrap();
        assert_eq!(c.service_name, "orders");
        assert_eq!(c.export_interval, Duration::from_millis(500));
        assert_eq!(c.export_timeout, Duration::from_secs(5));
        assert_eq!(c.json_file_path, PathBuf::from("./x.jsonl"));
    }

    #[test]
    fn missing_file_means_defaults() {
        let c = MetricsConfig::from_file(Path::new("/nonexistent/config.yaml")).unwrap();
        assert_eq!(c.export_interval, Duration::from_secs(10));
        assert_eq!(c.json_file_path, PathBuf::from("./logs/metrics.jsonl"));
    }

    #[test]
    fn bad_values_name_the_key() {
        let f = write("metrics:\n  export_interval: soon\n");
        let e = format!("{:#}", MetricsConfig::from_file(f.path()).unwrap_err());
        assert!(e.contains("metrics.export_interval"), "{e}");
        let f = write("metrics:\n  export_intervall: 10s\n");
        let e = format!("{:#}", MetricsConfig::from_file(f.path()).unwrap_err());
        assert!(e.contains("export_intervall"), "{e}");
    }

    #[test]
    fn exporters_are_chosen_by_name() {
        let f = write("metrics:\n  exporters: [json_file, prometheus, otlp]\n  prometheus_listen: 127.0.0.1:9999\n");
        let c = MetricsConfig::from_file(f.path()).unwrap();
        assert_eq!(c.exporters, vec![ExporterKind::JsonFile, ExporterKind::Prometheus, ExporterKind::Otlp]);
        assert_eq!(c.prometheus_listen.port(), 9999);
        let flags =
            MetricsFlags { config: Some(f.path().into()), exporters: vec![ExporterKind::Otlp], ..Default::default() };
        assert_eq!(MetricsConfig::load(&flags).unwrap().exporters, vec![ExporterKind::Otlp]);
        let f = write("metrics:\n  exporters: [json_file, statsd]\n");
        let e = format!("{:#}", MetricsConfig::from_file(f.path()).unwrap_err());
        assert!(e.contains("metrics.exporters") && e.contains("\"statsd\""), "{e}");
        let f = write("metrics:\n  otlp_endpoint: 127.0.0.1:4317\n");
        let e = format!("{:#}", MetricsConfig::from_file(f.path()).unwrap_err());
        assert!(e.contains("metrics.otlp_endpoint"), "{e}");
    }

    #[test]
    fn the_committed_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/config.yaml");
        let c = MetricsConfig::from_file(&path).unwrap();
        assert_eq!(c.service_name, "sre");
        assert_eq!(c.export_timeout, Duration::from_secs(5));
    }
}
