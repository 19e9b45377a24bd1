//! One error type for every backend: a kind, whether a retry may help, and
//! identifier-only context (reference, backend). Never a value.

use std::fmt;
use std::sync::Arc;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The secret, field, version or file does not exist.
    NotFound,
    /// The caller is known but not allowed to read this secret.
    PermissionDenied,
    /// No usable credentials: missing, expired, revoked or rejected token.
    Unauthenticated,
    /// The reference string is malformed or names an unknown scheme.
    InvalidReference,
    /// The configuration (file, environment) is missing something or is wrong.
    ConfigInvalid,
    /// The operation or reference form is not supported by this backend.
    Unsupported,
    /// The backend cannot be reached, is sealed, or answered with a server error.
    Unavailable,
    /// The backend asked us to slow down.
    RateLimited,
    /// The value exists but is not in the asked form (not UTF-8, not JSON).
    InvalidData,
    /// The backend answered something cleo does not understand.
    Unexpected,
}

impl ErrorKind {
    /// A short, stable, lowercase name used in logs, JSON output and exit-code docs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::InvalidReference => "invalid_reference",
            ErrorKind::ConfigInvalid => "config_invalid",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::InvalidData => "invalid_data",
            ErrorKind::Unexpected => "unexpected",
        }
    }

    /// Whether errors of this kind are worth retrying by default.
    pub fn is_temporary_by_default(self) -> bool {
        matches!(self, ErrorKind::Unavailable | ErrorKind::RateLimited)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error every cleo operation returns.
///
/// Its `Display` reads `<what failed> (reference: .., backend: ..)`, followed by what
/// to do about it. It carries identifiers only: the caller is responsible for never
/// putting a secret value into `message` or `hint`, and cleo's own sources never do.
/// Cloning is cheap: one fetch's error can be handed to every caller that waited on it.
#[derive(Clone)]
pub struct Error(Box<Inner>);

/// Boxed so that `Result<T, Error>` stays one pointer wide on the error side.
#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    hint: Option<String>,
    reference: Option<String>,
    backend: Option<&'static str>,
    temporary: bool,
    attempts: u32,
    retry_after: Option<std::time::Duration>,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Shorthand for `Result<T, cleo_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Creates an error of `kind`; `message` says what failed, without any value.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            message: message.into(),
            hint: None,
            reference: None,
            backend: None,
            temporary: kind.is_temporary_by_default(),
            attempts: 1,
            retry_after: None,
            source: None,
        }))
    }

    /// Adds what the user should do next.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.0.hint = Some(hint.into());
        self
    }

    /// Names the reference that failed (the reference string, never its value).
    pub fn with_reference(mut self, reference: impl Into<String>) -> Self {
        self.0.reference = Some(reference.into());
        self
    }

    /// Names the reference only if none is set yet.
    pub fn or_reference(self, reference: &str) -> Self {
        if self.0.reference.is_some() {
            self
        } else {
            self.with_reference(reference)
        }
    }

    /// Names the backend that failed.
    pub fn with_backend(mut self, backend: &'static str) -> Self {
        self.0.backend = Some(backend);
        self
    }

    /// Overrides whether a retry may help.
    pub fn with_temporary(mut self, temporary: bool) -> Self {
        self.0.temporary = temporary;
        self
    }

    /// Attaches the underlying cause. Only pass errors that cannot contain a value
    /// (I/O, transport, parse positions), never a response body.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Arc::new(source));
        self
    }

    /// Records that the operation was tried `attempts` times before giving up.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.0.attempts = attempts;
        self
    }

    /// Records how long the backend asked callers to wait (`Retry-After`).
    pub fn with_retry_after(mut self, wait: Option<std::time::Duration>) -> Self {
        self.0.retry_after = wait;
        self
    }

    /// How long the backend asked callers to wait before trying again, if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.0.retry_after
    }

    /// How many times the operation was tried.
    pub fn attempts(&self) -> u32 {
        self.0.attempts
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_temporary(&self) -> bool {
        self.0.temporary
    }

    /// The reference that failed, if known.
    pub fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }

    /// The backend that failed, if known.
    pub fn backend(&self) -> Option<&'static str> {
        self.0.backend
    }

    /// What failed, without context or hint.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// What to do about it, if cleo knows.
    pub fn hint(&self) -> Option<&str> {
        self.0.hint.as_deref()
    }
}

/// Longest reference echoed in an error message.
const MAX_SHOWN_REFERENCE: usize = 200;

/// Writes `text` on one line: control characters (newlines, escapes, NUL) become
/// visible escapes, so an error can neither forge log lines nor drive a terminal.
fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            fmt::Write::write_char(f, c)?;
        }
    }
    Ok(())
}

fn shown_reference(r: &str) -> String {
    if r.chars().count() <= MAX_SHOWN_REFERENCE {
        r.to_owned()
    } else {
        let head: String = r.chars().take(MAX_SHOWN_REFERENCE).collect();
        format!("{head}… ({} bytes)", r.len())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, &self.to_plain())
    }
}

impl Error {
    fn to_plain(&self) -> String {
        let mut f = String::new();
        let _ = self.write_plain(&mut f);
        f
    }

    fn write_plain(&self, f: &mut String) -> fmt::Result {
        use fmt::Write;
        f.push_str(&self.0.message);
        match (
            self.0.reference.as_deref().map(shown_reference),
            self.0.backend,
        ) {
            (Some(r), Some(b)) => write!(f, " (reference: {r}, backend: {b})")?,
            (Some(r), None) => write!(f, " (reference: {r})")?,
            (None, Some(b)) => write!(f, " (backend: {b})")?,
            (None, None) => {}
        }
        if let Some(source) = &self.0.source {
            write!(f, ": {source}")?;
        }
        if self.0.attempts > 1 {
            write!(f, " (gave up after {} attempts)", self.0.attempts)?;
        }
        if let Some(hint) = &self.0.hint {
            write!(f, ". {hint}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("message", &self.0.message)
            .field("reference", &self.0.reference)
            .field("backend", &self.0.backend)
            .field("temporary", &self.0.temporary)
            .field("attempts", &self.0.attempts)
            .field("retry_after", &self.0.retry_after)
            .field("hint", &self.0.hint)
            .field("source", &self.0.source)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_reference_backend_and_hint() {
        let e = Error::new(ErrorKind::NotFound, "secret not found")
            .with_reference("vault://secret/app#token")
            .with_backend("vault")
            .with_hint("check the path with `bao kv get`");
        assert_eq!(
            e.to_string(),
            "secret not found (reference: vault://secret/app#token, backend: vault). check the path with `bao kv get`"
        );
        assert!(!e.is_temporary());
    }

    #[test]
    fn display_is_one_line_without_control_characters() {
        let e = Error::new(ErrorKind::NotFound, "no secret at a\nb")
            .with_reference("vault://x/\u{1b}[2J")
            .with_hint("line1\nline2");
        let s = e.to_string();
        assert!(!s.chars().any(char::is_control), "{s:?}");
        assert!(s.contains("\\n") && s.contains("\\u{1b}"), "{s}");
        let long = Error::new(ErrorKind::NotFound, "x").with_reference("r".repeat(5000));
        assert!(long.to_string().len() < 300);
    }

    #[test]
    fn unavailable_is_temporary_by_default() {
        assert!(Error::new(ErrorKind::Unavailable, "down").is_temporary());
        assert!(
            !Error::new(ErrorKind::Unavailable, "down")
                .with_temporary(false)
                .is_temporary()
        );
    }
}
