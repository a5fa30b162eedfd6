#!/usr/bin/env python3
"""Benchmark metricsctl against the tools users would otherwise reach for.

Generates a realistic file with the project's own generator (crates/synth/examples/generate.rs:
several services and instances, restarts, histograms, the seed's instruments, a few bad
lines), then times on that same file, in interleaved rounds:

  - cat FILE > /dev/null                      (the floor)
  - metricsctl sum by route
  - DuckDB: read_json + window LAG, reset-aware  (exact, same answer)
  - metricsctl quantile by route, to-prometheus, two PromQL queries, tail -n 5
  - jq: a reset-aware reduce, once              (exact, same answer; skip with --no-jq)

and prints the median wall time of --runs rounds, the ratio to `metricsctl sum`, and
peak RSS (/usr/bin/time -v). The answers of metricsctl (sum and `query --exact`),
DuckDB, jq and the generator's ground truth are compared; the script exits 1 when
metricsctl's are not exact.

--shape picks how the file is written (--shape all runs every one and ends with a table
of ratios across them):

  exporter      this project's writer
  disturbed     as real pipelines deliver the reference Go exporter's output: no
                start_timestamp, each line stamped as written (3 ms apart), pauses of up
                to 45% of the interval in 10% of exports, data points shuffled, processes
                interleaved, runs of lines sent again
  go            the reference design's Go exporter: no "+Inf" bucket, no start_timestamp
  no-resource   no resource object (one instance per service)
  utc-nanos     times in UTC with nanoseconds
  colon-offset  times at +08:00
  reordered     keys in another order than the writer's

--cardinality 1000000 times a cardinality explosion instead (a user_id label on a
counter and a histogram, three exports) with bytes of peak RSS per series; --growth
measures time and RSS against file size and series count and draws
docs/performance-growth.png.

Usage: bench/run.py [--size 2GB] [--runs 5] [--shape SHAPE|all] [--data FILE] [--no-jq]
                    [--cardinality SERIES] [--growth]
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
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


def ensure_tools(no_jq, plots=False):
    try:
        import duckdb  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "duckdb"], check=True)
    if plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "matplotlib"], check=True)
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


# How each shape's file is generated (examples/generate flags) and named.
SHAPES = {
    "exporter": ([], "metrics.jsonl"),
    "disturbed": (["--disturb", "--no-start-timestamp"], "disturbed.jsonl"),
    "go": (["--shape", "go", "--no-start-timestamp"], "go.jsonl"),
    "no-resource": (["--shape", "no-resource", "--instances", "1"], "no-resource.jsonl"),
    "utc-nanos": (["--shape", "utc-nanos"], "utc-nanos.jsonl"),
    "colon-offset": (["--shape", "colon-offset"], "colon-offset.jsonl"),
    "reordered": (["--shape", "reordered"], "reordered.jsonl"),
}

QUERY_INSTANT = "sum by (http_route) (rate(http_server_requests_total[5m]))"
QUERY_EXACT = "sum by (http_route) (increase(http_server_requests_total[100000d]))"


def duckdb_command(data):
    """DuckDB's reset-aware recipe for the same answer as `sum by route`, on `data`."""
    return [sys.executable, "-c",
            "import duckdb, json, sys; con = duckdb.connect(); con.execute('SET enable_progress_bar = false'); "
            "rows = con.sql(sys.argv[1]).fetchall(); print(json.dumps(rows))",
            DUCKDB_SQL.format(path=data)]


