//! A charm's secrets (`/api/charms/{id}/secrets`): set or rotate one, list
//! their names, remove one. No route returns a value: a listing shows each
//! name and when it changed, and a set answers with the name only. Values
//! are sealed by [`SecretKeeper`] before the store sees them; the charm
//! gets them as `ctx.secrets.NAME` at its next run.
//!
//! A malformed body is answered without quoting it, so that a value sent
//! in the wrong shape is not echoed back either.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiBytes, ApiError, ApiPath};
use super::{AppState, RouterState};
use crate::service::secrets::SecretError;

pub(super) fn router() -> Router<RouterState> {
    Router::new()
        .route("/api/charms/{id}/secrets", get(list))
        .route("/api/charms/{id}/secrets/{name}", put(set).delete(remove))
}

impl From<SecretError> for ApiError {
    fn from(e: SecretError) -> ApiError {
        match e {
            e @ (SecretError::Name { .. } | SecretError::Value(_)) => {
                ApiError::BadRequest(e.to_string())
            }
            e @ SecretError::TooMany { .. } => ApiError::Conflict(e.to_string()),
            e @ SecretError::NoCharm(_) => ApiError::NotFound(e.to_string()),
            SecretError::Store(e) => e.into(),
            e @ (SecretError::WrongKey { .. } | SecretError::Seal(_)) => {
                ApiError::Internal(e.to_string())
            }
        }
    }
}

/// `{"value": "..."}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBody {
    value: String,
}

async fn set(
    State(app): State<AppState>,
    ApiPath((id, name)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Response, ApiError> {
    // Read as bytes (so that a refusal never quotes the value), but only
    // as JSON, as every JSON route is.
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let charm = app.registry.get(&id).await?;
    let body: SetBody = serde_json::from_slice(&body).map_err(|_| {
        ApiError::BadRequest(
            "the body must be the JSON object {\"value\": \"...\"} with the value as a string"
                .into(),
        )
    })?;
    let created = app.secrets.set(&charm.id, &name, &body.value).await?;
    tracing::info!(charm = %charm.id, secret = %name, created, "set a secret");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "name": name, "created": created }))).into_response())
}

async fn list(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let charm = app.registry.get(&id).await?;
    let secrets = app.secrets.names(&charm.id).await?;
    Ok(Json(json!({ "secrets": secrets })).into_response())
}

async fn remove(
    State(app): State<AppState>,
    ApiPath((id, name)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let charm = app.registry.get(&id).await?;
    if app.secrets.remove(&charm.id, &name).await? {
        tracing::info!(charm = %charm.id, secret = %name, "removed a secret");
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound(format!(
            "charm `{}` has no secret named `{name}`",
            charm.id
        )))
    }
}
