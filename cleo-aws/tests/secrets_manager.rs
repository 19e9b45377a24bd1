//! Secrets Manager against a real moto: stages, versions, binary values, rotation
//! seen within the TTL (checked with DescribeSecret first), and errors.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_smithy_types::Blob;
use cleo_aws::SecretsManagerSource;
use cleo_core::{
    Cache, CacheSettings, CachedSource, Clock, ErrorKind, ManualClock, SecretRef, SecretSource,
};
use cleo_testkit::{assert_no_canary, capture_logs, unique};

fn r(s: &str) -> SecretRef {
    SecretRef::parse(s).unwrap()
}

async fn create(name: &str, value: &str) -> String {
    common::sm()
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned()
}

async fn rotate(name: &str, value: &str) -> String {
    common::sm()
        .put_secret_value()
        .secret_id(name)
        .secret_string(value)
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn stages_versions_fields_and_binary() {
    let src = SecretsManagerSource::new(common::context());
    let name = unique("stages");
    let v1 = create(&name, r#"{"user":"app","password":"canary-old-pw"}"#).await;
    let v2 = rotate(&name, r#"{"user":"app","password":"canary-new-pw"}"#).await;

    let current = src
        .fetch(&r(&format!("aws-sm://{name}#password")))
        .await
        .unwrap();
    assert_eq!(current.expose_secret(), b"canary-new-pw");
    assert_eq!(current.meta().version.as_deref(), Some(v2.as_str()));

    let previous = src
        .fetch(&r(&format!("aws-sm://{name}?stage=AWSPREVIOUS#password")))
        .await
        .unwrap();
    assert_eq!(previous.expose_secret(), b"canary-old-pw");
    let pinned = src
        .fetch(&r(&format!("aws-sm://{name}?version-id={v1}#password")))
        .await
        .unwrap();
    assert_eq!(pinned.meta().version.as_deref(), Some(v1.as_str()));

    // The ARN works as well as the name.
    let arn = common::sm()
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let by_arn = src
        .fetch(&r(&format!("aws-sm://{arn}#user")))
        .await
        .unwrap();
    assert_eq!(by_arn.expose_secret(), b"app");

    // Binary secrets come back as bytes.
    let bin = unique("bin");
    let bytes = [0u8, 0xff, 0x10, 0x80, b'c'];
    common::sm()
        .create_secret()
        .name(&bin)
        .secret_binary(Blob::new(bytes.as_slice()))
        .send()
        .await
        .unwrap();
    let got = src.fetch(&r(&format!("aws-sm://{bin}"))).await.unwrap();
    assert_eq!(got.expose_secret(), bytes.as_slice());
}

#[tokio::test]
async fn unknown_options_stage_and_secret_are_clear_errors() {
    let src = SecretsManagerSource::new(common::context());
    let name = unique("errs");
    create(&name, "canary-errs-value").await;

    let e = src
        .fetch(&r(&format!("aws-sm://{name}?stage=NOPE")))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains(&name), "{e}");

    let e = src
        .fetch(&r(&format!("aws-sm://{}", unique("missing"))))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(!e.is_temporary());
    assert!(e.hint().is_some());

    let e = src
        .fetch(&r(&format!("aws-sm://{name}#field")))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert!(!e.to_string().contains("canary"), "{e}");
}

/// Polls until `cond` holds (background refreshes run on the runtime).
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_checks_the_version_first_and_sees_a_rotation_within_the_ttl() {
    let logs = capture_logs();
    let clock = ManualClock::new(SystemTime::now());
    let settings = CacheSettings {
        default_ttl: Duration::from_secs(300),
        refresh_jitter: Duration::ZERO,
        ..CacheSettings::default()
    };
    let source = Arc::new(SecretsManagerSource::new(common::context()));
    let cache = Cache::with_clock(settings, Arc::new(clock.clone()) as Arc<dyn Clock>).unwrap();
    let cached = CachedSource::new(Arc::clone(&source) as Arc<dyn SecretSource>, cache);

    let name = unique("rotating");
    let reference = format!("aws-sm://{name}");
    let v1 = create(&name, "canary-rot-1").await;
    let s = cached.fetch(&r(&reference)).await.unwrap();
    assert_eq!(s.expose_secret(), b"canary-rot-1");
    assert_eq!(source.calls(), (1, 0));

    // Due for refresh (lead = max(60 s, 300 s / 3) = 100 s), version unchanged:
    // one DescribeSecret, no second GetSecretValue, and the value lives on.
    clock.advance(Duration::from_secs(210));
    let s = cached.fetch(&r(&reference)).await.unwrap();
    assert_eq!(s.expose_secret(), b"canary-rot-1");
    eventually("the background refresh", || source.calls() == (1, 1)).await;
    eventually("the refresh to land", || {
        !cached.cache().state(&reference).unwrap().refreshing
    })
    .await;
    let state = cached.cache().state(&reference).unwrap();
    assert!(
        state.expires_at > clock.now() + Duration::from_secs(250),
        "{state:?}"
    );
    assert_eq!(
        cached
            .fetch(&r(&reference))
            .await
            .unwrap()
            .meta()
            .version
            .as_deref(),
        Some(v1.as_str())
    );

    // Rotation: a new AWSCURRENT is picked up at the next refresh, within the TTL.
    let v2 = rotate(&name, "canary-rot-2").await;
    clock.advance(Duration::from_secs(210));
    let _ = cached.fetch(&r(&reference)).await.unwrap();
    eventually("the refresh after rotation", || source.calls() == (2, 2)).await;
    eventually("the new value", || {
        cached
            .cache()
            .get_cached(&reference)
            .is_some_and(|s| s.expose_secret() == b"canary-rot-2")
    })
    .await;
    let s = cached.fetch(&r(&reference)).await.unwrap();
    assert_eq!(s.meta().version.as_deref(), Some(v2.as_str()));
    assert_no_canary(
        "TRACE logs",
        &logs.text(),
        &["canary-rot-1", "canary-rot-2"],
    );
}
