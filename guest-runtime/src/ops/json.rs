//! JSON: `host.jsonDepth(text, limit)`, the prelude's guard in front of
//! QuickJS's recursive `JSON.parse`, and `host.jsonStringify`, the body of
//! `JSON.stringify` (`js/80_json.js` prepares its arguments).
//!
//! QuickJS's own `JSON.stringify` looks for cycles by scanning the array of
//! the objects it is inside at every level, so a value nested `d` deep
//! costs `O(d²)` (a 20,000-deep array: 14.5 G fuel). This one follows
//! ECMA-262's SerializeJSONProperty step for step with an explicit stack of
//! the objects being serialised, so nesting costs heap, never the native
//! stack, and cycles are found in constant time (the innermost levels by a
//! short scan, the rest through a hash set of object addresses).

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use javy_plugin_api::javy::quickjs::function::This;

use super::classes::{self, Classes};
use javy_plugin_api::javy::quickjs::{qjs, Ctx, Error as JsError, Function, Persistent, Value};

/// The deepest nesting of `[` and `{` in `text`, outside strings; it stops
/// counting once past `limit`. Malformed text is left to the parser.
pub fn json_depth(text: String, limit: u32) -> u32 {
    let mut depth: u32 = 0;
    let mut deepest: u32 = 0;
    let mut in_string = false;
    let mut escaped = false;
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > deepest {
                    deepest = depth;
                    if deepest > limit {
                        return deepest;
                    }
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// What `JSON.stringify` needs besides the class ids, found once at
/// pre-initialisation.
struct Intrinsics {
    classes: Classes,
    /// `Boolean.prototype.valueOf`, to read a Boolean object's value.
    boolean_value: Persistent<Function<'static>>,
    /// The atoms `toJSON` and `rawJSON`, kept for the runtime's life.
    to_json: qjs::JSAtom,
    raw_json: qjs::JSAtom,
}

thread_local! {
    static INTRINSICS: OnceCell<Intrinsics> = const { OnceCell::new() };
}

/// Finds the functions and atoms `stringify` needs; called once from
/// `prelude::install`, after `classes::init`.
pub fn init(ctx: &Ctx<'_>) -> Result<(), JsError> {
    let classes = classes::get().ok_or(JsError::Unknown)?;
    let boolean_value: Function = ctx.eval("Boolean.prototype.valueOf")?;
    let raw_ctx = ctx.as_raw().as_ptr();
    // SAFETY: plain atom creation in this context; the atoms are never freed.
    let (to_json, raw_json) = unsafe {
        (
            qjs::JS_NewAtom(raw_ctx, c"toJSON".as_ptr()),
            qjs::JS_NewAtom(raw_ctx, c"rawJSON".as_ptr()),
        )
    };
    let intrinsics = Intrinsics {
        classes,
        boolean_value: Persistent::save(ctx, boolean_value),
        to_json,
        raw_json,
    };
    INTRINSICS.with(|i| i.set(intrinsics).ok());
    Ok(())
}

/// `host.jsonStringify(value, replacerFunction, propertyList, gap)`:
/// `JSON.stringify` once `js/80_json.js` has turned its `replacer` and
/// `space` into the standard's ReplacerFunction (a function or undefined),
/// PropertyList (an array of distinct strings, or undefined) and gap (a
/// string of at most ten code units).
pub fn json_stringify<'js>(
    ctx: Ctx<'js>,
    value: Value<'js>,
    replacer: Value<'js>,
    list: Value<'js>,
    gap: Value<'js>,
) -> Result<Value<'js>, JsError> {
    INTRINSICS.with(|intrinsics| {
        let intrinsics = intrinsics.get().ok_or(JsError::Unknown)?;
        let mut serializer = Serializer::new(&ctx, intrinsics, &replacer, &list, &gap)?;
        match serializer.run(&value)? {
            // SAFETY: `text` is a new value owned by the caller.
            Some(text) => Ok(unsafe { Value::from_raw(ctx.clone(), text) }),
            None => Ok(Value::new_undefined(ctx.clone())),
        }
    })
}

/// Hashes object addresses and atoms: a multiply and a fold spread them
/// well enough.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// How many of the innermost open objects are checked for a cycle by a
/// plain scan; deeper ones are also in a hash set.
const SCANNED_LEVELS: usize = 32;

