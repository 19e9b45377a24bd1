//! Token auth: `VAULT_TOKEN`/`BAO_TOKEN`, a configured token file, or `~/.vault-token`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use cleo_core::{CredentialProvider, Error, ErrorKind, Expiring, Result, Zeroizing, async_trait};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OnceCell;

/// A Vault token. Its `Debug` shows where it came from, never the token.
pub struct VaultToken {
    token: SecretString,
    origin: String,
    expires_at: Option<SystemTime>,
    accessor: Option<String>,
    renewable: bool,
}

impl VaultToken {
    /// Wraps a token read from `origin` (a variable or file name, for messages).
    pub fn new(
        token: SecretString,
        origin: impl Into<String>,
        expires_at: Option<SystemTime>,
    ) -> Self {
        VaultToken {
            token,
            origin: origin.into(),
            expires_at,
            accessor: None,
            renewable: false,
        }
    }

    /// Sets the accessor (an identifier for the token, safe to log).
    pub fn with_accessor(mut self, accessor: Option<String>) -> Self {
        self.accessor = accessor;
        self
    }

    /// Sets whether the token can be renewed.
    pub fn with_renewable(mut self, renewable: bool) -> Self {
        self.renewable = renewable;
        self
    }

    /// The token's accessor, if known.
    pub fn accessor(&self) -> Option<&str> {
        self.accessor.as_deref()
    }

    /// Whether the token can be renewed.
    pub fn renewable(&self) -> bool {
        self.renewable
    }

    /// The token text, for the `X-Vault-Token` header.
    pub fn expose_secret(&self) -> &str {
        self.token.expose_secret()
    }

    /// Where the token came from (`VAULT_TOKEN`, `/home/me/.vault-token`, ...).
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl Expiring for VaultToken {
    fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }
}

impl fmt::Debug for VaultToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultToken")
            .field("origin", &self.origin)
            .field("accessor", &self.accessor)
            .field("expires_at", &self.expires_at)
            .field("renewable", &self.renewable)
            .field("token", &"** redacted **")
            .finish()
    }
}

/// Finds a static token once and hands it out.
pub struct TokenProvider {
    token_file: Option<PathBuf>,
    home: Option<PathBuf>,
    cached: OnceCell<Arc<VaultToken>>,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("token_file", &self.token_file)
            .field("loaded", &self.cached.initialized())
            .finish()
    }
}

impl TokenProvider {
    /// A provider that looks in the environment, then `token_file`, then `~/.vault-token`.
    pub fn new(token_file: Option<PathBuf>) -> Self {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        // `~/...` in cleo.toml means the home directory, as it would in a shell.
        let token_file = token_file.map(|p| match (p.strip_prefix("~"), &home) {
            (Ok(rest), Some(h)) => h.join(rest),
            _ => p,
        });
        TokenProvider {
            token_file,
            home,
            cached: OnceCell::new(),
        }
    }

    /// The token file [`TokenProvider::find`] reads, when no variable gives the
    /// token: the configured file (even if missing: reading it is then the error),
    /// else `~/.vault-token` if it exists. The flag says whether it was configured.
    pub(crate) fn file(&self) -> Option<(PathBuf, bool)> {
        if env_token().is_some() {
            return None;
        }
        if let Some(path) = &self.token_file {
            return Some((path.clone(), true));
        }
        let path = self.home.as_ref()?.join(".vault-token");
        path.exists().then_some((path, false))
    }

    fn find(&self) -> Result<VaultToken> {
        if let Some(token) = env_token() {
            return Ok(token);
        }
        if let Some((path, configured)) = self.file() {
            return read_token_file(&path, configured);
        }
        Err(Error::new(ErrorKind::Unauthenticated, "no Vault token found")
            .with_backend("vault")
            .with_hint("set VAULT_TOKEN (or BAO_TOKEN), set [vault] token_file in cleo.toml, or run `bao login` to write ~/.vault-token"))
    }
}

