//! A generator of realistic metrics.jsonl files for benchmarks and demos: several
//! services and instances exporting the middleware's eight instruments every 10 s, with
//! restarts, histograms and a few bad lines. It also returns the exact number of
//! requests per route that the file holds, so that any tool's answer can be checked.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;

use crate::disturb::{Disturbance, Disturber, Export, Rng};
use crate::shape::Shape;
use metricsctl_format::timestamp::NANOS_PER_SEC;
use metricsctl_format::write::{histogram_value, push_line_styled, JsonNumber, LineHead, Point, TimeStyle};
use metricsctl_otel::instruments::{
    Instrument, DURATION_BOUNDS, GRPC_ACTIVE, GRPC_DURATION, GRPC_REQUESTS, HTTP_ACTIVE, HTTP_DURATION, HTTP_REQUESTS,
    HTTP_REQUEST_SIZE, HTTP_RESPONSE_SIZE, SIZE_BOUNDS,
};

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Stop after about this many bytes.
    pub target_bytes: u64,
    pub services: usize,
    pub instances: usize,
    pub seed: u64,
    /// Mean exports between restarts of one process (0 = never).
    pub restart_every: u64,
    /// One bad line per this many exports (0 = none).
    pub bad_line_every: u64,
    /// Write `start_timestamp`, as this project's exporter does.
    pub start_timestamps: bool,
    /// First export time, seconds since the epoch.
    pub start_secs: i64,
    pub interval_secs: i64,
    /// What real exporters and log shippers do to the lines (none by default).
    pub disturbance: Disturbance,
    /// How the lines are written (this project's writer by default).
    pub shape: Shape,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            target_bytes: 50 << 20,
            services: 3,
            instances: 3,
            seed: 42,
            restart_every: 400,
            bad_line_every: 2_000,
            start_timestamps: true,
            start_secs: 1_765_850_400,
            interval_secs: 10,
            disturbance: Disturbance::default(),
            shape: Shape::Writer,
        }
    }
}

/// What was written.
#[derive(Debug, Default, Clone)]
pub struct Generated {
    pub bytes: u64,
    pub lines: u64,
    pub bad_lines: u64,
    pub restarts: u64,
    /// Requests per `http.route` held by the file (`http_server_requests_total`).
    pub requests_by_route: BTreeMap<String, u64>,
    /// The same per service and route.
    pub requests_by_service_route: BTreeMap<(String, String), u64>,
}

impl Generated {
    fn count(&mut self, service: &str, route: &str, requests: u64) {
        *self.requests_by_route.entry(route.to_string()).or_default() += requests;
        *self.requests_by_service_route.entry((service.to_string(), route.to_string())).or_default() += requests;
    }
}

/// Route template, method, relative weight, mean latency (s), error share.
const ROUTES: &[(&str, &str, u32, f64, f64)] = &[
    ("/api/v1/orders", "GET", 30, 0.030, 0.01),
    ("/api/v1/orders", "POST", 12, 0.080, 0.03),
    ("/api/v1/orders/{id}", "GET", 25, 0.020, 0.02),
    ("/api/v1/users/{id}", "GET", 18, 0.015, 0.01),
    ("/api/v1/payments", "POST", 5, 0.250, 0.05),
    ("/healthz", "GET", 10, 0.001, 0.0),
];
const GRPC_METHODS: &[(&str, &str)] =
    &[("orders.OrderService", "GetOrder"), ("orders.OrderService", "ListOrders"), ("users.UserService", "GetUser")];
/// The reference Go exporter's timestamps: milliseconds at +08:00.
const TIME_STYLE: TimeStyle = TimeStyle::MillisAt(8 * 3600);

#[derive(Clone, Default)]
struct Hist {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    counts: Vec<u64>,
}

impl Hist {
    fn new(bounds: usize) -> Hist {
        Hist { counts: vec![0; bounds + 1], min: f64::INFINITY, max: 0.0, ..Default::default() }
    }
    fn record(&mut self, bounds: &[f64], v: f64) {
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        let i = bounds.iter().position(|&b| v <= b).unwrap_or(bounds.len());
        self.counts[i] += 1;
    }

    /// The value as the line writer writes histograms.
    fn value(&self, bounds: &[f64]) -> String {
        let (min, max) = if self.count > 0 { (self.min.json(), self.max.json()) } else { (None, None) };
        histogram_value(self.count, &self.sum.json().unwrap_or_else(|| "0".into()), min, max, bounds, &self.counts)
    }
}

