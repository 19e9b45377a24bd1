#![doc = include_str!("../README.md")]

pub mod cache;
mod client;
mod clock;
mod config;
mod credential;
mod error;
#[cfg(feature = "id-token")]
pub mod id_token;
pub mod json;
pub mod logging;
mod reference;
mod registry;
mod secret;
mod source;
pub mod sources;

pub use cache::{
    Cache, CacheSettings, CacheValue, CachedCredentialProvider, CachedSource, EntryState,
};
pub use client::Client;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{CONFIG_ENV, Config, DEFAULT_FILE, SecretEntry};
pub use credential::{CredentialProvider, Expiring};
pub use error::{Error, ErrorKind, Result};
pub use reference::{KNOWN_SCHEMES, Reference, SecretRef};
pub use registry::Registry;
pub use secret::{Lease, Secret, SecretMeta};
pub use source::SecretSource;

/// Re-exported so backends and users share one `async_trait` and one `Zeroizing`.
pub use async_trait::async_trait;
pub use zeroize::Zeroizing;
