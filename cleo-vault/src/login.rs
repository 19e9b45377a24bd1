//! Logging in: AppRole and JWT/OIDC (a JWT from a file, a variable, or the GitHub
//! Actions ID-token endpoint). Each login is a [`CredentialProvider`]; wrapped in
//! the core cache, a token is replaced by a fresh login ahead of its expiry.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use cleo_core::id_token::read_reference;
use cleo_core::{
    CredentialProvider, Error, ErrorKind, Expiring, Result, SecretRef, Zeroizing, async_trait,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::auth::VaultToken;
use crate::error::server_message;
use crate::http::Http;

/// Where a login's JWT comes from (shared with the AWS web-identity login).
pub use cleo_core::id_token::IdTokenSource as JwtSource;

/// How to log in.
#[derive(Clone, Debug)]
pub enum LoginMethod {
    /// AppRole: a role id (an identifier) and a secret id read from a reference.
    AppRole {
        /// The auth mount, usually `approle`.
        mount: String,
        /// The role id.
        role_id: String,
        /// Where the secret id is (`file://` or `env://`), read at every login.
        secret_id: SecretRef,
    },
    /// JWT/OIDC: a JWT exchanged for a token under a role.
    Jwt {
        /// The auth mount, usually `jwt`.
        mount: String,
        /// The role to log in as.
        role: String,
        /// Where the JWT comes from.
        jwt: JwtSource,
    },
    /// Kubernetes: the service-account token exchanged for a Vault token under a role.
    Kubernetes {
        /// The auth mount, usually `kubernetes`.
        mount: String,
        /// The role to log in as.
        role: String,
        /// The token file (as a `file://` reference), read at every login.
        token: SecretRef,
    },
}

impl LoginMethod {
    /// The method's name as `[vault.auth] method` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            LoginMethod::AppRole { .. } => "approle",
            LoginMethod::Jwt { .. } => "jwt",
            LoginMethod::Kubernetes { .. } => "kubernetes",
        }
    }
}

/// Logs in with a [`LoginMethod`] every time it is asked for a credential; wrap it in
/// `cleo_core::CachedCredentialProvider` so that happens only ahead of expiry.
pub struct LoginProvider {
    http: Arc<Http>,
    method: LoginMethod,
    last: std::sync::Mutex<Option<Issued>>,
}

/// The token this provider handed out last, and what renewing it can still give.
#[derive(Clone)]
struct Issued {
    token: Arc<VaultToken>,
    /// The TTL the login granted; each renewal asks for this much again.
    ttl: u64,
    /// A renewal came back shorter than asked (max_ttl reached): log in next time.
    capped: bool,
}

impl fmt::Debug for LoginProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginProvider")
            .field("address", &self.http.address())
            .field("method", &self.method)
            .finish()
    }
}

#[derive(Deserialize)]
struct LoginAnswer {
    auth: Option<AuthBlock>,
}

#[derive(Deserialize)]
struct AuthBlock {
    client_token: SecretString,
    #[serde(default)]
    accessor: Option<String>,
    #[serde(default)]
    lease_duration: u64,
    #[serde(default)]
    renewable: bool,
}

#[derive(Serialize)]
struct AppRoleBody<'a> {
    role_id: &'a str,
    secret_id: &'a str,
}

#[derive(Serialize)]
struct JwtBody<'a> {
    role: &'a str,
    jwt: &'a str,
}

/// The claims worth naming in an error: who issued the token, for whom, about what.
#[derive(Deserialize, Default)]
struct Claims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    sub: Option<String>,
}

fn claims_of(jwt: &str) -> Claims {
    jwt.split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p.trim_end_matches('='))
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&Zeroizing::new(bytes)).ok())
        .unwrap_or_default()
}

/// Serialises a login body into a buffer sized up front, so it never reallocates
/// and leaves a copy of the secret behind.
fn body<T: Serialize>(value: &T, secret_len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(secret_len * 2 + 512));
    serde_json::to_writer(&mut *out, value).map_err(|e| {
        Error::new(ErrorKind::Unexpected, "cannot encode the login request").with_source(e)
    })?;
    Ok(out)
}

impl LoginProvider {
    pub(crate) fn new(http: Arc<Http>, method: LoginMethod) -> Self {
        LoginProvider {
            http,
            method,
            last: std::sync::Mutex::new(None),
        }
    }

    async fn jwt(&self, source: &JwtSource) -> Result<Zeroizing<String>> {
        source.token().await
    }

