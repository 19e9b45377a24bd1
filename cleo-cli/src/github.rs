//! GitHub Actions log masking.
//!
//! Inside a workflow (`GITHUB_ACTIONS=true`) every value cleo resolves is announced
//! as `::add-mask::` before any other output, one line at a time (the runner masks
//! per line, so a multi-line PEM key needs each line). The commands go to stderr:
//! the runner reads workflow commands from both streams of a step, and stdout must
//! stay exactly the value for `$(cleo get --reveal ...)`.

use std::io::Write;

/// Whether this process runs as a GitHub Actions step.
pub fn in_actions() -> bool {
    std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true")
}

/// The `::add-mask::` lines for `value`: one per non-blank line, escaped the way the
/// runner unescapes command data (`%`, CR, LF).
pub fn mask_commands(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let text = String::from_utf8_lossy(value);
    for line in text.split(['\n', '\r']) {
        if line.trim().is_empty() {
            continue;
        }
        out.extend_from_slice(b"::add-mask::");
        out.extend_from_slice(line.replace('%', "%25").as_bytes());
        out.push(b'\n');
    }
    out
}

/// Registers `value` with the runner's masking when running in GitHub Actions.
pub fn add_mask(value: &[u8]) {
    if !in_actions() {
        return;
    }
    let commands = cleo_core::Zeroizing::new(mask_commands(value));
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(&commands).and_then(|_| err.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_command_per_line_and_percent_escaped() {
        let got = mask_commands(b"-----BEGIN KEY-----\nab%cd\r\n\n-----END KEY-----\n");
        assert_eq!(
            String::from_utf8(got).unwrap(),
            "::add-mask::-----BEGIN KEY-----\n::add-mask::ab%25cd\n::add-mask::-----END KEY-----\n"
        );
        assert!(mask_commands(b"").is_empty());
    }
}
