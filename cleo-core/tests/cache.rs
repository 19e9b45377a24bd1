//! The cache's behaviour on an injected clock: no test here sleeps for real.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use cleo_core::{
    Cache, CacheSettings, CachedCredentialProvider, CachedSource, Clock, CredentialProvider, Error,
    ErrorKind, Expiring, ManualClock, Result, Secret, SecretMeta, SecretRef, SecretSource,
    Zeroizing, async_trait,
};
use tokio::sync::Semaphore;

/// What the fake backend does on its next call.
#[derive(Clone)]
enum Step {
    /// Answer a value that lives `ttl` (None: no expiry of its own).
    Value(Option<Duration>),
    Fail(ErrorKind),
}

/// A backend that counts calls, follows a script (then keeps answering values), and
/// can be held at a gate to make calls overlap.
#[derive(Debug)]
struct Fake {
    clock: ManualClock,
    calls: AtomicUsize,
    script: Mutex<VecDeque<Step>>,
    default_ttl: Option<Duration>,
    gate: Option<Arc<Semaphore>>,
    entered: Arc<Semaphore>,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Value(t) => write!(f, "Value({t:?})"),
            Step::Fail(k) => write!(f, "Fail({k})"),
        }
    }
}

impl Fake {
    fn new(clock: &ManualClock, default_ttl: Option<Duration>) -> Arc<Fake> {
        Arc::new(Fake {
            clock: clock.clone(),
            calls: AtomicUsize::new(0),
            script: Mutex::new(VecDeque::new()),
            default_ttl,
            gate: None,
            entered: Arc::new(Semaphore::new(0)),
        })
    }

    fn gated(clock: &ManualClock, default_ttl: Option<Duration>) -> (Arc<Fake>, Arc<Semaphore>) {
        let gate = Arc::new(Semaphore::new(0));
        let fake = Arc::new(Fake {
            clock: clock.clone(),
            calls: AtomicUsize::new(0),
            script: Mutex::new(VecDeque::new()),
            default_ttl,
            gate: Some(Arc::clone(&gate)),
            entered: Arc::new(Semaphore::new(0)),
        });
        (fake, gate)
    }

    fn then(&self, steps: &[Step]) {
        self.script.lock().unwrap().extend(steps.iter().cloned());
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SecretSource for Fake {
    fn backend(&self) -> &'static str {
        "fake"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["fake"]
    }
    async fn fetch(&self, reference: &SecretRef) -> Result<Secret> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.entered.add_permits(1);
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        let step = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Step::Value(self.default_ttl));
        match step {
            Step::Fail(kind) => Err(Error::new(kind, "scripted failure")),
            Step::Value(ttl) => {
                let now = self.clock.now();
                Ok(Secret::new(
                    Zeroizing::new(format!("value-{n}").into_bytes()),
                    SecretMeta::new(reference.as_str(), "fake", now)
                        .with_version(n.to_string())
                        .with_expires_at(ttl.map(|t| now + t)),
                ))
            }
        }
    }
}

fn settings() -> CacheSettings {
    CacheSettings {
        refresh_buffer: Duration::from_secs(10),
        refresh_jitter: Duration::ZERO,
        default_ttl: Duration::from_secs(300),
        backoff_initial: Duration::from_secs(1),
        backoff_max: Duration::from_secs(8),
        ..CacheSettings::default()
    }
}

fn cached(fake: &Arc<Fake>, clock: &ManualClock, settings: CacheSettings) -> CachedSource {
    let cache = Cache::with_clock(settings, Arc::new(clock.clone()) as Arc<dyn Clock>).unwrap();
    CachedSource::new(Arc::clone(fake) as Arc<dyn SecretSource>, cache)
}

fn r(s: &str) -> SecretRef {
    SecretRef::parse(s).unwrap()
}

