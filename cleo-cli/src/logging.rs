//! stderr logging, filtered by CLEO_LOG, RUST_LOG, or -v/-q.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

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
        // rustls logs a refused certificate as multi-line ERRORs; cleo's own error
        // line already carries the cause, so they are shown only when asked for.
        .unwrap_or_else(|| {
            EnvFilter::new(format!("{default},rustls_platform_verifier=off,rustls=off"))
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true)
        .try_init();
}
