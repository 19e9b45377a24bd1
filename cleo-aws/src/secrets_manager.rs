//! `aws-sm://<name-or-arn>[?stage=AWSCURRENT|version-id=..][#key]`: Secrets Manager.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use cleo_core::json::extract_field;
use cleo_core::{
    Error, ErrorKind, Result, Secret, SecretMeta, SecretRef, SecretSource, Zeroizing, async_trait,
};
use tokio::sync::OnceCell;

use crate::error::{BACKEND, is_expired_token, map_sdk_error};
use crate::sdk::AwsContext;

/// The scheme.
pub const SCHEME: &str = "aws-sm";
const DEFAULT_STAGE: &str = "AWSCURRENT";

/// Reads Secrets Manager secrets; a refresh checks the version with `DescribeSecret`
/// and fetches the value again only when the stage points at a new version.
#[derive(Debug)]
pub struct SecretsManagerSource {
    ctx: Arc<AwsContext>,
    client: OnceCell<aws_sdk_secretsmanager::Client>,
    calls: Calls,
}

/// How many calls of each kind a source made: what a refresh saved shows here.
#[derive(Debug, Default)]
pub struct Calls {
    get_secret_value: AtomicU64,
    describe_secret: AtomicU64,
}

impl SecretsManagerSource {
    /// A source on the shared AWS context.
    pub fn new(ctx: Arc<AwsContext>) -> Self {
        SecretsManagerSource {
            ctx,
            client: OnceCell::new(),
            calls: Calls::default(),
        }
    }

    /// `(GetSecretValue, DescribeSecret)` calls made so far.
    pub fn calls(&self) -> (u64, u64) {
        (
            self.calls.get_secret_value.load(Ordering::Relaxed),
            self.calls.describe_secret.load(Ordering::Relaxed),
        )
    }

    async fn client(&self) -> Result<&aws_sdk_secretsmanager::Client> {
        self.client
            .get_or_try_init(|| async {
                let (config, _) = self.ctx.secrets_config().await?;
                Ok(aws_sdk_secretsmanager::Client::new(config))
            })
            .await
    }

    /// One call, retried once with new role credentials if AWS says the token expired.
    async fn with_fresh_token<T, F, Fut>(&self, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        match call().await {
            Err(e) if is_expired_token(&e) => {
                tracing::debug!("AWS said the session token expired; refreshing and retrying once");
                self.ctx.invalidate_credentials().await;
                call().await
            }
            other => other,
        }
    }

    async fn get_value(&self, reference: &SecretRef) -> Result<Secret> {
        let client = self.client().await?;
        let fetched_at = SystemTime::now();
        let out = self
            .with_fresh_token(|| async {
                self.calls.get_secret_value.fetch_add(1, Ordering::Relaxed);
                client
                    .get_secret_value()
                    .secret_id(reference.path())
                    .set_version_stage(reference.param("stage").map(str::to_owned))
                    .set_version_id(reference.param("version-id").map(str::to_owned))
                    .send()
                    .await
                    .map_err(|e| map_sdk_error("GetSecretValue", e))
            })
            .await?;
        let whole: Zeroizing<Vec<u8>> = match (out.secret_string(), out.secret_binary()) {
            (Some(s), _) => Zeroizing::new(s.as_bytes().to_vec()),
            (None, Some(b)) => Zeroizing::new(b.as_ref().to_vec()),
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    "this version of the secret has no value",
                )
                .with_hint("a rotation may have created AWSPENDING without finishing; check the secret's stages"));
            }
        };
        let value = match reference.field() {
            None => whole,
            Some(field) => extract_field(&whole, field)?,
        };
        let mut meta = SecretMeta::new(reference.as_str(), BACKEND, fetched_at);
        if let Some(v) = out.version_id() {
            meta = meta.with_version(v);
        }
        Ok(Secret::new(value, meta))
    }

    /// The version id the reference's stage points at now.
    async fn current_version(&self, reference: &SecretRef) -> Result<Option<String>> {
        let client = self.client().await?;
        let stage = reference.param("stage").unwrap_or(DEFAULT_STAGE);
        let out = self
            .with_fresh_token(|| async {
                self.calls.describe_secret.fetch_add(1, Ordering::Relaxed);
                client
                    .describe_secret()
                    .secret_id(reference.path())
                    .send()
                    .await
                    .map_err(|e| map_sdk_error("DescribeSecret", e))
            })
            .await?;
        Ok(out.version_ids_to_stages().and_then(|m| {
            m.iter()
                .find(|(_, stages)| stages.iter().any(|s| s == stage))
                .map(|(v, _)| v.clone())
        }))
    }
}

fn context(e: Error, reference: &SecretRef) -> Error {
    e.or_reference(reference.as_str()).with_backend(BACKEND)
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn schemes(&self) -> &'static [&'static str] {
        &[SCHEME]
    }

    async fn fetch(&self, reference: &SecretRef) -> Result<Secret> {
        reference.only_params(&["stage", "version-id"])?;
        self.get_value(reference)
            .await
            .map_err(|e| context(e, reference))
    }

    async fn refresh(&self, reference: &SecretRef, previous: &Secret) -> Result<Secret> {
        let unchanged = if reference.param("version-id").is_some() {
            // A pinned version never changes.
            true
        } else {
            let now = self
                .current_version(reference)
                .await
                .map_err(|e| context(e, reference))?;
            now.is_some() && now.as_deref() == previous.meta().version.as_deref()
        };
        if unchanged {
            tracing::debug!(reference = %reference, "version unchanged; value kept");
            let meta = SecretMeta::new(reference.as_str(), BACKEND, SystemTime::now());
            let meta = match &previous.meta().version {
                Some(v) => meta.with_version(v.clone()),
                None => meta,
            };
            return Ok(Secret::new(
                Zeroizing::new(previous.expose_secret().to_vec()),
                meta,
            ));
        }
        self.fetch(reference).await
    }
}
