//! The `fetch` capability: HTTP for charms, deny by default.
//!
//! Owns the per-task fetch context (allow-list, limits, counters) and the
//! import `fetch-start`, which starts a request as an operation of the
//! task's `ops::OpTable`: fetches overlap, and the guest's event loop
//! collects their responses. The wire rules live in [`client`], the
//! allow-list in [`allow_list`] and address classification in [`address`].
//!
//! The request runs asynchronously on the host: a task waiting on the network
//! is a parked future, not a blocked thread. Outcomes:
//!
//! * a response, or a refusal/failure the charm can catch (`TypeError` whose
//!   message names the host). The reply carries the failure's
//!   `charm_host_abi::error::ErrorKind`, so that an uncaught one is reported
//!   as "denied" or as the limit it names, whatever its message says;
//! * a trap that ends the task: more fetches than `max_fetches`, or the run's
//!   own wall-clock deadline passing while the guest waits for a response.
//!
//! A charm's secrets can leave the sandbox only this way, and so only to a
//! host its allow-list names: the list denies by default and is checked
//! before connecting, on the addresses DNS gave, and on every redirect. A
//! name that is not on the list is never even resolved, so a secret put
//! into a host name does not leak through DNS either.

pub mod address;
pub mod allow_list;
pub mod client;
pub mod reserved;

use std::sync::Arc;

use charm_host_abi::error::{field, ErrorKind};
use charm_host_abi::{envelope, import, Function, IMPORT_MODULE};
use wasmtime::{Caller, Linker};

pub use allow_list::{AllowList, Denied, InvalidEntry};
pub use client::{FetchFailure, FetchLimits, FetchRequest, FetchResponse, HttpGateway};
pub use reserved::ReservedAddrs;

use super::ops::{OpKind, OpTable};
use super::{context, read_guest, Capability, TaskSetup};
use crate::limits::{LimitExceeded, LimitKind};
use crate::recording::Tape;
use crate::sandbox::{TaskReport, TaskState};
use crate::secrets::Redactor;

/// Largest request envelope the guest may pass, in bytes: the metadata and
/// a body of [`client::MAX_REQUEST_BODY_BYTES`] with room to spare. A body
/// over its own limit is refused by the client with a clear message.
const MAX_REQUEST_BYTES: u32 = 4 * 1024 * 1024;

/// Per-task fetch state.
#[derive(Debug)]
pub struct FetchCtx {
    gateway: Arc<HttpGateway>,
    allow: Arc<AllowList>,
    limits: FetchLimits,
    max_fetches: u32,
    max_concurrent: u32,
    count: u32,
    /// Traced failures may quote a URL or a header the charm built from a
    /// secret.
    redactor: Arc<Redactor>,
    /// Records each request line, or matches it against a recording.
    tape: Arc<Tape>,
}

impl FetchFailure {
    /// How the guest is to describe this failure if the charm lets it escape:
    /// its [`ErrorKind`], and for a limit, which limit and its value.
    fn kind(&self) -> (ErrorKind, Option<(LimitKind, u64)>) {
        match self {
            FetchFailure::Denied(_) => (ErrorKind::Denied, None),
            FetchFailure::TooLarge { limit, .. } => {
                (ErrorKind::Limit, Some((LimitKind::FetchResponse, *limit)))
            }
            FetchFailure::TimedOut { limit_ms, .. } => {
                (ErrorKind::Limit, Some((LimitKind::FetchTimeout, *limit_ms)))
            }
            FetchFailure::TooMany { limit } => (
                ErrorKind::Limit,
                Some((LimitKind::ConcurrentFetches, u64::from(*limit))),
            ),
            FetchFailure::Invalid(_) | FetchFailure::Network { .. } => (ErrorKind::Charm, None),
        }
    }
}

