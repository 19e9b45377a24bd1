//! Maps Vault's answers and transport failures onto cleo's error kinds.

use cleo_core::{Error, ErrorKind};
use reqwest::StatusCode;

/// The longest server message kept in an error, so a misbehaving server cannot
/// flood logs through cleo.
const MAX_SERVER_MESSAGE: usize = 300;

/// Joins Vault's `errors` array into one line, control characters removed.
pub(crate) fn server_message(errors: &[String]) -> String {
    let joined = errors.join("; ");
    let mut clean: String = joined
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_SERVER_MESSAGE)
        .collect();
    if joined.chars().count() > MAX_SERVER_MESSAGE {
        clean.push('…');
    }
    clean
}

/// An error for an HTTP status, with what the server said (`errors`) and what to do.
pub(crate) fn from_status(status: StatusCode, errors: &[String], path: &str) -> Error {
    let said = server_message(errors);
    let said = if said.is_empty() {
        String::new()
    } else {
        format!(": server said \"{said}\"")
    };
    let (kind, message, hint) = match status.as_u16() {
        400 => (
            ErrorKind::Unexpected,
            format!("Vault rejected the request for {path} (HTTP 400){said}"),
            "check the reference's mount and path".to_owned(),
        ),
        401 => (
            ErrorKind::Unauthenticated,
            format!("Vault refused the token (HTTP 401){said}"),
            "log in again or set a valid VAULT_TOKEN".to_owned(),
        ),
        403 => (
            ErrorKind::PermissionDenied,
            format!("permission denied reading {path} (HTTP 403){said}"),
            format!(
                "the token's policies must grant `read` on {path}; check with `bao token capabilities {path}`"
            ),
        ),
        404 => (
            ErrorKind::NotFound,
            format!("no secret at {path} (HTTP 404){said}"),
            "check the path with `bao kv list` on its parent".to_owned(),
        ),
        412 => (
            ErrorKind::Unavailable,
            format!(
                "the Vault node has not caught up with this client's last write (HTTP 412){said}"
            ),
            "retry shortly".to_owned(),
        ),
        429 => (
            ErrorKind::RateLimited,
            format!("Vault is rate limiting requests (HTTP 429){said}"),
            "slow down, or ask the Vault operators about the rate-limit quota".to_owned(),
        ),
        503 => (
            ErrorKind::Unavailable,
            format!("Vault is sealed, in standby or overloaded (HTTP 503){said}"),
            "check `bao status`, and retry".to_owned(),
        ),
        500..=599 => (
            ErrorKind::Unavailable,
            format!(
                "Vault answered with a server error (HTTP {}){said}",
                status.as_u16()
            ),
            "retry; if it persists, check the server's logs".to_owned(),
        ),
        other => (
            ErrorKind::Unexpected,
            format!("Vault answered HTTP {other} for {path}{said}"),
            "this is not a status cleo expects; check the address points at Vault".to_owned(),
        ),
    };
    Error::new(kind, message)
        .with_hint(hint)
        .with_backend("vault")
}

/// The innermost cause of an error, one line: what rustls or the OS actually said.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

const CLIENT_CERT_HINT: &str =
    "set [vault] client_cert and client_key (or VAULT_CLIENT_CERT and VAULT_CLIENT_KEY)";
const CLOSED_AFTER_TLS_HINT: &str = "the server closed the connection during or right after TLS: if it requires a client \
     certificate, set [vault] client_cert and client_key (or VAULT_CLIENT_CERT and VAULT_CLIENT_KEY)";

/// An error for a request that got no HTTP answer.
pub(crate) fn from_transport(e: reqwest::Error, address: &str, timeout_secs: f64) -> Error {
    let cause = root_cause(&e);
    let lower = cause.to_lowercase();
    // The server asking for a client certificate arrives either as this alert in the
    // handshake or as a closed connection right after it (below), depending on timing.
    if lower.contains("certificaterequired") || lower.contains("certificate required") {
        return Error::new(
            ErrorKind::Unavailable,
            format!("Vault at {address} requires a client certificate ({cause})"),
        )
        .with_temporary(false)
        .with_backend("vault")
        .with_hint(CLIENT_CERT_HINT);
    }
    if lower.contains("certificate")
        || lower.contains("unknownissuer")
        || lower.contains("notvalidforname")
    {
        return Error::new(
            ErrorKind::Unavailable,
            format!("the TLS certificate of Vault at {address} was not accepted: {cause}"),
        )
        .with_temporary(false)
        .with_backend("vault")
        .with_hint("check that the certificate matches the host name in the address and is signed by a CA this machine trusts; for a private CA, set [vault] ca_cert or VAULT_CACERT");
    }
    if lower.contains("corrupt message")
        || lower.contains("invalidcontenttype")
        || lower.contains("wrong version number")
    {
        return Error::new(
            ErrorKind::Unavailable,
            format!("Vault at {address} did not answer with TLS ({cause})"),
        )
        .with_temporary(false)
        .with_backend("vault")
        .with_hint("if the server serves plain HTTP on loopback, use an http:// address");
    }
    let message = if e.is_timeout() {
        format!("Vault at {address} did not answer within {timeout_secs:.1} s")
    } else if e.is_connect() {
        format!("cannot connect to Vault at {address}")
    } else if e.is_body() || e.is_decode() {
        format!("the answer from Vault at {address} was cut off")
    } else {
        format!("the request to Vault at {address} failed")
    };
    Error::new(ErrorKind::Unavailable, message)
        .with_source(e)
        .with_backend("vault")
        .with_hint(if address.starts_with("https://") && lower.contains("connection closed") {
            CLOSED_AFTER_TLS_HINT
        } else {
            "check that the server is running and that VAULT_ADDR (or [vault] address / addresses) points at it"
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds_and_temporariness() {
        let cases = [
            (403, ErrorKind::PermissionDenied, false),
            (404, ErrorKind::NotFound, false),
            (429, ErrorKind::RateLimited, true),
            (503, ErrorKind::Unavailable, true),
            (502, ErrorKind::Unavailable, true),
            (418, ErrorKind::Unexpected, false),
        ];
        for (code, kind, temporary) in cases {
            let e = from_status(StatusCode::from_u16(code).unwrap(), &[], "secret/data/x");
            assert_eq!((e.kind(), e.is_temporary()), (kind, temporary), "{code}");
        }
    }

    #[test]
    fn server_messages_are_bounded_and_single_line() {
        let long = vec!["a\nb".repeat(400)];
        let m = server_message(&long);
        assert!(!m.contains('\n'));
        assert!(m.chars().count() <= MAX_SERVER_MESSAGE + 1);
    }
}
