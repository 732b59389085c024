// Streams (WHATWG Streams standard), part 2: WritableStream, its writer
// and controller, and ReadableStream's pipeTo and pipeThrough, which need
// both sides. Records and names as in 42_readable_streams.js.
(function (internals) {
  "use strict";
  const S = internals.streams;
  const {
    INTERNAL, apply, noop, isObject, dictionary, member, callbackMember, booleanMember,
    strategyDict, extractHighWaterMark, extractSizeAlgorithm, finishInterface, branded, illegal, notA,
    promiseThen, resolvedWith, rejectedWith, setHandled, upon, promiseCall, waitForAll,
    deferred, resolveDeferred, rejectDeferred, resolvedDeferred, rejectedDeferred,
    dequeueValue, enqueueValueWithSize, peekQueueValue, resetQueue, Queue,
  } = S;

  // --- WritableStream -------------------------------------------------------

  let writableOf;

  class WritableStream {
    #r;
    constructor(underlyingSink = undefined, strategy = undefined) {
      if (underlyingSink === INTERNAL) {
        this.#r = strategy;
        strategy.object = this;
        return;
      }
      if (underlyingSink !== undefined && !isObject(underlyingSink)) {
        throw new TypeError("WritableStream: the underlying sink must be an object");
      }
      const strat = strategyDict(strategy, "WritableStream: strategy");
      // 1. If underlyingSink is missing, set it to null.
      if (underlyingSink === undefined) underlyingSink = null;
      // 2. Convert it to an UnderlyingSink dictionary.
      const sink = underlyingSinkDict(underlyingSink);
      // 3. No sink type exists yet.
      if (sink.type !== undefined) throw new RangeError("WritableStream: the underlying sink's type must be left out");
      // 4. InitializeWritableStream(this).
      const stream = newWritableStreamRecord();
      this.#r = stream;
      stream.object = this;
      const sizeAlgorithm = extractSizeAlgorithm(strat);
      const highWaterMark = extractHighWaterMark(strat, 1);
      setUpWritableStreamDefaultControllerFromUnderlyingSink(stream, underlyingSink, sink, highWaterMark, sizeAlgorithm);
    }
    get locked() {
      return isWritableStreamLocked(writable(this));
    }
    abort(reason = undefined) {
      const stream = writableOf(this);
      if (stream === undefined) return rejectedWith(notA("WritableStream"));
      if (isWritableStreamLocked(stream)) return rejectedWith(new TypeError("cannot abort a stream that is locked to a writer"));
      return writableStreamAbort(stream, reason);
    }
    close() {
      const stream = writableOf(this);
      if (stream === undefined) return rejectedWith(notA("WritableStream"));
      if (isWritableStreamLocked(stream)) return rejectedWith(new TypeError("cannot close a stream that is locked to a writer"));
      if (writableStreamCloseQueuedOrInFlight(stream)) {
        return rejectedWith(new TypeError("the stream is closing already"));
      }
      return writableStreamClose(stream);
    }
    getWriter() {
      return writerObject(acquireWritableStreamDefaultWriter(writable(this)));
    }
    static {
      writableOf = (value) => (isObject(value) && #r in value ? value.#r : undefined);
    }
  }
  const writable = branded(writableOf, "WritableStream");

  function underlyingSinkDict(sink) {
    const dict = sink === null ? undefined : sink;
    const what = "WritableStream: the underlying sink";
    return {
      abort: callbackMember(dict, "abort", what),
      close: callbackMember(dict, "close", what),
      start: callbackMember(dict, "start", what),
      type: member(dict, "type"),
      write: callbackMember(dict, "write", what),
    };
  }

  // InitializeWritableStream.
  function newWritableStreamRecord() {
    return {
      object: undefined,
      state: "writable",
      storedError: undefined,
      writer: undefined,
      controller: undefined,
      inFlightWriteRequest: undefined,
      closeRequest: undefined,
      inFlightCloseRequest: undefined,
      pendingAbortRequest: undefined,
      writeRequests: new Queue(),
      backpressure: false,
    };
  }

  // CreateWritableStream.
  function createWritableStream(startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, highWaterMark, sizeAlgorithm) {
    const stream = newWritableStreamRecord();
    new WritableStream(INTERNAL, stream);
    const controller = newWritableControllerRecord();
    setUpWritableStreamDefaultController(stream, controller, startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, highWaterMark, sizeAlgorithm);
    return stream;
  }

  function isWritableStreamLocked(stream) {
    return stream.writer !== undefined;
  }

  // WritableStreamAbort.
  function writableStreamAbort(stream, reason) {
    if (stream.state === "closed" || stream.state === "errored") return resolvedWith(undefined);
    // Signal abort on the controller's signal: the sink may stop a write.
    internals.signalAbort(stream.controller.signal, reason);
    // The abort algorithms may have moved the stream on.
    const state = stream.state;
    if (state === "closed" || state === "errored") return resolvedWith(undefined);
    if (stream.pendingAbortRequest !== undefined) return stream.pendingAbortRequest.promise.promise;
    let wasAlreadyErroring = false;
    if (state === "erroring") {
      wasAlreadyErroring = true;
      reason = undefined;
    }
    const promise = deferred();
    stream.pendingAbortRequest = { promise, reason, wasAlreadyErroring };
    if (!wasAlreadyErroring) writableStreamStartErroring(stream, reason);
    return promise.promise;
  }

  // WritableStreamClose.
  function writableStreamClose(stream) {
    const state = stream.state;
    if (state === "closed" || state === "errored") {
      return rejectedWith(new TypeError(`the stream is ${state}: it cannot be closed`));
    }
    const promise = deferred();
    stream.closeRequest = promise;
    const writer = stream.writer;
    if (writer !== undefined && stream.backpressure && state === "writable") {
      resolveDeferred(writer.ready, undefined);
    }
    writableStreamDefaultControllerClose(stream.controller);
    return promise.promise;
  }

  function writableStreamAddWriteRequest(stream) {
    const promise = deferred();
    stream.writeRequests.push(promise);
    return promise.promise;
  }

  function writableStreamCloseQueuedOrInFlight(stream) {
    return stream.closeRequest !== undefined || stream.inFlightCloseRequest !== undefined;
  }

  function writableStreamDealWithRejection(stream, error) {
    if (stream.state === "writable") {
      writableStreamStartErroring(stream, error);
      return;
    }
    writableStreamFinishErroring(stream);
  }

  // WritableStreamFinishErroring.
  function writableStreamFinishErroring(stream) {
    stream.state = "errored";
    writableStreamDefaultControllerErrorSteps(stream.controller);
    const storedError = stream.storedError;
    for (const request of stream.writeRequests.takeAll()) rejectDeferred(request, storedError);
    const abortRequest = stream.pendingAbortRequest;
    if (abortRequest === undefined) {
      writableStreamRejectCloseAndClosedPromiseIfNeeded(stream);
      return;
    }
    stream.pendingAbortRequest = undefined;
    if (abortRequest.wasAlreadyErroring) {
      rejectDeferred(abortRequest.promise, storedError);
      writableStreamRejectCloseAndClosedPromiseIfNeeded(stream);
      return;
    }
    const promise = writableStreamDefaultControllerAbortSteps(stream.controller, abortRequest.reason);
    upon(
      promise,
      () => {
        resolveDeferred(abortRequest.promise, undefined);
        writableStreamRejectCloseAndClosedPromiseIfNeeded(stream);
      },
      (reason) => {
        rejectDeferred(abortRequest.promise, reason);
        writableStreamRejectCloseAndClosedPromiseIfNeeded(stream);
      },
    );
  }

  function writableStreamFinishInFlightClose(stream) {
    resolveDeferred(stream.inFlightCloseRequest, undefined);
    stream.inFlightCloseRequest = undefined;
    if (stream.state === "erroring") {
      stream.storedError = undefined;
      if (stream.pendingAbortRequest !== undefined) {
        resolveDeferred(stream.pendingAbortRequest.promise, undefined);
        stream.pendingAbortRequest = undefined;
      }
    }
    stream.state = "closed";
    const writer = stream.writer;
    if (writer !== undefined) resolveDeferred(writer.closed, undefined);
  }

  function writableStreamFinishInFlightCloseWithError(stream, error) {
    rejectDeferred(stream.inFlightCloseRequest, error);
    stream.inFlightCloseRequest = undefined;
    if (stream.pendingAbortRequest !== undefined) {
      rejectDeferred(stream.pendingAbortRequest.promise, error);
      stream.pendingAbortRequest = undefined;
    }
    writableStreamDealWithRejection(stream, error);
  }

  function writableStreamFinishInFlightWrite(stream) {
    resolveDeferred(stream.inFlightWriteRequest, undefined);
    stream.inFlightWriteRequest = undefined;
  }

  function writableStreamFinishInFlightWriteWithError(stream, error) {
    rejectDeferred(stream.inFlightWriteRequest, error);
    stream.inFlightWriteRequest = undefined;
    writableStreamDealWithRejection(stream, error);
  }

  function writableStreamHasOperationMarkedInFlight(stream) {
    return stream.inFlightWriteRequest !== undefined || stream.inFlightCloseRequest !== undefined;
  }

  function writableStreamMarkCloseRequestInFlight(stream) {
    stream.inFlightCloseRequest = stream.closeRequest;
    stream.closeRequest = undefined;
  }

  function writableStreamMarkFirstWriteRequestInFlight(stream) {
    stream.inFlightWriteRequest = stream.writeRequests.shift();
  }

  function writableStreamRejectCloseAndClosedPromiseIfNeeded(stream) {
    if (stream.closeRequest !== undefined) {
      rejectDeferred(stream.closeRequest, stream.storedError);
      stream.closeRequest = undefined;
    }
    const writer = stream.writer;
    if (writer !== undefined) rejectDeferred(writer.closed, stream.storedError, true);
  }

  // WritableStreamStartErroring.
  function writableStreamStartErroring(stream, reason) {
    const controller = stream.controller;
    stream.state = "erroring";
    stream.storedError = reason;
    const writer = stream.writer;
    if (writer !== undefined) writableStreamDefaultWriterEnsureReadyPromiseRejected(writer, reason);
    if (!writableStreamHasOperationMarkedInFlight(stream) && controller.started) {
      writableStreamFinishErroring(stream);
    }
  }

  function writableStreamUpdateBackpressure(stream, backpressure) {
    const writer = stream.writer;
    if (writer !== undefined && backpressure !== stream.backpressure) {
      if (backpressure) writer.ready = deferred();
      else resolveDeferred(writer.ready, undefined);
    }
    stream.backpressure = backpressure;
  }

  // --- WritableStreamDefaultWriter ---------------------------------------------

  let writerOf;

  class WritableStreamDefaultWriter {
    #r;
    constructor(stream) {
      if (stream === INTERNAL) {
        this.#r = arguments[1];
        this.#r.object = this;
        return;
      }
      const record = writable(stream);
      const writer = newWriterRecord();
      setUpWritableStreamDefaultWriter(writer, record);
      this.#r = writer;
      writer.object = this;
    }
    get closed() {
      const writer = writerOf(this);
      if (writer === undefined) return rejectedWith(notA("WritableStreamDefaultWriter"));
      return writer.closed.promise;
    }
    get desiredSize() {
      const writer = writerOf(this);
      if (writer === undefined) throw notA("WritableStreamDefaultWriter");
      if (writer.stream === undefined) throw new TypeError("the writer has been released");
      return writableStreamDefaultWriterGetDesiredSize(writer);
    }
    get ready() {
      const writer = writerOf(this);
      if (writer === undefined) return rejectedWith(notA("WritableStreamDefaultWriter"));
      return writer.ready.promise;
    }
    abort(reason = undefined) {
      const writer = writerOf(this);
      if (writer === undefined) return rejectedWith(notA("WritableStreamDefaultWriter"));
      if (writer.stream === undefined) return rejectedWith(new TypeError("the writer has been released"));
      return writableStreamAbort(writer.stream, reason);
    }
    close() {
      const writer = writerOf(this);
      if (writer === undefined) return rejectedWith(notA("WritableStreamDefaultWriter"));
      const stream = writer.stream;
      if (stream === undefined) return rejectedWith(new TypeError("the writer has been released"));
      if (writableStreamCloseQueuedOrInFlight(stream)) return rejectedWith(new TypeError("the stream is closing already"));
      return writableStreamClose(stream);
    }
    releaseLock() {
      const writer = writerOf(this);
      if (writer === undefined) throw notA("WritableStreamDefaultWriter");
      if (writer.stream === undefined) return;
      writableStreamDefaultWriterRelease(writer);
    }
    write(chunk = undefined) {
      const writer = writerOf(this);
      if (writer === undefined) return rejectedWith(notA("WritableStreamDefaultWriter"));
      if (writer.stream === undefined) return rejectedWith(new TypeError("the writer has been released"));
      return writableStreamDefaultWriterWrite(writer, chunk);
    }
    static {
      writerOf = (value) => (isObject(value) && #r in value ? value.#r : undefined);
    }
  }

  function newWriterRecord() {
    return { object: undefined, stream: undefined, ready: undefined, closed: undefined };
  }
  function writerObject(writer) {
    if (writer.object === undefined) new WritableStreamDefaultWriter(INTERNAL, writer);
    return writer.object;
  }

  function acquireWritableStreamDefaultWriter(stream) {
    const writer = newWriterRecord();
    setUpWritableStreamDefaultWriter(writer, stream);
    return writer;
  }

  // SetUpWritableStreamDefaultWriter.
  function setUpWritableStreamDefaultWriter(writer, stream) {
    if (isWritableStreamLocked(stream)) throw new TypeError("the stream is locked to a writer already");
    writer.stream = stream;
    stream.writer = writer;
    const state = stream.state;
    if (state === "writable") {
      writer.ready = !writableStreamCloseQueuedOrInFlight(stream) && stream.backpressure
        ? deferred()
        : resolvedDeferred(undefined);
      writer.closed = deferred();
    } else if (state === "erroring") {
      writer.ready = rejectedDeferred(stream.storedError, true);
      writer.closed = deferred();
    } else if (state === "closed") {
      writer.ready = resolvedDeferred(undefined);
      writer.closed = resolvedDeferred(undefined);
    } else {
      writer.ready = rejectedDeferred(stream.storedError, true);
      writer.closed = rejectedDeferred(stream.storedError, true);
    }
  }

  function writableStreamDefaultWriterCloseWithErrorPropagation(writer) {
    const stream = writer.stream;
    const state = stream.state;
    if (writableStreamCloseQueuedOrInFlight(stream) || state === "closed") return resolvedWith(undefined);
    if (state === "errored") return rejectedWith(stream.storedError);
    return writableStreamClose(stream);
  }

  function writableStreamDefaultWriterEnsureClosedPromiseRejected(writer, error) {
    if (writer.closed.state === 0) rejectDeferred(writer.closed, error, true);
    else writer.closed = rejectedDeferred(error, true);
  }

  function writableStreamDefaultWriterEnsureReadyPromiseRejected(writer, error) {
    if (writer.ready.state === 0) rejectDeferred(writer.ready, error, true);
    else writer.ready = rejectedDeferred(error, true);
  }

  function writableStreamDefaultWriterGetDesiredSize(writer) {
    const stream = writer.stream;
    const state = stream.state;
    if (state === "errored" || state === "erroring") return null;
    if (state === "closed") return 0;
    return writableStreamDefaultControllerGetDesiredSize(stream.controller);
  }

  function writableStreamDefaultWriterRelease(writer) {
    const stream = writer.stream;
    const releasedError = new TypeError("the writer's lock on the stream was released");
    writableStreamDefaultWriterEnsureReadyPromiseRejected(writer, releasedError);
    writableStreamDefaultWriterEnsureClosedPromiseRejected(writer, releasedError);
    stream.writer = undefined;
    writer.stream = undefined;
  }

  // WritableStreamDefaultWriterWrite.
  function writableStreamDefaultWriterWrite(writer, chunk) {
    const stream = writer.stream;
    const controller = stream.controller;
    const chunkSize = writableStreamDefaultControllerGetChunkSize(controller, chunk);
    if (stream !== writer.stream) return rejectedWith(new TypeError("the writer was released while sizing the chunk"));
    const state = stream.state;
    if (state === "errored") return rejectedWith(stream.storedError);
    if (writableStreamCloseQueuedOrInFlight(stream) || state === "closed") {
      return rejectedWith(new TypeError("the stream is closing or closed: it cannot be written to"));
    }
    if (state === "erroring") return rejectedWith(stream.storedError);
    const promise = writableStreamAddWriteRequest(stream);
    writableStreamDefaultControllerWrite(controller, chunk, chunkSize);
    return promise;
  }

  // --- WritableStreamDefaultController -------------------------------------------

  // The close sentinel in the controller's queue.
  const CLOSE_SENTINEL = {};

  function newWritableControllerRecord() {
    return {
      object: undefined,
      stream: undefined,
      queue: undefined,
      queueTotalSize: 0,
      signal: undefined,
      started: false,
      strategyHWM: 1,
      strategySizeAlgorithm: undefined,
      writeAlgorithm: undefined,
      closeAlgorithm: undefined,
      abortAlgorithm: undefined,
    };
  }

  let writableControllerOf;

  class WritableStreamDefaultController {
    #r;
    constructor(key, record) {
      if (key !== INTERNAL) throw illegal("WritableStreamDefaultController");
      this.#r = record;
      record.object = this;
    }
    get signal() {
      return writableController(this).signal;
    }
    error(e = undefined) {
      const controller = writableController(this);
      if (controller.stream.state !== "writable") return;
      writableStreamDefaultControllerError(controller, e);
    }
    static {
      writableControllerOf = (value) => (isObject(value) && #r in value ? value.#r : undefined);
    }
  }
  const writableController = branded(writableControllerOf, "WritableStreamDefaultController");

  function writableStreamDefaultControllerAbortSteps(controller, reason) {
    const result = controller.abortAlgorithm(reason);
    writableStreamDefaultControllerClearAlgorithms(controller);
    return result;
  }
  function writableStreamDefaultControllerErrorSteps(controller) {
    resetQueue(controller);
  }

  // SetUpWritableStreamDefaultController.
  function setUpWritableStreamDefaultController(stream, controller, startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, highWaterMark, sizeAlgorithm) {
    controller.stream = stream;
    stream.controller = controller;
    resetQueue(controller);
    controller.signal = internals.newAbortSignal();
    controller.started = false;
    controller.strategySizeAlgorithm = sizeAlgorithm;
    controller.strategyHWM = highWaterMark;
    controller.writeAlgorithm = writeAlgorithm;
    controller.closeAlgorithm = closeAlgorithm;
    controller.abortAlgorithm = abortAlgorithm;
    writableStreamUpdateBackpressure(stream, writableStreamDefaultControllerGetBackpressure(controller));
    const startResult = startAlgorithm(controller);
    upon(
      resolvedWith(startResult),
      () => {
        controller.started = true;
        writableStreamDefaultControllerAdvanceQueueIfNeeded(controller);
      },
      (r) => {
        controller.started = true;
        writableStreamDealWithRejection(stream, r);
      },
    );
  }

  function setUpWritableStreamDefaultControllerFromUnderlyingSink(stream, underlyingSink, sink, highWaterMark, sizeAlgorithm) {
    const controller = newWritableControllerRecord();
    const object = new WritableStreamDefaultController(INTERNAL, controller);
    const { start, write, close, abort } = sink;
    const startAlgorithm = start === undefined ? noop : () => apply(start, underlyingSink, [object]);
    const writeAlgorithm = write === undefined
      ? () => resolvedWith(undefined)
      : (chunk) => promiseCall(write, underlyingSink, [chunk, object]);
    const closeAlgorithm = close === undefined
      ? () => resolvedWith(undefined)
      : () => promiseCall(close, underlyingSink, []);
    const abortAlgorithm = abort === undefined
      ? () => resolvedWith(undefined)
      : (reason) => promiseCall(abort, underlyingSink, [reason]);
    setUpWritableStreamDefaultController(stream, controller, startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, highWaterMark, sizeAlgorithm);
  }

  // WritableStreamDefaultControllerAdvanceQueueIfNeeded.
  function writableStreamDefaultControllerAdvanceQueueIfNeeded(controller) {
    const stream = controller.stream;
    if (!controller.started) return;
    if (stream.inFlightWriteRequest !== undefined) return;
    if (stream.state === "erroring") {
      writableStreamFinishErroring(stream);
      return;
    }
    if (controller.queue.size === 0) return;
    const value = peekQueueValue(controller);
    if (value === CLOSE_SENTINEL) writableStreamDefaultControllerProcessClose(controller);
    else writableStreamDefaultControllerProcessWrite(controller, value);
  }

  function writableStreamDefaultControllerClearAlgorithms(controller) {
    controller.writeAlgorithm = undefined;
    controller.closeAlgorithm = undefined;
    controller.abortAlgorithm = undefined;
    controller.strategySizeAlgorithm = undefined;
  }

  function writableStreamDefaultControllerClose(controller) {
    enqueueValueWithSize(controller, CLOSE_SENTINEL, 0);
    writableStreamDefaultControllerAdvanceQueueIfNeeded(controller);
  }

  function writableStreamDefaultControllerError(controller, error) {
    writableStreamDefaultControllerClearAlgorithms(controller);
    writableStreamStartErroring(controller.stream, error);
  }

  function writableStreamDefaultControllerErrorIfNeeded(controller, error) {
    if (controller.stream.state === "writable") writableStreamDefaultControllerError(controller, error);
  }

  function writableStreamDefaultControllerGetBackpressure(controller) {
    return writableStreamDefaultControllerGetDesiredSize(controller) <= 0;
  }

  function writableStreamDefaultControllerGetChunkSize(controller, chunk) {
    if (controller.strategySizeAlgorithm === undefined) return 1;
    try {
      return controller.strategySizeAlgorithm(chunk);
    } catch (error) {
      writableStreamDefaultControllerErrorIfNeeded(controller, error);
      return 1;
    }
  }

  function writableStreamDefaultControllerGetDesiredSize(controller) {
    return controller.strategyHWM - controller.queueTotalSize;
  }

  function writableStreamDefaultControllerProcessClose(controller) {
    const stream = controller.stream;
    writableStreamMarkCloseRequestInFlight(stream);
    dequeueValue(controller);
    const sinkClosePromise = controller.closeAlgorithm();
    writableStreamDefaultControllerClearAlgorithms(controller);
    upon(
      sinkClosePromise,
      () => writableStreamFinishInFlightClose(stream),
      (reason) => writableStreamFinishInFlightCloseWithError(stream, reason),
    );
  }

  function writableStreamDefaultControllerProcessWrite(controller, chunk) {
    const stream = controller.stream;
    writableStreamMarkFirstWriteRequestInFlight(stream);
    const sinkWritePromise = controller.writeAlgorithm(chunk);
    upon(
      sinkWritePromise,
      () => {
        writableStreamFinishInFlightWrite(stream);
        dequeueValue(controller);
        if (!writableStreamCloseQueuedOrInFlight(stream) && stream.state === "writable") {
          writableStreamUpdateBackpressure(stream, writableStreamDefaultControllerGetBackpressure(controller));
        }
        writableStreamDefaultControllerAdvanceQueueIfNeeded(controller);
      },
      (reason) => {
        if (stream.state === "writable") writableStreamDefaultControllerClearAlgorithms(controller);
        writableStreamFinishInFlightWriteWithError(stream, reason);
      },
    );
  }

  function writableStreamDefaultControllerWrite(controller, chunk, chunkSize) {
    try {
      enqueueValueWithSize(controller, chunk, chunkSize);
    } catch (error) {
      writableStreamDefaultControllerErrorIfNeeded(controller, error);
      return;
    }
    const stream = controller.stream;
    if (!writableStreamCloseQueuedOrInFlight(stream) && stream.state === "writable") {
      writableStreamUpdateBackpressure(stream, writableStreamDefaultControllerGetBackpressure(controller));
    }
    writableStreamDefaultControllerAdvanceQueueIfNeeded(controller);
  }

  // --- Piping -----------------------------------------------------------------------

  // StreamPipeOptions, members in order.
  function pipeOptions(options) {
    const dict = dictionary(options, "pipe options");
    const signal = member(dict, "signal");
    const result = {
      preventAbort: booleanMember(dict, "preventAbort"),
      preventCancel: booleanMember(dict, "preventCancel"),
      preventClose: booleanMember(dict, "preventClose"),
      signal,
    };
    if (signal !== undefined && !internals.isAbortSignal(signal)) {
      throw new TypeError("pipe options: signal must be an AbortSignal");
    }
    return result;
  }

  // ReadableStreamPipeTo: reads a chunk whenever the destination wants
  // one (its writer's ready promise) and writes it, and propagates errors
  // and closing both ways, as the standard lists them.
  function readableStreamPipeTo(source, dest, preventClose, preventAbort, preventCancel, signal) {
    const reader = S.acquireReadableStreamDefaultReader(source);
    const writer = acquireWritableStreamDefaultWriter(dest);
    source.disturbed = true;
    let shuttingDown = false;
    // The last write, settled either way (its failure shows as the
    // destination erroring).
    let currentWrite = resolvedWith(undefined);
    const promise = deferred();
    let forgetAbort = noop;

    function finalize(isError, error) {
      writableStreamDefaultWriterRelease(writer);
      S.readableStreamDefaultReaderRelease(reader);
      forgetAbort();
      if (isError) rejectDeferred(promise, error);
      else resolveDeferred(promise, undefined);
    }

    // Waits for every chunk read so far to be written.
    function waitForWritesToFinish() {
      const oldCurrentWrite = currentWrite;
      return promiseThen(currentWrite, () =>
        oldCurrentWrite !== currentWrite ? waitForWritesToFinish() : undefined);
    }

    // "Shutdown with an action" (action undefined: "shutdown").
    function shutdown(action, isError, error) {
      if (shuttingDown) return;
      shuttingDown = true;
      const finish = () => {
        if (action === undefined) {
          finalize(isError, error);
          return;
        }
        upon(action(), () => finalize(isError, error), (newError) => finalize(true, newError));
      };
      if (dest.state === "writable" && !writableStreamCloseQueuedOrInFlight(dest)) {
        upon(waitForWritesToFinish(), finish);
      } else {
        finish();
      }
    }

    if (signal !== undefined) {
      const abortAlgorithm = () => {
        const error = signal.reason;
        const actions = [];
        if (!preventAbort) {
          actions.push(() => (dest.state === "writable" ? writableStreamAbort(dest, error) : resolvedWith(undefined)));
        }
        if (!preventCancel) {
          actions.push(() => (source.state === "readable" ? S.readableStreamCancel(source, error) : resolvedWith(undefined)));
        }
        shutdown(() => waitForAll(actions.map((action) => action())), true, error);
      };
      if (signal.aborted) {
        abortAlgorithm();
        return promise.promise;
      }
      forgetAbort = internals.onAbort(signal, abortAlgorithm);
    }

    // Errors must be propagated forward.
    const sourceErrored = (storedError) => {
      if (!preventAbort) shutdown(() => writableStreamAbort(dest, storedError), true, storedError);
      else shutdown(undefined, true, storedError);
    };
    // Errors must be propagated backward.
    const destErrored = (storedError) => {
      if (!preventCancel) shutdown(() => S.readableStreamCancel(source, storedError), true, storedError);
      else shutdown(undefined, true, storedError);
    };
    // Closing must be propagated forward.
    const sourceClosed = () => {
      if (!preventClose) shutdown(() => writableStreamDefaultWriterCloseWithErrorPropagation(writer));
      else shutdown();
    };

    if (source.state === "errored") sourceErrored(source.storedError);
    else upon(reader.closed.promise, undefined, sourceErrored);
    if (dest.state === "errored") destErrored(dest.storedError);
    else upon(writer.closed.promise, undefined, destErrored);
    if (source.state === "closed") sourceClosed();
    else upon(reader.closed.promise, sourceClosed);
    // Closing must be propagated backward.
    if (writableStreamCloseQueuedOrInFlight(dest) || dest.state === "closed") {
      const destClosed = new TypeError("the destination stream is closing or closed");
      if (!preventCancel) shutdown(() => S.readableStreamCancel(source, destClosed), true, destClosed);
      else shutdown(undefined, true, destClosed);
    }

    // The loop: one chunk per turn, only while the destination wants more.
    function pipeStep() {
      if (shuttingDown) return;
      upon(writer.ready.promise, () => {
        if (shuttingDown) return;
        S.readableStreamDefaultReaderRead(reader, {
          chunk(chunk) {
            currentWrite = promiseThen(writableStreamDefaultWriterWrite(writer, chunk), undefined, noop);
            pipeStep();
          },
          close: noop,
          error: noop,
        });
      });
    }
    pipeStep();
    return promise.promise;
  }

  Object.defineProperties(S.ReadableStream.prototype, {
    pipeThrough: {
      value: function pipeThrough(transform, options = undefined) {
        const stream = S.streamOf(this);
        if (stream === undefined) throw notA("ReadableStream");
        // ReadableWritablePair: both members required.
        if (!isObject(transform)) throw new TypeError("pipeThrough: the transform must be an object with readable and writable");
        const readableSide = transform.readable;
        const readableRecord = S.streamOf(readableSide);
        if (readableRecord === undefined) throw new TypeError("pipeThrough: transform.readable must be a ReadableStream");
        const writableRecord = writableOf(transform.writable);
        if (writableRecord === undefined) throw new TypeError("pipeThrough: transform.writable must be a WritableStream");
        const opts = pipeOptions(options);
        if (S.isReadableStreamLocked(stream)) throw new TypeError("pipeThrough: the stream is locked to a reader");
        if (isWritableStreamLocked(writableRecord)) throw new TypeError("pipeThrough: transform.writable is locked to a writer");
        const promise = readableStreamPipeTo(stream, writableRecord, opts.preventClose, opts.preventAbort, opts.preventCancel, opts.signal);
        setHandled(promise);
        return readableSide;
      },
      writable: true,
      enumerable: true,
      configurable: true,
    },
    pipeTo: {
      value: function pipeTo(destination, options = undefined) {
        const stream = S.streamOf(this);
        if (stream === undefined) return rejectedWith(notA("ReadableStream"));
        const dest = writableOf(destination);
        if (dest === undefined) return rejectedWith(new TypeError("pipeTo: the destination must be a WritableStream"));
        let opts;
        try {
          opts = pipeOptions(options);
        } catch (error) {
          return rejectedWith(error);
        }
        if (S.isReadableStreamLocked(stream)) return rejectedWith(new TypeError("pipeTo: the stream is locked to a reader"));
        if (isWritableStreamLocked(dest)) return rejectedWith(new TypeError("pipeTo: the destination is locked to a writer"));
        return readableStreamPipeTo(stream, dest, opts.preventClose, opts.preventAbort, opts.preventCancel, opts.signal);
      },
      writable: true,
      enumerable: true,
      configurable: true,
    },
  });

  for (const [Class, name] of [
    [WritableStream, "WritableStream"],
    [WritableStreamDefaultWriter, "WritableStreamDefaultWriter"],
    [WritableStreamDefaultController, "WritableStreamDefaultController"],
  ]) {
    finishInterface(Class, name);
    internals.defineGlobal(name, Class);
  }

  Object.assign(S, {
    writableOf,
    createWritableStream,
    writableStreamAbort,
    writableStreamCloseQueuedOrInFlight,
    writableStreamDefaultControllerErrorIfNeeded,
    acquireWritableStreamDefaultWriter,
    writableStreamDefaultWriterWrite,
    writableStreamDefaultWriterRelease,
    readableStreamPipeTo,
  });
});