/// A value owned by the serializer: freed when dropped.
struct Owned {
    ctx: *mut qjs::JSContext,
    value: qjs::JSValue,
}

impl Owned {
    fn new(ctx: *mut qjs::JSContext, value: qjs::JSValue) -> Result<Owned, JsError> {
        // SAFETY: inspecting the tag of a value.
        if unsafe { qjs::JS_IsException(value) } {
            return Err(JsError::Exception);
        }
        Ok(Owned { ctx, value })
    }
    fn tag(&self) -> i32 {
        // SAFETY: reading the tag of a live value.
        unsafe { qjs::JS_VALUE_GET_NORM_TAG(self.value) }
    }
    fn into_raw(self) -> qjs::JSValue {
        let value = self.value;
        std::mem::forget(self);
        value
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: the value is owned and freed once.
        unsafe { qjs::JS_FreeValue(self.ctx, self.value) }
    }
}

/// The keys of an open object or array.
enum Keys {
    /// An array: indices `0..len`.
    Array(i64),
    /// An object's own enumerable string keys, from QuickJS (freed on drop).
    Own(*mut qjs::JSPropertyEnum, u32),
    /// The replacer's property list.
    List,
}

/// An object or array being serialised.
struct Frame {
    object: Owned,
    keys: Keys,
    next: i64,
    /// Whether a member has been written.
    any: bool,
}

/// The key a value was found under, for `toJSON` and the replacer.
#[derive(Clone, Copy)]
enum Key {
    Empty,
    Index(i64),
    Atom(qjs::JSAtom),
}

/// What writing a value did.
enum Wrote {
    /// Nothing: the value is undefined, a symbol or a function.
    Nothing,
    /// The whole value.
    Done,
    /// An object's opening bracket: its frame is on the stack.
    Opened,
}

struct Serializer<'a, 'js> {
    context: &'a Ctx<'js>,
    ctx: *mut qjs::JSContext,
    intrinsics: &'a Intrinsics,
    replacer: Option<qjs::JSValue>,
    list: Vec<qjs::JSAtom>,
    has_list: bool,
    gap: Vec<u8>,
    indent: Vec<u8>,
    out: Vec<u8>,
    frames: Vec<Frame>,
    deep: HashSet<usize, BuildHasherDefault<AddressHasher>>,
    /// Quoted keys by atom: ranges of `key_text`.
    keys: HashMap<qjs::JSAtom, (usize, usize), BuildHasherDefault<AddressHasher>>,
    key_text: Vec<u8>,
}

impl Drop for Serializer<'_, '_> {
    fn drop(&mut self) {
        for frame in self.frames.drain(..) {
            free_keys(self.ctx, &frame.keys);
        }
        for &atom in self.list.iter().chain(self.keys.keys()) {
            // SAFETY: each atom was created (`new`) or duplicated (`key`)
            // here and is freed once.
            unsafe { qjs::JS_FreeAtom(self.ctx, atom) }
        }
    }
}

fn free_keys(ctx: *mut qjs::JSContext, keys: &Keys) {
    if let Keys::Own(tab, len) = *keys {
        // SAFETY: the table came from JS_GetOwnPropertyNames and is freed once
        // (the frame is dropped right after).
        unsafe { qjs::JS_FreePropertyEnum(ctx, tab, len) }
    }
}

/// The bytes of a JavaScript string as UTF-8, with lone surrogates encoded
/// as three-byte sequences (WTF-8), as QuickJS gives them.
struct Utf8 {
    ctx: *mut qjs::JSContext,
    ptr: *const std::ffi::c_char,
    len: usize,
}

