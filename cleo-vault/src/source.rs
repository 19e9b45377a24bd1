//! `vault://<mount>/<path>[?version=N][#field]`: KV v1 and v2 (detected per mount),
//! and plain reads of other engines (dynamic credentials) with their lease.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use cleo_core::json::extract_field;
use cleo_core::{
    Cache, CacheSettings, CachedCredentialProvider, CredentialProvider, Error, ErrorKind, Lease,
    Result, Secret, SecretMeta, SecretRef, SecretSource, Zeroizing, async_trait,
};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::auth::{TokenProvider, VaultToken};
use crate::config::VaultSettings;
use crate::error::from_status;
use crate::http::{Answer, Http};
use crate::login::LoginProvider;

/// The backend name in metadata, errors and logs.
pub const BACKEND: &str = "vault";

#[derive(Clone, Debug, PartialEq, Eq)]
enum Engine {
    Kv1,
    Kv2,
    Other(String),
}

#[derive(Clone, Debug)]
struct Mount {
    /// With a trailing `/`, as Vault reports it.
    path: String,
    engine: Engine,
}

/// Reads secrets from Vault or OpenBao.
pub struct VaultSource {
    pub(crate) settings: VaultSettings,
    http: Option<Arc<Http>>,
    auth: Arc<dyn CredentialProvider<Credential = VaultToken>>,
    /// Whether `auth` can get a new token after one is rejected (a login can; a
    /// static token cannot).
    relogin: bool,
    mounts: RwLock<Vec<Mount>>,
    /// After Vault rejects our credentials, the same error is answered locally for a
    /// second: a revoked token must not turn a hot read loop into a request storm.
    rejected: std::sync::Mutex<Option<(std::time::Instant, Error)>>,
    /// Leases handed out through this source, revoked by `close`.
    leases: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// The login behind `auth`, when cleo logs in by itself (its token can be revoked).
    login: Option<Arc<LoginProvider>>,
}

/// How long a rejection is answered without asking Vault again.
const REJECTION_HOLD: Duration = Duration::from_secs(1);

impl fmt::Debug for VaultSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultSource")
            .field(
                "address",
                &self.settings.address.as_ref().map(|u| u.as_str()),
            )
            .field("auth", &self.auth)
            .finish()
    }
}

#[derive(Deserialize)]
struct MountInfo {
    path: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    options: Option<MountOptions>,
}

#[derive(Deserialize)]
struct MountOptions {
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct Kv2Data<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    metadata: Option<Kv2Metadata>,
}

#[derive(Deserialize, Default)]
struct Kv2Metadata {
    #[serde(default)]
    version: u64,
    #[serde(default)]
    deletion_time: String,
    #[serde(default)]
    destroyed: bool,
}

impl VaultSource {
    /// A source using `settings`: a login method if one is configured (its token
    /// cached and replaced ahead of expiry), else the standard token lookup.
    pub fn new(settings: VaultSettings) -> Result<VaultSource> {
        VaultSource::with_token_cache(settings, CacheSettings::default())
    }

    /// Like [`VaultSource::new`], with the settings (audit log, backoff) of the cache
    /// that keeps a login's token. It makes one try per refresh: the read that needs
    /// the token already retries, and nesting the two would multiply the logins.
    pub fn with_token_cache(
        settings: VaultSettings,
        token_cache: CacheSettings,
    ) -> Result<VaultSource> {
        let token_cache = CacheSettings {
            retry_attempts: 1,
            ..token_cache
        };
        let http = VaultSource::http_for(&settings)?;
        match (&settings.login, &http) {
            (Some(method), Some(http)) => {
                let login = Arc::new(LoginProvider::new(Arc::clone(http), method.clone()));
                let cache = Cache::new(token_cache)?;
                let auth = Arc::new(CachedCredentialProvider::new(
                    Arc::clone(&login),
                    cache,
                    BACKEND,
                ));
                Ok(VaultSource {
                    http: Some(Arc::clone(http)),
                    settings,
                    auth,
                    relogin: true,
                    mounts: RwLock::new(Vec::new()),
                    rejected: std::sync::Mutex::new(None),
                    leases: Default::default(),
                    login: Some(login),
                })
            }
            _ => {
                let auth = Arc::new(TokenProvider::new(settings.token_file.clone()));
                VaultSource::with_auth(settings, auth)
            }
        }
    }

