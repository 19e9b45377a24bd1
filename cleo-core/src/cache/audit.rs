//! The audit trail: every fetch, refresh, failure, invalidation and eviction is a
//! `tracing` event on target `cleo::audit`, and optionally a JSON line in a file.
//! Events carry the key (a reference or logical name), backend, version, outcome
//! and latency; never a value.

use std::fs::{File, OpenOptions};
use std::io::{LineWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::error::{Error, ErrorKind, Result};

/// What happened to a cache entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent {
    /// A caller-facing fetch (cold or expired entry).
    Fetch,
    /// A background refresh ahead of expiry.
    Refresh,
    /// A value reached its hard expiry and was dropped.
    Expire,
    /// The entry was dropped on request.
    Invalidate,
    /// The entry was evicted to stay within `max_entries`.
    Evict,
}

impl AuditEvent {
    fn as_str(self) -> &'static str {
        match self {
            AuditEvent::Fetch => "fetch",
            AuditEvent::Refresh => "refresh",
            AuditEvent::Expire => "expire",
            AuditEvent::Invalidate => "invalidate",
            AuditEvent::Evict => "evict",
        }
    }
}

/// One audit record.
pub(crate) struct Record<'a> {
    pub event: AuditEvent,
    pub key: &'a str,
    pub backend: &'a str,
    pub version: Option<&'a str>,
    /// `ok`, or the error kind.
    pub outcome: &'a str,
    pub latency: Option<Duration>,
    pub at: SystemTime,
}

/// Appends JSON lines to a file opened with mode 0600.
#[derive(Debug)]
pub(crate) struct AuditFile {
    out: Mutex<LineWriter<File>>,
}

impl AuditFile {
    pub(crate) fn open(path: &Path) -> Result<AuditFile> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("cannot open the audit log {}", path.display()),
                )
                .with_source(e)
            })?;
        Ok(AuditFile {
            out: Mutex::new(LineWriter::new(file)),
        })
    }

    fn write(&self, line: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // An audit write failure must not fail the read; it is reported in the log.
        if let Err(e) = writeln!(out, "{line}") {
            tracing::warn!(target: "cleo::audit", error = %e, "cannot write the audit log");
        }
    }
}

pub(crate) fn emit(file: Option<&AuditFile>, r: &Record<'_>) {
    let latency_ms = r.latency.map(|d| d.as_secs_f64() * 1e3);
    tracing::info!(
        target: "cleo::audit",
        event = r.event.as_str(),
        key = r.key,
        backend = r.backend,
        version = r.version.unwrap_or("-"),
        outcome = r.outcome,
        latency_ms,
        "cache {}",
        r.event.as_str()
    );
    if let Some(f) = file {
        let line = serde_json::json!({
            "ts": humantime::format_rfc3339_millis(r.at).to_string(),
            "event": r.event.as_str(),
            "key": r.key,
            "backend": r.backend,
            "version": r.version,
            "outcome": r.outcome,
            "latency_ms": latency_ms,
        });
        f.write(&line.to_string());
    }
}
