//! STS against a real moto: AssumeRole with every option, web identity from a file
//! and from a GitHub-Actions-style endpoint, refresh ahead of expiry on an injected
//! clock, and the credentials plugged into an SDK client.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::SharedCredentialsProvider;
use cleo_aws::{AssumeRoleProvider, AwsCredentials, IdTokenSource, RoleOptions, SdkCredentials};
use cleo_core::{
    Cache, CacheSettings, Clock, CredentialProvider, ErrorKind, ManualClock, Zeroizing,
};
use cleo_testkit::fake_http::{Reply, serve};
use cleo_testkit::{assert_no_canary, capture_logs, unique};

const ROLE: &str = "arn:aws:iam::123456789012:role/cleo-artifacts-ci";

/// Who STS says these credentials are.
async fn caller_arn(c: &AwsCredentials) -> String {
    let config = common::sdk()
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(c.sdk().clone()))
        .build();
    aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn assume_role_sends_every_option_and_gets_a_session() {
    let logs = capture_logs();
    let mfa_asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&mfa_asked);
    let options = RoleOptions::new(ROLE)
        .session_name("cleo-test-session")
        .duration(Duration::from_secs(900))
        .external_id("ext-123")
        .tag("team", "ml")
        .tag("job", "train")
        .artifact_bucket("acme-artifacts")
        .mfa(
            "arn:aws:iam::123456789012:mfa/alice",
            Arc::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(Zeroizing::new("123456".to_owned()))
            }),
        );
    let provider = AssumeRoleProvider::new(&common::sdk(), options);
    let before = SystemTime::now();
    let c = provider.credential().await.unwrap();
    assert_eq!(
        mfa_asked.load(Ordering::SeqCst),
        1,
        "one code per AssumeRole"
    );
    let expiry = c.expiry().unwrap();
    assert!(
        expiry > before + Duration::from_secs(800) && expiry < before + Duration::from_secs(1000),
        "the session lasts the 900 s asked: {expiry:?}"
    );
    assert!(
        caller_arn(&c)
            .await
            .ends_with(":assumed-role/cleo-artifacts-ci/cleo-test-session")
    );
    let debug = format!("{c:?} {provider:?}");
    let secret = c.secret_access_key().to_owned();
    let token = c.session_token().unwrap().to_owned();
    assert_no_canary("Debug", &debug, &[&secret, &token]);
    assert_no_canary("TRACE logs", &logs.text(), &[&secret, &token]);
}

#[tokio::test]
async fn web_identity_reads_the_token_file_at_every_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "header.payload.signature\n").unwrap();
    let source = IdTokenSource::ProjectedFile(path.clone());
    let provider = AssumeRoleProvider::new(
        &common::sdk(),
        RoleOptions::new(ROLE)
            .session_name("from-file")
            .web_identity(source),
    );
    let c = provider.credential().await.unwrap();
    assert!(
        caller_arn(&c)
            .await
            .ends_with("/cleo-artifacts-ci/from-file")
    );

    // The provider kept the source, not the token: the next login reads the file
    // again, so a rotated (here: removed) token is noticed.
    std::fs::remove_file(&path).unwrap();
    let e = provider.credential().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid, "{e}");
    assert!(
        e.to_string().contains("cannot read the identity token"),
        "{e}"
    );
    assert!(e.to_string().contains(ROLE), "{e}");
}

