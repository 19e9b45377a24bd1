//! `cleo`: read and debug secrets from the shell and CI without printing them.
#![allow(clippy::print_stdout)]

mod aws;
mod cli;
mod get;
mod logging;
mod output;

use std::process::ExitCode;

use clap::Parser;
use cleo_core::{Client, Config, Error, ErrorKind, Registry};

fn build_client(
    config_path: Option<&std::path::Path>,
) -> Result<(Client, std::sync::Arc<cleo_aws::AwsContext>), Error> {
    let config = Config::discover(config_path)?;
    let mut registry = Registry::with_builtin();
    cleo_vault::register(&mut registry, &config)?;
    let aws = cleo_aws::register(&mut registry, &config)?;
    Ok((Client::new(config, registry)?, aws))
}

/// The exit code for an error kind; documented in `cleo --help`.
fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidReference | ErrorKind::ConfigInvalid => 2,
        ErrorKind::NotFound => 3,
        ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => 4,
        ErrorKind::Unavailable | ErrorKind::RateLimited => 5,
        _ => 1,
    }
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    logging::init(args.verbose, args.quiet);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let (client, aws) = build_client(args.config.as_deref())?;
        match &args.command {
            cli::Command::Get(get) => get::run(&client, get).await,
            cli::Command::Aws(cli::AwsCommand::CredentialProcess(a)) => {
                aws::credential_process(&aws, a).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit_code(e.kind()))
        }
    }
}
