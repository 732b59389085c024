//! Webhooks: `POST /hooks/{charm_id}` (or `/hooks/{charm_id}/{token}`)
//! turns a delivery into an event in the charm's inbox and answers 202 at
//! once. Outside `/api`'s bearer token: a delivery proves itself with the
//! charm's own hook secret, one of two ways (`--hook-auth`):
//!
//! * `signature` (the default): `X-Charm-Timestamp: <unix seconds>` and
//!   `X-Charm-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`,
//!   the timestamp within [`SIGNATURE_TOLERANCE_S`] of the server's clock
//!   (so a captured delivery cannot be replayed later);
//! * `path`: the secret as the last path segment, for senders that cannot
//!   sign (the URL is then the secret: keep it out of logs).
//!
//! A bad signature or token is a 401 that stores nothing; an unknown charm,
//! or one without a webhook, a 404; a disabled charm a 409; a body over
//! `--max-hook-body-bytes` a 413; more than `--hook-rate` deliveries a
//! minute for one charm a 429 with `Retry-After`. The charm gets
//! `{"body": <JSON, or the text>, "headers": {<the kept headers>}}` with
//! source `webhook`; an `Idempotency-Key` header makes a second delivery
//! with the same key a no-op (`duplicate: true`).
//!
//! The hook secret is made by `POST /api/charms/{id}/hook` (shown once) and
//! removed by `DELETE` on the same path.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use charm_store::{CharmId, Trigger};

use super::error::{ApiError, ApiPath};
use super::{AppState, RouterState};
use crate::service::{charm_id, TriggerRequest};

/// How far a signed delivery's timestamp may be from the server's clock.
pub const SIGNATURE_TOLERANCE_S: i64 = 300;
/// Default: the largest webhook body, in bytes.
pub const DEFAULT_MAX_HOOK_BODY_BYTES: usize = 256 * 1024;
/// Default: deliveries a minute per charm.
pub const DEFAULT_HOOK_RATE_PER_MINUTE: u32 = 600;
/// Headers kept with a delivery unless the operator names others.
pub const DEFAULT_HOOK_HEADERS: [&str; 4] = [
    "content-type",
    "user-agent",
    "x-github-event",
    "x-request-id",
];

/// How a delivery proves it comes from whoever holds the hook secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HookAuth {
    /// An HMAC-SHA256 signature of the timestamp and the body.
    Signature,
    /// The secret as the last path segment.
    Path,
}

