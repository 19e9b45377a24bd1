use std::os::unix::ffi::OsStrExt;
use std::time::SystemTime;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::reference::SecretRef;
use crate::secret::{Secret, SecretMeta};
use crate::source::SecretSource;

/// Serves `env://NAME` from this process's environment.
#[derive(Debug, Default)]
pub struct EnvSource;

impl EnvSource {
    /// The source.
    pub fn new() -> Self {
        EnvSource
    }
}

#[async_trait]
impl SecretSource for EnvSource {
    fn backend(&self) -> &'static str {
        "env"
    }

    fn schemes(&self) -> &'static [&'static str] {
        &["env"]
    }

    async fn fetch(&self, reference: &SecretRef) -> Result<Secret> {
        // The process environment keeps its own copy; this one is at least wiped.
        let value = std::env::var_os(reference.path()).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("environment variable {} is not set", reference.path()),
            )
            .with_reference(reference.as_str())
            .with_backend("env")
            .with_hint("export it in the environment that runs this process")
        })?;
        let bytes = Zeroizing::new(value.as_bytes().to_vec());
        Ok(Secret::new(
            bytes,
            SecretMeta::new(reference.as_str(), "env", SystemTime::now()),
        ))
    }
}
