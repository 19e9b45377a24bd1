//! Leased secrets against a real OpenBao (`-dev-leased-kv`): a renewable lease is
//! renewed in place ahead of expiry, and `Client::close` revokes it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cleo_core::{Client, Config, Registry};
use cleo_testkit::dev::DevServer;
use cleo_vault::{SecretString, StaticTokenProvider, VaultConfig, VaultSettings, VaultSource};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_are_renewed_in_place_and_revoked_on_close() {
    let server = DevServer::start(&["-dev-leased-kv"]).await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/v1/secret/db", server.addr))
        .header("X-Vault-Token", &server.token)
        .json(&json!({"password": "leased-value", "ttl": "4s"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let settings = VaultSettings::resolve(&VaultConfig {
        address: Some(server.addr.clone()),
        ..Default::default()
    })
    .unwrap();
    let auth = Arc::new(StaticTokenProvider::new(
        SecretString::from(server.token.clone()),
        "test",
    ));
    let mut registry = Registry::new();
    registry.register(Arc::new(VaultSource::with_auth(settings, auth).unwrap()));
    let client = Client::new(Config::default(), registry).unwrap();

    let mut leases: std::collections::BTreeMap<
        String,
        std::collections::BTreeSet<std::time::SystemTime>,
    > = Default::default();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(9) {
        let s = client.get("vault://secret/db#password").await.unwrap();
        assert_eq!(s.expose_secret(), b"leased-value");
        let lease = s.meta().lease.clone().expect("a leased secret");
        assert!(
            s.meta().expires_at.unwrap() > std::time::SystemTime::now(),
            "served past its lease"
        );
        leases
            .entry(lease.id)
            .or_default()
            .insert(s.meta().expires_at.unwrap());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The 4 s lease lived through 9 s of reads by being renewed, not replaced.
    assert_eq!(
        leases.len(),
        1,
        "the lease was replaced instead of renewed: {leases:?}"
    );
    let (lease_id, expiries) = leases.into_iter().next().unwrap();
    assert!(expiries.len() >= 2, "the lease was never renewed");

    client.close().await.unwrap();
    let lookup = http
        .put(format!("{}/v1/sys/leases/lookup", server.addr))
        .header("X-Vault-Token", &server.token)
        .json(&json!({ "lease_id": lease_id }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        lookup.status().as_u16(),
        400,
        "the lease should be revoked after close"
    );
}
