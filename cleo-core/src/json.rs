//! Picking one field out of a JSON object that holds secrets, without leaving
//! unwiped copies of the other fields behind.

use serde_json::value::RawValue;
use std::collections::HashMap;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

/// Returns the bytes of `field` from the JSON object in `object`.
///
/// A string field gives its unescaped text; any other JSON value gives its JSON text.
/// Parsing borrows from `object`, so the only new buffer is the result, which wipes
/// itself. Errors never quote the input.
pub fn extract_field(object: &[u8], field: &str) -> Result<Zeroizing<Vec<u8>>> {
    let map: HashMap<&str, &RawValue> = serde_json::from_slice(object).map_err(|e| {
        Error::new(
            ErrorKind::InvalidData,
            format!(
                "the secret is not a JSON object, so field `{field}` cannot be read (JSON error at line {} column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let raw = map.get(field).ok_or_else(|| {
        let mut names: Vec<&str> = map.keys().copied().collect();
        names.sort_unstable();
        Error::new(ErrorKind::NotFound, format!("field `{field}` not found"))
            .with_hint(format!("fields present: {}", names.join(", ")))
    })?;
    raw_to_bytes(raw)
}

/// The bytes a raw JSON value stands for: a string's text, or any other value's JSON.
pub fn raw_to_bytes(raw: &RawValue) -> Result<Zeroizing<Vec<u8>>> {
    let text = raw.get();
    if text.starts_with('"') {
        let s: Zeroizing<String> =
            Zeroizing::new(serde_json::from_str::<String>(text).map_err(|_| {
                Error::new(
                    ErrorKind::Unexpected,
                    "a JSON string field could not be decoded",
                )
            })?);
        Ok(Zeroizing::new(s.as_bytes().to_vec()))
    } else {
        Ok(Zeroizing::new(text.as_bytes().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_field_is_unescaped_and_others_are_json() {
        let obj = br#"{"a":"x\"y\u00e9","n":42,"o":{"k":[1]}}"#;
        assert_eq!(&*extract_field(obj, "a").unwrap(), "x\"y\u{e9}".as_bytes());
        assert_eq!(&*extract_field(obj, "n").unwrap(), b"42");
        assert_eq!(&*extract_field(obj, "o").unwrap(), br#"{"k":[1]}"#);
    }

    #[test]
    fn missing_field_lists_names_and_bad_json_quotes_nothing() {
        let e = extract_field(br#"{"user":"canary-1","pass":"canary-2"}"#, "token").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("pass, user"), "{e}");
        assert!(!e.to_string().contains("canary"));
        let e = extract_field(b"canary-plain-text", "token").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData);
        assert!(!e.to_string().contains("canary"), "{e}");
    }
}
