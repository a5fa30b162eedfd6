//! Every shape the format allows (crates/synth/src/shape.rs: the reference design's Go exporter
//! without "+Inf", no resource, UTC nanoseconds, `+08:00`, keys in another order) reads
//! as the same records: a generated file rewritten in each shape sums to the
//! generator's truth, and exposes byte for byte what the original does.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;

use metricsctl_synth::generate::{generate, GenerateOptions};
use metricsctl_synth::shape::Shape;

/// A file in this project's writer's shape, with restarts, and its truth.
fn generated(path: &Path, instances: usize) -> BTreeMap<String, u64> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let options = GenerateOptions { target_bytes: 3 << 20, restart_every: 5, instances, ..GenerateOptions::default() };
    let g = generate(&mut file, &options).unwrap();
    assert!(g.restarts >= 2, "{g:?}");
    g.requests_by_route
}

fn rewritten(from: &Path, to: &Path, shape: Shape) {
    let text = std::fs::read(from).unwrap();
    let mut out = Vec::with_capacity(text.len());
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        shape.rewrite(line, &mut out);
    }
    std::fs::write(to, out).unwrap();
}

fn first_difference(a: &str, b: &str) -> Option<String> {
    let line = a.lines().zip(b.lines()).position(|(x, y)| x != y);
    match line {
        Some(i) => Some(format!("line {}: {:?} vs {:?}", i + 1, a.lines().nth(i), b.lines().nth(i))),
        None if a.lines().count() != b.lines().count() => Some("one exposition is longer".into()),
        None => None,
    }
}

#[test]
fn every_shape_sums_exactly_and_exposes_the_same() {
    let dir = tempfile::tempdir().unwrap();
    for instances in [2, 1] {
        let base = dir.path().join(format!("writer-{instances}.jsonl"));
        let truth = generated(&base, instances);
        let base_exposition = stdout_of(&["to-prometheus", base.to_str().unwrap()]);
        // Without a resource, the instances of a service could not be told apart.
        let shapes: Vec<Shape> =
            Shape::ALL.into_iter().filter(|&s| (s == Shape::NoResource) == (instances == 1)).collect();
        for shape in shapes {
            let file = dir.path().join(format!("{}-{instances}.jsonl", shape.name()));
            rewritten(&base, &file, shape);
            let file = file.to_str().unwrap();
            let summed: BTreeMap<String, u64> =
                sum_by("route", &[file]).into_iter().map(|(route, v)| (route, v.as_u64().unwrap())).collect();
            assert_eq!(summed, truth, "{shape:?}");
            if shape != Shape::NoResource {
                let exposition = stdout_of(&["to-prometheus", file]);
                assert_eq!(first_difference(&exposition, &base_exposition), None, "{shape:?}");
            }
        }
    }
}
