//! The command line: `charm-host run`, `charm-host serve` and
//! `charm-host charms ...`.
//!
//! Owns argument parsing, logging setup and the mapping of outcomes to exit
//! codes, in one place. Library modules never print or exit; this module
//! never touches wasmtime directly.
//!
//! Exit codes (see [`Exit`]): 0 success, 1 the charm failed, 2 usage or bad
//! input, 3 compile error, 4 a resource limit was exceeded, 5 the host
//! itself failed.

mod charms;
mod flags;
mod logging;
mod run;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use flags::{CacheArgs, LimitArgs};
pub use logging::LogFormat;

/// Run untrusted JavaScript charms, each task in a fresh WebAssembly sandbox.
#[derive(Debug, Parser)]
#[command(name = "charm-host", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,

    /// How host logs are written to stderr: `text` for people, `json` for
    /// log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "CHARM_HOST_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a charm's bgUpdater once and print the new state (for charm authors).
    Run(run::RunArgs),
    /// Run the background service: HTTP API, scheduler, queue, SQLite store.
    Serve(serve::ServeArgs),
    /// Manage the charms of a running service (a client of its API).
    Charms(charms::ClientArgs),
}

/// The process exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// The command did what was asked.
    Success = 0,
    /// The charm failed: it threw, rejected, returned a value that is not
    /// JSON, or an uncaught fetch was denied.
    CharmFailed = 1,
    /// Usage or bad input: a missing file, invalid JSON, a bad flag value.
    Usage = 2,
    /// The charm does not compile (the message names line and column).
    Compile = 3,
    /// A resource limit ended the task (the message names the limit).
    Limit = 4,
    /// The host itself failed (for example, the runtime would not load).
    HostFailure = 5,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// Writes one line to stdout. When stdout is gone (`charm-host ... | head`),
/// the process ends quietly, as command-line tools do, instead of panicking.
pub(crate) fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// Parses the command line, runs it and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage.into()
            } else {
                Exit::Success.into()
            };
        }
    };
    let runtime = match cli.command {
        Command::Serve(_) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return Exit::HostFailure.into();
        }
    };
    let exit = match cli.command {
        Command::Run(args) => {
            logging::init_for_run(cli.log_format);
            runtime.block_on(run::execute(args))
        }
        Command::Serve(args) => {
            logging::init_for_service(cli.log_format);
            runtime.block_on(serve::execute(args))
        }
        Command::Charms(args) => {
            logging::init_for_run(cli.log_format);
            runtime.block_on(charms::execute(args))
        }
    };
    // Do not wait for stray blocking tasks (DNS lookups) at exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    exit.into()
}
