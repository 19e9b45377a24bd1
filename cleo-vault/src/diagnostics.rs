//! What `cleo inspect` and `cleo doctor` ask Vault about itself and about the token in
//! use: the health of each node, the token's identity and lifetime, the audit
//! devices. Everything here returns identifiers and flags, never a token or a value.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cleo_core::{Error, ErrorKind, Expiring, Result};
use reqwest::StatusCode;
use serde::Deserialize;

use crate::error::{from_status, from_transport};
use crate::source::{BACKEND, VaultSource};

/// A health answer is a few hundred bytes; anything much larger is not Vault.
const MAX_HEALTH_BODY: usize = 64 * 1024;

/// What `auth/token/lookup-self` says about the token cleo uses. Identifiers only:
/// the token itself (the answer's `id`) is never read into this struct.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenInfo {
    /// How cleo got the token: `token` (given to it) or the login method's name.
    pub method: String,
    /// Where the token came from (`VAULT_TOKEN`, a file path, `approle login`...).
    pub origin: String,
    /// The token's display name (`token`, `approle`, `jwt-<user>`...).
    pub display_name: String,
    /// The auth path that created it (`auth/token/create`, `auth/approle/login`).
    pub path: String,
    /// Its policies, as Vault lists them.
    pub policies: Vec<String>,
    /// The identity entity behind it; `None` for tokens without one (root tokens).
    pub entity_id: Option<String>,
    /// The accessor: an identifier that can look the token up or revoke it, but not
    /// use it.
    pub accessor: Option<String>,
    /// Time left; `None` for a token that never expires.
    pub ttl: Option<Duration>,
    /// Whether the token can be renewed.
    pub renewable: bool,
    /// `service` or `batch`.
    pub token_type: String,
    /// Whether it has no parent token.
    pub orphan: bool,
}

impl TokenInfo {
    /// Whether the token carries the `root` policy (unlimited access).
    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }
}

#[derive(Deserialize)]
struct Lookup {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    policies: Vec<String>,
    #[serde(default)]
    entity_id: String,
    #[serde(default)]
    accessor: String,
    #[serde(default)]
    ttl: u64,
    #[serde(default)]
    renewable: bool,
    #[serde(default, rename = "type")]
    token_type: String,
    #[serde(default)]
    orphan: bool,
}

/// One node's answer to `GET /v1/sys/health`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Health {
    /// The HTTP status (200 active, 429 standby, 472/473 replication standbys, 501
    /// not initialised, 503 sealed).
    pub status: u16,
    /// Whether the server has been initialised.
    pub initialized: bool,
    /// Whether the server is sealed (it then serves no secret).
    pub sealed: bool,
    /// Whether the node is a standby (it forwards requests to the active node).
    pub standby: bool,
    /// Whether the node is a performance standby.
    pub performance_standby: bool,
    /// The server's version.
    pub version: Option<String>,
    /// The cluster's name.
    pub cluster_name: Option<String>,
    /// How far the server's clock is ahead of this machine's (negative: behind), from
    /// the `Date` header (else the body's `server_time_utc`). Good to about a second.
    pub clock_skew: Option<f64>,
    /// How long the request took.
    pub round_trip: Duration,
}

/// The health of one configured node.
#[derive(Debug)]
pub struct NodeHealth {
    /// The node's address.
    pub address: String,
    /// Its answer, or why there was none.
    pub result: Result<Health>,
}

#[derive(Deserialize)]
struct HealthBody {
    #[serde(default)]
    initialized: bool,
    #[serde(default)]
    sealed: bool,
    #[serde(default)]
    standby: bool,
    #[serde(default)]
    performance_standby: bool,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    cluster_name: Option<String>,
    #[serde(default)]
    server_time_utc: Option<u64>,
}

/// One enabled audit device.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditDevice {
    /// Where it is mounted (`file/`).
    pub path: String,
    /// Its type (`file`, `syslog`, `socket`).
    pub kind: String,
}