async fn value(src: &CachedSource, reference: &str) -> String {
    String::from_utf8(
        src.fetch(&r(reference))
            .await
            .unwrap()
            .expose_secret()
            .to_vec(),
    )
    .unwrap()
}

/// Lets spawned background refreshes run to completion.
async fn settle(fake: &Fake, calls: usize) {
    for _ in 0..1000 {
        if fake.calls() >= calls {
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("backend reached {} calls, expected {calls}", fake.calls());
}

#[tokio::test]
async fn hits_do_not_call_the_backend_and_expiry_is_absolute() {
    let clock = ManualClock::default();
    let fake = Fake::new(&clock, Some(Duration::from_secs(60)));
    // Every refresh fails, so only the absolute expiry can end the first value.
    fake.then(&[
        Step::Value(Some(Duration::from_secs(60))),
        Step::Fail(ErrorKind::Unavailable),
        Step::Fail(ErrorKind::Unavailable),
        Step::Fail(ErrorKind::Unavailable),
    ]);
    let src = cached(&fake, &clock, settings());
    assert_eq!(value(&src, "fake://a/b").await, "value-1");
    for _ in 0..5 {
        clock.advance(Duration::from_secs(5));
        assert_eq!(value(&src, "fake://a/b").await, "value-1");
    }
    assert_eq!(
        fake.calls(),
        1,
        "reads before refresh_at never reach the backend"
    );
    // Reads at 59 s keep the value (refresh failing in the background) but do not extend it.
    clock.advance(Duration::from_secs(34));
    assert_eq!(value(&src, "fake://a/b").await, "value-1");
    settle(&fake, 2).await;
    clock.advance(Duration::from_secs(1));
    // 60 s after the fetch the value is gone: the next read fetches (value-N, N > 1).
    let after = value(&src, "fake://a/b").await;
    assert_ne!(after, "value-1");
}

#[tokio::test]
async fn refresh_happens_in_the_background_and_callers_do_not_wait() {
    let clock = ManualClock::default();
    let (fake, gate) = Fake::gated(&clock, Some(Duration::from_secs(60)));
    gate.add_permits(1);
    let src = cached(&fake, &clock, settings());
    assert_eq!(value(&src, "fake://a/b").await, "value-1");
    let state = src.cache().state("fake://a/b").unwrap();
    // lifetime 60 s: lead = min(max(10 s, 20 s), 30 s) = 20 s.
    assert_eq!(
        state.expires_at.duration_since(state.refresh_at).unwrap(),
        Duration::from_secs(20)
    );

    clock.advance(Duration::from_secs(41));
    // The refresh is held at the gate, yet reads answer at once with the current value.
    for _ in 0..10 {
        assert_eq!(value(&src, "fake://a/b").await, "value-1");
    }
    settle(&fake, 2).await;
    assert!(src.cache().state("fake://a/b").unwrap().refreshing);
    assert_eq!(fake.calls(), 2, "one refresh, however many reads");
    gate.add_permits(1);
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(value(&src, "fake://a/b").await, "value-2");
    let state = src.cache().state("fake://a/b").unwrap();
    assert_eq!(state.expires_at, clock.now() + Duration::from_secs(60));
}

#[tokio::test]
async fn jitter_spreads_refreshes_within_bounds() {
    let clock = ManualClock::default();
    let fake = Fake::new(&clock, Some(Duration::from_secs(3600)));
    let src = cached(
        &fake,
        &clock,
        CacheSettings {
            refresh_jitter: Duration::from_secs(60),
            ..settings()
        },
    );
    let mut leads = std::collections::BTreeSet::new();
    for i in 0..20 {
        let key = format!("fake://k/{i}");
        value(&src, &key).await;
        let s = src.cache().state(&key).unwrap();
        let lead = s.expires_at.duration_since(s.refresh_at).unwrap();
        // lifetime 1 h: lead = 20 min + up to 60 s of jitter.
        assert!(
            lead >= Duration::from_secs(1200) && lead <= Duration::from_secs(1260),
            "{lead:?}"
        );
        leads.insert(lead);
    }
    assert!(leads.len() > 1, "jitter must vary the refresh time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_cold_reads_make_one_backend_call() {
    let clock = ManualClock::default();
    let (fake, gate) = Fake::gated(&clock, None);
    let src = Arc::new(cached(&fake, &clock, settings()));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let src = Arc::clone(&src);
        tasks.push(tokio::spawn(async move { value(&src, "fake://a/b").await }));
    }
    fake.entered.acquire().await.unwrap().forget();
    tokio::time::sleep(Duration::from_millis(50)).await;
    gate.add_permits(1);
    for t in tasks {
        // A broken single flight would leave extra calls stuck at the gate: fail, don't hang.
        let got = tokio::time::timeout(Duration::from_secs(5), t).await;
        assert_eq!(
            got.expect("a caller is stuck: more than one backend call")
                .unwrap(),
            "value-1"
        );
    }
    assert_eq!(fake.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_gives_up_does_not_poison_the_entry() {
    let clock = ManualClock::default();
    let (fake, gate) = Fake::gated(&clock, None);
    let src = Arc::new(cached(&fake, &clock, settings()));
    let first = {
        let src = Arc::clone(&src);
        tokio::spawn(async move { value(&src, "fake://a/b").await })
    };
    fake.entered.acquire().await.unwrap().forget();
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    // The next caller resumes the same fetch instead of starting a second one.
    gate.add_permits(1);
    assert_eq!(value(&src, "fake://a/b").await, "value-1");
    assert_eq!(fake.calls(), 1);

    let timed_out =
        tokio::time::timeout(Duration::from_millis(20), value(&src, "fake://c/d")).await;
    assert!(timed_out.is_err());
    gate.add_permits(1);
    assert_eq!(value(&src, "fake://c/d").await, "value-2");
}

#[tokio::test]
async fn stale_if_error_serves_until_hard_expiry_with_bounded_retries() {
    let clock = ManualClock::default();
    let fake = Fake::new(&clock, Some(Duration::from_secs(60)));
    fake.then(&[Step::Value(Some(Duration::from_secs(60)))]);
    fake.then(&vec![Step::Fail(ErrorKind::Unavailable); 50]);
    let src = cached(&fake, &clock, settings());
    assert_eq!(value(&src, "fake://a/b").await, "value-1");

    clock.advance(Duration::from_secs(40)); // refresh due
    assert_eq!(value(&src, "fake://a/b").await, "value-1");
    settle(&fake, 2).await;
    // Within the backoff, reads do not start another refresh: no hot loop.
    for _ in 0..50 {
        assert_eq!(value(&src, "fake://a/b").await, "value-1");
        tokio::task::yield_now().await;
    }
    assert_eq!(fake.calls(), 2);
    assert_eq!(src.cache().state("fake://a/b").unwrap().failures, 1);
    // After the backoff (at most 1 s for the first failure) one more try.
    clock.advance(Duration::from_millis(1001));
    assert_eq!(value(&src, "fake://a/b").await, "value-1");
    settle(&fake, 3).await;
    assert_eq!(src.cache().state("fake://a/b").unwrap().failures, 2);

    // At the hard expiry the stale value is no longer served; the caller's fetch
    // retries the temporary error and then reports it.
    clock.set(clock.now() + Duration::from_secs(19));
    let e = src.fetch(&r("fake://a/b")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert_eq!(e.attempts(), 3);
    assert!(e.to_string().contains("gave up after 3 attempts"), "{e}");
    assert_eq!(fake.calls(), 6);
}

#[tokio::test]
async fn permanent_errors_are_reported_once_and_not_cached() {
    let clock = ManualClock::default();
    let fake = Fake::new(&clock, None);
    fake.then(&[
        Step::Fail(ErrorKind::NotFound),
        Step::Fail(ErrorKind::PermissionDenied),
    ]);
    let src = cached(&fake, &clock, settings());
    let e = src.fetch(&r("fake://a/b")).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.is_temporary(), fake.calls()),
        (ErrorKind::NotFound, false, 1)
    );
    let e = src.fetch(&r("fake://a/b")).await.unwrap_err();
    assert_eq!((e.kind(), fake.calls()), (ErrorKind::PermissionDenied, 2));
    // The failure was not cached as a value: the next read reaches the backend.
    assert_eq!(value(&src, "fake://a/b").await, "value-3");
}

#[tokio::test]
async fn a_permanent_refresh_error_waits_the_longest_backoff() {
    let clock = ManualClock::default();
    let fake = Fake::new(&clock, Some(Duration::from_secs(60)));
    fake.then(&[
        Step::Value(Some(Duration::from_secs(60))),
        Step::Fail(ErrorKind::PermissionDenied),
    ]);
    let src = cached(&fake, &clock, settings());
    value(&src, "fake://a/b").await;
    clock.advance(Duration::from_secs(41));
    value(&src, "fake://a/b").await;
    settle(&fake, 2).await;
    clock.advance(Duration::from_secs(7));
    value(&src, "fake://a/b").await;
    tokio::task::yield_now().await;
    assert_eq!(fake.calls(), 2, "no retry before backoff_max (8 s)");
    clock.advance(Duration::from_secs(2));
    assert_eq!(value(&src, "fake://a/b").await, "value-1");
    settle(&fake, 3).await;
}

#[tokio::test]
async fn invalidate_forces_the_next_read_to_fetch() {
    let clock = ManualClock::default();
    let fake = Fake::new(&clock, None);
    let src = cached(&fake, &clock, settings());
    assert_eq!(value(&src, "fake://a/b").await, "value-1");
    assert_eq!(value(&src, "fake://a/b").await, "value-1");
    src.cache().invalidate("fake://a/b");
    assert_eq!(value(&src, "fake://a/b").await, "value-2");
}

#[tokio::test]
async fn values_without_expiry_use_the_ttl_given_or_the_default() {
    let clock = ManualClock::default();
    let fake = Fake::new(&clock, None);
    let cache: Cache<Secret> =
        Cache::with_clock(settings(), Arc::new(clock.clone()) as Arc<dyn Clock>).unwrap();
    let f = Arc::clone(&fake);
    let fetch: cleo_core::cache::Fetcher<Secret> = Arc::new(move |_previous| {
        let f = Arc::clone(&f);
        Box::pin(async move { f.fetch(&r("fake://a/b")).await })
    });
    cache
        .get_with(
            "short",
            "fake",
            Some(Duration::from_secs(30)),
            Arc::clone(&fetch),
        )
        .await
        .unwrap();
    cache
        .get_with("default", "fake", None, fetch)
        .await
        .unwrap();
    let now = clock.now();
    assert_eq!(
        cache.state("short").unwrap().expires_at,
        now + Duration::from_secs(30)
    );
    assert_eq!(
        cache.state("default").unwrap().expires_at,
        now + Duration::from_secs(300)
    );
}

#[tokio::test]
async fn the_cache_is_bounded_and_evicts_the_least_recently_used() {
    let clock = ManualClock::default();
    let fake = Fake::new(&clock, None);
    let src = cached(
        &fake,
        &clock,
        CacheSettings {
            max_entries: 3,
            ..settings()
        },
    );
    for k in ["fake://k/1", "fake://k/2", "fake://k/3"] {
        value(&src, k).await;
    }
    assert_eq!(src.cache().entry_count(), 3);
    // Touch 1 so that 2 is the least recently used.
    value(&src, "fake://k/1").await;
    assert_eq!(src.cache().entry_count(), 3);
    value(&src, "fake://k/4").await;
    assert_eq!(src.cache().entry_count(), 3);
    assert!(
        src.cache().state("fake://k/2").is_none(),
        "k/2 was least recently used"
    );
    assert!(src.cache().state("fake://k/1").is_some());
    assert!(src.cache().state("fake://k/4").is_some());
}

/// A credential whose drop is observable, to show the cache lets go of it.
#[derive(Debug)]
struct Cred {
    expires_at: SystemTime,
    dropped: Arc<AtomicUsize>,
}

impl Expiring for Cred {
    fn expires_at(&self) -> Option<SystemTime> {
        Some(self.expires_at)
    }
}

impl Drop for Cred {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct Issuer {
    clock: ManualClock,
    issued: AtomicUsize,
    dropped: Arc<AtomicUsize>,
}

#[async_trait]
impl CredentialProvider for Issuer {
    type Credential = Cred;
    async fn credential(&self) -> Result<Arc<Cred>> {
        self.issued.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(Cred {
            expires_at: self.clock.now() + Duration::from_secs(900),
            dropped: Arc::clone(&self.dropped),
        }))
    }
}

#[tokio::test]
async fn credentials_are_refreshed_before_any_caller_sees_them_expire() {
    let clock = ManualClock::default();
    let issuer = Arc::new(Issuer {
        clock: clock.clone(),
        issued: AtomicUsize::new(0),
        dropped: Arc::new(AtomicUsize::new(0)),
    });
    let cache = Cache::with_clock(settings(), Arc::new(clock.clone()) as Arc<dyn Clock>).unwrap();
    let provider = CachedCredentialProvider::new(Arc::clone(&issuer), cache, "sts");
    // Read every 10 s for an hour; no caller may ever hold a credential that has expired.
    for _ in 0..360 {
        let c = provider.credential().await.unwrap();
        assert!(
            c.expires_at > clock.now(),
            "a caller saw an expired credential"
        );
        assert!(
            c.expires_at.duration_since(clock.now()).unwrap() > Duration::from_secs(60),
            "refreshed well ahead of expiry"
        );
        drop(c);
        clock.advance(Duration::from_secs(10));
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
    }
    let issued = issuer.issued.load(Ordering::SeqCst);
    // 15 min credentials refreshed at 10 min: about 6 in an hour, not 360.
    assert!((5..=8).contains(&issued), "{issued} credentials issued");
    // Every replaced credential was released by the cache.
    assert_eq!(
        issuer.dropped.load(Ordering::SeqCst),
        issued - 1,
        "only the current one is held"
    );
    cleo_core::CredentialProvider::invalidate(&provider);
    assert_eq!(issuer.dropped.load(Ordering::SeqCst), issued);
}

#[tokio::test]
async fn the_audit_log_records_events_without_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let clock = ManualClock::default();
    let fake = Fake::new(&clock, Some(Duration::from_secs(60)));
    fake.then(&[
        Step::Value(Some(Duration::from_secs(60))),
        Step::Value(Some(Duration::from_secs(60))),
        Step::Fail(ErrorKind::NotFound),
    ]);
    let src = cached(
        &fake,
        &clock,
        CacheSettings {
            audit_log: Some(path.clone()),
            ..settings()
        },
    );
    value(&src, "fake://a/b").await;
    clock.advance(Duration::from_secs(45));
    value(&src, "fake://a/b").await;
    settle(&fake, 2).await;
    src.cache().invalidate("fake://a/b");
    let _ = src.fetch(&r("fake://a/b")).await;

    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fetch", "refresh", "invalidate", "fetch"], "{text}");
    assert_eq!(events[0]["key"], "fake://a/b");
    assert_eq!(events[0]["backend"], "fake");
    assert_eq!(events[0]["version"], "1");
    assert_eq!(events[0]["outcome"], "ok");
    assert!(events[0]["latency_ms"].is_number());
    assert_eq!(events[3]["outcome"], "not_found");
    assert!(!text.contains("value-"), "{text}");
}
