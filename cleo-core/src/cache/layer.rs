//! The cache as layers: a [`SecretSource`] and a [`CredentialProvider`] that wrap
//! any other and answer from a [`Cache`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Cache, fetcher, secret_fetcher};
use crate::credential::CredentialProvider;
use crate::error::Result;
use crate::reference::SecretRef;
use crate::secret::Secret;
use crate::source::SecretSource;

/// A source that caches another, keyed by the reference string.
pub struct CachedSource {
    inner: Arc<dyn SecretSource>,
    cache: Cache<Secret>,
}

impl CachedSource {
    /// Caches `inner` in `cache`.
    pub fn new(inner: Arc<dyn SecretSource>, cache: Cache<Secret>) -> Self {
        CachedSource { inner, cache }
    }

    /// The cache, for `invalidate` and inspection.
    pub fn cache(&self) -> &Cache<Secret> {
        &self.cache
    }
}

impl fmt::Debug for CachedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedSource")
            .field("inner", &self.inner)
            .field("cache", &self.cache)
            .finish()
    }
}

#[async_trait]
impl SecretSource for CachedSource {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn schemes(&self) -> &'static [&'static str] {
        self.inner.schemes()
    }

    async fn fetch(&self, reference: &SecretRef) -> Result<Secret> {
        let fetch = secret_fetcher(Arc::clone(&self.inner), reference.clone());
        self.cache
            .get_with(reference.as_str(), self.inner.backend(), None, fetch)
            .await
    }

    async fn close(&self) -> Result<()> {
        self.cache.clear();
        self.inner.close().await
    }
}

/// A credential provider that caches another's credential until shortly before it
/// expires, refreshing it in the background.
pub struct CachedCredentialProvider<P: CredentialProvider + 'static> {
    inner: Arc<P>,
    cache: Cache<Arc<P::Credential>>,
    backend: &'static str,
}

impl<P: CredentialProvider + 'static> CachedCredentialProvider<P>
where
    P::Credential: 'static,
{
    /// Caches `inner`'s credential; `backend` names it in the audit trail.
    pub fn new(inner: Arc<P>, cache: Cache<Arc<P::Credential>>, backend: &'static str) -> Self {
        CachedCredentialProvider {
            inner,
            cache,
            backend,
        }
    }
}

impl<P: CredentialProvider + 'static> fmt::Debug for CachedCredentialProvider<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedCredentialProvider")
            .field("inner", &self.inner)
            .field("backend", &self.backend)
            .finish()
    }
}

#[async_trait]
impl<P: CredentialProvider + 'static> CredentialProvider for CachedCredentialProvider<P>
where
    P::Credential: 'static,
{
    type Credential = P::Credential;

    async fn credential(&self) -> Result<Arc<P::Credential>> {
        let inner = Arc::clone(&self.inner);
        let fetch = fetcher(move || {
            let inner = Arc::clone(&inner);
            async move { inner.credential().await }
        });
        self.cache
            .get_with("credential", self.backend, None, fetch)
            .await
    }

    /// Drops the cached credential (after the server answered 401 or 403 with it).
    fn invalidate(&self) {
        self.cache.invalidate("credential");
        self.inner.invalidate();
    }
}
