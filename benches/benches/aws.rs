//! A cold Secrets Manager read through cleo next to the same call made with the AWS
//! SDK directly (cleo's overhead on top of the SDK), and one STS AssumeRole.
//!
//! Needs the moto that `scripts/bench` starts (CLEO_TEST_AWS_ENDPOINT).

use std::sync::Arc;

use cleo_aws::{AssumeRoleProvider, AwsConfig, AwsContext, RoleOptions, SecretsManagerSource};
use cleo_core::{CacheSettings, CredentialProvider, SecretRef, SecretSource};
use cleo_testkit::moto::{moto, sdk_config};
use cleo_testkit::unique;
use criterion::{Criterion, criterion_group, criterion_main};

fn aws(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sdk = sdk_config(&moto());
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = unique("bench");
    rt.block_on(
        sm.create_secret()
            .name(&name)
            .secret_string("x".repeat(32))
            .send(),
    )
    .unwrap();
    let ctx =
        AwsContext::with_sdk_config(AwsConfig::default(), CacheSettings::default(), sdk.clone())
            .unwrap();
    let source = SecretsManagerSource::new(Arc::new(ctx));
    let reference = SecretRef::parse(&format!("aws-sm://{name}")).unwrap();
    rt.block_on(source.fetch(&reference)).unwrap();

    let mut group = c.benchmark_group("cold read from local moto");
    group.bench_function("aws-sdk GetSecretValue", |b| {
        b.iter(|| {
            let out = rt
                .block_on(sm.get_secret_value().secret_id(&name).send())
                .unwrap();
            assert_eq!(out.secret_string().unwrap().len(), 32);
        })
    });
    group.bench_function("cleo SecretsManagerSource::fetch (uncached)", |b| {
        b.iter(|| {
            let s = rt.block_on(source.fetch(&reference)).unwrap();
            assert_eq!(s.len(), 32);
        })
    });
    group.finish();

    let role = AssumeRoleProvider::new(
        &sdk,
        RoleOptions::new("arn:aws:iam::123456789012:role/bench").artifact_bucket("b"),
    );
    c.bench_function("STS AssumeRole on local moto (uncached)", |b| {
        b.iter(|| {
            let creds = rt.block_on(role.credential()).unwrap();
            assert!(creds.expiry().is_some());
        })
    });
}

criterion_group!(benches, aws);
criterion_main!(benches);
