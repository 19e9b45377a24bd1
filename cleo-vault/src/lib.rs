#![doc = include_str!("../README.md")]

mod auth;
mod config;
mod diagnostics;
mod error;
mod http;
mod login;
mod source;

use std::sync::Arc;

use cleo_core::{Config, Registry, Result};

pub use auth::{StaticTokenProvider, TokenProvider, VaultToken};
pub use config::{AuthConfig, VaultConfig, VaultSettings};
pub use diagnostics::{AuditDevice, AuditDevices, Health, NodeHealth, TokenInfo};
pub use login::{JwtSource, LoginMethod, LoginProvider};
/// Re-exported for building tokens: `SecretString::from(String)`.
pub use secrecy::SecretString;
pub use source::{BACKEND, VaultSource};

/// The reference scheme this crate serves.
pub const SCHEME: &str = "vault";

/// Builds a [`VaultSource`] from the `[vault]` section of `config` and the
/// environment, registers it for `vault://`, and returns it (to inspect or revoke
/// its token).
///
/// A missing address is not an error here: `env://` and `file://` keep working, and
/// the first `vault://` read says what to set.
pub fn register(registry: &mut Registry, config: &Config) -> Result<Arc<VaultSource>> {
    let section: VaultConfig = config.section("vault")?;
    let settings = VaultSettings::resolve(&section)?;
    let source = Arc::new(VaultSource::with_token_cache(
        settings,
        config.cache_settings()?,
    )?);
    registry.register(Arc::clone(&source) as Arc<dyn cleo_core::SecretSource>);
    Ok(source)
}
