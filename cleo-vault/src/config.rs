//! The `[vault]` section of `cleo.toml`, merged with the standard environment
//! variables (`VAULT_ADDR`/`BAO_ADDR`, `VAULT_NAMESPACE`/`BAO_NAMESPACE`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use cleo_core::{Error, ErrorKind, Result};
use reqwest::Url;
use serde::Deserialize;

/// `[vault]` as written in `cleo.toml`. Holds no credential: tokens come from the
/// environment or token files, never from the config file.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    /// Server address, such as `https://vault.example.com:8200`.
    pub address: Option<String>,
    /// Several node addresses of one cluster, tried in turn when a node is down,
    /// sealed or in standby (instead of `address`). The token goes to these only.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// A file holding the token (read after `VAULT_TOKEN`/`BAO_TOKEN`, before `~/.vault-token`).
    pub token_file: Option<PathBuf>,
    /// A PEM bundle of CA certificates to trust besides the system's (else
    /// `VAULT_CACERT`/`BAO_CACERT`).
    pub ca_cert: Option<PathBuf>,
    /// A PEM client certificate for servers that require mutual TLS (else
    /// `VAULT_CLIENT_CERT`).
    pub client_cert: Option<PathBuf>,
    /// Its PEM (PKCS#8) private key, readable by the owner only (else `VAULT_CLIENT_KEY`).
    pub client_key: Option<PathBuf>,
    /// Enterprise/OpenBao namespace.
    pub namespace: Option<String>,
    /// Whole-request timeout, such as `"10s"` (default 30 s).
    pub timeout: Option<String>,
    /// Hosts allowed over plain `http://` besides loopback addresses.
    #[serde(default)]
    pub allow_http_hosts: Vec<String>,
    /// KV version per mount (`{ secret = 2 }`), skipping detection for those mounts.
    #[serde(default)]
    pub kv_versions: BTreeMap<String, u8>,
    /// How to authenticate (`[vault.auth]`); a token from the environment by default.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
}

/// `[vault.auth]`: how cleo gets its Vault token.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase", deny_unknown_fields)]
pub enum AuthConfig {
    /// `VAULT_TOKEN`/`BAO_TOKEN`, `token_file`, or `~/.vault-token` (the default).
    /// A struct variant so that stray keys (a pasted `token = ...`) are refused.
    Token {},
    /// AppRole login.
    Approle {
        /// Auth mount (default `approle`).
        #[serde(default = "approle_mount")]
        mount: String,
        /// The role id (an identifier, not a secret).
        role_id: String,
        /// An `env://` or `file://` reference to the secret id, read at every login.
        secret_id: String,
    },
    /// JWT/OIDC login.
    Jwt {
        /// Auth mount (default `jwt`).
        #[serde(default = "jwt_mount")]
        mount: String,
        /// The role to log in as.
        role: String,
        /// `"github"` for the GitHub Actions ID token, or an `env://`/`file://`
        /// reference to a JWT (re-read at every login).
        #[serde(default = "github")]
        jwt: String,
        /// The audience to ask GitHub for (default `vault`).
        #[serde(default)]
        audience: Option<String>,
    },
    /// Kubernetes: the pod's service-account token, re-read at every login (the
    /// kubelet rotates projected tokens).
    Kubernetes {
        /// Auth mount (default `kubernetes`).
        #[serde(default = "kubernetes_mount")]
        mount: String,
        /// The role to log in as.
        role: String,
        /// The token file (default: the standard service-account path).
        #[serde(default = "service_account_token")]
        token_path: PathBuf,
    },
}

fn kubernetes_mount() -> String {
    "kubernetes".into()
}
fn service_account_token() -> PathBuf {
    PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount/token")
}
fn approle_mount() -> String {
    "approle".into()
}
fn jwt_mount() -> String {
    "jwt".into()
}
fn github() -> String {
    "github".into()
}

impl fmt::Debug for VaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultConfig")
            .field("address", &self.address)
            .field("addresses", &self.addresses)
            .field("token_file", &self.token_file)
            .field("ca_cert", &self.ca_cert)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key)
            .field("namespace", &self.namespace)
            .field("timeout", &self.timeout)
            .field("allow_http_hosts", &self.allow_http_hosts)
            .field("kv_versions", &self.kv_versions)
            .field("auth", &self.auth)
            .finish()
    }
}

