//! Secret references: `scheme://path?query#field`, or a bare logical name that
//! `cleo.toml` maps to one.
//!
//! | form | meaning |
//! |---|---|
//! | `vault://<mount>/<path>[?version=N][#field]` | Vault/OpenBao KV (v1 or v2); no field: the whole data map as JSON |
//! | `env://NAME` | an environment variable of this process |
//! | `file:///absolute/path[#field]` | a file; with a field, the file is a JSON object |
//! | `aws-sm://<name-or-arn>[?stage=AWSCURRENT\|version-id=..][#key]` | AWS Secrets Manager |
//! | `aws-ssm://<name>`, `aws-ssm:///<name>` | AWS Systems Manager Parameter Store |
//! | `mlflow/api_token` | a logical name, looked up in the `[secrets]` table of `cleo.toml` |
//!
//! The query may also follow the field (`#field?version=2`), since people write it
//! that way; the standard order is `?query#field`.

use std::fmt;

use percent_encoding::percent_decode_str;

use crate::error::{Error, ErrorKind, Result};

/// The schemes whose shape cleo knows. A registry may serve fewer.
pub const KNOWN_SCHEMES: &[&str] = &["vault", "env", "file", "aws-sm", "aws-ssm"];

/// A parsed `scheme://...` reference.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretRef {
    raw: String,
    scheme: String,
    path: String,
    field: Option<String>,
    params: Vec<(String, String)>,
}

/// A reference as a user writes it: either direct, or a logical name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// `scheme://...`
    Direct(SecretRef),
    /// A name from the `[secrets]` table of `cleo.toml`, such as `mlflow/api_token`.
    Logical(String),
}

impl Reference {
    /// Parses a direct reference or a logical name.
    pub fn parse(input: &str) -> Result<Self> {
        check_characters(input)?;
        if input.contains("://") {
            return SecretRef::parse(input).map(Reference::Direct);
        }
        validate_logical_name(input)?;
        Ok(Reference::Logical(input.to_owned()))
    }
}

fn invalid(input: &str, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidReference, message)
        .with_reference(input)
        .with_hint(
            "references look like vault://<mount>/<path>#<field>, env://NAME, file:///abs/path, \
             aws-sm://<name>#<key>, aws-ssm:///<name>, or a logical name from cleo.toml",
        )
}

fn validate_logical_name(input: &str) -> Result<()> {
    if input.is_empty() {
        return Err(invalid(input, "empty reference"));
    }
    if input.contains(':') {
        return Err(invalid(
            input,
            "malformed reference: a scheme must be followed by `://`",
        ));
    }
    let ok_chars = input
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    if !ok_chars || input.starts_with('/') || input.ends_with('/') || input.contains("//") {
        return Err(invalid(
            input,
            "malformed logical name: use letters, digits, `_ - . /` and no empty segment",
        ));
    }
    Ok(())
}

/// The longest reference accepted; real ones are far shorter, and a longer one is
/// more likely a pasted value than a reference.
pub const MAX_REFERENCE_LEN: usize = 2048;

fn decode(input: &str, part: &str, what: &str) -> Result<String> {
    let decoded = percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            invalid(
                input,
                format!("the {what} is not valid UTF-8 after percent-decoding"),
            )
        })?;
    if decoded.chars().any(char::is_control) {
        return Err(invalid(
            input,
            format!("the {what} percent-decodes to a control character"),
        ));
    }
    Ok(decoded)
}

fn check_characters(input: &str) -> Result<()> {
    if input.len() > MAX_REFERENCE_LEN {
        return Err(Error::new(
            ErrorKind::InvalidReference,
            format!(
                "the reference is {} bytes long, over the {MAX_REFERENCE_LEN} a reference may be",
                input.len()
            ),
        )
        .with_hint("was a value pasted where a reference belongs?"));
    }
    if input.chars().any(char::is_control) {
        return Err(invalid(
            input,
            "malformed reference: it contains a control character",
        ));
    }
    if input.chars().any(char::is_whitespace) {
        return Err(invalid(
            input,
            "malformed reference: it contains whitespace",
        ));
    }
    Ok(())
}

