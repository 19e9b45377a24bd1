//! Cache settings: the `[cache]` section of `cleo.toml`, or built in code.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};

/// The longest a value is kept, whatever the backend or the config says.
pub const MAX_TTL: Duration = Duration::from_secs(366 * 24 * 3600);

/// How the cache keeps, refreshes and retries values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// Most entries kept; the least recently used is evicted beyond it.
    pub max_entries: u64,
    /// How long a value with no expiry of its own is kept.
    pub default_ttl: Duration,
    /// A refresh starts at least this long before expiry (or a third of the
    /// lifetime if longer, and never more than half of it).
    pub refresh_buffer: Duration,
    /// A random extra lead of up to this much, so many processes do not refresh at once.
    pub refresh_jitter: Duration,
    /// Tries per caller-facing fetch when the backend answers with a temporary error.
    pub retry_attempts: u32,
    /// First backoff between tries; it doubles, with jitter, up to `backoff_max`.
    pub backoff_initial: Duration,
    /// Longest backoff, also the pause after a permanent error in a background refresh.
    pub backoff_max: Duration,
    /// Where to append JSON-lines audit events (created with mode 0600), if anywhere.
    pub audit_log: Option<PathBuf>,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            max_entries: 10_000,
            default_ttl: Duration::from_secs(300),
            refresh_buffer: Duration::from_secs(60),
            refresh_jitter: Duration::from_secs(15),
            retry_attempts: 3,
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            audit_log: None,
        }
    }
}

/// `[cache]` as written in `cleo.toml`; durations are humantime strings (`"5m"`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCacheSettings {
    max_entries: Option<u64>,
    default_ttl: Option<String>,
    refresh_buffer: Option<String>,
    refresh_jitter: Option<String>,
    retry_attempts: Option<u32>,
    backoff_initial: Option<String>,
    backoff_max: Option<String>,
    audit_log: Option<PathBuf>,
}

fn duration(name: &str, raw: &Option<String>, default: Duration) -> Result<Duration> {
    match raw {
        None => Ok(default),
        Some(s) => humantime::parse_duration(s).map_err(|e| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!("[cache] {name} = \"{s}\": {e}"),
            )
            .with_hint("durations look like \"30s\", \"5m\" or \"1h\"")
        }),
    }
}

impl RawCacheSettings {
    pub(crate) fn resolve(&self) -> Result<CacheSettings> {
        let d = CacheSettings::default();
        let s = CacheSettings {
            max_entries: self.max_entries.unwrap_or(d.max_entries),
            default_ttl: duration("default_ttl", &self.default_ttl, d.default_ttl)?,
            refresh_buffer: duration("refresh_buffer", &self.refresh_buffer, d.refresh_buffer)?,
            refresh_jitter: duration("refresh_jitter", &self.refresh_jitter, d.refresh_jitter)?,
            retry_attempts: self.retry_attempts.unwrap_or(d.retry_attempts),
            backoff_initial: duration("backoff_initial", &self.backoff_initial, d.backoff_initial)?,
            backoff_max: duration("backoff_max", &self.backoff_max, d.backoff_max)?,
            audit_log: self.audit_log.clone(),
        };
        if s.max_entries == 0 {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                "[cache] max_entries must be at least 1",
            ));
        }
        if !(1..=10).contains(&s.retry_attempts) {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                "[cache] retry_attempts must be between 1 and 10",
            ));
        }
        if s.default_ttl < Duration::from_secs(1) || s.default_ttl > MAX_TTL {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                "[cache] default_ttl must be between 1s and 366 days",
            ));
        }
        if s.backoff_max > Duration::from_secs(3600) {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                "[cache] backoff_max must be at most 1h",
            ));
        }
        if s.backoff_initial.is_zero() || s.backoff_initial > s.backoff_max {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                "[cache] backoff_initial must be above zero and at most backoff_max",
            ));
        }
        Ok(s)
    }
}
