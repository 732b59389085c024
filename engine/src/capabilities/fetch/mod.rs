//! The `fetch` capability: HTTP for charms, deny by default.
//!
//! Owns the per-task fetch context (allow-list, counters, the reply waiting
//! to be copied into the guest) and the two imports `fetch` and `fetch-take`.
//! The wire rules live in [`client`], the allow-list in [`allow_list`] and
//! address classification in [`address`].
//!
//! The request runs asynchronously on the host: a task waiting on the network
//! is a parked future, not a blocked thread. Outcomes:
//!
//! * a response, or a refusal/failure the charm can catch (`TypeError` whose
//!   message names the host). The reply carries the failure's
//!   `charm_host_abi::error::ErrorKind`, so that an uncaught one is reported
//!   as "denied" or as the limit it names, whatever its message says;
//! * a trap that ends the task: more fetches than `max_fetches`, or the run's
//!   own wall-clock deadline passing while the request is in flight.

pub mod address;
pub mod allow_list;
pub mod client;

use std::sync::Arc;

use charm_host_abi::error::{field, ErrorKind};
use charm_host_abi::{envelope, import, Function, IMPORT_MODULE};
use tokio::time::Instant;
use wasmtime::{Caller, Linker};

pub use allow_list::{AllowList, Denied, InvalidEntry};
pub use client::{FetchFailure, FetchLimits, FetchRequest, FetchResponse, HttpGateway};

use super::{context, read_guest, write_guest, AbiViolation, Capability, TaskSetup};
use crate::limits::{LimitExceeded, LimitKind};
use crate::sandbox::{TaskReport, TaskState};

/// Largest request description the guest may pass, in bytes (the body is
/// limited separately by [`client::MAX_REQUEST_BODY_BYTES`]).
const MAX_REQUEST_JSON_BYTES: u32 = 2 * 1024 * 1024;

/// Per-task fetch state.
#[derive(Debug)]
pub struct FetchCtx {
    gateway: Arc<HttpGateway>,
    allow: Arc<AllowList>,
    limits: FetchLimits,
    max_fetches: u32,
    deadline: Instant,
    run_timeout_ms: u64,
    count: u32,
    pending: Option<Vec<u8>>,
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

/// The fetch capability: one HTTP gateway per process, shared by all tasks.
pub(crate) struct Fetch {
    gateway: Arc<HttpGateway>,
}

impl Fetch {
    pub(crate) fn new() -> Fetch {
        Fetch {
            gateway: Arc::new(HttpGateway::new()),
        }
    }
}

/// The body of the `fetch` import: checks the count, reads and performs the
/// request, and leaves the reply envelope for `fetch-take`.
async fn fetch_import(
    caller: &mut Caller<'_, TaskState>,
    ptr: u32,
    len: u32,
) -> wasmtime::Result<i32> {
    let ctx = context::<FetchCtx>(caller.data_mut())?;
    if ctx.count >= ctx.max_fetches {
        return Err(LimitExceeded::FetchCount {
            limit: ctx.max_fetches,
        }
        .into());
    }
    ctx.count += 1;
    let result = if len > MAX_REQUEST_JSON_BYTES {
        Err(FetchFailure::Invalid(format!(
            "request of {len} bytes is over the limit of {MAX_REQUEST_JSON_BYTES}"
        )))
    } else {
        let raw = read_guest(caller, ptr, len)?;
        match serde_json::from_slice::<FetchRequest>(&raw) {
            Ok(request) => {
                let ctx = context::<FetchCtx>(caller.data_mut())?;
                let (gateway, allow, limits) =
                    (Arc::clone(&ctx.gateway), Arc::clone(&ctx.allow), ctx.limits);
                let (deadline, run_timeout_ms) = (ctx.deadline, ctx.run_timeout_ms);
                let work = async move { gateway.fetch(&allow, request, limits).await };
                match tokio::time::timeout_at(deadline, work).await {
                    Ok(result) => result,
                    Err(_) => {
                        return Err(LimitExceeded::Timeout {
                            limit_ms: run_timeout_ms,
                        }
                        .into())
                    }
                }
            }
            Err(e) => Err(FetchFailure::Invalid(format!("malformed request: {e}"))),
        }
    };
    if let Err(failure) = &result {
        tracing::debug!(%failure, "fetch refused or failed");
    }
    let reply = envelope_for(&result);
    let reply_len = i32::try_from(reply.len())
        .map_err(|_| AbiViolation("fetch reply over 2 GiB".to_string()))?;
    context::<FetchCtx>(caller.data_mut())?.pending = Some(reply);
    Ok(reply_len)
}

impl Capability for Fetch {
    type Ctx = FetchCtx;
    const IMPORTS: &'static [Function] = &[import::FETCH, import::FETCH_TAKE];

    fn add_to_linker(&self, linker: &mut Linker<TaskState>) -> wasmtime::Result<()> {
        linker.func_wrap_async(
            IMPORT_MODULE,
            import::FETCH.name,
            |mut caller: Caller<'_, TaskState>, (ptr, len): (u32, u32)| {
                Box::new(async move { fetch_import(&mut caller, ptr, len).await })
            },
        )?;
        linker.func_wrap(
            IMPORT_MODULE,
            import::FETCH_TAKE.name,
            |mut caller: Caller<'_, TaskState>, ptr: u32, len: u32| -> wasmtime::Result<i32> {
                let reply = context::<FetchCtx>(caller.data_mut())?
                    .pending
                    .take()
                    .ok_or_else(|| {
                        AbiViolation("fetch-take without a pending reply".to_string())
                    })?;
                if u32::try_from(reply.len()).ok() != Some(len) {
                    return Err(AbiViolation(format!(
                        "fetch-take buffer of {len} bytes for a reply of {}",
                        reply.len()
                    ))
                    .into());
                }
                write_guest(&mut caller, ptr, &reply)?;
                Ok(i32::try_from(reply.len())?)
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
            deadline: task.deadline,
            run_timeout_ms: limits.timeout_ms,
            count: 0,
            pending: None,
        }
    }

    fn report(&self, ctx: &FetchCtx, report: &mut TaskReport) {
        report.stats.fetches = ctx.count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(result: &Result<FetchResponse, FetchFailure>) -> serde_json::Value {
        let envelope = envelope_for(result);
        let (meta, _) = envelope::split(&envelope).unwrap();
        serde_json::from_slice(meta).unwrap()
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
