//! The metricsctl binary: everything is in the library crate (`metricsctl::run`).

fn main() -> std::process::ExitCode {
    metricsctl::run()
}
