//! `cleo get`.

use std::io::{IsTerminal, Write};

use base64::Engine;
use cleo_core::{Error, ErrorKind, Result, Zeroizing};

use crate::app::App;

use crate::cli::GetArgs;
use crate::output::{metadata_json, metadata_text};

fn write_out(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .map_err(|e| Error::new(ErrorKind::Unexpected, "cannot write to stdout").with_source(e))
}

pub async fn run(app: &App, args: &GetArgs) -> Result<()> {
    let secret = app.resolve(&args.reference).await?;
    let cache = app.client.cache_state(&args.reference);
    let cache = cache.as_ref();
    match (args.reveal, args.json) {
        (false, false) => write_out(metadata_text(&secret, cache).as_bytes()),
        (false, true) => write_out(format!("{}\n", metadata_json(&secret, cache)).as_bytes()),
        (true, false) => {
            let value: Zeroizing<Vec<u8>> = if args.base64 {
                Zeroizing::new(
                    base64::engine::general_purpose::STANDARD
                        .encode(secret.expose_secret())
                        .into_bytes(),
                )
            } else {
                Zeroizing::new(secret.expose_str()?.as_bytes().to_vec())
            };
            write_out(&value)?;
            // A newline helps a person at a terminal; `$(...)` and pipes get the exact value.
            if std::io::stdout().is_terminal() {
                write_out(b"\n")?;
            }
            Ok(())
        }
        (true, true) => {
            let mut doc = metadata_json(&secret, cache);
            let (key, value) = if args.base64 {
                (
                    "value_base64",
                    base64::engine::general_purpose::STANDARD.encode(secret.expose_secret()),
                )
            } else {
                ("value", secret.expose_str()?.to_owned())
            };
            doc[key] = serde_json::Value::String(value);
            let text = Zeroizing::new(format!("{doc}\n"));
            // The JSON tree holds a copy of the value; wipe what we can.
            if let Some(serde_json::Value::String(s)) = doc.get_mut(key) {
                zeroize_string(s);
            }
            write_out(text.as_bytes())
        }
    }
}

fn zeroize_string(s: &mut String) {
    // Zeroizing wipes the whole allocation when it drops.
    drop(Zeroizing::new(std::mem::take(s)));
}
