//! `URLPattern`: the native half of `js/38_urlpattern.js`, on the
//! `urlpattern` crate (the URL Pattern standard; Deno's implementation).
//!
//! The crate's regular expressions are ECMAScript ones, run here by
//! QuickJS's own engine (`libregexp`, already in the runtime), so a
//! pattern's `(\d+)` means what it means in a charm's RegExp, and the
//! `regex` crate is never linked. A pattern is kept on the JavaScript side
//! as its constructor's arguments and compiled again for each `test` or
//! `exec`: nothing native outlives a call, so nothing can leak.

use std::borrow::Cow;
use std::cell::Cell;
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

use javy_plugin_api::javy::quickjs::{qjs, Ctx, Error as JsError, Exception, FromJs, Value};
use urlpattern::quirks::{self, StringOrInit};
use urlpattern::regexp::RegExp;
use urlpattern::{RegexSyntax, UrlPattern, UrlPatternInit, UrlPatternOptions};

// libregexp (vendored by rquickjs-sys, linked into the runtime). Its
// allocation, stack and interrupt callbacks take the JSContext as `opaque`.
extern "C" {
    fn lre_compile(
        plen: *mut c_int,
        error_msg: *mut c_char,
        error_msg_size: c_int,
        buf: *const c_char,
        buf_len: usize,
        re_flags: c_int,
        opaque: *mut c_void,
    ) -> *mut u8;
    fn lre_get_capture_count(bc_buf: *const u8) -> c_int;
    fn lre_exec(
        capture: *mut *mut u8,
        bc_buf: *const u8,
        cbuf: *const u8,
        cindex: c_int,
        clen: c_int,
        cbuf_type: c_int,
        opaque: *mut c_void,
    ) -> c_int;
    fn lre_realloc(opaque: *mut c_void, ptr: *mut c_void, size: usize) -> *mut c_void;
}

const LRE_FLAG_IGNORECASE: c_int = 1 << 1;
const LRE_FLAG_UNICODE: c_int = 1 << 4;
const LRE_FLAG_UNICODE_SETS: c_int = 1 << 8;
/// `lre_exec`'s subject is UTF-16 (the `u` and `v` modes read it as code
/// points).
const CBUF_UTF16: c_int = 1;

thread_local! {
    /// The context of the op being run: libregexp's `opaque`.
    static JS_CONTEXT: Cell<*mut qjs::JSContext> = const { Cell::new(ptr::null_mut()) };
}

/// Makes `ctx` the context libregexp uses until the guard is dropped.
fn enter(ctx: &Ctx<'_>) -> impl Drop {
    struct Guard(*mut qjs::JSContext);
    impl Drop for Guard {
        fn drop(&mut self) {
            JS_CONTEXT.with(|c| c.set(self.0));
        }
    }
    let previous = JS_CONTEXT.with(|c| c.replace(ctx.as_raw().as_ptr()));
    Guard(previous)
}

/// An ECMAScript regular expression compiled by QuickJS's engine.
#[derive(Debug)]
struct QuickJsRegExp {
    source: String,
    bytecode: Vec<u8>,
}

impl RegExp for QuickJsRegExp {
    fn syntax() -> RegexSyntax {
        RegexSyntax::EcmaScript
    }

