//! Assuming roles through STS: `AssumeRole` from the standard credential chain, or
//! `AssumeRoleWithWebIdentity` from a GitHub Actions ID token or a token file.
//!
//! The provider keeps the *source* of its identity, not only the credentials it got:
//! every refresh asks STS again (reading the web-identity token anew), so a job that
//! runs longer than one session keeps working.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_sdk_sts::types::Tag;
use cleo_core::id_token::{AWS_AUDIENCE, IdTokenSource};
use cleo_core::{
    Cache, CacheSettings, CachedCredentialProvider, CredentialProvider, Error, ErrorKind, Result,
    Zeroizing, async_trait,
};

use crate::config::{RoleConfig, WebIdentityKind, parse_duration};
use crate::credentials::AwsCredentials;
use crate::error::{BACKEND, map_sdk_error};
use crate::policy::{ARTIFACT_PREFIX, artifact_policy};

/// The session length when none is given: one hour, the STS default.
pub const DEFAULT_SESSION: Duration = Duration::from_secs(3600);

/// Asks for a one-time MFA code (a terminal prompt, for manual access only).
pub type MfaCode = Arc<dyn Fn() -> Result<Zeroizing<String>> + Send + Sync>;

/// Where the identity that assumes the role comes from.
#[derive(Clone, Debug)]
pub enum RoleIdentity {
    /// The standard credential chain (variables, profile, instance or task role).
    Chain,
    /// A web-identity token (OIDC), exchanged with `AssumeRoleWithWebIdentity`.
    WebIdentity(IdTokenSource),
}

/// What to ask STS for. Built in code, or from `[aws.roles.<name>]`.
#[derive(Clone)]
pub struct RoleOptions {
    role_arn: String,
    session_name: String,
    duration: Duration,
    external_id: Option<String>,
    tags: Vec<(String, String)>,
    policy: Option<String>,
    mfa: Option<(String, MfaCode)>,
    identity: RoleIdentity,
}

impl fmt::Debug for RoleOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleOptions")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("duration", &self.duration)
            .field("external_id", &self.external_id.as_ref().map(|_| "set"))
            .field("tags", &self.tags)
            .field("policy", &self.policy.as_ref().map(|_| "set"))
            .field("mfa_serial", &self.mfa.as_ref().map(|(s, _)| s))
            .field("identity", &self.identity)
            .finish()
    }
}

fn default_session_name() -> String {
    // CloudTrail shows this name: make it say which job or user it was.
    let who = std::env::var("GITHUB_RUN_ID")
        .map(|id| format!("gha-{id}"))
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "process".to_owned());
    let clean: String = who
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "=,.@-_".contains(*c))
        .collect();
    let mut name = format!("cleo-{clean}");
    name.truncate(64);
    name
}

impl RoleOptions {
    /// Assume `role_arn` from the standard credential chain, for an hour.
    pub fn new(role_arn: impl Into<String>) -> Self {
        RoleOptions {
            role_arn: role_arn.into(),
            session_name: default_session_name(),
            duration: DEFAULT_SESSION,
            external_id: None,
            tags: Vec::new(),
            policy: None,
            mfa: None,
            identity: RoleIdentity::Chain,
        }
    }

