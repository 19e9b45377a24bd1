//! The conformance suite against a real OpenBao (KV v2 mount `secret/`).

use std::sync::Arc;

use cleo_core::{SecretSource, async_trait};
use cleo_testkit::conformance::{Fixture, run_all};
use cleo_testkit::{VaultAdmin, unique};
use cleo_vault::{SecretString, StaticTokenProvider, VaultConfig, VaultSettings, VaultSource};
use serde_json::json;

struct Bao {
    admin: VaultAdmin,
}

#[async_trait]
impl Fixture for Bao {
    fn source(&self) -> Arc<dyn SecretSource> {
        let settings = VaultSettings::resolve(&VaultConfig {
            address: Some(self.admin.addr().to_owned()),
            ..Default::default()
        })
        .unwrap();
        let auth = Arc::new(StaticTokenProvider::new(
            SecretString::from(self.admin.root_token().to_owned()),
            "test",
        ));
        Arc::new(VaultSource::with_auth(settings, auth).unwrap())
    }

    async fn put(&self, value: &[u8]) -> String {
        let path = unique("conf");
        let text = std::str::from_utf8(value).expect("Vault KV holds text");
        self.admin
            .put_kv2("secret", &path, json!({ "value": text }))
            .await;
        format!("vault://secret/{path}#value")
    }

    fn binary(&self) -> bool {
        false
    }

    fn missing(&self) -> String {
        format!("vault://secret/{}#value", unique("absent"))
    }

    async fn put_fields(&self, fields: &[(&str, &str)]) -> Option<String> {
        let path = unique("fields");
        let obj: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        self.admin
            .put_kv2("secret", &path, serde_json::Value::Object(obj))
            .await;
        Some(format!("vault://secret/{path}"))
    }

    async fn put_versions(&self, first: &str, second: &str) -> Option<(String, String)> {
        let path = unique("versions");
        let v1 = self
            .admin
            .put_kv2("secret", &path, json!({ "value": first }))
            .await;
        self.admin
            .put_kv2("secret", &path, json!({ "value": second }))
            .await;
        Some((
            format!("vault://secret/{path}?version={v1}#value"),
            format!("vault://secret/{path}#value"),
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_source_conforms() {
    run_all(&Bao {
        admin: VaultAdmin::new(),
    })
    .await;
}
