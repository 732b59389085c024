//! The QuickJS class ids of the objects the runtime recognises by internal
//! slot (boxed primitives, `JSON.rawJSON` objects, `arguments`), which
//! QuickJS does not export: found once, at pre-initialisation, from
//! examples of each.

use std::cell::OnceCell;

use javy_plugin_api::javy::quickjs::{qjs, Ctx, Error as JsError, Value};

/// The class ids.
#[derive(Clone, Copy)]
pub struct Classes {
    pub number: qjs::JSClassID,
    pub string: qjs::JSClassID,
    pub boolean: qjs::JSClassID,
    pub symbol: qjs::JSClassID,
    pub bigint: qjs::JSClassID,
    pub raw_json: qjs::JSClassID,
    pub arguments: qjs::JSClassID,
    pub mapped_arguments: qjs::JSClassID,
}

thread_local! {
    static CLASSES: OnceCell<Classes> = const { OnceCell::new() };
}

/// Finds the class ids; called once from `prelude::install`.
pub fn init(ctx: &Ctx<'_>) -> Result<(), JsError> {
    let examples: Vec<Value> = ctx.eval(
        "[new Number(0), new String(''), new Boolean(false), Object(Symbol()), Object(0n), \
         JSON.rawJSON('0'), (function () { 'use strict'; return arguments; })(), \
         (function () { return arguments; })()]",
    )?;
    // SAFETY: reading the class of live values.
    let class = |i: usize| {
        examples
            .get(i)
            .map(|v| unsafe { qjs::JS_GetClassID(v.as_raw()) })
    };
    let (Some(number), Some(string), Some(boolean), Some(symbol), Some(bigint), Some(raw_json)) =
        (class(0), class(1), class(2), class(3), class(4), class(5))
    else {
        return Err(JsError::Unknown);
    };
    let (Some(arguments), Some(mapped_arguments)) = (class(6), class(7)) else {
        return Err(JsError::Unknown);
    };
    let classes = Classes {
        number,
        string,
        boolean,
        symbol,
        bigint,
        raw_json,
        arguments,
        mapped_arguments,
    };
    CLASSES.with(|c| c.set(classes).ok());
    Ok(())
}

/// The class ids; `None` before [`init`] ran.
pub fn get() -> Option<Classes> {
    CLASSES.with(|c| c.get().copied())
}
