//! `aws-ssm://<name>` and `aws-ssm:///<name>[?version=N][#key]`: Parameter Store,
//! SecureString parameters decrypted.

use std::sync::Arc;
use std::time::SystemTime;

use cleo_core::json::extract_field;
use cleo_core::{Result, Secret, SecretMeta, SecretRef, SecretSource, Zeroizing, async_trait};
use tokio::sync::OnceCell;

use crate::error::{BACKEND, is_expired_token, map_sdk_error};
use crate::sdk::AwsContext;

/// The scheme.
pub const SCHEME: &str = "aws-ssm";

/// Reads Parameter Store parameters.
#[derive(Debug)]
pub struct ParameterStoreSource {
    ctx: Arc<AwsContext>,
    client: OnceCell<aws_sdk_ssm::Client>,
}

impl ParameterStoreSource {
    /// A source on the shared AWS context.
    pub fn new(ctx: Arc<AwsContext>) -> Self {
        ParameterStoreSource {
            ctx,
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<&aws_sdk_ssm::Client> {
        self.client
            .get_or_try_init(|| async {
                let (config, _) = self.ctx.secrets_config().await?;
                Ok(aws_sdk_ssm::Client::new(config))
            })
            .await
    }

    async fn get(&self, reference: &SecretRef) -> Result<Secret> {
        let client = self.client().await?;
        // `name:N` is Parameter Store's own selector for a version.
        let name = match reference.param("version") {
            Some(v) => format!("{}:{v}", reference.path()),
            None => reference.path().to_owned(),
        };
        let fetched_at = SystemTime::now();
        let call = || async {
            client
                .get_parameter()
                .name(&name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| map_sdk_error("GetParameter", e))
        };
        let out = match call().await {
            Err(e) if is_expired_token(&e) => {
                self.ctx.invalidate_credentials().await;
                call().await?
            }
            other => other?,
        };
        let p = out.parameter();
        let whole = Zeroizing::new(
            p.and_then(|p| p.value())
                .unwrap_or_default()
                .as_bytes()
                .to_vec(),
        );
        let value = match reference.field() {
            None => whole,
            Some(field) => extract_field(&whole, field)?,
        };
        let mut meta = SecretMeta::new(reference.as_str(), BACKEND, fetched_at);
        if let Some(p) = p {
            meta = meta.with_version(p.version().to_string());
        }
        Ok(Secret::new(value, meta))
    }
}

#[async_trait]
impl SecretSource for ParameterStoreSource {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn schemes(&self) -> &'static [&'static str] {
        &[SCHEME]
    }

    async fn fetch(&self, reference: &SecretRef) -> Result<Secret> {
        reference.only_params(&["version"])?;
        self.get(reference)
            .await
            .map_err(|e| e.or_reference(reference.as_str()).with_backend(BACKEND))
    }
}
