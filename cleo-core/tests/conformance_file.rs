//! The conformance suite against `file://`.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use cleo_core::sources::FileSource;
use cleo_core::{SecretSource, async_trait};
use cleo_testkit::conformance::{Fixture, run_all};
use cleo_testkit::unique;

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn write(&self, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(unique("secret"));
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }
}

#[async_trait]
impl Fixture for Files {
    fn source(&self) -> Arc<dyn SecretSource> {
        Arc::new(FileSource::new())
    }

    async fn put(&self, value: &[u8]) -> String {
        format!("file://{}", self.write(value).display())
    }

    fn binary(&self) -> bool {
        true
    }

    fn missing(&self) -> String {
        format!("file://{}/absent", self.dir.path().display())
    }

    async fn put_fields(&self, fields: &[(&str, &str)]) -> Option<String> {
        let obj: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        let path = self.write(serde_json::Value::Object(obj).to_string().as_bytes());
        Some(format!("file://{}", path.display()))
    }

    async fn put_versions(&self, _: &str, _: &str) -> Option<(String, String)> {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_source_conforms() {
    run_all(&Files {
        dir: tempfile::tempdir().unwrap(),
    })
    .await;
}