impl SecretRef {
    /// Parses `scheme://path?query#field` and checks the shape of known schemes.
    pub fn parse(input: &str) -> Result<Self> {
        check_characters(input)?;
        let (scheme, rest) = input
            .split_once("://")
            .ok_or_else(|| invalid(input, "malformed reference: missing `://`"))?;
        let scheme_ok = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
            && scheme.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.')
            });
        if !scheme_ok {
            return Err(invalid(
                input,
                format!(
                    "malformed reference: `{scheme}` is not a valid scheme (lowercase letters, digits, `+-.`)"
                ),
            ));
        }

        let (before_hash, fragment) = match rest.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (rest, None),
        };
        let (path_part, mut query) = match before_hash.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (before_hash, None),
        };
        let field_part = match fragment {
            Some(f) => match f.split_once('?') {
                Some((field, q)) if query.is_none() => {
                    query = Some(q);
                    Some(field)
                }
                Some(_) => {
                    return Err(invalid(input, "malformed reference: two query strings"));
                }
                None => Some(f),
            },
            None => None,
        };

        let path = decode(input, path_part, "path")?;
        let field = match field_part {
            Some("") => return Err(invalid(input, "malformed reference: empty field after `#`")),
            Some(f) => Some(decode(input, f, "field")?),
            None => None,
        };
        let mut params: Vec<(String, String)> = Vec::new();
        if let Some(q) = query {
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').ok_or_else(|| {
                    invalid(
                        input,
                        format!("malformed reference: query item `{pair}` needs `key=value`"),
                    )
                })?;
                let (k, v) = (decode(input, k, "query")?, decode(input, v, "query")?);
                if k.is_empty() || v.is_empty() {
                    return Err(invalid(
                        input,
                        "malformed reference: empty query key or value",
                    ));
                }
                if params.iter().any(|(existing, _)| *existing == k) {
                    return Err(invalid(
                        input,
                        format!("malformed reference: `{k}` given twice"),
                    ));
                }
                params.push((k, v));
            }
        }

        let r = SecretRef {
            raw: input.to_owned(),
            scheme: scheme.to_owned(),
            path,
            field,
            params,
        };
        r.check_known_shape()?;
        Ok(r)
    }

    fn check_known_shape(&self) -> Result<()> {
        let input = &self.raw;
        let no_empty_segments =
            |p: &str| !p.is_empty() && p.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
        match self.scheme.as_str() {
            "vault" => {
                if !no_empty_segments(&self.path) || !self.path.contains('/') {
                    return Err(invalid(
                        input,
                        "malformed vault reference: expected vault://<mount>/<path>, with no empty, `.` or `..` segment",
                    ));
                }
                self.only_params(&["version"])?;
                if let Some(v) = self.param("version")
                    && v.parse::<u64>().map_or(true, |n| n == 0)
                {
                    return Err(invalid(
                        input,
                        "malformed vault reference: version must be a positive integer",
                    ));
                }
            }
            "env" => {
                let p = &self.path;
                let ok = p
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    return Err(invalid(
                        input,
                        "malformed env reference: expected env://NAME with NAME made of letters, digits and `_`",
                    ));
                }
                if self.field.is_some() {
                    return Err(invalid(input, "env references take no `#field`"));
                }
                self.only_params(&[])?;
            }
            "file" => {
                if !self.path.starts_with('/') || self.path.len() < 2 {
                    return Err(invalid(
                        input,
                        "malformed file reference: the path must be absolute, as in file:///etc/cleo/token (three slashes)",
                    ));
                }
                if self.path.split('/').any(|s| s == "..") {
                    return Err(invalid(
                        input,
                        "malformed file reference: `..` is not allowed in the path",
                    ));
                }
                self.only_params(&[])?;
            }
            "aws-sm" => {
                if self.path.is_empty() {
                    return Err(invalid(
                        input,
                        "malformed aws-sm reference: expected aws-sm://<name-or-arn>",
                    ));
                }
                self.only_params(&["stage", "version-id"])?;
                if self.param("stage").is_some() && self.param("version-id").is_some() {
                    return Err(invalid(
                        input,
                        "give either `stage` or `version-id`, not both",
                    ));
                }
            }
            "aws-ssm" => {
                if self.path.is_empty() || self.path == "/" {
                    return Err(invalid(
                        input,
                        "malformed aws-ssm reference: expected aws-ssm://<name> or aws-ssm:///<name>",
                    ));
                }
                self.only_params(&["version"])?;
            }
            _ => {
                if self.path.is_empty() {
                    return Err(invalid(input, "malformed reference: empty path"));
                }
            }
        }
        Ok(())
    }

    /// Fails with [`ErrorKind::InvalidReference`] if a query key other than `allowed` is present.
    pub fn only_params(&self, allowed: &[&str]) -> Result<()> {
        for (k, _) in &self.params {
            if !allowed.contains(&k.as_str()) {
                let known = if allowed.is_empty() {
                    "none".to_owned()
                } else {
                    allowed.join(", ")
                };
                return Err(invalid(
                    &self.raw,
                    format!(
                        "`{k}` is not a known option for {}:// references (known: {known})",
                        self.scheme
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The reference as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The scheme, without `://`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The percent-decoded path after `scheme://`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The percent-decoded field after `#`, if any.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// A query parameter.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// All query parameters, in order.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretRef({:?})", self.raw)
    }
}

impl std::str::FromStr for SecretRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        SecretRef::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> SecretRef {
        SecretRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> Error {
        let e = Reference::parse(s).expect_err(s);
        assert_eq!(e.kind(), ErrorKind::InvalidReference, "{s}: {e}");
        e
    }

    #[test]
    fn vault_forms() {
        let r = ok("vault://secret/mlflow/api#token");
        assert_eq!(
            (r.scheme(), r.path(), r.field()),
            ("vault", "secret/mlflow/api", Some("token"))
        );
        let r = ok("vault://secret/app?version=3#password");
        assert_eq!(
            (r.param("version"), r.field()),
            (Some("3"), Some("password"))
        );
        let r = ok("vault://secret/app#password?version=3");
        assert_eq!(
            (r.param("version"), r.field()),
            (Some("3"), Some("password"))
        );
        assert_eq!(ok("vault://secret/app").field(), None);
        assert_eq!(ok("vault://secret/my%20app#a%23b").path(), "secret/my app");
        assert_eq!(ok("vault://secret/my%20app#a%23b").field(), Some("a#b"));
    }

    #[test]
    fn other_schemes() {
        assert_eq!(ok("env://API_TOKEN").path(), "API_TOKEN");
        assert_eq!(ok("file:///run/secrets/token").path(), "/run/secrets/token");
        assert_eq!(ok("file:///run/cfg.json#key").field(), Some("key"));
        assert_eq!(
            ok("aws-ssm:///artifacts/s3/bucket").path(),
            "/artifacts/s3/bucket"
        );
        assert_eq!(ok("aws-ssm://plain").path(), "plain");
        let r = ok(
            "aws-sm://arn:aws:secretsmanager:us-east-1:123:secret:db-AbCd?stage=AWSPREVIOUS#password",
        );
        assert_eq!(r.param("stage"), Some("AWSPREVIOUS"));
        assert_eq!(
            r.path(),
            "arn:aws:secretsmanager:us-east-1:123:secret:db-AbCd"
        );
        assert_eq!(ok("custom://thing").scheme(), "custom");
    }

    #[test]
    fn logical_names() {
        assert_eq!(
            Reference::parse("mlflow/api_token").unwrap(),
            Reference::Logical("mlflow/api_token".into())
        );
        assert!(matches!(
            Reference::parse("artifacts/s3/bucket").unwrap(),
            Reference::Logical(_)
        ));
    }

    #[test]
    fn malformed_references_are_rejected_with_the_reason() {
        assert!(err("").to_string().contains("empty"));
        assert!(err("vault:/secret/a").to_string().contains("://"));
        assert!(err("vault://secret").to_string().contains("<mount>/<path>"));
        assert!(err("vault://secret//a").to_string().contains("empty"));
        assert!(err("vault://secret/a#").to_string().contains("empty field"));
        assert!(
            err("vault://secret/a?version=zero")
                .to_string()
                .contains("positive")
        );
        assert!(
            err("vault://secret/a?colour=red")
                .to_string()
                .contains("known: version")
        );
        assert!(err("file://relative/path").to_string().contains("absolute"));
        assert!(err("file:///etc/../x").to_string().contains(".."));
        assert!(err("env://1BAD").to_string().contains("NAME"));
        assert!(err("env://OK#field").to_string().contains("no `#field`"));
        assert!(
            err("VAULT://x/y")
                .to_string()
                .contains("not a valid scheme")
        );
        assert!(err("vault://secret/a b").to_string().contains("whitespace"));
        assert!(err("/leading/slash").to_string().contains("logical name"));
        assert!(
            err("aws-sm://x?stage=A&version-id=B")
                .to_string()
                .contains("not both")
        );
    }
}