fn envelope_for(result: &Result<FetchResponse, FetchFailure>) -> Vec<u8> {
    let (meta, body): (String, &[u8]) = match result {
        Ok(response) => (
            serde_json::to_string(response).unwrap_or_else(|_| "{}".to_string()),
            &response.body,
        ),
        Err(failure) => {
            let (kind, limit) = failure.kind();
            let mut meta = serde_json::Map::new();
            meta.insert(envelope::FETCH_ERROR.into(), failure.to_string().into());
            meta.insert(field::KIND.into(), kind.as_str().into());
            if let Some((limit_kind, value)) = limit {
                meta.insert(
                    field::LIMIT.into(),
                    serde_json::json!({ field::LIMIT_KIND: limit_kind.as_str(), field::LIMIT_VALUE: value }),
                );
            }
            (serde_json::Value::Object(meta).to_string(), &[])
        }
    };
    let mut out = Vec::with_capacity(envelope::PREFIX_LEN + meta.len() + body.len());
    out.extend_from_slice(&envelope::prefix(
        u32::try_from(meta.len()).unwrap_or(u32::MAX),
    ));
    out.extend_from_slice(meta.as_bytes());
    out.extend_from_slice(body);
    out
}

/// Decodes a request envelope: its metadata, then the body's bytes.
fn request_from(raw: &[u8]) -> Result<FetchRequest, FetchFailure> {
    let (meta, body) = envelope::split(raw)
        .ok_or_else(|| FetchFailure::Invalid("malformed request envelope".to_string()))?;
    let mut request: FetchRequest = serde_json::from_slice(meta)
        .map_err(|e| FetchFailure::Invalid(format!("malformed request: {e}")))?;
    request.body = body.to_vec();
    Ok(request)
}

/// The fetch capability: one HTTP gateway per process, shared by all tasks.
pub(crate) struct Fetch {
    gateway: Arc<HttpGateway>,
}

impl Fetch {
    pub(crate) fn new(reserved: ReservedAddrs) -> Fetch {
        Fetch {
            gateway: Arc::new(HttpGateway::new(reserved)),
        }
    }
}

/// The body of the `fetch-start` import: checks the count, reads the
/// request, and starts it as an operation (or completes it at once with a
/// refusal the charm can catch).
fn fetch_start(caller: &mut Caller<'_, TaskState>, ptr: u32, len: u32) -> wasmtime::Result<i32> {
    let ctx = context::<FetchCtx>(caller.data_mut())?;
    if ctx.count >= ctx.max_fetches {
        return Err(LimitExceeded::FetchCount {
            limit: ctx.max_fetches,
        }
        .into());
    }
    ctx.count += 1;
    let max_concurrent = ctx.max_concurrent;
    let request = if len > MAX_REQUEST_BYTES {
        Err(FetchFailure::Invalid(format!(
            "request of {len} bytes is over the limit of {MAX_REQUEST_BYTES}"
        )))
    } else {
        request_from(&read_guest(caller, ptr, len)?)
    };
    // The request line, as the recording keeps it and a replay matches it.
    let (method, url) = match &request {
        Ok(request) => (request.method.clone(), request.url.clone()),
        Err(_) => (String::new(), String::new()),
    };
    let tape = Arc::clone(&context::<FetchCtx>(caller.data_mut())?.tape);
    let ops = context::<OpTable>(caller.data_mut())?;
    if tape.replays() {
        // Nothing is sent: the recording has the answer.
        let handle = ops.start_replayed(OpKind::Fetch)?;
        tape.fetch_started(handle, &method, &url)?;
        return Ok(i32::try_from(handle)?);
    }
    let ops_running = ops.running(OpKind::Fetch);
    let request = request.and_then(|request| {
        if u32::try_from(ops_running).unwrap_or(u32::MAX) >= max_concurrent {
            Err(FetchFailure::TooMany {
                limit: max_concurrent,
            })
        } else {
            Ok(request)
        }
    });
    let handle = match request {
        Ok(request) => {
            let ctx = context::<FetchCtx>(caller.data_mut())?;
            let (gateway, allow, limits) =
                (Arc::clone(&ctx.gateway), Arc::clone(&ctx.allow), ctx.limits);
            let redactor = Arc::clone(&ctx.redactor);
            let work = async move {
                let result = gateway.fetch(&allow, request, limits).await;
                if let Err(failure) = &result {
                    let failure = redactor.text(&failure.to_string()).into_owned();
                    tracing::debug!(%failure, "fetch refused or failed");
                }
                envelope_for(&result)
            };
            context::<OpTable>(caller.data_mut())?.start(OpKind::Fetch, work)?
        }
        Err(failure) => {
            let redactor = Arc::clone(&context::<FetchCtx>(caller.data_mut())?.redactor);
            let shown = redactor.text(&failure.to_string()).into_owned();
            tracing::debug!(failure = %shown, "fetch refused");
            let refusal = envelope_for(&Err(failure));
            context::<OpTable>(caller.data_mut())?.complete_now(OpKind::Fetch, refusal)?
        }
    };
    tape.fetch_started(handle, &method, &url)?;
    Ok(i32::try_from(handle)?)
}

