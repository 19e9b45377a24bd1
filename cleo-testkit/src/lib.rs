//! Test helpers shared by cleo's crates: TRACE-level log capture for leak checks,
//! the addresses of the real peers started by `scripts/test`, and unique names so
//! tests can run in parallel against one server.

pub mod cluster;
pub mod conformance;
pub mod dev;
pub mod fake_http;
pub mod github;
pub mod moto;

use std::io::Write;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tracing_subscriber::layer::SubscriberExt;

/// Every log line written in this test process, at TRACE level, from `tracing` and
/// from the `log` crate (reqwest, hyper).
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// All captured text so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

struct CapturedWriter(Captured);

impl Write for CapturedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (self.0)
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once per process) a TRACE-level subscriber that records every event
/// and span field, and returns the shared capture.
pub fn capture_logs() -> Captured {
    static CAPTURE: OnceLock<Captured> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            // The same always-on filter as cleo's own subscribers (CLI, Python):
            // everything at TRACE except the AWS SDK's TRACE, which logs signed
            // requests with their session tokens (cleo_core::logging).
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || CapturedWriter(writer.clone()))
                .finish()
                .with(tracing_subscriber::filter::filter_fn(
                    cleo_core::logging::is_safe,
                ));
            tracing_subscriber::util::SubscriberInitExt::try_init(subscriber)
                .expect("a global tracing subscriber was already installed");
            captured
        })
        .clone()
}

/// Panics with the offending context if any canary appears in `haystack`.
pub fn assert_no_canary(what: &str, haystack: &str, canaries: &[&str]) {
    for canary in canaries {
        assert!(!canary.is_empty(), "empty canary");
        if let Some(at) = haystack.find(canary) {
            let start = at.saturating_sub(120);
            panic!(
                "secret canary leaked into {what} at byte {at}: ...{}...",
                &haystack[start..at]
            );
        }
    }
}

/// A name no other test in any process uses: `prefix-<pid>-<n>-<nanos>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The OpenBao dev server that `scripts/test` started: `(address, root token)`.
///
/// Panics with instructions when it is not running: these tests need the real peer
/// and must fail loudly, not skip.
pub fn openbao() -> (String, String) {
    let addr = std::env::var("CLEO_TEST_VAULT_ADDR").ok();
    let token = std::env::var("CLEO_TEST_VAULT_TOKEN").ok();
    match (addr, token) {
        (Some(a), Some(t)) if !a.is_empty() && !t.is_empty() => (a, t),
        _ => panic!(
            "CLEO_TEST_VAULT_ADDR / CLEO_TEST_VAULT_TOKEN are not set: run the tests with \
             ./scripts/test (it starts OpenBao), or start one with `scripts/peers.sh start` \
             and export what it prints"
        ),
    }
}

/// Administers the test OpenBao over its HTTP API with the root token: writes
/// secrets, enables mounts, makes policies and tokens. For test set-up only.
pub struct VaultAdmin {
    addr: String,
    token: String,
    http: reqwest::Client,
}

impl VaultAdmin {
    /// An admin client for the server `scripts/test` started.
    pub fn new() -> VaultAdmin {
        let (addr, token) = openbao();
        VaultAdmin {
            addr,
            token,
            http: reqwest::Client::new(),
        }
    }