    fn http_for(settings: &VaultSettings) -> Result<Option<Arc<Http>>> {
        if settings.addresses.is_empty() {
            return Ok(None);
        }
        Http::new(settings.addresses.clone(), settings).map(|h| Some(Arc::new(h)))
    }

    /// A source using `settings` and a given credential provider.
    pub fn with_auth(
        settings: VaultSettings,
        auth: Arc<dyn CredentialProvider<Credential = VaultToken>>,
    ) -> Result<VaultSource> {
        let http = VaultSource::http_for(&settings)?;
        Ok(VaultSource {
            settings,
            http,
            auth,
            relogin: false,
            mounts: RwLock::new(Vec::new()),
            rejected: std::sync::Mutex::new(None),
            leases: Default::default(),
            login: None,
        })
    }

    /// The login method's name (`approle`, `jwt`, `kubernetes`) when cleo logs in by
    /// itself; `None` when it uses a token it was given.
    pub fn login_method(&self) -> Option<&'static str> {
        self.settings.login.as_ref().map(|m| m.name())
    }

    /// Revokes the token cleo logged in for, if it holds one, and with it every lease
    /// that token created. A token cleo was given (`VAULT_TOKEN`, a token file) is
    /// never revoked. Returns whether a token was revoked; later reads log in anew.
    pub async fn revoke_login_token(&self) -> Result<bool> {
        let Some(login) = &self.login else {
            return Ok(false);
        };
        let revoked = login.revoke().await.map_err(|e| e.with_backend(BACKEND));
        // Drop the cached copy too, so no later read sends the revoked token.
        self.auth.invalidate();
        revoked
    }

    /// Revokes the leases this source handed out and forgets them.
    async fn revoke_leases(&self) -> Result<()> {
        let leases: Vec<String> =
            std::mem::take(&mut *self.leases.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
        if leases.is_empty() {
            return Ok(());
        }
        let http = self.http()?;
        let token = self.auth.credential().await?;
        let mut first_error = None;
        for id in leases {
            let body = serde_json::to_vec(&serde_json::json!({ "lease_id": id })).map_err(|e| {
                Error::new(ErrorKind::Unexpected, "cannot encode a lease revocation").with_source(e)
            })?;
            match http
                .post("sys/leases/revoke", Some(&token), Zeroizing::new(body))
                .await
            {
                Ok(a) if a.status.is_success() || a.status == StatusCode::BAD_REQUEST => {
                    tracing::debug!(lease_id = %id, "vault lease revoked");
                }
                Ok(a) => {
                    first_error.get_or_insert(
                        self.status_error(http, &a, "sys/leases/revoke", &token)
                            .await,
                    );
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The token reads use now (logging in or renewing if needed). For inspection:
    /// its `Debug` shows origin, accessor and expiry, never the token.
    pub async fn token(&self) -> Result<Arc<VaultToken>> {
        self.auth.credential().await
    }

    /// Renews `previous`'s lease for the duration it was granted. A renewal that
    /// comes back shorter (the lease's max TTL is near) is marked not renewable, so
    /// the next refresh fetches a new secret before the old one runs out.
    async fn renew_lease(
        &self,
        reference: &SecretRef,
        previous: &Secret,
        lease: &Lease,
    ) -> Result<Secret> {
        let http = self.http()?;
        let token = self.auth.credential().await?;
        let asked = lease.duration.as_secs();
        let body =
            serde_json::to_vec(&serde_json::json!({ "lease_id": lease.id, "increment": asked }))
                .map_err(|e| {
                    Error::new(ErrorKind::Unexpected, "cannot encode a lease renewal")
                        .with_source(e)
                })?;
        let fetched_at = SystemTime::now();
        let answer = http
            .post("sys/leases/renew", Some(&token), Zeroizing::new(body))
            .await?;
        if answer.status == StatusCode::BAD_REQUEST || answer.status == StatusCode::NOT_FOUND {
            // The lease is gone (revoked, or past its max TTL): fetch a new secret.
            tracing::debug!(lease_id = %lease.id, "lease cannot be renewed; fetching anew");
            return self.read(reference).await;
        }
        if !answer.status.is_success() {
            return Err(self
                .status_error(http, &answer, "sys/leases/renew", &token)
                .await);
        }
        let envelope = answer.envelope()?;
        let capped = envelope.lease_duration < asked;
        tracing::debug!(lease_id = %lease.id, ttl_s = envelope.lease_duration, capped, "vault lease renewed");
        let old = previous.meta();
        let mut meta = SecretMeta::new(old.reference.clone(), BACKEND, fetched_at)
            .with_warnings(envelope.warnings.clone().unwrap_or_default())
            .with_lease(Lease {
                id: if envelope.lease_id.is_empty() {
                    lease.id.clone()
                } else {
                    envelope.lease_id.clone()
                },
                duration: Duration::from_secs(envelope.lease_duration),
                renewable: envelope.renewable && !capped,
            });
        if let Some(v) = &old.version {
            meta = meta.with_version(v.clone());
        }
        Ok(Secret::new(
            Zeroizing::new(previous.expose_secret().to_vec()),
            meta,
        ))
    }

    /// The credential provider, to invalidate its token by hand.
    pub fn auth_provider(&self) -> Arc<dyn CredentialProvider<Credential = VaultToken>> {
        Arc::clone(&self.auth)
    }

    pub(crate) fn http(&self) -> Result<&Http> {
        self.http.as_deref().ok_or_else(|| {
            Error::new(ErrorKind::ConfigInvalid, "no Vault address is configured")
                .with_backend(BACKEND)
                .with_hint("set VAULT_ADDR (or BAO_ADDR), or `address` in the [vault] section of cleo.toml")
        })
    }

    fn known_mount(&self, path: &str) -> Option<Mount> {
        let with_slash = format!("{path}/");
        let mounts = self.mounts.read().unwrap_or_else(|e| e.into_inner());
        mounts
            .iter()
            .filter(|m| with_slash.starts_with(&m.path))
            .max_by_key(|m| m.path.len())
            .cloned()
    }

    async fn mount_for(&self, http: &Http, path: &str, token: &VaultToken) -> Result<Mount> {
        if let Some(m) = self.known_mount(path) {
            return Ok(m);
        }
        if let Some((mount, version)) = self
            .settings
            .kv_versions
            .iter()
            .find(|(m, _)| format!("{path}/").starts_with(m.as_str()))
        {
            let m = Mount {
                path: mount.clone(),
                engine: if *version == 1 {
                    Engine::Kv1
                } else {
                    Engine::Kv2
                },
            };
            self.remember(m.clone());
            return Ok(m);
        }
        // Any token that may read a path may ask which mount serves it and how.
        let answer = http
            .get(&format!("sys/internal/ui/mounts/{path}"), &[], token)
            .await?;
        if !answer.status.is_success() {
            let e = self.status_error(http, &answer, path, token).await;
            return Err(if e.kind() == ErrorKind::PermissionDenied {
                e.with_hint(format!(
                    "the token may not read anything under {path}, or no secrets engine is mounted there; list mounts with `bao secrets list`"
                ))
            } else {
                e
            });
        }
        let envelope = answer.envelope()?;
        let info: MountInfo = envelope
            .data
            .and_then(|d| serde_json::from_str(d.get()).ok())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Unexpected,
                    format!("Vault did not describe the mount of {path}"),
                )
                .with_backend(BACKEND)
            })?;
        let engine = match (
            info.kind.as_str(),
            info.options.and_then(|o| o.version).as_deref(),
        ) {
            ("kv", Some("2")) => Engine::Kv2,
            ("kv" | "generic", _) => Engine::Kv1,
            (other, _) => Engine::Other(other.to_owned()),
        };
        let mount = Mount {
            path: if info.path.ends_with('/') {
                info.path
            } else {
                format!("{}/", info.path)
            },
            engine,
        };
        tracing::debug!(mount = %mount.path, engine = ?mount.engine, "vault mount detected");
        self.remember(mount.clone());
        Ok(mount)
    }

    fn remember(&self, mount: Mount) {
        let mut mounts = self.mounts.write().unwrap_or_else(|e| e.into_inner());
        if !mounts.iter().any(|m| m.path == mount.path) {
            mounts.push(mount);
        }
    }

    /// Turns a non-2xx answer into an error. A 403 may mean a bad token or a missing
    /// policy; one lookup-self tells which, so the message can say what to fix.
    async fn status_error(
        &self,
        http: &Http,
        answer: &Answer,
        path: &str,
        token: &VaultToken,
    ) -> Error {
        let e =
            from_status(answer.status, &answer.errors(), path).with_retry_after(answer.retry_after);
        if answer.status == StatusCode::FORBIDDEN
            && let Ok(lookup) = http.get("auth/token/lookup-self", &[], token).await
            && lookup.status == StatusCode::FORBIDDEN
        {
            return rejected_token(token);
        }
        e
    }

    async fn read(&self, reference: &SecretRef) -> Result<Secret> {
        self.http()?;
        let token = self.auth.credential().await?;
        self.read_with(reference, &token).await
    }

    /// A read with a token in hand, so a caller can tell a refused login (from
    /// `credential()`) from a refused token (from here).
    async fn read_with(&self, reference: &SecretRef, token: &VaultToken) -> Result<Secret> {
        let http = self.http()?;
        let path = reference.path();
        let mount = self.mount_for(http, path, token).await?;
        let rest = format!("{path}/")
            .strip_prefix(&mount.path)
            .map(|r| r.trim_end_matches('/').to_owned())
            .unwrap_or_default();
        if rest.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidReference,
                format!(
                    "{path} is the mount itself; name a secret under it, as in vault://{}my-secret",
                    mount.path
                ),
            ));
        }
        let version = reference.param("version");
        let (api_path, query): (String, Vec<(&str, &str)>) = match &mount.engine {
            Engine::Kv2 => (
                format!("{}data/{rest}", mount.path),
                version.map(|v| vec![("version", v)]).unwrap_or_default(),
            ),
            engine => {
                if version.is_some() {
                    let what = match engine {
                        Engine::Other(kind) => format!("a `{kind}` engine"),
                        _ => "a KV version 1 mount".to_owned(),
                    };
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "?version= needs a KV version 2 mount, but {} is {what}",
                            mount.path
                        ),
                    )
                    .with_hint("remove ?version=, or move the secret to a KV v2 mount"));
                }
                (path.to_owned(), Vec::new())
            }
        };
        let fetched_at = SystemTime::now();
        let answer = http.get(&api_path, &query, token).await?;

        // A KV v2 mount read through the v1 API (a wrong kv_versions override) answers
        // with this warning instead of the secret.
        if mount.engine == Engine::Kv1
            && let Ok(env) = answer.envelope()
            && env
                .warnings
                .iter()
                .flatten()
                .any(|w| w.contains("versioned K/V"))
        {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "{} is a KV version 2 mount, but it was read as version 1",
                    mount.path
                ),
            )
            .with_hint(format!(
                "remove `{}` from [vault] kv_versions (or set it to 2)",
                mount.path.trim_end_matches('/')
            )));
        }
        if answer.status == StatusCode::NOT_FOUND
            && mount.engine == Engine::Kv2
            && (rest.starts_with("data/") || rest.starts_with("metadata/"))
        {
            let bare = rest.split_once('/').map(|(_, r)| r).unwrap_or_default();
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("no secret at {path}: `{}` is part of the KV v2 API path, not of the secret's path", rest.split('/').next().unwrap_or_default()),
            )
            .with_hint(format!("write the reference as vault://{}{bare}", mount.path)));
        }
        if answer.status == StatusCode::NOT_FOUND && mount.engine == Engine::Kv2 {
            // KV v2 answers 404 with metadata for deleted and destroyed versions.
            if let Ok(env) = answer.envelope()
                && let Some(data) = env.data
                && let Ok(kv) = serde_json::from_str::<Kv2Data>(data.get())
                && let Some(meta) = kv.metadata
            {
                if meta.destroyed {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        format!("version {} of {path} was destroyed", meta.version),
                    )
                    .with_hint("destroyed versions cannot be recovered; read another ?version= or write a new one"));
                }
                if !meta.deletion_time.is_empty() {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        format!("version {} of {path} was deleted at {}", meta.version, meta.deletion_time),
                    )
                    .with_hint(format!("restore it with `bao kv undelete -versions={} {path}`, or read another ?version=", meta.version)));
                }
            }
        }
        if answer.status == StatusCode::NOT_FOUND
            && let Some(v) = version
        {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("{path} has no version {v}, or does not exist"),
            )
            .with_hint(format!(
                "list its versions with `bao kv metadata get {path}`"
            )));
        }
        if !answer.status.is_success() {
            // Policies name the API path (secret/data/app on KV v2), so the hint does too.
            return Err(self.status_error(http, &answer, &api_path, token).await);
        }

        let envelope = answer.envelope()?;
        let mut meta = SecretMeta::new(reference.as_str(), BACKEND, fetched_at);
        let data: &RawValue = match &mount.engine {
            Engine::Kv2 => {
                let kv: Kv2Data = envelope
                    .data
                    .and_then(|d| serde_json::from_str(d.get()).ok())
                    .ok_or_else(|| unexpected_shape(path))?;
                if let Some(m) = kv.metadata {
                    meta = meta.with_version(m.version.to_string());
                }
                kv.data
                    .filter(|d| d.get() != "null")
                    .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("{path} has no data")))?
            }
            _ => envelope.data.ok_or_else(|| unexpected_shape(path))?,
        };
        // KV v1 reports a TTL hint without a lease id; only a real lease expires.
        if !envelope.lease_id.is_empty() {
            self.leases
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(envelope.lease_id.clone());
            meta = meta.with_lease(Lease {
                id: envelope.lease_id.clone(),
                duration: Duration::from_secs(envelope.lease_duration),
                renewable: envelope.renewable,
            });
        }
        if let Some(w) = envelope.warnings.clone() {
            meta = meta.with_warnings(w);
        }
        let value = match reference.field() {
            Some(field) => extract_field(data.get().as_bytes(), field).map_err(|e| {
                if e.kind() == ErrorKind::NotFound {
                    Error::new(
                        ErrorKind::NotFound,
                        format!("{path} has no field `{field}`"),
                    )
                    .with_hint(e.hint().unwrap_or_default().to_owned())
                } else {
                    e
                }
            })?,
            None => Zeroizing::new(data.get().as_bytes().to_vec()),
        };
        Ok(Secret::new(value, meta))
    }
}

