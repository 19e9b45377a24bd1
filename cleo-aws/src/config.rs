//! The `[aws]` section of `cleo.toml`.
//!
//! ```toml
//! [aws]
//! region = "eu-west-1"
//! # profile = "ci"                      # a profile of ~/.aws/config
//! # endpoint_url = "http://127.0.0.1:5000"  # AWS_ENDPOINT_URL works too
//! timeout = "10s"                       # per attempt
//! role = "artifacts"                    # read aws-sm/aws-ssm with this role
//!
//! [aws.roles.artifacts]
//! role_arn = "arn:aws:iam::123456789012:role/cleo-artifacts-ci"
//! web_identity = "github"               # or "token-file", or absent: AssumeRole
//! duration = "1h"
//! artifact_bucket = "acme-ml-artifacts" # session policy: cleo-artifacts/* only
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use cleo_core::{Error, ErrorKind, Result};
use serde::Deserialize;

/// `[aws]` as written in `cleo.toml`. Every field is optional; the standard AWS
/// settings (variables, `~/.aws/config`) fill in what is absent.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AwsConfig {
    /// The region; else `AWS_REGION` or the profile's.
    pub region: Option<String>,
    /// A profile of `~/.aws/config`; else `AWS_PROFILE`.
    pub profile: Option<String>,
    /// An endpoint for every service (a test server); else `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// Longest wait for one attempt of one call (`"10s"`).
    pub timeout: Option<String>,
    /// The name of a role under `[aws.roles]` whose credentials read secrets.
    pub role: Option<String>,
    /// Named roles to assume.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleConfig>,
}

/// How cleo gets the identity it presents to `AssumeRoleWithWebIdentity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WebIdentityKind {
    /// The GitHub Actions ID-token endpoint (needs `permissions: id-token: write`).
    Github,
    /// A token file (`token_file`, else `AWS_WEB_IDENTITY_TOKEN_FILE`), re-read at
    /// every refresh: the Kubernetes/EKS projected service-account token.
    TokenFile,
}

/// One `[aws.roles.<name>]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RoleConfig {
    /// The role to assume.
    pub role_arn: String,
    /// The session name CloudTrail records (default `cleo-<user or run id>`).
    pub session_name: Option<String>,
    /// Session length (`"1h"`; STS allows 15 minutes to the role's maximum).
    pub duration: Option<String>,
    /// The external id the role's trust policy asks for.
    pub external_id: Option<String>,
    /// Session tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// An inline session policy (JSON) that narrows the role.
    pub policy: Option<String>,
    /// Narrow the session to `s3:PutObject`/`s3:GetObject` under
    /// `<artifact_bucket>/<artifact_prefix>*`.
    pub artifact_bucket: Option<String>,
    /// The prefix for `artifact_bucket` (default `cleo-artifacts/`).
    pub artifact_prefix: Option<String>,
    /// Log in with a web identity instead of the standard credential chain.
    pub web_identity: Option<WebIdentityKind>,
    /// The audience asked of the GitHub endpoint (default `sts.amazonaws.com`).
    pub audience: Option<String>,
    /// The token file for `web_identity = "token-file"`.
    pub token_file: Option<PathBuf>,
    /// An MFA device serial; the code is asked for on the terminal (manual use only).
    pub mfa_serial: Option<String>,
}

/// The per-attempt timeout, from `[aws] timeout`.
pub(crate) fn parse_duration(
    field: &str,
    raw: &Option<String>,
    default: Duration,
) -> Result<Duration> {
    match raw {
        None => Ok(default),
        Some(s) => humantime::parse_duration(s).map_err(|e| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!("[aws] {field} = \"{s}\": {e}"),
            )
            .with_backend("aws")
            .with_hint("durations look like \"30s\", \"15m\" or \"1h\"")
        }),
    }
}

impl AwsConfig {
    /// The role named `name` under `[aws.roles]`, or a clear error listing the names.
    pub fn role(&self, name: &str) -> Result<&RoleConfig> {
        self.roles.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.roles.keys().map(String::as_str).collect();
            Error::new(
                ErrorKind::ConfigInvalid,
                format!("no role `{name}` under [aws.roles] in cleo.toml"),
            )
            .with_backend("aws")
            .with_hint(if names.is_empty() {
                "add a [aws.roles.<name>] table with a role_arn".to_owned()
            } else {
                format!("roles defined: {}", names.join(", "))
            })
        })
    }
}