    /// An admin client for another server (a [`dev::DevServer`]).
    pub fn for_server(addr: &str, root_token: &str) -> VaultAdmin {
        VaultAdmin {
            addr: addr.to_owned(),
            token: root_token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// How many live tokens were issued by a login at `auth/<mount>/login`.
    pub async fn live_login_tokens(&self, mount: &str) -> usize {
        let list = self.call("LIST", "auth/token/accessors", None).await;
        let mut n = 0;
        for accessor in list["data"]["keys"].as_array().into_iter().flatten() {
            let info = self
                .call(
                    "POST",
                    "auth/token/lookup-accessor",
                    Some(serde_json::json!({ "accessor": accessor })),
                )
                .await;
            if info["data"]["path"]
                .as_str()
                .is_some_and(|p| p.starts_with(&format!("auth/{mount}/login")))
            {
                n += 1;
            }
        }
        n
    }

    /// The server address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The root token.
    pub fn root_token(&self) -> &str {
        &self.token
    }

    /// Sends `method /v1/<path>` with an optional JSON body; panics unless 2xx.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method.clone(), format!("{}/v1/{path}", self.addr))
            .header("X-Vault-Token", &self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("OpenBao request");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "{method} {path}: HTTP {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// Writes `data` to KV v2 mount `mount` at `path`; returns the new version.
    pub async fn put_kv2(&self, mount: &str, path: &str, data: serde_json::Value) -> u64 {
        let r = self
            .call(
                "POST",
                &format!("{mount}/data/{path}"),
                Some(serde_json::json!({ "data": data })),
            )
            .await;
        r["data"]["version"].as_u64().expect("version")
    }

    /// Writes `data` to KV v1 mount `mount` at `path`.
    pub async fn put_kv1(&self, mount: &str, path: &str, data: serde_json::Value) {
        self.call("POST", &format!("{mount}/{path}"), Some(data))
            .await;
    }

    /// Enables a KV mount of `version` at a fresh path and returns the path.
    pub async fn kv_mount(&self, version: u8) -> String {
        let path = unique(&format!("kv{version}"));
        self.call(
            "POST",
            &format!("sys/mounts/{path}"),
            Some(serde_json::json!({"type": "kv", "options": {"version": version.to_string()}})),
        )
        .await;
        path
    }

    /// Creates a policy and a token that has only it; returns the token.
    pub async fn token_with_policy(&self, hcl: &str) -> String {
        let name = unique("policy");
        self.call(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            Some(serde_json::json!({ "policy": hcl })),
        )
        .await;
        let r = self
            .call(
                "POST",
                "auth/token/create",
                Some(serde_json::json!({"policies": [name], "ttl": "1h"})),
            )
            .await;
        r["auth"]["client_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Creates a token with a chosen id (a canary) and the root policy.
    pub async fn token_with_id(&self, id: &str) -> String {
        let r = self
            .call(
                "POST",
                "auth/token/create",
                Some(serde_json::json!({"id": id, "policies": ["root"], "ttl": "1h"})),
            )
            .await;
        r["auth"]["client_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Revokes a token.
    pub async fn revoke(&self, token: &str) {
        self.call(
            "POST",
            "auth/token/revoke",
            Some(serde_json::json!({ "token": token })),
        )
        .await;
    }
}

impl Default for VaultAdmin {
    fn default() -> Self {
        VaultAdmin::new()
    }
}

/// An RSA key made with the `openssl` command, for signing test JWTs.
pub struct JwtSigner {
    dir: std::path::PathBuf,
    /// The public key, PEM, for `jwt_validation_pubkeys`.
    pub public_pem: String,
}

impl JwtSigner {
    /// Makes a 2048-bit key in a fresh directory under the system temp dir.
    pub fn new() -> JwtSigner {
        let dir = std::env::temp_dir().join(unique("cleo-jwt"));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key.pem");
        let ok = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
            ])
            .arg(&key)
            .output()
            .expect("openssl is needed to sign test JWTs");
        assert!(ok.status.success(), "openssl genpkey failed");
        let public = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(public.status.success());
        JwtSigner {
            dir,
            public_pem: String::from_utf8(public.stdout).unwrap(),
        }
    }

    /// Signs `claims` with RS256.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let signing_input = format!(
            "{}.{}",
            b64(br#"{"alg":"RS256","typ":"JWT"}"#),
            b64(claims.to_string().as_bytes())
        );
        let mut child = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(self.dir.join("key.pem"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(signing_input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "openssl dgst failed");
        format!("{signing_input}.{}", b64(&out.stdout))
    }
}

impl Default for JwtSigner {
    fn default() -> Self {
        JwtSigner::new()
    }
}

impl Drop for JwtSigner {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Seconds since the epoch, for JWT claims.
pub fn epoch_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An AppRole made by [`VaultAdmin::approle`].
pub struct AppRole {
    /// The auth mount path.
    pub mount: String,
    /// The role id of role `ci`.
    pub role_id: String,
    /// A fresh secret id for it.
    pub secret_id: String,
}

impl VaultAdmin {
    /// A policy that may only read KV v2 `secret/<path>`; returns its name.
    pub async fn read_policy(&self, path: &str) -> String {
        let name = unique("read");
        self.call(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            Some(serde_json::json!({
                "policy": format!("path \"secret/data/{path}\" {{ capabilities = [\"read\"] }}")
            })),
        )
        .await;
        name
    }

    /// Enables AppRole at a fresh mount with a role `ci` made from `role` (its
    /// `token_policies`, `token_ttl`, ...), and returns its role id and a secret id.
    pub async fn approle(&self, role: serde_json::Value) -> AppRole {
        let mount = unique("approle");
        self.call(
            "POST",
            &format!("sys/auth/{mount}"),
            Some(serde_json::json!({"type": "approle"})),
        )
        .await;
        self.call("POST", &format!("auth/{mount}/role/ci"), Some(role))
            .await;
        let role_id = self
            .call("GET", &format!("auth/{mount}/role/ci/role-id"), None)
            .await["data"]["role_id"]
            .as_str()
            .expect("role id")
            .to_owned();
        let secret_id = self
            .call("POST", &format!("auth/{mount}/role/ci/secret-id"), None)
            .await["data"]["secret_id"]
            .as_str()
            .expect("secret id")
            .to_owned();
        AppRole {
            mount,
            role_id,
            secret_id,
        }
    }
}

/// Writes `contents` to a fresh file in `dir` with mode 0600 and returns its path.
pub fn private_file(dir: &std::path::Path, contents: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(unique("secret"));
    std::fs::write(&path, contents).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}
