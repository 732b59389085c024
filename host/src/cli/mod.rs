//! The command line: `charm-host run`, `charm-host serve`,
//! `charm-host charms ...`, `charm-host runs export` and `charm-host replay`.
//!
//! Owns argument parsing, logging setup and the mapping of outcomes to exit
//! codes, in one place: each command returns its result, and [`main`]
//! prints an error once and exits with its code. Library modules never print
//! or exit; this module never touches wasmtime directly. Environment
//! switches are read here, at the edge, and passed down as options.
//!
//! Exit codes (see [`Exit`]): 0 success, 1 the charm failed, 2 usage or bad
//! input, 3 compile error, 4 a resource limit was exceeded, 5 the host
//! itself failed.

mod charms;
mod flags;
mod logging;
mod replay;
mod run;
mod runs;
mod serve;
mod spaces;
mod tenancy;
mod types;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use flags::LimitArgs;
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
    // Boxed: its many flags would make every command as large.
    Serve(Box<serve::ServeArgs>),
    /// Manage the charms of a running service (a client of its API).
    Charms(charms::ClientArgs),
    /// Export a run of a running service for `replay` (a client of its API).
    Runs(runs::RunsArgs),
    /// Re-run an exported run offline: the same responses, clock and random
    /// values; `--source` replays a fixed charm.
    Replay(replay::ReplayArgs),
    /// Make, list and revoke the service's API tokens (operator only).
    Tokens(tenancy::TokensArgs),
    /// Show the service's audit log: every change made through its API.
    Audit(tenancy::AuditArgs),
    /// Show spaces' quotas and usage, and set a space's quotas (a client
    /// of the service's API).
    Spaces(spaces::SpacesArgs),
    /// Print charm-host.d.ts, the TypeScript types of a charm's bgUpdater,
    /// ctx and the sandbox's globals, for editors.
    Types,
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

/// Why a command failed: the message `main` prints (after `error: `) and
/// the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// The exit code.
    pub exit: Exit,
    /// What went wrong and, where it helps, what to do.
    pub message: String,
}

impl CliError {
    /// An error with `exit` as its code.
    pub fn new(exit: Exit, message: impl std::fmt::Display) -> CliError {
        CliError {
            exit,
            message: message.to_string(),
        }
    }

    /// Usage or bad input (exit 2).
    pub fn usage(message: impl std::fmt::Display) -> CliError {
        CliError::new(Exit::Usage, message)
    }

    /// The host failed (exit 5).
    pub fn host(message: impl std::fmt::Display) -> CliError {
        CliError::new(Exit::HostFailure, message)
    }
}

/// What a command returns: its exit code on success (a command may succeed
/// with a non-zero code, as `trigger --wait` does for a failed run that it
/// printed), or the error to print.
pub type CliResult = Result<Exit, CliError>;

/// A runtime file to use instead of the embedded one, from
/// `CHARM_HOST_RUNTIME_WASM` (for developing the guest, and for
/// `make guest-check` when the toolchain moved).
pub const RUNTIME_OVERRIDE_ENV: &str = "CHARM_HOST_RUNTIME_WASM";

/// `CHARM_HOST_PERFMAP=1` makes wasmtime write a perf map, so that `perf`
/// names guest functions.
pub const PERFMAP_ENV: &str = "CHARM_HOST_PERFMAP";

