//! The user-facing handle: resolves logical names, picks the source, and carries
//! the convenience methods that the minimal [`SecretSource`] trait leaves out.

use std::sync::Arc;
use std::time::Instant;

use zeroize::Zeroizing;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::reference::{Reference, SecretRef};
use crate::registry::Registry;
use crate::secret::Secret;
use crate::source::SecretSource;

/// Reads secrets by reference or logical name. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    config: Arc<Config>,
    registry: Arc<Registry>,
}

impl Client {
    /// A client over `registry`, resolving logical names through `config`.
    pub fn new(config: Config, registry: Registry) -> Self {
        Client {
            config: Arc::new(config),
            registry: Arc::new(registry),
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

    /// Fetches a secret by reference or logical name.
    pub async fn get(&self, input: &str) -> Result<Secret> {
        let reference = self.resolve(input)?;
        let source = self.source_for(&reference)?;
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
        let logical = input != reference.as_str();
        result.map_err(|e| {
            let e = e.or_reference(reference.as_str()).with_backend(backend);
            if logical {
                let r = format!("{input} = {}", e.reference().unwrap_or(reference.as_str()));
                e.with_reference(r)
            } else {
                e
            }
        })
    }

    /// Fetches a secret and returns it as text in a wiping buffer.
    pub async fn get_string(&self, input: &str) -> Result<Zeroizing<String>> {
        let secret = self.get(input).await?;
        Ok(Zeroizing::new(secret.expose_str()?.to_owned()))
    }
}
