"""Records a known workload with the OpenTelemetry Python SDK and pushes it over OTLP.

Usage: otlp_push.py grpc|http|http-json ENDPOINT cumulative|delta

http-json posts OTLP/HTTP with the JSON encoding: the SDK's protobuf encoder, then
protobuf's JSON printer (MessageToJson: lowerCamelCase, 64-bit integers as strings,
enums by name).

Several exports happen while recording (100 ms interval), then shutdown pushes the
rest. A second meter (another instrumentation scope, with a version) adds to a counter
of the same name and attributes: the two must stay two series. Prints on stdout, as
JSON, what was recorded: counter increments per route and per scope,
histogram observation counts and sums per route, the bucket holding each route's
median, and the last up-down-counter value.
"""

import json
import sys
import time

from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

protocol, endpoint, temporality = sys.argv[1:4]
if temporality == "delta":
    preferred = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}
else:
    preferred = {}

if protocol == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

    exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True, preferred_temporality=preferred)
elif protocol == "http":
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    exporter = OTLPMetricExporter(endpoint=endpoint, preferred_temporality=preferred)
else:
    import urllib.request

    from google.protobuf import json_format
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult

    class JsonExporter(MetricExporter):
        def __init__(self):
            super().__init__(preferred_temporality=preferred)

        def export(self, metrics_data, timeout_millis=10_000, **kwargs):
            body = json_format.MessageToJson(encode_metrics(metrics_data)).encode()
            request = urllib.request.Request(endpoint, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                json.loads(response.read())
            return MetricExportResult.SUCCESS

        def force_flush(self, timeout_millis=10_000):
            return True

        def shutdown(self, timeout_millis=30_000, **kwargs):
            pass

    exporter = JsonExporter()

reader = PeriodicExportingMetricReader(exporter, export_interval_millis=100)
resource = Resource.create({"service.name": "py-orders", "service.instance.id": f"py-{protocol}-{temporality}"})
provider = MeterProvider(resource=resource, metric_readers=[reader])
meter = provider.get_meter("otlp_push")
retry_meter = provider.get_meter("otlp_push.retry", "1.2.0")

requests = meter.create_counter("http_server_requests_total", unit="1", description="Requests")
BOUNDS = [0.01, 0.025, 0.05, 0.1, 0.25]
latency = meter.create_histogram(
    "http_server_request_duration_seconds",
    unit="s",
    description="Latency",
    explicit_bucket_boundaries_advisory=BOUNDS,
)
queue = meter.create_up_down_counter("queue_depth", description="Jobs waiting")
retried = retry_meter.create_counter("http_server_requests_total", unit="1", description="Requests")

routes = ["/api/v1/orders", "/api/v1/users/{id}", "/healthz"]
counts = {r: 0 for r in routes}
by_scope = {"otlp_push": 0, "otlp_push.retry": 0}
observations = {r: [0, 0.0] for r in routes}
values = {r: [] for r in routes}
depth = 0

for round_ in range(6):
    for i, route in enumerate(routes):
        # Not every route in every round: delta exports then leave series out.
        if (round_ + i) % 3 == 2:
            continue
        n = 7 * (i + 1) + round_
        requests.add(n, {"http.route": route, "http.method": "GET"})
        counts[route] += n
        by_scope["otlp_push"] += n
        retried.add(i + 1, {"http.route": route, "http.method": "GET"})
        counts[route] += i + 1
        by_scope["otlp_push.retry"] += i + 1
        for k in range(n):
            value = ((k * 37 + round_ * 11 + i) % 100) / 400.0
            latency.record(value, {"http.route": route})
            observations[route][0] += 1
            observations[route][1] += value
            values[route].append(value)
    step = 3 if round_ % 2 == 0 else -1
    queue.add(step)
    depth += step
    time.sleep(0.25)

provider.shutdown()

def median_bucket(vs):
    """The bucket (lower, upper) that holds the median observation."""
    median = sorted(vs)[(len(vs) - 1) // 2]
    lower = 0.0
    for bound in BOUNDS:
        if median <= bound:
            return [lower, bound]
        lower = bound
    return [lower, None]


print(
    json.dumps(
        {
            "requests": counts,
            "requests_by_scope": by_scope,
            "latency": observations,
            "median_bucket": {r: median_bucket(values[r]) for r in routes},
            "queue_depth": depth,
        }
    )
)
