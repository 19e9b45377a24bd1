//! The user-facing handle: resolves logical names, picks the source, answers from
//! the cache, and carries the convenience methods that the minimal
//! [`SecretSource`] trait leaves out.

use std::sync::Arc;
use std::time::Instant;

use zeroize::Zeroizing;

use crate::cache::{Cache, EntryState};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::reference::{Reference, SecretRef};
use crate::registry::Registry;
use crate::secret::Secret;
use crate::source::SecretSource;

/// Reads secrets by reference or logical name. Cheap to clone; clones share the cache.
///
/// Layers, outermost first: cache (keyed by the string the caller gave), then
/// tracing of each backend fetch, then the source. A cache hit costs one map lookup
/// and no parsing, which is why the cache sits outside name resolution.
#[derive(Debug, Clone)]
pub struct Client {
    config: Arc<Config>,
    registry: Arc<Registry>,
    cache: Option<Cache<Secret>>,
    /// Logical name -> reference, learnt on first use, so that a name and the
    /// reference it stands for share one cache entry and a hit needs no parsing.
    aliases: Arc<papaya::HashMap<Arc<str>, Arc<str>, foldhash::fast::RandomState>>,
}

impl Client {
    /// A client with a cache built from the `[cache]` section of `config`.
    pub fn new(config: Config, registry: Registry) -> Result<Self> {
        let cache = Cache::new(config.cache_settings()?)?;
        Ok(Client::with_cache(config, registry, Some(cache)))
    }