/// The operator's webhook settings, and each charm's rate budget.
#[derive(Debug)]
pub struct HookSettings {
    /// How deliveries prove themselves.
    pub auth: HookAuth,
    /// The largest body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Deliveries a minute per charm; bursts up to a tenth of it (at least
    /// one).
    pub rate_per_minute: u32,
    /// Header names (lowercase) kept with a delivery.
    pub headers: Vec<String>,
    buckets: Mutex<HashMap<CharmId, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl HookSettings {
    /// Settings with their rate budgets empty.
    pub fn new(
        auth: HookAuth,
        max_body_bytes: usize,
        rate_per_minute: u32,
        headers: Vec<String>,
    ) -> HookSettings {
        HookSettings {
            auth,
            max_body_bytes,
            rate_per_minute,
            headers: headers.into_iter().map(|h| h.to_lowercase()).collect(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one delivery from `charm`'s budget (a token bucket); when it is
    /// spent, the seconds until one is back.
    fn take(&self, charm: &CharmId) -> Result<(), u64> {
        let rate = f64::from(self.rate_per_minute.max(1)) / 60.0;
        let burst = (f64::from(self.rate_per_minute) / 10.0).max(1.0);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets.entry(charm.clone()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            // Whole seconds, rounded up: a client waiting this long succeeds.
            Err(((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

pub(super) fn router() -> Router<RouterState> {
    Router::new()
        .route("/hooks/{id}", post(deliver_signed))
        .route("/hooks/{id}/{token}", post(deliver_with_token))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
}

/// The management routes, under `/api` (behind the bearer token).
pub(super) fn api_router() -> Router<RouterState> {
    Router::new().route(
        "/api/charms/{id}/hook",
        post(create_secret).delete(remove_secret),
    )
}

async fn deliver_signed(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(&app, body).await?;
    deliver(app, &id, None, headers, body).await
}

async fn deliver_with_token(
    State(app): State<AppState>,
    ApiPath((id, token)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(&app, body).await?;
    deliver(app, &id, Some(token), headers, body).await
}

/// Reads a delivery's body up to the hook limit (the API's own body limit
/// does not apply here: deliveries have theirs).
async fn read_body(app: &AppState, body: Body) -> Result<Bytes, ApiError> {
    let limit = app.hooks.max_body_bytes;
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(limit))
}

fn no_hook(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "charm `{id}` has no webhook; make one with POST /api/charms/{id}/hook"
    ))
}

async fn deliver(
    app: AppState,
    id: &str,
    token: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let settings = &app.hooks;
    let charm = charm_id(id).map_err(|_| no_hook(id))?;
    let hook = app.store.hook(&charm).await?.ok_or_else(|| no_hook(id))?;
    let secret = hook.secret.ok_or_else(|| no_hook(id))?;
    match (settings.auth, token) {
        (HookAuth::Signature, None) => check_signature(&secret, &headers, &body)?,
        (HookAuth::Path, Some(token)) => {
            if !crate::service::same_secret(token.as_bytes(), secret.as_bytes()) {
                return Err(ApiError::BadSignature(
                    "the token in the path is not this charm's hook secret".into(),
                ));
            }
        }
        (HookAuth::Signature, Some(_)) => {
            return Err(ApiError::NotFound(format!(
                "this service checks webhook signatures: POST to /hooks/{id} with X-Charm-Timestamp and X-Charm-Signature"
            )))
        }
        (HookAuth::Path, None) => {
            return Err(ApiError::NotFound(format!(
                "this service takes webhook deliveries at /hooks/{id}/<hook secret>"
            )))
        }
    }
    if !hook.enabled {
        return Err(ApiError::Conflict(format!(
            "charm `{id}` is disabled; enable it to take webhook deliveries"
        )));
    }
    settings.take(&charm).map_err(ApiError::TooManyRequests)?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| {
                    ApiError::BadRequest(
                        "the Idempotency-Key header must be printable ASCII".into(),
                    )
                })?
                .to_string(),
        ),
    };
    let request = TriggerRequest {
        input: Some(event_data(settings, &headers, &body)),
        source: Some("webhook".into()),
        idempotency_key,
        not_before: None,
    };
    let triggered = app.registry.trigger(id, Trigger::Webhook, request).await?;
    app.metrics.webhook_delivered();
    Ok((StatusCode::ACCEPTED, Json(triggered)).into_response())
}

/// Checks `X-Charm-Signature` against the body and `X-Charm-Timestamp`.
fn check_signature(secret: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bad = |why: &str| ApiError::BadSignature(why.to_string());
    let timestamp = header("x-charm-timestamp").ok_or_else(|| {
        bad("send X-Charm-Timestamp (unix seconds) and X-Charm-Signature: sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\" with the hook secret>")
    })?;
    let sent_at: i64 = timestamp
        .parse()
        .map_err(|_| bad("X-Charm-Timestamp must be unix seconds"))?;
    let now = jiff::Timestamp::now().as_second();
    if (now - sent_at).abs() > SIGNATURE_TOLERANCE_S {
        return Err(bad(&format!(
            "X-Charm-Timestamp is more than {SIGNATURE_TOLERANCE_S} s from the server's clock"
        )));
    }
    let signature = header("x-charm-signature")
        .and_then(|s| s.strip_prefix("sha256="))
        .and_then(|hex| hex::decode(hex).ok())
        .ok_or_else(|| bad("X-Charm-Signature must be sha256=<hex>"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|e| ApiError::Internal(format!("hook secret: {e}")))?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&signature)
        .map_err(|_| bad("the signature does not match the body and timestamp"))
}

/// What the charm receives: the body (JSON when it parses as JSON, else
/// the text, lossily decoded) and the kept headers.
fn event_data(settings: &HookSettings, headers: &HeaderMap, body: &[u8]) -> Value {
    let body = serde_json::from_slice::<Value>(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    let kept: serde_json::Map<String, Value> = settings
        .headers
        .iter()
        .filter_map(|name| {
            let value = headers.get(name.as_str())?.to_str().ok()?;
            Some((name.clone(), Value::String(value.to_string())))
        })
        .collect();
    json!({ "body": body, "headers": kept })
}

async fn create_secret(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let charm = app.registry.get(&id).await?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("no randomness for a hook secret: {e}")))?;
    let secret = hex::encode(bytes);
    if !app.store.set_hook_secret(&charm.id, Some(&secret)).await? {
        return Err(ApiError::NotFound(format!("no charm with id `{id}`")));
    }
    tracing::info!(charm = %charm.id, "made a new webhook secret");
    let (path, how) = match app.hooks.auth {
        HookAuth::Signature => (
            format!("/hooks/{}", charm.id),
            "sign each delivery: X-Charm-Timestamp: <unix seconds>, X-Charm-Signature: sha256=<hex HMAC-SHA256(secret, \"<timestamp>.<body>\")>",
        ),
        HookAuth::Path => (
            format!("/hooks/{}/{secret}", charm.id),
            "the path holds the secret: keep the URL private",
        ),
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({ "path": path, "secret": secret, "auth": how })),
    )
        .into_response())
}

async fn remove_secret(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let charm = app.registry.get(&id).await?;
    app.store.set_hook_secret(&charm.id, None).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charms_budget_refills_over_time_and_says_when() {
        let settings = HookSettings::new(HookAuth::Signature, 10, 60, vec![]);
        let charm = charm_id("0192f1c2a3b4c5d6e7f8a9b0c1d2e3f4").unwrap();
        // 60 a minute: a burst of 6, then one a second.
        for _ in 0..6 {
            assert_eq!(settings.take(&charm), Ok(()));
        }
        assert_eq!(settings.take(&charm), Err(1));
        let other = charm_id("0192f1c2a3b4c5d6e7f8a9b0c1d2e3f5").unwrap();
        assert_eq!(settings.take(&other), Ok(()), "budgets are per charm");
    }

    #[test]
    fn a_signature_covers_the_timestamp_and_the_body() {
        let now = jiff::Timestamp::now().as_second().to_string();
        let sign = |ts: &str, body: &[u8]| {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
            mac.update(format!("{ts}.").as_bytes());
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        };
        let headers = |ts: &str, sig: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-charm-timestamp", ts.parse().unwrap());
            h.insert("x-charm-signature", sig.parse().unwrap());
            h
        };
        assert!(check_signature("k", &headers(&now, &sign(&now, b"{}")), b"{}").is_ok());
        assert!(check_signature("k", &headers(&now, &sign(&now, b"{}")), b"{ }").is_err());
        assert!(check_signature("other", &headers(&now, &sign(&now, b"{}")), b"{}").is_err());
        let old = (jiff::Timestamp::now().as_second() - 3600).to_string();
        let err = check_signature("k", &headers(&old, &sign(&old, b"{}")), b"{}").unwrap_err();
        assert!(err.to_string().contains("from the server's clock"), "{err}");
        assert!(check_signature("k", &HeaderMap::new(), b"{}").is_err());
    }
}
