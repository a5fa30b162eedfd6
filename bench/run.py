#!/usr/bin/env python3
"""Benchmark metricsctl against the tools users would otherwise reach for.

Generates a realistic file with the project's own generator (crates/synth/examples/generate.rs:
several services and instances, restarts, histograms, the seed's instruments, a few bad
lines), then times on that same file, in one run:

  - cat FILE > /dev/null                      (the floor)
  - metricsctl sum by route
  - DuckDB: read_json + window LAG, reset-aware  (exact, same answer)
  - jq: a reset-aware reduce                      (exact, same answer)
  - metricsctl quantile by route, to-prometheus, tail -n 5

and prints wall time (best of --runs), the ratio to `metricsctl sum`, and peak RSS
(/usr/bin/time -v). The answers of metricsctl, DuckDB, jq and the generator's ground
truth must agree; the script says whether they do and exits 1 when they do not.

`--shape disturbed` makes the file as real pipelines deliver the seed's Go exporter's
output instead: no start_timestamp, each line stamped as written (3 ms apart), pauses
of up to 45% of the interval in 10% of exports, data points shuffled, processes
interleaved, runs of lines sent again (examples/generate --disturb --no-start-timestamp).

Usage: bench/run.py [--size 2GB] [--runs 3] [--shape exporter|disturbed] [--data FILE] [--no-jq]
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METRICSCTL = os.path.join(ROOT, "target", "release", "metricsctl")
GENERATE = os.path.join(ROOT, "target", "release", "examples", "generate")

DUCKDB_SQL = """
SELECT route, sum(inc)::BIGINT AS requests FROM (
  SELECT json_extract_string(attributes, '$."http.route"') AS route,
         CASE WHEN lag(v) OVER w IS NULL
                OR v < lag(v) OVER w
                OR start_timestamp IS DISTINCT FROM lag(start_timestamp) OVER w
              THEN v ELSE v - lag(v) OVER w END AS inc
  FROM (
    SELECT service_name, attributes, resource, start_timestamp, timestamp, CAST(value AS BIGINT) AS v
    FROM read_json('{path}', format = 'newline_delimited', ignore_errors = true,
                   columns = {{timestamp: 'VARCHAR', service_name: 'VARCHAR', metric_name: 'VARCHAR',
                              value: 'JSON', attributes: 'JSON', resource: 'JSON', start_timestamp: 'VARCHAR'}})
    WHERE metric_name = 'http_server_requests_total'
  )
  WINDOW w AS (PARTITION BY service_name, attributes, resource ORDER BY timestamp)
) GROUP BY route ORDER BY requests DESC
"""

# A series' key is service + attributes + resource; a decrease or a changed
# start_timestamp is a restart, counted from zero. Bad lines are skipped (fromjson?).
JQ_PROGRAM = r"""
reduce (inputs | fromjson? | select(.metric_name == "http_server_requests_total")) as $r ({};
  ($r.service_name + "\u0000" + ($r.attributes | tojson) + "\u0000" + ($r.resource | tojson)) as $k
  | .[$k] as $p
  | .[$k] = {route: $r.attributes["http.route"], st: $r.start_timestamp, v: $r.value,
             tot: (($p.tot // 0) + (if $p == null or $r.value < $p.v or $r.start_timestamp != $p.st
                                    then $r.value else $r.value - $p.v end))})
