//! A refused login is tried once per read, not once more as a "re-login": repeated
//! failed AppRole logins can lock the role out for everyone. Alone in its binary so
//! the TRACE capture counts only its requests.

use cleo_core::{ErrorKind, SecretRef, SecretSource};
use cleo_testkit::{VaultAdmin, capture_logs};
use cleo_vault::{AuthConfig, VaultConfig, VaultSettings, VaultSource};
use serde_json::json;

#[tokio::test]
async fn a_refused_login_is_one_request() {
    let logs = capture_logs();
    let admin = VaultAdmin::new();
    let role = admin.approle(json!({"token_ttl": "10m"})).await;
    let (mount, role_id) = (role.mount, role.role_id);
    let dir = tempfile::tempdir().unwrap();
    let file = cleo_testkit::private_file(dir.path(), "not-the-secret-id");
    let src = VaultSource::new(
        VaultSettings::resolve(&VaultConfig {
            address: Some(admin.addr().to_owned()),
            auth: Some(AuthConfig::Approle {
                mount: mount.clone(),
                role_id,
                secret_id: format!("file://{}", file.display()),
            }),
            ..Default::default()
        })
        .unwrap(),
    )
    .unwrap();
    let e = src
        .fetch(&SecretRef::parse("vault://secret/app#k").unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert!(
        e.to_string().contains("locked"),
        "the hint should mention lockout: {e}"
    );
    let logins = logs
        .text()
        .matches(&format!("/v1/auth/{mount}/login"))
        .count();
    assert_eq!(
        logins, 1,
        "a refused login must not be retried within one read"
    );
}