fn unexpected_shape(path: &str) -> Error {
    Error::new(
        ErrorKind::Unexpected,
        format!("Vault's answer for {path} does not have the shape of a secret"),
    )
    .with_hint("check that the reference names a secret and not a list or a mount")
}

#[async_trait]
impl SecretSource for VaultSource {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn schemes(&self) -> &'static [&'static str] {
        &[crate::SCHEME]
    }

    async fn refresh(&self, reference: &SecretRef, previous: &Secret) -> Result<Secret> {
        match previous.meta().lease.as_ref().filter(|l| l.renewable) {
            Some(lease) => self
                .renew_lease(reference, previous, lease)
                .await
                .map_err(|e| e.or_reference(reference.as_str()).with_backend(BACKEND)),
            None => self.fetch(reference).await,
        }
    }

    /// Revokes every lease this source handed out (dynamic credentials stop working
    /// at once instead of at their expiry), then the token it logged in for, if it
    /// logged in itself: a job that closes its client leaves no live credential. A
    /// token cleo was given (`VAULT_TOKEN`, a token file) is never revoked. Leases
    /// and tokens already gone are not an error.
    async fn close(&self) -> Result<()> {
        let leases = self.revoke_leases().await;
        let token = self.revoke_login_token().await.map(|_| ());
        leases.and(token)
    }

    async fn fetch(&self, reference: &SecretRef) -> Result<Secret> {
        if let Some((at, e)) = self
            .rejected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            && at.elapsed() < REJECTION_HOLD
        {
            return Err(e.clone().with_reference(reference.as_str()));
        }
        let result = async {
            self.http()?;
            // A refused login ends here: logging in again would only add failed
            // attempts (and can lock an AppRole out).
            let token = self.auth.credential().await?;
            match self.read_with(reference, &token).await {
                // The token was revoked or expired early: log in again, once.
                Err(e) if e.kind() == ErrorKind::Unauthenticated && self.relogin => {
                    tracing::debug!(reference = %reference, "token rejected; logging in again");
                    self.auth.invalidate();
                    let token = self.auth.credential().await?;
                    self.read_with(reference, &token).await
                }
                other => other,
            }
        }
        .await;
        if let Err(e) = &result
            && e.kind() == ErrorKind::Unauthenticated
        {
            *self.rejected.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((std::time::Instant::now(), e.clone()));
        }
        result.map_err(|e| e.or_reference(reference.as_str()).with_backend(BACKEND))
    }
}

/// The error for a token Vault refuses even to look up: invalid, expired or revoked.
pub(crate) fn rejected_token(token: &VaultToken) -> Error {
    Error::new(
        ErrorKind::Unauthenticated,
        format!(
            "Vault rejected the token from {}: it is invalid, expired or revoked",
            token.origin()
        ),
    )
    .with_backend(BACKEND)
    .with_hint(
        "log in again (`bao login`) or set a valid VAULT_TOKEN; a token created with \
         no_default_policy cannot look itself up and also lands here",
    )
}
