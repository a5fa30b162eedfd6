#!/usr/bin/env bash
# The main job: make sure logs/metrics.jsonl exists (generating a realistic one if it
# does not; an existing file is never touched), then query it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin metricsctl
cargo build --release --quiet -p metricsctl-synth --example generate
M=target/release/metricsctl
if [ ! -e logs/metrics.jsonl ]; then
    target/release/examples/generate --size "${SIZE:-50MB}" --out logs/metrics.jsonl
fi
set -x
$M tail -n 3
$M sum by route
$M rate by route --step 1m
$M quantile by route
$M check || true
$M to-prometheus | head -n 20
