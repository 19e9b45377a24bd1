//! `cleo exec`: run a command with secrets in its environment, its output masked.
//!
//! Every value is resolved before the command starts, so a missing secret or a bad
//! `--env` never runs it half-configured. Values reach the child only through its
//! environment (nothing is written to disk). With masking on, the child's stdout and
//! stderr are pipes that cleo copies to its own through a [`Masker`] each,
//! concurrently; `--no-mask` hands the child cleo's own stdout and stderr.
//!
//! Exit codes: the child's own; 128 + N when signal N killed it (as a shell
//! reports it); 127 when the command is not found and 126 when it cannot be
//! executed, as `env`, `timeout` and shells do: a script that tells "command missing"
//! from "secret missing" (3) keeps working when it puts `cleo exec` in front.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;

use cleo_core::{Error, ErrorKind, Result, Secret, Zeroizing};
use futures_util::StreamExt;
use futures_util::future::OptionFuture;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::low_level::siginfo::Cause;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::app::App;
use crate::cli::ExecArgs;
use crate::mask::{Masker, Patterns, extend_zeroizing};

/// How long cleo keeps passing output on after the command exited, for output a
/// process it started in the background still writes. What the command itself wrote
/// is already in the pipe and is read in far less time.
const AFTER_EXIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How much of the child's output is read at a time.
const CHUNK: usize = 64 * 1024;

/// The signals cleo passes on to the child while it runs. Anything that would stop
/// cleo must reach the child instead, or the child lives on unsupervised with its
/// output pipes closed.
const FORWARDED: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// Runs the command; returns its exit code (see the module docs).
pub async fn run(app: &App, args: &ExecArgs) -> Result<u8> {
    let wanted = wanted_vars(app, args)?;
    let mut values: Vec<(String, Secret)> = Vec::with_capacity(wanted.len());
    for (name, reference) in wanted {
        tracing::debug!(variable = %name, "resolving for cleo exec");
        // A reference that does not parse or names no logical name may be a value
        // pasted by mistake: the error names the variable, never the text, which
        // would otherwise land in a CI log.
        if let Err(e) = app.client.resolve(&reference) {
            return Err(Error::new(
                e.kind(),
                format!("{name}: not a reference (scheme://...) nor a logical name of the config; the text is not shown in case it is a value"),
            )
            .with_hint(format!(
                "use {}://... or a name under [secrets] in cleo.toml; `cleo get REF` shows the full error",
                cleo_core::KNOWN_SCHEMES.join("://, ")
            )));
        }
        let secret = app.resolve(&reference).await?;
        if secret.expose_secret().contains(&0) {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!("the value for {name} contains a NUL byte, which an environment variable cannot hold"),
            )
            .with_reference(reference)
            .with_hint("store the value base64-encoded, or pass it in a file"));
        }
        values.push((name, secret));
    }
    let patterns = if args.no_mask {
        None
    } else {
        let p = Patterns::new(values.iter().map(|(_, s)| s.expose_secret()))?;
        tracing::debug!(patterns = p.len(), "output masking on");
        Some(Arc::new(p))
    };
    // Installed before the child exists, so no signal in between can end cleo and
    // leave the child orphaned.
    let mut signals = Signals::install()?;

    let Some((program, rest)) = args.command.split_first() else {
        return Err(Error::new(ErrorKind::ConfigInvalid, "no command given")
            .with_hint("put the command after --: cleo exec -e NAME=REF -- COMMAND [ARGS...]"));
    };
    let spawned = {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(rest).stdin(Stdio::inherit());
        if patterns.is_some() {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        } else {
            cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
        }
        for (name, secret) in &values {
            cmd.env(name, OsStr::from_bytes(secret.expose_secret()));
        }
        // `Command` keeps its own copy of the environment (not wiped); it goes out
        // of scope as soon as the child exists, with the resolved values.
        cmd.spawn()
    };
    drop(values);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return spawn_failed(program, &e),
    };
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);

    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let pumps = async {
        let (out, err) = match &patterns {
            Some(p) => (
                Some(Masker::new(Arc::clone(p))),
                Some(Masker::new(Arc::clone(p))),
            ),
            None => (None, None),
        };
        tokio::join!(
            pump(stdout, tokio::io::stdout(), out, "stdout"),
            pump(stderr, tokio::io::stderr(), err, "stderr"),
        );
    };
    tokio::pin!(pumps);

    let mut status: Option<ExitStatus> = None;
    let mut drained = false;
    // Started when the child exits: how long its output pipes may stay open after it.
    let mut grace = std::pin::pin!(None::<tokio::time::Sleep>);
    while status.is_none() || !drained {
        tokio::select! {
            waited = child.wait(), if status.is_none() => {
                let s = waited.map_err(|e| {
                    Error::new(ErrorKind::Unexpected, "cannot wait for the command").with_source(e)
                })?;
                status = Some(s);
                grace.set(Some(tokio::time::sleep(AFTER_EXIT)));
            }
            () = &mut pumps, if !drained => drained = true,
            Some(()) = OptionFuture::from(grace.as_mut().as_pin_mut()), if !drained => {
                // Something the command started in the background still holds its
                // output open (a daemon, `sleep 60 &`). Waiting for it would hang the
                // script that ran cleo, so cleo stops passing that output on.
                tracing::warn!(
                    "the command exited but a process it started still holds its output open; \
                     cleo stops passing that output on (its later writes fail): redirect that \
                     process's output, or use --no-mask"
                );
                break;
            }
            got = signals.recv() => {
                let sig = got.signal;
                if status.is_none() {
                    if got.forward {
                        // Not reaped yet (we only reap in `wait`), so the pid is still
                        // the child's and cannot have been reused.
                        forward(pid, sig);
                    } else {
                        tracing::debug!(signal = %sig, "from the terminal: the command got it too");
                    }
                } else {
                    // The child is gone but something it started still holds its
                    // output open; being told to stop, stop waiting for that.
                    tracing::warn!(signal = %sig, "the command exited; not waiting for its output pipes to close");
                    break;
                }
            }
        }
    }
    // The loop only ends with a status: it is set before `drained` or the break.
    Ok(status.map_or(1, exit_code))
}

