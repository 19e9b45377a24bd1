//! The seed's CI job end to end against a moto that enforces IAM: the bucket and
//! role come from Parameter Store and Secrets Manager by logical name, the job
//! assumes the role, and its upload lands under `cleo-artifacts/<run-id>/`. A write
//! outside the prefix, with the same role, is refused.
//!
//! moto evaluates the role's own policy, not a session policy (it ignores
//! `Policy` on AssumeRole), so the role here carries the same least-privilege
//! document `artifact_policy` builds; against AWS the session policy narrows a
//! broader role the same way.

mod common;

use std::process::Command;

use aws_credential_types::provider::SharedCredentialsProvider;
use cleo_aws::{ARTIFACT_PREFIX, AssumeRoleProvider, RoleOptions, artifact_policy};
use cleo_core::CredentialProvider;
use cleo_testkit::moto::{MotoServer, query, sdk_config, sdk_config_with, xml_field};
use cleo_testkit::{assert_no_canary, unique};

const ACCOUNT: &str = "123456789012";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ci_job_uploads_under_the_prefix_and_nothing_else() {
    let moto = MotoServer::start().await;
    let ep = moto.endpoint.clone();
    let admin = sdk_config(&ep);
    let bucket = unique("artifacts").to_lowercase();
    let role_name = "cleo-artifacts-ci";
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{role_name}");

    // Set-up, before IAM is enforced: the seed's entries, the bucket, the role
    // (least privilege) and a CI user that may only read the entries and assume it.
    common::s3(&admin)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    aws_sdk_ssm::Client::new(&admin)
        .put_parameter()
        .name("/artifacts/s3/bucket")
        .value(&bucket)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    aws_sdk_secretsmanager::Client::new(&admin)
        .create_secret()
        .name("artifacts/s3")
        .secret_string(serde_json::json!({ "role": role_arn }).to_string())
        .send()
        .await
        .unwrap();
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:user/ci")}, "Action": "sts:AssumeRole"}]
    })
    .to_string();
    query(
        &ep,
        "iam",
        &[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", role_name),
            ("AssumeRolePolicyDocument", &trust),
        ],
    )
    .await;
    let role_policy = artifact_policy(&bucket, ARTIFACT_PREFIX);
    query(
        &ep,
        "iam",
        &[
            ("Action", "PutRolePolicy"),
            ("Version", "2010-05-08"),
            ("RoleName", role_name),
            ("PolicyName", "artifacts"),
            ("PolicyDocument", &role_policy),
        ],
    )
    .await;
    query(
        &ep,
        "iam",
        &[
            ("Action", "CreateUser"),
            ("Version", "2010-05-08"),
            ("UserName", "ci"),
        ],
    )
    .await;
    let user_policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn},
            {"Effect": "Allow", "Action": ["ssm:GetParameter", "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": "*"}
        ]
    })
    .to_string();
    query(
        &ep,
        "iam",
        &[
            ("Action", "PutUserPolicy"),
            ("Version", "2010-05-08"),
            ("UserName", "ci"),
            ("PolicyName", "ci"),
            ("PolicyDocument", &user_policy),
        ],
    )
    .await;
    let keys = query(
        &ep,
        "iam",
        &[
            ("Action", "CreateAccessKey"),
            ("Version", "2010-05-08"),
            ("UserName", "ci"),
        ],
    )
    .await;
    let (key_id, secret_key) = (
        xml_field(&keys, "AccessKeyId"),
        xml_field(&keys, "SecretAccessKey"),
    );
    moto.enforce_iam().await;

    // The CI user alone cannot write to the bucket: only the role can.
    let user = sdk_config_with(&ep, &key_id, &secret_key);
    let e = common::s3(&user)
        .put_object()
        .bucket(&bucket)
        .key("cleo-artifacts/direct.txt")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("AccessDenied"), "{e:?}");

    // The job, as CI runs it.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cleo.toml");
    std::fs::write(
        &config,
        format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{ep}\"\n\n[secrets]\n\
             \"artifacts/s3/bucket\" = \"aws-ssm:///artifacts/s3/bucket\"\n\
             \"artifacts/s3/role\" = \"aws-sm://artifacts/s3#role\"\n"
        ),
    )
    .unwrap();
    let artifact = dir.path().join("metrics.json");
    std::fs::write(&artifact, br#"{"accuracy": 0.93}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_upload-artifacts"))
        .args(["--run-id", "run-42"])
        .arg(&artifact)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("CLEO_CONFIG", &config)
        .env("AWS_ACCESS_KEY_ID", &key_id)
        .env("AWS_SECRET_ACCESS_KEY", &secret_key)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let key = "cleo-artifacts/run-42/metrics.json";
    assert!(stdout.contains(&format!("s3://{bucket}/{key}")), "{stdout}");
    assert_no_canary(
        "the job's output",
        &format!("{stdout}{stderr}"),
        &[&secret_key],
    );

    // The upload landed; a write outside the prefix, with the same role, is refused.
    let role = AssumeRoleProvider::new(&user, RoleOptions::new(&role_arn).artifact_bucket(&bucket));
    let creds = role.credential().await.unwrap();
    let as_role = user
        .clone()
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(creds.sdk().clone()))
        .build();
    let got = common::s3(&as_role)
        .get_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        br#"{"accuracy": 0.93}"#
    );
    let e = common::s3(&as_role)
        .put_object()
        .bucket(&bucket)
        .key("elsewhere/metrics.json")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("AccessDenied"), "{e:?}");
}
