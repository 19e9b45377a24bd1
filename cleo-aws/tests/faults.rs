//! Faults a real moto cannot produce on demand, from a small fake in front of it or
//! in its place: an expired session token (refreshed and retried once), throttling,
//! a disabled KMS key, a 503, a body that is not JSON, a hang, nothing listening,
//! and no credentials at all. Each gets a typed error that says what to do.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use cleo_aws::{AwsConfig, AwsContext, SecretsManagerSource};
use cleo_core::{CacheSettings, Config, ErrorKind, SecretRef, SecretSource};
use cleo_testkit::fake_http::{Reply, Request, forward, serve};
use cleo_testkit::moto::{moto, sdk_config};
use cleo_testkit::unique;

fn r(s: &str) -> SecretRef {
    SecretRef::parse(s).unwrap()
}

fn target(req: &Request) -> &str {
    req.header("x-amz-target").unwrap_or("")
}

fn source_on(endpoint: &str, config: AwsConfig) -> SecretsManagerSource {
    let ctx = AwsContext::with_sdk_config(config, CacheSettings::default(), sdk_config(endpoint));
    SecretsManagerSource::new(Arc::new(ctx.unwrap()))
}

#[tokio::test]
async fn an_expired_session_is_refreshed_and_the_call_retried_once() {
    let name = unique("expired");
    common::sm()
        .create_secret()
        .name(&name)
        .secret_string("canary-after-refresh")
        .send()
        .await
        .unwrap();
    let assumed = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let (a, f) = (Arc::clone(&assumed), Arc::clone(&refused));
    let upstream = moto();
    let proxy = serve(move |req| {
        let (a, f, upstream) = (Arc::clone(&a), Arc::clone(&f), upstream.clone());
        async move {
            if String::from_utf8_lossy(&req.body).contains("Action=AssumeRole") {
                a.fetch_add(1, Ordering::SeqCst);
            }
            if target(&req).ends_with("GetSecretValue") && f.fetch_add(1, Ordering::SeqCst) == 0 {
                return Reply::aws_json_error(
                    400,
                    "ExpiredTokenException",
                    "The security token included in the request is expired",
                );
            }
            forward(&upstream, req).await
        }
    })
    .await;
    let config: AwsConfig = Config::parse(
        r#"
        [aws]
        role = "reader"
        [aws.roles.reader]
        role_arn = "arn:aws:iam::123456789012:role/secrets-reader"
        "#,
    )
    .unwrap()
    .section("aws")
    .unwrap();
    let src = source_on(&proxy, config);
    let s = src.fetch(&r(&format!("aws-sm://{name}"))).await.unwrap();
    assert_eq!(s.expose_secret(), b"canary-after-refresh");
    assert_eq!(
        refused.load(Ordering::SeqCst),
        2,
        "refused once, retried once"
    );
    assert_eq!(
        assumed.load(Ordering::SeqCst),
        2,
        "a new session for the retry"
    );
}

#[tokio::test]
async fn server_answers_map_to_kinds_with_hints() {
    let fake = serve(|req: Request| async move {
        let body = String::from_utf8_lossy(&req.body).into_owned();
        if body.contains("throttle") {
            Reply::aws_json_error(400, "ThrottlingException", "Rate exceeded")
        } else if body.contains("kms") {
            Reply::aws_json_error(
                400,
                "DecryptionFailure",
                "The KMS key used to encrypt the secret is disabled",
            )
        } else if body.contains("denied") {
            Reply::aws_json_error(400, "AccessDeniedException", "not authorized")
        } else if body.contains("garbage") {
            Reply {
                status: 200,
                headers: vec![("content-type".into(), "application/x-amz-json-1.1".into())],
                body: b"<html>captive portal</html>".to_vec(),
            }
        } else {
            Reply {
                status: 503,
                headers: vec![],
                body: Vec::new(),
            }
        }
    })
    .await;
    let src = source_on(&fake, AwsConfig::default());
    let err = |name: &'static str| {
        let src = &src;
        async move {
            src.fetch(&r(&format!("aws-sm://{name}")))
                .await
                .unwrap_err()
        }
    };

    let e = err("throttle").await;
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert!(e.is_temporary());
    let e = err("kms").await;
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(
        !e.is_temporary(),
        "a disabled key does not heal by retrying: {e}"
    );
    assert!(e.hint().unwrap().contains("KMS"), "{e}");
    let e = err("denied").await;
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("aws-sm://denied"), "{e}");
    let e = err("garbage").await;
    assert!(e.is_temporary(), "{e}");
    assert!(
        matches!(e.kind(), ErrorKind::Unexpected | ErrorKind::Unavailable),
        "{e}"
    );
    let e = err("unavailable").await;
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_temporary());
}

#[tokio::test]
async fn a_hang_times_out_and_nothing_listening_is_unavailable() {
    let hang = serve(|_req: Request| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Reply {
            status: 200,
            headers: vec![],
            body: Vec::new(),
        }
    })
    .await;
    let sdk = sdk_config(&hang)
        .into_builder()
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(500))
                .build(),
        )
        .build();
    let ctx = AwsContext::with_sdk_config(AwsConfig::default(), CacheSettings::default(), sdk);
    let src = SecretsManagerSource::new(Arc::new(ctx.unwrap()));
    let started = std::time::Instant::now();
    let e = src.fetch(&r("aws-sm://slow")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_temporary());

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let src = source_on(&format!("http://127.0.0.1:{closed}"), AwsConfig::default());
    let e = src.fetch(&r("aws-sm://x")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_temporary());
    assert!(e.hint().unwrap().contains("endpoint"), "{e}");
}

#[tokio::test]
async fn no_credentials_says_how_to_give_some() {
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto())
        .build();
    let ctx = AwsContext::with_sdk_config(AwsConfig::default(), CacheSettings::default(), sdk);
    let src = SecretsManagerSource::new(Arc::new(ctx.unwrap()));
    let e = src.fetch(&r("aws-sm://anything")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert!(e.hint().unwrap().contains("AWS_PROFILE"), "{e}");
}
