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
}