#[tokio::test]
async fn web_identity_from_the_github_actions_endpoint() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let log = Arc::clone(&seen);
    let url = serve(move |req| {
        let log = Arc::clone(&log);
        async move {
            log.lock().unwrap().push((
                req.target.clone(),
                req.header("authorization").unwrap_or("").to_owned(),
            ));
            Reply {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: br#"{"value":"gh.jwt.sig"}"#.to_vec(),
            }
        }
    })
    .await;
    let request_token = "canary-actions-request-token";
    let provider = AssumeRoleProvider::new(
        &common::sdk(),
        RoleOptions::new(ROLE)
            .session_name("gha-42")
            .web_identity(IdTokenSource::GithubActions {
                request_url: format!("{url}/token?api-version=2.0"),
                request_token: request_token.to_owned().into(),
                audience: cleo_aws::AWS_AUDIENCE.to_owned(),
            }),
    );
    let c = provider.credential().await.unwrap();
    assert!(caller_arn(&c).await.ends_with("/cleo-artifacts-ci/gha-42"));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].0.contains("audience=sts.amazonaws.com"), "{seen:?}");
    assert_eq!(seen[0].1, format!("Bearer {request_token}"));
    assert!(!format!("{provider:?}").contains(request_token));
}

/// Real STS sessions seen on the test's clock: moto dates the expiry by the wall
/// clock, so the remaining lifetime is carried over to the manual clock.
#[derive(Debug)]
struct OnClock {
    inner: AssumeRoleProvider,
    clock: ManualClock,
}

#[cleo_core::async_trait]
impl CredentialProvider for OnClock {
    type Credential = AwsCredentials;
    async fn credential(&self) -> cleo_core::Result<Arc<AwsCredentials>> {
        let c = self.inner.credential().await?;
        let left = c
            .expiry()
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        Ok(Arc::new(AwsCredentials::new(
            aws_credential_types::Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                c.session_token().map(str::to_owned),
                Some(self.clock.now() + left),
                "test",
            ),
        )))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_refreshed_before_any_caller_sees_them_expire() {
    let clock = ManualClock::new(SystemTime::now());
    let cache = Cache::with_clock(
        CacheSettings {
            refresh_jitter: Duration::ZERO,
            ..CacheSettings::default()
        },
        Arc::new(clock.clone()) as Arc<dyn Clock>,
    )
    .unwrap();
    let sts = AssumeRoleProvider::new(
        &common::sdk(),
        RoleOptions::new(ROLE).duration(Duration::from_secs(900)),
    );
    let provider = cleo_core::CachedCredentialProvider::new(
        Arc::new(OnClock {
            inner: sts,
            clock: clock.clone(),
        }),
        cache,
        "aws-sts",
    );

    let first = provider.credential().await.unwrap();
    let mut keys = vec![first.access_key_id().to_owned()];
    // Walk the clock through 40 minutes in 30 s steps: every credential handed out
    // is valid at that moment, and a new session is fetched ahead of each expiry
    // (900 s sessions, refreshed 300 s before they end).
    for _ in 0..80 {
        clock.advance(Duration::from_secs(30));
        let c = provider.credential().await.unwrap();
        let expiry = c.expiry().unwrap();
        assert!(
            expiry > clock.now() + Duration::from_secs(200),
            "handed out credentials with less than 200 s left"
        );
        if keys.last().map(String::as_str) != Some(c.access_key_id()) {
            keys.push(c.access_key_id().to_owned());
        }
        // Let a background refresh land before the clock moves on.
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // 2400 s of 900 s sessions renewed at 600 s: four new ones after the first.
    assert!(
        keys.len() >= 4,
        "expected new sessions ahead of expiry: {keys:?}"
    );
}

#[tokio::test]
async fn plugs_into_an_sdk_client() {
    let bucket = unique("bkt").to_lowercase();
    let admin = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&common::sdk())
            .force_path_style(true)
            .build(),
    );
    admin.create_bucket().bucket(&bucket).send().await.unwrap();

    let role = AssumeRoleProvider::new(&common::sdk(), RoleOptions::new(ROLE))
        .cached(CacheSettings::default())
        .unwrap();
    let config = common::sdk()
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(SdkCredentials::new(
            Arc::new(role),
        )))
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.put_object()
        .bucket(&bucket)
        .key("cleo-artifacts/run-1/model.bin")
        .body(b"weights".to_vec().into())
        .send()
        .await
        .unwrap();
    let got = admin
        .get_object()
        .bucket(&bucket)
        .key("cleo-artifacts/run-1/model.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"weights"
    );
}
