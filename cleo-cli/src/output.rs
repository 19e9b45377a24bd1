//! Rendering metadata for people and for JSON; never the value unless asked.

use std::time::SystemTime;

use cleo_core::{EntryState, Secret};
use serde_json::{Value, json};

pub(crate) fn time(t: SystemTime) -> String {
    // RFC 3339 stops at year 9999; a backend may still send an absurd expiry.
    const LAST: u64 = 253_402_300_799;
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) if d.as_secs() <= LAST => humantime::format_rfc3339_seconds(t).to_string(),
        Ok(_) => "after 9999-12-31".to_owned(),
        Err(_) => "before 1970".to_owned(),
    }
}

/// Metadata as JSON, without the value.
pub fn metadata_json(secret: &Secret, cache: Option<&EntryState>) -> Value {
    let m = secret.meta();
    json!({
        "cached_until": cache.map(|c| time(c.expires_at)),
        "refresh_at": cache.map(|c| time(c.refresh_at)),
        "reference": m.reference,
        "backend": m.backend,
        "version": m.version,
        "fetched_at": time(m.fetched_at),
        "expires_at": m.expires_at.map(time),
        "renewable": m.renewable,
        "lease": m.lease.as_ref().map(|l| json!({
            "id": l.id,
            "duration_seconds": l.duration.as_secs(),
            "renewable": l.renewable,
        })),
        "warnings": m.warnings,
    })
}

/// Metadata as aligned lines for people, the value masked.
pub fn metadata_text(secret: &Secret, cache: Option<&EntryState>) -> String {
    let m = secret.meta();
    let mut rows: Vec<(&str, String)> = vec![
        ("reference", m.reference.clone()),
        ("backend", m.backend.to_owned()),
        ("version", m.version.clone().unwrap_or_else(|| "-".into())),
        ("fetched", time(m.fetched_at)),
        (
            "expires",
            m.expires_at
                .map(time)
                .unwrap_or_else(|| "never (no lease or TTL)".into()),
        ),
        ("renewable", if m.renewable { "yes" } else { "no" }.into()),
    ];
    if let Some(c) = cache {
        rows.push((
            "cached",
            format!(
                "until {} (refresh from {})",
                time(c.expires_at),
                time(c.refresh_at)
            ),
        ));
    }
    if let Some(l) = &m.lease {
        rows.push(("lease", format!("{} ({} s)", l.id, l.duration.as_secs())));
    }
    for w in &m.warnings {
        rows.push(("warning", w.clone()));
    }
    rows.push((
        "value",
        "******** (masked; use --reveal to print it)".into(),
    ));
    rows.iter().map(|(k, v)| format!("{k:<10} {v}\n")).collect()
}
