//! `charm-host run FILE.js`: run a charm's `bgUpdater` once.
//!
//! For charm authors: stdout gets the resulting state as one line of JSON,
//! stderr the charm's console output and any error. The compiled runtime is
//! cached (see `--cache-dir`), so a warm run takes milliseconds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;

use super::flags::{CacheArgs, LimitArgs};
use super::Exit;
use crate::capabilities::console::LogIdentity;
use crate::capabilities::fetch::AllowList;
use crate::compile::{compile_with, CompileError};
use crate::run::{run, RunContext, RunError, StateChange};
use crate::sandbox::{Sandbox, SandboxOptions, TaskSpec};

/// Arguments of `charm-host run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The charm: an ES module that exports `bgUpdater(state, ctx)`.
    #[arg(value_name = "FILE.js")]
    file: PathBuf,

    /// The state before the run, as JSON or @FILE to read it from a file.
    #[arg(long, value_name = "JSON|@FILE", default_value = "{}")]
    state: String,

    /// The run's input, given to the charm as `ctx.input`, as JSON or @FILE.
    #[arg(long, value_name = "JSON|@FILE", default_value = "null")]
    input: String,

    /// A host the charm may fetch from; repeat for more. Forms: `host`,
    /// `host:port`, `*.domain`, `[ipv6]:port`. Nothing is allowed by default;
    /// loopback and private addresses need an exact entry.
    #[arg(long = "allow-host", value_name = "PATTERN")]
    allow_hosts: Vec<String>,

    /// The space (tenant) the charm sees as `ctx.space`.
    #[arg(long, value_name = "NAME", default_value = "local")]
    space: String,

    #[command(flatten)]
    limits: LimitArgs,

    #[command(flatten)]
    cache: CacheArgs,
}

/// Reads a `JSON|@FILE` argument and checks that it is JSON.
fn json_arg(flag: &str, value: &str) -> Result<serde_json::Value, String> {
    let text = match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("{flag}: cannot read `{path}`: {e}"))?,
        None => value.to_string(),
    };
    serde_json::from_str(&text).map_err(|e| format!("{flag} is not valid JSON: {e}"))
}

fn usage(message: impl std::fmt::Display) -> Exit {
    eprintln!("error: {message}");
    Exit::Usage
}

/// Runs the command; prints the state or the error, and returns the exit code.
pub async fn execute(args: RunArgs) -> Exit {
    let name = args.file.display().to_string();
    let source = match std::fs::read_to_string(&args.file) {
        Ok(source) => source,
        Err(e) => return usage(format_args!("cannot read `{name}`: {e}")),
    };
    let state = match json_arg("--state", &args.state) {
        Ok(state) => state,
        Err(e) => return usage(e),
    };
    let input = match json_arg("--input", &args.input) {
        Ok(input) => input,
        Err(e) => return usage(e),
    };
    let allow = match AllowList::parse(&args.allow_hosts) {
        Ok(allow) => Arc::new(allow),
        Err(e) => return usage(e),
    };
    let limits = match args.limits.to_limits() {
        Ok(limits) => limits,
        Err(e) => return usage(e),
    };

    let sandbox = match Sandbox::new(SandboxOptions {
        cache_dir: args.cache.resolve(),
        ..SandboxOptions::default()
    })
    .await
    {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::HostFailure;
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let charm_id = args
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.clone());
    let run_id = format!("local-{now}");
    let spec = TaskSpec {
        limits,
        allow,
        identity: LogIdentity {
            charm_id: charm_id.clone(),
            space: args.space.clone(),
            run_id: run_id.clone(),
        },
    };

    let charm = match compile_with(&sandbox, &name, &source, &spec).await {
        Ok(charm) => charm,
        Err(e @ CompileError::Limit { .. }) => {
            eprintln!("error: {e}");
            return Exit::Limit;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Compile;
        }
    };
    let ctx = RunContext {
        charm_id,
        space: args.space,
        integration: charm.integration.clone(),
        run_id,
        input,
        now,
    };
    let report = run(&sandbox, &charm, &state.to_string(), &ctx, &spec).await;
    match report.outcome {
        Ok(StateChange::Keep) => {
            super::say(state);
            Exit::Success
        }
        Ok(StateChange::Replace(new_state)) => {
            super::say(new_state);
            Exit::Success
        }
        Err(RunError::Limit(limit)) => {
            eprintln!("error: charm `{name}` {limit}");
            Exit::Limit
        }
        Err(e @ RunError::Fault(_)) => {
            eprintln!("error: charm `{name}` crashed the sandbox: {e}");
            Exit::CharmFailed
        }
        Err(e) => {
            eprintln!("error: charm `{name}` failed: {e}");
            Exit::CharmFailed
        }
    }
}