impl Utf8 {
    fn of(ctx: *mut qjs::JSContext, value: qjs::JSValue) -> Result<Utf8, JsError> {
        let mut len = 0;
        // SAFETY: `value` is a live string; the result is freed on drop.
        let ptr = unsafe { qjs::JS_ToCStringLen2(ctx, &mut len, value, false) };
        if ptr.is_null() {
            return Err(JsError::Exception);
        }
        Ok(Utf8 {
            ctx,
            ptr,
            len: len as usize,
        })
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: QuickJS returned `len` bytes at `ptr`, alive until drop.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Utf8 {
    fn drop(&mut self) {
        // SAFETY: freed once.
        unsafe { qjs::JS_FreeCString(self.ctx, self.ptr) }
    }
}

impl<'a, 'js> Serializer<'a, 'js> {
    fn new(
        ctx: &'a Ctx<'js>,
        intrinsics: &'a Intrinsics,
        replacer: &Value<'_>,
        list: &Value<'_>,
        gap: &Value<'_>,
    ) -> Result<Serializer<'a, 'js>, JsError> {
        let raw = ctx.as_raw().as_ptr();
        let mut serializer = Serializer {
            context: ctx,
            ctx: raw,
            intrinsics,
            replacer: replacer.is_function().then(|| replacer.as_raw()),
            list: Vec::new(),
            has_list: false,
            gap: Vec::new(),
            indent: Vec::new(),
            out: Vec::with_capacity(128),
            frames: Vec::new(),
            deep: HashSet::default(),
            keys: HashMap::default(),
            key_text: Vec::new(),
        };
        if let Some(array) = list.as_array() {
            serializer.has_list = true;
            for item in array.iter::<Value>() {
                let item = item?;
                // SAFETY: converting a live string to an atom, freed on drop.
                let atom = unsafe { qjs::JS_ValueToAtom(raw, item.as_raw()) };
                if atom == 0 {
                    return Err(JsError::Exception);
                }
                serializer.list.push(atom);
            }
        }
        if gap.is_string() {
            serializer.gap = Utf8::of(raw, gap.as_raw())?.bytes().to_vec();
        }
        Ok(serializer)
    }

    /// SerializeJSONProperty of the wrapper object's "" key, then of
    /// every member of the objects it opens, in order.
    fn run(&mut self, value: &Value<'_>) -> Result<Option<qjs::JSValue>, JsError> {
        let ctx = self.ctx;
        // SAFETY: a new reference to a live value.
        let value = Owned::new(ctx, unsafe { qjs::JS_DupValue(ctx, value.as_raw()) })?;
        // The wrapper is only observable as the replacer's `this`.
        let wrapper = match self.replacer {
            Some(_) => {
                // SAFETY: a new object, and a data property on it.
                let wrapper = Owned::new(ctx, unsafe { qjs::JS_NewObject(ctx) })?;
                let copy = unsafe { qjs::JS_DupValue(ctx, value.value) };
                let defined = unsafe {
                    qjs::JS_DefinePropertyValueStr(
                        ctx,
                        wrapper.value,
                        c"".as_ptr(),
                        copy,
                        qjs::JS_PROP_C_W_E as i32,
                    )
                };
                if defined < 0 {
                    return Err(JsError::Exception);
                }
                Some(wrapper)
            }
            None => None,
        };
        let holder = wrapper.as_ref().map_or(qjs::JS_UNDEFINED, |w| w.value);
        let value = self.prepare(holder, Key::Empty, value)?;
        if let Wrote::Nothing = self.write(value)? {
            return Ok(None);
        }
        while !self.frames.is_empty() {
            self.step()?;
        }
        // SAFETY: the output is WTF-8, which QuickJS decodes (surrogates
        // included) into a new string.
        let Ok(len) = qjs::size_t::try_from(self.out.len()) else {
            return Err(throw_range(
                ctx,
                c"JSON.stringify: the text would be too long",
            ));
        };
        let text = unsafe { qjs::JS_NewStringLen(ctx, self.out.as_ptr().cast(), len) };
        Owned::new(ctx, text).map(|t| Some(t.into_raw()))
    }

    /// Serialises the next member of the innermost open object, or closes
    /// it.
    fn step(&mut self) -> Result<(), JsError> {
        let ctx = self.ctx;
        let Some(frame) = self.frames.last_mut() else {
            return Ok(());
        };
        let holder = frame.object.value;
        let index = frame.next;
        let key = match frame.keys {
            Keys::Array(len) if index < len => Key::Index(index),
            // SAFETY: `index` is within the table QuickJS returned.
            Keys::Own(tab, len) if index < i64::from(len) => {
                Key::Atom(unsafe { (*tab.add(index as usize)).atom })
            }
            Keys::List if (index as usize) < self.list.len() => {
                Key::Atom(self.list[index as usize])
            }
            _ => return self.close(),
        };
        frame.next += 1;
        let first = !frame.any;
        // SAFETY: property reads on a live object.
        let value = Owned::new(ctx, unsafe {
            match key {
                Key::Index(i) => qjs::JS_GetPropertyInt64(ctx, holder, i),
                Key::Atom(atom) => qjs::JS_GetProperty(ctx, holder, atom),
                Key::Empty => qjs::JS_UNDEFINED,
            }
        })?;
        let value = self.prepare(holder, key, value)?;
        if let Key::Index(_) = key {
            self.separate(first);
            if let Wrote::Nothing = self.write(value)? {
                self.out.extend_from_slice(b"null");
            }
        } else if self.serializable(&value) {
            self.separate(first);
            if let Key::Atom(atom) = key {
                self.key(atom)?;
            }
            self.out.push(b':');
            if !self.gap.is_empty() {
                self.out.push(b' ');
            }
            self.write(value)?;
        }
        Ok(())
    }

    /// The comma, newline and indentation before a member; marks the
    /// innermost object as having one.
    fn separate(&mut self, first: bool) {
        if !first {
            self.out.push(b',');
        }
        if !self.gap.is_empty() {
            self.out.push(b'\n');
            self.out.extend_from_slice(&self.indent);
        }
        if let Some(frame) = self.frames.last_mut() {
            frame.any = true;
        }
    }

    /// Closes the innermost open object.
    fn close(&mut self) -> Result<(), JsError> {
        let Some(frame) = self.frames.pop() else {
            return Ok(());
        };
        free_keys(self.ctx, &frame.keys);
        let level = self.frames.len();
        if level >= SCANNED_LEVELS {
            // SAFETY: reading the address of a live object.
            self.deep
                .remove(&(unsafe { qjs::JS_VALUE_GET_PTR(frame.object.value) } as usize));
        }
        self.indent.truncate(self.indent.len() - self.gap.len());
        if frame.any && !self.gap.is_empty() {
            self.out.push(b'\n');
            self.out.extend_from_slice(&self.indent);
        }
        self.out.push(if let Keys::Array(_) = frame.keys {
            b']'
        } else {
            b'}'
        });
        Ok(())
    }

    /// Steps 2 and 3 of SerializeJSONProperty: `toJSON`, then the replacer.
    fn prepare(
        &mut self,
        holder: qjs::JSValue,
        key: Key,
        mut value: Owned,
    ) -> Result<Owned, JsError> {
        let ctx = self.ctx;
        let tag = value.tag();
        if tag == qjs::JS_TAG_OBJECT
            || tag == qjs::JS_TAG_BIG_INT
            || tag == qjs::JS_TAG_SHORT_BIG_INT
        {
            // SAFETY: GetV on a live value.
            let to_json = Owned::new(ctx, unsafe {
                qjs::JS_GetProperty(ctx, value.value, self.intrinsics.to_json)
            })?;
            // SAFETY: a type test on a live value.
            if unsafe { qjs::JS_IsFunction(ctx, to_json.value) } {
                let mut args = [self.key_string(key)?.into_raw()];
                // SAFETY: calling a live function with live arguments.
                let result =
                    unsafe { qjs::JS_Call(ctx, to_json.value, value.value, 1, args.as_mut_ptr()) };
                drop(Owned {
                    ctx,
                    value: args[0],
                });
                value = Owned::new(ctx, result)?;
            }
        }
        if let Some(replacer) = self.replacer {
            let key = self.key_string(key)?;
            let mut args = [key.value, value.value];
            // SAFETY: calling a live function with live arguments.
            let result = unsafe { qjs::JS_Call(ctx, replacer, holder, 2, args.as_mut_ptr()) };
            drop(key);
            value = Owned::new(ctx, result)?;
        }
        Ok(value)
    }

    /// A key as the string `toJSON` and the replacer receive.
    fn key_string(&self, key: Key) -> Result<Owned, JsError> {
        let ctx = self.ctx;
        let value = match key {
            // SAFETY: new strings from bytes and atoms.
            Key::Empty => unsafe { qjs::JS_NewStringLen(ctx, c"".as_ptr(), 0) },
            Key::Index(i) => {
                let mut digits = Vec::with_capacity(20);
                push_integer(&mut digits, i);
                unsafe {
                    qjs::JS_NewStringLen(ctx, digits.as_ptr().cast(), digits.len() as qjs::size_t)
                }
            }
            Key::Atom(atom) => unsafe { qjs::JS_AtomToString(ctx, atom) },
        };
        Owned::new(ctx, value)
    }

    /// Whether an object member with this value is written at all
    /// (undefined, symbols and functions are left out).
    fn serializable(&self, value: &Owned) -> bool {
        match value.tag() {
            qjs::JS_TAG_UNDEFINED | qjs::JS_TAG_SYMBOL => false,
            // SAFETY: a type test on a live value.
            qjs::JS_TAG_OBJECT => !unsafe { qjs::JS_IsFunction(self.ctx, value.value) },
            _ => true,
        }
    }

    /// Steps 4 to 12 of SerializeJSONProperty for a prepared value: writes
    /// a primitive, or opens an object or array.
    fn write(&mut self, value: Owned) -> Result<Wrote, JsError> {
        let ctx = self.ctx;
        let mut value = value;
        if value.tag() == qjs::JS_TAG_OBJECT {
            // SAFETY: reading the class of a live object.
            let class = unsafe { qjs::JS_GetClassID(value.value) };
            let intrinsics = self.intrinsics;
            let classes = &intrinsics.classes;
            if class == classes.number {
                let mut number = 0.0;
                // SAFETY: ToNumber on a live value.
                if unsafe { qjs::JS_ToFloat64(ctx, &mut number, value.value) } < 0 {
                    return Err(JsError::Exception);
                }
                value = Owned::new(ctx, qjs::JS_NewFloat64(number))?;
            } else if class == classes.string {
                // SAFETY: ToString on a live value.
                value = Owned::new(ctx, unsafe { qjs::JS_ToString(ctx, value.value) })?;
            } else if class == classes.boolean {
                let function = intrinsics.boolean_value.clone().restore(self.context)?;
                // SAFETY: a new reference to a live value for the call.
                let this = unsafe {
                    Value::from_raw(self.context.clone(), qjs::JS_DupValue(ctx, value.value))
                };
                let boolean: bool = function.call((This(this),))?;
                self.out
                    .extend_from_slice(if boolean { b"true" } else { b"false" });
                return Ok(Wrote::Done);
            } else if class == classes.bigint {
                return Err(bigint_error(ctx));
            } else if class == classes.raw_json {
                // SAFETY: a property read on a live object.
                let raw = Owned::new(ctx, unsafe {
                    qjs::JS_GetProperty(ctx, value.value, intrinsics.raw_json)
                })?;
                let text = Utf8::of(ctx, raw.value)?;
                self.out.extend_from_slice(text.bytes());
                return Ok(Wrote::Done);
            }
        }
        match value.tag() {
            qjs::JS_TAG_NULL => self.out.extend_from_slice(b"null"),
            qjs::JS_TAG_BOOL => {
                // SAFETY: reading a boolean.
                let b = unsafe { qjs::JS_VALUE_GET_BOOL(value.value) };
                self.out
                    .extend_from_slice(if b { b"true" } else { b"false" });
            }
            qjs::JS_TAG_STRING | qjs::JS_TAG_STRING_ROPE => {
                let text = Utf8::of(ctx, value.value)?;
                self.quote(&text);
            }
            // SAFETY: reading an int.
            qjs::JS_TAG_INT => push_integer(
                &mut self.out,
                i64::from(unsafe { qjs::JS_VALUE_GET_INT(value.value) }),
            ),
            qjs::JS_TAG_FLOAT64 => self.number(&value),
            qjs::JS_TAG_BIG_INT | qjs::JS_TAG_SHORT_BIG_INT => return Err(bigint_error(ctx)),
            qjs::JS_TAG_OBJECT => {
                // SAFETY: a type test on a live value.
                if unsafe { qjs::JS_IsFunction(ctx, value.value) } {
                    return Ok(Wrote::Nothing);
                }
                self.open(value)?;
                return Ok(Wrote::Opened);
            }
            _ => return Ok(Wrote::Nothing),
        }
        Ok(Wrote::Done)
    }

    /// A finite number as Number::toString writes it; others as `null`.
    fn number(&mut self, value: &Owned) {
        // SAFETY: reading a float.
        let n = unsafe { qjs::JS_VALUE_GET_FLOAT64(value.value) };
        if !n.is_finite() {
            self.out.extend_from_slice(b"null");
        } else if n.fract() == 0.0 && n.abs() < 9.0e15 {
            // Exact as an integer (and -0 is "0").
            push_integer(&mut self.out, n as i64);
        } else {
            push_float(&mut self.out, n);
        }
    }

    /// SerializeJSONObject and SerializeJSONArray, up to their members:
    /// the cycle check, the opening bracket, and the keys.
    fn open(&mut self, object: Owned) -> Result<(), JsError> {
        let ctx = self.ctx;
        // SAFETY: reading the address of a live object.
        let address = unsafe { qjs::JS_VALUE_GET_PTR(object.value) } as usize;
        let level = self.frames.len();
        let scanned = &self.frames[..level.min(SCANNED_LEVELS)];
        // SAFETY: reading the addresses of live objects.
        let cyclic = scanned
            .iter()
            .any(|f| (unsafe { qjs::JS_VALUE_GET_PTR(f.object.value) } as usize) == address)
            || self.deep.contains(&address);
        if cyclic {
            return Err(throw_type(
                ctx,
                c"JSON.stringify: the value is circular (an object contains itself)",
            ));
        }
        let keys = if is_array(ctx, object.value)? {
            let mut len = 0;
            // SAFETY: LengthOfArrayLike on a live object.
            if unsafe { qjs::JS_GetLength(ctx, object.value, &mut len) } < 0 {
                return Err(JsError::Exception);
            }
            self.out.push(b'[');
            Keys::Array(len)
        } else if self.has_list {
            self.out.push(b'{');
            Keys::List
        } else {
            let mut tab = std::ptr::null_mut();
            let mut len = 0;
            let flags = (qjs::JS_GPN_STRING_MASK | qjs::JS_GPN_ENUM_ONLY) as i32;
            // SAFETY: EnumerableOwnProperties' keys; the table is freed with the frame.
            if unsafe { qjs::JS_GetOwnPropertyNames(ctx, &mut tab, &mut len, object.value, flags) }
                < 0
            {
                return Err(JsError::Exception);
            }
            self.out.push(b'{');
            Keys::Own(tab, len)
        };
        if level >= SCANNED_LEVELS {
            self.deep.insert(address);
        }
        self.indent.extend_from_slice(&self.gap);
        self.frames.push(Frame {
            object,
            keys,
            next: 0,
            any: false,
        });
        Ok(())
    }

    /// QuoteJSONString of WTF-8 text.
    fn quote(&mut self, text: &Utf8) {
        quote_into(&mut self.out, text.bytes());
    }

    /// A member's key, quoted: from the cache, or quoted once and cached
    /// (objects of one shape repeat their keys). The cache holds a
    /// reference to each atom, so an id is never reused while cached.
    fn key(&mut self, atom: qjs::JSAtom) -> Result<(), JsError> {
        if let Some(&(start, end)) = self.keys.get(&atom) {
            self.out.extend_from_slice(&self.key_text[start..end]);
            return Ok(());
        }
        let ctx = self.ctx;
        // SAFETY: the atom is alive (held by the frame or the list).
        let name = Owned::new(ctx, unsafe { qjs::JS_AtomToString(ctx, atom) })?;
        let start = self.key_text.len();
        quote_into(&mut self.key_text, Utf8::of(ctx, name.value)?.bytes());
        let end = self.key_text.len();
        // SAFETY: a new reference, freed when the serializer is dropped.
        unsafe { qjs::JS_DupAtom(ctx, atom) };
        self.keys.insert(atom, (start, end));
        self.out.extend_from_slice(&self.key_text[start..end]);
        Ok(())
    }
}

/// The bytes QuoteJSONString must escape: controls, `"`, `\`, and the
/// first byte of a surrogate's three-byte sequence (0xED), which is
/// checked further.
const SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0xed] = true;
    table
};

