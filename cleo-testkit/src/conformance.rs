//! The conformance suite: written once, run against every source.
//!
//! A backend's tests implement [`Fixture`] (how to store a value and name it) and call
//! [`run_all`]. Every value stored is a canary; at the end, the suite checks that no
//! canary reached a `Debug`, an error, or any TRACE-level log line of the process.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use cleo_core::{
    Cache, CacheSettings, CachedSource, Clock, Error, ErrorKind, ManualClock, Result, Secret,
    SecretRef, SecretSource, async_trait,
};

use crate::{assert_no_canary, capture_logs, unique};

/// How a backend's test stores values for the suite.
#[async_trait]
pub trait Fixture: Send + Sync {
    /// The source under test.
    fn source(&self) -> Arc<dyn SecretSource>;

    /// Stores `value` and returns a reference that reads exactly it.
    async fn put(&self, value: &[u8]) -> String;

    /// Whether any bytes round-trip (false for text-only stores such as Vault KV).
    fn binary(&self) -> bool;

    /// Whether an empty value can be stored (Parameter Store refuses one).
    fn allows_empty(&self) -> bool {
        true
    }

    /// The longest value the store takes, if it has a limit below 64 KiB.
    fn max_value_len(&self) -> Option<usize> {
        None
    }

    /// A reference to nothing.
    fn missing(&self) -> String;

    /// Stores a JSON object of text fields and returns the reference without `#field`,
    /// or `None` if the source has no fields.
    async fn put_fields(&self, fields: &[(&str, &str)]) -> Option<String>;

    /// Stores `first` then `second` at one place and returns references to the first
    /// version and to the latest, or `None` if the source has no versions.
    async fn put_versions(&self, first: &str, second: &str) -> Option<(String, String)>;
}

/// Counts calls to, and can delay or fail, the source it wraps.
pub struct Probe {
    inner: Arc<dyn SecretSource>,
    calls: AtomicUsize,
    delay: Duration,
    fail_first: usize,
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe").field("inner", &self.inner).finish()
    }
}

impl Probe {
    /// Wraps `inner`: each call waits `delay`, and the first `fail_first` calls fail
    /// with a temporary `Unavailable` error.
    pub fn new(inner: Arc<dyn SecretSource>, delay: Duration, fail_first: usize) -> Arc<Probe> {
        Arc::new(Probe {
            inner,
            calls: AtomicUsize::new(0),
            delay,
            fail_first,
        })
    }

    /// Calls so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SecretSource for Probe {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    fn schemes(&self) -> &'static [&'static str] {
        self.inner.schemes()
    }
    async fn fetch(&self, reference: &SecretRef) -> Result<Secret> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if n < self.fail_first {
            return Err(Error::new(
                ErrorKind::Unavailable,
                "injected temporary failure",
            ));
        }
        self.inner.fetch(reference).await
    }
}

fn cached(inner: Arc<dyn SecretSource>) -> CachedSource {
    // A manual clock starting now: backoff sleeps return at once, and the expiry
    // times real backends give stay meaningful.
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(SystemTime::now()));
    let cache = Cache::with_clock(CacheSettings::default(), clock).expect("cache");
    CachedSource::new(inner, cache)
}

async fn fetch(src: &dyn SecretSource, reference: &str) -> Result<Secret> {
    src.fetch(&SecretRef::parse(reference).expect("reference"))
        .await
}

