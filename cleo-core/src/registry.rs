//! Maps reference schemes to the sources that serve them.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::reference::{KNOWN_SCHEMES, SecretRef};
use crate::source::SecretSource;

/// Scheme to source. Backends add themselves through their `register` function,
/// the way OpenDAL's facade registers each enabled service.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    sources: BTreeMap<&'static str, Arc<dyn SecretSource>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with the sources that need no backend crate: `env://` and `file://`.
    pub fn with_builtin() -> Self {
        let mut r = Self::new();
        r.register(Arc::new(crate::sources::EnvSource::new()));
        r.register(Arc::new(crate::sources::FileSource::new()));
        r
    }

    /// Serves every scheme of `source` with it, replacing any earlier source.
    pub fn register(&mut self, source: Arc<dyn SecretSource>) {
        for scheme in source.schemes() {
            self.sources.insert(scheme, Arc::clone(&source));
        }
    }

    /// The source registered for `scheme`.
    pub fn get(&self, scheme: &str) -> Option<&Arc<dyn SecretSource>> {
        self.sources.get(scheme)
    }

    /// The schemes served, sorted.
    pub fn schemes(&self) -> Vec<&'static str> {
        self.sources.keys().copied().collect()
    }

    /// The source for `reference`'s scheme, or an error that lists the known schemes.
    pub fn source_for(&self, reference: &SecretRef) -> Result<&Arc<dyn SecretSource>> {
        self.sources.get(reference.scheme()).ok_or_else(|| {
            let served = self.schemes().join(", ");
            let (kind, msg) = if KNOWN_SCHEMES.contains(&reference.scheme()) {
                (
                    ErrorKind::Unsupported,
                    format!(
                        "the `{}` scheme is not enabled in this build",
                        reference.scheme()
                    ),
                )
            } else {
                (
                    ErrorKind::InvalidReference,
                    format!("unknown scheme `{}`", reference.scheme()),
                )
            };
            Error::new(kind, msg)
                .with_reference(reference.as_str())
                .with_hint(format!("known schemes: {served}"))
        })
    }
}
