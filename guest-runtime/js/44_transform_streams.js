// Streams (WHATWG Streams standard), part 3: TransformStream and its
// controller, and the queuing strategies ByteLengthQueuingStrategy and
// CountQueuingStrategy. Records and names as in 42_readable_streams.js.
(function (internals) {
  "use strict";
  const S = internals.streams;
  const {
    INTERNAL, apply, noop, isObject, dictionary, member, callbackMember,
    strategyDict, extractHighWaterMark, extractSizeAlgorithm, finishInterface, branded, illegal, notA,
    promiseThen, resolvedWith, rejectedWith, promiseCall, upon,
    deferred, resolveDeferred, rejectDeferred,
  } = S;

  // --- TransformStream ---------------------------------------------------

  let transformOf;

  class TransformStream {
    #r;
    constructor(transformer = undefined, writableStrategy = undefined, readableStrategy = undefined) {
      if (transformer === INTERNAL) {
        this.#r = writableStrategy;
        writableStrategy.object = this;
        return;
      }
      if (transformer !== undefined && !isObject(transformer)) {
        throw new TypeError("TransformStream: the transformer must be an object");
      }
      const writableStrat = strategyDict(writableStrategy, "TransformStream: writableStrategy");
      const readableStrat = strategyDict(readableStrategy, "TransformStream: readableStrategy");
      // 1. If transformer is missing, set it to null.
      if (transformer === undefined) transformer = null;
      // 2. Convert it to a Transformer dictionary (members in order).
      const dict = transformerDict(transformer);
      // 3-4. No stream types exist yet.
      if (dict.readableType !== undefined) throw new RangeError("TransformStream: readableType must be left out");
      if (dict.writableType !== undefined) throw new RangeError("TransformStream: writableType must be left out");
      // 5-8. The strategies.
      const readableHighWaterMark = extractHighWaterMark(readableStrat, 0);
      const readableSizeAlgorithm = extractSizeAlgorithm(readableStrat);
      const writableHighWaterMark = extractHighWaterMark(writableStrat, 1);
      const writableSizeAlgorithm = extractSizeAlgorithm(writableStrat);
      // 9-10. Initialize, waiting on the transformer's start.
      const startPromise = deferred();
      const stream = newTransformStreamRecord();
      this.#r = stream;
      stream.object = this;
      initializeTransformStream(stream, startPromise.promise, writableHighWaterMark, writableSizeAlgorithm, readableHighWaterMark, readableSizeAlgorithm);
      setUpTransformStreamDefaultControllerFromTransformer(stream, transformer, dict);
      // 11-12. Run start, whose throw is the constructor's.
      if (dict.start !== undefined) {
        resolveDeferred(startPromise, apply(dict.start, transformer, [stream.controller.object]));
      } else {
        resolveDeferred(startPromise, undefined);
      }
    }
    get readable() {
      return transformStream(this).readable.object;
    }
    get writable() {
      return transformStream(this).writable.object;
    }
    static {
      transformOf = (value) => (isObject(value) && #r in value ? value.#r : undefined);
    }
  }
  const transformStream = branded(transformOf, "TransformStream");

  function transformerDict(transformer) {
    const dict = transformer === null ? undefined : transformer;
    const what = "TransformStream: the transformer";
    return {
      cancel: callbackMember(dict, "cancel", what),
      flush: callbackMember(dict, "flush", what),
      readableType: member(dict, "readableType"),
      start: callbackMember(dict, "start", what),
      transform: callbackMember(dict, "transform", what),
      writableType: member(dict, "writableType"),
    };
  }

  function newTransformStreamRecord() {
    return {
      object: undefined,
      readable: undefined,
      writable: undefined,
      backpressure: undefined,
      backpressureChangePromise: undefined,
      controller: undefined,
    };
  }

  // InitializeTransformStream.
  function initializeTransformStream(stream, startPromise, writableHighWaterMark, writableSizeAlgorithm, readableHighWaterMark, readableSizeAlgorithm) {
    const startAlgorithm = () => startPromise;
    stream.writable = S.createWritableStream(
      startAlgorithm,
      (chunk) => transformStreamDefaultSinkWriteAlgorithm(stream, chunk),
      () => transformStreamDefaultSinkCloseAlgorithm(stream),
      (reason) => transformStreamDefaultSinkAbortAlgorithm(stream, reason),
      writableHighWaterMark,
      writableSizeAlgorithm,
    );
    stream.readable = S.createReadableStream(
      startAlgorithm,
      () => transformStreamDefaultSourcePullAlgorithm(stream),
      (reason) => transformStreamDefaultSourceCancelAlgorithm(stream, reason),
      readableHighWaterMark,
      readableSizeAlgorithm,
    );
    stream.backpressure = undefined;
    stream.backpressureChangePromise = undefined;
    transformStreamSetBackpressure(stream, true);
    stream.controller = undefined;
  }

  function transformStreamError(stream, e) {
    S.readableStreamDefaultControllerError(stream.readable.controller, e);
    transformStreamErrorWritableAndUnblockWrite(stream, e);
  }

  function transformStreamErrorWritableAndUnblockWrite(stream, e) {
    transformStreamDefaultControllerClearAlgorithms(stream.controller);
    S.writableStreamDefaultControllerErrorIfNeeded(stream.writable.controller, e);
    transformStreamUnblockWrite(stream);
  }

  function transformStreamSetBackpressure(stream, backpressure) {
    if (stream.backpressureChangePromise !== undefined) {
      resolveDeferred(stream.backpressureChangePromise, undefined);
    }
    stream.backpressureChangePromise = deferred();
    stream.backpressure = backpressure;
  }

  function transformStreamUnblockWrite(stream) {
    if (stream.backpressure) transformStreamSetBackpressure(stream, false);
  }

  // --- TransformStreamDefaultController ------------------------------------------

  let transformControllerOf;

  class TransformStreamDefaultController {
    #r;
    constructor(key, record) {
      if (key !== INTERNAL) throw illegal("TransformStreamDefaultController");
      this.#r = record;
      record.object = this;
    }
    get desiredSize() {
      const controller = transformController(this);
      return S.readableStreamDefaultControllerGetDesiredSize(controller.stream.readable.controller);
    }
    enqueue(chunk = undefined) {
      transformStreamDefaultControllerEnqueue(transformController(this), chunk);
    }
    error(reason = undefined) {
      transformStreamDefaultControllerError(transformController(this), reason);
    }
    terminate() {
      transformStreamDefaultControllerTerminate(transformController(this));
    }
    static {
      transformControllerOf = (value) => (isObject(value) && #r in value ? value.#r : undefined);
    }
  }
  const transformController = branded(transformControllerOf, "TransformStreamDefaultController");

  function setUpTransformStreamDefaultController(stream, controller, transformAlgorithm, flushAlgorithm, cancelAlgorithm) {
    controller.stream = stream;
    stream.controller = controller;
    controller.transformAlgorithm = transformAlgorithm;
    controller.flushAlgorithm = flushAlgorithm;
    controller.cancelAlgorithm = cancelAlgorithm;
  }

  function newTransformControllerRecord() {
    return {
      object: undefined,
      stream: undefined,
      finishPromise: undefined,
      transformAlgorithm: undefined,
      flushAlgorithm: undefined,
      cancelAlgorithm: undefined,
    };
  }

  function setUpTransformStreamDefaultControllerFromTransformer(stream, transformer, dict) {
    const controller = newTransformControllerRecord();
    const object = new TransformStreamDefaultController(INTERNAL, controller);
    const { transform, flush, cancel } = dict;
    const transformAlgorithm = transform === undefined
      ? (chunk) => {
        try {
          transformStreamDefaultControllerEnqueue(controller, chunk);
          return resolvedWith(undefined);
        } catch (error) {
          return rejectedWith(error);
        }
      }
      : (chunk) => promiseCall(transform, transformer, [chunk, object]);
    const flushAlgorithm = flush === undefined
      ? () => resolvedWith(undefined)
      : () => promiseCall(flush, transformer, [object]);
    const cancelAlgorithm = cancel === undefined
      ? () => resolvedWith(undefined)
      : (reason) => promiseCall(cancel, transformer, [reason]);
    setUpTransformStreamDefaultController(stream, controller, transformAlgorithm, flushAlgorithm, cancelAlgorithm);
  }

  function transformStreamDefaultControllerClearAlgorithms(controller) {
    controller.transformAlgorithm = undefined;
    controller.flushAlgorithm = undefined;
    controller.cancelAlgorithm = undefined;
  }

  // TransformStreamDefaultControllerEnqueue.
  function transformStreamDefaultControllerEnqueue(controller, chunk) {
    const stream = controller.stream;
    const readableController = stream.readable.controller;
    if (!S.readableStreamDefaultControllerCanCloseOrEnqueue(readableController)) {
      throw new TypeError("the readable side is closed or errored: it cannot take more chunks");
    }
    try {
      S.readableStreamDefaultControllerEnqueue(readableController, chunk);
    } catch (error) {
      transformStreamErrorWritableAndUnblockWrite(stream, error);
      throw stream.readable.storedError;
    }
    const backpressure = S.readableStreamDefaultControllerHasBackpressure(readableController);
    if (backpressure !== stream.backpressure) transformStreamSetBackpressure(stream, true);
  }

  function transformStreamDefaultControllerError(controller, e) {
    transformStreamError(controller.stream, e);
  }

  function transformStreamDefaultControllerPerformTransform(controller, chunk) {
    const transformPromise = controller.transformAlgorithm(chunk);
    return promiseThen(transformPromise, undefined, (r) => {
      transformStreamError(controller.stream, r);
      throw r;
    });
  }

  function transformStreamDefaultControllerTerminate(controller) {
    const stream = controller.stream;
    S.readableStreamDefaultControllerClose(stream.readable.controller);
    const error = new TypeError("the transform stream was terminated");
    transformStreamErrorWritableAndUnblockWrite(stream, error);
  }

  // --- The algorithms the two sides run ---------------------------------------------

  function transformStreamDefaultSinkWriteAlgorithm(stream, chunk) {
    const controller = stream.controller;
    if (stream.backpressure) {
      return promiseThen(stream.backpressureChangePromise.promise, () => {
        const writable = stream.writable;
        if (writable.state === "erroring") throw writable.storedError;
        return transformStreamDefaultControllerPerformTransform(controller, chunk);
      });
    }
    return transformStreamDefaultControllerPerformTransform(controller, chunk);
  }

  // What the sink's abort and close and the source's cancel share: the
  // transformer's algorithm runs once (a second call gets the same
  // promise), the algorithms are cleared, and the finish promise settles:
  // rejected with the other side's stored error if `onFulfilled` returns
  // that (errored) side, else resolved; rejected with the algorithm's
  // failure after `onRejected`.
  function transformStreamFinish(stream, run, onFulfilled, onRejected) {
    const controller = stream.controller;
    if (controller.finishPromise !== undefined) return controller.finishPromise.promise;
    const finish = (controller.finishPromise = deferred());
    const promise = run(controller);
    transformStreamDefaultControllerClearAlgorithms(controller);
    upon(
      promise,
      () => {
        const errored = onFulfilled();
        if (errored === undefined) resolveDeferred(finish, undefined);
        else rejectDeferred(finish, errored.storedError);
      },
      (r) => {
        onRejected(r);
        rejectDeferred(finish, r);
      },
    );
    return finish.promise;
  }

  function transformStreamDefaultSinkAbortAlgorithm(stream, reason) {
    const readable = stream.readable;
    return transformStreamFinish(
      stream,
      (controller) => controller.cancelAlgorithm(reason),
      () => {
        if (readable.state === "errored") return readable;
        S.readableStreamDefaultControllerError(readable.controller, reason);
        return undefined;
      },
      (r) => S.readableStreamDefaultControllerError(readable.controller, r),
    );
  }

  function transformStreamDefaultSinkCloseAlgorithm(stream) {
    const readable = stream.readable;
    return transformStreamFinish(
      stream,
      (controller) => controller.flushAlgorithm(),
      () => {
        if (readable.state === "errored") return readable;
        S.readableStreamDefaultControllerClose(readable.controller);
        return undefined;
      },
      (r) => S.readableStreamDefaultControllerError(readable.controller, r),
    );
  }

  function transformStreamDefaultSourceCancelAlgorithm(stream, reason) {
    const writable = stream.writable;
    return transformStreamFinish(
      stream,
      (controller) => controller.cancelAlgorithm(reason),
      () => {
        if (writable.state === "errored") return writable;
        S.writableStreamDefaultControllerErrorIfNeeded(writable.controller, reason);
        transformStreamUnblockWrite(stream);
        return undefined;
      },
      (r) => {
        S.writableStreamDefaultControllerErrorIfNeeded(writable.controller, r);
        transformStreamUnblockWrite(stream);
      },
    );
  }

  function transformStreamDefaultSourcePullAlgorithm(stream) {
    transformStreamSetBackpressure(stream, false);
    return stream.backpressureChangePromise.promise;
  }

  // The standard's "set up" of a TransformStream for other standards
  // (compression, encoding): algorithms instead of a transformer. Each
  // algorithm takes the controller record; a throw becomes a rejection.
  // Returns the record; `.object` is the public TransformStream.
  function setUpTransformStream({ transform, flush, cancel }, readableHighWaterMark = 0) {
    const stream = newTransformStreamRecord();
    new TransformStream(INTERNAL, stream);
    const wrap = (algorithm) => (argument) => {
      try {
        return resolvedWith(algorithm(argument));
      } catch (error) {
        return rejectedWith(error);
      }
    };
    const controller = newTransformControllerRecord();
    new TransformStreamDefaultController(INTERNAL, controller);
    initializeTransformStream(stream, resolvedWith(undefined), 1, () => 1, readableHighWaterMark, () => 1);
    setUpTransformStreamDefaultController(
      stream,
      controller,
      wrap((chunk) => transform(controller, chunk)),
      wrap(() => (flush === undefined ? undefined : flush(controller))),
      wrap((reason) => (cancel === undefined ? undefined : cancel(controller, reason))),
    );
    return stream;
  }

  // While the readable side has all it wants: a promise that settles when
  // that changes (a transform that makes much output waits on it between
  // pieces); otherwise undefined.
  function transformStreamBackpressure(stream) {
    return stream.backpressure ? stream.backpressureChangePromise.promise : undefined;
  }

  // --- Queuing strategies ------------------------------------------------------------------

  // A strategy class: `highWaterMark` from its init dictionary (required),
  // and `size`, one function per class and global, named `size`.
  function queuingStrategy(name, size) {
    let brand;
    const Strategy = class {
      #highWaterMark;
      constructor(init) {
        const dict = dictionary(init, name);
        const hwm = member(dict, "highWaterMark");
        if (hwm === undefined) throw new TypeError(`${name}: highWaterMark is required`);
        this.#highWaterMark = Number(hwm);
      }
      get highWaterMark() {
        if (!brand(this)) throw notA(name);
        return this.#highWaterMark;
      }
      get size() {
        if (!brand(this)) throw notA(name);
        return size;
      }
      static {
        brand = (value) => isObject(value) && #highWaterMark in value;
      }
    };
    Object.defineProperty(Strategy, "name", { value: name });
    return Strategy;
  }
  const ByteLengthQueuingStrategy = queuingStrategy("ByteLengthQueuingStrategy", {
    size(chunk) {
      return chunk.byteLength;
    },
  }.size);
  const CountQueuingStrategy = queuingStrategy("CountQueuingStrategy", {
    size() {
      return 1;
    },
  }.size);

  // The GenericTransformStream mixin (Compression, Encoding): `readable`
  // and `writable` getters over the TransformStream record that
  // `transformOfThis` finds for `this` (or throws for a foreign `this`).
  function genericTransformStream(Class, transformOfThis) {
    Object.defineProperties(Class.prototype, Object.getOwnPropertyDescriptors({
      get readable() {
        return transformOfThis(this).readable.object;
      },
      get writable() {
        return transformOfThis(this).writable.object;
      },
    }));
  }

  for (const [Class, name] of [
    [TransformStream, "TransformStream"],
    [TransformStreamDefaultController, "TransformStreamDefaultController"],
    [ByteLengthQueuingStrategy, "ByteLengthQueuingStrategy"],
    [CountQueuingStrategy, "CountQueuingStrategy"],
  ]) {
    finishInterface(Class, name);
    internals.defineGlobal(name, Class);
  }

  Object.assign(S, {
    transformOf,
    genericTransformStream,
    setUpTransformStream,
    transformStreamBackpressure,
    transformStreamDefaultControllerEnqueue,
    transformStreamDefaultControllerError,
  });
});