/// The variables to set, name to reference: the `[env]` table with `--config-env`,
/// then `--env`, which wins for the same name (the last `--env` for a name wins).
fn wanted_vars(app: &App, args: &ExecArgs) -> Result<BTreeMap<String, String>> {
    let mut vars = BTreeMap::new();
    if args.config_env {
        let table: Option<BTreeMap<String, String>> = app.client.config().section("env")?;
        let Some(table) = table else {
            let file = app.client.config().path().map_or_else(
                || "no config file was found".to_owned(),
                |p| p.display().to_string(),
            );
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!("--config-env: the config has no [env] table ({file})"),
            )
            .with_hint("add [env] with NAME = \"reference or logical name\" lines to cleo.toml, or pass --env NAME=REF"));
        };
        for (name, reference) in table {
            check_name(&name, "[env] in cleo.toml")?;
            vars.insert(name, reference);
        }
    }
    for spec in &args.env {
        // Only the name is quoted: the spec is a reference, but a user who pasted a
        // value instead of a reference must not see it echoed into a CI log.
        let Some((name, reference)) = spec.split_once('=') else {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                "--env needs NAME=REF (no `=` found)",
            )
            .with_hint("for example --env API_TOKEN=vault://secret/app#token"));
        };
        check_name(name, "--env")?;
        if reference.is_empty() {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!("--env {name}= has an empty reference"),
            )
            .with_hint("give a reference or a logical name after the `=`"));
        }
        vars.insert(name.to_owned(), reference.to_owned());
    }
    if vars.is_empty() {
        tracing::warn!("cleo exec without --env or --config-env: no secret is set");
    }
    Ok(vars)
}

/// Refuses names a shell could not use (`[A-Za-z_][A-Za-z0-9_]*`).
fn check_name(name: &str, origin: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let valid = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        return Ok(());
    }
    // A name is not a secret, but it is cut short in case something long was pasted.
    let shown: String = name.chars().take(64).collect();
    Err(Error::new(
        ErrorKind::ConfigInvalid,
        format!(
            "{origin}: `{}` is not a valid variable name",
            shown.escape_debug()
        ),
    )
    .with_hint("use letters, digits and _, not starting with a digit"))
}

