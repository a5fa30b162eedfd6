
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'metricsctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'metricsctl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'metricsctl' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Show the last records (read backwards from the end of the file), and follow')
            [CompletionResult]::new('sum', 'sum', [CompletionResultType]::ParameterValue, 'Exact totals per group: counter increases, histogram count/sum/mean, gauge sums')
            [CompletionResult]::new('rate', 'rate', [CompletionResultType]::ParameterValue, 'Per-second rate per group per time step, with a sparkline')
            [CompletionResult]::new('quantile', 'quantile', [CompletionResultType]::ParameterValue, 'Quantiles (default p50, p90, p99) of a histogram over the window, per group')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate files: bad lines, series and label cardinality, naming, restarts')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Why a total is what it is: each sample counted from zero (first, restart) with its evidence, and each line dropped (duplicate, conflict, out of order)')
            [CompletionResult]::new('query', 'query', [CompletionResultType]::ParameterValue, 'PromQL over the files, answered as Prometheus 2.x answers it over the same samples; with --exact, increase() and rate() are the exact increase `sum` counts')
            [CompletionResult]::new('to-prometheus', 'to-prometheus', [CompletionResultType]::ParameterValue, 'Prometheus exposition of the latest samples (or, with --history, of every sample)')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Follow files and serve their latest samples at /metrics for Prometheus to scrape')
            [CompletionResult]::new('top', 'top', [CompletionResultType]::ParameterValue, 'A live view of growing files: request rate, errors and latency per route')
            [CompletionResult]::new('remote-write', 'remote-write', [CompletionResultType]::ParameterValue, 'Send every sample to a Prometheus remote write endpoint (Mimir, Thanos, Cortex, VictoriaMetrics, Prometheus)')
            [CompletionResult]::new('receive', 'receive', [CompletionResultType]::ParameterValue, 'Receive OTLP metrics (gRPC, HTTP protobuf or JSON) from any SDK and append them to a file')
            [CompletionResult]::new('load-test', 'load-test', [CompletionResultType]::ParameterValue, 'Drive load at an instrumented server, write its metrics, and cross-check them')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'metricsctl;tail' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Number of records to show')
            [CompletionResult]::new('--lines', '--lines', [CompletionResultType]::ParameterName, 'Number of records to show')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Metric name, exact or glob (`http_server_*`); repeatable')
            [CompletionResult]::new('--metric', '--metric', [CompletionResultType]::ParameterName, 'Metric name, exact or glob (`http_server_*`); repeatable')
            [CompletionResult]::new('--route', '--route', [CompletionResultType]::ParameterName, 'Only this route (the `http.route` attribute)')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Only this service')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)')
            [CompletionResult]::new('--where', '--where', [CompletionResultType]::ParameterName, 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'End of the window: RFC 3339, or a duration before the newest sample')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: `json` prints the records as JSON lines')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep reading appended records; survives rotation and truncation like `tail -F`')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep reading appended records; survives rotation and truncation like `tail -F`')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'Show counters'' and histograms'' increase and per-second rate since their previous sample instead of their cumulative value')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Fail on the first bad line instead of skipping it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'metricsctl;sum' {
            [CompletionResult]::new('--by', '--by', [CompletionResultType]::ParameterName, 'Group by these labels (comma-separated); same as `by LABELS`')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Metric name, exact or glob (`http_server_*`); repeatable')
            [CompletionResult]::new('--metric', '--metric', [CompletionResultType]::ParameterName, 'Metric name, exact or glob (`http_server_*`); repeatable')
            [CompletionResult]::new('--route', '--route', [CompletionResultType]::ParameterName, 'Only this route (the `http.route` attribute)')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Only this service')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)')
            [CompletionResult]::new('--where', '--where', [CompletionResultType]::ParameterName, 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'End of the window: RFC 3339, or a duration before the newest sample')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--baseline', '--baseline', [CompletionResultType]::ParameterName, 'Take each series'' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Fail on the first bad line instead of skipping it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'metricsctl;rate' {
            [CompletionResult]::new('--by', '--by', [CompletionResultType]::ParameterName, 'Group by these labels (comma-separated); same as `by LABELS`')
            [CompletionResult]::new('--step', '--step', [CompletionResultType]::ParameterName, 'Width of each time bucket')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Metric name, exact or glob (`http_server_*`); repeatable')
            [CompletionResult]::new('--metric', '--metric', [CompletionResultType]::ParameterName, 'Metric name, exact or glob (`http_server_*`); repeatable')
            [CompletionResult]::new('--route', '--route', [CompletionResultType]::ParameterName, 'Only this route (the `http.route` attribute)')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Only this service')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)')
            [CompletionResult]::new('--where', '--where', [CompletionResultType]::ParameterName, 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'End of the window: RFC 3339, or a duration before the newest sample')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--baseline', '--baseline', [CompletionResultType]::ParameterName, 'Take each series'' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Fail on the first bad line instead of skipping it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'metricsctl;quantile' {
            [CompletionResult]::new('--by', '--by', [CompletionResultType]::ParameterName, 'Group by these labels (comma-separated); same as `by LABELS`')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Metric name, exact or glob (`http_server_*`); repeatable')
            [CompletionResult]::new('--metric', '--metric', [CompletionResultType]::ParameterName, 'Metric name, exact or glob (`http_server_*`); repeatable')
            [CompletionResult]::new('--route', '--route', [CompletionResultType]::ParameterName, 'Only this route (the `http.route` attribute)')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Only this service')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)')
            [CompletionResult]::new('--where', '--where', [CompletionResultType]::ParameterName, 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'End of the window: RFC 3339, or a duration before the newest sample')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--baseline', '--baseline', [CompletionResultType]::ParameterName, 'Take each series'' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Fail on the first bad line instead of skipping it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'metricsctl;check' {
            [CompletionResult]::new('--max-label-values', '--max-label-values', [CompletionResultType]::ParameterName, 'A label with more distinct values than this on one metric is a problem')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'metricsctl;explain' {
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Metric name, exact or glob (`http_server_*`); repeatable')
            [CompletionResult]::new('--metric', '--metric', [CompletionResultType]::ParameterName, 'Metric name, exact or glob (`http_server_*`); repeatable')
            [CompletionResult]::new('--route', '--route', [CompletionResultType]::ParameterName, 'Only this route (the `http.route` attribute)')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Only this service')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)')
            [CompletionResult]::new('--where', '--where', [CompletionResultType]::ParameterName, 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'End of the window: RFC 3339, or a duration before the newest sample')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--baseline', '--baseline', [CompletionResultType]::ParameterName, 'Take each series'' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Fail on the first bad line instead of skipping it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'metricsctl;query' {
            [CompletionResult]::new('--time', '--time', [CompletionResultType]::ParameterName, 'Evaluate at this time: RFC 3339, Unix seconds, now-DURATION, or a duration before the newest sample (default: the newest sample of the input)')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'A range query from this time (with --end), in the forms --time takes')
            [CompletionResult]::new('--end', '--end', [CompletionResultType]::ParameterName, 'A range query up to this time (with --start)')
            [CompletionResult]::new('--step', '--step', [CompletionResultType]::ParameterName, 'Resolution of a range query (default: a hundredth of the range, at least 1s)')
            [CompletionResult]::new('--lookback-delta', '--lookback-delta', [CompletionResultType]::ParameterName, 'How far back a selector looks for a series'' latest sample')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--exact', '--exact', [CompletionResultType]::ParameterName, 'increase() and rate() of counters and histograms are the exact, reset-aware, non-extrapolated increase that `sum` computes, not Prometheus'' extrapolation')
            [CompletionResult]::new('--resource-labels', '--resource-labels', [CompletionResultType]::ParameterName, 'Copy the resource attributes onto every series instead of a `target_info` series')
            [CompletionResult]::new('--baseline', '--baseline', [CompletionResultType]::ParameterName, 'Take each series'' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Fail on the first bad line instead of skipping it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'metricsctl;to-prometheus' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write to this file (atomically: a temporary file, then a rename)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write to this file (atomically: a temporary file, then a rename)')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Metric name, exact or glob (`http_server_*`); repeatable')
            [CompletionResult]::new('--metric', '--metric', [CompletionResultType]::ParameterName, 'Metric name, exact or glob (`http_server_*`); repeatable')
            [CompletionResult]::new('--route', '--route', [CompletionResultType]::ParameterName, 'Only this route (the `http.route` attribute)')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Only this service')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)')
            [CompletionResult]::new('--where', '--where', [CompletionResultType]::ParameterName, 'Label condition KEY=VALUE, KEY!=VALUE or KEY=~REGEX; repeatable. Keys may be short (`method` = `http.method`) or built-in (`service`, `instance`, `metric`)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Start of the window: RFC 3339, or a duration (15m, 2h, 1d) before the newest sample')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'End of the window: RFC 3339, or a duration before the newest sample')
            [CompletionResult]::new('--openmetrics', '--openmetrics', [CompletionResultType]::ParameterName, 'Write OpenMetrics 1.0 (ending in `# EOF`) instead of the text format 0.0.4')
            [CompletionResult]::new('--history', '--history', [CompletionResultType]::ParameterName, 'Every sample with its timestamp, as OpenMetrics that `promtool tsdb create-blocks-from openmetrics` backfills (implies --openmetrics)')
            [CompletionResult]::new('--resource-labels', '--resource-labels', [CompletionResultType]::ParameterName, 'Copy the resource attributes onto every series instead of a `target_info` series')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Fail on the first bad line instead of skipping it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'metricsctl;serve' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to serve /metrics on')
            [CompletionResult]::new('--stale-after', '--stale-after', [CompletionResultType]::ParameterName, 'A series whose latest sample is this much older than the newest sample of the input is no longer served (its process stopped exporting); a cumulative series missing from its process''s latest export is not served either')
            [CompletionResult]::new('--resource-labels', '--resource-labels', [CompletionResultType]::ParameterName, 'Copy the resource attributes onto every series instead of a `target_info` series')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'metricsctl;top' {
            [CompletionResult]::new('--by', '--by', [CompletionResultType]::ParameterName, 'Group by these labels (comma-separated; a suffix such as `route` finds `http.route`)')
            [CompletionResult]::new('--window', '--window', [CompletionResultType]::ParameterName, 'Sliding window of the rates, error ratios and latency quantiles')
            [CompletionResult]::new('--step', '--step', [CompletionResultType]::ParameterName, 'Width of one column of the rate sparkline')
            [CompletionResult]::new('--requests', '--requests', [CompletionResultType]::ParameterName, 'The request counter (default http_server_requests_total; with --grpc the gRPC one)')
            [CompletionResult]::new('--latency', '--latency', [CompletionResultType]::ParameterName, 'The latency histogram, in seconds (default http_server_request_duration_seconds); its counts stand in for requests when the counter is absent')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Format of the snapshots printed when stdout is not a terminal (or with --once)')
            [CompletionResult]::new('--grpc', '--grpc', [CompletionResultType]::ParameterName, 'gRPC methods instead of HTTP routes: grpc_server_* grouped by rpc.service,rpc.method')
            [CompletionResult]::new('--once', '--once', [CompletionResultType]::ParameterName, 'Print one snapshot of what the files hold and exit, instead of following them')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'metricsctl;remote-write' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The endpoint, e.g. http://127.0.0.1:9090/api/v1/write (http or https)')
            [CompletionResult]::new('--max-samples-per-request', '--max-samples-per-request', [CompletionResultType]::ParameterName, 'Samples per request at most')
            [CompletionResult]::new('--max-retries', '--max-retries', [CompletionResultType]::ParameterName, 'Retries of one request (5xx, 429, no answer) before giving up [default: 10; without end with --follow]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file too (https endpoints; the system''s roots are always trusted)')
            [CompletionResult]::new('--checkpoint', '--checkpoint', [CompletionResultType]::ParameterName, 'Record the last acknowledged sample here after every request; a re-run with the same file sends only what comes after it')
            [CompletionResult]::new('--basic-auth-user', '--basic-auth-user', [CompletionResultType]::ParameterName, 'Basic auth user; the password comes from --basic-auth-password-file or $METRICSCTL_REMOTE_WRITE_PASSWORD')
            [CompletionResult]::new('--basic-auth-password-file', '--basic-auth-password-file', [CompletionResultType]::ParameterName, 'basic-auth-password-file')
            [CompletionResult]::new('--bearer-token-file', '--bearer-token-file', [CompletionResultType]::ParameterName, 'A bearer token from this file (or $METRICSCTL_REMOTE_WRITE_TOKEN)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'An extra header (`X-Scope-OrgID: tenant-1`); repeatable')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Summary format')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep sending as the files grow (like `tail -F`), each export once it is complete, until SIGINT or SIGTERM; refused requests are reported and dropped')
            [CompletionResult]::new('--resource-labels', '--resource-labels', [CompletionResultType]::ParameterName, 'Copy the resource attributes onto every series instead of a `target_info` series')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Fail on the first bad line instead of skipping it')
            [CompletionResult]::new('--baseline', '--baseline', [CompletionResultType]::ParameterName, 'Take each series'' first sample as a baseline instead of counting it from zero (for inputs whose beginning was rotated away). A series whose start_timestamp lies inside the input still counts from zero')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'metricsctl;receive' {
            [CompletionResult]::new('--otlp-grpc', '--otlp-grpc', [CompletionResultType]::ParameterName, 'OTLP/gRPC address (`off` to disable)')
            [CompletionResult]::new('--otlp-http', '--otlp-http', [CompletionResultType]::ParameterName, 'OTLP/HTTP address, serving POST /v1/metrics with protobuf or JSON bodies (`off` to disable)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'The metrics file to append to (never truncated)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'The metrics file to append to (never truncated)')
            [CompletionResult]::new('--max-request-bytes', '--max-request-bytes', [CompletionResultType]::ParameterName, 'Larger requests (after decompression) are refused with an error status')
            [CompletionResult]::new('--output-format', '--output-format', [CompletionResultType]::ParameterName, 'What is written: a line per data point in the record format, or each request as one OTLP/JSON line (what the Collector''s otlpjsonfile receiver reads; metricsctl reads it too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'metricsctl;load-test' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Number of requests (default 20000 unless -z is given)')
            [CompletionResult]::new('--requests', '--requests', [CompletionResultType]::ParameterName, 'Number of requests (default 20000 unless -z is given)')
            [CompletionResult]::new('-z', '-z', [CompletionResultType]::ParameterName, 'Run for this long (30s, 2m); requests in flight at the deadline finish and are reported apart')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Run for this long (30s, 2m); requests in flight at the deadline finish and are reported apart')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Concurrent connections (HTTP/1.1 keep-alive, one per worker)')
            [CompletionResult]::new('--connections', '--connections', [CompletionResultType]::ParameterName, 'Concurrent connections (HTTP/1.1 keep-alive, one per worker)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Total requests per second (open model: latency counts from the intended send time)')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'Total requests per second (open model: latency counts from the intended send time)')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Load an external server instead of the built-in one (client-side metrics are then recorded, as http_client_*)')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address of the built-in server')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file with a `metrics:` block [default: configs/config.yaml, which may be missing (then the defaults apply); a file named here must exist]')
            [CompletionResult]::new('--service-name', '--service-name', [CompletionResultType]::ParameterName, 'resource service.name')
            [CompletionResult]::new('--service-version', '--service-version', [CompletionResultType]::ParameterName, 'resource service.version')
            [CompletionResult]::new('--environment', '--environment', [CompletionResultType]::ParameterName, 'resource deployment.environment')
            [CompletionResult]::new('--instance-id', '--instance-id', [CompletionResultType]::ParameterName, 'resource service.instance.id (default: HOSTNAME-PID)')
            [CompletionResult]::new('--json-file-path', '--json-file-path', [CompletionResultType]::ParameterName, 'Where the JSON file exporter appends')
            [CompletionResult]::new('--export-interval', '--export-interval', [CompletionResultType]::ParameterName, 'Time between exports')
            [CompletionResult]::new('--export-timeout', '--export-timeout', [CompletionResultType]::ParameterName, 'An export taking longer is abandoned with an error')
            [CompletionResult]::new('--temporality', '--temporality', [CompletionResultType]::ParameterName, 'Cumulative snapshots (default) or deltas since the previous export')
            [CompletionResult]::new('--exporter', '--exporter', [CompletionResultType]::ParameterName, 'Exporters to run, one or several (comma-separated): json_file, prometheus, otlp')
            [CompletionResult]::new('--prometheus-listen', '--prometheus-listen', [CompletionResultType]::ParameterName, 'Where the prometheus exporter serves /metrics [default: 127.0.0.1:9464]')
            [CompletionResult]::new('--otlp-endpoint', '--otlp-endpoint', [CompletionResultType]::ParameterName, 'The otlp exporter''s collector [default: http://127.0.0.1:4317]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Summary format')
            [CompletionResult]::new('--serve-only', '--serve-only', [CompletionResultType]::ParameterName, 'Only run the built-in server (for an outside load generator) until Ctrl-C or -z')
            [CompletionResult]::new('--no-middleware', '--no-middleware', [CompletionResultType]::ParameterName, 'Run the built-in server without the metrics middleware (to measure its cost)')
            [CompletionResult]::new('--grpc', '--grpc', [CompletionResultType]::ParameterName, 'Also start a gRPC server (orders.OrderService, users.UserService) and send a quarter of the requests as gRPC calls')
            [CompletionResult]::new('--live', '--live', [CompletionResultType]::ParameterName, 'Draw a live view while the load runs (requests/s, latency histogram, status codes); the default when stderr is a terminal')
            [CompletionResult]::new('--no-live', '--no-live', [CompletionResultType]::ParameterName, 'A progress bar instead of the live view')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'metricsctl;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'metricsctl;help' {
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Show the last records (read backwards from the end of the file), and follow')
            [CompletionResult]::new('sum', 'sum', [CompletionResultType]::ParameterValue, 'Exact totals per group: counter increases, histogram count/sum/mean, gauge sums')
            [CompletionResult]::new('rate', 'rate', [CompletionResultType]::ParameterValue, 'Per-second rate per group per time step, with a sparkline')
            [CompletionResult]::new('quantile', 'quantile', [CompletionResultType]::ParameterValue, 'Quantiles (default p50, p90, p99) of a histogram over the window, per group')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate files: bad lines, series and label cardinality, naming, restarts')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Why a total is what it is: each sample counted from zero (first, restart) with its evidence, and each line dropped (duplicate, conflict, out of order)')
            [CompletionResult]::new('query', 'query', [CompletionResultType]::ParameterValue, 'PromQL over the files, answered as Prometheus 2.x answers it over the same samples; with --exact, increase() and rate() are the exact increase `sum` counts')
            [CompletionResult]::new('to-prometheus', 'to-prometheus', [CompletionResultType]::ParameterValue, 'Prometheus exposition of the latest samples (or, with --history, of every sample)')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Follow files and serve their latest samples at /metrics for Prometheus to scrape')
            [CompletionResult]::new('top', 'top', [CompletionResultType]::ParameterValue, 'A live view of growing files: request rate, errors and latency per route')
            [CompletionResult]::new('remote-write', 'remote-write', [CompletionResultType]::ParameterValue, 'Send every sample to a Prometheus remote write endpoint (Mimir, Thanos, Cortex, VictoriaMetrics, Prometheus)')
            [CompletionResult]::new('receive', 'receive', [CompletionResultType]::ParameterValue, 'Receive OTLP metrics (gRPC, HTTP protobuf or JSON) from any SDK and append them to a file')
            [CompletionResult]::new('load-test', 'load-test', [CompletionResultType]::ParameterValue, 'Drive load at an instrumented server, write its metrics, and cross-check them')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'metricsctl;help;tail' {
            break
        }
        'metricsctl;help;sum' {
            break
        }
        'metricsctl;help;rate' {
            break
        }
        'metricsctl;help;quantile' {
            break
        }
        'metricsctl;help;check' {
            break
        }
        'metricsctl;help;explain' {
            break
        }
        'metricsctl;help;query' {
            break
        }
        'metricsctl;help;to-prometheus' {
            break
        }
        'metricsctl;help;serve' {
            break
        }
        'metricsctl;help;top' {
            break
        }
        'metricsctl;help;remote-write' {
            break
        }
        'metricsctl;help;receive' {
            break
        }
        'metricsctl;help;load-test' {
            break
        }
        'metricsctl;help;completions' {
            break
        }
        'metricsctl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
