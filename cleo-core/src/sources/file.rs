use std::os::unix::fs::PermissionsExt;
use std::time::SystemTime;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::json::extract_field;
use crate::reference::SecretRef;
use crate::secret::{Secret, SecretMeta};
use crate::source::SecretSource;

/// Largest file `file://` reads: secrets are small, and a wrong path to a big file
/// should fail fast instead of loading it.
pub const MAX_FILE_SIZE: u64 = 1024 * 1024;

/// Serves `file:///absolute/path[#field]`.
///
/// Like ssh with private keys, it refuses files that other users can read or that
/// anyone but the owner (and group readers) can write: mode bits `0o027` must be clear
/// except group read, so `0600`, `0400`, `0640` and `0440` pass (the last two for
/// Kubernetes `fsGroup` mounts), `0644` and `0666` fail.
#[derive(Debug, Default)]
pub struct FileSource;

impl FileSource {
    /// The source.
    pub fn new() -> Self {
        FileSource
    }
}

fn io_error(reference: &SecretRef, e: std::io::Error) -> Error {
    let (kind, hint) = match e.kind() {
        std::io::ErrorKind::NotFound => (ErrorKind::NotFound, "check the path"),
        std::io::ErrorKind::PermissionDenied => (
            ErrorKind::PermissionDenied,
            "this process's user cannot read the file; check its owner and mode",
        ),
        _ => (ErrorKind::Unavailable, "check the file system"),
    };
    Error::new(kind, format!("cannot read {}", reference.path()))
        .with_source(e)
        .with_reference(reference.as_str())
        .with_backend("file")
        .with_hint(hint)
}

#[async_trait]
impl SecretSource for FileSource {
    fn backend(&self) -> &'static str {
        "file"
    }

    fn schemes(&self) -> &'static [&'static str] {
        &["file"]
    }

    async fn fetch(&self, reference: &SecretRef) -> Result<Secret> {
        let path = reference.path();
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|e| io_error(reference, e))?;
        if !meta.is_file() {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!("{path} is not a regular file"),
            )
            .with_reference(reference.as_str())
            .with_backend("file")
            .with_hint("point the reference at the file that holds the secret"));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o027 != 0 {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!("refusing to read {path}: its mode {mode:04o} lets other users read or change it"),
            )
            .with_reference(reference.as_str())
            .with_backend("file")
            .with_hint(format!("run `chmod 600 {path}`")));
        }
        if meta.len() > MAX_FILE_SIZE {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!("{path} is {} bytes, larger than the {MAX_FILE_SIZE} bytes a secret file may be", meta.len()),
            )
            .with_reference(reference.as_str())
            .with_backend("file"));
        }
        // fs::read sizes its buffer from the file length, so it does not reallocate
        // (and leave copies) for a file that is not growing underneath us.
        let content = Zeroizing::new(
            tokio::fs::read(path)
                .await
                .map_err(|e| io_error(reference, e))?,
        );
        let value = match reference.field() {
            Some(field) => extract_field(&content, field)
                .map_err(|e| e.with_reference(reference.as_str()).with_backend("file"))?,
            None => content,
        };
        let modified = meta.modified().ok();
        let version = modified
            .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| format!("mtime:{}", d.as_secs()));
        let mut meta = SecretMeta::new(reference.as_str(), "file", SystemTime::now());
        if let Some(v) = version {
            meta = meta.with_version(v);
        }
        Ok(Secret::new(value, meta))
    }
}
