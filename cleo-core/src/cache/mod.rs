//! The cache and lifecycle engine: absolute expiry, refresh ahead in the background,
//! single flight, stale-if-error, bounded LRU, injected time, and an audit trail.
//!
//! An entry is a `Slot` that outlives its values. Reads take the fast path: one map
//! lookup and one lock-free load of the current value. Everything else (fetching,
//! refreshing, backing off) happens under the slot's small control lock, which a
//! steady-state read never takes except to start a refresh.
//!
//! Timeline of one value, fetched at `t0` with hard expiry `te`:
//!
//! ```text
//! t0 ──── fresh ──── refresh_at ── served, one background refresh ── te ── gone
//! ```
//!
//! `refresh_at = te - min(max(refresh_buffer, lifetime/3) + jitter, lifetime/2)`.
//! A failed refresh keeps the value until `te` (never beyond) and is retried after
//! an exponential backoff with jitter. After `te` the next caller fetches, and all
//! concurrent callers share that one fetch.

mod audit;
mod layer;
pub(crate) mod settings;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use std::sync::atomic::{AtomicU64, Ordering};

pub use audit::AuditEvent;
pub use layer::{CachedCredentialProvider, CachedSource};
pub(crate) use settings::RawCacheSettings;
pub use settings::{CacheSettings, MAX_TTL};

use crate::clock::{Clock, SystemClock};
use crate::credential::Expiring;
use crate::error::Result;
use crate::secret::Secret;
use audit::{AuditFile, Record, emit};

/// What the cache needs to know about a value.
pub trait CacheValue: Clone + Send + Sync + 'static {
    /// The backend's expiry, if any.
    fn expires_at(&self) -> Option<SystemTime>;
    /// The backend's version, for the audit trail.
    fn version(&self) -> Option<&str> {
        None
    }
}

impl CacheValue for Secret {
    fn expires_at(&self) -> Option<SystemTime> {
        self.meta().expires_at
    }
    fn version(&self) -> Option<&str> {
        self.meta().version.as_deref()
    }
}

impl<C: Expiring + Send + Sync + 'static> CacheValue for Arc<C> {
    fn expires_at(&self) -> Option<SystemTime> {
        Expiring::expires_at(&**self)
    }
}

/// Fetches one key's value; called once per fetch or refresh. A refresh passes the
/// value it replaces, so a source can renew it (a lease) instead of fetching anew.
pub type Fetcher<V> = Arc<dyn Fn(Option<V>) -> BoxFuture<'static, Result<V>> + Send + Sync>;

type SharedFetch<V> = Shared<BoxFuture<'static, Result<V>>>;

struct Cached<V> {
    value: V,
    refresh_at: SystemTime,
    expires_at: SystemTime,
}

struct Control<V> {
    fetcher: Option<Fetcher<V>>,
    backend: &'static str,
    ttl: Option<Duration>,
    inflight: Option<SharedFetch<V>>,
    refreshing: bool,
    /// No background refresh before this time (set after a failed refresh).
    retry_at: Option<SystemTime>,
    failures: u32,
}

struct Slot<V> {
    key: Arc<str>,
    /// The insert epoch at this slot's last read: least-recently-used order at the
    /// granularity of inserts, kept without a shared counter on the read path.
    last_used: AtomicU64,
    current: ArcSwapOption<Cached<V>>,
    ctl: Mutex<Control<V>>,
}

impl<V> Slot<V> {
    fn ctl(&self) -> std::sync::MutexGuard<'_, Control<V>> {
        self.ctl.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Inner<V> {
    settings: CacheSettings,
    clock: Arc<dyn Clock>,
    map: papaya::HashMap<Arc<str>, Arc<Slot<V>>, foldhash::fast::RandomState>,
    /// Bumped by every insert; reads copy it into the slot they touch.
    epoch: AtomicU64,
    /// Serialises inserts (and the evictions they cause); reads never take it.
    inserting: Mutex<()>,
    audit: Option<Arc<AuditFile>>,
}

/// A bounded cache of values that expire and are refreshed ahead of time.
/// Cheap to clone: clones share the entries.
pub struct Cache<V: CacheValue> {
    inner: Arc<Inner<V>>,
}

impl<V: CacheValue> Clone for Cache<V> {
    fn clone(&self) -> Self {
        Cache {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<V: CacheValue> fmt::Debug for Cache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("entries", &self.inner.map.len())
            .field("settings", &self.inner.settings)
            .finish()
    }
}

/// Where a key stands, for `cleo inspect` and tests. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryState {
    /// When a background refresh becomes due.
    pub refresh_at: SystemTime,
    /// When the value stops being served.
    pub expires_at: SystemTime,
    /// Whether a background refresh is running.
    pub refreshing: bool,
    /// Background refresh failures in a row.
    pub failures: u32,
}

impl<V: CacheValue> Cache<V> {
    /// A cache on the system clock.
    pub fn new(settings: CacheSettings) -> Result<Self> {
        Cache::with_clock(settings, Arc::new(SystemClock))
    }

