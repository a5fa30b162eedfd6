#!/usr/bin/env bash
# Throughput of the instrumented server: load-test's own client against it, wrk against
# the same server (route mix, and /healthz alone where the middleware's CPU cost is not
# hidden by simulated latency), with the metrics middleware on and off.
# Usage: bench/throughput.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --quiet --bin metricsctl
M=target/release/metricsctl
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PORT=18480

loadtest_rps() { # extra flags...
    $M load-test -z "${SECS}s" -c 32 --json-file-path "$TMP/lt.jsonl" --format json "$@" |
        python3 -c 'import json,sys; print(round(json.load(sys.stdin)["requests_per_second"]))'
}

wrk_rps() { # path-or-mix, extra server flags...
    local what=$1; shift
    $M load-test --serve-only --listen 127.0.0.1:$PORT -z "$((SECS + 5))s" --json-file-path "$TMP/srv.jsonl" "$@" >/dev/null 2>&1 &
    local pid=$!
    sleep 1
    local out
    if [ "$what" = mix ]; then
        out=$(wrk -t2 -c32 -d"${SECS}s" -s bench/wrk-mix.lua "http://127.0.0.1:$PORT/")
    else
        out=$(wrk -t2 -c32 -d"${SECS}s" "http://127.0.0.1:$PORT$what")
    fi
    kill -INT $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    echo "$out" | awk '/Requests\/sec/ {printf "%d\n", $2}'
}

lt_on=$(loadtest_rps)
lt_off=$(loadtest_rps --no-middleware)
wrk_mix_on=$(wrk_rps mix)
wrk_mix_off=$(wrk_rps mix --no-middleware)
wrk_hz_on=$(wrk_rps /healthz)
wrk_hz_off=$(wrk_rps /healthz --no-middleware)
pct() { python3 -c "print(f'{(1 - $1 / $2) * 100:.1f}%')"; }

echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); ${SECS}s per run, 32 connections"
echo
echo "| load | middleware on (req/s) | middleware off (req/s) | overhead |"
echo "|---|---:|---:|---:|"
echo "| metricsctl load-test, route mix | $lt_on | $lt_off | $(pct "$lt_on" "$lt_off") |"
echo "| wrk -t2 -c32, route mix (bench/wrk-mix.lua) | $wrk_mix_on | $wrk_mix_off | $(pct "$wrk_mix_on" "$wrk_mix_off") |"
echo "| wrk -t2 -c32, /healthz only (no simulated latency) | $wrk_hz_on | $wrk_hz_off | $(pct "$wrk_hz_on" "$wrk_hz_off") |"
