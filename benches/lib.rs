//! Shared pieces of cleo's benchmarks: an in-memory source that answers at once,
//! so cache benchmarks measure cleo and not a backend.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use cleo_core::{Result, Secret, SecretMeta, SecretRef, SecretSource, Zeroizing, async_trait};

/// Answers every reference with a 32-byte value and counts calls.
#[derive(Debug, Default)]
pub struct Instant {
    calls: AtomicUsize,
}

impl Instant {
    /// Calls so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SecretSource for Instant {
    fn backend(&self) -> &'static str {
        "bench"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["bench"]
    }
    async fn fetch(&self, reference: &SecretRef) -> Result<Secret> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Secret::new(
            Zeroizing::new(vec![b'x'; 32]),
            SecretMeta::new(reference.as_str(), "bench", SystemTime::now()),
        ))
    }
}
