//! Micro-benchmarks of the line parser and of block parsing (the reader's unit of work).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use metricsctl_format::record::parse_line;
use metricsctl_reader::matcher::MetricMatcher;
use metricsctl_synth::generate::{generate, GenerateOptions};

fn sample_block() -> Vec<u8> {
    let mut data = Vec::new();
    let options = GenerateOptions { target_bytes: 4 << 20, services: 2, instances: 2, ..GenerateOptions::default() };
    generate(&mut data, &options).unwrap();
    data
}

fn bench_parse_line(c: &mut Criterion) {
    let data = sample_block();
    let text = std::str::from_utf8(&data).unwrap();
    let counter = text.lines().find(|l| l.contains("\"metric_type\":\"counter\"")).unwrap();
    let histogram = text.lines().find(|l| l.contains("\"metric_type\":\"histogram\"")).unwrap();
    let mut g = c.benchmark_group("parse_line");
    g.throughput(Throughput::Bytes(counter.len() as u64));
    g.bench_function("counter", |b| b.iter(|| parse_line(std::hint::black_box(counter)).unwrap()));
    g.throughput(Throughput::Bytes(histogram.len() as u64));
    g.bench_function("histogram", |b| b.iter(|| parse_line(std::hint::black_box(histogram)).unwrap()));
    g.finish();
}

fn bench_parse_block(c: &mut Criterion) {
    let data = sample_block();
    let path = std::env::temp_dir().join(format!("metricsctl-bench-{}.jsonl", std::process::id()));
    std::fs::write(&path, &data).unwrap();
    let source = metricsctl_reader::input::Source::from_arg(&path);
    let mut reader = metricsctl_reader::input::BlockReader::new(0, &source, 8 << 20).unwrap();
    let block = reader.next_block(None).unwrap().unwrap();
    let mut g = c.benchmark_group("parse_block_4MiB");
    g.throughput(Throughput::Bytes(block.data().len() as u64));
    // Templates are learnt by a first parse: these measure the steady state.
    for (name, metrics, latest_only) in [
        ("all metrics (check)", vec![], false),
        ("requests counter only (sum)", vec!["http_server_requests_total".to_string()], false),
        ("newest values only (to-prometheus)", vec![], true),
    ] {
        let options = metricsctl_reader::scan::ScanOptions {
            metrics: MetricMatcher::new(&metrics).unwrap(),
            block_size: 8 << 20,
            latest_only,
        };
        let mut parser = metricsctl_reader::scan::BlockParser::default();
        parser.parse(&block, &options);
        g.bench_function(name, |b| b.iter_batched(|| (), |()| parser.parse(&block, &options), BatchSize::SmallInput));
    }
    g.finish();
    let _ = std::fs::remove_file(path);
}

criterion_group!(benches, bench_parse_line, bench_parse_block);
criterion_main!(benches);
