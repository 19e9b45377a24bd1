//! Reads the ADR's four entries by logical name and prints their metadata, never a value.
//!
//! `CLEO_CONFIG=examples/cleo.toml VAULT_ADDR=... VAULT_TOKEN=... cargo run -p cleo-examples --bin fetch-seed`

use cleo_core::{Client, Config, Registry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), cleo_core::Error> {
    let config = Config::discover(None)?;
    let mut registry = Registry::with_builtin();
    cleo_vault::register(&mut registry, &config)?;
    let client = Client::new(config, registry)?;
    for name in [
        "artifacts/s3/bucket",
        "artifacts/s3/role",
        "mlflow/tracking_uri",
        "mlflow/api_token",
    ] {
        let secret = client.get(name).await?;
        // Debug prints reference, backend and version; the value stays redacted.
        eprintln!("{name:22} -> {secret:?}");
    }
    Ok(())
}
