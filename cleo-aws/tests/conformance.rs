//! The conformance suite against a real moto: `aws-sm://` and `aws-ssm://`.

mod common;

use std::sync::Arc;

use aws_smithy_types::Blob;
use cleo_aws::{ParameterStoreSource, SecretsManagerSource};
use cleo_core::{SecretSource, async_trait};
use cleo_testkit::conformance::{Fixture, run_all};
use cleo_testkit::unique;

struct SecretsManager;

#[async_trait]
impl Fixture for SecretsManager {
    fn source(&self) -> Arc<dyn SecretSource> {
        Arc::new(SecretsManagerSource::new(common::context()))
    }

    async fn put(&self, value: &[u8]) -> String {
        let name = unique("conf");
        let req = common::sm().create_secret().name(&name);
        let req = match std::str::from_utf8(value) {
            Ok(text) => req.secret_string(text),
            Err(_) => req.secret_binary(Blob::new(value)),
        };
        req.send().await.expect("create_secret");
        format!("aws-sm://{name}")
    }

    fn binary(&self) -> bool {
        true
    }

    fn allows_empty(&self) -> bool {
        // An empty SecretString is stored as "no value" (moto answers NotFound for it).
        false
    }

    fn max_value_len(&self) -> Option<usize> {
        Some(65_536)
    }

    fn missing(&self) -> String {
        format!("aws-sm://{}", unique("absent"))
    }

    async fn put_fields(&self, fields: &[(&str, &str)]) -> Option<String> {
        let name = unique("fields");
        let obj: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect();
        common::sm()
            .create_secret()
            .name(&name)
            .secret_string(serde_json::Value::Object(obj).to_string())
            .send()
            .await
            .expect("create_secret");
        Some(format!("aws-sm://{name}"))
    }

    async fn put_versions(&self, first: &str, second: &str) -> Option<(String, String)> {
        let name = unique("versions");
        let sm = common::sm();
        let v1 = sm
            .create_secret()
            .name(&name)
            .secret_string(first)
            .send()
            .await
            .expect("create_secret");
        sm.put_secret_value()
            .secret_id(&name)
            .secret_string(second)
            .send()
            .await
            .expect("put_secret_value");
        Some((
            format!("aws-sm://{name}?version-id={}", v1.version_id().unwrap()),
            format!("aws-sm://{name}"),
        ))
    }
}

struct ParameterStore;

#[async_trait]
impl Fixture for ParameterStore {
    fn source(&self) -> Arc<dyn SecretSource> {
        Arc::new(ParameterStoreSource::new(common::context()))
    }

    async fn put(&self, value: &[u8]) -> String {
        let name = format!("/cleo-test/{}", unique("conf"));
        common::ssm()
            .put_parameter()
            .name(&name)
            .value(std::str::from_utf8(value).expect("Parameter Store holds text"))
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("put_parameter");
        format!("aws-ssm://{name}")
    }

    fn binary(&self) -> bool {
        false
    }

    fn allows_empty(&self) -> bool {
        false
    }

    fn max_value_len(&self) -> Option<usize> {
        // The advanced tier's limit; moto accepts it on the standard tier.
        Some(8192)
    }

    fn missing(&self) -> String {
        format!("aws-ssm:///cleo-test/{}", unique("absent"))
    }

    async fn put_fields(&self, fields: &[(&str, &str)]) -> Option<String> {
        let obj: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect();
        let text = serde_json::Value::Object(obj).to_string();
        Some(self.put(text.as_bytes()).await)
    }

    async fn put_versions(&self, first: &str, second: &str) -> Option<(String, String)> {
        let name = format!("/cleo-test/{}", unique("versions"));
        let ssm = common::ssm();
        for (value, overwrite) in [(first, false), (second, true)] {
            ssm.put_parameter()
                .name(&name)
                .value(value)
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .overwrite(overwrite)
                .send()
                .await
                .expect("put_parameter");
        }
        Some((
            format!("aws-ssm://{name}?version=1"),
            format!("aws-ssm://{name}"),
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_conforms() {
    run_all(&SecretsManager).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_store_conforms() {
    run_all(&ParameterStore).await;
}
