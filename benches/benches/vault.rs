//! A cold read from a local OpenBao through cleo, next to a plain HTTP GET of the
//! same path with the same client library: cleo's overhead on a network read.
//!
//! Needs the OpenBao that `scripts/bench` starts (CLEO_TEST_VAULT_ADDR/TOKEN).

use std::sync::Arc;

use cleo_core::{SecretRef, SecretSource};
use cleo_testkit::{VaultAdmin, unique};
use cleo_vault::{SecretString, StaticTokenProvider, VaultConfig, VaultSettings, VaultSource};
use criterion::{Criterion, criterion_group, criterion_main};

fn cold_read(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let admin = VaultAdmin::new();
    let path = unique("bench");
    rt.block_on(admin.put_kv2(
        "secret",
        &path,
        serde_json::json!({"api_token": "x".repeat(32)}),
    ));
    let settings = VaultSettings::resolve(&VaultConfig {
        address: Some(admin.addr().to_owned()),
        ..Default::default()
    })
    .unwrap();
    let auth = Arc::new(StaticTokenProvider::new(
        SecretString::from(admin.root_token().to_owned()),
        "bench",
    ));
    let source = VaultSource::with_auth(settings, auth).unwrap();
    let reference = SecretRef::parse(&format!("vault://secret/{path}#api_token")).unwrap();
    // The first read learns the mount's KV version; every later read is one request.
    rt.block_on(source.fetch(&reference)).unwrap();

    let plain = reqwest::Client::new();
    let url = format!("{}/v1/secret/data/{path}", admin.addr());
    let token = admin.root_token().to_owned();

    let mut group = c.benchmark_group("cold read from local OpenBao");
    group.bench_function("plain reqwest GET + JSON parse", |b| {
        b.iter(|| {
            rt.block_on(async {
                let v: serde_json::Value = plain
                    .get(&url)
                    .header("X-Vault-Token", &token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert!(v["data"]["data"]["api_token"].is_string());
            })
        })
    });
    group.bench_function("cleo VaultSource::fetch (uncached)", |b| {
        b.iter(|| {
            let s = rt.block_on(source.fetch(&reference)).unwrap();
            assert_eq!(s.len(), 32);
        })
    });
    group.finish();
}

criterion_group!(benches, cold_read);
criterion_main!(benches);
