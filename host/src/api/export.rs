//! Exporting a run: its recording, source and inputs as one file.
//!
//! | method and path | does |
//! |---|---|
//! | `GET /api/runs/{id}/export` | the run as a `charm-host-run/1` file (see `run_file`), for `charm-host replay`; 404 when the run recorded nothing; 409 when the source it ran is no longer kept |
//!
//! The route names a run, so the tenancy layer scopes it: a space token
//! reaches only its space's runs. The file holds no secret value (the
//! recording was redacted when it was made).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::error::{ApiError, ApiPath};
use super::{AppState, RouterState};
use crate::run_file::{RunFile, RunInputs, RunSummary, SourceFile, FORMAT, NOTE};

pub(super) fn router() -> Router<RouterState> {
    Router::new().route("/api/runs/{id}/export", get(export))
}

async fn export(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no run with id `{id}`"));
    let run_id: i64 = id.parse().map_err(|_| not_found())?;
    let run = app.store.run(run_id).await?.ok_or_else(not_found)?;
    let kept = app.store.run_recording(run_id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "run {run_id} has no recording: it has not finished, was cut short before its sandbox reported, \
             or ran with --record-bytes-per-run 0"
        ))
    })?;
    let (name, source) = kept.source.ok_or_else(|| {
        ApiError::Conflict(format!(
            "the source run {run_id} ran (sha256 {}) is no longer kept: the charm was updated while the run ran",
            kept.source_sha256
        ))
    })?;
    let inputs = RunInputs::decode(&kept.data)
        .map_err(|e| ApiError::Internal(format!("run {run_id}'s recording: {e}")))?;
    let space = app
        .store
        .space_of(&charm_store::tenancy::SpaceOf::Run(run_id))
        .await?
        .unwrap_or_default();
    let file = RunFile {
        format: FORMAT.to_string(),
        note: NOTE.to_string(),
        run: RunSummary {
            id: run_id,
            charm_id: run.charm_id.to_string(),
            space,
            outcome: run.outcome.map(|o| o.as_str().to_string()),
            error: run.error,
            started_at: run.started_at,
        },
        charm: SourceFile {
            name,
            sha256: kept.source_sha256,
            source,
        },
        redacted_secrets: RunFile::secret_names(&inputs.ctx),
        inputs,
    };
    let disposition = format!("attachment; filename=\"run-{run_id}.json\"");
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(file)).into_response())
}
