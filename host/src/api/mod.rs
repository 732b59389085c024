//! The HTTP API of `charm-host serve`.
//!
//! Owns routing, authentication, request limits and the JSON shapes. It
//! goes through the registry and the store and never touches wasmtime.
//!
//! | method and path | does |
//! |---|---|
//! | `GET /healthz` | `{"status": "ok", "token_required": bool}` when the database answers (no auth) |
//! | `GET /metrics` | Prometheus text format (no auth) |
//! | `POST /api/charms` | register a charm; 201, or 400 with the compile error's line and column, or 403 over its space's quota of charms or state bytes |
//! | `GET /api/charms` | list, filtered by `space`, `integration`, `status`, paged by `limit`, `offset` |
//! | `GET /api/charms/{id}` | one charm |
//! | `PATCH /api/charms/{id}` | change `enabled`, `interval_s`, `allowed_hosts`, `limits`, `source`, `name` |
//! | `DELETE /api/charms/{id}` | remove it with its state and runs; 204 |
//! | `GET /api/charms/{id}/state` | `{"state": ..., "version": n}`; `?version=N` for a kept one |
//! | `/api/charms/{id}/state/versions`, `.../diff`, `.../rollback` | see `history.rs` |
//! | `GET /api/charms/{id}/runs` | its newest runs (`limit`, default 50) |
//! | `POST /api/charms/{id}/run` | `{"input"?}`: queue a manual run; 202 `{"run_id", "coalesced"}` |
//! | `GET /api/charms/{id}/source` | `{"name", "source", "source_sha256"}` |
//! | `PUT /api/charms/{id}/secrets/{name}` | `{"value"}`: set or rotate a secret; 201 new, 200 replaced, `{"name", "created"}` |
//! | `GET /api/charms/{id}/secrets` | `{"secrets": [{"name", "updated_at"}]}`, never a value |
//! | `DELETE /api/charms/{id}/secrets/{name}` | remove a secret; 204 |
//! | `GET /api/runs/{id}` | one run |
//! | `GET /api/runs/{id}/export` | the run as a file for `charm-host replay` (in `export.rs`) |
//! | `GET /api/stats` | counts, and runs and failures per minute over the last hour (operator) |
//! | `/api/whoami`, `/api/tokens`, `/api/audit` | see `tenancy.rs` |
//! | `GET /api/spaces` | every space's quotas and usage (`spaces.rs`; a space token sees its own) |
//! | `GET /api/spaces/{space}` | one space's quotas and usage |
//! | `PUT /api/spaces/{space}/quota` | operator: set a space's quota overrides (`null`: the default) |
//! | `GET /` | the operator's dashboard (static; it calls the API with the token) |
//!
//! Before any route, the access guard (`access.rs`) checks every request's
//! `Host` and, for a method that changes something, its `Origin`. When a
//! token is configured (the default), every `/api` request must also carry
//! `Authorization: Bearer <token>`.

mod access;
mod alerts;
mod charms;
mod dashboard;
mod error;
mod events;
mod export;
mod history;
mod hooks;
mod secrets;
mod spaces;
mod tenancy;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use charm_store::Store;

use crate::service::secrets::SecretKeeper;
use crate::service::{Metrics, Registry, Tokens};
pub use access::{AccessError, AccessPolicy};
pub use error::ApiError;
use error::BodyLimit;
pub use hooks::{
    HookAuth, HookSettings, DEFAULT_HOOK_HEADERS, DEFAULT_HOOK_RATE_PER_MINUTE,
    DEFAULT_MAX_HOOK_BODY_BYTES,
};

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Registers and edits charms.
    pub registry: Registry,
    /// Reads for listings, state, runs and stats.
    pub store: Arc<dyn Store>,
    /// Sets, lists and removes charms' secrets (never shows a value).
    pub secrets: SecretKeeper,
    /// The service's metrics.
    pub metrics: Arc<Metrics>,
    /// The bearer tokens `/api` requests are checked against.
    pub tokens: Tokens,
    /// The host names and origins admitted by the access guard.
    pub access: Arc<AccessPolicy>,
    /// Webhook settings and each charm's delivery budget.
    pub hooks: Arc<HookSettings>,
}

/// The state of the router: the handlers' state and the body limit.
#[derive(Clone)]
pub(crate) struct RouterState {
    app: AppState,
    body_limit: BodyLimit,
}

impl FromRef<RouterState> for AppState {
    fn from_ref(state: &RouterState) -> AppState {
        state.app.clone()
    }
}

impl FromRef<RouterState> for BodyLimit {
    fn from_ref(state: &RouterState) -> BodyLimit {
        state.body_limit
    }
}

/// The whole router, behind the access guard; request bodies are limited
/// to `max_body_bytes`.
///
/// The guard wraps every route `routes` builds, the fallback included,
/// so a route added there is guarded without a line of its own. The CORS
/// layer (only when origins are named) sits inside the guard: a request
/// with a foreign `Host` never gets a CORS header.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let access = Arc::clone(&state.access);
    let routes = routes(state, max_body_bytes);
    let routes = match access.cors() {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    routes.layer(middleware::from_fn_with_state(access, access::guard))
}

/// Every route of the service. Add new ones here.
fn routes(state: AppState, max_body_bytes: usize) -> Router {
    let state = RouterState {
        app: state,
        body_limit: BodyLimit(max_body_bytes),
    };
    let api = charms::router()
        .merge(events::router())
        .merge(hooks::api_router())
        .merge(alerts::router())
        .merge(secrets::router())
        .merge(spaces::router())
        .merge(tenancy::router())
        .merge(history::router())
        .merge(export::router())
        // Outermost last: authenticate, then audit, then scope.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            tenancy::scope,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            tenancy::audit,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            tenancy::authenticate,
        ))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(dashboard::router())
        .merge(hooks::router())
        .merge(api)
        .fallback(|| async {
            ApiError::NotFound("no such path; the API lives under /api".to_string())
        })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => {
            Json(serde_json::json!({ "status": "ok", "token_required": state.tokens.required() }))
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "health check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable" })),
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let counts = state.store.counts().await?;
    let body = state.metrics.render(counts);
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response())
}
