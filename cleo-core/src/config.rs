//! `cleo.toml`: logical secret names and per-backend sections.
//!
//! Found via an explicit path (`--config`), then `CLEO_CONFIG`, then `./cleo.toml`;
//! no file at all is a valid, empty configuration. Core reads only `[secrets]`;
//! each backend reads its own section (`[vault]`, `[aws]`) through [`Config::section`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind, Result};
use crate::reference::{Reference, SecretRef};

/// The top-level sections `cleo.toml` may have; anything else is a typo.
pub const KNOWN_SECTIONS: &[&str] = &["secrets", "cache", "vault", "aws", "env"];

/// The environment variable that names the config file.
pub const CONFIG_ENV: &str = "CLEO_CONFIG";
/// The file looked for in the working directory.
pub const DEFAULT_FILE: &str = "cleo.toml";

/// A logical name's target and options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretEntry {
    /// Where the value lives.
    pub reference: SecretRef,
    /// How long to cache a value that carries no expiry of its own.
    pub ttl: Option<Duration>,
    /// What the secret is for (documentation only).
    pub description: Option<String>,
}

/// A loaded configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    path: Option<PathBuf>,
    secrets: BTreeMap<String, SecretEntry>,
    sections: toml::Table,
}

fn config_error(path: &Path, message: impl Into<String>) -> Error {
    Error::new(
        ErrorKind::ConfigInvalid,
        format!("{}: {}", path.display(), message.into()),
    )
}

fn parse_entry(name: &str, entry: toml::Value) -> Result<SecretEntry> {
    let bad = |msg: String| {
        Error::new(ErrorKind::ConfigInvalid, format!("[secrets] `{name}`: {msg}")).with_hint(
            "an entry is `\"name\" = \"scheme://...\"` or `\"name\" = { ref = \"scheme://...\", ttl = \"5m\", description = \"...\" }`",
        )
    };
    if !matches!(Reference::parse(name), Ok(Reference::Logical(_))) {
        return Err(bad(
            "not a valid logical name (letters, digits and `_ - . /`, like mlflow/api_token)"
                .into(),
        ));
    }
    let (reference, ttl, description) = match entry {
        toml::Value::String(r) => (r, None, None),
        toml::Value::Table(mut t) => {
            if let Some(k) = t
                .keys()
                .find(|k| !["ref", "ttl", "description"].contains(&k.as_str()))
            {
                return Err(bad(format!(
                    "unknown key `{k}` (known: ref, ttl, description)"
                )));
            }
            let reference = match t.remove("ref") {
                Some(toml::Value::String(r)) => r,
                Some(_) => return Err(bad("`ref` must be a string".into())),
                None => return Err(bad("missing `ref`".into())),
            };
            let ttl = match t.remove("ttl") {
                Some(toml::Value::String(d)) => {
                    Some(humantime::parse_duration(&d).map_err(|e| {
                        bad(format!("ttl = \"{d}\": {e} (use \"30s\", \"5m\", \"1h\")"))
                    })?)
                }
                Some(_) => return Err(bad("`ttl` must be a string such as \"5m\"".into())),
                None => None,
            };
            if let Some(t) = ttl
                && (t < std::time::Duration::from_secs(1) || t > crate::cache::settings::MAX_TTL)
            {
                return Err(bad("ttl must be between 1s and 366 days".into()));
            }
            let description = match t.remove("description") {
                Some(toml::Value::String(d)) => Some(d),
                Some(_) => return Err(bad("`description` must be a string".into())),
                None => None,
            };
            (reference, ttl, description)
        }
        _ => return Err(bad("expected a reference string or a table".into())),
    };
    if !reference.contains("://") {
        return Err(bad(
            "entries must point at a reference such as vault://mount/path#field, not at another logical name".into(),
        ));
    }
    let reference = SecretRef::parse(&reference)
        .map_err(|e| bad(e.message().to_owned()).with_reference(reference.clone()))?;
    Ok(SecretEntry {
        reference,
        ttl,
        description,
    })
}

