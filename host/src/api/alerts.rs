//! `GET /api/alerts`: the alerts raised, newest first, with their delivery
//! status (`?charm=ID` for one charm's, `?limit=N`, at most 1000). A space
//! token must name one of its charms.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiQuery};
use super::tenancy::operator_only;
use super::{AppState, RouterState};
use crate::service::Caller;

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
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let charm = match &q.charm {
        Some(id) => Some(
            app.registry
                .get(id)
                .await
                .ok()
                .filter(|c| caller.reaches(&c.space))
                .map(|c| c.id)
                .ok_or_else(|| ApiError::NotFound(format!("no charm with id `{id}`")))?,
        ),
        None => {
            operator_only(
                &caller,
                "every charm's alerts (give ?charm=ID for one of yours)",
            )?;
            None
        }
    };
    let alerts = app
        .store
        .alerts(charm.as_ref(), q.limit.unwrap_or(100).min(1000))
        .await?;
    Ok(Json(json!({ "alerts": alerts })).into_response())
}
