//! Encodings (the WHATWG Encoding standard, on `encoding_rs`) and
//! forgiving-base64 (HTML's `atob` and `btoa`): the native half of
//! `js/32_encoding.js`.
//!
//! JavaScript strings reach Rust as QuickJS gives them out: UTF-8, except
//! that a lone surrogate comes as its three-byte generalised-UTF-8 form
//! (`ED A0..BF xx`). Web IDL's USVString conversion replaces each with
//! U+FFFD (`EF BF BD`, also three bytes), which [`wtf8_to_utf8`] does.

use std::slice;

use encoding_rs::{CoderResult, Decoder, DecoderResult, Encoding, UTF_8};
use javy_plugin_api::javy::quickjs::class::{JsClass, Trace, Tracer, Writable};
use javy_plugin_api::javy::quickjs::{
    Class, Ctx, Error as JsError, Exception, JsLifetime, Object, String as JsString, TypedArray,
};

/// `flags` of [`decode`] and [`decoder_new`]: TextDecoder's options.
const FATAL: i32 = 1;
const IGNORE_BOM: i32 = 2;

/// `host.encodingFor(label)`: the name (lower case, as `TextDecoder.encoding`
/// gives it) of the encoding `label` stands for, or undefined for an unknown
/// label and for the replacement encoding, which TextDecoder refuses.
pub fn encoding_for(label: JsString<'_>) -> Result<Option<String>, JsError> {
    with_wtf8(&label, |label| {
        Encoding::for_label_no_replacement(label).map(|e| e.name().to_ascii_lowercase())
    })
}

fn encoding_named<'js>(ctx: &Ctx<'js>, name: &str) -> Result<&'static Encoding, JsError> {
    Encoding::for_label(name.as_bytes())
        .ok_or_else(|| Exception::throw_range(ctx, &format!("unknown encoding {name:?}")))
}

fn bytes_of<'a>(ctx: &Ctx<'_>, array: &'a TypedArray<'_, u8>) -> Result<&'a [u8], JsError> {
    array
        .as_bytes()
        .ok_or_else(|| Exception::throw_type(ctx, "the buffer is detached"))
}

fn invalid<'js>(ctx: &Ctx<'js>, encoding: &'static Encoding) -> JsError {
    Exception::throw_type(
        ctx,
        &format!(
            "the encoded data is not valid {}",
            encoding.name().to_ascii_lowercase()
        ),
    )
}

fn too_long<'js>(ctx: &Ctx<'js>) -> JsError {
    Exception::throw_range(ctx, "the data is too long to decode")
}

/// `host.decode(encoding, bytes, flags)`: TextDecoder's `decode` when no
/// stream is in progress, in one call. `encoding` is a name
/// [`encoding_for`] gave. UTF-8, by far the most common, is validated in
/// place and copied once, into the JavaScript string.
pub fn decode<'js>(
    ctx: Ctx<'js>,
    encoding: String,
    bytes: TypedArray<'js, u8>,
    flags: i32,
) -> Result<JsString<'js>, JsError> {
    let input = bytes_of(&ctx, &bytes)?;
    let encoding = encoding_named(&ctx, &encoding)?;
    if encoding == UTF_8 {
        let input = match input {
            [0xEF, 0xBB, 0xBF, rest @ ..] if flags & IGNORE_BOM == 0 => rest,
            _ => input,
        };
        return match std::str::from_utf8(input) {
            Ok(text) => JsString::from_str(ctx, text),
            Err(_) if flags & FATAL != 0 => Err(invalid(&ctx, UTF_8)),
            // The standard's replacement of each maximal invalid subpart.
            Err(_) => JsString::from_str(ctx.clone(), &String::from_utf8_lossy(input)),
        };
    }
    let mut decoder = if flags & IGNORE_BOM != 0 {
        encoding.new_decoder_without_bom_handling()
    } else {
        encoding.new_decoder_with_bom_removal()
    };
    let text = decode_with(&ctx, &mut decoder, input, true, flags & FATAL != 0)?;
    JsString::from_str(ctx, &text)
}

/// Decodes `input` with `decoder`, all of it (`last`: and flushes what the
/// decoder holds back). With `fatal`, malformed input is a TypeError.
fn decode_with<'js>(
    ctx: &Ctx<'js>,
    decoder: &mut Decoder,
    input: &[u8],
    last: bool,
    fatal: bool,
) -> Result<String, JsError> {
    let encoding = decoder.encoding();
    if fatal {
        let capacity = decoder
            .max_utf8_buffer_length_without_replacement(input.len())
            .ok_or_else(|| too_long(ctx))?;
        let mut text = String::with_capacity(capacity);
        let (result, _) = decoder.decode_to_string_without_replacement(input, &mut text, last);
        return match result {
            DecoderResult::InputEmpty => Ok(text),
            DecoderResult::Malformed(..) => Err(invalid(ctx, encoding)),
            // The capacity is the decoder's own upper bound.
            DecoderResult::OutputFull => Err(too_long(ctx)),
        };
    }
    let capacity = decoder
        .max_utf8_buffer_length(input.len())
        .ok_or_else(|| too_long(ctx))?;
    let mut text = String::with_capacity(capacity);
    let (result, _, _) = decoder.decode_to_string(input, &mut text, last);
    match result {
        CoderResult::InputEmpty => Ok(text),
        CoderResult::OutputFull => Err(too_long(ctx)),
    }
}