/// Reports a command that did not start and picks the shell's exit code for it.
fn spawn_failed(program: &OsStr, e: &std::io::Error) -> Result<u8> {
    let program = program.to_string_lossy();
    if e.raw_os_error() == Some(nix::errno::Errno::E2BIG as i32) {
        // The values are in the environment, so they count against the kernel's
        // limits: 128 KiB for one variable on Linux, about 2 MiB for all of them.
        let err = Error::new(
            ErrorKind::InvalidData,
            format!("cannot run command `{program}`: its environment is too large (a secret over 128 KiB, or too many)"),
        )
        .with_hint("pass a large secret in a file instead: cleo get --reveal REF > FILE (mode 600), then point the command at FILE");
        eprintln!("error: {err}");
        return Ok(126);
    }
    let (kind, code, hint) = match e.kind() {
        std::io::ErrorKind::NotFound => (
            ErrorKind::NotFound,
            127,
            "check the name, or give its full path (PATH is searched)",
        ),
        std::io::ErrorKind::PermissionDenied => (
            ErrorKind::PermissionDenied,
            126,
            "check that the file is executable (chmod +x)",
        ),
        _ => {
            return Err(
                Error::new(ErrorKind::Unexpected, format!("cannot start {program}"))
                    .with_source(std::io::Error::new(e.kind(), e.to_string())),
            );
        }
    };
    let err = Error::new(kind, format!("cannot run command `{program}`: {e}")).with_hint(hint);
    eprintln!("error: {err}");
    Ok(code)
}

/// Copies one of the child's output streams to one of cleo's, masked when a masker
/// is given. A failed write (cleo's own stdout closed, as in `cleo exec ... | head`)
/// stops the copy and closes the pipe, so the child sees EPIPE/SIGPIPE as it would
/// writing straight into that pipeline.
async fn pump<R, W>(from: Option<R>, mut to: W, mut masker: Option<Masker>, name: &str)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Some(mut from) = from else {
        return;
    };
    let mut chunk = Zeroizing::new(vec![0u8; CHUNK]);
    let mut out = Zeroizing::new(Vec::with_capacity(CHUNK));
    loop {
        let n = match from.read(&mut chunk).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(stream = name, error = %e, "cannot read the command's output");
                0
            }
        };
        match masker.as_mut() {
            Some(m) if n == 0 => m.finish(&mut out),
            Some(m) => m.push(&chunk[..n], &mut out),
            None => extend_zeroizing(&mut out, &chunk[..n]),
        }
        if !out.is_empty() {
            let written = match to.write_all(&out).await {
                Ok(()) => to.flush().await,
                Err(e) => Err(e),
            };
            out.clear();
            if let Err(e) = written {
                tracing::debug!(stream = name, error = %e, "cannot pass on the command's output");
                return;
            }
        }
        if n == 0 {
            return;
        }
    }
}

/// Sends a signal cleo received on to the child.
fn forward(pid: Option<Pid>, sig: Signal) {
    let Some(pid) = pid else { return };
    tracing::debug!(signal = %sig, "forwarding to the command");
    // A child that has just exited (ESRCH) is not an error: `wait` reports it next.
    if let Err(e) = nix::sys::signal::kill(pid, sig) {
        tracing::debug!(signal = %sig, error = %e, "could not forward the signal");
    }
}

/// The exit code for the child's status: its code, or 128 + the signal that killed it.
fn exit_code(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code).unwrap_or(1);
    }
    if let Some(sig) = status.signal() {
        return u8::try_from(128 + sig).unwrap_or(255);
    }
    1
}

/// cleo's handlers for the forwarded signals. Once installed, these signals no
/// longer end cleo; each one another process sends (`kill`, a process manager) is
/// passed on to the child. One the kernel sends (Ctrl-C or Ctrl-\\ at a terminal, a
/// terminal hang-up) went to the whole foreground process group, the child included,
/// so it is not sent a second time: a child that handles Ctrl-C gets it once. A
/// `kill` aimed at cleo's whole process group still reaches the child twice; nothing
/// in the signal tells that apart from a `kill` aimed at cleo alone.
struct Signals {
    stream: signal_hook_tokio::SignalsInfo<WithOrigin>,
}

/// A signal cleo received, and whether it must be forwarded.
struct Received {
    signal: Signal,
    forward: bool,
}

impl Signals {
    fn install() -> Result<Signals> {
        let numbers = FORWARDED.map(|s| s as i32);
        let stream = signal_hook_tokio::SignalsInfo::<WithOrigin>::new(numbers).map_err(|e| {
            Error::new(
                ErrorKind::Unexpected,
                "cannot set up forwarding of signals to the command",
            )
            .with_source(e)
        })?;
        Ok(Signals { stream })
    }

    /// The next signal received; pending forever if signal delivery has ended.
    async fn recv(&mut self) -> Received {
        loop {
            let Some(origin) = self.stream.next().await else {
                return std::future::pending().await;
            };
            let Ok(signal) = Signal::try_from(origin.signal) else {
                continue;
            };
            let forward = !matches!(origin.cause, Cause::Kernel);
            return Received { signal, forward };
        }
    }
}