/// The token from `VAULT_TOKEN`, else `BAO_TOKEN`, when one is set and not blank.
fn env_token() -> Option<VaultToken> {
    ["VAULT_TOKEN", "BAO_TOKEN"].into_iter().find_map(|var| {
        let v = std::env::var_os(var)?;
        let text = Zeroizing::new(v.to_string_lossy().into_owned());
        let trimmed = text.trim();
        (!trimmed.is_empty())
            .then(|| VaultToken::new(SecretString::from(trimmed.to_owned()), var, None))
    })
}

fn read_token_file(path: &Path, configured: bool) -> Result<VaultToken> {
    use std::os::unix::fs::PermissionsExt;
    // The same rule as file:// references: other users must not be able to read it.
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o027 != 0 {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "refusing the Vault token file {}: its mode {mode:04o} lets other users read or change it",
                    path.display()
                ),
            )
            .with_backend("vault")
            .with_hint(format!("run `chmod 600 {}`", path.display())));
        }
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        let kind = if configured {
            ErrorKind::ConfigInvalid
        } else {
            ErrorKind::Unauthenticated
        };
        Error::new(
            kind,
            format!("cannot read the Vault token file {}", path.display()),
        )
        .with_source(e)
        .with_backend("vault")
    })?);
    // `bao login` and editors leave a trailing newline; the header must not carry it.
    let trimmed = text.trim_end_matches(['\n', '\r']).trim();
    if trimmed.is_empty() {
        return Err(Error::new(
            ErrorKind::Unauthenticated,
            format!("the Vault token file {} is empty", path.display()),
        )
        .with_backend("vault")
        .with_hint("log in again with `bao login`"));
    }
    Ok(VaultToken::new(
        SecretString::from(trimmed.to_owned()),
        path.display().to_string(),
        None,
    ))
}

#[async_trait]
impl CredentialProvider for TokenProvider {
    type Credential = VaultToken;

    async fn credential(&self) -> Result<Arc<VaultToken>> {
        self.cached
            .get_or_try_init(|| async { self.find().map(Arc::new) })
            .await
            .cloned()
    }
}

/// Hands out one token given by the program (for services that receive it from
/// their platform, and for tests).
pub struct StaticTokenProvider {
    token: Arc<VaultToken>,
}

impl StaticTokenProvider {
    /// A provider for `token`; `origin` names where it came from in messages.
    pub fn new(token: SecretString, origin: impl Into<String>) -> Self {
        StaticTokenProvider {
            token: Arc::new(VaultToken::new(token, origin, None)),
        }
    }
}

impl fmt::Debug for StaticTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticTokenProvider")
            .field("token", &self.token)
            .finish()
    }
}

#[async_trait]
impl CredentialProvider for StaticTokenProvider {
    type Credential = VaultToken;

    async fn credential(&self) -> Result<Arc<VaultToken>> {
        Ok(Arc::clone(&self.token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_token_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"hvs.canary-token-78\n").unwrap();
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_token_file(f.path(), true).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
        assert!(
            e.to_string().contains("chmod 600") && !e.to_string().contains("canary"),
            "{e}"
        );
    }

    #[test]
    fn token_file_is_trimmed_and_debug_is_redacted() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"hvs.canary-token-77\n").unwrap();
        let t = read_token_file(f.path(), true).unwrap();
        assert_eq!(t.expose_secret(), "hvs.canary-token-77");
        assert!(!format!("{t:?}").contains("canary"));
    }

    #[test]
    fn empty_or_missing_token_file_is_an_error() {
        let f = tempfile::NamedTempFile::new().unwrap();
        assert_eq!(
            read_token_file(f.path(), true).unwrap_err().kind(),
            ErrorKind::Unauthenticated
        );
        assert_eq!(
            read_token_file(Path::new("/nonexistent/token"), true)
                .unwrap_err()
                .kind(),
            ErrorKind::ConfigInvalid
        );
    }
}
