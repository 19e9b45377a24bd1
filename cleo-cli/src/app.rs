//! What every command works with: the client, its backends, and the clean-up at
//! the end of a command.

use std::path::Path;
use std::sync::Arc;

use cleo_core::{Client, Config, Error, Registry, Secret};

/// The client and the backend handles a command may need beyond it.
pub struct App {
    pub client: Client,
    pub vault: Arc<cleo_vault::VaultSource>,
    pub aws: Arc<cleo_aws::AwsContext>,
}

impl App {
    /// Loads the config and registers every backend.
    pub fn build(config_path: Option<&Path>) -> Result<App, Error> {
        let config = Config::discover(config_path)?;
        let mut registry = Registry::with_builtin();
        let vault = cleo_vault::register(&mut registry, &config)?;
        let aws = cleo_aws::register(&mut registry, &config)?;
        Ok(App {
            client: Client::new(config, registry)?,
            vault,
            aws,
        })
    }

    /// Fetches a secret and, inside GitHub Actions, registers its value with the
    /// runner's log masking before anything else is printed. Every command that
    /// resolves a value goes through here.
    pub async fn resolve(&self, reference: &str) -> Result<Secret, Error> {
        let secret = self.client.get(reference).await?;
        crate::github::add_mask(secret.expose_secret());
        Ok(secret)
    }

    /// Ends the command: revokes the Vault token cleo logged in for, unless asked to
    /// keep it. A failure is a warning; the command's own result stands.
    pub async fn finish(&self, keep_token: bool) {
        if keep_token {
            return;
        }
        if let Err(e) = self.vault.revoke_login_token().await {
            eprintln!("warning: could not revoke the Vault login token: {e}");
        }
    }
}