    fn parse(pattern: &str, flags: &str, _force_eval: bool) -> Result<Self, ()> {
        let opaque = JS_CONTEXT.with(Cell::get).cast::<c_void>();
        if opaque.is_null() {
            return Err(());
        }
        let mut re_flags = 0;
        for flag in flags.chars() {
            re_flags |= match flag {
                'i' => LRE_FLAG_IGNORECASE,
                'u' => LRE_FLAG_UNICODE,
                'v' => LRE_FLAG_UNICODE_SETS,
                _ => return Err(()),
            };
        }
        let mut len: c_int = 0;
        let mut error = [0 as c_char; 64];
        // libregexp looks ahead past the pattern's end: it must end in NUL,
        // as QuickJS's own strings do.
        let mut source = Vec::with_capacity(pattern.len() + 1);
        source.extend_from_slice(pattern.as_bytes());
        source.push(0);
        // SAFETY: the pattern and error buffers are alive for the call, and
        // `opaque` is the live context of the op that called us (`enter`).
        let compiled = unsafe {
            lre_compile(
                &mut len,
                error.as_mut_ptr(),
                error.len() as c_int,
                source.as_ptr().cast(),
                pattern.len(),
                re_flags,
                opaque,
            )
        };
        if compiled.is_null() {
            return Err(());
        }
        let bytecode = usize::try_from(len)
            .ok()
            // SAFETY: libregexp returned `len` bytes at `compiled`.
            .map(|len| unsafe { std::slice::from_raw_parts(compiled, len) }.to_vec());
        // SAFETY: `compiled` came from lre_realloc with this context; size 0 frees.
        unsafe { lre_realloc(opaque, compiled.cast(), 0) };
        Ok(QuickJsRegExp {
            source: pattern.to_owned(),
            bytecode: bytecode.ok_or(())?,
        })
    }

    fn matches<'a>(&self, text: &'a str) -> Option<Vec<Option<&'a str>>> {
        let opaque = JS_CONTEXT.with(Cell::get).cast::<c_void>();
        if opaque.is_null() {
            return None;
        }
        // The subject as UTF-16, and the byte offset in `text` of each unit.
        let mut units: Vec<u16> = Vec::with_capacity(text.len());
        let mut offsets: Vec<usize> = Vec::with_capacity(text.len() + 1);
        for (at, c) in text.char_indices() {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                units.push(*unit);
                offsets.push(at);
            }
        }
        offsets.push(text.len());
        // SAFETY: the bytecode is a whole program from lre_compile.
        let count = usize::try_from(unsafe { lre_get_capture_count(self.bytecode.as_ptr()) }).ok()?;
        let mut capture: Vec<*mut u8> = vec![ptr::null_mut(); count * 2];
        let base = units.as_ptr().cast::<u8>();
        // SAFETY: `capture` has room for every group's start and end, the
        // subject is `units.len()` UTF-16 units, and `opaque` is live.
        let found = unsafe {
            lre_exec(
                capture.as_mut_ptr(),
                self.bytecode.as_ptr(),
                base,
                0,
                c_int::try_from(units.len()).ok()?,
                CBUF_UTF16,
                opaque,
            )
        };
        if found != 1 {
            return None;
        }
        let index = |p: *mut u8| -> Option<usize> {
            let bytes = (p as usize).checked_sub(base as usize)?;
            offsets.get(bytes / 2).copied()
        };
        let groups = (1..count)
            .map(|i| {
                let (start, end) = (capture[2 * i], capture[2 * i + 1]);
                if start.is_null() || end.is_null() {
                    return None;
                }
                text.get(index(start)?..index(end)?)
            })
            .collect();
        Some(groups)
    }

    fn pattern_string(&self) -> &str {
        &self.source
    }
}

/// The fields of a URLPatternInit, in the order `js/38_urlpattern.js`
/// sends them.
const INIT_FIELDS: usize = 9;

/// A URLPatternInput from JavaScript: a string, or the init's nine fields
/// (protocol, username, password, hostname, port, pathname, search, hash,
/// baseURL; each a string or undefined).
fn input<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Result<StringOrInit<'static>, JsError> {
    if let Some(text) = value.as_string() {
        return Ok(StringOrInit::String(Cow::Owned(text.to_string()?)));
    }
    let fields = Vec::<Option<String>>::from_js(ctx, value)?;
    let [protocol, username, password, hostname, port, pathname, search, hash, base_url]: [Option<String>;
        INIT_FIELDS] = fields
        .try_into()
        .map_err(|_| Exception::throw_type(ctx, "URLPattern: malformed init"))?;
    Ok(StringOrInit::Init(quirks::UrlPatternInit {
        protocol,
        username,
        password,
        hostname,
        port,
        pathname,
        search,
        hash,
        base_url,
    }))
}

fn type_error(ctx: &Ctx<'_>, error: urlpattern::Error) -> JsError {
    Exception::throw_type(ctx, &format!("URLPattern: {error}"))
}

