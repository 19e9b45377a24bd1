//! `cleo inspect`: where a secret comes from, never its value.

use cleo_core::{Error, ErrorKind, Result};

use crate::app::App;
use crate::cli::InspectArgs;

pub async fn run(_app: &App, _args: &InspectArgs) -> Result<()> {
    Err(Error::new(
        ErrorKind::Unsupported,
        "cleo inspect is not built yet",
    ))
}