/// QuoteJSONString of WTF-8 text, appended to `out`.
fn quote_into(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !SPECIAL[b as usize] {
            i += 1;
            continue;
        }
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0xed if i + 2 < bytes.len() && bytes[i + 1] >= 0xa0 => {
                // A lone surrogate (U+D800 to U+DFFF in three bytes).
                out.extend_from_slice(&bytes[run..i]);
                let unit =
                    0xd000 | (u32::from(bytes[i + 1] & 0x3f) << 6) | u32::from(bytes[i + 2] & 0x3f);
                push_unicode_escape(out, unit);
                i += 3;
                run = i;
                continue;
            }
            0xed => {
                i += 1;
                continue;
            }
            _ => {
                out.extend_from_slice(&bytes[run..i]);
                push_unicode_escape(out, u32::from(b));
                i += 1;
                run = i;
                continue;
            }
        };
        out.extend_from_slice(&bytes[run..i]);
        out.extend_from_slice(escape);
        i += 1;
        run = i;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// IsArray, seeing through proxies (a revoked one throws).
fn is_array(ctx: *mut qjs::JSContext, value: qjs::JSValue) -> Result<bool, JsError> {
    // SAFETY: type tests on live values; targets are owned and freed.
    unsafe {
        if qjs::JS_IsArray(value) {
            return Ok(true);
        }
        if !qjs::JS_IsProxy(value) {
            return Ok(false);
        }
        let mut target = Owned::new(ctx, qjs::JS_GetProxyTarget(ctx, value))?;
        loop {
            if qjs::JS_IsArray(target.value) {
                return Ok(true);
            }
            if !qjs::JS_IsProxy(target.value) {
                return Ok(false);
            }
            target = Owned::new(ctx, qjs::JS_GetProxyTarget(ctx, target.value))?;
        }
    }
}