/// One HTTP series family: the counter and the three histograms share attributes.
#[derive(Clone)]
struct HttpSeries {
    route: usize,
    status: u16,
    requests: u64,
    duration: Hist,
    request_size: Hist,
    response_size: Hist,
}

#[derive(Clone)]
struct GrpcSeries {
    method: usize,
    code: u8,
    requests: u64,
    duration: Hist,
}

struct Process {
    service: String,
    resource: String,
    /// When this lifetime began, nanoseconds since the epoch.
    start: i64,
    http: Vec<HttpSeries>,
    grpc: Vec<GrpcSeries>,
    active: i64,
    grpc_active: i64,
    /// Last written value per HTTP series index (this lifetime).
    written: Vec<u64>,
}

impl Process {
    fn new(service: &str, instance: usize, start_nanos: i64) -> Process {
        let resource = format!(
            r#"{{"service.name":"{service}","service.version":"v1.4.2","deployment.environment":"prod","service.instance.id":"{service}-{instance}"}}"#
        );
        Process {
            service: service.to_string(),
            resource,
            start: start_nanos,
            http: Vec::new(),
            grpc: Vec::new(),
            active: 0,
            grpc_active: 0,
            written: Vec::new(),
        }
    }

    fn traffic(&mut self, rng: &mut Rng, load: f64) {
        for (r, &(_, _, weight, latency, errors)) in ROUTES.iter().enumerate() {
            let mean = f64::from(weight) * load;
            let n = (mean * (0.5 + rng.unit())) as u64;
            for _ in 0..n {
                let u = rng.unit();
                let status = if u < errors * 0.6 {
                    500
                } else if u < errors {
                    404
                } else if ROUTES[r].1 == "POST" {
                    201
                } else {
                    200
                };
                let idx = match self.http.iter().position(|s| s.route == r && s.status == status) {
                    Some(i) => i,
                    None => {
                        self.http.push(HttpSeries {
                            route: r,
                            status,
                            requests: 0,
                            duration: Hist::new(DURATION_BOUNDS.len()),
                            request_size: Hist::new(SIZE_BOUNDS.len()),
                            response_size: Hist::new(SIZE_BOUNDS.len()),
                        });
                        self.written.push(0);
                        self.http.len() - 1
                    }
                };
                let s = &mut self.http[idx];
                s.requests += 1;
                // Exponential-ish latency around the route's mean.
                let d = -latency * (1.0 - rng.unit()).ln();
                s.duration.record(DURATION_BOUNDS, d);
                s.request_size.record(SIZE_BOUNDS, 50.0 + rng.below(4000) as f64);
                s.response_size.record(SIZE_BOUNDS, 200.0 + rng.below(60_000) as f64);
            }
        }
        let n = (8.0 * load * (0.5 + rng.unit())) as u64;
        for _ in 0..n {
            let method = rng.below(GRPC_METHODS.len() as u64) as usize;
            let code = if rng.unit() < 0.02 { 14 } else { 0 };
            let idx = match self.grpc.iter().position(|s| s.method == method && s.code == code) {
                Some(i) => i,
                None => {
                    self.grpc.push(GrpcSeries {
                        method,
                        code,
                        requests: 0,
                        duration: Hist::new(DURATION_BOUNDS.len()),
                    });
                    self.grpc.len() - 1
                }
            };
            let s = &mut self.grpc[idx];
            s.requests += 1;
            s.duration.record(DURATION_BOUNDS, -0.01 * (1.0 - rng.unit()).ln());
        }
        self.active = rng.below(20) as i64;
        self.grpc_active = rng.below(5) as i64;
    }

