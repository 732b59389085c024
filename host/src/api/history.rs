//! State history: a charm's kept state versions, the difference between
//! two, and rolling back to one.
//!
//! | method and path | does |
//! |---|---|
//! | `GET /api/charms/{id}/state?version=N` | one kept version (in `charms.rs`) |
//! | `GET /api/charms/{id}/state/versions` | `?limit=` (default 50) → `{versions: [{version, written_at, chars, run_id}]}`, newest first |
//! | `GET /api/charms/{id}/state/diff` | `?from=N&to=M` (`to` defaults to the current version) → `{from, to, patch}`, an RFC 6902 JSON Patch from `from` to `to` |
//! | `POST /api/charms/{id}/state/rollback` | `{version}` → 200 with the new state (a new version equal to `version`); 409 while a run is running; 403 `quota_exceeded` when the version would put the space over its state quota |

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use charm_store::history::Rollback;
use charm_store::{CharmId, StateRecord};

use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::{AppState, RouterState};
use crate::service::charm_id;

/// The most versions one page lists.
const MAX_VERSIONS_PAGE: u32 = 1000;

pub(super) fn router() -> Router<RouterState> {
    Router::new()
        .route("/api/charms/{id}/state/versions", get(versions))
        .route("/api/charms/{id}/state/diff", get(diff))
        .route("/api/charms/{id}/state/rollback", post(rollback))
}

fn no_charm(id: &str) -> ApiError {
    ApiError::NotFound(format!("no charm with id `{id}`"))
}

/// Version `version` of the charm's state, or a 404 that says whether the
/// charm or the version is missing.
pub(super) async fn kept_version(
    app: &AppState,
    id: &str,
    charm: &CharmId,
    version: i64,
) -> Result<StateRecord, ApiError> {
    if let Some(state) = app.store.state_version(charm, version).await? {
        return Ok(state);
    }
    let current = app.store.state(charm).await?.ok_or_else(|| no_charm(id))?;
    Err(ApiError::NotFound(format!(
        "version {version} of charm `{id}`'s state is not kept: the current version is {}, \
         and the service keeps the newest --keep-state-versions (GET .../state/versions lists them)",
        current.version
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionsQuery {
    limit: Option<u32>,
}

async fn versions(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<VersionsQuery>,
) -> Result<Response, ApiError> {
    let charm = charm_id(&id)?;
    // At least one: the current state is always kept, so an empty answer
    // means the charm does not exist.
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_VERSIONS_PAGE);
    let versions = app.store.state_versions(&charm, limit).await?;
    if versions.is_empty() {
        return Err(no_charm(&id));
    }
    Ok(Json(json!({ "versions": versions })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffQuery {
    from: i64,
    to: Option<i64>,
}

async fn diff(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> Result<Response, ApiError> {
    let charm = charm_id(&id)?;
    let from = kept_version(&app, &id, &charm, q.from).await?;
    let to = match q.to {
        Some(to) => kept_version(&app, &id, &charm, to).await?,
        None => app
            .store
            .state(&charm)
            .await?
            .ok_or_else(|| no_charm(&id))?,
    };
    // A stored state is JSON (a run's result is checked), but one nested
    // deeper than serde_json's 128 levels cannot be diffed here.
    let parse = |s: &StateRecord| {
        serde_json::from_str::<serde_json::Value>(&s.state).map_err(|e| {
            ApiError::Conflict(format!(
                "version {} of charm `{id}`'s state cannot be diffed ({e}); \
                 read each version with ?version=N instead",
                s.version
            ))
        })
    };
    let patch = json_patch::diff(&parse(&from)?, &parse(&to)?);
    Ok(Json(json!({ "from": from.version, "to": to.version, "patch": patch })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    version: i64,
}

async fn rollback(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RollbackBody>,
) -> Result<Response, ApiError> {
    let charm = charm_id(&id)?;
    match app.store.rollback_state(&charm, body.version).await? {
        Rollback::Done(state) => {
            tracing::info!(charm = %charm, from = body.version, version = state.version, "rolled a charm's state back");
            Ok(Json(state).into_response())
        }
        Rollback::NoCharm => Err(no_charm(&id)),
        Rollback::NoVersion => Err(kept_version(&app, &id, &charm, body.version)
            .await
            .err()
            .unwrap_or_else(|| ApiError::Conflict("that version was pruned just now".into()))),
        // The same refusal, with the same advice, as a registration's.
        Rollback::OverQuota(over) => Err(charm_store::StoreError::OverQuota(over).into()),
        Rollback::Running(run) => Err(ApiError::Conflict(format!(
            "run {run} of charm `{id}` is running; roll back once it has finished \
             (or cancel it: POST /api/runs/{run}/cancel)"
        ))),
    }
}
