//! `cleo aws credential-process`: the one command that prints a credential, by
//! design, for `credential_process = cleo aws credential-process --role ...` in an
//! AWS profile (the AWS CLI, boto3 and MLflow's S3 store then need no code).

use std::io::Write;

use cleo_aws::{AwsContext, RoleOptions};
use cleo_core::{CredentialProvider, Error, ErrorKind};

use crate::cli::CredentialProcessArgs;

pub async fn credential_process(
    aws: &AwsContext,
    args: &CredentialProcessArgs,
) -> Result<(), Error> {
    let name = args
        .role
        .clone()
        .or_else(|| aws.config().role.clone())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::ConfigInvalid,
                "which role? give --role <arn-or-name>",
            )
            .with_hint("a name is looked up under [aws.roles] in cleo.toml; or set [aws] role")
        })?;
    let provider = if name.starts_with("arn:") {
        let mut options = RoleOptions::new(&name);
        if let Some(d) = args.duration {
            options = options.duration(d.into());
        }
        aws.assume(options).await?
    } else {
        if args.duration.is_some() {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                "--duration applies to a role ARN; a named role takes `duration` from cleo.toml",
            ));
        }
        aws.role(&name).await?
    };
    let credentials = provider.credential().await?;
    let json = credentials.to_credential_process_json()?;
    let mut out = std::io::stdout().lock();
    out.write_all(json.as_bytes())
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.flush())
        .map_err(|e| Error::new(ErrorKind::Unexpected, "cannot write to stdout").with_source(e))
}
