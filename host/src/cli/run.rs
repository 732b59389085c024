//! `charm-host run FILE.js|FILE.ts`: run a charm's `bgUpdater` once.
//!
//! For charm authors: stdout gets the resulting state as one line of JSON,
//! stderr the charm's console output and any error. The compiled runtime is
//! cached (see `--cache-dir`), so a warm run takes milliseconds.

use std::path::PathBuf;

use charm_engine::limits::LimitHint;
use charm_engine::{
    compile_source, unix_ms, CharmSettings, CharmSource, CompileError, CompiledCharm, RunError,
    RunPlan, RunRequest, Sandbox, SandboxOptions, Secrets, StateChange,
};
use clap::Args;

use super::flags::LimitArgs;
use super::{CliError, CliResult, Exit};
use crate::service::secrets::{check_name, check_value};

/// Arguments of `charm-host run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The charm: an ES module that exports `bgUpdater(state, ctx)`; a
    /// `.ts` or `.mts` file is TypeScript, its types stripped (not checked).
    #[arg(value_name = "FILE.js|FILE.ts")]
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

    /// A secret the charm sees as `ctx.secrets.NAME`, its value read from
    /// FILE (one trailing newline dropped); repeatable. Only from a file,
    /// never on the command line, where other users and shell history see
    /// it. Its value is redacted from the output as in the service.
    #[arg(long = "secret", value_name = "NAME=@FILE")]
    secrets: Vec<String>,

    /// The space (tenant) the charm sees as `ctx.space`.
    #[arg(long, value_name = "NAME", default_value = "local")]
    space: String,

    #[command(flatten)]
    limits: LimitArgs,

    /// Directory for the compiled runtime (about 10 MB). Default:
    /// $XDG_CACHE_HOME/charm-host, else ~/.cache/charm-host.
    #[arg(long, value_name = "DIR", env = "CHARM_HOST_CACHE_DIR")]
    cache_dir: Option<PathBuf>,

    /// Do not read or write the cache: compile the runtime in this process
    /// (about two seconds).
    #[arg(long)]
    no_cache: bool,

    /// After the run, print what it cost to stderr: fuel, peak memory,
    /// wall-clock time and fetches.
    #[arg(long)]
    stats: bool,
}

/// Reads a `JSON|@FILE` argument and checks that it is JSON.
fn json_arg(flag: &str, value: &str) -> Result<serde_json::Value, CliError> {
    let text = match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| CliError::usage(format!("{flag}: cannot read `{path}`: {e}")))?,
        None => value.to_string(),
    };
    serde_json::from_str(&text)
        .map_err(|e| CliError::usage(format!("{flag} is not valid JSON: {e}")))
}

/// Reads the `--secret NAME=@FILE` arguments.
fn secrets_arg(args: &[String]) -> Result<Secrets, CliError> {
    let mut secrets = Secrets::none();
    for arg in args {
        let (name, path) = arg
            .split_once("=@")
            .ok_or_else(|| CliError::usage(format!("--secret takes NAME=@FILE (the value is read from the file, never given on the command line); got `{}`", arg.split('=').next().unwrap_or_default())))?;
        check_name(name).map_err(CliError::usage)?;
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::usage(format!("--secret {name}: cannot read `{path}`: {e}")))?;
        let value = String::from_utf8(bytes)
            .map_err(|_| CliError::usage(format!("--secret {name}: `{path}` is not UTF-8 text")))?;
        let value = super::strip_newline(&value);
        check_value(value).map_err(|e| CliError::usage(format!("--secret {name}: {e}")))?;
        secrets.insert(name, value);
    }
    Ok(secrets)
}