/// A decoder in the middle of a stream (`decode(bytes, {stream: true})`):
/// its state, such as a multi-byte sequence cut between two chunks or
/// ISO-2022-JP's mode, carries over to the next call.
pub struct StreamDecoder {
    decoder: Decoder,
    fatal: bool,
}

// SAFETY: holds no JavaScript values, so it is the same type at any lifetime.
unsafe impl<'js> JsLifetime<'js> for StreamDecoder {
    type Changed<'to> = StreamDecoder;
}

impl<'js> Trace<'js> for StreamDecoder {
    fn trace<'a>(&self, _tracer: Tracer<'a, 'js>) {}
}

impl<'js> JsClass<'js> for StreamDecoder {
    const NAME: &'static str = "TextDecoderStreamState";
    type Mutable = Writable;

    fn prototype(_ctx: &Ctx<'js>) -> Result<Option<Object<'js>>, JsError> {
        Ok(None)
    }

    fn constructor(
        _ctx: &Ctx<'js>,
    ) -> Result<Option<javy_plugin_api::javy::quickjs::function::Constructor<'js>>, JsError> {
        Ok(None)
    }
}

/// `host.decoderNew(encoding, flags)`: the state of a stream, which the
/// prelude keeps in the TextDecoder while the stream lasts.
pub fn decoder_new<'js>(
    ctx: Ctx<'js>,
    encoding: String,
    flags: i32,
) -> Result<Class<'js, StreamDecoder>, JsError> {
    let encoding = encoding_named(&ctx, &encoding)?;
    let decoder = if flags & IGNORE_BOM != 0 {
        encoding.new_decoder_without_bom_handling()
    } else {
        encoding.new_decoder_with_bom_removal()
    };
    Class::instance(
        ctx,
        StreamDecoder {
            decoder,
            fatal: flags & FATAL != 0,
        },
    )
}

/// `host.decoderDecode(state, bytes, last)`: the next chunk of a stream;
/// `last` ends it (what the decoder held back comes out, or is an error).
pub fn decoder_decode<'js>(
    ctx: Ctx<'js>,
    state: Class<'js, StreamDecoder>,
    bytes: TypedArray<'js, u8>,
    last: bool,
) -> Result<JsString<'js>, JsError> {
    let input = bytes_of(&ctx, &bytes)?;
    let text = {
        let mut state = state
            .try_borrow_mut()
            .map_err(|_| Exception::throw_type(&ctx, "the decoder is busy"))?;
        let fatal = state.fatal;
        decode_with(&ctx, &mut state.decoder, input, last, fatal)?
    };
    JsString::from_str(ctx, &text)
}

/// `host.decodeSniffed(bytes, label)`: the Encoding standard's "decode",
/// for response bodies: a BOM decides the encoding, else the one `label`
/// (a Content-Type charset, or null) stands for, else UTF-8. Errors are
/// replaced, never thrown.
pub fn decode_sniffed<'js>(
    ctx: Ctx<'js>,
    bytes: TypedArray<'js, u8>,
    label: Option<String>,
) -> Result<JsString<'js>, JsError> {
    let input = bytes_of(&ctx, &bytes)?;
    let fallback = label
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .unwrap_or(UTF_8);
    let (text, _, _) = fallback.decode(input);
    JsString::from_str(ctx, &text)
}

/// Runs `f` on the string's generalised UTF-8 (QuickJS's own conversion,
/// which keeps lone surrogates).
fn with_wtf8<'js, R>(text: &JsString<'js>, f: impl FnOnce(&[u8]) -> R) -> Result<R, JsError> {
    let c = text.clone().to_cstring()?;
    // SAFETY: QuickJS's buffer of `c.len()` bytes, alive as long as `c`.
    let bytes = unsafe { slice::from_raw_parts(c.as_ptr().cast::<u8>(), c.len()) };
    Ok(f(bytes))
}

/// Whether `bytes` holds a lone surrogate (`ED A0..BF xx`).
fn has_surrogate(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w[0] == 0xED && w[1] >= 0xA0)
}

