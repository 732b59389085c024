// TextEncoderStream and TextDecoderStream (Encoding standard), over a
// TransformStream, on the TextEncoder and TextDecoder this runtime has when
// this file loads (the encoding family's, which may be richer than the
// engine's). A decoder that cannot decode with { stream: true } (the
// engine's UTF-8-only one) gets the bytes in whole characters instead: an
// incomplete UTF-8 sequence at the end of a chunk waits for the next one.
(function (internals) {
  "use strict";
  const S = internals.streams;
  const { isObject, dictionary, member, finishInterface, branded, notA } = S;
  const TextEncoderCtor = internals.TextEncoder ?? TextEncoder;
  const TextDecoderCtor = internals.TextDecoder ?? TextDecoder;
  const encode = TextEncoderCtor.prototype.encode;
  const decode = TextDecoderCtor.prototype.decode;
  const apply = Reflect.apply;
  const isView = ArrayBuffer.isView;
  const Uint8ArrayCtor = Uint8Array;
  const ArrayBufferCtor = ArrayBuffer;
  const STREAM = { stream: true };
  const REPLACEMENT = new Uint8Array([0xef, 0xbf, 0xbd]);

  // --- TextEncoderStream --------------------------------------------------

  let encoderOf;

  class TextEncoderStream {
    #state;
    constructor() {
      const encoder = new TextEncoderCtor();
      // A lone leading surrogate at the end of a chunk waits for the next.
      const state = { encoder, pendingHighSurrogate: null, transform: undefined };
      state.transform = S.setUpTransformStream({
        transform(controller, chunk) {
          encodeAndEnqueue(state, controller, chunk);
        },
        flush(controller) {
          // "encode and flush": a leading surrogate never completed is U+FFFD.
          if (state.pendingHighSurrogate !== null) {
            S.transformStreamDefaultControllerEnqueue(controller, new Uint8ArrayCtor(REPLACEMENT));
          }
        },
      });
      this.#state = state;
    }
    get encoding() {
      encoderState(this);
      return "utf-8";
    }
    static {
      encoderOf = (value) => (isObject(value) && #state in value ? value.#state : undefined);
    }
  }
  const encoderState = branded(encoderOf, "TextEncoderStream");

  // "Encode and enqueue a chunk": the chunk as a DOMString, joined with a
  // leading surrogate the last chunk ended with.
  function encodeAndEnqueue(state, controller, chunk) {
    if (typeof chunk === "symbol") throw new TypeError("TextEncoderStream: a symbol is not a string");
    let text = String(chunk);
    if (state.pendingHighSurrogate !== null) {
      text = state.pendingHighSurrogate + text;
      state.pendingHighSurrogate = null;
    }
    if (text.length === 0) return;
    const last = text.charCodeAt(text.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      state.pendingHighSurrogate = text[text.length - 1];
      text = text.slice(0, -1);
      if (text.length === 0) return;
    }
    const bytes = apply(encode, state.encoder, [text]);
    if (bytes.byteLength > 0) S.transformStreamDefaultControllerEnqueue(controller, bytes);
  }

  // --- TextDecoderStream ----------------------------------------------------

  // Whether `decoder` decodes with { stream: true }.
  function canStream(decoder) {
    try {
      apply(decode, decoder, [new Uint8ArrayCtor(0), STREAM]);
      return true;
    } catch (_) {
      return false;
    }
  }

  // How many bytes at the end of `bytes` start a UTF-8 sequence that is
  // not complete yet (0 to 3).
  function incompleteUtf8Tail(bytes) {
    const length = bytes.length;
    for (let back = 1; back <= 3 && back <= length; back++) {
      const byte = bytes[length - back];
      if ((byte & 0xc0) === 0x80) continue; // a continuation byte
      const needed = byte >= 0xf0 && byte <= 0xf4 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc2 ? 2 : 1;
      return needed > back ? back : 0;
    }
    return 0;
  }

  function bufferSourceBytes(chunk) {
    if (chunk instanceof ArrayBufferCtor) return new Uint8ArrayCtor(chunk);
    if (isView(chunk)) return new Uint8ArrayCtor(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    throw new TypeError("TextDecoderStream: the chunk must be an ArrayBuffer or an ArrayBufferView");
  }

  let decoderOf;

  class TextDecoderStream {
    #state;
    constructor(label = "utf-8", options = undefined) {
      const dict = dictionary(options, "TextDecoderStream: options");
      const init = { fatal: !!member(dict, "fatal"), ignoreBOM: !!member(dict, "ignoreBOM") };
      // The label is checked, and the encoding found, by TextDecoder.
      const decoder = new TextDecoderCtor(label, init);
      const state = { decoder, fallback: undefined, transform: undefined };
      if (!canStream(decoder)) {
        // Whole characters only; the BOM is the first chunk's business.
        state.fallback = {
          tail: new Uint8ArrayCtor(0),
          started: false,
          rest: new TextDecoderCtor(label, { fatal: init.fatal, ignoreBOM: true }),
        };
      }
      state.transform = S.setUpTransformStream({
        transform(controller, chunk) {
          const bytes = bufferSourceBytes(chunk);
          const text = state.fallback ? fallbackDecode(state, bytes, false) : apply(decode, decoder, [bytes, STREAM]);
          if (text.length > 0) S.transformStreamDefaultControllerEnqueue(controller, text);
        },
        flush(controller) {
          const text = state.fallback ? fallbackDecode(state, new Uint8ArrayCtor(0), true) : apply(decode, decoder, []);
          if (text.length > 0) S.transformStreamDefaultControllerEnqueue(controller, text);
        },
      });
      this.#state = state;
    }
    get encoding() {
      return decoderState(this).decoder.encoding;
    }
    get fatal() {
      return decoderState(this).decoder.fatal;
    }
    get ignoreBOM() {
      return decoderState(this).decoder.ignoreBOM;
    }
    static {
      decoderOf = (value) => (isObject(value) && #state in value ? value.#state : undefined);
    }
  }
  const decoderState = branded(decoderOf, "TextDecoderStream");

  // Decodes what is whole of the tail and `bytes`, keeping an incomplete
  // sequence at the end for the next chunk; `end`: there is no next chunk.
  function fallbackDecode(state, bytes, end) {
    const f = state.fallback;
    let all = bytes;
    if (f.tail.length > 0) {
      all = new Uint8ArrayCtor(f.tail.length + bytes.length);
      all.set(f.tail, 0);
      all.set(bytes, f.tail.length);
    }
    const keep = end ? 0 : incompleteUtf8Tail(all);
    f.tail = keep > 0 ? all.slice(all.length - keep) : new Uint8ArrayCtor(0);
    const whole = keep > 0 ? all.subarray(0, all.length - keep) : all;
    if (whole.length === 0) return "";
    const decoder = f.started ? f.rest : state.decoder;
    f.started = true;
    return apply(decode, decoder, [whole]);
  }

  S.genericTransformStream(TextEncoderStream, (value) => encoderState(value).transform);
  S.genericTransformStream(TextDecoderStream, (value) => decoderState(value).transform);
  finishInterface(TextEncoderStream, "TextEncoderStream");
  finishInterface(TextDecoderStream, "TextDecoderStream");
  internals.defineGlobal("TextEncoderStream", TextEncoderStream);
  internals.defineGlobal("TextDecoderStream", TextDecoderStream);
});
