//! Micro-benchmarks of the in-process parts of a read: parsing a reference,
//! resolving a logical name, and cloning and exposing a `Secret`.
//!
//! `cargo bench -p cleo-benches --bench reference`

use std::hint::black_box;
use std::time::SystemTime;

use cleo_core::{Client, Config, Registry, Secret, SecretMeta, SecretRef, Zeroizing};
use criterion::{Criterion, criterion_group, criterion_main};

fn parse(c: &mut Criterion) {
    c.bench_function("parse vault reference", |b| {
        b.iter(|| SecretRef::parse(black_box("vault://secret/mlflow?version=3#api_token")).unwrap())
    });
    let config =
        Config::parse("[secrets]\n\"mlflow/api_token\" = \"vault://secret/mlflow#api_token\"\n")
            .unwrap();
    let client = Client::new(config, Registry::with_builtin()).unwrap();
    c.bench_function("resolve logical name", |b| {
        b.iter(|| client.resolve(black_box("mlflow/api_token")).unwrap())
    });
}

fn secret(c: &mut Criterion) {
    let s = Secret::new(
        Zeroizing::new(vec![7u8; 40]),
        SecretMeta::new(
            "vault://secret/mlflow#api_token",
            "vault",
            SystemTime::now(),
        ),
    );
    c.bench_function("clone and expose a Secret", |b| {
        b.iter(|| {
            let c = black_box(&s).clone();
            black_box(c.expose_secret().len())
        })
    });
}

criterion_group!(benches, parse, secret);
criterion_main!(benches);
