//! `cleo doctor`: checks what a job needs before it needs it.

use std::path::Path;

use cleo_core::{Error, ErrorKind, Result};

use crate::cli::DoctorArgs;

/// Runs every check; returns 0 when none failed, 1 otherwise.
pub async fn run(_config: Option<&Path>, _args: &DoctorArgs) -> Result<u8> {
    Err(Error::new(
        ErrorKind::Unsupported,
        "cleo doctor is not built yet",
    ))
}
