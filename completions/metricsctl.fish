# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_metricsctl_global_optspecs
    string join \n h/help V/version
end

function __fish_metricsctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_metricsctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_metricsctl_using_subcommand
    set -l cmd (__fish_metricsctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c metricsctl -n "__fish_metricsctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -s V -l version -d 'Print version'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "tail" -d 'Show the last records (read backwards from the end of the file), and follow'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "sum" -d 'Exact totals per group: counter increases, histogram count/sum/mean, gauge sums'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "rate" -d 'Per-second rate per group per time step, with a sparkline'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "quantile" -d 'Quantiles (default p50, p90, p99) of a histogram over the window, per group'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "check" -d 'Validate files: bad lines, series and label cardinality, naming, restarts'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "explain" -d 'Why a total is what it is: each sample counted from zero (first, restart) with its evidence, and each line dropped (duplicate, conflict, out of order)'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "query" -d 'PromQL over the files, answered as Prometheus 2.x answers it over the same samples; with --exact, increase() and rate() are the exact increase `sum` counts'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "to-prometheus" -d 'Prometheus exposition of the latest samples (or, with --history, of every sample)'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "serve" -d 'Follow files and serve their latest samples at /metrics for Prometheus to scrape'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "top" -d 'A live view of growing files: request rate, errors and latency per route'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "remote-write" -d 'Send every sample to a Prometheus remote write endpoint (Mimir, Thanos, Cortex, VictoriaMetrics, Prometheus)'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "receive" -d 'Receive OTLP metrics (gRPC, HTTP protobuf or JSON) from any SDK and append them to a file'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "load-test" -d 'Drive load at an instrumented server, write its metrics, and cross-check them'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c metricsctl -n "__fish_metricsctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand tail" -s n -l lines -d 'Number of records to show' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand tail" -s m -l metric -d 'Metric name, exact or glob (`http_server_*`); repeatable' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand tail" -l route -d 'Only this route (the `http.route` attribute)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand tail" -l service -d 'Only this service' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand tail" -s w -l where -d 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand tail" -l since -d 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand tail" -l until -d 'End of the window: RFC 3339, or a duration before the newest sample' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand tail" -l format -d 'Output format: `json` prints the records as JSON lines' -r -f -a "table\t'Aligned columns for people (plain ASCII when stdout is not a terminal)'
json\t'A JSON array of row objects with stable keys: the machine contract'
csv\t'Comma-separated values with a header row'"
complete -c metricsctl -n "__fish_metricsctl_using_subcommand tail" -s f -l follow -d 'Keep reading appended records; survives rotation and truncation like `tail -F`'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand tail" -l rate -d 'Show counters\' and histograms\' increase and per-second rate since their previous sample instead of their cumulative value'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand tail" -l strict -d 'Fail on the first bad line instead of skipping it'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand tail" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand sum" -l by -d 'Group by these labels (comma-separated); same as `by LABELS`' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand sum" -s m -l metric -d 'Metric name, exact or glob (`http_server_*`); repeatable' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand sum" -l route -d 'Only this route (the `http.route` attribute)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand sum" -l service -d 'Only this service' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand sum" -s w -l where -d 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand sum" -l since -d 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand sum" -l until -d 'End of the window: RFC 3339, or a duration before the newest sample' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand sum" -l format -d 'Output format' -r -f -a "table\t'Aligned columns for people (plain ASCII when stdout is not a terminal)'
json\t'A JSON array of row objects with stable keys: the machine contract'
csv\t'Comma-separated values with a header row'"
complete -c metricsctl -n "__fish_metricsctl_using_subcommand sum" -l baseline -d 'Take each series\' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand sum" -l strict -d 'Fail on the first bad line instead of skipping it'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand sum" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand rate" -l by -d 'Group by these labels (comma-separated); same as `by LABELS`' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand rate" -l step -d 'Width of each time bucket' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand rate" -s m -l metric -d 'Metric name, exact or glob (`http_server_*`); repeatable' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand rate" -l route -d 'Only this route (the `http.route` attribute)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand rate" -l service -d 'Only this service' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand rate" -s w -l where -d 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand rate" -l since -d 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand rate" -l until -d 'End of the window: RFC 3339, or a duration before the newest sample' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand rate" -l format -d 'Output format' -r -f -a "table\t'Aligned columns for people (plain ASCII when stdout is not a terminal)'
json\t'A JSON array of row objects with stable keys: the machine contract'
csv\t'Comma-separated values with a header row'"
complete -c metricsctl -n "__fish_metricsctl_using_subcommand rate" -l baseline -d 'Take each series\' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand rate" -l strict -d 'Fail on the first bad line instead of skipping it'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand rate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand quantile" -l by -d 'Group by these labels (comma-separated); same as `by LABELS`' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand quantile" -s m -l metric -d 'Metric name, exact or glob (`http_server_*`); repeatable' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand quantile" -l route -d 'Only this route (the `http.route` attribute)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand quantile" -l service -d 'Only this service' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand quantile" -s w -l where -d 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand quantile" -l since -d 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand quantile" -l until -d 'End of the window: RFC 3339, or a duration before the newest sample' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand quantile" -l format -d 'Output format' -r -f -a "table\t'Aligned columns for people (plain ASCII when stdout is not a terminal)'
json\t'A JSON array of row objects with stable keys: the machine contract'
csv\t'Comma-separated values with a header row'"
complete -c metricsctl -n "__fish_metricsctl_using_subcommand quantile" -l baseline -d 'Take each series\' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand quantile" -l strict -d 'Fail on the first bad line instead of skipping it'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand quantile" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand check" -l max-label-values -d 'A label with more distinct values than this on one metric is a problem' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand check" -l format -d 'Output format' -r -f -a "table\t'Aligned columns for people (plain ASCII when stdout is not a terminal)'
json\t'A JSON array of row objects with stable keys: the machine contract'
csv\t'Comma-separated values with a header row'"
complete -c metricsctl -n "__fish_metricsctl_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand explain" -s m -l metric -d 'Metric name, exact or glob (`http_server_*`); repeatable' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand explain" -l route -d 'Only this route (the `http.route` attribute)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand explain" -l service -d 'Only this service' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand explain" -s w -l where -d 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand explain" -l since -d 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand explain" -l until -d 'End of the window: RFC 3339, or a duration before the newest sample' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand explain" -l format -d 'Output format' -r -f -a "table\t'Aligned columns for people (plain ASCII when stdout is not a terminal)'
json\t'A JSON array of row objects with stable keys: the machine contract'
csv\t'Comma-separated values with a header row'"
complete -c metricsctl -n "__fish_metricsctl_using_subcommand explain" -l baseline -d 'Take each series\' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand explain" -l strict -d 'Fail on the first bad line instead of skipping it'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand query" -l time -d 'Evaluate at this time: RFC 3339, Unix seconds, now-DURATION, or a duration before the newest sample (default: the newest sample of the input)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand query" -l start -d 'A range query from this time (with --end), in the forms --time takes' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand query" -l end -d 'A range query up to this time (with --start)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand query" -l step -d 'Resolution of a range query (default: a hundredth of the range, at least 1s)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand query" -l lookback-delta -d 'How far back a selector looks for a series\' latest sample' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand query" -l format -d 'Output format' -r -f -a "table\t'Aligned columns for people (plain ASCII when stdout is not a terminal)'
json\t'A JSON array of row objects with stable keys: the machine contract'
csv\t'Comma-separated values with a header row'"
complete -c metricsctl -n "__fish_metricsctl_using_subcommand query" -l exact -d 'increase() and rate() of counters and histograms are the exact, reset-aware, non-extrapolated increase that `sum` computes, not Prometheus\' extrapolation'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand query" -l resource-labels -d 'Copy the resource attributes onto every series instead of a `target_info` series'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand query" -l baseline -d 'Take each series\' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand query" -l strict -d 'Fail on the first bad line instead of skipping it'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand query" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand to-prometheus" -s o -l output -d 'Write to this file (atomically: a temporary file, then a rename)' -r -F
complete -c metricsctl -n "__fish_metricsctl_using_subcommand to-prometheus" -s m -l metric -d 'Metric name, exact or glob (`http_server_*`); repeatable' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand to-prometheus" -l route -d 'Only this route (the `http.route` attribute)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand to-prometheus" -l service -d 'Only this service' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand to-prometheus" -s w -l where -d 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand to-prometheus" -l since -d 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand to-prometheus" -l until -d 'End of the window: RFC 3339, or a duration before the newest sample' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand to-prometheus" -l openmetrics -d 'Write OpenMetrics 1.0 (ending in `# EOF`) instead of the text format 0.0.4'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand to-prometheus" -l history -d 'Every sample with its timestamp, as OpenMetrics that `promtool tsdb create-blocks-from openmetrics` backfills (implies --openmetrics)'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand to-prometheus" -l resource-labels -d 'Copy the resource attributes onto every series instead of a `target_info` series'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand to-prometheus" -l strict -d 'Fail on the first bad line instead of skipping it'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand to-prometheus" -s h -l help -d 'Print help'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand serve" -l listen -d 'Address to serve /metrics on' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand serve" -l stale-after -d 'A series whose latest sample is this much older than the newest sample of the input is no longer served (its process stopped exporting); a cumulative series missing from its process\'s latest export is not served either' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand serve" -l resource-labels -d 'Copy the resource attributes onto every series instead of a `target_info` series'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand serve" -s h -l help -d 'Print help'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand top" -l by -d 'Group by these labels (comma-separated; a suffix such as `route` finds `http.route`)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand top" -l window -d 'Sliding window of the rates, error ratios and latency quantiles' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand top" -l step -d 'Width of one column of the rate sparkline' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand top" -l requests -d 'The request counter (default http_server_requests_total; with --grpc the gRPC one)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand top" -l latency -d 'The latency histogram, in seconds (default http_server_request_duration_seconds); its counts stand in for requests when the counter is absent' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand top" -l format -d 'Format of the snapshots printed when stdout is not a terminal (or with --once)' -r -f -a "table\t'Aligned columns for people (plain ASCII when stdout is not a terminal)'
json\t'A JSON array of row objects with stable keys: the machine contract'
csv\t'Comma-separated values with a header row'"
complete -c metricsctl -n "__fish_metricsctl_using_subcommand top" -l grpc -d 'gRPC methods instead of HTTP routes: grpc_server_* grouped by rpc.service,rpc.method'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand top" -l once -d 'Print one snapshot of what the files hold and exit, instead of following them'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand top" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -l url -d 'The endpoint, e.g. http://127.0.0.1:9090/api/v1/write (http or https)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -l max-samples-per-request -d 'Samples per request at most' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -l max-retries -d 'Retries of one request (5xx, 429, no answer) before giving up [default: 10; without end with --follow]' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -l ca-file -d 'Trust the CA certificates in this PEM file too (https endpoints; the system\'s roots are always trusted)' -r -F
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -l checkpoint -d 'Record the last acknowledged sample here after every request; a re-run with the same file sends only what comes after it' -r -F
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -l basic-auth-user -d 'Basic auth user; the password comes from --basic-auth-password-file or $METRICSCTL_REMOTE_WRITE_PASSWORD' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -l basic-auth-password-file -r -F
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -l bearer-token-file -d 'A bearer token from this file (or $METRICSCTL_REMOTE_WRITE_TOKEN)' -r -F
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -l header -d 'An extra header (`X-Scope-OrgID: tenant-1`); repeatable' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -l format -d 'Summary format' -r -f -a "table\t'Aligned columns for people (plain ASCII when stdout is not a terminal)'
json\t'A JSON array of row objects with stable keys: the machine contract'
csv\t'Comma-separated values with a header row'"
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -l follow -d 'Keep sending as the files grow (like `tail -F`), each export once it is complete, until SIGINT or SIGTERM; refused requests are reported and dropped'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -l resource-labels -d 'Copy the resource attributes onto every series instead of a `target_info` series'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -l strict -d 'Fail on the first bad line instead of skipping it'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -l baseline -d 'Take each series\' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand remote-write" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand receive" -l otlp-grpc -d 'OTLP/gRPC address (`off` to disable)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand receive" -l otlp-http -d 'OTLP/HTTP address, serving POST /v1/metrics with protobuf or JSON bodies (`off` to disable)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand receive" -s o -l output -d 'The metrics file to append to (never truncated)' -r -F
complete -c metricsctl -n "__fish_metricsctl_using_subcommand receive" -l max-request-bytes -d 'Larger requests (after decompression) are refused with an error status' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand receive" -l output-format -d 'What is written: a line per data point in the record format, or each request as one OTLP/JSON line (what the Collector\'s otlpjsonfile receiver reads; metricsctl reads it too)' -r -f -a "records\t'The record format (docs/FORMAT.md)'
otlp-json\t'One ExportMetricsServiceRequest per line, in protobuf\'s JSON mapping'"
complete -c metricsctl -n "__fish_metricsctl_using_subcommand receive" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -s n -l requests -d 'Number of requests (default 20000 unless -z is given)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -s z -l duration -d 'Run for this long (30s, 2m); requests in flight at the deadline finish and are reported apart' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -s c -l connections -d 'Concurrent connections (HTTP/1.1 keep-alive, one per worker)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -s q -l rate -d 'Total requests per second (open model: latency counts from the intended send time)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l url -d 'Load an external server instead of the built-in one (client-side metrics are then recorded, as http_client_*)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l listen -d 'Address of the built-in server' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l config -d 'Configuration file with a `metrics:` block [default: configs/config.yaml, which may be missing (then the defaults apply); a file named here must exist]' -r -F
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l service-name -d 'resource service.name' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l service-version -d 'resource service.version' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l environment -d 'resource deployment.environment' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l instance-id -d 'resource service.instance.id (default: HOSTNAME-PID)' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l json-file-path -d 'Where the JSON file exporter appends' -r -F
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l export-interval -d 'Time between exports' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l export-timeout -d 'An export taking longer is abandoned with an error' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l temporality -d 'Cumulative snapshots (default) or deltas since the previous export' -r -f -a "cumulative\t''
delta\t''"
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l exporter -d 'Exporters to run, one or several (comma-separated): json_file, prometheus, otlp' -r -f -a "json_file\t'Appends JSON lines to `json_file_path` (the default)'
prometheus\t'Serves `/metrics` on `prometheus_listen` for Prometheus to scrape'
otlp\t'Pushes OTLP over gRPC to `otlp_endpoint`'"
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l prometheus-listen -d 'Where the prometheus exporter serves /metrics [default: 127.0.0.1:9464]' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l otlp-endpoint -d 'The otlp exporter\'s collector [default: http://127.0.0.1:4317]' -r
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l format -d 'Summary format' -r -f -a "table\t'Aligned columns for people (plain ASCII when stdout is not a terminal)'
json\t'A JSON array of row objects with stable keys: the machine contract'
csv\t'Comma-separated values with a header row'"
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l serve-only -d 'Only run the built-in server (for an outside load generator) until Ctrl-C or -z'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l no-middleware -d 'Run the built-in server without the metrics middleware (to measure its cost)'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l grpc -d 'Also start a gRPC server (orders.OrderService, users.UserService) and send a quarter of the requests as gRPC calls'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l live -d 'Draw a live view while the load runs (requests/s, latency histogram, status codes); the default when stderr is a terminal'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -l no-live -d 'A progress bar instead of the live view'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand load-test" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand completions" -s h -l help -d 'Print help'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "tail" -d 'Show the last records (read backwards from the end of the file), and follow'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "sum" -d 'Exact totals per group: counter increases, histogram count/sum/mean, gauge sums'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "rate" -d 'Per-second rate per group per time step, with a sparkline'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "quantile" -d 'Quantiles (default p50, p90, p99) of a histogram over the window, per group'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "check" -d 'Validate files: bad lines, series and label cardinality, naming, restarts'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "explain" -d 'Why a total is what it is: each sample counted from zero (first, restart) with its evidence, and each line dropped (duplicate, conflict, out of order)'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "query" -d 'PromQL over the files, answered as Prometheus 2.x answers it over the same samples; with --exact, increase() and rate() are the exact increase `sum` counts'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "to-prometheus" -d 'Prometheus exposition of the latest samples (or, with --history, of every sample)'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "serve" -d 'Follow files and serve their latest samples at /metrics for Prometheus to scrape'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "top" -d 'A live view of growing files: request rate, errors and latency per route'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "remote-write" -d 'Send every sample to a Prometheus remote write endpoint (Mimir, Thanos, Cortex, VictoriaMetrics, Prometheus)'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "receive" -d 'Receive OTLP metrics (gRPC, HTTP protobuf or JSON) from any SDK and append them to a file'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "load-test" -d 'Drive load at an instrumented server, write its metrics, and cross-check them'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c metricsctl -n "__fish_metricsctl_using_subcommand help; and not __fish_seen_subcommand_from tail sum rate quantile check explain query to-prometheus serve top remote-write receive load-test completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
