//! API errors and the request extractors that produce them.
//!
//! Every error is JSON, `{"error": "...", "code": "..."}` (compile errors
//! add `line` and `column`), with the status its variant documents. `code`
//! is stable, for programs; `error` is for people and may be reworded.
//! Internal failures are logged in full and answered with a generic
//! message: a client never sees database details. Malformed requests are
//! always 4xx, never 500.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

use charm_engine::CompileError;
use charm_store::{QuotaKind, StoreError};

use crate::service::RegistryError;

/// An API error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or out of range.
    #[error("{0}")]
    BadRequest(String),
    /// 400: the charm's source does not compile.
    #[error("{0}")]
    Compile(Box<CompileError>),
    /// 401: a token is configured and the request did not carry a live one.
    #[error("missing, wrong or revoked bearer token: send `Authorization: Bearer <token>` (the daemon keeps its operator token in DATA_DIR/api-token unless it was given --token; `charm-host tokens create` makes others)")]
    Unauthorized,
    /// 401: a webhook delivery whose signature or token does not check;
    /// the message says what was expected.
    #[error("{0}")]
    BadSignature(String),
    /// 403: the `Host` header does not name this service (a guard against
    /// DNS rebinding); the message names the flag that admits a name.
    #[error("{0}")]
    HostNotAllowed(String),
    /// 403: a request that changes something came from a web page of
    /// another origin; the message names the flag that admits an origin.
    #[error("{0}")]
    OriginNotAllowed(String),
    /// 403: the caller's token may not do this (a space token asking for
    /// what only an operator may); the message says why.
    #[error("{0}")]
    Forbidden(String),
    /// 403: the change would put a space over a quota the operator set
    /// (`--space-*` or `PUT /api/spaces/{space}/quota`); the message names
    /// the space, the quota, its value and how to raise it. Not 409 (the
    /// request does not conflict with the resource it names), not 429 (it
    /// does not pass with time) and not 422 (it is well formed): the space
    /// is not allowed more, as Kubernetes answers a ResourceQuota.
    #[error("{0}")]
    QuotaExceeded(String),
    /// 404: no such resource.
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists, the method does not.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// 409: the request conflicts with the resource's state.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is over the size limit.
    #[error("request body too large (limit {0} bytes)")]
    PayloadTooLarge(usize),
    /// 429: too many requests; retry after this many seconds.
    #[error("too many webhook deliveries for this charm; retry in {0} s")]
    TooManyRequests(u64),
    /// 415: the body is not declared as JSON.
    #[error("send the body as JSON with `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// 503: the store cannot take writes for now (a full disk, a busy
    /// database); the request may be retried as is.
    #[error("{0}; try again later")]
    Unavailable(String),
    /// 500: a fault of the service; details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The stable machine code of this error, sent as `code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Compile(_) => "compile_error",
            ApiError::Unauthorized => "unauthorized",
            ApiError::BadSignature(_) => "bad_signature",
            ApiError::TooManyRequests(_) => "too_many_requests",
            ApiError::HostNotAllowed(_) => "host_not_allowed",
            ApiError::OriginNotAllowed(_) => "origin_not_allowed",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::QuotaExceeded(_) => "quota_exceeded",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Compile(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::BadSignature(_) => StatusCode::UNAUTHORIZED,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::HostNotAllowed(_)
            | ApiError::OriginNotAllowed(_)
            | ApiError::Forbidden(_)
            | ApiError::QuotaExceeded(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let body = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error answering a request");
                json!({ "error": "internal error; the service log has the details", "code": code })
            }
            ApiError::Compile(e) => match e.location() {
                Some((line, column)) => {
                    json!({ "error": e.to_string(), "code": code, "line": line, "column": column })
                }
                None => json!({ "error": e.to_string(), "code": code }),
            },
            other => json!({ "error": other.to_string(), "code": code }),
        };
        // A 401 for the API asks for its bearer token; a webhook's does not.
        let bearer = matches!(self, ApiError::Unauthorized);
        let retry_after = match &self {
            ApiError::TooManyRequests(seconds) => Some(*seconds),
            _ => None,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        if bearer {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> ApiError {
        match e {
            RegistryError::Invalid(m) => ApiError::BadRequest(m),
            RegistryError::Compile(c) => ApiError::Compile(c),
            RegistryError::Forbidden(m) => ApiError::Forbidden(m),
            e @ (RegistryError::NotFound(_) | RegistryError::RunNotFound(_)) => {
                ApiError::NotFound(e.to_string())
            }
            e @ (RegistryError::Disabled { .. } | RegistryError::Busy(_)) => {
                ApiError::Conflict(e.to_string())
            }
            e @ RegistryError::Stored { .. } => ApiError::Internal(e.to_string()),
            RegistryError::Store(s) => s.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        if let StoreError::OverQuota(over) = &e {
            let instead = match over.kind {
                QuotaKind::MaxCharms => "delete one of the space's charms",
                QuotaKind::MaxStateBytes => "give a smaller state",
                _ => "wait",
            };
            return ApiError::QuotaExceeded(format!(
                "{over}; {instead}, or have an operator raise {kind} (`charm-host spaces quota {space} --{flag} N`, or PUT /api/spaces/{space}/quota)",
                kind = over.kind,
                space = over.space,
                flag = over.kind.as_str().replace('_', "-"),
            ));
        }
        match e.unavailable() {
            Some(reason) => {
                tracing::warn!(error = %e, "the store refused a request");
                ApiError::Unavailable(reason.to_string())
            }
            None => ApiError::Internal(e.to_string()),
        }
    }
}

/// The request body limit, in bytes, for the 413 message: part of the
/// router's state.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

fn from_rejection(status: StatusCode, text: String, limit: BodyLimit) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(limit.0),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        // Wrong types and unknown fields (422 in axum) are bad requests here.
        _ => ApiError::BadRequest(text),
    }
}

