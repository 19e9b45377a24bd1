//! A revoked token in a hot read loop costs about one round of requests a second,
//! not one per read. Alone in its test binary, so the TRACE capture counts only
//! this test's requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cleo_core::{ErrorKind, SecretRef, SecretSource};
use cleo_testkit::{VaultAdmin, capture_logs, unique};
use cleo_vault::{SecretString, StaticTokenProvider, VaultConfig, VaultSettings, VaultSource};
use serde_json::json;

#[tokio::test]
async fn a_revoked_token_does_not_become_a_request_storm() {
    let logs = capture_logs();
    let admin = VaultAdmin::new();
    let path = unique("storm");
    admin.put_kv2("secret", &path, json!({"k": "v"})).await;
    let token = admin
        .token_with_policy("path \"secret/*\" { capabilities = [\"read\"] }")
        .await;
    let settings = VaultSettings::resolve(&VaultConfig {
        address: Some(admin.addr().to_owned()),
        ..Default::default()
    })
    .unwrap();
    let src = VaultSource::with_auth(
        settings,
        Arc::new(StaticTokenProvider::new(
            SecretString::from(token.clone()),
            "test",
        )),
    )
    .unwrap();
    let reference = SecretRef::parse(&format!("vault://secret/{path}#k")).unwrap();
    src.fetch(&reference).await.unwrap();
    admin.revoke(&token).await;

    let requests_before = logs.text().matches("vault request").count();
    let started = Instant::now();
    let mut reads = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        let e = src.fetch(&reference).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
        reads += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let requests = logs.text().matches("vault request").count() - requests_before;
    assert!(reads > 100, "only {reads} reads");
    // Each rejection costs two requests (the read and one lookup-self); in 2.5 s that
    // is at most three rounds, whatever the number of reads.
    assert!(requests <= 6, "{requests} requests for {reads} reads");
}
