//! The HTTP layer: one `reqwest` client, the Vault headers, and bodies read into
//! wiping buffers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cleo_core::{Error, ErrorKind, Result, Zeroizing};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::auth::VaultToken;
use crate::config::VaultSettings;
use crate::error::from_transport;

/// Larger answers are refused: KV secrets are small, and a confused proxy or a
/// hostile server should not make cleo buffer gigabytes.
pub(crate) const MAX_BODY: usize = 8 * 1024 * 1024;

/// Characters escaped in one path segment (RFC 3986 `pchar` minus a few to be safe).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The common envelope of every Vault response. Borrows `data` from the body, so the
/// secret bytes stay in the one wiping buffer.
#[derive(Deserialize)]
pub(crate) struct Envelope<'a> {
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
    #[serde(default)]
    pub lease_id: String,
    #[serde(default)]
    pub lease_duration: u64,
    #[serde(default)]
    pub renewable: bool,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
    #[serde(default)]
    pub errors: Option<Vec<String>>,
}

/// A status and a body that wipes itself.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Zeroizing<Vec<u8>>,
    /// `Retry-After` in seconds, when the server sent one (429, 503).
    pub retry_after: Option<Duration>,
}

impl Answer {
    /// The envelope, or an `Unexpected` error that never quotes the body.
    pub fn envelope(&self) -> Result<Envelope<'_>> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::new(
                ErrorKind::Unexpected,
                format!(
                    "Vault answered HTTP {} with a body that is not a Vault JSON response ({} bytes, JSON error at line {} column {})",
                    self.status.as_u16(),
                    self.body.len(),
                    e.line(),
                    e.column()
                ),
            )
            .with_backend("vault")
            .with_hint("check that the address points at Vault and not at a proxy or another service")
        })
    }

    /// The server's `errors` array, or nothing if the body is not an envelope.
    pub fn errors(&self) -> Vec<String> {
        self.envelope()
            .ok()
            .and_then(|e| e.errors)
            .unwrap_or_default()
    }
}

/// Reads a client certificate and its key into a TLS identity. The key file must be
/// private to its owner, like any other file cleo reads a secret from.
fn client_identity(cert: &std::path::Path, key: &std::path::Path) -> Result<reqwest::Identity> {
    use std::os::unix::fs::PermissionsExt;
    let read = |p: &std::path::Path, what: &str| {
        std::fs::read(p).map(Zeroizing::new).map_err(|e| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!("cannot read the client {what} {}", p.display()),
            )
            .with_source(e)
            .with_backend("vault")
            .with_hint("check [vault] client_cert/client_key or VAULT_CLIENT_CERT/VAULT_CLIENT_KEY")
        })
    };
    if let Ok(meta) = std::fs::metadata(key) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o027 != 0 {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!("refusing the client key {}: its mode {mode:04o} lets other users read or change it", key.display()),
            )
            .with_backend("vault")
            .with_hint(format!("run `chmod 600 {}`", key.display())));
        }
    }
    let mut pem = read(cert, "certificate")?;
    pem.push(b'\n');
    pem.extend_from_slice(&read(key, "key")?);
    reqwest::Identity::from_pem(&pem).map_err(|e| {
        Error::new(
            ErrorKind::ConfigInvalid,
            format!(
                "{} and {} are not a PEM certificate and PKCS#8 key",
                cert.display(),
                key.display()
            ),
        )
        .with_source(e)
        .with_backend("vault")
    })
}

pub(crate) struct Http {
    pub(crate) client: reqwest::Client,
    pub(crate) bases: Vec<Url>,
    /// The node that answered last; requests start there.
    preferred: AtomicUsize,
    /// The newest `X-Vault-Index` the cluster gave us (after a login, say). Sent back
    /// with `X-Vault-Inconsistent: forward-active-node`, so a standby that has not
    /// caught up forwards the request instead of answering from older state.
    index: std::sync::Mutex<Option<HeaderValue>>,
    pub(crate) timeout: Duration,
}

