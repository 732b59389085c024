//! The command line: `charm-host run` (and, as the service grows, `serve`
//! and `charms`).
//!
//! Owns argument parsing, logging setup and the mapping of outcomes to exit
//! codes, in one place. Library modules never print or exit; this module
//! never touches wasmtime directly.
//!
//! Exit codes (see [`Exit`]): 0 success, 1 the charm failed, 2 usage or bad
//! input, 3 compile error, 4 a resource limit was exceeded, 5 the host
//! itself failed.

mod flags;
mod logging;
mod run;

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
    match cli.command {
        Command::Run(args) => {
            logging::init_for_run(cli.log_format);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(run::execute(args)).into(),
                Err(e) => {
                    eprintln!("error: could not start the async runtime: {e}");
                    Exit::HostFailure.into()
                }
            }
        }
    }
}
