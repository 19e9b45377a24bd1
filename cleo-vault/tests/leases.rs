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

/// An outage longer than the refresh margin: the value keeps being served until its
/// real expiry (never beyond), and after that reads fail with a temporary error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_an_outage_values_are_served_until_they_expire_and_no_longer() {
    let server = DevServer::start(&[]).await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/v1/secret/data/app", server.addr))
        .header("X-Vault-Token", &server.token)
        .json(&json!({"data": {"k": "still-valid"}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let settings = VaultSettings::resolve(&VaultConfig {
        address: Some(server.addr.clone()),
        timeout: Some("1s".into()),
        ..Default::default()
    })
    .unwrap();
    let auth = Arc::new(StaticTokenProvider::new(
        SecretString::from(server.token.clone()),
        "test",
    ));
    let mut registry = Registry::new();
    registry.register(Arc::new(VaultSource::with_auth(settings, auth).unwrap()));
    // A 3 s TTL: refresh from 1.5 s, hard expiry at 3 s.
    let config = Config::parse("[cache]\ndefault_ttl = \"3s\"\nrefresh_buffer = \"1s\"\nrefresh_jitter = \"0s\"\nbackoff_max = \"2s\"\n").unwrap();
    let client = Client::new(config, registry).unwrap();
    let first = client.get("vault://secret/app#k").await.unwrap();
    let expires = client
        .cache_state("vault://secret/app#k")
        .unwrap()
        .expires_at;
    drop(server); // the outage starts
    let mut served_after_outage = 0;
    let mut failed = None;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(6) {
        match client.get("vault://secret/app#k").await {
            Ok(s) => {
                assert!(
                    std::time::SystemTime::now() < expires + Duration::from_millis(50),
                    "served past its expiry"
                );
                assert_eq!(s.expose_secret(), first.expose_secret());
                served_after_outage += 1;
            }
            Err(e) => {
                assert!(
                    std::time::SystemTime::now() >= expires,
                    "failed while the value was still valid: {e}"
                );
                assert!(e.is_temporary(), "{e}");
                failed = Some(e);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        served_after_outage > 5,
        "the cached value was not served during the outage"
    );
    assert!(failed.is_some(), "reads after the hard expiry must fail");
}
