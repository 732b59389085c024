// CompressionStream and DecompressionStream (Compression standard):
// gzip, deflate and deflate-raw, over a TransformStream whose byte work is
// native (src/ops/compression.rs), so it is fuel-metered like the rest of
// the charm. Output comes in pieces of at most 64 KiB; after each piece
// the transform waits while the readable side has all it wants, so a
// stream read piece by piece never holds more than that (the standard
// enqueues all of a chunk's output at once; only the timing differs).
(function (internals) {
  "use strict";
  const S = internals.streams;
  const host = internals.host;
  const { isObject, finishInterface, notA, promiseThen } = S;
  const isView = ArrayBuffer.isView;
  const Uint8ArrayCtor = Uint8Array;
  const ArrayBufferCtor = ArrayBuffer;
  const FORMATS = ["deflate", "deflate-raw", "gzip"];

  // The CompressionFormat enum.
  function compressionFormat(format, what) {
    const name = String(format);
    if (!FORMATS.includes(name)) {
      throw new TypeError(`${what}: unsupported format ${JSON.stringify(name)}: use "gzip", "deflate" or "deflate-raw"`);
    }
    return name;
  }

  // A BufferSource chunk as bytes, or a TypeError (the standard's first
  // step of "compress/decompress and enqueue a chunk").
  function chunkBytes(chunk) {
    if (chunk instanceof ArrayBufferCtor) return new Uint8ArrayCtor(chunk);
    if (isView(chunk)) return new Uint8ArrayCtor(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    throw new TypeError("the chunk must be an ArrayBuffer or an ArrayBufferView");
  }

  // The transform behind both classes: each chunk goes to the codec, and
  // what it makes goes out one piece at a time. The codec is opened at the
  // first chunk (a stream never written to costs nothing native) and freed
  // at the end, on an error, or when either side is cancelled; one left
  // half-way lives until the run ends.
  function codecTransform(format, decompress) {
    let handle; // undefined: not opened yet; -1: closed
    const close = () => {
      if (handle !== undefined && handle !== -1) host.codecClose(handle);
      handle = -1;
    };
    const step = (input, finish) => {
      if (handle === undefined) handle = host.codecOpen(format, decompress);
      try {
        return host.codecStep(handle, input, finish);
      } catch (error) {
        close();
        throw error;
      }
    };
    // Enqueues the codec's pieces, waiting for the reader between them
    // while the readable side is full.
    const drain = (controller, input, finish) => {
      const stream = controller.stream;
      let piece = step(input, finish);
      while (piece !== undefined) {
        S.transformStreamDefaultControllerEnqueue(controller, piece);
        const wait = S.transformStreamBackpressure(stream);
        if (wait !== undefined) {
          return promiseThen(wait, () => {
            // Cancelled or errored meanwhile: nothing more to make.
            if (!S.readableStreamDefaultControllerCanCloseOrEnqueue(stream.readable.controller)) {
              close();
              return undefined;
            }
            return drain(controller, undefined, finish);
          });
        }
        piece = step(undefined, finish);
      }
      if (finish) close();
      return undefined;
    };
    return S.setUpTransformStream({
      transform(controller, chunk) {
        if (handle === -1) throw new TypeError("the stream has ended");
        let bytes;
        try {
          bytes = chunkBytes(chunk);
        } catch (error) {
          close();
          throw error;
        }
        return drain(controller, bytes, false);
      },
      flush(controller) {
        if (handle === -1) return undefined;
        return drain(controller, undefined, true);
      },
      cancel() {
        close();
      },
    });
  }

  // CompressionStream and DecompressionStream: the same but for the
  // direction.
  function codecStreamClass(name, decompress) {
    let transformOf;
    const Class = class {
      #transform;
      constructor(format) {
        if (arguments.length === 0) throw new TypeError(`${name}: 1 argument required`);
        this.#transform = codecTransform(compressionFormat(format, name), decompress);
      }
      static {
        transformOf = (value) => {
          if (!isObject(value) || !(#transform in value)) throw notA(name);
          return value.#transform;
        };
      }
    };
    Object.defineProperty(Class, "name", { value: name });
    S.genericTransformStream(Class, transformOf);
    finishInterface(Class, name);
    return Class;
  }

  const CompressionStream = codecStreamClass("CompressionStream", false);
  const DecompressionStream = codecStreamClass("DecompressionStream", true);
  internals.defineGlobal("CompressionStream", CompressionStream);
  internals.defineGlobal("DecompressionStream", DecompressionStream);
});
