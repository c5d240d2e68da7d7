//! Entry point of the `elasticache-local` binary: parse configuration, set up logging, run the
//! server until Ctrl-C or SIGTERM, then stop every engine node and exit 0.

use clap::Parser;
use elasticache_local::config::Config;

fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            tracing::error!(%err, "cannot start the async runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(elasticache_local::server::run_until_shutdown(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "elasticache-local stopped with an error");
            std::process::ExitCode::FAILURE
        }
    }
}