    /// A client with the given cache, or none (every read goes to the backend).
    pub fn with_cache(config: Config, registry: Registry, cache: Option<Cache<Secret>>) -> Self {
        Client {
            config: Arc::new(config),
            registry: Arc::new(registry),
            cache,
            aliases: Arc::new(
                papaya::HashMap::builder()
                    .hasher(foldhash::fast::RandomState::default())
                    .build(),
            ),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The registry of sources.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The cache, if any.
    pub fn cache(&self) -> Option<&Cache<Secret>> {
        self.cache.as_ref()
    }

    /// Turns a reference or logical name into a direct reference.
    pub fn resolve(&self, input: &str) -> Result<SecretRef> {
        match Reference::parse(input)? {
            Reference::Direct(r) => Ok(r),
            Reference::Logical(name) => match self.config.secret(&name) {
                Some(entry) => Ok(entry.reference.clone()),
                None => {
                    let from = match self.config.path() {
                        Some(p) => format!("add it to [secrets] in {}", p.display()),
                        None => "no cleo.toml was found: pass --config, set CLEO_CONFIG, or create ./cleo.toml with a [secrets] table".to_owned(),
                    };
                    Err(Error::new(
                        ErrorKind::NotFound,
                        format!("unknown logical name `{name}`"),
                    )
                    .with_reference(name)
                    .with_hint(from))
                }
            },
        }
    }

    /// The source that serves `reference`.
    pub fn source_for(&self, reference: &SecretRef) -> Result<&Arc<dyn SecretSource>> {
        self.registry.source_for(reference)
    }

    /// The value cached for `input`, without going to the backend. Synchronous, for
    /// bindings that want to skip the async machinery on a hit.
    pub fn get_cached(&self, input: &str) -> Option<Secret> {
        let cache = self.cache.as_ref()?;
        let aliases = self.aliases.pin();
        match aliases.get(input) {
            Some(reference) => cache.get_cached(reference),
            None => cache.get_cached(input),
        }
    }

    /// Resolves `input` and remembers a logical name's reference for the fast path.
    fn resolve_and_remember(&self, input: &str) -> Result<SecretRef> {
        let reference = self.resolve(input)?;
        if reference.as_str() != input {
            self.aliases
                .pin()
                .insert(Arc::from(input), Arc::from(reference.as_str()));
        }
        Ok(reference)
    }

    /// Fetches a secret by reference or logical name, from the cache when it can.
    pub async fn get(&self, input: &str) -> Result<Secret> {
        if let Some(hit) = self.get_cached(input) {
            return Ok(hit);
        }
        let reference = self.resolve_and_remember(input)?;
        let source = Arc::clone(self.source_for(&reference)?);
        let backend = source.backend();
        let ttl = self.config.secret(input).and_then(|e| e.ttl);
        let logical = (input != reference.as_str()).then(|| input.to_owned());
        let reference_key = reference.as_str().to_owned();
        match &self.cache {
            None => traced_fetch(source, reference, logical).await,
            Some(cache) => {
                let fetch: crate::cache::Fetcher<Secret> =
                    Arc::new(move |previous: Option<Secret>| {
                        let source = Arc::clone(&source);
                        let reference = reference.clone();
                        let logical = logical.clone();
                        Box::pin(async move {
                            match previous {
                                // A background refresh: the source may renew instead of refetching.
                                Some(p) => source.refresh(&reference, &p).await.map_err(|e| {
                                    e.or_reference(reference.as_str())
                                        .with_backend(source.backend())
                                }),
                                None => traced_fetch(source, reference, logical).await,
                            }
                        })
                    });
                let key = reference_key.clone();
                cache.get_with(&key, backend, ttl, fetch).await
            }
        }
    }

    /// Fetches a secret and returns it as text in a wiping buffer.
    pub async fn get_string(&self, input: &str) -> Result<Zeroizing<String>> {
        let secret = self.get(input).await?;
        Ok(Zeroizing::new(secret.expose_str()?.to_owned()))
    }

    /// Drops the cached value for `input` (a reference or a logical name: both name
    /// one entry), so the next read goes to the backend, for example after a server
    /// answered 401 to a cached token. An input that names nothing is an error.
    pub fn invalidate(&self, input: &str) -> Result<()> {
        let reference = self.resolve_and_remember(input)?;
        self.source_for(&reference)?;
        if let Some(c) = &self.cache {
            c.invalidate(reference.as_str());
        }
        Ok(())
    }

    /// Drops every cached value and closes every source (Vault revokes the leases it
    /// handed out and the token it logged in for, never a token it was given). The
    /// client stays usable; later reads fetch (and log in) anew.
    pub async fn close(&self) -> Result<()> {
        if let Some(c) = &self.cache {
            c.clear();
        }
        let mut first_error = None;
        let mut seen: Vec<usize> = Vec::new();
        for scheme in self.registry.schemes() {
            let Some(source) = self.registry.get(scheme) else {
                continue;
            };
            // One source may serve several schemes: close it once.
            let id = Arc::as_ptr(source) as *const () as usize;
            if seen.contains(&id) {
                continue;
            }
            seen.push(id);
            if let Err(e) = source.close().await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Where `input` stands in the cache.
    pub fn cache_state(&self, input: &str) -> Option<EntryState> {
        let cache = self.cache.as_ref()?;
        let aliases = self.aliases.pin();
        cache.state(aliases.get(input).map_or(input, |r| &**r))
    }
}

async fn traced_fetch(
    source: Arc<dyn SecretSource>,
    reference: SecretRef,
    logical: Option<String>,
) -> Result<Secret> {
    let backend = source.backend();
    let started = Instant::now();
    tracing::debug!(reference = %reference, backend, "fetching secret");
    let result = source.fetch(&reference).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    match &result {
        Ok(secret) => tracing::debug!(
            reference = %reference,
            backend,
            version = secret.meta().version.as_deref().unwrap_or("-"),
            elapsed_ms,
            outcome = "ok",
            "fetched secret"
        ),
        Err(e) => tracing::debug!(
            reference = %reference,
            backend,
            elapsed_ms,
            outcome = e.kind().as_str(),
            "fetch failed"
        ),
    }
    result.map_err(|e| {
        let e = e.or_reference(reference.as_str()).with_backend(backend);
        match logical {
            Some(name) => {
                let r = format!("{name} = {}", e.reference().unwrap_or(reference.as_str()));
                e.with_reference(r)
            }
            None => e,
        }
    })
}
