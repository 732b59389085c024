//! `console`: one line to the host, which applies the log volume limit;
//! and what the value formatter (`js/10_inspect.js`) cannot learn from
//! JavaScript without running a value's own code: an object's kind by
//! internal slot, a promise's state, a proxy's target.

use javy_plugin_api::javy::quickjs::{qjs, Array, Ctx, Error as JsError, Value};

use super::classes;
use crate::imports;

/// `host.log(level, text)`.
pub fn log(level: i32, text: String) {
    // SAFETY: the pointer and length describe `text`, alive for the call.
    unsafe { imports::console(level, text.as_ptr(), text.len()) }
}

/// The kinds `host.inspectKind` reports; `js/10_inspect.js` has the same
/// table.
#[repr(i32)]
enum Kind {
    /// Not an object.
    Primitive = 0,
    Ordinary = 1,
    Array = 2,
    Function = 3,
    Error = 4,
    Date = 5,
    RegExp = 6,
    Map = 7,
    Set = 8,
    WeakMap = 9,
    WeakSet = 10,
    WeakRef = 11,
    Promise = 12,
    ArrayBuffer = 13,
    DataView = 14,
    TypedArray = 15,
    Proxy = 16,
    Number = 17,
    String = 18,
    Boolean = 19,
    Symbol = 20,
    BigInt = 21,
    Arguments = 22,
}

/// `host.inspectKind(value)`: what kind of object `value` is, by internal
/// slot. Runs no JavaScript.
pub fn inspect_kind(ctx: Ctx<'_>, value: Value<'_>) -> i32 {
    let raw = value.as_raw();
    if !value.is_object() {
        return Kind::Primitive as i32;
    }
    // SAFETY: type tests on a live object.
    let kind = unsafe {
        if qjs::JS_IsProxy(raw) {
            Kind::Proxy
        } else if qjs::JS_IsArray(raw) {
            Kind::Array
        } else if qjs::JS_IsFunction(ctx.as_raw().as_ptr(), raw) {
            Kind::Function
        } else if qjs::JS_IsError(raw) {
            Kind::Error
        } else if qjs::JS_IsDate(raw) {
            Kind::Date
        } else if qjs::JS_IsRegExp(raw) {
            Kind::RegExp
        } else if qjs::JS_IsMap(raw) {
            Kind::Map
        } else if qjs::JS_IsSet(raw) {
            Kind::Set
        } else if qjs::JS_IsWeakMap(raw) {
            Kind::WeakMap
        } else if qjs::JS_IsWeakSet(raw) {
            Kind::WeakSet
        } else if qjs::JS_IsWeakRef(raw) {
            Kind::WeakRef
        } else if qjs::JS_IsPromise(raw) {
            Kind::Promise
        } else if qjs::JS_IsArrayBuffer(raw) {
            Kind::ArrayBuffer
        } else if qjs::JS_IsDataView(raw) {
            Kind::DataView
        } else if qjs::JS_GetTypedArrayType(raw) >= 0 {
            Kind::TypedArray
        } else {
            let class = qjs::JS_GetClassID(raw);
            match classes::get() {
                Some(c) if class == c.number => Kind::Number,
                Some(c) if class == c.string => Kind::String,
                Some(c) if class == c.boolean => Kind::Boolean,
                Some(c) if class == c.symbol => Kind::Symbol,
                Some(c) if class == c.bigint => Kind::BigInt,
                Some(c) if class == c.arguments || class == c.mapped_arguments => Kind::Arguments,
                _ => Kind::Ordinary,
            }
        }
    };
    kind as i32
}

/// `host.promiseState(promise)`: `[0]` pending, `[1, value]` fulfilled,
/// `[2, reason]` rejected. Marks nothing as handled.
pub fn promise_state<'js>(ctx: Ctx<'js>, promise: Value<'js>) -> Result<Array<'js>, JsError> {
    let out = Array::new(ctx.clone())?;
    let raw_ctx = ctx.as_raw().as_ptr();
    // SAFETY: `promise` is live; the result is a new value owned here.
    let state = unsafe { qjs::JS_PromiseState(raw_ctx, promise.as_raw()) };
    if state < 0 {
        return Ok(out);
    }
    out.set(0, state)?;
    if state != qjs::JSPromiseStateEnum_JS_PROMISE_PENDING {
        // SAFETY: a new value from a settled promise.
        let result = unsafe {
            Value::from_raw(
                ctx.clone(),
                qjs::JS_PromiseResult(raw_ctx, promise.as_raw()),
            )
        };
        out.set(1, result)?;
    }
    Ok(out)
}

/// `host.proxyTarget(proxy)`: the target, or null for a revoked proxy.
/// Runs no trap.
pub fn proxy_target<'js>(ctx: Ctx<'js>, proxy: Value<'js>) -> Value<'js> {
    let raw_ctx = ctx.as_raw().as_ptr();
    // SAFETY: `proxy` is live; a revoked proxy throws, which is caught here.
    let target = unsafe { qjs::JS_GetProxyTarget(raw_ctx, proxy.as_raw()) };
    if unsafe { qjs::JS_IsException(target) } {
        drop(ctx.catch());
        return Value::new_null(ctx);
    }
    // SAFETY: a new value owned here.
    unsafe { Value::from_raw(ctx, target) }
}
