//! The secret value and what cleo knows about it.
//!
//! A value lives in exactly one zeroizing buffer behind an `Arc`: clones share it, and
//! the bytes are wiped when the last clone drops. There is no `Display` and no
//! `Serialize`; `Debug` prints identifiers only. [`Secret::expose_secret`] is the one
//! greppable way to read the bytes.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretSlice};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

/// A lease attached to a secret by its backend (Vault leases, for example).
#[derive(Clone, PartialEq, Eq)]
pub struct Lease {
    /// The lease id, used to renew or revoke. An identifier, not a credential on its own.
    pub id: String,
    /// How long the lease lasts from `fetched_at`.
    pub duration: Duration,
    /// Whether the lease can be renewed.
    pub renewable: bool,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("id", &self.id)
            .field("duration", &self.duration)
            .field("renewable", &self.renewable)
            .finish()
    }
}

/// What cleo knows about a secret besides its value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretMeta {
    /// The reference the secret was fetched by, as written by the user.
    pub reference: String,
    /// The backend that served it (`vault`, `env`, `file`, ...).
    pub backend: &'static str,
    /// The backend's version of the value, when it has one.
    pub version: Option<String>,
    /// When cleo received it.
    pub fetched_at: SystemTime,
    /// When the backend says it stops being valid, if it says so.
    pub expires_at: Option<SystemTime>,
    /// Whether the backend can extend its life.
    pub renewable: bool,
    /// The backend's lease, if any.
    pub lease: Option<Lease>,
    /// Warnings the backend attached to the response.
    pub warnings: Vec<String>,
}

impl SecretMeta {
    /// Metadata with only the reference, backend and fetch time set.
    pub fn new(
        reference: impl Into<String>,
        backend: &'static str,
        fetched_at: SystemTime,
    ) -> Self {
        SecretMeta {
            reference: reference.into(),
            backend,
            version: None,
            fetched_at,
            expires_at: None,
            renewable: false,
            lease: None,
            warnings: Vec::new(),
        }
    }

    /// Sets the version.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Sets the lease, and the expiry and renewability that follow from it.
    /// A zero duration means the backend set no expiry.
    pub fn with_lease(mut self, lease: Lease) -> Self {
        if !lease.duration.is_zero() {
            // checked: a hostile or broken backend may send an absurd duration.
            self.expires_at = self.fetched_at.checked_add(lease.duration);
        }
        self.renewable = lease.renewable;
        self.lease = Some(lease);
        self
    }

    /// Sets the expiry directly.
    pub fn with_expires_at(mut self, expires_at: Option<SystemTime>) -> Self {
        self.expires_at = expires_at;
        self
    }

    /// Adds backend warnings.
    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }
}

struct Inner {
    value: SecretSlice<u8>,
    meta: SecretMeta,
}

/// A secret value with its metadata. Cheap to clone; wiped when the last clone drops.
#[derive(Clone)]
pub struct Secret {
    inner: Arc<Inner>,
}

impl Secret {
    /// Wraps `value`. Taking `Zeroizing<Vec<u8>>` means the caller's buffer is handed
    /// over, not copied, so no unwiped copy is left behind.
    pub fn new(value: Zeroizing<Vec<u8>>, meta: SecretMeta) -> Self {
        let mut value = value;
        // Moving out of the Zeroizing wrapper leaves an empty Vec to be wiped; the
        // allocation itself moves into the SecretSlice, which wipes it on drop.
        let mut bytes: Vec<u8> = std::mem::take(&mut *value);
        // A boxed slice needs capacity == len; letting the allocator shrink in place
        // could copy the bytes and free the old block unwiped, so copy exactly and
        // wipe the original ourselves.
        if bytes.capacity() != bytes.len() {
            let exact = bytes.as_slice().to_vec();
            zeroize::Zeroize::zeroize(&mut bytes);
            bytes = exact;
        }
        Secret {
            inner: Arc::new(Inner {
                value: SecretSlice::from(bytes),
                meta,
            }),
        }
    }

    /// The raw bytes. Every read of a value goes through here, so reviewers can grep it.
    pub fn expose_secret(&self) -> &[u8] {
        self.inner.value.expose_secret()
    }

    /// The value as UTF-8 text, or an [`ErrorKind::InvalidData`] error naming the
    /// reference when it is not text.
    pub fn expose_str(&self) -> Result<&str> {
        std::str::from_utf8(self.expose_secret()).map_err(|e| {
            Error::new(
                ErrorKind::InvalidData,
                format!(
                    "the secret is not UTF-8 text (invalid byte at offset {})",
                    e.valid_up_to()
                ),
            )
            .with_reference(&self.inner.meta.reference)
            .with_backend(self.inner.meta.backend)
            .with_hint(
                "read it as bytes instead (expose_bytes in Python, --reveal --base64 in the CLI)",
            )
        })
    }

    /// The metadata.
    pub fn meta(&self) -> &SecretMeta {
        &self.inner.meta
    }

    /// Length of the value in bytes.
    pub fn len(&self) -> usize {
        self.expose_secret().len()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the backend's expiry has passed at `now`.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        self.inner.meta.expires_at.is_some_and(|t| t <= now)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.inner.meta;
        f.debug_struct("Secret")
            .field("reference", &m.reference)
            .field("backend", &m.backend)
            .field("version", &m.version)
            .field("expires_at", &m.expires_at)
            .field("value", &"** redacted **")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(bytes: &[u8]) -> Secret {
        Secret::new(
            Zeroizing::new(bytes.to_vec()),
            SecretMeta::new("env://CANARY", "env", SystemTime::UNIX_EPOCH).with_version("7"),
        )
    }

    #[test]
    fn debug_shows_identifiers_not_value() {
        let s = secret(b"canary-3f9a");
        let dbg = format!("{s:?} {s:#?}");
        assert!(!dbg.contains("canary-3f9a"), "{dbg}");
        assert!(
            dbg.contains("env://CANARY") && dbg.contains("\"7\""),
            "{dbg}"
        );
    }

    #[test]
    fn exposes_exact_bytes_and_rejects_non_utf8_as_text() {
        let s = secret(&[0xff, 0x00, 0x41]);
        assert_eq!(s.expose_secret(), &[0xff, 0x00, 0x41]);
        let err = s.expose_str().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert_eq!(err.reference(), Some("env://CANARY"));
        assert_eq!(secret(b"").len(), 0);
    }

    #[test]
    fn lease_sets_expiry_and_renewability() {
        let meta =
            SecretMeta::new("vault://kv/a", "vault", SystemTime::UNIX_EPOCH).with_lease(Lease {
                id: "kv/a/123".into(),
                duration: Duration::from_secs(60),
                renewable: true,
            });
        assert_eq!(
            meta.expires_at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(60))
        );
        assert!(meta.renewable);
    }
}
