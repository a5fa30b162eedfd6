fn main() -> std::process::ExitCode {
    metricsctl::run()
}
