//! `cleo inspect`: where a secret comes from, never its value.
//!
//! The secret is fetched (through `App::resolve`, so a failing read fails here with
//! the same exit code as `cleo get`), then the backend is asked who cleo is to it:
//! Vault's `lookup-self`, AWS's `GetCallerIdentity`, or the file's owner and mode.

use std::io::Write;
use std::time::{Duration, SystemTime};

use cleo_core::{Error, ErrorKind, Result, SecretRef};
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::cli::InspectArgs;
use crate::output::{metadata_json, time};

/// One line of output: a JSON key with its value, and how a person reads it.
struct Field {
    key: &'static str,
    json: Value,
    text: String,
}

impl Field {
    fn new(key: &'static str, json: Value, text: impl Into<String>) -> Field {
        Field {
            key,
            json,
            text: text.into(),
        }
    }

    fn text(key: &'static str, value: impl Into<String>) -> Field {
        let value = value.into();
        Field::new(key, Value::String(value.clone()), value)
    }
}

pub async fn run(app: &App, args: &InspectArgs) -> Result<()> {
    let reference = app.client.resolve(&args.reference)?;
    let secret = app.resolve(&args.reference).await?;
    let cache = app.client.cache_state(&args.reference);
    let name = (reference.as_str() != args.reference).then(|| args.reference.clone());
    let auth = auth_fields(app, &reference).await;

    let out = if args.json {
        let mut doc = metadata_json(&secret, cache.as_ref());
        doc["name"] = name.map_or(Value::Null, Value::String);
        doc["auth"] = Value::Object(
            auth.into_iter()
                .map(|f| (f.key.to_owned(), f.json))
                .collect::<Map<_, _>>(),
        );
        format!("{doc}\n")
    } else {
        let m = secret.meta();
        let mut rows: Vec<(String, String)> = Vec::new();
        if let Some(n) = name {
            rows.push(("name".into(), n));
        }
        rows.push(("reference".into(), m.reference.clone()));
        rows.push(("backend".into(), m.backend.to_owned()));
        rows.extend(auth.into_iter().map(|f| (f.key.replace('_', " "), f.text)));
        rows.push((
            "version".into(),
            m.version.clone().unwrap_or_else(|| "-".into()),
        ));
        rows.push(("fetched".into(), time(m.fetched_at)));
        rows.push((
            "expires".into(),
            m.expires_at
                .map(time)
                .unwrap_or_else(|| "never (no lease or TTL)".into()),
        ));
        rows.push((
            "renewable".into(),
            if m.renewable { "yes" } else { "no" }.into(),
        ));
        match &m.lease {
            Some(l) => rows.push((
                "lease".into(),
                format!(
                    "{} ({}, {})",
                    l.id,
                    humantime::format_duration(l.duration),
                    if l.renewable {
                        "renewable"
                    } else {
                        "not renewable"
                    }
                ),
            )),
            None => rows.push(("lease".into(), "none".into())),
        }
        rows.push((
            "cached".into(),
            match &cache {
                Some(c) => format!(
                    "until {} (refresh from {}{})",
                    time(c.expires_at),
                    time(c.refresh_at),
                    if c.failures > 0 {
                        format!(", {} failed refreshes", c.failures)
                    } else {
                        String::new()
                    }
                ),
                None => "no (not kept in the cache)".into(),
            },
        ));
        for w in &m.warnings {
            rows.push(("warning".into(), w.clone()));
        }
        align(&rows)
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .map_err(|e| Error::new(ErrorKind::Unexpected, "cannot write to stdout").with_source(e))
}

/// `key  value` lines, values aligned; control characters a server may have put in
/// a name are shown escaped, so they cannot drive the terminal.
fn align(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {}\n", one_line(v)))
        .collect()
}

pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Who cleo is to the backend that served `reference`. A failed lookup is shown
/// rather than failing the command: the read itself succeeded.
async fn auth_fields(app: &App, reference: &SecretRef) -> Vec<Field> {
    match reference.scheme() {
        cleo_vault::SCHEME => vault_fields(app).await,
        cleo_aws::SCHEME_SECRETS_MANAGER | cleo_aws::SCHEME_PARAMETER_STORE => {
            aws_fields(app).await
        }
        "env" => vec![
            Field::new("method", json!("none"), "none (process environment)"),
            Field::text("source", "process environment"),
            Field::text("variable", reference.path()),
        ],
        "file" => file_fields(reference.path()),
        _ => vec![Field::text("method", "unknown")],
    }
}

async fn vault_fields(app: &App) -> Vec<Field> {
    let vault = &app.vault;
    let method = vault.login_method().unwrap_or("token");
    let mut fields = vec![Field::text("method", method)];
    match vault.token_info().await {
        Ok(info) => {
            fields.push(Field::text("origin", info.origin));
            fields.push(Field::text("display_name", info.display_name));
            fields.push(Field::new(
                "policies",
                json!(info.policies),
                if info.policies.is_empty() {
                    "-".to_owned()
                } else {
                    info.policies.join(", ")
                },
            ));
            fields.push(Field::new(
                "entity_id",
                json!(info.entity_id),
                info.entity_id
                    .clone()
                    .unwrap_or_else(|| "none (a token without an identity entity)".into()),
            ));
            fields.push(Field::new(
                "accessor",
                json!(info.accessor),
                info.accessor.clone().unwrap_or_else(|| "-".into()),
            ));
            fields.push(Field::text("token_path", info.path));
            fields.push(Field::text("token_type", info.token_type));
            let (ttl_json, ttl_text) = match info.ttl {
                Some(ttl) => (
                    json!(ttl.as_secs()),
                    format!(
                        "{} left (expires {})",
                        humantime::format_duration(Duration::from_secs(ttl.as_secs())),
                        time(SystemTime::now() + ttl)
                    ),
                ),
                None => (Value::Null, "never expires".to_owned()),
            };
            fields.push(Field::new("token_ttl", ttl_json, ttl_text));
            fields.push(Field::new(
                "token_renewable",
                json!(info.renewable),
                if info.renewable { "yes" } else { "no" },
            ));
        }
        Err(e) => {
            // The token still read the secret; its description is what is missing.
            if let Ok(token) = vault.token().await {
                fields.push(Field::text("origin", token.origin()));
            }
            fields.push(Field::text("identity", format!("unknown: {e}")));
        }
    }
    if let Some(address) = vault.addresses().first() {
        fields.push(Field::text("address", address.clone()));
    }
    fields
}

async fn aws_fields(app: &App) -> Vec<Field> {
    let aws = &app.aws;
    let mut fields = vec![Field::text("method", aws.credential_source())];
    match aws.caller_identity().await {
        Ok(id) => {
            fields.push(Field::text("arn", id.arn));
            fields.push(Field::text("account", id.account));
        }
        Err(e) => fields.push(Field::text("identity", format!("unknown: {e}"))),
    }
    let region = aws.region().await;
    fields.push(Field::new(
        "region",
        json!(region),
        region.clone().unwrap_or_else(|| "-".into()),
    ));
    fields
}

fn file_fields(path: &str) -> Vec<Field> {
    use std::os::unix::fs::MetadataExt;
    let mut fields = vec![
        Field::new("method", json!("none"), "none (file permissions)"),
        Field::text("path", path),
    ];
    match std::fs::metadata(path) {
        Ok(meta) => {
            fields.push(Field::new(
                "owner_uid",
                json!(meta.uid()),
                meta.uid().to_string(),
            ));
            fields.push(Field::text("mode", format!("{:04o}", meta.mode() & 0o7777)));
        }
        Err(e) => fields.push(Field::text("mode", format!("unknown: {e}"))),
    }
    fields
}
