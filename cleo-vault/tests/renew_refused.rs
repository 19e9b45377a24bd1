//! A token revoked behind cleo's back: the next background renewal is refused (403)
//! and cleo logs in again instead of retrying the renewal. Alone in its test binary
//! so the TRACE capture counts only its requests.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use cleo_core::{SecretRef, SecretSource};
use cleo_testkit::{VaultAdmin, capture_logs, unique};
use cleo_vault::{AuthConfig, VaultConfig, VaultSettings, VaultSource};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_renewal_leads_to_a_new_login_not_a_retry() {
    let logs = capture_logs();
    let admin = VaultAdmin::new();
    let path = unique("renew403");
    admin.put_kv2("secret", &path, json!({"k": "ok"})).await;
    let policy = unique("p");
    admin
        .call(
            "PUT",
            &format!("sys/policies/acl/{policy}"),
            Some(json!({"policy": format!("path \"secret/data/{path}\" {{ capabilities = [\"read\"] }}")})),
        )
        .await;
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
            Some(json!({"token_policies": [policy], "token_ttl": "4s", "token_max_ttl": "1h"})),
        )
        .await;
    let role_id = admin
        .call("GET", &format!("auth/{mount}/role/ci/role-id"), None)
        .await["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret_id = admin
        .call("POST", &format!("auth/{mount}/role/ci/secret-id"), None)
        .await["data"]["secret_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sid");
    std::fs::write(&file, &secret_id).unwrap();
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
    let reference = SecretRef::parse(&format!("vault://secret/{path}#k")).unwrap();
    src.fetch(&reference).await.unwrap();
    let first = src.token().await.unwrap();
    admin
        .call(
            "POST",
            "auth/token/revoke-accessor",
            Some(json!({"accessor": first.accessor().unwrap()})),
        )
        .await;
    // Past the refresh point (2 s into a 4 s token): the renewal is refused, a new
    // login follows, and reads keep working.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    for _ in 0..10 {
        let _ = src.token().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(src.fetch(&reference).await.unwrap().expose_secret(), b"ok");
    let now = src.token().await.unwrap();
    assert_ne!(now.accessor(), first.accessor(), "still the revoked token");
    let text = logs.text();
    let renewals = text.matches("/v1/auth/token/renew-self").count();
    let logins = text.matches(&format!("/v1/auth/{mount}/login")).count();
    assert_eq!(
        renewals, 1,
        "a refused renewal must not be retried ({renewals} tries)"
    );
    assert_eq!(
        logins, 2,
        "one login at start, one after the refusal ({logins})"
    );
}
