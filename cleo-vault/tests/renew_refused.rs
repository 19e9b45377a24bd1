//! A token revoked behind cleo's back: the next background renewal is refused (403)
//! and cleo logs in again instead of retrying the renewal. Alone in its test binary
//! so the TRACE capture counts only its requests.

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
    let policy = admin.read_policy(&path).await;
    let cleo_testkit::AppRole {
        mount,
        role_id,
        secret_id,
    } = admin
        .approle(json!({"token_policies": [policy], "token_ttl": "4s", "token_max_ttl": "1h"}))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = cleo_testkit::private_file(dir.path(), &secret_id);
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