/// A JSON body whose rejections are [`ApiError`]s.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
    BodyLimit: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection, BodyLimit::from_ref(state))),
        }
    }
}

fn json_rejection(rejection: JsonRejection, limit: BodyLimit) -> ApiError {
    from_rejection(rejection.status(), rejection.body_text(), limit)
}

/// A raw body (for endpoints whose JSON body is optional) whose rejections,
/// such as one over the body limit, are [`ApiError`]s.
pub struct ApiBytes(pub axum::body::Bytes);

impl<S> FromRequest<S> for ApiBytes
where
    S: Send + Sync,
    BodyLimit: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(ApiBytes(bytes)),
            Err(rejection) => Err(from_rejection(
                rejection.status(),
                rejection.body_text(),
                BodyLimit::from_ref(state),
            )),
        }
    }
}

/// A query string whose rejections are [`ApiError`]s.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

/// A path parameter whose rejections (say, an id that is not valid UTF-8
/// once percent-decoded) are [`ApiError`]s.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) if rejection.status().is_server_error() => {
                Err(ApiError::Internal(rejection.body_text()))
            }
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::BadRequest(rejection.body_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_stable_code_and_a_4xx_or_5xx_status() {
        let all = [
            ApiError::BadRequest("x".into()),
            ApiError::Unauthorized,
            ApiError::HostNotAllowed("x".into()),
            ApiError::OriginNotAllowed("x".into()),
            ApiError::QuotaExceeded("x".into()),
            ApiError::NotFound("x".into()),
            ApiError::MethodNotAllowed,
            ApiError::Conflict("x".into()),
            ApiError::PayloadTooLarge(1),
            ApiError::UnsupportedMediaType,
            ApiError::Unavailable("x".into()),
            ApiError::Internal("x".into()),
        ];
        let mut codes: Vec<&str> = all.iter().map(ApiError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len(), "codes are distinct");
        for e in &all {
            assert!(e.status().is_client_error() || e.status().is_server_error());
            assert!(e.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }
}
