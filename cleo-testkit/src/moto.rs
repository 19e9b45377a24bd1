//! moto, the AWS API peer: the shared server `scripts/test` starts, dedicated
//! servers for tests that change server-wide settings (IAM enforcement), and a
//! small admin client for set-up calls the tests make outside cleo.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

/// The region every test uses.
pub const REGION: &str = "us-east-1";

/// The moto server `scripts/test` started (`CLEO_TEST_AWS_ENDPOINT`).
///
/// Panics with instructions when it is not running: these tests need the real peer
/// and must fail loudly, not skip.
pub fn moto() -> String {
    match std::env::var("CLEO_TEST_AWS_ENDPOINT") {
        Ok(e) if !e.is_empty() => e,
        _ => panic!(
            "CLEO_TEST_AWS_ENDPOINT is not set: run the tests with ./scripts/test \
             (it starts moto)"
        ),
    }
}

/// An SDK configuration for `endpoint` with fixed test keys, no retries.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    sdk_config_with(endpoint, "testing", "testing")
}

/// An SDK configuration for `endpoint` with the given keys.
pub fn sdk_config_with(endpoint: &str, access_key: &str, secret_key: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            access_key, secret_key, None, None, "test",
        )))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build()
}

/// A moto server of a test's own, killed on drop.
pub struct MotoServer {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    child: Child,
}

impl MotoServer {
    /// Starts `moto_server` on a free loopback port and waits until it answers.
    pub async fn start() -> MotoServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("`moto_server` must be on PATH (scripts/test installs it into .venv/bin)");
        let endpoint = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{endpoint}/moto-api/")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "moto did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        MotoServer { endpoint, child }
    }

    /// From now on, every request must be signed by an IAM identity allowed to make it.
    pub async fn enforce_iam(&self) {
        let r = reqwest::Client::new()
            .post(format!("{}/moto-api/reset-auth", self.endpoint))
            .body("0")
            .send()
            .await
            .expect("reset-auth");
        assert!(r.status().is_success(), "reset-auth: {}", r.status());
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls an AWS query-protocol API (IAM) on moto before IAM is enforced; moto
/// picks the service from the credential scope and does not check the signature.
pub async fn query(endpoint: &str, service: &str, params: &[(&str, &str)]) -> String {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    );
    let r = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header("Authorization", auth)
        .form(params)
        .send()
        .await
        .expect("moto query call");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert!(status.is_success(), "{service} {params:?}: {status} {text}");
    text
}

/// The text of the first `<tag>...</tag>` in an XML answer.
pub fn xml_field(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    xml[start..end].to_owned()
}
