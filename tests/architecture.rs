//! The structure docs/ARCHITECTURE.md describes, held by tests: the crates depend on each
//! other in one direction, embedding the exporter does not pay for the command line,
//! and the code cites the contract in docs/, not documents outside the repository.

use std::path::Path;
use std::process::Command;

/// The crates from the bottom of the stack up: each may depend only on crates before it.
const LAYERS: [&str; 9] = [
    "metricsctl-format",
    "metricsctl-otlp",
    "metricsctl-reader",
    "metricsctl-engine",
    "metricsctl-prom",
    "metricsctl-promql",
    "metricsctl-otel",
    "metricsctl-synth",
    "metricsctl",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn cargo(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO")).args(args).current_dir(root()).output().unwrap();
    assert!(out.status.success(), "cargo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn workspace_crates_depend_downwards_only() {
    let metadata: serde_json::Value =
        serde_json::from_str(&cargo(&["metadata", "--format-version", "1", "--no-deps", "--offline"])).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let mut seen = Vec::new();
    for package in packages {
        let name = package["name"].as_str().unwrap();
        let rank = LAYERS.iter().position(|l| *l == name).unwrap_or_else(|| panic!("{name} is not in LAYERS"));
        seen.push(name);
        for dep in package["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            let Some(dep_rank) = LAYERS.iter().position(|l| *l == dep_name) else { continue };
            // Tests and benchmarks of the command may use any crate; nothing else may
            // look up the stack.
            let dev = dep["kind"].as_str() == Some("dev");
            assert!(
                dep_rank < rank || (dev && name == "metricsctl" && dep_rank != rank),
                "{name} depends on {dep_name}, which is not below it"
            );
        }
    }
    seen.sort_unstable();
    let mut expected = LAYERS.to_vec();
    expected.sort_unstable();
    assert_eq!(seen, expected, "the workspace's crates and LAYERS differ");
}

/// The crates (and their features) a build of `metricsctl-otel` compiles.
fn otel_tree(features: &[&str]) -> Vec<String> {
    let mut args = vec!["tree", "-p", "metricsctl-otel", "-e", "normal", "--prefix", "none", "--offline"];
    args.extend_from_slice(features);
    let text = cargo(&args);
    let mut names: Vec<String> = text.lines().filter_map(|l| l.split_whitespace().next()).map(String::from).collect();
    names.sort_unstable();
    names.dedup();
    names
}

#[test]
fn embedding_the_exporter_compiles_no_command_line_and_no_reader() {
    let tree = otel_tree(&[]);
    assert!(tree.iter().any(|n| n == "opentelemetry_sdk"), "{tree:?}");
    for heavy in [
        "clap",
        "comfy-table",
        "indicatif",
        "rayon",
        "hdrhistogram",
        "metricsctl",
        "metricsctl-reader",
        "metricsctl-engine",
        "metricsctl-prom",
    ] {
        assert!(!tree.iter().any(|n| n == heavy), "metricsctl-otel without features compiles {heavy}");
    }
    // The Prometheus endpoint goes through the exposition `to-prometheus` uses.
    let with_endpoint = otel_tree(&["--features", "prometheus"]);
    assert!(with_endpoint.iter().any(|n| n == "metricsctl-prom"), "{with_endpoint:?}");
    assert!(!with_endpoint.iter().any(|n| n == "clap" || n == "comfy-table" || n == "indicatif"));
}

/// Every Rust file of the crates, the command, its tests and benchmarks.
fn sources() -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("src"), root().join("crates"), root().join("tests"), root().join("benches")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    assert!(out.len() > 30, "found only {} sources", out.len());
    out
}

#[test]
fn code_cites_the_docs_in_the_repository() {
    for path in sources() {
        if path.ends_with("architecture.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            let outside =
                ["spec section", "spec.md", "the seed's", "the seed ", "shared/"].iter().any(|c| lower.contains(c));
            assert!(!outside, "{}:{}: cites a document outside the repository: {line}", path.display(), n + 1);
            if let Some(at) = line.find("docs/") {
                let name: String =
                    line[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || "/._-".contains(*c)).collect();
                let name = name.trim_end_matches('.');
                assert!(root().join(name).exists(), "{}:{}: cites {name}, which does not exist", path.display(), n + 1);
            }
        }
    }
}

#[test]
fn no_state_is_hidden_in_thread_locals() {
    for path in sources() {
        if path.ends_with("architecture.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("thread_local!"),
            "{}: state belongs in a value its owner passes (a BlockParser, a LineParser), not a thread_local",
            path.display()
        );
    }
}