impl Config {
    /// Finds and loads the config: `explicit`, then `$CLEO_CONFIG`, then `./cleo.toml`.
    /// An explicit or `$CLEO_CONFIG` path that does not exist is an error; a missing
    /// `./cleo.toml` gives an empty config.
    pub fn discover(explicit: Option<&Path>) -> Result<Config> {
        if let Some(p) = explicit {
            return Config::load(p);
        }
        if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
            return Config::load(Path::new(&p)).map_err(|e| {
                if e.kind() == ErrorKind::ConfigInvalid {
                    e.with_hint(format!("the path came from ${CONFIG_ENV}"))
                } else {
                    e
                }
            });
        }
        let local = Path::new(DEFAULT_FILE);
        if local.is_file() {
            return Config::load(local);
        }
        Ok(Config::default())
    }

    /// Loads the config file at `path`.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!("cannot read config file {}: {e}", path.display()),
            )
            .with_hint("point --config (CLI), Client(config=...) (Python) or CLEO_CONFIG at an existing cleo.toml")
        })?;
        let mut cfg = Config::parse(&text).map_err(|e| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!("{}: {}", path.display(), e.message()),
            )
            .with_hint(e.hint().unwrap_or("see examples/cleo.toml").to_owned())
        })?;
        cfg.path = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Parses config text. Parse errors give a position and toml's reason but never
    /// quote the text, in case someone pasted a value into it.
    pub fn parse(text: &str) -> Result<Config> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start].matches('\n').count() + 1;
                    format!(" at line {line}")
                })
                .unwrap_or_default();
            Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "invalid TOML{at}: {}",
                    e.message().lines().next().unwrap_or("syntax error")
                ),
            )
        })?;
        let mut secrets = BTreeMap::new();
        if let Some(value) = table.remove("secrets") {
            let toml::Value::Table(entries) = value else {
                return Err(Error::new(
                    ErrorKind::ConfigInvalid,
                    "`secrets` must be a table: [secrets]",
                ));
            };
            for (name, entry) in entries {
                secrets.insert(name.clone(), parse_entry(&name, entry)?);
            }
        }
        if let Some(unknown) = table.keys().find(|k| !KNOWN_SECTIONS.contains(&k.as_str())) {
            // The value is never quoted: a misplaced key may hold a pasted secret.
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!("unknown top-level key or section `{unknown}`"),
            )
            .with_hint(format!("known sections: {}", KNOWN_SECTIONS.join(", "))));
        }
        Ok(Config {
            path: None,
            secrets,
            sections: table,
        })
    }

    /// The file this config came from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The entry for a logical name.
    pub fn secret(&self, name: &str) -> Option<&SecretEntry> {
        self.secrets.get(name)
    }

    /// All logical names and their entries, sorted by name.
    pub fn secrets(&self) -> impl Iterator<Item = (&str, &SecretEntry)> {
        self.secrets.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The `[cache]` section, with defaults for what it leaves out.
    pub fn cache_settings(&self) -> Result<crate::cache::CacheSettings> {
        self.section::<crate::cache::RawCacheSettings>("cache")?
            .resolve()
    }

    /// Deserializes a backend's section (`[vault]`, `[aws]`), or `T::default()` when absent.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T> {
        match self.sections.get(name) {
            None => Ok(T::default()),
            Some(v) => v.clone().try_into().map_err(|e: toml::de::Error| {
                let where_ = self
                    .path
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "config".to_owned());
                config_error(
                    Path::new(&where_),
                    format!(
                        "[{name}]: {}",
                        e.message().lines().next().unwrap_or("invalid section")
                    ),
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[vault]
address = "http://127.0.0.1:8200"

[secrets]
"artifacts/s3/bucket" = "vault://secret/artifacts/s3#bucket"
"mlflow/api_token" = { ref = "vault://secret/mlflow#api_token", ttl = "5m", description = "rotates" }
"#;

    #[test]
    fn parses_plain_and_table_entries_and_keeps_sections() {
        let c = Config::parse(EXAMPLE).unwrap();
        let e = c.secret("mlflow/api_token").unwrap();
        assert_eq!(e.reference.as_str(), "vault://secret/mlflow#api_token");
        assert_eq!(e.ttl, Some(Duration::from_secs(300)));
        assert_eq!(c.secret("artifacts/s3/bucket").unwrap().ttl, None);
        #[derive(serde::Deserialize, Default)]
        struct V {
            address: Option<String>,
        }
        let v: V = c.section("vault").unwrap();
        assert_eq!(v.address.as_deref(), Some("http://127.0.0.1:8200"));
        let missing: V = c.section("nope").unwrap();
        assert!(missing.address.is_none());
    }

    #[test]
    fn typos_and_bad_entries_are_named() {
        let cases = [
            (
                "[valt]\naddress = \"x\"\n",
                "unknown top-level key or section `valt`",
            ),
            ("password = \"canary-top-1\"\n", "`password`"),
            (
                "[secrets]\n\"a/b\" = { ref = \"env://X\", tll = \"5m\" }\n",
                "unknown key `tll`",
            ),
            (
                "[secrets]\n\"a/b\" = { ref = \"env://X\", ttl = \"5 parsecs\" }\n",
                "ttl = \"5 parsecs\"",
            ),
            (
                "[secrets]\n\"a/b\" = { value = \"canary-v-2\" }\n",
                "unknown key `value`",
            ),
            (
                "[secrets]\n\"chain\" = \"app/pw\"\n",
                "not at another logical name",
            ),
            ("[secrets]\n\"a/b\" = 3\n", "expected a reference string"),
            (
                "[secrets]\n\"a/b\" = { ref = \"env://X\", ttl = \"8000y\" }\n",
                "between 1s and 366 days",
            ),
            (
                "[secrets]\n\"a/b\" = { ref = \"env://X\", ttl = \"0s\" }\n",
                "between 1s and 366 days",
            ),
        ];
        for (text, needle) in cases {
            let e = Config::parse(text).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
            assert!(e.to_string().contains(needle), "{text}: {e}");
            assert!(!e.to_string().contains("canary"), "{e}");
        }
    }

    #[test]
    fn errors_name_the_entry_and_never_quote_the_text() {
        let e = Config::parse("[secrets]\n\"a/b\" = \"vault:/nope\"\n").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
        assert!(e.to_string().contains("`a/b`"), "{e}");
        let e = Config::parse("token = canary-unquoted-9d1\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(!e.to_string().contains("canary"), "{e}");
        let e = Config::load(Path::new("/nonexistent/cleo.toml")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
    }
}