    /// Writes one export of every series recorded in this lifetime.
    fn export(&mut self, out: &mut Vec<u8>, now: i64, start_timestamps: bool) {
        let start = start_timestamps.then_some(self.start);
        let head = |instrument: Instrument| LineHead {
            service: &self.service,
            resource: &self.resource,
            scope: "",
            name: instrument.name,
            unit: instrument.unit,
            description: instrument.description,
        };
        let point = |metric_type, value: &str, attributes: &str, out: &mut Vec<u8>, instrument| {
            let point = Point { metric_type, time: now, start, delta: false, value, attributes };
            push_line_styled(out, &head(instrument), &point, TIME_STYLE);
        };
        for (i, s) in self.http.iter().enumerate() {
            let (route, method, ..) = ROUTES[s.route];
            let status = if s.status >= 500 { "error" } else { "success" };
            let attributes = format!(
                r#"{{"http.method":"{method}","http.route":"{route}","http.status_code":{},"status":"{status}"}}"#,
                s.status
            );
            point("counter", &s.requests.to_string(), &attributes, out, HTTP_REQUESTS);
            self.written[i] = s.requests;
            for (instrument, h, bounds) in [
                (HTTP_DURATION, &s.duration, DURATION_BOUNDS),
                (HTTP_REQUEST_SIZE, &s.request_size, SIZE_BOUNDS),
                (HTTP_RESPONSE_SIZE, &s.response_size, SIZE_BOUNDS),
            ] {
                point("histogram", &h.value(bounds), &attributes, out, instrument);
            }
        }
        point("gauge", &self.active.to_string(), "{}", out, HTTP_ACTIVE);
        for s in &self.grpc {
            let (service, method) = GRPC_METHODS[s.method];
            let attributes =
                format!(r#"{{"rpc.service":"{service}","rpc.method":"{method}","rpc.status_code":{}}}"#, s.code);
            point("counter", &s.requests.to_string(), &attributes, out, GRPC_REQUESTS);
            point("histogram", &s.duration.value(DURATION_BOUNDS), &attributes, out, GRPC_DURATION);
        }
        if !self.grpc.is_empty() {
            point("gauge", &self.grpc_active.to_string(), "{}", out, GRPC_ACTIVE);
        }
    }

    fn lines_per_export(&self) -> u64 {
        (self.http.len() * 4 + 1 + self.grpc.len() * 2 + usize::from(!self.grpc.is_empty())) as u64
    }
}

/// Writes a file of about `options.target_bytes` to `out`.
pub fn generate(out: &mut dyn Write, options: &GenerateOptions) -> Result<Generated> {
    let mut rng = Rng(options.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let names = ["sre", "orders", "billing", "users", "gateway", "search", "catalog", "auth"];
    let start_nanos = options.start_secs * NANOS_PER_SEC;
    let mut processes: Vec<Process> = (0..options.services.max(1))
        .flat_map(|s| (0..options.instances.max(1)).map(move |i| (s, i)))
        .map(|(s, i)| Process::new(names[s % names.len()], i, start_nanos - 60 * NANOS_PER_SEC))
        .collect();
    let mut result = Generated::default();
    let mut buf: Vec<u8> = Vec::with_capacity(4 << 20);
    let mut export = 0u64;
    let disturbed = options.disturbance != Disturbance::default();
    let mut disturber = Disturber::new(options.disturbance, options.seed.wrapping_add(1));
    let mut scratch = Vec::new();
    let mut reshaped = Vec::new();
    while result.bytes < options.target_bytes {
        let mut tick = Vec::new();
        let now = start_nanos + export as i64 * options.interval_secs * NANOS_PER_SEC;
        for (p, process) in processes.iter_mut().enumerate() {
            if options.restart_every > 0 && export > 0 && rng.below(options.restart_every) == 0 {
                // Everything recorded since the last export dies with the process; what
                // was written stays counted.
                for (s, w) in process.http.iter().zip(&process.written) {
                    result.count(&process.service, ROUTES[s.route].0, *w);
                }
                let service = process.service.clone();
                *process = Process::new(&service, p % options.instances.max(1), now - 3 * NANOS_PER_SEC);
                result.restarts += 1;
            }
            // Load varies with time of day and per process.
            let hour = ((now / NANOS_PER_SEC) / 3600 % 24) as f64;
            let load = 0.6 + 0.4 * (hour / 24.0 * std::f64::consts::TAU).sin().abs() + (p % 3) as f64 * 0.2;
            process.traffic(&mut rng, load);
            // Each process exports a few milliseconds after the others.
            let due = now + (p as i64) * 3_000_000;
            if disturbed {
                scratch.clear();
                process.export(&mut scratch, due, options.start_timestamps);
                let mut lines = Vec::new();
                for line in scratch.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    reshaped.clear();
                    options.shape.rewrite(line, &mut reshaped);
                    lines.push(String::from_utf8_lossy(&reshaped).trim_end().to_string());
                }
                tick.push((p, Export { scheduled: due, interval: options.interval_secs * NANOS_PER_SEC, lines }));
            } else if options.shape != Shape::Writer {
                scratch.clear();
                process.export(&mut scratch, due, options.start_timestamps);
                for line in scratch.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    options.shape.rewrite(line, &mut buf);
                }
                result.lines += process.lines_per_export();
            } else {
                process.export(&mut buf, due, options.start_timestamps);
                result.lines += process.lines_per_export();
            }
        }
        if disturbed {
            result.lines += disturber.write_tick(tick, &mut buf) as u64;
        }
        export += 1;
        if options.bad_line_every > 0 && rng.below(options.bad_line_every) < processes.len() as u64 {
            buf.extend_from_slice(
                br#"{"timestamp":"2025-12-16T09:30:17.594+0800","service_name":"sre","metric_name":"http_ser"#,
            );
            buf.push(b'\n');
            result.bad_lines += 1;
            result.lines += 1;
        }
        write_when_full(out, &mut buf, &mut result)?;
    }
    out.write_all(&buf)?;
    result.bytes += buf.len() as u64;
    for process in &processes {
        for (s, w) in process.http.iter().zip(&process.written) {
            result.count(&process.service, ROUTES[s.route].0, *w);
        }
    }
    Ok(result)
}

