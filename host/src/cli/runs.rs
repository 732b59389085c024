//! `charm-host runs ...`: a client of the daemon's API for single runs.
//!
//! `runs export RUN_ID` prints the run as a `charm-host-run/1` file (see
//! [`crate::run_file`]) for `charm-host replay`. Exit codes as the other
//! client commands: 1 the API refused (no such run, no recording), 2 usage,
//! 5 the daemon cannot be reached.

use clap::{Args, Subcommand};
use reqwest::Method;

use super::charms::Daemon;
use super::{CliResult, Exit};

/// Arguments of `charm-host runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    daemon: Daemon,

    #[command(subcommand)]
    command: RunsCommand,
}

#[derive(Debug, Subcommand)]
enum RunsCommand {
    /// Print a finished run as a file for `charm-host replay`: its charm's
    /// source, the state before it, its context and everything it received
    /// (secret values redacted).
    Export {
        /// The run's id (`charm-host charms runs ID` lists them).
        run_id: i64,
    },
}

/// Runs the client command.
pub async fn execute(args: RunsArgs) -> CliResult {
    let client = args.daemon.client()?;
    match args.command {
        RunsCommand::Export { run_id } => {
            let file = client
                .call_text(Method::GET, &format!("/api/runs/{run_id}/export"), None)
                .await?;
            super::say(file.trim_end());
            Ok(Exit::Success)
        }
    }
}
