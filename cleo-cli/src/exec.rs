//! `cleo exec`: run a command with secrets in its environment, its output masked.

use cleo_core::{Error, ErrorKind, Result};

use crate::app::App;
use crate::cli::ExecArgs;

/// Runs the command; returns its exit code.
pub async fn run(_app: &App, _args: &ExecArgs) -> Result<u8> {
    Err(Error::new(
        ErrorKind::Unsupported,
        "cleo exec is not built yet",
    ))
}
