//! Who is calling, and what they may reach.
//!
//! Three layers wrap every `/api` route, outermost first:
//!
//! 1. [`authenticate`]: the bearer token becomes a [`Caller`] (an operator,
//!    or one space), or the request is a 401. A revoked token is refused
//!    from the next request on: each request looks its hash up.
//! 2. [`audit`]: every request that may change something (any method but
//!    GET, HEAD and OPTIONS) is recorded after it is answered: who, the
//!    route, the space and object it named, the status. Refusals of a live
//!    token are kept too, so an operator sees what a token tried; a 401 is
//!    logged, not recorded (it has no actor).
//! 3. [`scope`]: a route that names a charm (`/api/charms/{id}/...`) or a
//!    run (`/api/runs/{id}/...`) is answered 404, exactly as for an id that
//!    does not exist, when the caller's space is another: a space token
//!    cannot even learn that another space's charm exists.
//!
//! Routes without an id (listings, registration) apply the caller's space
//! themselves, through [`Caller`] (an extractor here).
//!
//! | method and path | does |
//! |---|---|
//! | `GET /api/whoami` | `{"kind", "space", "actor"}`: what this token reaches |
//! | `POST /api/tokens` | operator: `{"kind"?, "space"?, "name"}`; 201 with the token, shown once |
//! | `GET /api/tokens` | operator: every token (never the token itself) |
//! | `DELETE /api/tokens/{id}` | operator: revoke; 204 |
//! | `GET /api/audit` | operator: changes, newest first (`space`, `before`, `limit`) |

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use charm_store::tenancy::{AuditFilter, NewAudit, SpaceOf, TokenKind};
use charm_store::CharmId;

use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::{AppState, RouterState};
use crate::service::{Caller, TokenRequestError};

/// The most audit records one page holds.
const MAX_AUDIT_PAGE: u32 = 1000;

pub(super) fn router() -> Router<RouterState> {
    Router::new()
        .route("/api/whoami", get(whoami))
        .route("/api/tokens", get(list_tokens).post(create_token))
        .route("/api/tokens/{id}", delete(revoke_token))
        .route("/api/audit", get(audit_log))
}

/// The space and object a request named, for the audit log: put in the
/// response's extensions by [`scope`] and by handlers that create.
#[derive(Debug, Clone, Default)]
pub(super) struct Audited {
    pub space: Option<String>,
    pub target: Option<String>,
}

impl Audited {
    /// A response to a request that made `target` in `space`.
    pub fn on(mut response: Response, space: &str, target: &str) -> Response {
        response.extensions_mut().insert(Audited {
            space: Some(space.to_string()),
            target: Some(target.to_string()),
        });
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, ApiError> {
        // `authenticate` wraps every /api route; a route outside it has no
        // caller, which is a fault of the router.
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::Internal("a route outside authentication asked for its caller".into())
        })
    }
}

/// Refuses a caller that is not an operator.
pub(super) fn operator_only(caller: &Caller, what: &str) -> Result<(), ApiError> {
    match caller.space() {
        None => Ok(()),
        Some(space) => Err(ApiError::Forbidden(format!(
            "{what} needs an operator token; this token reaches the space `{space}` only"
        ))),
    }
}