/// The standard's "initialize" of a URLPattern: the input (and base URL)
/// turned into a pattern.
fn compile<'js>(
    ctx: &Ctx<'js>,
    pattern: Value<'js>,
    base: Option<String>,
    ignore_case: bool,
) -> Result<UrlPattern<QuickJsRegExp>, JsError> {
    let init = match input(ctx, pattern)? {
        StringOrInit::String(text) => {
            let base = base
                .map(|b| url::Url::parse(&b))
                .transpose()
                .map_err(|e| type_error(ctx, urlpattern::Error::Url(e)))?;
            UrlPatternInit::parse_constructor_string::<QuickJsRegExp>(&text, base).map_err(|e| type_error(ctx, e))?
        }
        StringOrInit::Init(init) => {
            if base.is_some() {
                return Err(type_error(ctx, urlpattern::Error::BaseUrlWithInit));
            }
            let base_url = init
                .base_url
                .map(|b| url::Url::parse(&b))
                .transpose()
                .map_err(|e| type_error(ctx, urlpattern::Error::Url(e)))?;
            UrlPatternInit {
                protocol: init.protocol,
                username: init.username,
                password: init.password,
                hostname: init.hostname,
                port: init.port,
                pathname: init.pathname,
                search: init.search,
                hash: init.hash,
                base_url,
            }
        }
    };
    let options = UrlPatternOptions {
        ignore_case,
        ..UrlPatternOptions::default()
    };
    UrlPattern::parse(init, options).map_err(|e| type_error(ctx, e))
}

/// `host.urlPatternParse(input, base?, ignoreCase) -> [protocol, username,
/// password, hostname, port, pathname, search, hash, hasRegExpGroups]`:
/// the pattern's normalised component strings, and "true" or "false"; a
/// TypeError if the input is not a valid pattern.
pub fn url_pattern_parse<'js>(
    ctx: Ctx<'js>,
    pattern: Value<'js>,
    base: Option<String>,
    ignore_case: bool,
) -> Result<Vec<String>, JsError> {
    let _context = enter(&ctx);
    let p = compile(&ctx, pattern, base, ignore_case)?;
    let mut strings: Vec<String> = [
        p.protocol(),
        p.username(),
        p.password(),
        p.hostname(),
        p.port(),
        p.pathname(),
        p.search(),
        p.hash(),
    ]
    .map(str::to_owned)
    .to_vec();
    strings.push(p.has_regexp_groups().to_string());
    Ok(strings)
}

/// `host.urlPatternExec(pattern, patternBase?, ignoreCase, input, inputBase?)
/// -> null | [[input, name, value, name, value, ...] x 8]`: the match of
/// `input` per component (protocol first, hash last), each with its named
/// groups in the pattern's order (an unmatched optional group's value is
/// null).
pub fn url_pattern_exec<'js>(
    ctx: Ctx<'js>,
    pattern: Value<'js>,
    pattern_base: Option<String>,
    ignore_case: bool,
    target: Value<'js>,
    target_base: Option<String>,
) -> Result<Option<Vec<Vec<Option<String>>>>, JsError> {
    let _context = enter(&ctx);
    let p = compile(&ctx, pattern, pattern_base, ignore_case)?;
    let target = input(&ctx, target)?;
    let Some((match_input, _)) =
        quirks::process_match_input(target, target_base.as_deref()).map_err(|e| type_error(&ctx, e))?
    else {
        return Ok(None);
    };
    let Some(result) = p.exec(match_input).map_err(|e| type_error(&ctx, e))? else {
        return Ok(None);
    };
    let parts = [
        (&p.protocol, result.protocol),
        (&p.username, result.username),
        (&p.password, result.password),
        (&p.hostname, result.hostname),
        (&p.port, result.port),
        (&p.pathname, result.pathname),
        (&p.search, result.search),
        (&p.hash, result.hash),
    ];
    let components = parts
        .into_iter()
        .map(|(component, mut matched)| {
            let mut flat = vec![Some(matched.input)];
            for name in &component.group_name_list {
                flat.push(Some(name.clone()));
                flat.push(matched.groups.remove(name).flatten());
            }
            flat
        })
        .collect();
    Ok(Some(components))
}
