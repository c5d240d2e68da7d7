//! Entry point of the `elasticache-local` binary: parse configuration, set up logging, run the
//! server until Ctrl-C or SIGTERM, then stop every engine node and exit 0.
#![forbid(unsafe_code)]

use std::time::Duration;

use clap::Parser;
use elasticache_local::config::Config;

/// Time left to background tasks (engine connections) after the server has stopped, so the
/// process exits promptly even if a client keeps a socket open.
const RUNTIME_DRAIN: Duration = Duration::from_millis(200);

fn main() -> std::process::ExitCode {
    // `elasticache-local fault …` talks to a running emulator; anything else runs one.
    if std::env::args().nth(1).as_deref() == Some("fault") {
        return elasticache_local::faults::cli::run(std::env::args().skip(1));
    }
    let config = Config::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr (stdout stays free for tools that wrap the binary); colours only when a
    // person is watching, so `docker logs` and CI logs stay plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .init();

    if let Some(command) = config.command {
        return elasticache_local::ci::cli::run(command);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(ecl_redis::WORKER_STACK_SIZE)
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            tracing::error!(%err, "cannot start the async runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(elasticache_local::server::run_until_shutdown(config));
    runtime.shutdown_timeout(RUNTIME_DRAIN);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "elasticache-local stopped with an error");
            std::process::ExitCode::FAILURE
        }
    }
}