/// Writes the buffered lines out once they reach 4 MiB.
fn write_when_full(out: &mut dyn Write, buf: &mut Vec<u8>, result: &mut Generated) -> Result<()> {
    if buf.len() >= 4 << 20 {
        out.write_all(buf)?;
        result.bytes += buf.len() as u64;
        buf.clear();
    }
    Ok(())
}

/// A cardinality explosion: `series` users, each with a request counter and a
/// duration histogram labelled by its `user_id`, exported `exports` times by one
/// process (10 s apart), its lines in `shape`. What `check` is for, and what the reader
/// must stay fast and small on. The truth counts the requests per route.
pub fn generate_cardinality(
    out: &mut dyn Write,
    series: u64,
    exports: u64,
    seed: u64,
    shape: Shape,
) -> Result<Generated> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut result = Generated::default();
    let resource = r#"{"service.name":"sre","service.instance.id":"sre-0"}"#;
    let mut requests = vec![0u64; series as usize];
    let mut hist: Vec<Hist> = (0..series).map(|_| Hist::new(DURATION_BOUNDS.len())).collect();
    let mut buf: Vec<u8> = Vec::with_capacity(4 << 20);
    let mut line: Vec<u8> = Vec::new();
    for export in 0..exports {
        let now = 1_765_850_400 * NANOS_PER_SEC + export as i64 * 10 * NANOS_PER_SEC;
        for user in 0..series as usize {
            let route = ROUTES[user % ROUTES.len()].0;
            let n = 1 + rng.below(3);
            requests[user] += n;
            for _ in 0..n {
                hist[user].record(DURATION_BOUNDS, -0.03 * (1.0 - rng.unit()).ln());
            }
            let attributes = format!(r#"{{"http.route":"{route}","user_id":"u{user:07}"}}"#);
            for (instrument, metric_type, value) in [
                (HTTP_REQUESTS, "counter", requests[user].to_string()),
                (HTTP_DURATION, "histogram", hist[user].value(DURATION_BOUNDS)),
            ] {
                let head = LineHead {
                    service: "sre",
                    resource,
                    scope: "",
                    name: instrument.name,
                    unit: instrument.unit,
                    description: instrument.description,
                };
                let point =
                    Point { metric_type, time: now, start: None, delta: false, value: &value, attributes: &attributes };
                if shape == Shape::Writer {
                    push_line_styled(&mut buf, &head, &point, TIME_STYLE);
                } else {
                    line.clear();
                    push_line_styled(&mut line, &head, &point, TIME_STYLE);
                    shape.rewrite(line.strip_suffix(b"\n").unwrap_or(&line), &mut buf);
                }
                result.lines += 1;
            }
            write_when_full(out, &mut buf, &mut result)?;
        }
    }
    out.write_all(&buf)?;
    result.bytes += buf.len() as u64;
    for (user, &n) in requests.iter().enumerate() {
        result.count("sre", ROUTES[user % ROUTES.len()].0, n);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_style_timestamps() {
        assert_eq!(TIME_STYLE.format(1_765_848_617_594_000_000), "2025-12-16T09:30:17.594+0800");
        assert_eq!(TIME_STYLE.format(1_765_848_610_000_000_000), "2025-12-16T09:30:10.000+0800");
    }
}
