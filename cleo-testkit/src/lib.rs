//! Test helpers shared by cleo's crates: TRACE-level log capture for leak checks,
//! the addresses of the real peers started by `scripts/test`, and unique names so
//! tests can run in parallel against one server.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Every log line written in this test process, at TRACE level, from `tracing` and
/// from the `log` crate (reqwest, hyper).
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// All captured text so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

struct CapturedWriter(Captured);

impl Write for CapturedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (self.0)
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once per process) a TRACE-level subscriber that records every event
/// and span field, and returns the shared capture.
pub fn capture_logs() -> Captured {
    static CAPTURE: OnceLock<Captured> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || CapturedWriter(writer.clone()))
                .try_init()
                .expect("a global tracing subscriber was already installed");
            captured
        })
        .clone()
}

/// Panics with the offending context if any canary appears in `haystack`.
pub fn assert_no_canary(what: &str, haystack: &str, canaries: &[&str]) {
    for canary in canaries {
        assert!(!canary.is_empty(), "empty canary");
        if let Some(at) = haystack.find(canary) {
            let start = at.saturating_sub(120);
            panic!(
                "secret canary leaked into {what} at byte {at}: ...{}...",
                &haystack[start..at]
            );
        }
    }
}

/// A name no other test in any process uses: `prefix-<pid>-<n>-<nanos>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The OpenBao dev server that `scripts/test` started: `(address, root token)`.
///
/// Panics with instructions when it is not running: these tests need the real peer
/// and must fail loudly, not skip.
pub fn openbao() -> (String, String) {
    let addr = std::env::var("CLEO_TEST_VAULT_ADDR").ok();
    let token = std::env::var("CLEO_TEST_VAULT_TOKEN").ok();
    match (addr, token) {
        (Some(a), Some(t)) if !a.is_empty() && !t.is_empty() => (a, t),
        _ => panic!(
            "CLEO_TEST_VAULT_ADDR / CLEO_TEST_VAULT_TOKEN are not set: run the tests with \
             ./scripts/test (it starts OpenBao), or start one with `scripts/peers.sh start` \
             and export what it prints"
        ),
    }
}
