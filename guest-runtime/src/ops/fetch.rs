//! `fetch`: start one HTTP request as a host operation; the host applies
//! the charm's allow-list and limits, and the event loop delivers the
//! response.

use std::cell::Cell;

use charm_host_abi::envelope;
use javy_plugin_api::javy::quickjs::{Ctx, Error as JsError, Exception, TypedArray};

use crate::imports;

thread_local! {
    /// True only while `bgUpdater` runs: `fetch` is refused at module top
    /// level, so that evaluating a module (at compile time, or when loading
    /// it for a task) never does I/O.
    static IN_UPDATER: Cell<bool> = const { Cell::new(false) };
}

/// Allows `fetch` until the returned guard is dropped.
pub fn allow_while_updating() -> impl Drop {
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            IN_UPDATER.with(|f| f.set(false));
        }
    }
    IN_UPDATER.with(|f| f.set(true));
    Guard
}

/// `host.fetchStart(metaJson, body?) -> handle`: the request envelope is the
/// metadata and the body's bytes, exactly as given.
pub fn fetch_start<'js>(
    ctx: Ctx<'js>,
    meta: String,
    body: Option<TypedArray<'js, u8>>,
) -> Result<i32, JsError> {
    if !IN_UPDATER.with(Cell::get) {
        return Err(Exception::throw_type(
            &ctx,
            "fetch is only available while bgUpdater runs, not at module top level",
        ));
    }
    let bytes: &[u8] = match &body {
        Some(array) => array
            .as_bytes()
            .ok_or_else(|| Exception::throw_type(&ctx, "the request body's buffer is detached"))?,
        None => &[],
    };
    let meta_len = u32::try_from(meta.len())
        .map_err(|_| Exception::throw_range(&ctx, "the request is too large"))?;
    let mut request = Vec::with_capacity(envelope::PREFIX_LEN + meta.len() + bytes.len());
    request.extend_from_slice(&envelope::prefix(meta_len));
    request.extend_from_slice(meta.as_bytes());
    request.extend_from_slice(bytes);
    // SAFETY: the pointer and length describe `request`, alive for the call.
    let handle = unsafe { imports::fetch_start(request.as_ptr(), request.len()) };
    Ok(handle)
}