/// Layer 1: the bearer token becomes a [`Caller`] in the request's
/// extensions, or the answer is 401.
pub(super) async fn authenticate(
    State(app): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match app.tokens.authenticate(presented).await {
        Ok(Some(caller)) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Ok(None) => {
            // Not in the audit log: a refused token has no actor, and
            // recording every such request would let anyone fill the
            // database. The log line is what an operator looks for.
            tracing::info!(method = %request.method(), path = %request.uri().path(),
                "refused a request without a live token (401)");
            ApiError::Unauthorized.into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// What a route's `{id}` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    Charm,
    Run,
}

impl Named {
    fn what(self) -> &'static str {
        match self {
            Named::Charm => "charm",
            Named::Run => "run",
        }
    }

    /// The object `id` names, when it can exist.
    fn parse(self, id: &str) -> Option<SpaceOf> {
        match self {
            Named::Charm => CharmId::parse(id).map(SpaceOf::Charm),
            Named::Run => id.parse().ok().map(SpaceOf::Run),
        }
    }
}

/// What a route's `{id}` names, by its template.
fn named_object(template: &str) -> Option<Named> {
    if template.starts_with("/api/charms/{id}") {
        Some(Named::Charm)
    } else if template.starts_with("/api/runs/{id}") {
        Some(Named::Run)
    } else {
        None
    }
}

/// Layer 3: a charm or run of another space is a 404, as one that does not
/// exist is.
///
/// The id is read exactly as the handlers read it: the router's
/// percent-decoded `{id}` (`%30` is `0`). An id that cannot name anything
/// is refused here, never passed on: the layer fails closed, so no
/// spelling of an id reaches a handler unchecked.
pub(super) async fn scope(
    State(app): State<AppState>,
    caller: Caller,
    matched: MatchedPath,
    request: Request,
    next: Next,
) -> Response {
    let Some(named) = named_object(matched.as_str()) else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    let id = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|params| {
            params
                .iter()
                .find(|(key, _)| *key == "id")
                .map(|(_, value)| value.to_string())
        });
    let request = Request::from_parts(parts, body);
    let not_found = |id: &str| {
        let shown: String = id.chars().take(80).collect();
        ApiError::NotFound(format!("no {} with id `{shown}`", named.what())).into_response()
    };
    let Some(id) = id else {
        return not_found("");
    };
    let Some(of) = named.parse(&id) else {
        return not_found(&id);
    };
    let space = match app.store.space_of(&of).await {
        Ok(space) => space,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if space.as_deref().is_some_and(|space| !caller.reaches(space)) {
        return not_found(&id);
    }
    let mut response = next.run(request).await;
    response.extensions_mut().insert(Audited {
        space,
        target: Some(id),
    });
    response
}

/// Layer 2: records each request that may change something, once answered.
pub(super) async fn audit(
    State(app): State<AppState>,
    caller: Caller,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let action = format!(
        "{method} {}",
        matched.as_ref().map_or("(no route)", MatchedPath::as_str)
    );
    let response = next.run(request).await;
    let named = response
        .extensions()
        .get::<Audited>()
        .cloned()
        .unwrap_or_default();
    let entry = NewAudit {
        actor: caller.actor().to_string(),
        space: named.space.or_else(|| caller.space().map(str::to_string)),
        action,
        target: named.target,
        status: response.status().as_u16(),
    };
    // The change is made; failing to record it must not turn the answer
    // into an error. It is logged instead, in full.
    if let Err(error) = app.store.append_audit(&entry).await {
        tracing::error!(%error, actor = %entry.actor, action = %entry.action, target = ?entry.target,
            status = entry.status, "could not record a change in the audit log");
    }
    response
}

async fn whoami(caller: Caller) -> Response {
    let kind = if caller.space().is_some() {
        "space"
    } else {
        "operator"
    };
    Json(json!({ "kind": kind, "space": caller.space(), "actor": caller.actor() })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenSpec {
    /// `operator` or `space`; `space` when a space is given.
    kind: Option<String>,
    space: Option<String>,
    name: String,
}

impl From<TokenRequestError> for ApiError {
    fn from(e: TokenRequestError) -> ApiError {
        match e {
            TokenRequestError::Invalid(m) => ApiError::BadRequest(m),
            e @ TokenRequestError::NotFound(_) => ApiError::NotFound(e.to_string()),
            e @ TokenRequestError::Random(_) => ApiError::Internal(e.to_string()),
            TokenRequestError::Store(e) => e.into(),
        }
    }
}

async fn create_token(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(spec): ApiJson<TokenSpec>,
) -> Result<Response, ApiError> {
    operator_only(&caller, "making tokens")?;
    let kind = match spec.kind.as_deref() {
        None if spec.space.is_some() => TokenKind::Space,
        None => TokenKind::Operator,
        Some(name) => TokenKind::parse(name).ok_or_else(|| {
            ApiError::BadRequest(format!("kind must be `operator` or `space`, got `{name}`"))
        })?,
    };
    let made = app
        .tokens
        .create(&caller, kind, spec.space, spec.name)
        .await?;
    let space = made.record.space.clone();
    let id = made.record.id.clone();
    let mut response = (StatusCode::CREATED, Json(made)).into_response();
    response.extensions_mut().insert(Audited {
        space,
        target: Some(id),
    });
    Ok(response)
}

async fn list_tokens(State(app): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    operator_only(&caller, "listing tokens")?;
    Ok(Json(json!({ "tokens": app.tokens.list().await? })).into_response())
}

async fn revoke_token(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    operator_only(&caller, "revoking tokens")?;
    app.tokens.revoke(&caller, &id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.extensions_mut().insert(Audited {
        space: None,
        target: Some(id),
    });
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    space: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

async fn audit_log(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    operator_only(&caller, "reading the audit log")?;
    let filter = AuditFilter {
        space: q.space.filter(|s| !s.is_empty()),
        before: q.before,
        limit: q.limit.unwrap_or(100).min(MAX_AUDIT_PAGE),
    };
    Ok(Json(json!({ "audit": app.store.audit(&filter).await? })).into_response())
}

#[cfg(test)]
mod tests {
    use super::{named_object, Named};

    #[test]
    fn routes_that_name_a_charm_or_run_are_scoped() {
        let named = named_object("/api/charms/{id}/state").expect("scoped");
        assert_eq!(named, Named::Charm);
        assert!(named.parse(&"a".repeat(32)).is_some());
        assert!(named.parse("not-an-id").is_none());
        let named = named_object("/api/runs/{id}/cancel").expect("scoped");
        assert_eq!(named, Named::Run);
        assert!(named.parse("17").is_some());
        assert_eq!(named_object("/api/runs/{id}/export"), Some(Named::Run));
        assert!(named_object("/api/tokens/{id}").is_none());
        assert!(named_object("/api/charms").is_none());
    }
}
