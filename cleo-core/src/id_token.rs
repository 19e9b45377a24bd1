//! Identity tokens (JWTs) that a workload presents to log in: a projected token file,
//! a variable, or the GitHub Actions ID-token endpoint. Shared by the Vault JWT login
//! and AWS `AssumeRoleWithWebIdentity`, which both re-read the token at every login
//! because the platform rotates it.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::reference::SecretRef;
use crate::registry::Registry;
use crate::secret::Secret;

/// The audience AWS STS expects in a web-identity token.
pub const AWS_AUDIENCE: &str = "sts.amazonaws.com";

/// Where an identity token comes from.
#[derive(Clone)]
pub enum IdTokenSource {
    /// A cleo reference read at every login (`file:///var/run/secrets/token`,
    /// `env://CI_JWT`), since projected tokens rotate.
    Reference(SecretRef),
    /// A platform-projected token file (Kubernetes, EKS), read at every login
    /// without `file://`'s mode check: the kubelet mounts projected tokens 0644 by
    /// default, inside the pod's own file system, and they are short-lived.
    ProjectedFile(std::path::PathBuf),
    /// The GitHub Actions ID-token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL` with
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`), asked for a token with this audience.
    GithubActions {
        /// The endpoint URL the runner gives the job.
        request_url: String,
        /// The bearer token the runner gives the job.
        request_token: SecretString,
        /// The `aud` claim to ask for.
        audience: String,
    },
}

impl fmt::Debug for IdTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdTokenSource::Reference(r) => f.debug_tuple("Reference").field(r).finish(),
            IdTokenSource::ProjectedFile(p) => f.debug_tuple("ProjectedFile").field(p).finish(),
            IdTokenSource::GithubActions { audience, .. } => f
                .debug_struct("GithubActions")
                .field("audience", audience)
                .field("request_token", &"** redacted **")
                .finish(),
        }
    }
}

impl IdTokenSource {
    /// The GitHub Actions endpoint from the runner's variables, if this is a job with
    /// `permissions: id-token: write`; `None` outside such a job.
    pub fn github_actions_from_env(audience: &str) -> Option<IdTokenSource> {
        let url = std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL").ok()?;
        let token = std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN").ok()?;
        Some(IdTokenSource::GithubActions {
            request_url: url,
            request_token: SecretString::from(token),
            audience: audience.to_owned(),
        })
    }

    /// Reads the token now, trimmed of surrounding whitespace.
    pub async fn token(&self) -> Result<Zeroizing<String>> {
        match self {
            IdTokenSource::Reference(r) => {
                let s = read_reference(r, "identity token").await?;
                Ok(Zeroizing::new(s.expose_str()?.trim().to_owned()))
            }
            IdTokenSource::ProjectedFile(path) => {
                let text = Zeroizing::new(tokio::fs::read_to_string(path).await.map_err(|e| {
                    Error::new(
                        ErrorKind::ConfigInvalid,
                        format!("cannot read the identity token {}", path.display()),
                    )
                    .with_source(e)
                    .with_hint(
                        "outside a pod, set the token file in cleo.toml or use another method",
                    )
                })?);
                Ok(Zeroizing::new(text.trim().to_owned()))
            }
            IdTokenSource::GithubActions {
                request_url,
                request_token,
                audience,
            } => github_token(request_url, request_token, audience).await,
        }
    }
}

/// Reads a login input (a secret id, a JWT) from an `env://` or `file://` reference.
/// A missing input is a broken auth set-up, so it is reported as `ConfigInvalid`,
/// never `NotFound`: callers that treat NotFound as "use a default" must not swallow it.
pub async fn read_reference(r: &SecretRef, what: &str) -> Result<Secret> {
    let builtin = Registry::with_builtin();
    let source = builtin.source_for(r).map_err(|e| {
        Error::new(
            ErrorKind::ConfigInvalid,
            format!(
                "the {what} must come from an env:// or file:// reference, not {}://",
                r.scheme()
            ),
        )
        .with_hint(e.hint().unwrap_or_default().to_owned())
    })?;
    source.fetch(r).await.map_err(|e| {
        let kind = if e.is_temporary() {
            e.kind()
        } else {
            ErrorKind::ConfigInvalid
        };
        Error::new(
            kind,
            format!(
                "cannot read the {what} from {}: {}",
                r.as_str(),
                e.message()
            ),
        )
        .with_hint(e.hint().unwrap_or_default().to_owned())
    })
}

async fn github_token(
    request_url: &str,
    request_token: &SecretString,
    audience: &str,
) -> Result<Zeroizing<String>> {
    let mut url = reqwest::Url::parse(request_url).map_err(|e| {
        Error::new(
            ErrorKind::ConfigInvalid,
            format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL ({e})"),
        )
    })?;
    url.query_pairs_mut().append_pair("audience", audience);
    // A client of its own: nothing of a backend's (headers, token) goes to GitHub.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| {
            Error::new(ErrorKind::Unexpected, "cannot build an HTTP client").with_source(e)
        })?;
    let bearer = Zeroizing::new(format!("Bearer {}", request_token.expose_secret()));
    let mut auth = reqwest::header::HeaderValue::from_str(&bearer).map_err(|_| {
        Error::new(
            ErrorKind::ConfigInvalid,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN has characters a header cannot carry",
        )
    })?;
    auth.set_sensitive(true);
    let response = client
        .get(url)
        .header(reqwest::header::AUTHORIZATION, auth)
        .send()
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                "cannot reach the GitHub Actions ID-token endpoint",
            )
            .with_source(e)
        })?;
    let status = response.status();
    let bytes = Zeroizing::new(
        response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default(),
    );
    if !status.is_success() {
        return Err(Error::new(
            if status.is_server_error() {
                ErrorKind::Unavailable
            } else {
                ErrorKind::Unauthenticated
            },
            format!(
                "the GitHub Actions ID-token endpoint answered HTTP {}",
                status.as_u16()
            ),
        )
        .with_hint("the workflow needs `permissions: id-token: write`"));
    }
    #[derive(Deserialize)]
    struct Answer {
        value: Zeroizing<String>,
    }
    let answer: Answer = serde_json::from_slice(&bytes).map_err(|_| {
        Error::new(
            ErrorKind::Unexpected,
            "the GitHub Actions ID-token endpoint did not answer {\"value\": ...}",
        )
    })?;
    Ok(answer.value)
}