impl Http {
    pub fn new(bases: Vec<Url>, settings: &VaultSettings) -> Result<Http> {
        let mut headers = HeaderMap::new();
        // The Vault CLI sends it; servers may require it to block browser-based SSRF.
        headers.insert("X-Vault-Request", HeaderValue::from_static("true"));
        if let Some(ns) = &settings.namespace {
            let v = HeaderValue::from_str(ns).map_err(|_| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    "the Vault namespace has characters an HTTP header cannot carry",
                )
                .with_backend("vault")
                .with_hint("check VAULT_NAMESPACE or [vault] namespace for a stray newline")
            })?;
            headers.insert("X-Vault-Namespace", v);
        }
        let mut builder = reqwest::Client::builder();
        if let Some(path) = &settings.ca_cert {
            let pem = std::fs::read(path).map_err(|e| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("cannot read the CA bundle {}", path.display()),
                )
                .with_source(e)
                .with_backend("vault")
                .with_hint("check [vault] ca_cert or VAULT_CACERT")
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("{} is not a PEM certificate bundle", path.display()),
                )
                .with_source(e)
                .with_backend("vault")
            })?;
            if certs.is_empty() {
                return Err(Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("{} holds no certificate", path.display()),
                )
                .with_backend("vault"));
            }
            builder = builder.tls_certs_merge(certs);
        }
        if let Some((cert, key)) = &settings.client_identity {
            builder = builder.identity(client_identity(cert, key)?);
        }
        let client = builder
            .default_headers(headers)
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            // Redirects would carry the token to wherever the server points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cleo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    "cannot build the HTTP client for Vault",
                )
                .with_source(e)
                .with_backend("vault")
            })?;
        Ok(Http {
            client,
            bases,
            preferred: AtomicUsize::new(0),
            index: std::sync::Mutex::new(None),
            timeout: settings.timeout,
        })
    }

    /// The address requests go to first.
    pub fn address(&self) -> &str {
        self.bases[self.preferred.load(Ordering::Relaxed) % self.bases.len()]
            .as_str()
            .trim_end_matches('/')
    }

    /// `GET /v1/<api_path>` where `api_path` is made of already-decoded segments.
    pub async fn get(
        &self,
        api_path: &str,
        query: &[(&str, &str)],
        token: &VaultToken,
    ) -> Result<Answer> {
        self.send(reqwest::Method::GET, api_path, query, Some(token), None)
            .await
    }

    /// `POST /v1/<api_path>` with a JSON body that may hold secrets (a login's
    /// secret id or JWT): it is serialised into a wiping buffer.
    pub async fn post(
        &self,
        api_path: &str,
        token: Option<&VaultToken>,
        body: Zeroizing<Vec<u8>>,
    ) -> Result<Answer> {
        self.send(reqwest::Method::POST, api_path, &[], token, Some(body))
            .await
    }

    /// Sends to the preferred node; on a transport failure, or an answer that means
    /// "not here" (5xx from a sealed, standby or leaderless node, or a redirect, which
    /// is never followed), tries the next configured node. Only configured nodes ever
    /// see the token.
    async fn send(
        &self,
        method: reqwest::Method,
        api_path: &str,
        query: &[(&str, &str)],
        token: Option<&VaultToken>,
        body: Option<Zeroizing<Vec<u8>>>,
    ) -> Result<Answer> {
        let encoded: Vec<String> = api_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
            .collect();
        let token_header = match token {
            Some(token) => {
                let mut h = HeaderValue::from_str(token.expose_secret()).map_err(|_| {
                    Error::new(
                        ErrorKind::Unauthenticated,
                        format!(
                            "the Vault token from {} has characters an HTTP header cannot carry",
                            token.origin()
                        ),
                    )
                    .with_backend("vault")
                    .with_hint(
                        "a token is one line of printable text; check for a stray newline or quote",
                    )
                })?;
                h.set_sensitive(true);
                Some(h)
            }
            None => None,
        };
        let first = self.preferred.load(Ordering::Relaxed);
        let n = self.bases.len();
        let mut last: Option<Result<Answer>> = None;
        for i in 0..n {
            let idx = (first + i) % n;
            let base = &self.bases[idx];
            let mut url = base.clone();
            url.set_path(&format!(
                "{}/v1/{}",
                base.path().trim_end_matches('/'),
                encoded.join("/")
            ));
            if !query.is_empty() {
                url.query_pairs_mut().extend_pairs(query);
            }
            tracing::trace!(method = %method, node = %base.as_str().trim_end_matches('/'), path = %url.path(), "vault request");
            let mut request = self.client.request(method.clone(), url);
            if let Some(index) = self.index.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                request = request
                    .header("X-Vault-Index", index)
                    .header("X-Vault-Inconsistent", "forward-active-node");
            }
            if let Some(h) = &token_header {
                request = request.header("X-Vault-Token", h.clone());
            }
            if let Some(body) = &body {
                // reqwest needs an owned body; the copy it makes lives in its own buffers
                // (see THREAT_MODEL.md), and ours is wiped when `body` drops.
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_vec());
            }
            let address = base.as_str().trim_end_matches('/');
            let outcome = self.exchange(request, address).await;
            let next = match &outcome {
                Err(e) => e.kind() == ErrorKind::Unavailable,
                Ok(a) => a.status.is_server_error() || a.status.is_redirection(),
            };
            if !next || n == 1 {
                if outcome.is_ok() && idx != first {
                    tracing::debug!(
                        node = address,
                        "vault node answered; preferring it from now on"
                    );
                    self.preferred.store(idx, Ordering::Relaxed);
                }
                return outcome;
            }
            tracing::debug!(
                node = address,
                "vault node unavailable; trying the next one"
            );
            last = Some(outcome);
        }
        last.expect("at least one address")
    }

    async fn exchange(&self, request: reqwest::RequestBuilder, address: &str) -> Result<Answer> {
        let transport = |e| from_transport(e, address, self.timeout.as_secs_f64());
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        if let Some(index) = response.headers().get("X-Vault-Index") {
            *self.index.lock().unwrap_or_else(|e| e.into_inner()) = Some(index.clone());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let hint = response.content_length().unwrap_or(0).min(MAX_BODY as u64) as usize;
        let mut body = Zeroizing::new(Vec::with_capacity(hint));
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(Error::new(
                    ErrorKind::Unexpected,
                    format!("Vault's answer is larger than {MAX_BODY} bytes; refusing it"),
                )
                .with_backend("vault"));
            }
            if body.len() + chunk.len() > body.capacity() {
                // Grow by hand so the old allocation is wiped, not freed with a copy in it.
                let mut bigger = Zeroizing::new(Vec::with_capacity(
                    (body.len() + chunk.len()).max(body.capacity() * 2),
                ));
                bigger.extend_from_slice(&body);
                body = bigger;
            }
            body.extend_from_slice(&chunk);
        }
        tracing::trace!(status = status.as_u16(), bytes = body.len(), "vault answer");
        Ok(Answer {
            status,
            body,
            retry_after,
        })
    }
}