/// What `GET /v1/sys/audit` told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditDevices {
    /// The devices enabled (possibly none).
    Listed(Vec<AuditDevice>),
    /// The token may not read `sys/audit` (usual for a least-privilege token).
    NotPermitted,
}

#[derive(Deserialize)]
struct AuditEntry {
    #[serde(default, rename = "type")]
    kind: String,
}

impl VaultSource {
    /// Every configured node address, in the order they are tried.
    pub fn addresses(&self) -> Vec<String> {
        self.settings
            .addresses
            .iter()
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .collect()
    }

    /// Where the address came from (`VAULT_ADDR`, `cleo.toml [vault] address`, ...).
    pub fn address_origin(&self) -> &'static str {
        self.settings.address_origin
    }

    /// The extra CA bundle trusted for TLS, if one is configured.
    pub fn ca_cert(&self) -> Option<&Path> {
        self.settings.ca_cert.as_deref()
    }

    /// Whether a client certificate is sent (mutual TLS).
    pub fn has_client_certificate(&self) -> bool {
        self.settings.client_identity.is_some()
    }

    /// The file a static token is read from, as the token lookup finds it: `None`
    /// when a login method is configured, when `VAULT_TOKEN` or `BAO_TOKEN` is set,
    /// or when there is no file to read. Lets `cleo doctor` check the file's mode
    /// even when the lookup refuses it.
    pub fn token_file(&self) -> Option<PathBuf> {
        if self.settings.login.is_some() {
            return None;
        }
        crate::auth::TokenProvider::new(self.settings.token_file.clone())
            .file()
            .map(|(path, _)| path)
    }

    /// Asks every configured node for `sys/health`, without a token: reachability,
    /// seal and standby state, version, and clock skew from the `Date` header.
    pub async fn health(&self) -> Vec<NodeHealth> {
        let Ok(http) = self.http() else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(http.bases.len());
        for base in &http.bases {
            let address = base.as_str().trim_end_matches('/').to_owned();
            let result = node_health(http, base, &address).await;
            out.push(NodeHealth { address, result });
        }
        out
    }

    /// Looks the token in use up (`auth/token/lookup-self`), logging in first if cleo
    /// logs in by itself. A token Vault refuses is an `Unauthenticated` error.
    pub async fn token_info(&self) -> Result<TokenInfo> {
        let http = self.http()?;
        let token = self.token().await?;
        let answer = http.get("auth/token/lookup-self", &[], &token).await?;
        if answer.status == StatusCode::FORBIDDEN || answer.status == StatusCode::UNAUTHORIZED {
            return Err(crate::source::rejected_token(&token));
        }
        if !answer.status.is_success() {
            return Err(from_status(
                answer.status,
                &answer.errors(),
                "auth/token/lookup-self",
            ));
        }
        let lookup: Lookup = answer
            .envelope()?
            .data
            .and_then(|d| serde_json::from_str(d.get()).ok())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Unexpected,
                    "Vault's answer to lookup-self does not describe a token",
                )
                .with_backend(BACKEND)
            })?;
        // Vault reports ttl 0 for a token without expiry; a login's own expiry (known
        // to cleo) is the fallback when the server sends none.
        let ttl = match lookup.ttl {
            0 => token
                .expires_at()
                .and_then(|at| at.duration_since(SystemTime::now()).ok()),
            s => Some(Duration::from_secs(s)),
        };
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        Ok(TokenInfo {
            method: self.login_method().unwrap_or("token").to_owned(),
            origin: token.origin().to_owned(),
            display_name: lookup.display_name,
            path: lookup.path,
            policies: lookup.policies,
            entity_id: non_empty(lookup.entity_id),
            accessor: non_empty(lookup.accessor).or_else(|| token.accessor().map(str::to_owned)),
            ttl,
            renewable: lookup.renewable,
            token_type: lookup.token_type,
            orphan: lookup.orphan,
        })
    }

    /// Lists the enabled audit devices (`GET /v1/sys/audit`, which needs `sudo`).
    pub async fn audit_devices(&self) -> Result<AuditDevices> {
        let http = self.http()?;
        let token = self.token().await?;
        let answer = http.get("sys/audit", &[], &token).await?;
        if answer.status == StatusCode::FORBIDDEN {
            return Ok(AuditDevices::NotPermitted);
        }
        if !answer.status.is_success() {
            return Err(from_status(answer.status, &answer.errors(), "sys/audit"));
        }
        let devices: std::collections::BTreeMap<String, AuditEntry> = answer
            .envelope()?
            .data
            .and_then(|d| serde_json::from_str(d.get()).ok())
            .unwrap_or_default();
        Ok(AuditDevices::Listed(
            devices
                .into_iter()
                .map(|(path, e)| AuditDevice { path, kind: e.kind })
                .collect(),
        ))
    }
}