/// `bytes` with every lone surrogate replaced by U+FFFD (the same length).
fn wtf8_to_utf8(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i + 2 < out.len() {
        if out[i] == 0xED && out[i + 1] >= 0xA0 {
            out[i..i + 3].copy_from_slice(&[0xEF, 0xBF, 0xBD]);
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

/// `host.encode(text)`: TextEncoder's `encode`, a new Uint8Array of UTF-8.
pub fn encode<'js>(ctx: Ctx<'js>, text: JsString<'js>) -> Result<TypedArray<'js, u8>, JsError> {
    let bytes = with_wtf8(&text, |bytes| {
        if has_surrogate(bytes) {
            wtf8_to_utf8(bytes)
        } else {
            bytes.to_vec()
        }
    })?;
    TypedArray::new(ctx, bytes)
}

/// `host.encodeInto(text, length, destination)`: TextEncoder's
/// `encodeInto`: as many whole characters as fit, and `{read, written}`,
/// `read` counted in UTF-16 code units (`length` is the string's).
pub fn encode_into<'js>(
    ctx: Ctx<'js>,
    text: JsString<'js>,
    length: u32,
    destination: TypedArray<'js, u8>,
) -> Result<Object<'js>, JsError> {
    let raw = destination
        .as_raw()
        .ok_or_else(|| Exception::throw_type(&ctx, "the destination's buffer is detached"))?;
    // SAFETY: the destination's bytes, alive while `destination` is; the
    // source is a QuickJS string, never inside an ArrayBuffer.
    let out = unsafe { slice::from_raw_parts_mut(raw.ptr.as_ptr(), raw.len) };
    let (read, written) = with_wtf8(&text, |bytes| {
        if bytes.len() <= out.len() && !has_surrogate(bytes) {
            out[..bytes.len()].copy_from_slice(bytes);
            return (length as usize, bytes.len());
        }
        let (mut read, mut written, mut i) = (0usize, 0usize, 0usize);
        while i < bytes.len() {
            let lead = bytes[i];
            let (size, units) = match lead {
                0x00..=0x7F => (1, 1),
                0xC0..=0xDF => (2, 1),
                0xE0..=0xEF => (3, 1),
                _ => (4, 2),
            };
            let Some(sequence) = bytes.get(i..i + size) else {
                break;
            };
            if written + size > out.len() {
                break;
            }
            if size == 3 && lead == 0xED && sequence[1] >= 0xA0 {
                out[written..written + 3].copy_from_slice(&[0xEF, 0xBF, 0xBD]);
            } else {
                out[written..written + size].copy_from_slice(sequence);
            }
            i += size;
            read += units;
            written += size;
        }
        (read, written)
    })?;
    let result = Object::new(ctx)?;
    result.set("read", read as u32)?;
    result.set("written", written as u32)?;
    Ok(result)
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `host.btoa(text)`: base64 of a string whose characters are all below
/// U+0100 (each is one byte), or undefined if one is not.
pub fn btoa(text: JsString<'_>) -> Result<Option<String>, JsError> {
    with_wtf8(&text, |utf8| {
        let mut bytes = Vec::with_capacity(utf8.len());
        let mut i = 0;
        while i < utf8.len() {
            match utf8[i] {
                b @ 0x00..=0x7F => {
                    bytes.push(b);
                    i += 1;
                }
                // U+0080..U+00FF: two bytes, C2 or C3 then a continuation.
                lead @ (0xC2 | 0xC3) if i + 1 < utf8.len() => {
                    bytes.push(((lead & 0x03) << 6) | (utf8[i + 1] & 0x3F));
                    i += 2;
                }
                _ => return None,
            }
        }
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let n = (u32::from(chunk[0]) << 16)
                | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                | u32::from(*chunk.get(2).unwrap_or(&0));
            for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
                if k <= chunk.len() {
                    out.push(char::from(BASE64[((n >> shift) & 0x3F) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        Some(out)
    })
}

/// `host.atob(text)`: HTML's forgiving-base64 decode, the bytes as a string
/// of characters U+0000..U+00FF, or undefined if `text` is not base64.
pub fn atob(text: JsString<'_>) -> Result<Option<String>, JsError> {
    with_wtf8(&text, |input| {
        let mut digits: Vec<u8> = input
            .iter()
            .copied()
            .filter(|b| !matches!(b, b'\t' | b'\n' | 0x0C | b'\r' | b' '))
            .collect();
        if digits.len() % 4 == 0 {
            for _ in 0..2 {
                if digits.last() == Some(&b'=') {
                    digits.pop();
                }
            }
        }
        if digits.len() % 4 == 1 {
            return None;
        }
        let mut out = String::with_capacity(digits.len() / 4 * 3 + 2);
        let (mut buffer, mut bits) = (0u32, 0u32);
        for digit in digits {
            let value = match digit {
                b'A'..=b'Z' => digit - b'A',
                b'a'..=b'z' => digit - b'a' + 26,
                b'0'..=b'9' => digit - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            };
            buffer = (buffer << 6) | u32::from(value);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push(char::from(((buffer >> bits) & 0xFF) as u8));
            }
        }
        Some(out)
    })
}
