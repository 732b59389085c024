// TextEncoder and TextDecoder (WHATWG Encoding standard: every encoding of
// its label table, on encoding_rs), atob and btoa (HTML's forgiving-base64),
// MIME types (the MIME Sniffing standard's parser and serialiser, and
// fetch's "extract a MIME type"), and the decoding of response bodies by
// their charset (fetch's `internals.decodeText` hook).
(function (internals) {
  "use strict";
  const host = internals.host;
  const { DOMException } = internals;

  // --- Buffer sources and the class of an object ---

  // QuickJS's class ids, learnt from objects of each kind (ops/clone.rs).
  const KINDS = new Map();
  const learn = (value, kind) => KINDS.set(host.classId(value), kind);
  learn({}, "Object");
  learn((function () { return arguments; })(), "Object");
  learn([], "Array");
  learn(new Error(), "Error");
  learn(new Number(0), "Number");
  learn(new String(""), "String");
  learn(new Boolean(false), "Boolean");
  learn(Object(0n), "BigInt");
  learn(Object(Symbol()), "Symbol");
  learn(new Date(0), "Date");
  learn(/a/, "RegExp");
  learn(new ArrayBuffer(0), "ArrayBuffer");
  if (typeof SharedArrayBuffer === "function") learn(new SharedArrayBuffer(0), "SharedArrayBuffer");
  const TYPED_ARRAYS = {};
  for (const name of [
    "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array",
    "Uint32Array", "Float16Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
  ]) {
    const Type = globalThis[name];
    if (typeof Type !== "function") continue;
    TYPED_ARRAYS[name] = Type;
    learn(new Type(0), "TypedArray");
  }
  learn(new DataView(new ArrayBuffer(0)), "DataView");
  learn(new Map(), "Map");
  learn(new Set(), "Set");
  // The built-in kind of an object by its internal slots ("Date", "Map",
  // "TypedArray", ...), or undefined for anything else (a Proxy, a
  // Promise, a WeakMap, a function, ...).
  internals.classOf = (value) => KINDS.get(host.classId(value));
  internals.typedArrays = TYPED_ARRAYS;

  const typedArrayName = Object.getOwnPropertyDescriptor(
    Object.getPrototypeOf(Uint8Array.prototype),
    Symbol.toStringTag,
  ).get;
  internals.typedArrayName = (value) => typedArrayName.call(value);
  const isView = ArrayBuffer.isView;
  const EMPTY = new Uint8Array(0);

  // Whether `value` is a BufferSource (an ArrayBuffer or a view of one).
  function isBufferSource(value) {
    if (isView(value)) return true;
    if (typeof value !== "object" || value === null) return false;
    const kind = internals.classOf(value);
    return kind === "ArrayBuffer" || kind === "SharedArrayBuffer";
  }
  // The bytes of a BufferSource as a Uint8Array over the same memory (no
  // copy); a TypeError for anything else.
  function bufferSourceBytes(value, what) {
    if (typedArrayName.call(value) === "Uint8Array") return value;
    if (isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (isBufferSource(value)) return new Uint8Array(value);
    throw new TypeError(`${what}: expected an ArrayBuffer, a typed array or a DataView`);
  }
  internals.isBufferSource = isBufferSource;
  internals.bufferSourceBytes = bufferSourceBytes;

  // Web IDL: a dictionary argument is undefined, null or an object.
  function dictionary(value, what) {
    if (value === undefined || value === null) return {};
    if (typeof value !== "object" && typeof value !== "function") {
      throw new TypeError(`${what}: the options must be an object`);
    }
    return value;
  }
  internals.dictionary = dictionary;
  // Web IDL's DOMString and USVString conversions (a Symbol is a TypeError).
  const toWellFormed = String.prototype.toWellFormed;
  internals.toDOMString = (value) => `${value}`;
  internals.toUSVString = (value) => toWellFormed.call(`${value}`);

  // --- TextEncoder and TextDecoder ---

  const FATAL = 1;
  const IGNORE_BOM = 2;

  class TextDecoder {
    #encoding;
    #flags;
    // The native decoder while a stream is in progress (decode with
    // {stream: true}); null between streams.
    #stream = null;
    constructor(label = "utf-8", options = undefined) {
      const text = `${label}`;
      const init = dictionary(options, "TextDecoder");
      const fatal = !!init.fatal;
      const ignoreBOM = !!init.ignoreBOM;
      const encoding = host.encodingFor(text);
      if (encoding === undefined) {
        throw new RangeError(`TextDecoder: ${JSON.stringify(text)} is not a supported encoding label`);
      }
      this.#encoding = encoding;
      this.#flags = (fatal ? FATAL : 0) | (ignoreBOM ? IGNORE_BOM : 0);
    }
    get encoding() {
      return this.#encoding;
    }
    get fatal() {
      return (this.#flags & FATAL) !== 0;
    }
    get ignoreBOM() {
      return (this.#flags & IGNORE_BOM) !== 0;
    }
    decode(input = undefined, options = undefined) {
      const bytes = input === undefined ? EMPTY : bufferSourceBytes(input, "TextDecoder.decode");
      const stream = options === undefined ? false : !!dictionary(options, "TextDecoder.decode").stream;
      let state = this.#stream;
      if (state === null) {
        if (!stream) return host.decode(this.#encoding, bytes, this.#flags);
        state = this.#stream = host.decoderNew(this.#encoding, this.#flags);
      }
      if (!stream) this.#stream = null;
      try {
        return host.decoderDecode(state, bytes, !stream);
      } catch (error) {
        // A fatal error ends the stream: the next call starts a new one.
        this.#stream = null;
        throw error;
      }
    }
  }
  Object.defineProperty(TextDecoder.prototype, Symbol.toStringTag, { value: "TextDecoder", configurable: true });

  class TextEncoder {
    get encoding() {
      return "utf-8";
    }
    encode(input = "") {
      return host.encode(`${input}`);
    }
    encodeInto(source, destination) {
      if (arguments.length < 2) throw new TypeError("TextEncoder.encodeInto: 2 arguments required");
      const text = `${source}`;
      if (typedArrayName.call(destination) !== "Uint8Array") {
        throw new TypeError("TextEncoder.encodeInto: the destination must be a Uint8Array");
      }
      return host.encodeInto(text, text.length, destination);
    }
  }
  Object.defineProperty(TextEncoder.prototype, Symbol.toStringTag, { value: "TextEncoder", configurable: true });

  // UTF-8 for the other families: encode a string (lone surrogates become
  // U+FFFD); decode bytes (a Uint8Array), replacing errors, with `bom`
  // true to strip a leading BOM.
  internals.encodeUtf8 = (text) => host.encode(text);
  internals.decodeUtf8 = (bytes, bom = true) => host.decode("utf-8", bytes, bom ? 0 : IGNORE_BOM);

  // --- atob and btoa ---

  function btoa(data) {
    if (arguments.length === 0) throw new TypeError("btoa: 1 argument required");
    const encoded = host.btoa(`${data}`);
    if (encoded === undefined) {
      throw new DOMException("btoa: the string has a character outside Latin-1 (above U+00FF)", "InvalidCharacterError");
    }
    return encoded;
  }
  function atob(data) {
    if (arguments.length === 0) throw new TypeError("atob: 1 argument required");
    const decoded = host.atob(`${data}`);
    if (decoded === undefined) {
      throw new DOMException("atob: the string is not correctly base64-encoded", "InvalidCharacterError");
    }
    return decoded;
  }

  // --- MIME types (MIME Sniffing standard) ---

  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const QUOTED_TOKEN = /^[\t\x20-\x7e\x80-\xff]*$/;
  const HTTP_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
  const TRAILING_HTTP_WHITESPACE = /[\t\n\r ]+$/;
  const TAB_OR_SPACE = /^[\t ]+|[\t ]+$/g;
  const isHttpWhitespace = (c) => c === " " || c === "\t" || c === "\n" || c === "\r";

  // Fetch's "collect an HTTP quoted string" from the `"` at `start`: the
  // value (escapes resolved) with `extract`, else the raw text; and the
  // position after it.
  function collectQuoted(input, start, extract) {
    let position = start + 1;
    let value = "";
    for (;;) {
      const from = position;
      while (position < input.length && input[position] !== '"' && input[position] !== "\\") position++;
      value += input.slice(from, position);
      if (position >= input.length) break;
      const quoteOrBackslash = input[position++];
      if (quoteOrBackslash === "\\") {
        if (position >= input.length) {
          value += "\\";
          break;
        }
        value += input[position++];
      } else {
        break;
      }
    }
    return [extract ? value : input.slice(start, position), position];
  }
  internals.collectQuoted = collectQuoted;

  // "Parse a MIME type": {type, subtype, parameters: Map} or null.
  function parseMimeType(text) {
    const input = `${text}`.replace(HTTP_WHITESPACE, "");
    const slash = input.indexOf("/");
    if (slash < 0) return null;
    const type = input.slice(0, slash);
    if (!TOKEN.test(type)) return null;
    let position = input.indexOf(";", slash + 1);
    if (position < 0) position = input.length;
    const subtype = input.slice(slash + 1, position).replace(TRAILING_HTTP_WHITESPACE, "");
    if (!TOKEN.test(subtype)) return null;
    const mime = { type: type.toLowerCase(), subtype: subtype.toLowerCase(), parameters: new Map() };
    while (position < input.length) {
      position++; // past ";"
      while (position < input.length && isHttpWhitespace(input[position])) position++;
      let from = position;
      while (position < input.length && input[position] !== ";" && input[position] !== "=") position++;
      const name = input.slice(from, position).toLowerCase();
      if (position < input.length) {
        if (input[position] === ";") continue;
        position++; // past "="
      }
      if (position >= input.length) break;
      let value;
      if (input[position] === '"') {
        [value, position] = collectQuoted(input, position, true);
        while (position < input.length && input[position] !== ";") position++;
      } else {
        from = position;
        while (position < input.length && input[position] !== ";") position++;
        value = input.slice(from, position).replace(TRAILING_HTTP_WHITESPACE, "");
        if (value === "") continue;
      }
      if (TOKEN.test(name) && QUOTED_TOKEN.test(value) && !mime.parameters.has(name)) {
        mime.parameters.set(name, value);
      }
    }
    return mime;
  }

  // "Serialize a MIME type".
  function serializeMimeType(mime) {
    let out = `${mime.type}/${mime.subtype}`;
    for (const [name, value] of mime.parameters) {
      const quoted = value === "" || !TOKEN.test(value);
      out += `;${name}=${quoted ? `"${value.replace(/["\\]/g, "\\$&")}"` : value}`;
    }
    return out;
  }

  // Fetch's "split" of a header value on commas outside quoted strings.
  function splitHeaderValue(input) {
    if (!input.includes('"') && !input.includes(",")) return [input.replace(TAB_OR_SPACE, "")];
    const values = [];
    let position = 0;
    let value = "";
    for (;;) {
      const from = position;
      while (position < input.length && input[position] !== '"' && input[position] !== ",") position++;
      value += input.slice(from, position);
      if (position < input.length) {
        if (input[position] === '"') {
          let quoted;
          [quoted, position] = collectQuoted(input, position, false);
          value += quoted;
          if (position < input.length) continue;
        } else {
          position++; // past ","
        }
      }
      values.push(value.replace(TAB_OR_SPACE, ""));
      value = "";
      if (position >= input.length) return values;
    }
  }

  // Fetch's "extract a MIME type" from a Content-Type value (the
  // combined value `Headers.get` gives), or null.
  function extractMimeType(headerValue) {
    if (headerValue === null || headerValue === undefined) return null;
    let charset = null;
    let essence = null;
    let mime = null;
    for (const value of splitHeaderValue(`${headerValue}`)) {
      const parsed = parseMimeType(value);
      if (parsed === null || (parsed.type === "*" && parsed.subtype === "*")) continue;
      mime = parsed;
      const parsedEssence = `${parsed.type}/${parsed.subtype}`;
      if (parsedEssence !== essence) {
        charset = parsed.parameters.get("charset") ?? null;
        essence = parsedEssence;
      } else if (!parsed.parameters.has("charset") && charset !== null) {
        parsed.parameters.set("charset", charset);
      }
    }
    return mime;
  }
  internals.parseMimeType = parseMimeType;
  internals.serializeMimeType = serializeMimeType;
  internals.extractMimeType = extractMimeType;

  // fetch's text() and json(): the BOM, then the Content-Type's charset,
  // then UTF-8 (the Encoding standard's "decode" with the charset as the
  // fallback encoding). A value without ";" has no charset to parse.
  internals.decodeText = function (bytes, contentType) {
    let label = null;
    if (typeof contentType === "string" && contentType.includes(";")) {
      label = extractMimeType(contentType)?.parameters.get("charset") ?? null;
    }
    return host.decodeSniffed(bytes, label);
  };

  internals.defineGlobal("TextEncoder", TextEncoder);
  internals.defineGlobal("TextDecoder", TextDecoder);
  internals.defineGlobal("atob", atob);
  internals.defineGlobal("btoa", btoa);
});
