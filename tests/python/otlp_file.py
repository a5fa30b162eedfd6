"""Writes OTLP/JSON lines as the OpenTelemetry Collector's file exporter does, with the
Python SDK's own encoder: encode_metrics, then protobuf's JSON printer (MessageToJson:
lowerCamelCase, 64-bit integers as strings, enums by name), one request per line.

Usage: otlp_file.py OUT.jsonl cumulative|delta

Two instrumentation scopes record the same counter with the same attributes, and the
process "restarts" half-way: a second MeterProvider with the same resource, whose
cumulative sums start again from zero with a later start time. Prints on stdout, as
JSON, what was recorded: requests per route and per scope, histogram counts per route.
"""

import json
import sys
import time

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

path, temporality = sys.argv[1:3]
if temporality == "delta":
    preferred = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}
else:
    preferred = {}

out = open(path, "w")


class FileExporter(MetricExporter):
    def __init__(self):
        super().__init__(preferred_temporality=preferred)

    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        request = encode_metrics(metrics_data)
        # indent=None: one request per line, as the Collector's file exporter writes.
        out.write(json_format.MessageToJson(request, indent=None) + "\n")
        out.flush()
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis=10_000):
        return True

    def shutdown(self, timeout_millis=30_000, **kwargs):
        pass


routes = ["/api/v1/orders", "/api/v1/users/{id}", "/healthz"]
requests_by_route = {r: 0 for r in routes}
requests_by_scope = {"shop.http": 0, "shop.retry": 0}
latency_counts = {r: 0 for r in routes}
resource = Resource.create({"service.name": "py-shop", "service.instance.id": f"py-shop-{temporality}"})

for lifetime in range(2):
    reader = PeriodicExportingMetricReader(FileExporter(), export_interval_millis=100)
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    http = provider.get_meter("shop.http", "2.1.0")
    retry = provider.get_meter("shop.retry")
    requests = http.create_counter("http_server_requests_total", unit="1", description="Requests")
    retried = retry.create_counter("http_server_requests_total", unit="1", description="Requests")
    latency = http.create_histogram(
        "http_server_request_duration_seconds",
        unit="s",
        explicit_bucket_boundaries_advisory=[0.01, 0.05, 0.1, 0.5],
    )
    for round_ in range(4):
        for i, route in enumerate(routes):
            n = 5 * (i + 1) + round_ + lifetime
            attributes = {"http.route": route, "http.method": "GET"}
            requests.add(n, attributes)
            retried.add(i + 1, attributes)
            requests_by_route[route] += n + i + 1
            requests_by_scope["shop.http"] += n
            requests_by_scope["shop.retry"] += i + 1
            for k in range(n):
                latency.record(((k * 13 + i) % 40) / 100.0, {"http.route": route})
            latency_counts[route] += n
        time.sleep(0.25)
    provider.shutdown()
    time.sleep(0.2)

out.close()
print(
    json.dumps(
        {"requests": requests_by_route, "requests_by_scope": requests_by_scope, "latency_counts": latency_counts}
    )
)