    async fn login(&self) -> Result<VaultToken> {
        let fetched_at = SystemTime::now();
        let (path, payload, jwt) = match &self.method {
            LoginMethod::AppRole {
                mount,
                role_id,
                secret_id,
            } => {
                let secret = read_reference(secret_id, "AppRole secret id").await?;
                let sid = secret.expose_str()?.trim();
                let b = body(
                    &AppRoleBody {
                        role_id,
                        secret_id: sid,
                    },
                    sid.len(),
                )?;
                (format!("auth/{mount}/login"), b, None)
            }
            LoginMethod::Jwt { mount, role, jwt } => {
                let token = self.jwt(jwt).await?;
                let b = body(&JwtBody { role, jwt: &token }, token.len())?;
                (format!("auth/{mount}/login"), b, Some(token))
            }
            LoginMethod::Kubernetes { mount, role, token } => {
                // Read directly, without file://'s mode check: the kubelet mounts
                // projected service-account tokens 0644 by default, inside the pod's
                // own file system.
                let path = token.path();
                let text = tokio::fs::read_to_string(path).await.map_err(|e| {
                    Error::new(ErrorKind::ConfigInvalid, format!("cannot read the service-account token {path}"))
                        .with_source(e)
                        .with_hint("outside a Kubernetes pod, set [vault.auth] token_path, or use another method")
                })?;
                let token = Zeroizing::new(text.trim().to_owned());
                drop(Zeroizing::new(text));
                let b = body(&JwtBody { role, jwt: &token }, token.len())?;
                (format!("auth/{mount}/login"), b, Some(token))
            }
        };
        let answer = self.http.post(&path, None, payload).await?;
        if !answer.status.is_success() {
            let said = server_message(&answer.errors());
            let status = answer.status.as_u16();
            return Err(match (&self.method, jwt) {
                (LoginMethod::Jwt { role, .. } | LoginMethod::Kubernetes { role, .. }, Some(token))
                    if status == 400 || status == 403 =>
                {
                    let c = claims_of(&token);
                    let aud = c.aud.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
                    Error::new(
                        ErrorKind::ConfigInvalid,
                        format!(
                            "Vault refused the JWT login for role `{role}` (HTTP {status}): server said \"{said}\"; the token has iss={}, aud={aud}, sub={}",
                            c.iss.as_deref().unwrap_or("-"),
                            c.sub.as_deref().unwrap_or("-"),
                        ),
                    )
                    .with_hint("compare the role's bound_audiences, bound_issuer and bound_claims with the token's claims")
                }
                _ if status == 400 || status == 401 || status == 403 => Error::new(
                    ErrorKind::Unauthenticated,
                    format!("Vault refused the {} login (HTTP {status}): server said \"{said}\"", self.method.name()),
                )
                .with_hint(
                    "check the role id and that the secret id is current (secret ids expire and may be usable a limited number of times); \
                     if it worked before, repeated failed logins may have locked the role out: see `bao read sys/locked-users`",
                ),
                _ => crate::error::from_status(answer.status, &answer.errors(), &path),
            }
            .with_backend("vault"));
        }
        let parsed: LoginAnswer = serde_json::from_slice(&answer.body).map_err(|_| {
            Error::new(
                ErrorKind::Unexpected,
                format!(
                    "Vault's answer to the {} login has no usable auth block",
                    self.method.name()
                ),
            )
            .with_backend("vault")
        })?;
        let auth = parsed.auth.ok_or_else(|| {
            Error::new(
                ErrorKind::Unexpected,
                format!(
                    "Vault's answer to the {} login has no auth block",
                    self.method.name()
                ),
            )
            .with_backend("vault")
        })?;
        let expires_at = (auth.lease_duration > 0).then(|| {
            fetched_at
                .checked_add(Duration::from_secs(auth.lease_duration))
                .unwrap_or(fetched_at + cleo_core::cache::MAX_TTL)
        });
        tracing::debug!(
            method = self.method.name(),
            accessor = auth.accessor.as_deref().unwrap_or("-"),
            ttl_s = auth.lease_duration,
            renewable = auth.renewable,
            "vault login"
        );
        Ok(VaultToken::new(
            auth.client_token,
            format!("{} login", self.method.name()),
            expires_at,
        )
        .with_accessor(auth.accessor)
        .with_renewable(auth.renewable))
    }
}

