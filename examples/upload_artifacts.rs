//! The seed's CI job: read the artifact bucket and the upload role by logical name,
//! assume the role with a session policy that allows only
//! `s3:PutObject`/`s3:GetObject` under `cleo-artifacts/`, and upload files to
//! `cleo-artifacts/<run-id>/`. Prints where each file went; never a credential.
//!
//! ```text
//! CLEO_CONFIG=cleo.toml cargo run -p cleo-examples --bin upload-artifacts -- \
//!     [--run-id ID] [--web-identity github] FILE...
//! ```
//!
//! The run id defaults to `GITHUB_RUN_ID`, else the current Unix time. The identity
//! that assumes the role is AWS's standard chain, or with `--web-identity github`
//! the job's GitHub Actions OIDC token (AssumeRoleWithWebIdentity, audience
//! `sts.amazonaws.com`): then no AWS key exists anywhere in the job.

#![allow(clippy::print_stdout)] // where each file went is this program's output

use std::path::PathBuf;
use std::sync::Arc;

use aws_credential_types::provider::SharedCredentialsProvider;
use cleo_aws::{ARTIFACT_PREFIX, AWS_AUDIENCE, IdTokenSource, RoleOptions, SdkCredentials};
use cleo_core::{Client, Config, Error, ErrorKind, Registry};

struct Args {
    run_id: String,
    files: Vec<PathBuf>,
    github_oidc: bool,
}

fn args() -> Result<Args, Error> {
    let mut run_id = std::env::var("GITHUB_RUN_ID").ok();
    let mut files = Vec::new();
    let mut github_oidc = false;
    let mut it = std::env::args_os().skip(1);
    while let Some(a) = it.next() {
        if a == "--run-id" {
            run_id = it.next().map(|v| v.to_string_lossy().into_owned());
        } else if a == "--web-identity" {
            match it.next() {
                Some(v) if v == "github" => github_oidc = true,
                _ => {
                    return Err(Error::new(
                        ErrorKind::ConfigInvalid,
                        "--web-identity takes `github` (the GitHub Actions OIDC token)",
                    ));
                }
            }
        } else {
            files.push(PathBuf::from(a));
        }
    }
    if files.is_empty() {
        return Err(Error::new(
            ErrorKind::ConfigInvalid,
            "usage: upload-artifacts [--run-id ID] [--web-identity github] FILE...",
        ));
    }
    let run_id = run_id.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs().to_string())
            .unwrap_or_default()
    });
    if run_id.is_empty()
        || !run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Error::new(
            ErrorKind::ConfigInvalid,
            "the run id may hold only letters, digits, '-', '_' and '.'",
        ));
    }
    Ok(Args {
        run_id,
        files,
        github_oidc,
    })
}

async fn run() -> Result<(), Error> {
    let args = args()?;
    let config = Config::discover(None)?;
    let mut registry = Registry::with_builtin();
    cleo_vault::register(&mut registry, &config)?;
    let aws = cleo_aws::register(&mut registry, &config)?;
    let client = Client::new(config, registry)?;

    let bucket = client.get_string("artifacts/s3/bucket").await?;
    let role_arn = client.get_string("artifacts/s3/role").await?;
    let mut options = RoleOptions::new(role_arn.trim())
        .session_name(format!("cleo-artifacts-{}", args.run_id))
        .artifact_bucket(&bucket);
    if args.github_oidc {
        let source = IdTokenSource::github_actions_from_env(AWS_AUDIENCE).ok_or_else(|| {
            Error::new(
                ErrorKind::ConfigInvalid,
                "--web-identity github, but ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN are not set",
            )
            .with_hint("give the workflow `permissions: id-token: write`")
        })?;
        options = options.web_identity(source);
    }
    let role = aws.assume(options).await?;

    let sdk = aws
        .sdk_config()
        .await
        .clone()
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(SdkCredentials::new(
            Arc::new(role),
        )))
        .build();
    // Path-style addressing when an endpoint is set: test servers (moto, MinIO)
    // do not resolve `<bucket>.host`.
    let path_style = sdk.endpoint_url().is_some();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(path_style)
            .build(),
    );

    for file in &args.files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("{} is not a file", file.display()),
                )
            })?;
        let key = format!("{ARTIFACT_PREFIX}{}/{name}", args.run_id);
        let body = aws_sdk_s3::primitives::ByteStream::from_path(file)
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("cannot read {}", file.display()),
                )
                .with_source(e)
            })?;
        s3.put_object()
            .bucket(bucket.as_str())
            .key(&key)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "upload of {} to s3://{}/{key} failed: {}",
                        file.display(),
                        bucket.as_str(),
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    ),
                )
            })?;
        println!(
            "uploaded {} -> s3://{}/{key}",
            file.display(),
            bucket.as_str()
        );
    }
    client.close().await?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("upload-artifacts: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