fn throw_type(ctx: *mut qjs::JSContext, message: &std::ffi::CStr) -> JsError {
    // SAFETY: "%s" with a NUL-terminated string.
    unsafe { qjs::JS_ThrowTypeError(ctx, c"%s".as_ptr(), message.as_ptr()) };
    JsError::Exception
}

fn throw_range(ctx: *mut qjs::JSContext, message: &std::ffi::CStr) -> JsError {
    // SAFETY: "%s" with a NUL-terminated string.
    unsafe { qjs::JS_ThrowRangeError(ctx, c"%s".as_ptr(), message.as_ptr()) };
    JsError::Exception
}

fn bigint_error(ctx: *mut qjs::JSContext) -> JsError {
    throw_type(
        ctx,
        c"JSON.stringify: a BigInt value cannot be serialized to JSON",
    )
}

/// `\uXXXX` with lower-case hex digits, as the standard writes them.
fn push_unicode_escape(out: &mut Vec<u8>, unit: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((unit >> shift) & 0xf) as usize]);
    }
}

/// The decimal digits of an integer.
fn push_integer(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    let mut magnitude = n.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// A finite number as ECMA-262's Number::toString writes it. Rust's `{:e}`
/// gives the same digits (the shortest that round-trip, the closest when
/// several do) in scientific form, which this lays out as JavaScript does:
/// plain from 1e-7 up to 1e21, with an exponent beyond.
fn push_float(out: &mut Vec<u8>, n: f64) {
    use std::io::Write;
    let mut scientific = [0u8; 40];
    let len = {
        let mut cursor = std::io::Cursor::new(&mut scientific[..]);
        if write!(cursor, "{n:e}").is_err() {
            return;
        }
        cursor.position() as usize
    };
    let text = &scientific[..len];
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let Some(e) = text.iter().position(|&b| b == b'e') else {
        return;
    };
    let digits: Vec<u8> = text[..e].iter().copied().filter(|&b| b != b'.').collect();
    let exponent: i32 = std::str::from_utf8(&text[e + 1..])
        .ok()
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    // The value is 0.d1d2...dk × 10^point.
    let k = digits.len() as i32;
    let point = exponent + 1;
    if negative {
        out.push(b'-');
    }
    if k <= point && point <= 21 {
        out.extend_from_slice(&digits);
        out.resize(out.len() + (point - k) as usize, b'0');
    } else if 0 < point && point <= 21 {
        out.extend_from_slice(&digits[..point as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[point as usize..]);
    } else if -6 < point && point <= 0 {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + (-point) as usize, b'0');
        out.extend_from_slice(&digits);
    } else {
        out.push(digits[0]);
        if k > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if point - 1 < 0 { b'-' } else { b'+' });
        push_integer(out, i64::from((point - 1).abs()));
    }
}