async fn node_health(
    http: &crate::http::Http,
    base: &reqwest::Url,
    address: &str,
) -> Result<Health> {
    let mut url = base.clone();
    url.set_path(&format!(
        "{}/v1/sys/health",
        base.path().trim_end_matches('/')
    ));
    let transport = |e| from_transport(e, address, http.timeout.as_secs_f64());
    let sent = SystemTime::now();
    let started = std::time::Instant::now();
    // No token: sys/health is unauthenticated, and a health probe has no reason to
    // carry one to a node that may not be who it claims.
    let mut response = http.client.get(url).send().await.map_err(transport)?;
    let round_trip = started.elapsed();
    let status = response.status().as_u16();
    let date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_HEALTH_BODY {
            return Err(not_vault(address, status));
        }
        body.extend_from_slice(&chunk);
    }
    // Vault answers health with these statuses and a JSON body; anything else is a
    // proxy, another service, or a broken node.
    if !matches!(status, 200 | 429 | 472 | 473 | 501 | 503) {
        return Err(not_vault(address, status));
    }
    let parsed: HealthBody =
        serde_json::from_slice(&body).map_err(|_| not_vault(address, status))?;
    // The server stamped its time somewhere in the round trip; the midpoint is the
    // best guess of when, and the Date header's whole seconds add up to one more.
    let midpoint = sent + round_trip / 2;
    let clock_skew = date.map(|d| signed_seconds(d, midpoint) + 0.5).or_else(|| {
        parsed
            .server_time_utc
            .map(|s| signed_seconds(UNIX_EPOCH + Duration::from_secs(s), midpoint) + 0.5)
    });
    Ok(Health {
        status,
        initialized: parsed.initialized,
        sealed: parsed.sealed,
        standby: parsed.standby,
        performance_standby: parsed.performance_standby,
        version: parsed.version,
        cluster_name: parsed.cluster_name,
        clock_skew,
        round_trip,
    })
}

fn not_vault(address: &str, status: u16) -> Error {
    Error::new(
        ErrorKind::Unexpected,
        format!("{address}/v1/sys/health answered HTTP {status} with something that is not a Vault health answer"),
    )
    .with_backend(BACKEND)
    .with_hint("check that the address points at Vault and not at a proxy or another service")
}

/// `a - b` in seconds, negative when `a` is earlier.
fn signed_seconds(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// Parses the `Date` header (all three forms RFC 9110 allows).
fn parse_http_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_parse_to_the_right_second() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 784_111_777);
        let t = parse_http_date("Fri, 04 Dec 2026 05:10:43 GMT").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_796_361_043
        );
        let leap = parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT").unwrap();
        assert_eq!(
            leap.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_709_164_800
        );
        for bad in [
            "",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 08:49:37 CET",
        ] {
            assert!(parse_http_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn skew_is_signed() {
        let now = SystemTime::now();
        assert!(signed_seconds(now + Duration::from_secs(3), now) > 2.9);
        assert!(signed_seconds(now, now + Duration::from_secs(3)) < -2.9);
    }
}