| [.[]] | group_by(.route) | map({route: .[0].route, requests: (map(.tot) | add)})
"""


def run_timed(cmd, runs, stdout_path=None):
    """Best wall time over `runs`, max peak RSS (KB), and the last stdout."""
    best = None
    peak = 0
    out = b""
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-v"] + cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr.decode(errors="replace")[-2000:])
            raise SystemExit(f"failed: {' '.join(cmd)}")
        m = re.search(rb"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        peak = max(peak, int(m.group(1)) if m else 0)
        best = elapsed if best is None else min(best, elapsed)
        out = proc.stdout
    return best, peak, out


def ensure_tools(no_jq):
    try:
        import duckdb  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "duckdb"], check=True)
    if not no_jq and shutil.which("jq") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "jq"], check=True)
    if not os.path.exists("/usr/bin/time"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "time"], check=True)


def machine():
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 1048576:.0f} GiB RAM"
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, {mem}, Linux {platform.release()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="2GB")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--shape", choices=["exporter", "disturbed"], default="exporter")
    ap.add_argument("--data", default=None, help="default bench/data/metrics.jsonl (or disturbed.jsonl)")
    ap.add_argument("--no-jq", action="store_true", help="skip jq (slow: minutes on 2 GB)")
    args = ap.parse_args()

    ensure_tools(args.no_jq)
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--bin", "metricsctl"],
        cwd=ROOT,
        check=True,
    )
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "metricsctl-synth", "--example", "generate"],
        cwd=ROOT,
        check=True,
    )
    name = "metrics.jsonl" if args.shape == "exporter" else "disturbed.jsonl"
    data = args.data or os.path.join(ROOT, "bench", "data", name)
    shape_flags = [] if args.shape == "exporter" else ["--disturb", "--no-start-timestamp"]
    truth_path = data + ".truth.json"
    if not os.path.exists(data) or not os.path.exists(truth_path):
        os.makedirs(os.path.dirname(data), exist_ok=True)
        subprocess.run(
            [GENERATE, "--size", args.size, "--out", data, "--truth", truth_path, "--force"] + shape_flags,
            check=True,
        )
    with open(truth_path) as f:
        truth = {k: int(v) for k, v in json.load(f).items()}
    size = os.path.getsize(data)
    lines = None

    # Warm the page cache: every tool reads the file from memory.
    subprocess.run(["cat", data], stdout=subprocess.DEVNULL, check=True)

    results = []  # (name, seconds, peak_kb)
    answers = {}

    t, rss, _ = run_timed(["sh", "-c", 'exec cat "$1" > /dev/null', "cat", data], args.runs)
    results.append(("cat FILE > /dev/null", t, rss))

    t, rss, out = run_timed([METRICSCTL, "sum", "by", "route", "--format", "json", data], args.runs)
    results.append(("metricsctl sum by route", t, rss))
    answers["metricsctl"] = {r["route"]: int(r["value"]) for r in json.loads(out)}
    sum_time = t

    duck = [sys.executable, "-c",
            "import duckdb, json, sys; con = duckdb.connect(); con.execute('SET enable_progress_bar = false'); "
            "rows = con.sql(sys.argv[1]).fetchall(); print(json.dumps(rows))",
            DUCKDB_SQL.format(path=data)]
    t, rss, out = run_timed(duck, max(1, min(args.runs, 2)))
    results.append(("DuckDB read_json + LAG (same query)", t, rss))
    answers["duckdb"] = {r[0]: int(r[1]) for r in json.loads(out)}

    if not args.no_jq:
        t, rss, out = run_timed(["jq", "-cnR", JQ_PROGRAM, data], 1)
        results.append(("jq reset-aware reduce (same query)", t, rss))
        answers["jq"] = {r["route"]: int(r["requests"]) for r in json.loads(out)}

    t, rss, _ = run_timed([METRICSCTL, "quantile", "by", "route", "--format", "json", data], args.runs)
    results.append(("metricsctl quantile by route", t, rss))
    has_to_prometheus = subprocess.run([METRICSCTL, "to-prometheus", "--help"], capture_output=True).returncode == 0
    if has_to_prometheus:
        t, rss, _ = run_timed([METRICSCTL, "to-prometheus", data], args.runs)
        results.append(("metricsctl to-prometheus", t, rss))
    # PromQL: an instant query on the metric sum reads (target <= 1.5x sum); the exact
    # increase over the whole file, which must equal the truth; a histogram quantile.
    has_query = subprocess.run([METRICSCTL, "query", "--help"], capture_output=True).returncode == 0
    if has_query:
        t, rss, _ = run_timed([METRICSCTL, "query", "sum by (http_route) (rate(http_server_requests_total[5m]))",
                               data], args.runs)
        results.append(("metricsctl query (instant rate, 5m)", t, rss))
        t, rss, out = run_timed([METRICSCTL, "query", "--exact", "--format", "json",
                                 "sum by (http_route) (increase(http_server_requests_total[100000d]))", data],
                                args.runs)
        results.append(("metricsctl query --exact (increase over the file)", t, rss))
        answers["metricsctl query --exact"] = {
            r["metric"]["http_route"]: int(float(r["value"][1])) for r in json.loads(out)["result"]}
        t, rss, _ = run_timed([METRICSCTL, "query", "histogram_quantile(0.99, sum by (le, http_route) "
                               "(rate(http_server_request_duration_seconds_bucket[5m])))", data], args.runs)
        results.append(("metricsctl query (histogram_quantile, 5m)", t, rss))
    t, rss, _ = run_timed([METRICSCTL, "tail", "-n", "5", data], args.runs)
    results.append(("metricsctl tail -n 5", t, rss))

    flags = " ".join(["--size", args.size] + shape_flags)
    print(f"\nFile: {data}: {size / 1e9:.2f} GB (generated by examples/generate {flags})")
    print(f"Machine: {machine()}\n")
    print("| command | wall s | vs metricsctl sum | peak RSS MB |")
    print("|---|---:|---:|---:|")
    for name, secs, kb in results:
        print(f"| {name} | {secs:.3f} | {secs / sum_time:.2f}x | {kb / 1024:.0f} |")

    cat_time = results[0][1]
    print()
    duck_t = next(s for n, s, _ in results if n.startswith("DuckDB"))
    print(f"sum by route: {duck_t / sum_time:.1f}x faster than DuckDB (target >= 5x), "
          f"{sum_time / cat_time:.2f}x the time of cat (target <= 2.5x)")
    jq_t = next((s for n, s, _ in results if n.startswith("jq")), None)
    if jq_t:
        print(f"sum by route: {jq_t / sum_time:.0f}x faster than jq (target >= 100x)")
    for name, secs, _ in results:
        if name in ("metricsctl quantile by route", "metricsctl to-prometheus"):
            print(f"{name[len('metricsctl '):]}: {secs / sum_time:.2f}x the time of sum (target <= 2x)")
        if name == "metricsctl query (instant rate, 5m)":
            print(f"{name[len('metricsctl '):]}: {secs / sum_time:.2f}x the time of sum (target <= 1.5x)")
    peak = max(kb for name, _, kb in results if name.startswith("metricsctl"))
    print(f"metricsctl peak RSS: {peak / 1024:.0f} MB (target < 150 MB)")

    agree = all(a == truth for a in answers.values())
    print()
    for tool, a in answers.items():
        verdict = "exact" if a == truth else f"WRONG ({sum(a.values()) / sum(truth.values()):.6f}x the truth)"
        print(f"{tool:>10}: {json.dumps(dict(sorted(a.items())))} {verdict}")
    print(f"{'truth':>10}: {json.dumps(dict(sorted(truth.items())))}")
    print("answers agree: " + ("yes, metricsctl, DuckDB" + (", jq" if "jq" in answers else "")
                               + " and the generator's ground truth are equal" if agree else "NO"))
    # The other tools' recipes are what users would write; metricsctl must be exact.
    exact = [a for tool, a in answers.items() if tool.startswith("metricsctl")]
    return 0 if all(a == truth for a in exact) else 1


if __name__ == "__main__":
    sys.exit(main())
