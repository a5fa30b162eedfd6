
use builtin;
use str;

set edit:completion:arg-completer[metricsctl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'metricsctl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'metricsctl'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand tail 'Show the last records (read backwards from the end of the file), and follow'
            cand sum 'Exact totals per group: counter increases, histogram count/sum/mean, gauge sums'
            cand rate 'Per-second rate per group per time step, with a sparkline'
            cand quantile 'Quantiles (default p50, p90, p99) of a histogram over the window, per group'
            cand check 'Validate files: bad lines, series and label cardinality, naming, restarts'
            cand explain 'Why a total is what it is: each sample counted from zero (first, restart) with its evidence, and each line dropped (duplicate, conflict, out of order)'
            cand query 'PromQL over the files, answered as Prometheus 2.x answers it over the same samples; with --exact, increase() and rate() are the exact increase `sum` counts'
            cand to-prometheus 'Prometheus exposition of the latest samples (or, with --history, of every sample)'
            cand serve 'Follow files and serve their latest samples at /metrics for Prometheus to scrape'
            cand top 'A live view of growing files: request rate, errors and latency per route'
            cand remote-write 'Send every sample to a Prometheus remote write endpoint (Mimir, Thanos, Cortex, VictoriaMetrics, Prometheus)'
            cand receive 'Receive OTLP metrics (gRPC, HTTP protobuf or JSON) from any SDK and append them to a file'
            cand load-test 'Drive load at an instrumented server, write its metrics, and cross-check them'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'metricsctl;tail'= {
            cand -n 'Number of records to show'
            cand --lines 'Number of records to show'
            cand -m 'Metric name, exact or glob (`http_server_*`); repeatable'
            cand --metric 'Metric name, exact or glob (`http_server_*`); repeatable'
            cand --route 'Only this route (the `http.route` attribute)'
            cand --service 'Only this service'
            cand -w 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)'
            cand --where 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)'
            cand --since 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample'
            cand --until 'End of the window: RFC 3339, or a duration before the newest sample'
            cand --format 'Output format: `json` prints the records as JSON lines'
            cand -f 'Keep reading appended records; survives rotation and truncation like `tail -F`'
            cand --follow 'Keep reading appended records; survives rotation and truncation like `tail -F`'
            cand --rate 'Show counters'' and histograms'' increase and per-second rate since their previous sample instead of their cumulative value'
            cand --strict 'Fail on the first bad line instead of skipping it'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'metricsctl;sum'= {
            cand --by 'Group by these labels (comma-separated); same as `by LABELS`'
            cand -m 'Metric name, exact or glob (`http_server_*`); repeatable'
            cand --metric 'Metric name, exact or glob (`http_server_*`); repeatable'
            cand --route 'Only this route (the `http.route` attribute)'
            cand --service 'Only this service'
            cand -w 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)'
            cand --where 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)'
            cand --since 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample'
            cand --until 'End of the window: RFC 3339, or a duration before the newest sample'
            cand --format 'Output format'
            cand --baseline 'Take each series'' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero'
            cand --strict 'Fail on the first bad line instead of skipping it'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'metricsctl;rate'= {
            cand --by 'Group by these labels (comma-separated); same as `by LABELS`'
            cand --step 'Width of each time bucket'
            cand -m 'Metric name, exact or glob (`http_server_*`); repeatable'
            cand --metric 'Metric name, exact or glob (`http_server_*`); repeatable'
            cand --route 'Only this route (the `http.route` attribute)'
            cand --service 'Only this service'
            cand -w 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)'
            cand --where 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)'
            cand --since 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample'
            cand --until 'End of the window: RFC 3339, or a duration before the newest sample'
            cand --format 'Output format'
            cand --baseline 'Take each series'' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero'
            cand --strict 'Fail on the first bad line instead of skipping it'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'metricsctl;quantile'= {
            cand --by 'Group by these labels (comma-separated); same as `by LABELS`'
            cand -m 'Metric name, exact or glob (`http_server_*`); repeatable'
            cand --metric 'Metric name, exact or glob (`http_server_*`); repeatable'
            cand --route 'Only this route (the `http.route` attribute)'
            cand --service 'Only this service'
            cand -w 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)'
            cand --where 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)'
            cand --since 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample'
            cand --until 'End of the window: RFC 3339, or a duration before the newest sample'
            cand --format 'Output format'
            cand --baseline 'Take each series'' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero'
            cand --strict 'Fail on the first bad line instead of skipping it'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'metricsctl;check'= {
            cand --max-label-values 'A label with more distinct values than this on one metric is a problem'
            cand --format 'Output format'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'metricsctl;explain'= {
            cand -m 'Metric name, exact or glob (`http_server_*`); repeatable'
            cand --metric 'Metric name, exact or glob (`http_server_*`); repeatable'
            cand --route 'Only this route (the `http.route` attribute)'
            cand --service 'Only this service'
            cand -w 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)'
            cand --where 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)'
            cand --since 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample'
            cand --until 'End of the window: RFC 3339, or a duration before the newest sample'
            cand --format 'Output format'
            cand --baseline 'Take each series'' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero'
            cand --strict 'Fail on the first bad line instead of skipping it'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'metricsctl;query'= {
            cand --time 'Evaluate at this time: RFC 3339, Unix seconds, now-DURATION, or a duration before the newest sample (default: the newest sample of the input)'
            cand --start 'A range query from this time (with --end), in the forms --time takes'
            cand --end 'A range query up to this time (with --start)'
            cand --step 'Resolution of a range query (default: a hundredth of the range, at least 1s)'
            cand --lookback-delta 'How far back a selector looks for a series'' latest sample'
            cand --format 'Output format'
            cand --exact 'increase() and rate() of counters and histograms are the exact, reset-aware, non-extrapolated increase that `sum` computes, not Prometheus'' extrapolation'
            cand --resource-labels 'Copy the resource attributes onto every series instead of a `target_info` series'
            cand --baseline 'Take each series'' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero'
            cand --strict 'Fail on the first bad line instead of skipping it'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'metricsctl;to-prometheus'= {
            cand -o 'Write to this file (atomically: a temporary file, then a rename)'
            cand --output 'Write to this file (atomically: a temporary file, then a rename)'
            cand -m 'Metric name, exact or glob (`http_server_*`); repeatable'
            cand --metric 'Metric name, exact or glob (`http_server_*`); repeatable'
            cand --route 'Only this route (the `http.route` attribute)'
            cand --service 'Only this service'
            cand -w 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)'
            cand --where 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)'
            cand --since 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample'
            cand --until 'End of the window: RFC 3339, or a duration before the newest sample'
            cand --openmetrics 'Write OpenMetrics 1.0 (ending in `# EOF`) instead of the text format 0.0.4'
            cand --history 'Every sample with its timestamp, as OpenMetrics that `promtool tsdb create-blocks-from openmetrics` backfills (implies --openmetrics)'
            cand --resource-labels 'Copy the resource attributes onto every series instead of a `target_info` series'
            cand --strict 'Fail on the first bad line instead of skipping it'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'metricsctl;serve'= {
            cand --listen 'Address to serve /metrics on'
            cand --stale-after 'A series whose latest sample is this much older than the newest sample of the input is no longer served (its process stopped exporting); a cumulative series missing from its process''s latest export is not served either'
            cand --resource-labels 'Copy the resource attributes onto every series instead of a `target_info` series'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'metricsctl;top'= {
            cand --by 'Group by these labels (comma-separated; a suffix such as `route` finds `http.route`)'
            cand --window 'Sliding window of the rates, error ratios and latency quantiles'
            cand --step 'Width of one column of the rate sparkline'
            cand --requests 'The request counter (default http_server_requests_total; with --grpc the gRPC one)'
            cand --latency 'The latency histogram, in seconds (default http_server_request_duration_seconds); its counts stand in for requests when the counter is absent'
            cand --format 'Format of the snapshots printed when stdout is not a terminal (or with --once)'
            cand --grpc 'gRPC methods instead of HTTP routes: grpc_server_* grouped by rpc.service,rpc.method'
            cand --once 'Print one snapshot of what the files hold and exit, instead of following them'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'metricsctl;remote-write'= {
            cand --url 'The endpoint, e.g. http://127.0.0.1:9090/api/v1/write (http or https)'
            cand --max-samples-per-request 'Samples per request at most'
            cand --max-retries 'Retries of one request (5xx, 429, no answer) before giving up [default: 10; without end with --follow]'
            cand --ca-file 'Trust the CA certificates in this PEM file too (https endpoints; the system''s roots are always trusted)'
            cand --checkpoint 'Record the last acknowledged sample here after every request; a re-run with the same file sends only what comes after it'
            cand --basic-auth-user 'Basic auth user; the password comes from --basic-auth-password-file or $METRICSCTL_REMOTE_WRITE_PASSWORD'
            cand --basic-auth-password-file 'basic-auth-password-file'
            cand --bearer-token-file 'A bearer token from this file (or $METRICSCTL_REMOTE_WRITE_TOKEN)'
            cand --header 'An extra header (`X-Scope-OrgID: tenant-1`); repeatable'
            cand --format 'Summary format'
            cand --follow 'Keep sending as the files grow (like `tail -F`), each export once it is complete, until SIGINT or SIGTERM; refused requests are reported and dropped'
            cand --resource-labels 'Copy the resource attributes onto every series instead of a `target_info` series'
            cand --strict 'Fail on the first bad line instead of skipping it'
            cand --baseline 'Take each series'' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'metricsctl;receive'= {
            cand --otlp-grpc 'OTLP/gRPC address (`off` to disable)'
            cand --otlp-http 'OTLP/HTTP address, serving POST /v1/metrics with protobuf or JSON bodies (`off` to disable)'
            cand -o 'The metrics file to append to (never truncated)'
            cand --output 'The metrics file to append to (never truncated)'
            cand --max-request-bytes 'Larger requests (after decompression) are refused with an error status'
            cand --output-format 'What is written: a line per data point in the record format, or each request as one OTLP/JSON line (what the Collector''s otlpjsonfile receiver reads; metricsctl reads it too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'metricsctl;load-test'= {
            cand -n 'Number of requests (default 20000 unless -z is given)'
            cand --requests 'Number of requests (default 20000 unless -z is given)'
            cand -z 'Run for this long (30s, 2m); requests in flight at the deadline finish and are reported apart'
            cand --duration 'Run for this long (30s, 2m); requests in flight at the deadline finish and are reported apart'
            cand -c 'Concurrent connections (HTTP/1.1 keep-alive, one per worker)'
            cand --connections 'Concurrent connections (HTTP/1.1 keep-alive, one per worker)'
            cand -q 'Total requests per second (open model: latency counts from the intended send time)'
            cand --rate 'Total requests per second (open model: latency counts from the intended send time)'
            cand --url 'Load an external server instead of the built-in one (client-side metrics are then recorded, as http_client_*)'
            cand --listen 'Address of the built-in server'
            cand --config 'Configuration file with a `metrics:` block [default: configs/config.yaml, which may be missing (then the defaults apply); a file named here must exist]'
            cand --service-name 'resource service.name'
            cand --service-version 'resource service.version'
            cand --environment 'resource deployment.environment'
            cand --instance-id 'resource service.instance.id (default: HOSTNAME-PID)'
            cand --json-file-path 'Where the JSON file exporter appends'
            cand --export-interval 'Time between exports'
            cand --export-timeout 'An export taking longer is abandoned with an error'
            cand --temporality 'Cumulative snapshots (default) or deltas since the previous export'
            cand --exporter 'Exporters to run, one or several (comma-separated): json_file, prometheus, otlp'
            cand --prometheus-listen 'Where the prometheus exporter serves /metrics [default: 127.0.0.1:9464]'
            cand --otlp-endpoint 'The otlp exporter''s collector [default: http://127.0.0.1:4317]'
            cand --format 'Summary format'
            cand --serve-only 'Only run the built-in server (for an outside load generator) until Ctrl-C or -z'
            cand --no-middleware 'Run the built-in server without the metrics middleware (to measure its cost)'
            cand --grpc 'Also start a gRPC server (orders.OrderService, users.UserService) and send a quarter of the requests as gRPC calls'
            cand --live 'Draw a live view while the load runs (requests/s, latency histogram, status codes); the default when stderr is a terminal'
            cand --no-live 'A progress bar instead of the live view'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'metricsctl;completions'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'metricsctl;help'= {
            cand tail 'Show the last records (read backwards from the end of the file), and follow'
            cand sum 'Exact totals per group: counter increases, histogram count/sum/mean, gauge sums'
            cand rate 'Per-second rate per group per time step, with a sparkline'
            cand quantile 'Quantiles (default p50, p90, p99) of a histogram over the window, per group'
            cand check 'Validate files: bad lines, series and label cardinality, naming, restarts'
            cand explain 'Why a total is what it is: each sample counted from zero (first, restart) with its evidence, and each line dropped (duplicate, conflict, out of order)'
            cand query 'PromQL over the files, answered as Prometheus 2.x answers it over the same samples; with --exact, increase() and rate() are the exact increase `sum` counts'
            cand to-prometheus 'Prometheus exposition of the latest samples (or, with --history, of every sample)'
            cand serve 'Follow files and serve their latest samples at /metrics for Prometheus to scrape'
            cand top 'A live view of growing files: request rate, errors and latency per route'
            cand remote-write 'Send every sample to a Prometheus remote write endpoint (Mimir, Thanos, Cortex, VictoriaMetrics, Prometheus)'
            cand receive 'Receive OTLP metrics (gRPC, HTTP protobuf or JSON) from any SDK and append them to a file'
            cand load-test 'Drive load at an instrumented server, write its metrics, and cross-check them'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'metricsctl;help;tail'= {
        }
        &'metricsctl;help;sum'= {
        }
        &'metricsctl;help;rate'= {
        }
        &'metricsctl;help;quantile'= {
        }
        &'metricsctl;help;check'= {
        }
        &'metricsctl;help;explain'= {
        }
        &'metricsctl;help;query'= {
        }
        &'metricsctl;help;to-prometheus'= {
        }
        &'metricsctl;help;serve'= {
        }
        &'metricsctl;help;top'= {
        }
        &'metricsctl;help;remote-write'= {
        }
        &'metricsctl;help;receive'= {
        }
        &'metricsctl;help;load-test'= {
        }
        &'metricsctl;help;completions'= {
        }
        &'metricsctl;help;help'= {
        }
    ]
    $completions[$command]
}
