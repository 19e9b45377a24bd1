//! A batch token cannot be renewed: cleo replaces it by logging in, and never sends
//! renew-self. Alone in its test binary, so the TRACE capture is this test's only.

use std::time::{Duration, Instant};

use cleo_core::{SecretRef, SecretSource};
use cleo_testkit::{VaultAdmin, capture_logs, unique};
use cleo_vault::{AuthConfig, VaultConfig, VaultSettings, VaultSource};
use serde_json::json;

#[tokio::test]
async fn batch_tokens_are_replaced_by_logins_and_never_renewed() {
    let logs = capture_logs();
    let admin = VaultAdmin::new();
    let path = unique("batch");
    admin
        .put_kv2("secret", &path, json!({"k": "batch-ok"}))
        .await;
    let policy = admin.read_policy(&path).await;
    let cleo_testkit::AppRole {
        mount,
        role_id,
        secret_id,
    } = admin
        .approle(json!({"token_policies": [policy], "token_ttl": "3s", "token_type": "batch"}))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = cleo_testkit::private_file(dir.path(), &secret_id);
    let settings = VaultSettings::resolve(&VaultConfig {
        address: Some(admin.addr().to_owned()),
        auth: Some(AuthConfig::Approle {
            mount: mount.clone(),
            role_id,
            secret_id: format!("file://{}", file.display()),
        }),
        ..Default::default()
    })
    .unwrap();
    let src = VaultSource::new(settings).unwrap();
    let reference = SecretRef::parse(&format!("vault://secret/{path}#k")).unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(7) {
        assert_eq!(
            src.fetch(&reference).await.unwrap().expose_secret(),
            b"batch-ok"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = logs.text();
    let logins = text.matches(&format!("/v1/auth/{mount}/login")).count();
    assert!(
        logins >= 2,
        "the 3 s batch token should have been replaced: {logins} logins"
    );
    assert_eq!(
        text.matches("renew-self").count(),
        0,
        "a batch token was sent to renew-self"
    );
}