    /// The session name CloudTrail records.
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        self.session_name = name.into();
        self
    }

    /// The session length (STS allows 15 minutes up to the role's maximum).
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// The external id the role's trust policy requires.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// Adds a session tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// An inline session policy (JSON) that narrows what the role allows.
    pub fn policy(mut self, policy: impl Into<String>) -> Self {
        self.policy = Some(policy.into());
        self
    }

    /// Narrows the session to the seed's artifact rule: `s3:PutObject` and
    /// `s3:GetObject` under `<bucket>/cleo-artifacts/` only.
    pub fn artifact_bucket(self, bucket: &str) -> Self {
        self.policy(artifact_policy(bucket, ARTIFACT_PREFIX))
    }

    /// MFA for manual access: the device serial, and a function asked for a fresh
    /// code at every `AssumeRole`.
    pub fn mfa(mut self, serial: impl Into<String>, code: MfaCode) -> Self {
        self.mfa = Some((serial.into(), code));
        self
    }

    /// Log in with a web-identity token instead of the credential chain.
    pub fn web_identity(mut self, source: IdTokenSource) -> Self {
        self.identity = RoleIdentity::WebIdentity(source);
        self
    }

    /// The role ARN.
    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }

    /// Options from an `[aws.roles.<name>]` table.
    pub fn from_config(c: &RoleConfig) -> Result<Self> {
        if !c.role_arn.starts_with("arn:") {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!("[aws.roles] role_arn = \"{}\" is not an ARN", c.role_arn),
            )
            .with_backend(BACKEND)
            .with_hint("role ARNs look like arn:aws:iam::123456789012:role/name"));
        }
        let mut o = RoleOptions::new(&c.role_arn).duration(parse_duration(
            "duration",
            &c.duration,
            DEFAULT_SESSION,
        )?);
        if let Some(n) = &c.session_name {
            o = o.session_name(n);
        }
        if let Some(x) = &c.external_id {
            o = o.external_id(x);
        }
        for (k, v) in &c.tags {
            o = o.tag(k, v);
        }
        match (&c.policy, &c.artifact_bucket) {
            (Some(_), Some(_)) => {
                return Err(Error::new(
                    ErrorKind::ConfigInvalid,
                    "[aws.roles] give either `policy` or `artifact_bucket`, not both",
                )
                .with_backend(BACKEND));
            }
            (Some(p), None) => o = o.policy(p),
            (None, Some(b)) => {
                let prefix = c.artifact_prefix.as_deref().unwrap_or(ARTIFACT_PREFIX);
                o = o.policy(artifact_policy(b, prefix));
            }
            (None, None) => {}
        }
        if let Some(serial) = &c.mfa_serial {
            o = o.mfa(serial, Arc::new(prompt_mfa_code));
        }
        let audience = c.audience.as_deref().unwrap_or(AWS_AUDIENCE);
        match c.web_identity {
            None => {}
            Some(WebIdentityKind::Github) => {
                let source = IdTokenSource::github_actions_from_env(audience).ok_or_else(|| {
                    Error::new(
                        ErrorKind::ConfigInvalid,
                        "web_identity = \"github\" but ACTIONS_ID_TOKEN_REQUEST_URL / \
                         ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set",
                    )
                    .with_backend(BACKEND)
                    .with_hint("run inside GitHub Actions with `permissions: id-token: write`")
                })?;
                o = o.web_identity(source);
            }
            Some(WebIdentityKind::TokenFile) => {
                let path = c
                    .token_file
                    .clone()
                    .or_else(|| std::env::var_os("AWS_WEB_IDENTITY_TOKEN_FILE").map(Into::into))
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::ConfigInvalid,
                            "web_identity = \"token-file\" needs token_file or AWS_WEB_IDENTITY_TOKEN_FILE",
                        )
                        .with_backend(BACKEND)
                    })?;
                o = o.web_identity(IdTokenSource::ProjectedFile(path));
            }
        }
        Ok(o)
    }
}

fn prompt_mfa_code() -> Result<Zeroizing<String>> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(Error::new(
            ErrorKind::ConfigInvalid,
            "this role needs an MFA code but there is no terminal to ask for it",
        )
        .with_backend(BACKEND)
        .with_hint("MFA roles are for manual access; CI uses web identity instead"));
    }
    eprint!("MFA code: ");
    let _ = std::io::stderr().flush();
    let mut line = Zeroizing::new(String::new());
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        Error::new(ErrorKind::ConfigInvalid, "cannot read the MFA code").with_source(e)
    })?;
    Ok(Zeroizing::new(line.trim().to_owned()))
}

/// Assumes one role on every call to `credential`; wrap it with [`Self::cached`] so
/// that happens only ahead of expiry.
pub struct AssumeRoleProvider {
    sts: aws_sdk_sts::Client,
    options: RoleOptions,
}

impl fmt::Debug for AssumeRoleProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleProvider")
            .field("options", &self.options)
            .finish()
    }
}

