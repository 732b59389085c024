//! `structuredClone`'s native half: which built-in class an object is, so
//! that `js/34_clone.js` tells a Date, a Map or a Proxy by its internal
//! slots rather than by anything a charm can fake.

use javy_plugin_api::javy::quickjs::{qjs, Value};

/// `host.classId(value)`: QuickJS's class id of an object (0 for anything
/// else). The prelude learns which id is which from objects it makes at
/// load time, so no numbering of QuickJS's is written down here.
pub fn class_id(value: Value<'_>) -> u32 {
    // SAFETY: reads the class id of a live value; no ownership changes.
    unsafe { qjs::JS_GetClassID(value.as_raw()) }
}