/// The cache directory to use, if any: `--cache-dir`, else the user's
/// cache; none with `--no-cache`.
pub(super) fn cache_dir(
    given: Option<&PathBuf>,
    no_cache: bool,
) -> Result<Option<PathBuf>, CliError> {
    if no_cache {
        return Ok(None);
    }
    if let Some(dir) = given {
        crate::service::check_path("--cache-dir", dir).map_err(CliError::usage)?;
        return Ok(Some(dir.clone()));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")));
    Ok(base.map(|base| base.join("charm-host")))
}

/// Compiles `source` for `plan` (exit 3 when it does not compile, 4 when
/// compiling hits a limit).
pub(super) async fn compile(
    sandbox: &Sandbox,
    charm: &CharmSource,
    plan: &RunPlan,
) -> Result<CompiledCharm, CliError> {
    compile_source(sandbox, charm, &plan.spec)
        .await
        .map_err(|e| match e {
            CompileError::Limit { file, limit } => CliError::new(
                Exit::Limit,
                format!("{file}: compiling {}", limit.hinted(LimitHint::Flag)),
            ),
            e => CliError::new(Exit::Compile, e),
        })
}

/// The sandbox `run` and `replay` use.
pub(super) async fn sandbox(cache_dir: Option<PathBuf>) -> Result<Sandbox, CliError> {
    Sandbox::new(SandboxOptions {
        cache_dir,
        runtime_override: super::runtime_override(),
        perf_map: super::perf_map(),
        ..SandboxOptions::default()
    })
    .await
    .map_err(CliError::host)
}

/// Runs the command: prints the new state, and returns the exit code or
/// the error to print.
pub async fn execute(args: RunArgs) -> CliResult {
    let name = args.file.display().to_string();
    let source = std::fs::read_to_string(&args.file)
        .map_err(|e| CliError::usage(format!("cannot read `{name}`: {e}")))?;
    let state = json_arg("--state", &args.state)?;
    let input = json_arg("--input", &args.input)?;
    let limits = args.limits.to_limits().map_err(CliError::usage)?;
    let charm_id = args
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.clone());
    let now = unix_ms();
    let settings = CharmSettings {
        id: &charm_id,
        space: &args.space,
        integration: None,
        limits: &limits,
        allowed_hosts: &args.allow_hosts,
        // The operator runs this on their own machine.
        private_network: true,
    };
    // An input is one event, as a trigger with an input is in the service.
    let events = match &input {
        serde_json::Value::Null => serde_json::json!([]),
        data => serde_json::json!([{"id": 1, "receivedAt": now, "source": "cli", "data": data}]),
    };
    let request = RunRequest {
        run_id: format!("local-{now}"),
        input,
        events,
        now_ms: now,
        attempt: 1,
        idempotency_key: format!("{charm_id}:local-{now}"),
        secrets: secrets_arg(&args.secrets)?,
    };
    let mut plan = RunPlan::new(settings, request).map_err(CliError::usage)?;

    let sandbox = sandbox(cache_dir(args.cache_dir.as_ref(), args.no_cache)?).await?;

    let charm = super::read_charm(&args.file, name.clone(), source).await?;
    let charm = compile(&sandbox, &charm, &plan).await?;
    plan.ctx.integration = charm.integration.clone();
    let report = plan.run(&sandbox, &charm, &state.to_string()).await;
    if args.stats {
        let stats = report.stats;
        eprintln!(
            "stats: fuel {}, memory {:.1} MiB, {} ms, {} fetches",
            stats.fuel,
            stats.memory_bytes as f64 / (1024.0 * 1024.0),
            stats.duration.as_millis(),
            stats.fetches
        );
    }
    outcome(&name, &state.to_string(), report.outcome)
}

/// Prints a run's outcome as `run` and `replay` do: the new state (or
/// `before`, kept) on stdout; an error is returned with its exit code.
pub(super) fn outcome(
    name: &str,
    before: &str,
    outcome: Result<StateChange, RunError>,
) -> CliResult {
    match outcome {
        Ok(StateChange::Keep) => {
            super::say(before);
            Ok(Exit::Success)
        }
        Ok(StateChange::Replace(new_state)) => {
            super::say(new_state);
            Ok(Exit::Success)
        }
        Err(RunError::Limit(limit)) => Err(CliError::new(
            Exit::Limit,
            format!("charm `{name}` {}", limit.hinted(LimitHint::Flag)),
        )),
        Err(e @ RunError::Fault(_)) => Err(CliError::new(
            Exit::CharmFailed,
            format!("charm `{name}` crashed the sandbox: {e}"),
        )),
        Err(e) => Err(CliError::new(
            Exit::CharmFailed,
            format!("charm `{name}` failed: {e}"),
        )),
    }
}
