//! `cleo`: read and debug secrets from the shell and CI without printing them.
#![allow(clippy::print_stdout)]

mod app;
mod aws;
mod cli;
mod doctor;
mod exec;
mod get;
mod github;
mod hardening;
mod inspect;
mod logging;
mod mask;
mod output;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use cleo_core::ErrorKind;

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
    // Before anything holds a secret: no core file of this process, ever.
    hardening::disable_core_dumps();
    let args = cli::Cli::parse();
    if let cli::Command::Completions(c) = &args.command {
        clap_complete::generate(
            c.shell,
            &mut cli::Cli::command(),
            "cleo",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
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
        // Doctor reports a broken config as a failed check rather than stopping.
        if let cli::Command::Doctor(d) = &args.command {
            return doctor::run(args.config.as_deref(), args.keep_token, d).await;
        }
        let app = app::App::build(args.config.as_deref())?;
        let result = match &args.command {
            cli::Command::Get(get) => get::run(&app, get).await.map(|()| 0),
            cli::Command::Inspect(i) => inspect::run(&app, i).await.map(|()| 0),
            cli::Command::Exec(e) => exec::run(&app, e).await,
            cli::Command::Aws(cli::AwsCommand::CredentialProcess(a)) => {
                aws::credential_process(&app.aws, a).await.map(|()| 0)
            }
            cli::Command::Doctor(_) | cli::Command::Completions(_) => unreachable!("handled above"),
        };
        app.finish(args.keep_token).await;
        result
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit_code(e.kind()))
        }
    }
}