impl AssumeRoleProvider {
    /// A provider on `sdk`'s region, endpoint and (for `AssumeRole`) credentials.
    pub fn new(sdk: &SdkConfig, options: RoleOptions) -> Self {
        let sts = match options.identity {
            RoleIdentity::Chain => aws_sdk_sts::Client::new(sdk),
            // The web-identity call is unsigned: the token is the identity. Leaving
            // the chain out also means a job with no AWS keys at all works.
            RoleIdentity::WebIdentity(_) => {
                let mut b = sdk.to_builder();
                b.set_credentials_provider(None);
                aws_sdk_sts::Client::new(&b.build())
            }
        };
        AssumeRoleProvider { sts, options }
    }

    /// Wraps the provider in cleo's cache: refreshed ahead of expiry with jitter,
    /// one STS call for any number of concurrent callers.
    pub fn cached(self, settings: CacheSettings) -> Result<CachedCredentialProvider<Self>> {
        Ok(self.cached_in(Cache::new(settings)?))
    }

    /// Like [`Self::cached`] with a cache built by the caller (an injected clock).
    pub fn cached_in(self, cache: Cache<Arc<AwsCredentials>>) -> CachedCredentialProvider<Self> {
        CachedCredentialProvider::new(Arc::new(self), cache, "aws-sts")
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.options.duration.as_secs()).unwrap_or(i32::MAX)
    }

    async fn assume_role(&self) -> Result<Credentials> {
        let o = &self.options;
        let mut req = self
            .sts
            .assume_role()
            .role_arn(&o.role_arn)
            .role_session_name(&o.session_name)
            .duration_seconds(self.duration_seconds())
            .set_external_id(o.external_id.clone())
            .set_policy(o.policy.clone());
        for (k, v) in &o.tags {
            let tag = Tag::builder().key(k).value(v).build().map_err(|e| {
                Error::new(ErrorKind::ConfigInvalid, format!("session tag `{k}`: {e}"))
            })?;
            req = req.tags(tag);
        }
        if let Some((serial, code)) = &o.mfa {
            let code = code()?;
            req = req.serial_number(serial).token_code(code.as_str());
        }
        let out = req
            .send()
            .await
            .map_err(|e| map_sdk_error("AssumeRole", e))?;
        credentials_of(out.credentials(), "AssumeRole")
    }

    async fn assume_role_with_web_identity(&self, source: &IdTokenSource) -> Result<Credentials> {
        let o = &self.options;
        let token = source.token().await?;
        let out = self
            .sts
            .assume_role_with_web_identity()
            .role_arn(&o.role_arn)
            .role_session_name(&o.session_name)
            .duration_seconds(self.duration_seconds())
            .set_policy(o.policy.clone())
            .web_identity_token(token.as_str())
            .send()
            .await
            .map_err(|e| map_sdk_error("AssumeRoleWithWebIdentity", e))?;
        credentials_of(out.credentials(), "AssumeRoleWithWebIdentity")
    }
}

fn credentials_of(c: Option<&aws_sdk_sts::types::Credentials>, op: &str) -> Result<Credentials> {
    let c = c.ok_or_else(|| {
        Error::new(
            ErrorKind::Unexpected,
            format!("{op} answered without credentials"),
        )
        .with_backend(BACKEND)
    })?;
    let expiry = SystemTime::try_from(*c.expiration()).map_err(|_| {
        Error::new(
            ErrorKind::Unexpected,
            format!("{op} answered an expiry out of range"),
        )
        .with_backend(BACKEND)
    })?;
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        Some(expiry),
        "cleo-sts",
    ))
}

#[async_trait]
impl CredentialProvider for AssumeRoleProvider {
    type Credential = AwsCredentials;

    async fn credential(&self) -> Result<Arc<AwsCredentials>> {
        let started = std::time::Instant::now();
        let creds = match &self.options.identity {
            RoleIdentity::Chain => self.assume_role().await,
            RoleIdentity::WebIdentity(source) => self.assume_role_with_web_identity(source).await,
        }
        .map_err(|e| e.or_reference(&self.options.role_arn))?;
        tracing::debug!(
            role_arn = %self.options.role_arn,
            access_key_id = %creds.access_key_id(),
            expires_at = ?creds.expiry(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "assumed role"
        );
        Ok(Arc::new(AwsCredentials::new(creds)))
    }
}
