//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  other error (unexpected answer, value not in the asked form)
  2  usage error, malformed reference, or invalid configuration
  3  secret, field, version or logical name not found
  4  not authenticated, or permission denied
  5  backend unavailable or rate limited (a retry may help)

Logging: CLEO_LOG (or RUST_LOG) takes a tracing filter such as `debug` or
`cleo_vault=trace`; logs go to stderr and never contain secret values.";

/// Read secrets and short-lived credentials without printing them.
#[derive(Debug, Parser)]
#[command(name = "cleo", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Config file (default: $CLEO_CONFIG, then ./cleo.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// More logging on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Leave a Vault token that cleo logged in for (AppRole, JWT, Kubernetes) alive
    /// when the command ends. By default it is revoked, and with it the leases it
    /// created (dynamic credentials), so a CI job leaves no live token behind.
    #[arg(long, global = true)]
    pub keep_token: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch a secret and show its metadata, value masked unless --reveal.
    Get(GetArgs),
    /// Show where a secret comes from: backend, auth method and identity, version,
    /// lease or expiry, renewability, cache state. Never the value.
    Inspect(InspectArgs),
    /// Run a command with secrets in its environment; its output is passed through
    /// with every secret value replaced by `***`.
    Exec(ExecArgs),
    /// Check the configuration, each backend's reachability, TLS and authentication,
    /// token lifetimes, file permissions, clock skew, MLflow auth and the ADR's
    /// controls. Exits 1 when a check fails.
    Doctor(DoctorArgs),
    /// AWS helpers.
    #[command(subcommand)]
    Aws(AwsCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
}

/// `cleo inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A reference or a logical name from cleo.toml.
    pub reference: String,

    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `cleo exec`.
#[derive(Debug, Args)]
#[command(after_help = EXEC_HELP)]
pub struct ExecArgs {
    /// Set NAME to the value of a reference or logical name (repeatable).
    #[arg(long = "env", short = 'e', value_name = "NAME=REF")]
    pub env: Vec<String>,

    /// Also set every variable of the [env] table of cleo.toml.
    #[arg(long)]
    pub config_env: bool,

    /// Pass the command's output through unchanged (no masking).
    #[arg(long)]
    pub no_mask: bool,

    /// The command and its arguments, after `--`.
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

const EXEC_HELP: &str = "\
Masking replaces each secret value, and each line of a multi-line value, with ***
in the command's stdout and stderr, also when a value is split across writes.
Not masked: values (or lines) shorter than 4 bytes, and encoded forms of a value
(base64, URL or JSON escaping, hex). The command's exit code is cleo's; a command
killed by a signal makes cleo exit with 128 + the signal number; 127/126 when it
cannot be found/run (126 also when a value is too large for the environment).
SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to cleo by another process are passed on;
a Ctrl-C at the terminal already reaches the command and is not sent twice. Once
the command exits, output still written by a process it left in the background is
passed on for 2 s, then cleo exits (use --no-mask for such commands).";

/// `cleo doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `cleo completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// `cleo aws ...`.
#[derive(Debug, Subcommand)]
pub enum AwsCommand {
    /// Assume a role and print the AWS `credential_process` JSON on stdout, for
    /// `credential_process = cleo aws credential-process --role NAME` in ~/.aws/config.
    /// This prints a credential by design: only an AWS SDK or CLI should read it.
    CredentialProcess(CredentialProcessArgs),
}

/// `cleo aws credential-process`.
#[derive(Debug, Args)]
pub struct CredentialProcessArgs {
    /// A role ARN, or a role name under [aws.roles] in cleo.toml (default: [aws] role).
    #[arg(long, value_name = "ARN-OR-NAME")]
    pub role: Option<String>,

    /// Session length for a role ARN (e.g. 15m, 1h).
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<humantime::Duration>,
}

/// `cleo get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// A reference (vault://mount/path#field, env://NAME, file:///path) or a logical name from cleo.toml.
    pub reference: String,

    /// Print only the value, for `$(cleo get --reveal ...)`. With --json, add it to the JSON.
    #[arg(long)]
    pub reveal: bool,

    /// Print metadata as JSON (the value only with --reveal).
    #[arg(long)]
    pub json: bool,

    /// With --reveal, print the value base64-encoded (for binary values).
    #[arg(long, requires = "reveal")]
    pub base64: bool,
}
