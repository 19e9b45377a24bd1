//! The trait every secret backend implements.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::error::Result;
use crate::reference::SecretRef;
use crate::secret::Secret;

/// Fetches secrets for one or more reference schemes.
///
/// The trait is object safe so a [`crate::Registry`] can hold `Arc<dyn SecretSource>`.
/// It stays minimal on purpose: convenience (text, JSON, logical names) lives on
/// [`crate::Client`], so every wrapper (cache, tracing, retry) only forwards `fetch`.
#[async_trait]
pub trait SecretSource: Send + Sync + Debug {
    /// A short backend name used in metadata, errors and logs (`vault`, `env`, ...).
    fn backend(&self) -> &'static str;

    /// The reference schemes this source serves (`["vault"]`, `["env"]`, ...).
    fn schemes(&self) -> &'static [&'static str];

    /// Fetches the secret `reference` points to. Errors name the reference and backend
    /// and never contain the value.
    async fn fetch(&self, reference: &SecretRef) -> Result<Secret>;

    /// Replaces `previous` ahead of its expiry. The cache calls this for background
    /// refreshes; a source whose values carry renewable leases renews them here. The
    /// default fetches anew.
    async fn refresh(&self, reference: &SecretRef, previous: &Secret) -> Result<Secret> {
        let _ = previous;
        self.fetch(reference).await
    }

    /// Releases what the source holds for this process (Vault revokes the leases
    /// it handed out). Called by `Client::close`; the default does nothing.
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}
