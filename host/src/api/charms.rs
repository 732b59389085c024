//! The `/api/charms` and `/api/runs` routes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use charm_store::{CharmFilter, SortKey, Trigger};

use super::error::{ApiBytes, ApiError, ApiJson, ApiPath, ApiQuery};
use super::tenancy::{operator_only, Audited};
use super::{AppState, RouterState};
use crate::service::{
    charm_id, minute_stats, Caller, CharmChanges, CharmSpec, Registry, TriggerRequest, Tryout,
};

/// The most items one page holds.
const MAX_PAGE: u32 = 1000;

pub(super) fn router() -> Router<RouterState> {
    Router::new()
        .route("/api/charms", post(create).get(list))
        .route("/api/charms/{id}", get(show).patch(update).delete(remove))
        .route("/api/charms/{id}/state", get(state))
        .route("/api/charms/{id}/runs", get(runs))
        .route("/api/charms/{id}/run", post(trigger))
        .route("/api/charms/{id}/source", get(source))
        .route("/api/charms/{id}/try", post(try_out))
        .route("/api/runs/{id}", get(run))
        .route("/api/stats", get(stats))
}

async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(spec): ApiJson<CharmSpec>,
) -> Result<Response, ApiError> {
    let charm = app.registry.register(spec, &caller).await?;
    let (space, id) = (charm.space.clone(), charm.id.to_string());
    let response = (StatusCode::CREATED, Json(charm)).into_response();
    Ok(Audited::on(response, &space, &id))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    space: Option<String>,
    integration: Option<String>,
    /// `enabled` or `disabled`.
    status: Option<String>,
    /// A column: `created`, `space`, `integration`, `interval`, `enabled`,
    /// `last_run`, `failures`, `next_run`.
    sort: Option<String>,
    /// `asc` (default) or `desc`.
    order: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let enabled = match q.status.as_deref() {
        None => None,
        Some("enabled") => Some(true),
        Some("disabled") => Some(false),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "status must be `enabled` or `disabled`, got `{other}`"
            )))
        }
    };
    let sort = match q.sort.as_deref() {
        None => SortKey::default(),
        Some(name) => SortKey::parse(name).ok_or_else(|| {
            let names: Vec<&str> = SortKey::ALL.iter().map(|k| k.name()).collect();
            ApiError::BadRequest(format!(
                "sort must be one of {}, got `{name}`",
                names.join(", ")
            ))
        })?,
    };
    let descending = match q.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "order must be `asc` or `desc`, got `{other}`"
            )))
        }
    };
    let space = q.space.filter(|s| !s.is_empty());
    // A space token lists its own space; asking for another finds nothing,
    // as a space that does not exist does.
    let space = match (caller.space(), space) {
        (Some(own), Some(asked)) if own != asked => {
            return Ok(Json(json!({ "charms": [], "total": 0, "limit": q.limit.unwrap_or(100).min(MAX_PAGE), "offset": q.offset.unwrap_or(0) })).into_response())
        }
        (Some(own), _) => Some(own.to_string()),
        (None, asked) => asked,
    };
    let filter = CharmFilter {
        space,
        integration: q.integration.filter(|s| !s.is_empty()),
        enabled,
        sort,
        descending,
        limit: q.limit.unwrap_or(100).min(MAX_PAGE),
        offset: q.offset.unwrap_or(0),
    };
    let (charms, total) = app.store.charms(&filter).await?;
    Ok(Json(
        json!({ "charms": charms, "total": total, "limit": filter.limit, "offset": filter.offset }),
    )
    .into_response())
}

async fn show(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    Ok(Json(app.registry.get(&id).await?).into_response())
}

async fn update(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(changes): ApiJson<CharmChanges>,
) -> Result<Response, ApiError> {
    Ok(Json(app.registry.update(&id, changes, &caller).await?).into_response())
}