/// The settings a [`crate::VaultSource`] runs with, after merging config and environment.
#[derive(Clone, Debug)]
pub struct VaultSettings {
    /// Server address (validated), or `None` when neither config nor environment
    /// gives one. With several addresses, the first.
    pub address: Option<Url>,
    /// Every configured node address, `address` first; empty when there is none.
    pub addresses: Vec<Url>,
    /// Where the address came from, for messages (`VAULT_ADDR`, `cleo.toml`).
    pub address_origin: &'static str,
    /// Token file from the config.
    pub token_file: Option<PathBuf>,
    /// Extra CA certificates (PEM bundle) to trust.
    pub ca_cert: Option<PathBuf>,
    /// Client certificate and key for mutual TLS.
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// Namespace header value.
    pub namespace: Option<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// KV version overrides, keyed by mount path with a trailing `/`.
    pub kv_versions: BTreeMap<String, u8>,
    /// A login method, or `None` for a static token.
    pub login: Option<crate::login::LoginMethod>,
}

fn env_first(names: &[&'static str]) -> Option<(String, &'static str)> {
    names.iter().find_map(|n| {
        std::env::var(n)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (v.trim().to_owned(), *n))
    })
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::ConfigInvalid, message).with_backend("vault")
}

impl VaultSettings {
    /// Merges `config` with the environment. The config file's address wins over
    /// `VAULT_ADDR`, since a project file names the server on purpose.
    pub fn resolve(config: &VaultConfig) -> Result<VaultSettings> {
        if config.address.is_some() && !config.addresses.is_empty() {
            return Err(invalid(
                "[vault] has both `address` and `addresses`; keep one".into(),
            ));
        }
        let (address, address_origin) = match (&config.address, config.addresses.first()) {
            (Some(a), _) => (Some(a.clone()), "cleo.toml [vault] address"),
            (None, Some(a)) => (Some(a.clone()), "cleo.toml [vault] addresses"),
            (None, None) => match env_first(&["VAULT_ADDR", "BAO_ADDR"]) {
                Some((a, origin)) => (Some(a), origin),
                None => (None, "unset"),
            },
        };
        let address = address
            .map(|a| validate_address(&a, address_origin, &config.allow_http_hosts))
            .transpose()?;
        let mut addresses: Vec<Url> = address.iter().cloned().collect();
        for a in config.addresses.iter().skip(1) {
            addresses.push(validate_address(
                a,
                "cleo.toml [vault] addresses",
                &config.allow_http_hosts,
            )?);
        }
        let timeout = match &config.timeout {
            Some(t) => humantime::parse_duration(t)
                .map_err(|e| invalid(format!("[vault] timeout `{t}`: {e}")))?,
            None => Duration::from_secs(30),
        };
        if timeout < Duration::from_millis(100) || timeout > Duration::from_secs(600) {
            return Err(invalid(format!(
                "[vault] timeout must be between 100ms and 10m, not {}",
                humantime::format_duration(timeout)
            )));
        }
        let namespace = config
            .namespace
            .clone()
            .or_else(|| env_first(&["VAULT_NAMESPACE", "BAO_NAMESPACE"]).map(|(v, _)| v));
        let mut kv_versions = BTreeMap::new();
        for (mount, v) in &config.kv_versions {
            if *v != 1 && *v != 2 {
                return Err(invalid(format!(
                    "[vault] kv_versions.{mount} must be 1 or 2"
                )));
            }
            kv_versions.insert(format!("{}/", mount.trim_matches('/')), *v);
        }
        let login = config
            .auth
            .as_ref()
            .map(resolve_login)
            .transpose()?
            .flatten();
        let client_cert = config.client_cert.clone().or_else(|| {
            env_first(&["VAULT_CLIENT_CERT", "BAO_CLIENT_CERT"]).map(|(p, _)| PathBuf::from(p))
        });
        let client_key = config.client_key.clone().or_else(|| {
            env_first(&["VAULT_CLIENT_KEY", "BAO_CLIENT_KEY"]).map(|(p, _)| PathBuf::from(p))
        });
        let client_identity = match (client_cert, client_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "a client certificate needs both client_cert and client_key (or VAULT_CLIENT_CERT and VAULT_CLIENT_KEY)".into(),
                ));
            }
        };
        Ok(VaultSettings {
            client_identity,
            login,
            address,
            addresses,
            address_origin,
            token_file: config.token_file.clone(),
            ca_cert: config.ca_cert.clone().or_else(|| {
                env_first(&["VAULT_CACERT", "BAO_CACERT"]).map(|(p, _)| PathBuf::from(p))
            }),
            namespace,
            timeout,
            connect_timeout: Duration::from_secs(5).min(timeout),
            kv_versions,
        })
    }
}

