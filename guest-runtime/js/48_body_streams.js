// Bodies as streams (fetch standard), through the hooks 60_fetch.js reads:
// `res.body` and `req.body` are byte streams over the buffered bytes
// (`makeBodyStream`), whose first read marks the body used; a ReadableStream
// is a BodyInit (`bodyExtractors`), read to its end when the body is
// consumed: by `text()` and the rest, or by `fetch` before the request
// starts, up to the host's limit on a request body.
(function (internals) {
  "use strict";
  const S = internals.streams;
  const Uint8ArrayCtor = Uint8Array;
  const typedArrayName = Object.getOwnPropertyDescriptor(
    Object.getPrototypeOf(Uint8Array.prototype),
    Symbol.toStringTag,
  ).get;
  const apply = Reflect.apply;

  // The host's limit on a request body (MAX_REQUEST_BODY_BYTES in
  // engine/src/capabilities/fetch/client.rs): a stream sent as a request
  // body is read up to this much and no further.
  internals.maxRequestBodyBytes = 1024 * 1024;

  // A byte stream whose first pull hands out a copy of the body's bytes
  // and closes; reading it (or cancelling it) disturbs it, which is what
  // `bodyUsed` reports.
  internals.makeBodyStream = function (state) {
    const pull = (controller) => {
      const bytes = state.bytes;
      // Nothing reads the buffered bytes once the stream is disturbed.
      state.bytes = new Uint8ArrayCtor(0);
      if (bytes.byteLength > 0) {
        S.readableByteStreamControllerEnqueue(controller, new Uint8ArrayCtor(bytes), true);
      }
      S.readableByteStreamControllerClose(controller);
      if (controller.pendingPullIntos.size > 0) S.readableByteStreamControllerRespond(controller, 0);
      return S.resolvedWith(undefined);
    };
    return S.createReadableByteStream(S.noop, pull, () => S.resolvedWith(undefined)).object;
  };

  internals.isReadableStream = (value) => S.streamOf(value) !== undefined;
  internals.streamDisturbed = (stream) => S.streamOf(stream).disturbed;
  internals.streamLocked = (stream) => S.isReadableStreamLocked(S.streamOf(stream));

  // The fetch standard's "clone a body": two streams in place of one.
  internals.teeBody = function (stream) {
    const [branch1, branch2] = S.readableStreamTee(S.streamOf(stream), true);
    return [branch1.object, branch2.object];
  };

  // Reads a stream to its end: the standard's "fully read body" (each
  // chunk must be a Uint8Array). Over `limit` bytes, the stream is
  // cancelled and the read fails.
  internals.readAllBytes = async function (object, what, limit = Infinity) {
    const stream = S.streamOf(object);
    const reader = S.acquireReadableStreamDefaultReader(stream);
    const chunks = [];
    let total = 0;
    for (;;) {
      const { value, done } = await readOnce(reader);
      if (done) break;
      if (!ArrayBuffer.isView(value) || apply(typedArrayName, value, []) !== "Uint8Array") {
        throw new TypeError(`${what}: the body stream gave a chunk that is not a Uint8Array`);
      }
      total += value.byteLength;
      if (total > limit) {
        const error = new TypeError(`${what}: the body stream is larger than the limit of ${limit} bytes`);
        S.setHandled(S.readableStreamCancel(stream, error));
        throw error;
      }
      chunks.push(value);
    }
    if (chunks.length === 1) return chunks[0];
    const bytes = new Uint8ArrayCtor(total);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.byteLength;
    }
    return bytes;
  };

  function readOnce(reader) {
    const d = S.deferred();
    S.readableStreamDefaultReaderRead(reader, {
      chunk: (value) => S.resolveDeferred(d, { value, done: false }),
      close: () => S.resolveDeferred(d, { value: undefined, done: true }),
      error: (e) => S.rejectDeferred(d, e),
    });
    return d.promise;
  }

  // A ReadableStream as a BodyInit: no bytes yet, the stream itself.
  (internals.bodyExtractors ??= []).push(function (init) {
    const stream = S.streamOf(init);
    if (stream === undefined) return undefined;
    if (stream.disturbed || S.isReadableStreamLocked(stream)) {
      throw new TypeError("the body stream has been read from or is locked");
    }
    return { bytes: undefined, stream: init, type: null };
  });
});
