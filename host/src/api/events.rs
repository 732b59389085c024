//! A charm's inbox (`/api/charms/{id}/events`: list, re-drive and discard
//! dead letters) and cancelling a run (`/api/runs/{id}/cancel`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use charm_store::{Cancel, EventId, EventStatus};

use super::error::{ApiBytes, ApiError, ApiPath, ApiQuery};
use super::{AppState, RouterState};

/// The most events one page holds.
const MAX_PAGE: u32 = 1000;

pub(super) fn router() -> Router<RouterState> {
    Router::new()
        .route("/api/charms/{id}/events", get(list))
        .route("/api/charms/{id}/events/redrive", post(redrive))
        .route("/api/charms/{id}/events/discard", post(discard))
        .route("/api/runs/{id}/cancel", post(cancel))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// `pending`, `acked` or `dead`; all when absent.
    status: Option<String>,
    limit: Option<u32>,
}

async fn list(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let status = match q.status.as_deref() {
        None => None,
        Some(name) => Some(EventStatus::parse(name).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "status must be `pending`, `acked` or `dead`, got `{name}`"
            ))
        })?),
    };
    let limit = q.limit.unwrap_or(100).min(MAX_PAGE);
    let events = app.registry.events(&id, status, limit).await?;
    Ok(Json(json!({ "events": events })).into_response())
}

/// Which events: `{"ids": [..]}`, or every dead letter when the body is
/// empty or has no `ids`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Selection {
    ids: Option<Vec<EventId>>,
}

fn selection(body: &Bytes) -> Result<Selection, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Selection::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

async fn redrive(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiBytes(body): ApiBytes,
) -> Result<Response, ApiError> {
    let selection = selection(&body)?;
    let redriven = app.registry.redrive(&id, selection.ids.as_deref()).await?;
    Ok(Json(json!({ "redriven": redriven })).into_response())
}

async fn discard(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiBytes(body): ApiBytes,
) -> Result<Response, ApiError> {
    let selection = selection(&body)?;
    let discarded = app.registry.discard(&id, selection.ids.as_deref()).await?;
    Ok(Json(json!({ "discarded": discarded })).into_response())
}

async fn cancel(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let run: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no run with id `{id}`")))?;
    match app.registry.cancel_run(run).await? {
        Cancel::Dequeued => {
            Ok(Json(json!({ "run_id": run, "cancelled": "dequeued" })).into_response())
        }
        Cancel::Requested { node } => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "run_id": run, "cancelled": "requested", "node": node })),
        )
            .into_response()),
        Cancel::Finished => Err(ApiError::Conflict(format!(
            "run {run} has finished already; nothing to cancel"
        ))),
    }
}
