//! `GET /api/alerts`: the alerts raised, newest first, with their delivery
//! status (`?charm=ID` for one charm's, `?limit=N`, at most 1000).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiQuery};
use super::{AppState, RouterState};

pub(super) fn router() -> Router<RouterState> {
    Router::new().route("/api/alerts", get(list))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    charm: Option<String>,
    limit: Option<u32>,
}

async fn list(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let charm = match &q.charm {
        Some(id) => Some(app.registry.get(id).await.map(|c| c.id)?),
        None => None,
    };
    let alerts = app
        .store
        .alerts(charm.as_ref(), q.limit.unwrap_or(100).min(1000))
        .await?;
    Ok(Json(json!({ "alerts": alerts })).into_response())
}