impl LoginProvider {
    /// `renew-self` for the same TTL the login granted. Returns the renewed token and
    /// whether the server capped it (gave less than asked).
    async fn renew(&self, issued: &Issued) -> Result<(VaultToken, bool)> {
        let fetched_at = SystemTime::now();
        let body = Zeroizing::new(format!("{{\"increment\":\"{}s\"}}", issued.ttl).into_bytes());
        let answer = self
            .http
            .post("auth/token/renew-self", Some(&issued.token), body)
            .await?;
        if !answer.status.is_success() {
            return Err(crate::error::from_status(
                answer.status,
                &answer.errors(),
                "auth/token/renew-self",
            ));
        }
        let parsed: LoginAnswer = serde_json::from_slice(&answer.body).map_err(|_| {
            Error::new(
                ErrorKind::Unexpected,
                "Vault's answer to renew-self has no auth block",
            )
        })?;
        let auth = parsed.auth.ok_or_else(|| {
            Error::new(
                ErrorKind::Unexpected,
                "Vault's answer to renew-self has no auth block",
            )
        })?;
        let capped = auth.lease_duration < issued.ttl;
        tracing::debug!(
            method = self.method.name(),
            accessor = issued.token.accessor().unwrap_or("-"),
            ttl_s = auth.lease_duration,
            capped,
            "vault token renewed"
        );
        let token = VaultToken::new(
            auth.client_token,
            format!("{} login", self.method.name()),
            Some(
                fetched_at
                    .checked_add(Duration::from_secs(auth.lease_duration))
                    .unwrap_or(fetched_at + cleo_core::cache::MAX_TTL),
            ),
        )
        .with_accessor(
            auth.accessor
                .or_else(|| issued.token.accessor().map(str::to_owned)),
        )
        .with_renewable(auth.renewable);
        Ok((token, capped))
    }

    /// Revokes the last token this provider logged in for (`revoke-self`), and with
    /// it the leases that token created. Returns whether there was one to revoke. The
    /// next `credential()` logs in anew.
    pub async fn revoke(&self) -> Result<bool> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(issued) = last else {
            return Ok(false);
        };
        let answer = self
            .http
            .post(
                "auth/token/revoke-self",
                Some(&issued.token),
                Zeroizing::new(b"{}".to_vec()),
            )
            .await?;
        // 403: already revoked or expired, which is what was asked for.
        if !answer.status.is_success() && answer.status != reqwest::StatusCode::FORBIDDEN {
            return Err(crate::error::from_status(
                answer.status,
                &answer.errors(),
                "auth/token/revoke-self",
            ));
        }
        tracing::info!(
            method = self.method.name(),
            accessor = issued.token.accessor().unwrap_or("-"),
            "vault login token revoked"
        );
        Ok(true)
    }

    fn remember(&self, issued: Option<Issued>) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = issued;
    }
}

#[async_trait]
impl CredentialProvider for LoginProvider {
    type Credential = VaultToken;

    /// Renews the last token while renewal still gives its full TTL; logs in when the
    /// token is not renewable (batch tokens), when a renewal was capped by max_ttl
    /// (so the next token comes before the wall, not after), or when renewal is
    /// refused (403: revoked). A temporary failure is returned as is: the cache keeps
    /// serving the current token until it expires and retries with backoff.
    async fn credential(&self) -> Result<Arc<VaultToken>> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(issued) = last.filter(|i| i.token.renewable() && !i.capped && i.ttl > 0) {
            match self.renew(&issued).await {
                Ok((token, capped)) => {
                    let token = Arc::new(token);
                    self.remember(Some(Issued {
                        token: Arc::clone(&token),
                        ttl: issued.ttl,
                        capped,
                    }));
                    return Ok(token);
                }
                Err(e) if e.is_temporary() => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, "renewal refused; logging in again");
                }
            }
        }
        let fetched_at = SystemTime::now();
        let token = Arc::new(self.login().await?);
        let ttl = token
            .expires_at()
            .and_then(|t| t.duration_since(fetched_at).ok())
            .map(|d| d.as_secs_f64().round() as u64)
            .unwrap_or(0);
        self.remember(Some(Issued {
            token: Arc::clone(&token),
            ttl,
            capped: false,
        }));
        Ok(token)
    }

    fn invalidate(&self) {
        self.remember(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_read_without_the_signature_and_debug_redacts() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"iss":"https://token.actions.githubusercontent.com","aud":"vault","sub":"repo:acme/cleo"}"#);
        let c = claims_of(&format!("e30.{payload}.sig"));
        assert_eq!(c.sub.as_deref(), Some("repo:acme/cleo"));
        assert!(claims_of("garbage").iss.is_none());
        let s = JwtSource::GithubActions {
            request_url: "http://x".into(),
            request_token: SecretString::from("canary-rt".to_owned()),
            audience: "vault".into(),
        };
        assert!(!format!("{s:?}").contains("canary"));
    }
}
