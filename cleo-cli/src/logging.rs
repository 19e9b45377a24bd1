//! stderr logging, filtered by CLEO_LOG, RUST_LOG, or -v/-q.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;

pub fn init(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    let filter = std::env::var("CLEO_LOG")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("RUST_LOG").ok().filter(|s| !s.is_empty()))
        .and_then(|s| EnvFilter::try_new(s).ok())
        // rustls logs a refused certificate as multi-line ERRORs, and aws-config
        // warns about each credential source it could not use; cleo's own error line
        // already carries the cause, so they are shown only when asked for.
        .unwrap_or_else(|| {
            EnvFilter::new(format!(
                "{default},rustls_platform_verifier=off,rustls=off,aws_config=error"
            ))
        });
    // Whatever the filter says, TRACE from the AWS SDK (session tokens in signed
    // requests) is never recorded: see cleo_core::logging.
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true)
        .finish()
        .with(filter_fn(cleo_core::logging::is_safe));
    let _ = tracing_subscriber::util::SubscriberInitExt::try_init(subscriber);
}
