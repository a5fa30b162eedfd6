#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs them.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "scripts/test.sh: cargo is required (https://rustup.rs)" >&2
    exit 1
fi

# The Prometheus tests run the real promtool and prometheus (Debian package) and
# Python's prometheus_client.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    echo "scripts/test.sh: installing Debian's prometheus package (promtool, prometheus)" >&2
    apt-get update -qq && apt-get install -y -qq prometheus >/dev/null
fi
if ! python3 -c "import prometheus_client" >/dev/null 2>&1; then
    echo "scripts/test.sh: installing prometheus_client (PyPI)" >&2
    python3 -m pip install --quiet prometheus_client
fi
# The OTLP tests push from Python's OpenTelemetry SDK (gRPC and HTTP exporters).
if ! python3 -c "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc.metric_exporter, opentelemetry.exporter.otlp.proto.http.metric_exporter" >/dev/null 2>&1; then
    echo "scripts/test.sh: installing the OpenTelemetry Python SDK and OTLP exporters (PyPI)" >&2
    python3 -m pip install --quiet opentelemetry-sdk opentelemetry-exporter-otlp-proto-grpc opentelemetry-exporter-otlp-proto-http
fi

# The live views are tested in a real terminal: tmux.
if ! command -v tmux >/dev/null 2>&1; then
    echo "scripts/test.sh: installing tmux (Debian)" >&2
    apt-get update -qq && apt-get install -y -qq tmux >/dev/null
fi

# remote-write over https is tested with a CA and certificate made by openssl.
if ! command -v openssl >/dev/null 2>&1; then
    echo "scripts/test.sh: installing openssl (Debian)" >&2
    apt-get update -qq && apt-get install -y -qq openssl >/dev/null
fi

# Unit, integration, property and doc tests; examples are built too.
cargo test --workspace "$@"
