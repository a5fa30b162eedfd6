//! `metricsctl to-prometheus`: the latest sample of every series as a Prometheus scrape
//! would show it (text 0.0.4 or OpenMetrics), or with `--history` every sample with its
//! timestamp as OpenMetrics for `promtool tsdb create-blocks-from openmetrics`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::ToPrometheusArgs;
use metricsctl_engine::query::QueryInput;
use metricsctl_prom::exposition::ExpositionSink;
use metricsctl_prom::text::ExpositionFormat;

/// Writes to `path` through a temporary file in the same directory and a rename:
/// readers never see a partial file, and a failure leaves the old one.
pub fn write_atomically(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().with_context(|| format!("{} is not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| -> Result<()> {
        let f = std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        write(&mut w).with_context(|| format!("cannot write {}", tmp.display()))?;
        let f =
            w.into_inner().map_err(|e| e.into_error()).with_context(|| format!("cannot write {}", tmp.display()))?;
        f.sync_all().with_context(|| format!("cannot sync {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub fn run(args: ToPrometheusArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let filter = args.filter.build(None)?;
    let mut input = QueryInput::new(&args.files, filter, args.input.strict, false)?;
    if let Some(path) = &args.output {
        if let Some(source) = input.sources.iter().find(|s| s.is_file(path)) {
            crate::usage_error!(
                "-o {} is the input {}: writing it would replace the metrics with their exposition",
                path.display(),
                source.name
            );
        }
    }
    // A scrape shows each series' newest sample: the others need not be read, unless
    // every line must be checked (--strict), every sample is written (--history), or
    // the newest is the newest inside a window.
    input.options.latest_only =
        !args.history && !args.input.strict && input.filter.since.is_none() && input.filter.until.is_none();
    if input.options.latest_only {
        // Fewer, larger blocks: one value read per series per block.
        input.options.block_size = metricsctl_reader::input::LATEST_BLOCK_SIZE;
    }
    let mut sink = ExpositionSink::new(args.resource_labels, args.history);
    let engine = input.run(&mut sink)?;
    if let Some(e) = sink.error.take() {
        return Err(e);
    }
    let mut write = |w: &mut dyn Write| -> Result<()> {
        if args.history {
            // Every sample, sorted through temporary files: memory stays bounded.
            sink.write_history(&engine.catalog, w)?;
        } else {
            sink.write_latest(&engine.catalog, ExpositionFormat { openmetrics: args.openmetrics }, None, w)?;
        }
        Ok(())
    };
    match &args.output {
        Some(path) => write_atomically(path, write)?,
        None => write(out)?,
    }
    input.finished()
}