async fn remove(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    app.registry.remove(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateQuery {
    /// A kept version instead of the current one.
    version: Option<i64>,
}

async fn state(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<StateQuery>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no charm with id `{id}`"));
    let charm = charm_id(&id)?;
    let state = match q.version {
        Some(version) => super::history::kept_version(&app, &id, &charm, version).await?,
        None => app.store.state(&charm).await?.ok_or_else(not_found)?,
    };
    Ok(Json(state).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunsQuery {
    limit: Option<u32>,
}

async fn runs(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<RunsQuery>,
) -> Result<Response, ApiError> {
    let charm = app.registry.get(&id).await?;
    let runs = app
        .store
        .runs_of(&charm.id, q.limit.unwrap_or(50).min(MAX_PAGE))
        .await?;
    Ok(Json(json!({ "runs": runs })).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    /// An event for the inbox.
    input: Option<serde_json::Value>,
    /// A duplicate of a kept event's key is accepted and ignored.
    idempotency_key: Option<String>,
    /// Run at this time (RFC 3339, e.g. `2026-12-01T07:00:00+01:00`).
    at: Option<String>,
    /// Run this many ms from now.
    delay_ms: Option<u64>,
}

/// The longest a run may be asked for ahead, in ms: a year.
const MAX_DELAY_MS: u64 = 366 * 24 * 3_600_000;

async fn trigger(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiBytes(body): ApiBytes,
) -> Result<Response, ApiError> {
    // The body is optional: an empty one means no input.
    let body: TriggerBody = if body.iter().all(u8::is_ascii_whitespace) {
        TriggerBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?
    };
    let not_before = match (body.at.as_deref(), body.delay_ms) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "give `at` or `delay_ms`, not both".into(),
            ))
        }
        (Some(at), None) => {
            let at: jiff::Timestamp = at.parse().map_err(|_| {
                ApiError::BadRequest(format!(
                    "`at` must be an RFC 3339 time such as 2026-12-01T07:00:00Z, got `{at}`"
                ))
            })?;
            let now = app.store.now_ms().await?;
            let at = at.as_millisecond();
            if at > now.saturating_add(i64::try_from(MAX_DELAY_MS).unwrap_or(i64::MAX)) {
                return Err(ApiError::BadRequest(
                    "`at` must be within a year from now".into(),
                ));
            }
            Some(at)
        }
        (None, Some(delay)) if delay > MAX_DELAY_MS => {
            return Err(ApiError::BadRequest(format!(
                "`delay_ms` must be at most {MAX_DELAY_MS} (a year), got {delay}"
            )))
        }
        (None, Some(delay)) => {
            let delay = i64::try_from(delay).unwrap_or(i64::MAX);
            Some(app.store.now_ms().await?.saturating_add(delay))
        }
        (None, None) => None,
    };
    let request = TriggerRequest {
        input: body.input,
        source: None,
        idempotency_key: body.idempotency_key,
        not_before,
    };
    let triggered = app.registry.trigger(&id, Trigger::Manual, request).await?;
    Ok((StatusCode::ACCEPTED, Json(triggered)).into_response())
}

/// The playground: runs the charm once with an edited source, state or
/// input and reports what it would do; nothing is stored.
async fn try_out(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(tryout): ApiJson<Tryout>,
) -> Result<Response, ApiError> {
    let report = crate::service::try_out(&app.registry, &app.secrets, &id, tryout, &caller).await?;
    Ok(Json(report).into_response())
}

async fn source(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no charm with id `{id}`"));
    let charm = charm_id(&id)?;
    let code = app.store.charm_code(&charm).await?.ok_or_else(not_found)?;
    let charm = Registry::charm_source(&code)?;
    Ok(Json(json!({
        "name": code.name,
        "source": charm.source,
        "modules": charm.modules,
        "source_sha256": code.source_sha256,
    }))
    .into_response())
}

/// Minutes of history the stats cover.
const STATS_MINUTES: u32 = 60;

async fn stats(State(app): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    // The counts are the whole service's.
    operator_only(&caller, "the service's stats")?;
    let counts = app.store.counts().await?;
    let now = i64::try_from(charm_engine::unix_ms()).unwrap_or(i64::MAX);
    let per_minute = minute_stats(&*app.store, now, STATS_MINUTES).await?;
    Ok(Json(json!({ "counts": counts, "per_minute": per_minute })).into_response())
}

async fn run(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no run with id `{id}`"));
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let run = app.store.run(id).await?.ok_or_else(not_found)?;
    Ok(Json(run).into_response())
}