/// The runtime override named in [`RUNTIME_OVERRIDE_ENV`], if any.
pub(crate) fn runtime_override() -> Option<std::path::PathBuf> {
    std::env::var_os(RUNTIME_OVERRIDE_ENV)
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

/// RUNTIME_DIR, where a daemon writes its server file and
/// `charm-host charms` looks for it: `$XDG_RUNTIME_DIR` (a per-user folder
/// that lives as long as the login), else `$XDG_STATE_HOME`, else
/// `~/.local/state`; `None` when none is known.
pub(crate) fn runtime_dir() -> Option<std::path::PathBuf> {
    let var = |name| std::env::var_os(name);
    runtime_dir_from(var("XDG_RUNTIME_DIR"), var("XDG_STATE_HOME"), var("HOME"))
}

/// [`runtime_dir`] from the variables' values. Empty and relative values
/// are ignored, as the XDG base directory specification asks.
fn runtime_dir_from(
    runtime: Option<std::ffi::OsString>,
    state: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<std::path::PathBuf> {
    let absolute =
        |v: Option<std::ffi::OsString>| v.map(std::path::PathBuf::from).filter(|p| p.is_absolute());
    absolute(runtime)
        .or_else(|| absolute(state))
        .or_else(|| absolute(home).map(|h| h.join(".local/state")))
}

/// Whether [`PERFMAP_ENV`] asks for a perf map.
pub(crate) fn perf_map() -> bool {
    std::env::var_os(PERFMAP_ENV).is_some_and(|v| v == "1")
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

/// `text` without one trailing line ending (`\n` or `\r\n`): what `echo`
/// and editors add to a value read from a file or a pipe.
pub(crate) fn strip_newline(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}

/// The charm whose entry `file` holds `source`, named `name`, with the
/// modules it imports read from the file's folder (on a blocking thread:
/// it reads files and lists imports in a child process).
pub(crate) async fn read_charm(
    file: &std::path::Path,
    name: String,
    source: String,
) -> Result<charm_engine::CharmSource, CliError> {
    let folder = file
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let entry = charm_engine::CharmSource::single(name, source);
    tokio::task::spawn_blocking(move || entry.read_imports(&folder).map_err(Box::new))
        .await
        .map_err(CliError::host)?
        .map_err(|e| CliError::new(Exit::Compile, e))
}

/// Makes TypeScript stripping run in a child copy of this binary, so that
/// no charm source can overflow the stack of the daemon or the CLI (see
/// `charm_typescript::isolate_in`). `/proc/self/exe` still names the binary
/// after an upgrade replaced it on disk.
fn isolate_typescript() {
    let proc_exe = std::path::Path::new("/proc/self/exe");
    let program = if proc_exe.exists() {
        Some(proc_exe.to_path_buf())
    } else {
        std::env::current_exe().ok()
    };
    if let Some(program) = program {
        charm_typescript::isolate_in(program);
    }
}

/// Parses the command line, runs it and returns its exit code.
pub fn main() -> ExitCode {
    // A copy of this binary started to strip TypeScript does only that.
    charm_typescript::run_child_if_asked();
    isolate_typescript();
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
    let result = match cli.command {
        Command::Run(args) => {
            logging::init_for_run(cli.log_format);
            runtime.block_on(run::execute(args))
        }
        Command::Serve(args) => {
            logging::init_for_service(cli.log_format);
            runtime.block_on(serve::execute(*args))
        }
        Command::Charms(args) => {
            logging::init_for_run(cli.log_format);
            runtime.block_on(charms::execute(args))
        }
        Command::Runs(args) => {
            logging::init_for_run(cli.log_format);
            runtime.block_on(runs::execute(args))
        }
        Command::Replay(args) => {
            logging::init_for_run(cli.log_format);
            runtime.block_on(replay::execute(args))
        }
        Command::Tokens(args) => {
            logging::init_for_run(cli.log_format);
            runtime.block_on(tenancy::tokens(args))
        }
        Command::Audit(args) => {
            logging::init_for_run(cli.log_format);
            runtime.block_on(tenancy::audit(args))
        }
        Command::Spaces(args) => {
            logging::init_for_run(cli.log_format);
            runtime.block_on(spaces::execute(args))
        }
        Command::Types => {
            say(types::CHARM_HOST_D_TS.trim_end());
            Ok(Exit::Success)
        }
    };
    // Do not wait for stray blocking tasks (DNS lookups) at exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(exit) => exit.into(),
        Err(error) => {
            eprintln!("error: {}", error.message);
            error.exit.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::runtime_dir_from;
    use std::path::PathBuf;

    #[test]
    fn the_runtime_dir_follows_xdg_and_ignores_relative_values() {
        let v = |s: &str| Some(std::ffi::OsString::from(s));
        assert_eq!(
            runtime_dir_from(v("/run/user/1000"), v("/s"), v("/home/a")),
            Some(PathBuf::from("/run/user/1000"))
        );
        assert_eq!(
            runtime_dir_from(v(""), v("/s"), v("/home/a")),
            Some(PathBuf::from("/s"))
        );
        assert_eq!(
            runtime_dir_from(None, v("rel"), v("/home/a")),
            Some(PathBuf::from("/home/a/.local/state"))
        );
        assert_eq!(runtime_dir_from(None, None, None), None);
    }
}
