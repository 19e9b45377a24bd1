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

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch a secret and show its metadata, value masked unless --reveal.
    Get(GetArgs),
    /// AWS helpers.
    #[command(subcommand)]
    Aws(AwsCommand),
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
