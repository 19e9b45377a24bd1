//! Short-lived credentials (a Vault token now, AWS credentials later).

use std::fmt::Debug;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::error::Result;

/// A credential with a known (or unknown) end of life.
pub trait Expiring {
    /// When the credential stops being valid, if known. `None` means it does not
    /// expire, or the issuer did not say.
    fn expires_at(&self) -> Option<SystemTime>;
}

/// Provides a credential, fetching or refreshing it as needed.
///
/// Modelled on `object_store`'s trait of the same name: the credential type is an
/// associated type, so `Arc<dyn CredentialProvider<Credential = VaultToken>>` works.
#[async_trait]
pub trait CredentialProvider: Send + Sync + Debug {
    /// The credential this provider hands out. Its `Debug` must redact every secret part.
    type Credential: Expiring + Debug + Send + Sync;

    /// Returns a credential that is valid now.
    async fn credential(&self) -> Result<Arc<Self::Credential>>;

    /// Forgets any credential held, so the next call gets a new one (after a server
    /// rejected it). Providers that hold nothing need not implement it.
    fn invalidate(&self) {}
}
