//! A refused login is tried once per read, not once more as a "re-login": repeated
//! failed AppRole logins can lock the role out for everyone. Alone in its binary so
//! the TRACE capture counts only its requests.

use std::os::unix::fs::PermissionsExt;

use cleo_core::{ErrorKind, SecretRef, SecretSource};
use cleo_testkit::{VaultAdmin, capture_logs, unique};
use cleo_vault::{AuthConfig, VaultConfig, VaultSettings, VaultSource};
use serde_json::json;

#[tokio::test]
async fn a_refused_login_is_one_request() {
    let logs = capture_logs();
    let admin = VaultAdmin::new();
    let mount = unique("approle");
    admin
        .call(
            "POST",
            &format!("sys/auth/{mount}"),
            Some(json!({"type": "approle"})),
        )
        .await;
    admin
        .call(
            "POST",
            &format!("auth/{mount}/role/ci"),
            Some(json!({"token_ttl": "10m"})),
        )
        .await;
    let role_id = admin
        .call("GET", &format!("auth/{mount}/role/ci/role-id"), None)
        .await["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sid");
    std::fs::write(&file, "not-the-secret-id").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
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
