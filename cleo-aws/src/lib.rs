#![doc = include_str!("../README.md")]

mod config;
mod credentials;
mod diagnostics;
mod error;
mod parameter_store;
mod policy;
mod sdk;
mod secrets_manager;
mod sts;

use std::sync::Arc;

use cleo_core::{Config, Registry, Result};

pub use config::{AwsConfig, RoleConfig, WebIdentityKind};
pub use credentials::{AwsCredentials, SdkCredentials};
pub use diagnostics::{CallerIdentity, DEFAULT_SECRETS_MANAGER_KEY, SecretEncryption};
pub use parameter_store::ParameterStoreSource;
pub use policy::{ARTIFACT_PREFIX, artifact_policy};
pub use sdk::{AwsContext, DEFAULT_TIMEOUT};
pub use secrets_manager::SecretsManagerSource;
pub use sts::{AssumeRoleProvider, DEFAULT_SESSION, MfaCode, RoleIdentity, RoleOptions};

/// Re-exported so users name the same identity-token type as cleo-vault.
pub use cleo_core::id_token::{AWS_AUDIENCE, IdTokenSource};

/// The Secrets Manager scheme.
pub const SCHEME_SECRETS_MANAGER: &str = secrets_manager::SCHEME;
/// The Parameter Store scheme.
pub const SCHEME_PARAMETER_STORE: &str = parameter_store::SCHEME;

/// Registers `aws-sm://` and `aws-ssm://` on one shared context built from `[aws]`,
/// and returns that context (for roles: [`AwsContext::role`]). Nothing touches the
/// network until the first AWS reference is read.
pub fn register(registry: &mut Registry, config: &Config) -> Result<Arc<AwsContext>> {
    let section: AwsConfig = config.section("aws")?;
    let ctx = Arc::new(AwsContext::new(section, config.cache_settings()?)?);
    registry.register(Arc::new(SecretsManagerSource::new(Arc::clone(&ctx))));
    registry.register(Arc::new(ParameterStoreSource::new(Arc::clone(&ctx))));
    Ok(ctx)
}