impl Capability for Fetch {
    type Ctx = FetchCtx;
    const IMPORTS: &'static [Function] = &[import::FETCH_START];

    fn add_to_linker(&self, linker: &mut Linker<TaskState>) -> wasmtime::Result<()> {
        linker.func_wrap(
            IMPORT_MODULE,
            import::FETCH_START.name,
            |mut caller: Caller<'_, TaskState>, ptr: u32, len: u32| {
                fetch_start(&mut caller, ptr, len)
            },
        )?;
        Ok(())
    }

    fn new_context(&self, task: &TaskSetup<'_>) -> FetchCtx {
        let limits = &task.spec.limits;
        FetchCtx {
            gateway: Arc::clone(&self.gateway),
            allow: Arc::clone(&task.spec.allow),
            limits: FetchLimits {
                max_response_bytes: limits.max_fetch_response_bytes,
                timeout: limits.fetch_timeout(),
            },
            max_fetches: limits.max_fetches,
            max_concurrent: limits.max_concurrent_fetches,
            count: 0,
            redactor: Arc::clone(&task.spec.redactor),
            tape: Arc::clone(task.tape),
        }
    }

    fn report(&self, ctx: &FetchCtx, report: &mut TaskReport) {
        report.stats.fetches = ctx.count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use client::RedirectMode;

    fn meta(result: &Result<FetchResponse, FetchFailure>) -> serde_json::Value {
        let envelope = envelope_for(result);
        let (meta, _) = envelope::split(&envelope).unwrap();
        serde_json::from_slice(meta).unwrap()
    }

    #[test]
    fn a_request_envelope_carries_binary_bodies_byte_for_byte() {
        let meta = br#"{"url":"https://a.example/","method":"POST","headers":[],"redirect":"manual","hasBody":true}"#;
        let mut raw = envelope::prefix(meta.len() as u32).to_vec();
        raw.extend_from_slice(meta);
        raw.extend_from_slice(&[0xff, 0x00, 0x80, 0x41]);
        let request = request_from(&raw).unwrap();
        assert_eq!(request.body, [0xff, 0x00, 0x80, 0x41]);
        assert_eq!(request.redirect, RedirectMode::Manual);
        assert!(request.has_body);
        assert!(matches!(
            request_from(&[200, 0, 0, 0, b'{']),
            Err(FetchFailure::Invalid(_))
        ));
    }

    #[test]
    fn failures_carry_their_kind_and_limit() {
        let too_large = Err(FetchFailure::TooLarge {
            host: "a.example".into(),
            limit: 10,
        });
        assert_eq!(
            meta(&too_large),
            serde_json::json!({
                "error": "fetch from `a.example` failed: the response body exceeded the limit of 10 bytes (max_fetch_response_bytes)",
                "kind": "limit",
                "limit": {"kind": "fetch_response", "value": 10}
            })
        );
        let network = Err(FetchFailure::Network {
            host: "a.example".into(),
            reason: "reset".into(),
        });
        assert_eq!(meta(&network)["kind"], "charm");
        assert!(meta(&network).get("limit").is_none());
    }
}
