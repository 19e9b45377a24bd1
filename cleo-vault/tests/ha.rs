//! Failover: a client configured with the three nodes of a real OpenBao raft cluster
//! keeps reading while the leader is killed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cleo_core::{ErrorKind, SecretRef, SecretSource};
use cleo_testkit::cluster::BaoCluster;
use cleo_testkit::unique;
use cleo_vault::{SecretString, StaticTokenProvider, VaultConfig, VaultSettings, VaultSource};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_survive_the_leader_being_killed() {
    let mut cluster = BaoCluster::start().await;
    let leader = cluster.wait_leader(Duration::from_secs(10)).await;
    let path = unique("ha");
    let (status, body) = cluster
        .raw(
            "POST",
            leader,
            &format!("secret/data/{path}"),
            Some(json!({"data": {"k": "v-ha"}})),
        )
        .await;
    assert!(status < 300, "{status} {body}");

    let settings = VaultSettings::resolve(&VaultConfig {
        addresses: cluster.addrs(),
        timeout: Some(format!("{}s", TIMEOUT.as_secs())),
        ..Default::default()
    })
    .unwrap();
    let auth = Arc::new(StaticTokenProvider::new(
        SecretString::from(cluster.root_token.clone()),
        "test",
    ));
    let source = VaultSource::with_auth(settings, auth).unwrap();
    let reference = SecretRef::parse(&format!("vault://secret/{path}#k")).unwrap();
    assert_eq!(
        source.fetch(&reference).await.unwrap().expose_secret(),
        b"v-ha"
    );

    // Read every 100 ms; after one second, kill the leader; keep reading.
    let started = Instant::now();
    let mut killed_at = None;
    let mut outcomes = Vec::new();
    while started.elapsed() < Duration::from_secs(12) {
        if killed_at.is_none() && started.elapsed() > Duration::from_secs(1) {
            cluster.kill(leader);
            killed_at = Some(Instant::now());
        }
        let t = Instant::now();
        let result = source.fetch(&reference).await;
        let took = t.elapsed();
        // No request hangs past its timeout (one per node at the very worst).
        assert!(
            took < TIMEOUT * 3 + Duration::from_secs(1),
            "a read took {took:?}"
        );
        if let Err(e) = &result {
            assert!(
                matches!(e.kind(), ErrorKind::Unavailable),
                "failures during failover must be temporary Unavailable errors: {e}"
            );
        }
        outcomes.push((t, result.map(|s| s.expose_secret().to_vec())));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed_at = killed_at.unwrap();
    let first_ok_after = outcomes
        .iter()
        .find(|(t, r)| *t > killed_at && r.is_ok())
        .map(|(t, _)| t.duration_since(killed_at))
        .expect("no successful read after the leader was killed");
    assert!(
        first_ok_after < Duration::from_secs(8),
        "reads resumed only after {first_ok_after:?}"
    );
    // Reads keep succeeding once the new leader is elected.
    let tail: Vec<_> = outcomes.iter().rev().take(10).collect();
    assert!(
        tail.iter().all(|(_, r)| matches!(r, Ok(v) if v == b"v-ha")),
        "the last reads failed"
    );
    let new_leader = cluster.wait_leader(Duration::from_secs(10)).await;
    assert_ne!(new_leader, leader);
}

#[test]
fn address_and_addresses_together_are_refused() {
    let e = VaultSettings::resolve(&VaultConfig {
        address: Some("http://127.0.0.1:1".into()),
        addresses: vec!["http://127.0.0.1:2".into()],
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
}