    /// A cache on a given clock (a [`crate::ManualClock`] in tests).
    pub fn with_clock(settings: CacheSettings, clock: Arc<dyn Clock>) -> Result<Self> {
        let audit = settings
            .audit_log
            .as_deref()
            .map(AuditFile::open)
            .transpose()?
            .map(Arc::new);
        let map = papaya::HashMap::builder()
            .hasher(foldhash::fast::RandomState::default())
            .build();
        Ok(Cache {
            inner: Arc::new(Inner {
                settings,
                clock,
                map,
                epoch: AtomicU64::new(0),
                inserting: Mutex::new(()),
                audit,
            }),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &CacheSettings {
        &self.inner.settings
    }

    /// The value for `key` if one is cached and not expired, without fetching.
    /// Starts a background refresh when one is due.
    pub fn get_cached(&self, key: &str) -> Option<V> {
        let map = self.inner.map.pin();
        let slot = map.get(key)?;
        let epoch = self.inner.epoch.load(Ordering::Relaxed);
        // Write only when it changes, so steady reads of a hot key share its cache line.
        if slot.last_used.load(Ordering::Relaxed) != epoch {
            slot.last_used.store(epoch, Ordering::Relaxed);
        }
        let current = slot.current.load();
        let cached = current.as_ref()?;
        let now = self.inner.clock.now();
        if now < cached.refresh_at {
            return Some(cached.value.clone());
        }
        if now < cached.expires_at {
            let value = cached.value.clone();
            drop(current);
            self.maybe_refresh(slot, now);
            return Some(value);
        }
        None
    }

    /// The value for `key`: cached if valid, otherwise fetched with `fetcher` (once,
    /// for all concurrent callers). `ttl` caps how long a value is kept; a value with
    /// no expiry of its own is kept for `ttl` or the default TTL.
    pub async fn get_with(
        &self,
        key: &str,
        backend: &'static str,
        ttl: Option<Duration>,
        fetcher: Fetcher<V>,
    ) -> Result<V> {
        if let Some(v) = self.get_cached(key) {
            return Ok(v);
        }
        let slot = self.slot_for(key, backend, ttl);
        let fetch = {
            let mut ctl = slot.ctl();
            ctl.fetcher = Some(Arc::clone(&fetcher));
            ctl.backend = backend;
            ctl.ttl = ttl;
            let now = self.inner.clock.now();
            if let Some(cached) = slot.current.load_full() {
                if now < cached.expires_at {
                    // Filled by another caller since the fast path looked.
                    return Ok(cached.value.clone());
                }
                slot.current.store(None);
                self.audit(
                    AuditEvent::Expire,
                    &slot.key,
                    backend,
                    cached.value.version(),
                    "ok",
                    None,
                );
            }
            match &ctl.inflight {
                Some(f) => f.clone(),
                None => {
                    let f = self.fetch_task(Arc::clone(&slot), fetcher).boxed().shared();
                    ctl.inflight = Some(f.clone());
                    f
                }
            }
        };
        // Dropping this future (a caller giving up) leaves the shared fetch in the
        // slot: other waiters keep driving it, and a later caller resumes it.
        fetch.await
    }

    /// The slot for `key`, inserted (evicting the least recently used entry beyond
    /// `max_entries`) if absent.
    fn slot_for(&self, key: &str, backend: &'static str, ttl: Option<Duration>) -> Arc<Slot<V>> {
        if let Some(slot) = self.inner.map.pin().get(key) {
            return Arc::clone(slot);
        }
        let _one_inserter = self
            .inner
            .inserting
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let map = self.inner.map.pin();
        if let Some(slot) = map.get(key) {
            return Arc::clone(slot);
        }
        let epoch = self.inner.epoch.fetch_add(1, Ordering::Relaxed) + 1;
        while map.len() as u64 >= self.inner.settings.max_entries {
            let Some(victim) = map
                .iter()
                .min_by_key(|(_, s)| s.last_used.load(Ordering::Relaxed))
                .map(|(k, s)| (Arc::clone(k), Arc::clone(s)))
            else {
                break;
            };
            map.remove(&victim.0);
            let backend = victim.1.ctl().backend;
            // Dropping the value here lets it be wiped as soon as callers drop theirs.
            victim.1.current.store(None);
            self.audit(AuditEvent::Evict, &victim.0, backend, None, "ok", None);
        }
        let key: Arc<str> = Arc::from(key);
        let slot = Arc::new(Slot {
            key: Arc::clone(&key),
            last_used: AtomicU64::new(epoch),
            current: ArcSwapOption::const_empty(),
            ctl: Mutex::new(Control {
                fetcher: None,
                backend,
                ttl,
                inflight: None,
                refreshing: false,
                retry_at: None,
                failures: 0,
            }),
        });
        map.insert(key, Arc::clone(&slot));
        slot
    }

    /// Drops `key`'s value so the next read fetches again (after a 401, say).
    pub fn invalidate(&self, key: &str) {
        let map = self.inner.map.pin();
        if let Some(slot) = map.remove(key) {
            let version = slot
                .current
                .load()
                .as_ref()
                .and_then(|c| c.value.version().map(str::to_owned));
            slot.current.store(None);
            let backend = slot.ctl().backend;
            self.audit(
                AuditEvent::Invalidate,
                key,
                backend,
                version.as_deref(),
                "ok",
                None,
            );
        }
    }

    /// Drops every entry.
    pub fn clear(&self) {
        let map = self.inner.map.pin();
        for (_, slot) in map.iter() {
            slot.current.store(None);
        }
        map.clear();
    }

    /// Where `key` stands, if it holds a value.
    pub fn state(&self, key: &str) -> Option<EntryState> {
        let map = self.inner.map.pin();
        let slot = map.get(key)?;
        let cached = slot.current.load_full()?;
        let ctl = slot.ctl();
        Some(EntryState {
            refresh_at: cached.refresh_at,
            expires_at: cached.expires_at,
            refreshing: ctl.refreshing,
            failures: ctl.failures,
        })
    }

    /// Entries currently held.
    pub fn entry_count(&self) -> u64 {
        self.inner.map.len() as u64
    }

    fn audit(
        &self,
        event: AuditEvent,
        key: &str,
        backend: &str,
        version: Option<&str>,
        outcome: &str,
        latency: Option<Duration>,
    ) {
        emit(
            self.inner.audit.as_deref(),
            &Record {
                event,
                key,
                backend,
                version,
                outcome,
                latency,
                at: self.inner.clock.now(),
            },
        );
    }

    fn schedule(&self, value: V, fetched_at: SystemTime, ttl: Option<Duration>) -> Cached<V> {
        let s = &self.inner.settings;
        let own = value.expires_at();
        // Longer than this is treated as this: it keeps time arithmetic far from overflow.
        let longest = fetched_at + settings::MAX_TTL;
        let capped = ttl.map(|t| fetched_at.checked_add(t).unwrap_or(longest).min(longest));
        let own = own.map(|t| t.min(longest));
        let expires_at = match (own, capped) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => fetched_at
                .checked_add(s.default_ttl)
                .unwrap_or(longest)
                .min(longest),
        };
        let lifetime = expires_at.duration_since(fetched_at).unwrap_or_default();
        let jitter = random_up_to(s.refresh_jitter);
        let lead = (s.refresh_buffer.max(lifetime / 3) + jitter).min(lifetime / 2);
        Cached {
            value,
            refresh_at: expires_at - lead,
            expires_at,
        }
    }

    /// The backoff before try number `failures + 1`: doubling from
    /// `backoff_initial`, capped at `backoff_max`, with up to 50% jitter taken off.
    fn backoff(&self, failures: u32) -> Duration {
        let s = &self.inner.settings;
        let exp = s
            .backoff_initial
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
            .min(s.backoff_max);
        exp - random_up_to(exp / 2)
    }

    /// A caller-facing fetch with retries of temporary errors. Its result lands in
    /// the slot whoever polls it to the end.
    fn fetch_task(
        &self,
        slot: Arc<Slot<V>>,
        fetcher: Fetcher<V>,
    ) -> impl Future<Output = Result<V>> + Send + 'static {
        let cache = self.clone();
        async move {
            let (backend, ttl) = {
                let ctl = slot.ctl();
                (ctl.backend, ctl.ttl)
            };
            let attempts = cache.inner.settings.retry_attempts;
            // Retries stop once this much time has gone, so a backend that times out
            // is not waited on `retry_attempts` times over.
            let budget = cache.inner.settings.backoff_max;
            let first_try = Instant::now();
            let mut attempt = 0;
            let result = loop {
                attempt += 1;
                let started = Instant::now();
                let fetched_at = cache.inner.clock.now();
                match fetcher(None).await {
                    Ok(v) => {
                        let cached = cache.schedule(v.clone(), fetched_at, ttl);
                        cache.audit(
                            AuditEvent::Fetch,
                            &slot.key,
                            backend,
                            v.version(),
                            "ok",
                            Some(started.elapsed()),
                        );
                        slot.current.store(Some(Arc::new(cached)));
                        break Ok(v);
                    }
                    Err(e) => {
                        cache.audit(
                            AuditEvent::Fetch,
                            &slot.key,
                            backend,
                            None,
                            e.kind().as_str(),
                            Some(started.elapsed()),
                        );
                        // The backend's Retry-After wins over our backoff when longer.
                        let wait = cache
                            .backoff(attempt)
                            .max(e.retry_after().unwrap_or_default());
                        if e.is_temporary()
                            && attempt < attempts
                            && first_try.elapsed() + wait < budget
                        {
                            tracing::debug!(key = %slot.key, backend, attempt, wait_ms = wait.as_millis() as u64, "temporary error, retrying");
                            cache.inner.clock.sleep(wait).await;
                            continue;
                        }
                        break Err(if attempt > 1 {
                            e.with_attempts(attempt)
                        } else {
                            e
                        });
                    }
                }
            };
            let mut ctl = slot.ctl();
            ctl.inflight = None;
            if result.is_ok() {
                ctl.failures = 0;
                ctl.retry_at = None;
            }
            result
        }
    }

    /// Starts one background refresh if it is due and none is running or backing off.
    fn maybe_refresh(&self, slot: &Arc<Slot<V>>, now: SystemTime) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            // No runtime to run it on: the value is served until expiry, then fetched.
            return;
        };
        let (fetcher, backend, ttl) = {
            let mut ctl = slot.ctl();
            if ctl.refreshing || ctl.inflight.is_some() || ctl.retry_at.is_some_and(|t| now < t) {
                return;
            }
            let Some(fetcher) = ctl.fetcher.clone() else {
                return;
            };
            ctl.refreshing = true;
            (fetcher, ctl.backend, ctl.ttl)
        };
        let previous = slot.current.load().as_ref().map(|c| c.value.clone());
        let cache = self.clone();
        let slot = Arc::clone(slot);
        handle.spawn(async move {
            let started = Instant::now();
            let fetched_at = cache.inner.clock.now();
            let result = fetcher(previous).await;
            let mut ctl = slot.ctl();
            ctl.refreshing = false;
            match result {
                Ok(v) => {
                    cache.audit(
                        AuditEvent::Refresh,
                        &slot.key,
                        backend,
                        v.version(),
                        "ok",
                        Some(started.elapsed()),
                    );
                    slot.current
                        .store(Some(Arc::new(cache.schedule(v, fetched_at, ttl))));
                    ctl.failures = 0;
                    ctl.retry_at = None;
                }
                Err(e) => {
                    ctl.failures += 1;
                    // Permanent errors are not worth retrying soon; temporary ones back off.
                    let wait = if e.is_temporary() {
                        cache
                            .backoff(ctl.failures)
                            .max(e.retry_after().unwrap_or_default())
                            .min(cache.inner.settings.backoff_max)
                    } else {
                        cache.inner.settings.backoff_max
                    };
                    ctl.retry_at = Some(cache.inner.clock.now() + wait);
                    cache.audit(
                        AuditEvent::Refresh,
                        &slot.key,
                        backend,
                        None,
                        e.kind().as_str(),
                        Some(started.elapsed()),
                    );
                    tracing::warn!(
                        key = %slot.key,
                        backend,
                        error = %e,
                        failures = ctl.failures,
                        retry_in_ms = wait.as_millis() as u64,
                        "background refresh failed; serving the current value until it expires"
                    );
                }
            }
        });
    }
}

fn random_up_to(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_nanos(fastrand::u64(
        0..=max.as_nanos().min(u64::MAX as u128) as u64,
    ))
}

/// A `Fetcher` from a closure that always fetches anew (ignores the value it replaces).
pub(crate) fn fetcher<V, F, Fut>(f: F) -> Fetcher<V>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<V>> + Send + 'static,
{
    Arc::new(move |_previous| f().boxed())
}

/// A `Fetcher` for secrets: a refresh goes to [`SecretSource::refresh`] with the
/// value it replaces, a first fetch to [`SecretSource::fetch`].
pub(crate) fn secret_fetcher(
    source: Arc<dyn crate::source::SecretSource>,
    reference: crate::reference::SecretRef,
) -> Fetcher<Secret> {
    Arc::new(move |previous: Option<Secret>| {
        let source = Arc::clone(&source);
        let reference = reference.clone();
        async move {
            match previous {
                Some(p) => source.refresh(&reference, &p).await,
                None => source.fetch(&reference).await,
            }
        }
        .boxed()
    })
}
