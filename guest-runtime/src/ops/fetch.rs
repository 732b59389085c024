//! `fetch`: one HTTP request through the host, which applies the charm's
//! allow-list and limits.

use std::cell::Cell;

use charm_host_abi::envelope;
use javy_plugin_api::javy::quickjs::{ArrayBuffer, Ctx, Error as JsError, Exception, Object};

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

/// `host.fetch(requestJson)`: `{meta, body}` where `meta` is the envelope's
/// JSON text and `body` an ArrayBuffer.
pub fn fetch<'js>(ctx: Ctx<'js>, request: String) -> Result<Object<'js>, JsError> {
    if !IN_UPDATER.with(Cell::get) {
        return Err(Exception::throw_type(
            &ctx,
            "fetch is only available while bgUpdater runs, not at module top level",
        ));
    }
    // SAFETY: the pointer and length describe `request`, alive for the call.
    let len = unsafe { imports::fetch(request.as_ptr(), request.len()) };
    let len = usize::try_from(len)
        .map_err(|_| Exception::throw_internal(&ctx, "host returned a negative fetch length"))?;
    let mut reply = vec![0u8; len];
    // SAFETY: the host writes at most `reply.len()` bytes into `reply`.
    let written = unsafe { imports::fetch_take(reply.as_mut_ptr(), reply.len()) };
    if usize::try_from(written).ok() != Some(len) {
        return Err(Exception::throw_internal(&ctx, "host fetch reply was truncated"));
    }
    let (meta, body) = envelope::split(&reply)
        .ok_or_else(|| Exception::throw_internal(&ctx, "host fetch reply is malformed"))?;
    let result = Object::new(ctx.clone())?;
    result.set("meta", String::from_utf8_lossy(meta).into_owned())?;
    result.set("body", ArrayBuffer::new_copy(ctx.clone(), body)?)?;
    Ok(result)
}
