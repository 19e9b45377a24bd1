//! The seed's CI pattern, run here: `scripts/ci-upload-artifacts` (the step of
//! `.github/workflows/ci_upload_artifacts.yml`) with `.github/cleo.toml`, against an
//! OpenBao whose JWT auth trusts a test key, moto, and a stand-in for GitHub's
//! ID-token endpoint. No Vault token and no AWS key is given to the job: both
//! logins come from the OIDC token. The job prints no secret, announces values to
//! the runner's masking, leaves no live Vault token behind, and its upload lands
//! under cleo-artifacts/<run-id>/.

mod common;

use std::path::{Path, PathBuf};

use cleo_testkit::dev::DevServer;
use cleo_testkit::github::{ISSUER, actions_token_endpoint};
use cleo_testkit::{JwtSigner, VaultAdmin, assert_no_canary, unique};
use serde_json::json;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn cleo_cli() -> PathBuf {
    let cli = std::env::var("CLEO_TEST_CLI")
        .expect("CLEO_TEST_CLI (the cleo binary) is not set: run the tests with ./scripts/test");
    PathBuf::from(cli)
}

/// What `docs/provisioning-playbook.md` asks the Vault admin to set up: JWT auth at
/// `jwt` trusting GitHub's issuer, and a role bound to the repository and audience
/// that may read the artifact entries only.
async fn provision_vault(admin: &VaultAdmin, signer: &JwtSigner, bucket: &str, role_arn: &str) {
    admin
        .call("POST", "sys/auth/jwt", Some(json!({"type": "jwt"})))
        .await;
    admin
        .call(
            "POST",
            "auth/jwt/config",
            Some(json!({"jwt_validation_pubkeys": [signer.public_pem], "bound_issuer": ISSUER})),
        )
        .await;
    admin
        .call(
            "PUT",
            "sys/policies/acl/ci-artifacts",
            Some(json!({"policy": "path \"secret/data/artifacts/s3\" { capabilities = [\"read\"] }"})),
        )
        .await;
    admin
        .call(
            "POST",
            "auth/jwt/role/ci-artifacts",
            Some(json!({
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": ["vault"],
                "bound_claims": {"repository": "acme/ml"},
                "token_policies": ["ci-artifacts"],
                "token_ttl": "15m",
            })),
        )
        .await;
    admin
        .put_kv2(
            "secret",
            "artifacts/s3",
            json!({"bucket": bucket, "role": role_arn}),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workflow_step_uploads_with_oidc_only_and_leaves_nothing_behind() {
    let vault = DevServer::start(&[]).await;
    let admin = VaultAdmin::for_server(&vault.addr, &vault.token);
    let moto = cleo_testkit::moto::moto();
    let aws = cleo_testkit::moto::sdk_config(&moto);
    let s3 = common::s3(&aws);
    let bucket = unique("ci-pattern").to_lowercase();
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let role_arn = "arn:aws:iam::123456789012:role/cleo-artifacts-ci";

    let signer = JwtSigner::new();
    provision_vault(&admin, &signer, &bucket, role_arn).await;
    let request_token = format!("canary-{}", unique("actions-request-token"));
    let token_url = actions_token_endpoint(signer, request_token.clone(), "acme/ml").await;

    let work = tempfile::tempdir().unwrap();
    let metrics = work.path().join("metrics.json");
    std::fs::write(&metrics, "{\"accuracy\": 0.93}\n").unwrap();
    let bin_dir = work.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    std::os::unix::fs::symlink(cleo_cli(), bin_dir.join("cleo")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_upload-artifacts"),
        bin_dir.join("upload-artifacts"),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let mut cmd = tokio::process::Command::new(root().join("scripts/ci-upload-artifacts"));
    cmd.arg(&metrics)
        .current_dir(root())
        .env_clear()
        .env("PATH", path)
        .env("HOME", work.path())
        .env("RUST_LOG", "trace")
        .env("CLEO_CONFIG", root().join(".github/cleo.toml"))
        .env("VAULT_ADDR", &vault.addr)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &moto)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &token_url)
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &request_token);
    let out = cmd.output().await.expect("run scripts/ci-upload-artifacts");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    // The upload landed under the prefix, named by the run.
    let key = "cleo-artifacts/4242-1/metrics.json";
    assert!(stdout.contains(&format!("s3://{bucket}/{key}")), "{stdout}");
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let body = object.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"{\"accuracy\": 0.93}\n");

    // The values were announced to the runner before use, and inspect showed where
    // they came from (the JWT login) without them.
    assert!(
        stderr.contains(&format!("::add-mask::{bucket}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("::add-mask::{role_arn}")),
        "{stderr}"
    );
    assert!(
        stdout.contains("jwt"),
        "inspect names the login method: {stdout}"
    );

    // Each cleo command revoked the token it logged in for.
    assert_eq!(admin.live_login_tokens("jwt").await, 0, "{stderr}");

    // No credential in the output, even at TRACE: not the request token, not the
    // root token (never given), not a JWT.
    let everything = format!("{stdout}\n{stderr}");
    assert_no_canary(
        "the job's output",
        &everything,
        &[&request_token, &vault.token],
    );
    assert!(
        !everything.contains("eyJ"),
        "a JWT was printed:\n{everything}"
    );
    assert!(!everything.contains("panicked"), "{everything}");
}