/// Runs every check against `fixture`. Panics on the first failure, naming it.
pub async fn run_all(fixture: &dyn Fixture) {
    let logs = capture_logs();
    let mut canaries: Vec<String> = Vec::new();
    let mut shown = String::new();
    let src = fixture.source();

    // Exact bytes round-trip, including empty, escapes, multi-byte text and size.
    let mut values: Vec<Vec<u8>> = vec![
        format!("canary-plain-{}", unique("p")).into_bytes(),
        Vec::new(),
        format!("canary-é😀\n\t\"\\ {}", unique("u")).into_bytes(),
        format!("canary-long-{}", "x".repeat(64 * 1024)).into_bytes(),
    ];
    if !fixture.allows_empty() {
        values.retain(|v| !v.is_empty());
    }
    if let Some(max) = fixture.max_value_len() {
        for v in &mut values {
            v.truncate(max);
        }
    }
    if fixture.binary() {
        let mut b = vec![0xffu8, 0xfe, 0x80, 0x01];
        b.extend_from_slice(unique("canary-bin").as_bytes());
        values.push(b);
    }
    for v in &values {
        let reference = fixture.put(v).await;
        let s = fetch(&*src, &reference)
            .await
            .unwrap_or_else(|e| panic!("round trip of {} bytes: {e}", v.len()));
        assert_eq!(
            s.expose_secret(),
            v.as_slice(),
            "round trip changed the bytes"
        );
        assert_eq!(s.meta().reference, reference);
        assert_eq!(s.meta().backend, src.backend());
        shown.push_str(&format!("{s:?} {s:#?}\n"));
        if !v.is_empty() {
            canaries.push(String::from_utf8_lossy(v).into_owned());
        }
    }

    // A missing secret is NotFound, permanent, and names the reference.
    let missing = fixture.missing();
    let e = fetch(&*src, &missing).await.expect_err("missing secret");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(!e.is_temporary(), "NotFound must not be temporary: {e}");
    shown.push_str(&format!("{e} {e:?}\n"));

    // Fields, where the source has them.
    let password = format!("canary-field-{}", unique("f"));
    canaries.push(password.clone());
    if let Some(base) = fixture
        .put_fields(&[("user", "bob"), ("password", &password)])
        .await
    {
        let s = fetch(&*src, &format!("{base}#password"))
            .await
            .expect("field");
        assert_eq!(s.expose_secret(), password.as_bytes());
        let e = fetch(&*src, &format!("{base}#nope"))
            .await
            .expect_err("missing field");
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        assert!(e.to_string().contains("nope"), "{e}");
        shown.push_str(&format!("{s:?} {e} {e:?}\n"));
    }

    // Versions, where the source has them.
    let (first, second) = (
        format!("canary-v1-{}", unique("v")),
        format!("canary-v2-{}", unique("v")),
    );
    canaries.push(first.clone());
    canaries.push(second.clone());
    if let Some((r1, latest)) = fixture.put_versions(&first, &second).await {
        let old = fetch(&*src, &r1).await.expect("first version");
        let new = fetch(&*src, &latest).await.expect("latest version");
        assert_eq!(old.expose_secret(), first.as_bytes());
        assert_eq!(new.expose_secret(), second.as_bytes());
        assert_ne!(old.meta().version, new.meta().version);
    }

    // 32 concurrent cold reads through the cache make one backend call.
    let value = format!("canary-cold-{}", unique("c"));
    canaries.push(value.clone());
    let reference = fixture.put(value.as_bytes()).await;
    let probe = Probe::new(Arc::clone(&src), Duration::from_millis(50), 0);
    let layer = Arc::new(cached(probe.clone()));
    let reads: Vec<_> = (0..32)
        .map(|_| {
            let layer = Arc::clone(&layer);
            let reference = reference.clone();
            tokio::spawn(async move { fetch(&*layer, &reference).await })
        })
        .collect();
    for r in reads {
        let s = r.await.expect("task").expect("concurrent read");
        assert_eq!(s.expose_secret(), value.as_bytes());
    }
    assert_eq!(
        probe.calls(),
        1,
        "32 concurrent cold reads must make one backend call"
    );

    // A caller that gives up does not poison the entry.
    let value = format!("canary-cancel-{}", unique("c"));
    canaries.push(value.clone());
    let reference = fixture.put(value.as_bytes()).await;
    let probe = Probe::new(Arc::clone(&src), Duration::from_millis(100), 0);
    let layer = cached(probe.clone());
    let gave_up = tokio::time::timeout(Duration::from_millis(10), fetch(&layer, &reference)).await;
    assert!(
        gave_up.is_err(),
        "the read should still have been in flight"
    );
    let s = fetch(&layer, &reference)
        .await
        .expect("read after a cancelled read");
    assert_eq!(s.expose_secret(), value.as_bytes());
    assert_eq!(
        probe.calls(),
        1,
        "the second caller resumes the first fetch"
    );

    // Temporary errors are retried, then reported.
    let value = format!("canary-retry-{}", unique("r"));
    canaries.push(value.clone());
    let reference = fixture.put(value.as_bytes()).await;
    let probe = Probe::new(Arc::clone(&src), Duration::ZERO, 2);
    let s = fetch(&cached(probe.clone()), &reference)
        .await
        .expect("third try succeeds");
    assert_eq!((s.expose_secret(), probe.calls()), (value.as_bytes(), 3));
    let probe = Probe::new(Arc::clone(&src), Duration::ZERO, usize::MAX);
    let e = fetch(&cached(probe.clone()), &reference)
        .await
        .expect_err("always failing");
    assert_eq!(
        (e.kind(), e.attempts(), probe.calls()),
        (ErrorKind::Unavailable, 3, 3)
    );
    assert!(e.is_temporary());
    shown.push_str(&format!("{e} {e:?} {layer:?}\n"));

    // Nothing secret anywhere: Debug output, errors, and every log line at TRACE.
    let refs: Vec<&str> = canaries.iter().map(String::as_str).collect();
    assert_no_canary("Debug and error output", &shown, &refs);
    assert_no_canary("TRACE logs", &logs.text(), &refs);
    assert!(
        !logs.text().is_empty(),
        "the TRACE capture recorded nothing"
    );
}
