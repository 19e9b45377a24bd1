//! What cleo's own log subscribers (the CLI, the Python module, the tests) never
//! record, whatever filter the user sets.
//!
//! The AWS SDK logs at TRACE what cleo must never print: `aws_sigv4` writes each
//! canonical request, with the `x-amz-security-token` session token in clear, and
//! the orchestrator writes whole requests (a web-identity token in a form body).
//! A Rust service with a subscriber of its own should add the same filter, for
//! example `.with(tracing_subscriber::filter::filter_fn(cleo_core::logging::is_safe))`.

use tracing::{Level, Metadata};

/// Target prefixes whose TRACE events may carry credentials.
pub const TRACE_UNSAFE_TARGETS: &[&str] = &["aws_"];

/// Whether an event or span may be recorded: false for TRACE from
/// [`TRACE_UNSAFE_TARGETS`]; their DEBUG and above stay.
pub fn is_safe(meta: &Metadata<'_>) -> bool {
    !(*meta.level() == Level::TRACE
        && TRACE_UNSAFE_TARGETS
            .iter()
            .any(|p| meta.target().starts_with(p)))
}