def timed_once(cmd, ok_codes=(0,)):
    """Wall time, peak RSS (KB) and stdout of one run."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok_codes:
        sys.stderr.write(proc.stderr.decode(errors="replace")[-2000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    m = re.search(rb"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return elapsed, int(m.group(1)) if m else 0, proc.stdout


def bench_shape(shape, args):
    flags, name = SHAPES[shape]
    data = args.data or os.path.join(ROOT, "bench", "data", name)
    truth_path = data + ".truth.json"
    if not os.path.exists(data) or not os.path.exists(truth_path):
        os.makedirs(os.path.dirname(data), exist_ok=True)
        subprocess.run([GENERATE, "--size", args.size, "--out", data, "--truth", truth_path, "--force"] + flags,
                       check=True)
    with open(truth_path) as f:
        truth = {k: int(v) for k, v in json.load(f).items()}
    size = os.path.getsize(data)
    # Warm the page cache: every tool reads the file from memory.
    subprocess.run(["cat", data], stdout=subprocess.DEVNULL, check=True)

    duck = duckdb_command(data)
    commands = [
        ("cat FILE > /dev/null", ["sh", "-c", 'exec cat "$1" > /dev/null', "cat", data]),
        ("metricsctl sum by route", [METRICSCTL, "sum", "by", "route", "--format", "json", data]),
        ("DuckDB read_json + LAG (same query)", duck),
        ("metricsctl quantile by route", [METRICSCTL, "quantile", "by", "route", "--format", "json", data]),
        ("metricsctl to-prometheus", [METRICSCTL, "to-prometheus", data]),
        ("metricsctl query (instant rate, 5m)", [METRICSCTL, "query", QUERY_INSTANT, data]),
        ("metricsctl query --exact (increase over the file)",
         [METRICSCTL, "query", "--exact", "--format", "json", QUERY_EXACT, data]),
        ("metricsctl tail -n 5", [METRICSCTL, "tail", "-n", "5", data]),
    ]
    times = {n: [] for n, _ in commands}
    peaks = {n: 0 for n, _ in commands}
    outputs = {}
    # Interleaved rounds: each round runs every command once, so that a drift of the
    # machine shifts them all alike; the median of the rounds is reported.
    for _ in range(args.runs):
        for n, cmd in commands:
            t, kb, out = timed_once(cmd)
            times[n].append(t)
            peaks[n] = max(peaks[n], kb)
            outputs[n] = out
    results = [(n, statistics.median(times[n]), peaks[n]) for n, _ in commands]
    answers = {
        "metricsctl": {r["route"]: int(r["value"]) for r in json.loads(outputs["metricsctl sum by route"])},
        "duckdb": {r[0]: int(r[1]) for r in json.loads(outputs["DuckDB read_json + LAG (same query)"])},
        "metricsctl query --exact": {
            r["metric"]["http_route"]: int(float(r["value"][1]))
            for r in json.loads(outputs["metricsctl query --exact (increase over the file)"])["result"]},
    }
    if not args.no_jq:
        t, kb, out = timed_once(["jq", "-cnR", JQ_PROGRAM, data])
        results.append(("jq reset-aware reduce (same query, 1 run)", t, kb))
        answers["jq"] = {r["route"]: int(r["requests"]) for r in json.loads(out)}

    sum_time = results[1][1]
    cat_time = results[0][1]
    print(f"\n## Shape {shape}: {data}, {size / 1e9:.2f} GB (examples/generate --size {args.size} {' '.join(flags)})")
    print(f"Machine: {machine()}; median of {args.runs} interleaved rounds\n")
    print("| command | wall s | vs metricsctl sum | peak RSS MB |")
    print("|---|---:|---:|---:|")
    for n, secs, kb in results:
        print(f"| {n} | {secs:.3f} | {secs / sum_time:.2f}x | {kb / 1024:.0f} |")
    print()
    for tool, a in answers.items():
        verdict = "exact" if a == truth else f"WRONG ({sum(a.values()) / sum(truth.values()):.6f}x the truth)"
        print(f"{tool:>24}: {verdict}")
    by_name = {n: secs for n, secs, _ in results}
    ratios = {
        "sum/cat": sum_time / cat_time,
        "quantile/sum": by_name["metricsctl quantile by route"] / sum_time,
        "to-prometheus/sum": by_name["metricsctl to-prometheus"] / sum_time,
        "query/sum": by_name["metricsctl query (instant rate, 5m)"] / sum_time,
        "DuckDB/sum": by_name["DuckDB read_json + LAG (same query)"] / sum_time,
        "RSS MB": max(kb for n, _, kb in results if n.startswith("metricsctl")) / 1024,
    }
    exact = all(a == truth for tool, a in answers.items() if tool.startswith("metricsctl"))
    return ratios, exact


def bench_cardinality(series, args):
    """A cardinality explosion: `series` users with a counter and a histogram each."""
    # The generator's shapes apply to a cardinality file; the other shapes' flags
    # (disturbances, instances) do not.
    flags = SHAPES.get(args.shape, ([], ""))[0]
    shape_flags = flags[flags.index("--shape"):flags.index("--shape") + 2] if "--shape" in flags else []
    if args.shape != "exporter" and not shape_flags:
        sys.exit(f"--cardinality takes one of the shapes the generator writes: "
                 f"{', '.join(n for n, (f, _) in SHAPES.items() if '--shape' in f)} (not {args.shape})")
    suffix = f"-{shape_flags[1]}" if shape_flags else ""
    data = os.path.join(ROOT, "bench", "data", f"cardinality-{series}{suffix}.jsonl")
    truth_path = data + ".truth.json"
    if not os.path.exists(data) or not os.path.exists(truth_path):
        os.makedirs(os.path.dirname(data), exist_ok=True)
        subprocess.run([GENERATE, "--cardinality", str(series), "--exports", "3", "--out", data,
                        "--truth", truth_path, "--force"] + shape_flags, check=True)
    with open(truth_path) as f:
        truth = {k: int(v) for k, v in json.load(f).items()}
    subprocess.run(["cat", data], stdout=subprocess.DEVNULL, check=True)
    duck = duckdb_command(data)
    # (name, command, series the command reads)
    commands = [
        ("cat FILE > /dev/null", ["sh", "-c", 'exec cat "$1" > /dev/null', "cat", data], series),
        ("metricsctl sum by route", [METRICSCTL, "sum", "by", "route", "--format", "json", data], series),
        ("DuckDB read_json + LAG (same query)", duck, series),
        ("metricsctl rate by route", [METRICSCTL, "rate", "by", "route", "--format", "json", data], series),
        ("metricsctl quantile by route", [METRICSCTL, "quantile", "by", "route", "--format", "json", data], series),
        ("metricsctl to-prometheus", [METRICSCTL, "to-prometheus", data], 2 * series),
        ("metricsctl check", [METRICSCTL, "check", data], 2 * series),
    ]
    times = {n: [] for n, _, _ in commands}
    peaks = {n: 0 for n, _, _ in commands}
    outputs = {}
    for _ in range(args.runs):
        for n, cmd, _ in commands:
            # check exits 1: it finds the cardinality problem it is there to find.
            t, kb, out = timed_once(cmd, (0, 1) if n == "metricsctl check" else (0,))
            times[n].append(t)
            peaks[n] = max(peaks[n], kb)
            outputs[n] = out
    sum_time = statistics.median(times["metricsctl sum by route"])
    size = os.path.getsize(data)
    print(f"\n## Cardinality: {series:,} users, shape {args.shape} ({data}, {size / 1e9:.2f} GB, 3 exports)")
    print(f"Machine: {machine()}; median of {args.runs} interleaved rounds\n")
    print("| command | wall s | vs metricsctl sum | peak RSS MB | series read | bytes per series |")
    print("|---|---:|---:|---:|---:|---:|")
    for n, _, read in commands:
        t = statistics.median(times[n])
        print(f"| {n} | {t:.3f} | {t / sum_time:.2f}x | {peaks[n] / 1024:.0f} | {read:,} | "
              f"{peaks[n] * 1024 / read:.0f} |")
    answer = {r["route"]: int(r["value"]) for r in json.loads(outputs["metricsctl sum by route"])}
    duck_answer = {r[0]: int(r[1]) for r in json.loads(outputs["DuckDB read_json + LAG (same query)"])}
    print(f"\nmetricsctl sum: {'exact' if answer == truth else 'WRONG'}; DuckDB: "
          f"{'exact' if duck_answer == truth else 'WRONG'}; DuckDB / sum: "
          f"{statistics.median(times['DuckDB read_json + LAG (same query)']) / sum_time:.2f}x")
    print("Targets (issue 17): sum >= 2x faster than DuckDB; <= 300 B/series for sum, rate and quantile, "
          "<= 800 for to-prometheus, <= 1 KB for check; exact.")
    return answer == truth


def bench_growth(args):
    """Time and peak RSS of sum, quantile and to-prometheus against file size and series."""
    sizes = ["100MB", "250MB", "500MB", "1GB", "2GB", "4GB"]
    series_counts = [1_000, 10_000, 100_000, 1_000_000]
    rows = []  # (axis, x, command, seconds, peak KB)
    files = []
    for size in sizes:
        data = os.path.join(ROOT, "bench", "data", f"growth-{size}.jsonl")
        if not os.path.exists(data):
            subprocess.run([GENERATE, "--size", size, "--out", data, "--force"], check=True)
        files.append(("size", os.path.getsize(data) / 1e9, data))
    for n in series_counts:
        data = os.path.join(ROOT, "bench", "data", f"cardinality-{n}.jsonl")
        if not os.path.exists(data):
            subprocess.run([GENERATE, "--cardinality", str(n), "--exports", "3", "--out", data, "--force"],
                           check=True)
        files.append(("series", n, data))
    for axis, x, data in files:
        subprocess.run(["cat", data], stdout=subprocess.DEVNULL, check=True)
        for name, cmd in [("sum", ["sum", "by", "route"]), ("quantile", ["quantile", "by", "route"]),
                          ("to-prometheus", ["to-prometheus"])]:
            samples = [timed_once([METRICSCTL] + cmd + [data]) for _ in range(min(args.runs, 3))]
            rows.append((axis, x, name, statistics.median(t for t, _, _ in samples), max(k for _, k, _ in samples)))
    print(f"\n## Growth: median of {min(args.runs, 3)} run(s); {machine()}\n")
    print("| file | command | wall s | peak RSS MB |")
    print("|---|---|---:|---:|")
    for axis, x, name, t, kb in rows:
        label = f"{x:.2f} GB" if axis == "size" else f"{x:,} users ({2 * x:,} series)"
        print(f"| {label} | {name} | {t:.3f} | {kb / 1024:.0f} |")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for col, axis in enumerate(["size", "series"]):
        for name in ["sum", "quantile", "to-prometheus"]:
            pts = [(x, t, kb) for a, x, n, t, kb in rows if a == axis and n == name]
            axes[0][col].plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
            axes[1][col].plot([p[0] for p in pts], [p[2] / 1024 for p in pts], marker="o", label=name)
        xlabel = "file size (GB)" if axis == "size" else "users (a counter and a histogram each, 3 exports)"
        for row, ylabel in [(0, "wall time (s)"), (1, "peak RSS (MB)")]:
            ax = axes[row][col]
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            if axis == "series":
                ax.set_xscale("log")
                ax.set_yscale("log")
            ax.grid(True, alpha=0.3)
            ax.legend()
    fig.suptitle(f"metricsctl: cost against file size and series ({machine()})", fontsize=9)
    fig.tight_layout()
    png = os.path.join(ROOT, "docs", "performance-growth.png")
    fig.savefig(png, dpi=110)
    print(f"\nplot: {png}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="2GB")
    ap.add_argument("--runs", type=int, default=5, help="interleaved rounds (the median is reported)")
    ap.add_argument("--shape", choices=list(SHAPES) + ["all"], default="exporter")
    ap.add_argument("--data", default=None, help="default bench/data/<shape>.jsonl (one shape only)")
    ap.add_argument("--no-jq", action="store_true", help="skip jq (slow: minutes on 2 GB)")
    ap.add_argument("--cardinality", type=int, default=None, metavar="SERIES",
                    help="instead: a cardinality explosion of SERIES users (try 1000000)")
    ap.add_argument("--growth", action="store_true",
                    help="instead: time and RSS against file size (0.1-4 GB) and series (1k-1M), "
                         "with a plot in docs/performance-growth.png (matplotlib)")
    args = ap.parse_args()
    shapes = list(SHAPES) if args.shape == "all" else [args.shape]
    if args.data and len(shapes) > 1:
        raise SystemExit("--data names one file: give one --shape")

    ensure_tools(args.no_jq, plots=args.growth)
    for target in (["--bin", "metricsctl"], ["-p", "metricsctl-synth", "--example", "generate"]):
        subprocess.run(["cargo", "build", "--release", "--quiet"] + target, cwd=ROOT, check=True)

    if args.cardinality:
        return 0 if bench_cardinality(args.cardinality, args) else 1
    if args.growth:
        bench_growth(args)
        return 0
    summary = [(shape,) + bench_shape(shape, args) for shape in shapes]
    print("\n## Every shape: ratios of medians within each shape's run\n")
    print("| shape | sum / cat | quantile / sum | to-prometheus / sum | query / sum | DuckDB / sum | peak RSS MB | exact |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for shape, r, exact in summary:
        print(f"| {shape} | {r['sum/cat']:.2f}x | {r['quantile/sum']:.2f}x | {r['to-prometheus/sum']:.2f}x | "
              f"{r['query/sum']:.2f}x | {r['DuckDB/sum']:.1f}x | {r['RSS MB']:.0f} | {'yes' if exact else 'NO'} |")
    print("\nTargets (issue 17): sum <= 1.5x cat; quantile and to-prometheus <= 1.5x sum; the instant query "
          "<= 1.5x sum; DuckDB >= 10x sum; peak RSS <= 150 MB; every answer exact.")
    return 0 if all(exact for _, _, exact in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
