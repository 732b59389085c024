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
//!   message names the host), recorded in [`FetchCtx::failures`] so that an
//!   uncaught one can be reported as "denied" or as the limit it names;
//! * a trap that ends the task: more fetches than `max_fetches`, or the run's
//!   own wall-clock deadline passing while the request is in flight.

pub mod address;
pub mod allow_list;
pub mod client;

use std::sync::Arc;

use charm_host_abi::{envelope, import, IMPORT_MODULE};
use tokio::time::Instant;
use wasmtime::{Caller, Linker};

pub use allow_list::{AllowList, Denied, InvalidEntry};
pub use client::{FetchFailure, FetchLimits, FetchRequest, FetchResponse, HttpGateway};

use crate::limits::LimitExceeded;

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
    failures: Vec<FetchFailure>,
}

impl FetchCtx {
    /// A context for one task. `deadline` is the task's wall-clock deadline;
    /// a fetch still in flight then ends the task as [`LimitExceeded::Timeout`].
    pub fn new(
        gateway: Arc<HttpGateway>,
        allow: Arc<AllowList>,
        limits: &crate::limits::SandboxLimits,
        deadline: Instant,
    ) -> FetchCtx {
        FetchCtx {
            gateway,
            allow,
            limits: FetchLimits {
                max_response_bytes: limits.max_fetch_response_bytes,
                timeout: limits.fetch_timeout(),
            },
            max_fetches: limits.max_fetches,
            deadline,
            run_timeout_ms: limits.timeout_ms,
            count: 0,
            pending: None,
            failures: Vec::new(),
        }
    }

    /// The failures the charm was told about, in order.
    pub fn failures(&self) -> &[FetchFailure] {
        &self.failures
    }

    /// How many fetches the task made.
    pub fn count(&self) -> u32 {
        self.count
    }
}

fn envelope_for(result: &Result<FetchResponse, FetchFailure>) -> Vec<u8> {
    let (meta, body): (String, &[u8]) = match result {
        Ok(response) => (
            serde_json::to_string(response).unwrap_or_else(|_| "{}".to_string()),
            &response.body,
        ),
        Err(failure) => (
            serde_json::json!({ "error": failure.to_string() }).to_string(),
            &[],
        ),
    };
    let mut out = Vec::with_capacity(envelope::PREFIX_LEN + meta.len() + body.len());
    out.extend_from_slice(&envelope::prefix(
        u32::try_from(meta.len()).unwrap_or(u32::MAX),
    ));
    out.extend_from_slice(meta.as_bytes());
    out.extend_from_slice(body);
    out
}

/// Registers `fetch` and `fetch-take` under `charm-host-v1`.
///
/// # Errors
/// Only if the linker already has definitions of those names.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut FetchCtx,
) -> wasmtime::Result<()> {
    linker.func_wrap_async(
        IMPORT_MODULE,
        import::FETCH,
        move |mut caller: Caller<'_, T>, (ptr, len): (u32, u32)| {
            Box::new(async move {
                let ctx = get(caller.data_mut());
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
                    let raw = super::read_guest(&mut caller, ptr, len)?;
                    match serde_json::from_slice::<FetchRequest>(&raw) {
                        Ok(request) => {
                            let ctx = get(caller.data_mut());
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
                let reply = envelope_for(&result);
                let reply_len = i32::try_from(reply.len())
                    .map_err(|_| super::AbiViolation("fetch reply over 2 GiB".to_string()))?;
                let ctx = get(caller.data_mut());
                if let Err(failure) = result {
                    tracing::debug!(%failure, "fetch refused or failed");
                    ctx.failures.push(failure);
                }
                ctx.pending = Some(reply);
                Ok(reply_len)
            })
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        import::FETCH_TAKE,
        move |mut caller: Caller<'_, T>, ptr: u32, len: u32| -> wasmtime::Result<i32> {
            let reply = get(caller.data_mut()).pending.take().ok_or_else(|| {
                super::AbiViolation("fetch-take without a pending reply".to_string())
            })?;
            if u32::try_from(reply.len()).ok() != Some(len) {
                return Err(super::AbiViolation(format!(
                    "fetch-take buffer of {len} bytes for a reply of {}",
                    reply.len()
                ))
                .into());
            }
            super::write_guest(&mut caller, ptr, &reply)?;
            Ok(i32::try_from(reply.len())?)
        },
    )?;
    Ok(())
}
