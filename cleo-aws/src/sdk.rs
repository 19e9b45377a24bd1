//! The shared AWS settings (`aws_config::SdkConfig`), loaded once, on first use, from
//! the standard chain (variables, profiles, web identity, ECS, IMDS) plus `[aws]`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use cleo_core::{CacheSettings, CachedCredentialProvider, CredentialProvider, Result};
use tokio::sync::OnceCell;

use crate::config::{AwsConfig, parse_duration};
use crate::credentials::{AwsCredentials, SdkCredentials};
use crate::sts::{AssumeRoleProvider, RoleOptions};

/// The per-attempt timeout when `[aws] timeout` is absent.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

type RoleCredentials = Arc<dyn CredentialProvider<Credential = AwsCredentials>>;

/// What every AWS source and role of one client shares: settings and, once loaded,
/// the SDK configuration. Loading touches the network (IMDS, SSO) only on first use.
pub struct AwsContext {
    config: AwsConfig,
    cache: CacheSettings,
    timeout: Duration,
    base: OnceCell<SdkConfig>,
    /// For secrets: the base config, or it with `[aws] role`'s credentials.
    secrets: OnceCell<(SdkConfig, Option<RoleCredentials>)>,
}

impl fmt::Debug for AwsContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsContext")
            .field("region", &self.config.region)
            .field("profile", &self.config.profile)
            .field("endpoint_url", &self.config.endpoint_url)
            .field("role", &self.config.role)
            .finish()
    }
}

impl AwsContext {
    /// A context for `[aws]`, with `cache` settings for role credentials.
    pub fn new(config: AwsConfig, cache: CacheSettings) -> Result<Self> {
        let timeout = parse_duration("timeout", &config.timeout, DEFAULT_TIMEOUT)?;
        if let Some(role) = &config.role {
            config.role(role)?;
        }
        Ok(AwsContext {
            config,
            cache,
            timeout,
            base: OnceCell::new(),
            secrets: OnceCell::new(),
        })
    }

    /// A context on an SDK configuration the caller built (a service that already has
    /// one, or a test); `[aws]`'s region, profile, endpoint and timeout are then unused.
    pub fn with_sdk_config(
        config: AwsConfig,
        cache: CacheSettings,
        sdk: SdkConfig,
    ) -> Result<Self> {
        let ctx = AwsContext::new(config, cache)?;
        let _ = ctx.base.set(sdk);
        Ok(ctx)
    }

    /// The `[aws]` section.
    pub fn config(&self) -> &AwsConfig {
        &self.config
    }

    /// The SDK configuration from the standard chain and `[aws]`.
    ///
    /// Retries are off in the SDK: cleo's cache retries temporary errors with its own
    /// backoff, and two layers of retries would multiply the calls.
    pub async fn sdk_config(&self) -> &SdkConfig {
        self.base
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .retry_config(RetryConfig::disabled())
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
                            .operation_attempt_timeout(self.timeout)
                            .build(),
                    );
                if let Some(region) = &self.config.region {
                    loader = loader.region(Region::new(region.clone()));
                }
                if let Some(profile) = &self.config.profile {
                    loader = loader.profile_name(profile);
                }
                if let Some(url) = &self.config.endpoint_url {
                    loader = loader.endpoint_url(url);
                }
                loader.load().await
            })
            .await
    }

    /// A role provider for `[aws.roles.<name>]`, cached and refreshed ahead of expiry.
    pub async fn role(&self, name: &str) -> Result<CachedCredentialProvider<AssumeRoleProvider>> {
        let options = RoleOptions::from_config(self.config.role(name)?)?;
        self.assume(options).await
    }

    /// A provider that assumes a role described in code, cached like [`Self::role`].
    pub async fn assume(
        &self,
        options: RoleOptions,
    ) -> Result<CachedCredentialProvider<AssumeRoleProvider>> {
        let provider = AssumeRoleProvider::new(self.sdk_config().await, options);
        provider.cached(self.cache.clone())
    }

    /// The SDK configuration that secrets are read with.
    pub(crate) async fn secrets_config(&self) -> Result<&(SdkConfig, Option<RoleCredentials>)> {
        self.secrets
            .get_or_try_init(|| async {
                let base = self.sdk_config().await.clone();
                match &self.config.role {
                    None => Ok((base, None)),
                    Some(name) => {
                        let provider: RoleCredentials = Arc::new(self.role(name).await?);
                        // No SDK identity cache in front of ours: invalidating ours
                        // after an ExpiredToken answer must reach the next request.
                        let config = base
                            .into_builder()
                            .identity_cache(IdentityCache::no_cache())
                            .credentials_provider(SharedCredentialsProvider::new(
                                SdkCredentials::new(Arc::clone(&provider)),
                            ))
                            .build();
                        Ok((config, Some(provider)))
                    }
                }
            })
            .await
    }

    /// Forgets role credentials that a server called expired, so the retry gets new ones.
    pub(crate) async fn invalidate_credentials(&self) {
        if let Some((_, Some(provider))) = self.secrets.get() {
            provider.invalidate();
        }
    }
}