fn resolve_login(auth: &AuthConfig) -> Result<Option<crate::login::LoginMethod>> {
    use crate::login::{JwtSource, LoginMethod};
    let reference = |what: &str, r: &str| {
        cleo_core::SecretRef::parse(r)
            .map_err(|e| invalid(format!("[vault.auth] {what}: {}", e.message())))
    };
    Ok(match auth {
        AuthConfig::Token {} => None,
        AuthConfig::Approle {
            mount,
            role_id,
            secret_id,
        } => Some(LoginMethod::AppRole {
            mount: mount.trim_matches('/').to_owned(),
            role_id: role_id.clone(),
            secret_id: reference("secret_id", secret_id)?,
        }),
        AuthConfig::Jwt {
            mount,
            role,
            jwt,
            audience,
        } => {
            let jwt = if jwt == "github" {
                let url = std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL")
                    .ok()
                    .filter(|v| !v.is_empty());
                let token = std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
                    .ok()
                    .filter(|v| !v.is_empty());
                match (url, token) {
                    (Some(request_url), Some(token)) => JwtSource::GithubActions {
                        request_url,
                        request_token: secrecy::SecretString::from(token),
                        audience: audience.clone().unwrap_or_else(|| "vault".into()),
                    },
                    _ => {
                        return Err(invalid(
                            "[vault.auth] jwt = \"github\" needs ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
                        )
                        .with_hint("run inside GitHub Actions with `permissions: id-token: write`, or set jwt to an env:// or file:// reference"));
                    }
                }
            } else {
                JwtSource::Reference(reference("jwt", jwt)?)
            };
            Some(LoginMethod::Jwt {
                mount: mount.trim_matches('/').to_owned(),
                role: role.clone(),
                jwt,
            })
        }
        AuthConfig::Kubernetes {
            mount,
            role,
            token_path,
        } => Some(LoginMethod::Kubernetes {
            mount: mount.trim_matches('/').to_owned(),
            role: role.clone(),
            token: reference("token_path", &format!("file://{}", token_path.display()))?,
        }),
    })
}

/// Checks the scheme and refuses plain HTTP to anything but loopback or a host the
/// config allows by name: a token sent over plain HTTP across a network is a leak.
fn validate_address(raw: &str, origin: &str, allow_http: &[String]) -> Result<Url> {
    let url = Url::parse(raw).map_err(|e| {
        invalid(format!(
            "the Vault address from {origin} is not a URL ({e})"
        ))
        .with_hint("it looks like https://vault.example.com:8200")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(format!(
            "the Vault address from {origin} carries user info; put credentials in VAULT_TOKEN, not the URL"
        )));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let host = url.host_str().unwrap_or_default();
            let loopback = host == "localhost"
                || host
                    .trim_matches(|c| c == '[' || c == ']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback && !allow_http.iter().any(|h| h == host) {
                return Err(invalid(format!(
                    "refusing plain http:// to {host} (from {origin}): the token would cross the network unencrypted"
                ))
                .with_hint(format!(
                    "use https://, or list the host in [vault] allow_http_hosts = [\"{host}\"] if you really mean it"
                )));
            }
        }
        other => {
            return Err(invalid(format!(
                "the Vault address from {origin} has scheme `{other}`; use https:// (or http:// on loopback)"
            )));
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback_or_by_name() {
        assert!(validate_address("http://127.0.0.1:8200", "t", &[]).is_ok());
        assert!(validate_address("http://localhost:8200", "t", &[]).is_ok());
        assert!(validate_address("http://[::1]:8200", "t", &[]).is_ok());
        assert!(validate_address("https://vault.example.com", "t", &[]).is_ok());
        let e = validate_address("http://vault.example.com", "t", &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
        assert!(e.to_string().contains("allow_http_hosts"), "{e}");
        assert!(
            validate_address(
                "http://vault.example.com",
                "t",
                &["vault.example.com".into()]
            )
            .is_ok()
        );
        assert!(validate_address("ftp://x", "t", &[]).is_err());
        assert!(validate_address("not a url", "t", &[]).is_err());
        assert!(validate_address("https://u:p@vault", "t", &[]).is_err());
    }

    #[test]
    fn auth_sections_refuse_unknown_keys() {
        let parse = |t: &str| {
            cleo_core::Config::parse(&t.replace("[auth]", "[vault.auth]"))
                .and_then(|c| c.section::<VaultConfig>("vault"))
                .map(|_| ())
        };
        assert!(
            parse("[auth]\nmethod = \"approle\"\nrole_id = \"r\"\nsecret_id = \"env://S\"\n")
                .is_ok()
        );
        let e = parse("[auth]\nmethod = \"approle\"\nrole_id = \"r\"\nsecret_id = \"env://S\"\nmout = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("mout"), "{e}");
        assert!(parse("[auth]\nmethod = \"token\"\ntoken = \"canary\"\n").is_err());
    }

    #[test]
    fn timeout_and_kv_versions_are_validated() {
        let c = VaultConfig {
            timeout: Some("soon".into()),
            ..Default::default()
        };
        assert_eq!(
            VaultSettings::resolve(&c).unwrap_err().kind(),
            ErrorKind::ConfigInvalid
        );
        let mut c = VaultConfig::default();
        c.kv_versions.insert("secret".into(), 3);
        assert!(VaultSettings::resolve(&c).is_err());
    }
}
