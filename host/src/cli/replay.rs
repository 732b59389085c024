//! `charm-host replay RUN.json [--source FILE]`: re-run a recorded run
//! offline.
//!
//! The run file (`charm-host runs export`) holds the charm's source, the
//! state before the run, its `ctx` and what it received; the replay runs
//! in this process with no network: each fetch is answered from the
//! recording (the first request that is not the next recorded one ends the
//! replay, naming it), and the clocks and the random generator give the
//! recorded values. The same source gives the same outcome, byte for byte;
//! `--source` shows what a fixed charm would have done. Output and exit
//! codes are `charm-host run`'s; a replay that diverges exits 1.

use std::path::PathBuf;
use std::sync::Arc;

use charm_engine::{CharmSettings, RecordMode, RunError, RunPlan, RunRequest};
use clap::Args;
use serde::Deserialize;

use super::run::{cache_dir, compile, outcome, sandbox};
use super::{CliError, CliResult, Exit};
use crate::run_file::RunFile;

/// Arguments of `charm-host replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The run file, from `charm-host runs export RUN_ID`.
    #[arg(value_name = "RUN.json")]
    file: PathBuf,

    /// Replay this source instead of the recorded one (a fix of the charm).
    #[arg(long, value_name = "FILE.js|FILE.ts")]
    source: Option<PathBuf>,

    /// Directory for the compiled runtime, as for `charm-host run`.
    #[arg(long, value_name = "DIR", env = "CHARM_HOST_CACHE_DIR")]
    cache_dir: Option<PathBuf>,

    /// Compile the runtime in this process instead of using the cache.
    #[arg(long)]
    no_cache: bool,
}

/// The recorded `ctx`, as the replay needs it back.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordedCtx {
    charm_id: String,
    space: String,
    integration: Option<String>,
    run_id: String,
    input: serde_json::Value,
    events: serde_json::Value,
    now: u64,
    attempt: u32,
    idempotency_key: String,
}

/// Runs the command: prints the new state, and returns the exit code or
/// the error to print.
pub async fn execute(args: ReplayArgs) -> CliResult {
    let shown = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| CliError::usage(format!("cannot read `{shown}`: {e}")))?;
    let file = RunFile::parse(&text).map_err(|e| CliError::usage(format!("{shown}: {e}")))?;
    let charm = match &args.source {
        Some(path) => {
            let name = path.display().to_string();
            let source = std::fs::read_to_string(path)
                .map_err(|e| CliError::usage(format!("cannot read `{name}`: {e}")))?;
            super::read_charm(path, name, source).await?
        }
        // A charm of several files is stored (and exported) as one marked
        // document: its modules come back from it.
        None => charm_engine::CharmSource::from_stored(&file.charm.name, &file.charm.source)
            .map_err(|e| CliError::usage(format!("{shown}: the charm's source: {e}")))?,
    };
    let ctx: RecordedCtx = serde_json::from_value(file.inputs.ctx.clone()).map_err(|e| {
        CliError::usage(format!("{shown}: `inputs.ctx` is not a run's context: {e}"))
    })?;
    let settings = CharmSettings {
        id: &ctx.charm_id,
        space: &ctx.space,
        integration: ctx.integration.as_deref(),
        limits: &file.inputs.limits,
        allowed_hosts: &file.inputs.allowed_hosts,
        private_network: file.inputs.private_network,
    };
    let request = RunRequest {
        run_id: ctx.run_id.clone(),
        input: ctx.input,
        events: ctx.events,
        now_ms: ctx.now,
        attempt: ctx.attempt,
        idempotency_key: ctx.idempotency_key,
        secrets: file.replay_secrets(),
    };
    let mut plan =
        RunPlan::new(settings, request).map_err(|e| CliError::usage(format!("{shown}: {e}")))?;
    let sandbox = sandbox(cache_dir(args.cache_dir.as_ref(), args.no_cache)?).await?;
    let charm = compile(&sandbox, &charm, &plan).await?;
    let recording = file.inputs.recording;
    if recording.truncated {
        eprintln!(
            "warning: the recording was cut at its cap of {} bytes (--record-bytes-per-run): \
             a body it left out cannot be replayed, and clock readings past its end are live",
            recording.max_bytes
        );
    }
    if !file.redacted_secrets.is_empty() {
        eprintln!(
            "note: the charm's secrets ({}) are \"[redacted]\" in this replay",
            file.redacted_secrets.join(", ")
        );
    }
    plan.spec.recording = RecordMode::Replay(Arc::new(recording));
    let report = plan
        .run(&sandbox, &charm, file.inputs.state_before.get())
        .await;
    match report.outcome {
        Err(RunError::Replay(e)) => Err(CliError::new(
            Exit::CharmFailed,
            format!("replay of run {} stopped: {e}", file.run.id),
        )),
        other => outcome(&charm.name, file.inputs.state_before.get(), other),
    }
}
