// Streams (WHATWG Streams standard), part 1: ReadableStream, its readers
// and controllers (default streams and byte streams, BYOB reads), tee,
// async iteration and ReadableStream.from. 43 adds WritableStream, pipeTo
// and pipeThrough; 44 TransformStream and the queuing strategies.
//
// The standard's internal slots live in plain records, one per object; the
// public object holds its record in a private field, and the record points
// back at it (`object`). The algorithms take records and keep the
// standard's names, in camelCase (ReadableStreamClose is
// readableStreamClose), with its steps named in comments where they are
// not obvious. Everything runs on promise jobs (microtasks): a stream never
// keeps a run alive by itself, so a read that nothing will ever feed is a
// promise that never settles, which the driver reports.
//
// Buffers are "transferred" by copying them and detaching the original:
// ArrayBuffer.prototype.transfer would hand a buffer that Rust allocated
// (a fetch body, TextEncoder's output) to QuickJS without the information
// it needs to free it.
(function (internals) {
  "use strict";

  // --- What the algorithms need, captured before any charm runs ---------

  const PromiseCtor = Promise;
  const promiseThenMethod = Promise.prototype.then;
  const apply = Reflect.apply;
  const ArrayBufferCtor = ArrayBuffer;
  const Uint8ArrayCtor = Uint8Array;
  const DataViewCtor = DataView;
  const isView = ArrayBuffer.isView;
  const bufferSlice = ArrayBuffer.prototype.slice;
  const bufferTransfer = ArrayBuffer.prototype.transfer;
  const bufferDetached = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "detached").get;
  const bufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength").get;
  const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
  const typedArrayName = Object.getOwnPropertyDescriptor(TypedArrayPrototype, Symbol.toStringTag).get;
  const uint8Set = TypedArrayPrototype.set;
  const AsyncIteratorPrototype = Object.getPrototypeOf(
    Object.getPrototypeOf(async function* () {}).prototype,
  );
  const TYPED_ARRAYS = {
    Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
    Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array,
  };
  if (typeof Float16Array === "function") TYPED_ARRAYS.Float16Array = Float16Array;

  // --- Promises, as the standard uses them ------------------------------

  const noop = () => {};
  function promiseThen(promise, onFulfilled, onRejected) {
    return apply(promiseThenMethod, promise, [onFulfilled, onRejected]);
  }
  function resolvedWith(value) {
    return new PromiseCtor((resolve) => resolve(value));
  }
  function rejectedWith(reason) {
    return new PromiseCtor((_, reject) => reject(reason));
  }
  // The standard's "set promise.[[PromiseIsHandled]] to true".
  function setHandled(promise) {
    promiseThen(promise, undefined, noop);
  }
  // "Upon fulfillment / rejection": a reaction that creates no promise the
  // charm could see, and whose own failure is not an unhandled rejection.
  function upon(promise, onFulfilled, onRejected) {
    setHandled(promiseThen(promise, onFulfilled, onRejected));
  }
  // Web IDL's "invoke a callback function" returning a promise: a throw
  // becomes a rejection.
  function promiseCall(method, self, args) {
    try {
      return resolvedWith(apply(method, self, args));
    } catch (error) {
      return rejectedWith(error);
    }
  }
  // Runs `step` as a microtask ("queue a microtask").
  const settledPromise = resolvedWith(undefined);
  function queueMicrotaskStep(step) {
    upon(settledPromise, step);
  }
  // Waits for every promise; rejects with the first rejection.
  function waitForAll(promises) {
    return new PromiseCtor((resolve, reject) => {
      let left = promises.length;
      if (left === 0) resolve(undefined);
      for (const promise of promises) {
        promiseThen(promise, () => {
          if (--left === 0) resolve(undefined);
        }, reject);
      }
    });
  }

  // A promise whose state the algorithms read ("if promise is pending").
  const PENDING = 0, FULFILLED = 1, REJECTED = 2;
  function deferred() {
    const d = { promise: undefined, state: PENDING, settle: undefined, fail: undefined };
    d.promise = new PromiseCtor((resolve, reject) => {
      d.settle = resolve;
      d.fail = reject;
    });
    return d;
  }
  function resolveDeferred(d, value) {
    if (d.state !== PENDING) return;
    d.state = FULFILLED;
    d.settle(value);
  }
  function rejectDeferred(d, reason, handled = false) {
    if (d.state !== PENDING) return;
    d.state = REJECTED;
    if (handled) setHandled(d.promise);
    d.fail(reason);
  }
  function resolvedDeferred(value) {
    const d = deferred();
    resolveDeferred(d, value);
    return d;
  }
  function rejectedDeferred(reason, handled) {
    const d = deferred();
    rejectDeferred(d, reason, handled);
    return d;
  }

  // --- A first-in, first-out list with O(1) removal at the head ---------

  class Queue {
    constructor() {
      this.items = [];
      this.head = 0;
    }
    get size() {
      return this.items.length - this.head;
    }
    push(item) {
      this.items[this.items.length] = item;
    }
    peek() {
      return this.items[this.head];
    }
    shift() {
      const item = this.items[this.head];
      this.items[this.head] = undefined;
      this.head += 1;
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      } else if (this.head > 64 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      return item;
    }
    // Empties the queue and returns what it held, in order.
    takeAll() {
      const items = this.head === 0 ? this.items : this.items.slice(this.head);
      this.items = [];
      this.head = 0;
      return items;
    }
  }

  // --- Queue-with-sizes (the standard's abstract operations) ------------

  function dequeueValue(container) {
    const pair = container.queue.shift();
    container.queueTotalSize -= pair.size;
    if (container.queueTotalSize < 0) container.queueTotalSize = 0; // rounding
    return pair.value;
  }
  function enqueueValueWithSize(container, value, size) {
    if (typeof size !== "number" || size !== size || size < 0) {
      throw new RangeError("the chunk's size must be a non-negative number");
    }
    if (size === Infinity) throw new RangeError("the chunk's size must be finite");
    container.queue.push({ value, size });
    container.queueTotalSize += size;
  }
  function peekQueueValue(container) {
    return container.queue.peek().value;
  }
  function resetQueue(container) {
    container.queue = new Queue();
    container.queueTotalSize = 0;
  }

  // --- Buffers ------------------------------------------------------------

  function isDetached(buffer) {
    return apply(bufferDetached, buffer, []);
  }
  // TransferArrayBuffer: the bytes move to a new buffer, the old one is
  // detached. A copy and a detach (transfer(0) frees the old bytes the
  // right way whoever allocated them).
  function transferArrayBuffer(buffer) {
    const moved = apply(bufferSlice, buffer, [0]);
    apply(bufferTransfer, buffer, [0]);
    return moved;
  }
  function copyDataBlockBytes(dest, destStart, source, sourceStart, count) {
    apply(uint8Set, new Uint8ArrayCtor(dest, destStart, count), [
      new Uint8ArrayCtor(source, sourceStart, count),
    ]);
  }
  function cloneAsUint8Array(view) {
    return new Uint8ArrayCtor(apply(bufferSlice, view.buffer, [view.byteOffset, view.byteOffset + view.byteLength]));
  }
  function bufferLength(buffer) {
    return apply(bufferByteLength, buffer, []);
  }
  // The element size and constructor of a view ([[TypedArrayName]]), or
  // 1 and DataView.
  function viewKind(view) {
    const name = apply(typedArrayName, view, []);
    if (name === undefined) return { elementSize: 1, ctor: DataViewCtor, typed: false };
    const ctor = TYPED_ARRAYS[name];
    return { elementSize: ctor.BYTES_PER_ELEMENT, ctor, typed: true };
  }

  // --- Web IDL conversions --------------------------------------------------

  function isObject(value) {
    return (typeof value === "object" && value !== null) || typeof value === "function";
  }
  // A dictionary argument: undefined and null are the empty dictionary.
  function dictionary(value, what) {
    if (value === undefined || value === null) return undefined;
    if (!isObject(value)) throw new TypeError(`${what} must be an object`);
    return value;
  }
  function member(dict, name) {
    return dict === undefined ? undefined : dict[name];
  }
  function callbackMember(dict, name, what) {
    const value = member(dict, name);
    if (value !== undefined && typeof value !== "function") {
      throw new TypeError(`${what}.${name} must be a function`);
    }
    return value;
  }
  function booleanMember(dict, name) {
    return !!member(dict, name);
  }
  // [EnforceRange] unsigned long long.
  function enforceRange(value, what) {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new TypeError(`${what} must be a finite number`);
    const t = Math.trunc(n);
    if (t < 0 || t > Number.MAX_SAFE_INTEGER) throw new TypeError(`${what} is out of range`);
    return t;
  }

  // The QueuingStrategy dictionary: { highWaterMark, size }.
  function strategyDict(strategy, what) {
    const dict = dictionary(strategy, what);
    const hwm = member(dict, "highWaterMark");
    return {
      highWaterMark: hwm === undefined ? undefined : Number(hwm),
      size: callbackMember(dict, "size", what),
    };
  }
  function extractHighWaterMark(strategy, defaultHWM) {
    if (strategy.highWaterMark === undefined) return defaultHWM;
    const hwm = strategy.highWaterMark;
    if (hwm !== hwm || hwm < 0) throw new RangeError("highWaterMark must be a non-negative number");
    return hwm;
  }
  function extractSizeAlgorithm(strategy) {
    const size = strategy.size;
    if (size === undefined) return () => 1;
    return (chunk) => apply(size, undefined, [chunk]);
  }

  // Installs Web IDL's class string and makes the prototype's members
  // enumerable, as interfaces have them.
  function finishInterface(Class, name) {
    const proto = Class.prototype;
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === "constructor") continue;
      const desc = Reflect.getOwnPropertyDescriptor(proto, key);
      desc.enumerable = true;
      Object.defineProperty(proto, key, desc);
    }
    Object.defineProperty(proto, Symbol.toStringTag, { value: name, configurable: true });
  }
  // A brand check: the record `recordOf` finds for a value, or a
  // TypeError naming the interface.
  function branded(recordOf, name) {
    return (value) => {
      const record = recordOf(value);
      if (record === undefined) throw notA(name);
      return record;
    };
  }
  function illegal(what) {
    return new TypeError(`${what}: illegal constructor`);
  }
  function notA(what) {
    return new TypeError(`'this' is not a ${what}`);
  }

  // Hands internal records to the public constructors, which otherwise
  // run the standard's constructor steps.
  const INTERNAL = Symbol("internal");

  // --- ReadableStream ---------------------------------------------------------

  let streamOf;

  class ReadableStream {
    #r;
    constructor(underlyingSource = undefined, strategy = undefined) {
      if (underlyingSource === INTERNAL) {
        this.#r = strategy;
        strategy.object = this;
        return;
      }
      // Web IDL: `optional object underlyingSource`, then the strategy
      // dictionary, are converted before the steps run.
      if (underlyingSource !== undefined && !isObject(underlyingSource)) {
        throw new TypeError("ReadableStream: the underlying source must be an object");
      }
      const strat = strategyDict(strategy, "ReadableStream: strategy");
      // 1. If underlyingSource is missing, set it to null.
      if (underlyingSource === undefined) underlyingSource = null;
      // 2. Convert it to an UnderlyingSource dictionary (members in order).
      const source = underlyingSourceDict(underlyingSource);
      // 3. InitializeReadableStream(this).
      const stream = newReadableStreamRecord();
      this.#r = stream;
      stream.object = this;
      // 4. A byte stream...
      if (source.type === "bytes") {
        if (strat.size !== undefined) {
          throw new RangeError("ReadableStream: a byte stream's strategy cannot have a size function");
        }
        const hwm = extractHighWaterMark(strat, 0);
        setUpReadableByteStreamControllerFromUnderlyingSource(stream, underlyingSource, source, hwm);
      } else {
        // 5. ...or a default one.
        const size = extractSizeAlgorithm(strat);
        const hwm = extractHighWaterMark(strat, 1);
        setUpReadableStreamDefaultControllerFromUnderlyingSource(stream, underlyingSource, source, hwm, size);
      }
    }
    get locked() {
      return isReadableStreamLocked(readable(this));
    }
    cancel(reason = undefined) {
      const stream = streamOf(this);
      if (stream === undefined) return rejectedWith(notA("ReadableStream"));
      if (isReadableStreamLocked(stream)) {
        return rejectedWith(new TypeError("cannot cancel a stream that is locked to a reader"));
      }
      return readableStreamCancel(stream, reason);
    }
    getReader(options = undefined) {
      const stream = readable(this);
      const dict = dictionary(options, "getReader: options");
      const mode = member(dict, "mode");
      if (mode === undefined) return readerObject(acquireReadableStreamDefaultReader(stream));
      if (String(mode) !== "byob") {
        throw new TypeError(`getReader: mode must be "byob" or left out, not ${JSON.stringify(String(mode))}`);
      }
      return readerObject(acquireReadableStreamBYOBReader(stream));
    }
    tee() {
      const [branch1, branch2] = readableStreamTee(readable(this), false);
      return [branch1.object, branch2.object];
    }
    values(options = undefined) {
      const stream = readable(this);
      const dict = dictionary(options, "values: options");
      const preventCancel = booleanMember(dict, "preventCancel");
      // The asynchronous iterator initialization steps.
      const reader = acquireReadableStreamDefaultReader(stream);
      return new ReadableStreamAsyncIterator(INTERNAL, { reader, preventCancel });
    }
    static from(asyncIterable) {
      return readableStreamFromIterable(asyncIterable).object;
    }
    static {
      streamOf = (value) => (isObject(value) && #r in value ? value.#r : undefined);
    }
  }
  const readable = branded(streamOf, "ReadableStream");
  // Web IDL: an async iterable's @@asyncIterator is its `values`.
  Object.defineProperty(ReadableStream.prototype, Symbol.asyncIterator, {
    value: ReadableStream.prototype.values,
    writable: true,
    configurable: true,
  });

  function underlyingSourceDict(source) {
    const dict = source === null ? undefined : source;
    const what = "ReadableStream: the underlying source";
    const autoAllocate = member(dict, "autoAllocateChunkSize");
    const result = {
      autoAllocateChunkSize: autoAllocate === undefined ? undefined : enforceRange(autoAllocate, `${what}'s autoAllocateChunkSize`),
      cancel: callbackMember(dict, "cancel", what),
      pull: callbackMember(dict, "pull", what),
      start: callbackMember(dict, "start", what),
      type: undefined,
    };
    const type = member(dict, "type");
    if (type !== undefined) {
      result.type = String(type);
      if (result.type !== "bytes") {
        throw new TypeError(`${what}'s type must be "bytes" or left out, not ${JSON.stringify(result.type)}`);
      }
    }
    return result;
  }

  // InitializeReadableStream.
  function newReadableStreamRecord() {
    return {
      object: undefined,
      state: "readable",
      reader: undefined,
      storedError: undefined,
      disturbed: false,
      controller: undefined,
    };
  }
  // CreateReadableStream: a default stream driven by algorithms.
  function createReadableStream(startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark = 1, sizeAlgorithm = () => 1) {
    const stream = newReadableStreamRecord();
    new ReadableStream(INTERNAL, stream);
    const controller = newDefaultControllerRecord();
    setUpReadableStreamDefaultController(stream, controller, startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark, sizeAlgorithm);
    return stream;
  }
  // CreateReadableByteStream.
  function createReadableByteStream(startAlgorithm, pullAlgorithm, cancelAlgorithm) {
    const stream = newReadableStreamRecord();
    new ReadableStream(INTERNAL, stream);
    const controller = newByteControllerRecord();
    setUpReadableByteStreamController(stream, controller, startAlgorithm, pullAlgorithm, cancelAlgorithm, 0, undefined);
    return stream;
  }

  function isReadableStreamLocked(stream) {
    return stream.reader !== undefined;
  }

  // ReadableStreamCancel.
  function readableStreamCancel(stream, reason) {
    stream.disturbed = true;
    if (stream.state === "closed") return resolvedWith(undefined);
    if (stream.state === "errored") return rejectedWith(stream.storedError);
    readableStreamClose(stream);
    const reader = stream.reader;
    if (reader !== undefined && reader.byob) {
      const requests = reader.requests.takeAll();
      for (const request of requests) request.close(undefined);
    }
    const sourceCancelPromise = controllerCancelSteps(stream.controller, reason);
    return promiseThen(sourceCancelPromise, () => undefined);
  }

  // ReadableStreamClose.
  function readableStreamClose(stream) {
    stream.state = "closed";
    const reader = stream.reader;
    if (reader === undefined) return;
    resolveDeferred(reader.closed, undefined);
    if (!reader.byob) {
      const requests = reader.requests.takeAll();
      for (const request of requests) request.close();
    }
  }

  // ReadableStreamError.
  function readableStreamError(stream, error) {
    stream.state = "errored";
    stream.storedError = error;
    const reader = stream.reader;
    if (reader === undefined) return;
    rejectDeferred(reader.closed, error, true);
    if (reader.byob) readableStreamBYOBReaderErrorReadIntoRequests(reader, error);
    else readableStreamDefaultReaderErrorReadRequests(reader, error);
  }

  function readableStreamAddReadRequest(stream, readRequest) {
    stream.reader.requests.push(readRequest);
  }
  function readableStreamAddReadIntoRequest(stream, readIntoRequest) {
    stream.reader.requests.push(readIntoRequest);
  }
  function readableStreamFulfillReadRequest(stream, chunk, done) {
    const readRequest = stream.reader.requests.shift();
    if (done) readRequest.close();
    else readRequest.chunk(chunk);
  }
  function readableStreamFulfillReadIntoRequest(stream, chunk, done) {
    const readIntoRequest = stream.reader.requests.shift();
    if (done) readIntoRequest.close(chunk);
    else readIntoRequest.chunk(chunk);
  }
  function readableStreamGetNumReadRequests(stream) {
    return stream.reader.requests.size;
  }
  const readableStreamGetNumReadIntoRequests = readableStreamGetNumReadRequests;
  function readableStreamHasDefaultReader(stream) {
    return stream.reader !== undefined && !stream.reader.byob;
  }
  function readableStreamHasBYOBReader(stream) {
    return stream.reader !== undefined && stream.reader.byob;
  }

  // --- Readers ------------------------------------------------------------------

  function newReaderRecord(byob) {
    return { object: undefined, stream: undefined, closed: undefined, byob, requests: new Queue() };
  }

  // ReadableStreamReaderGenericInitialize.
  function readableStreamReaderGenericInitialize(reader, stream) {
    reader.stream = stream;
    stream.reader = reader;
    if (stream.state === "readable") reader.closed = deferred();
    else if (stream.state === "closed") reader.closed = resolvedDeferred(undefined);
    else reader.closed = rejectedDeferred(stream.storedError, true);
  }

  function readableStreamReaderGenericCancel(reader, reason) {
    return readableStreamCancel(reader.stream, reason);
  }

  // ReadableStreamReaderGenericRelease.
  function readableStreamReaderGenericRelease(reader) {
    const stream = reader.stream;
    const error = new TypeError("the reader's lock on the stream was released");
    if (stream.state === "readable") rejectDeferred(reader.closed, error, true);
    else reader.closed = rejectedDeferred(error, true);
    controllerReleaseSteps(stream.controller);
    stream.reader = undefined;
    reader.stream = undefined;
  }

  // SetUpReadableStreamDefaultReader and SetUpReadableStreamBYOBReader,
  // by the reader's kind.
  function setUpReader(reader, stream) {
    if (isReadableStreamLocked(stream)) {
      throw new TypeError("the stream is locked to a reader already");
    }
    if (reader.byob && !stream.controller.byte) {
      throw new TypeError("a BYOB reader needs a byte stream (type: \"bytes\")");
    }
    readableStreamReaderGenericInitialize(reader, stream);
  }
  function acquireReadableStreamDefaultReader(stream) {
    const reader = newReaderRecord(false);
    setUpReader(reader, stream);
    return reader;
  }
  function acquireReadableStreamBYOBReader(stream) {
    const reader = newReaderRecord(true);
    setUpReader(reader, stream);
    return reader;
  }

  // ReadableStreamDefaultReaderRead.
  function readableStreamDefaultReaderRead(reader, readRequest) {
    const stream = reader.stream;
    stream.disturbed = true;
    if (stream.state === "closed") readRequest.close();
    else if (stream.state === "errored") readRequest.error(stream.storedError);
    else controllerPullSteps(stream.controller, readRequest);
  }

  function readableStreamDefaultReaderRelease(reader) {
    readableStreamReaderGenericRelease(reader);
    readableStreamDefaultReaderErrorReadRequests(reader, new TypeError("the reader's lock on the stream was released"));
  }
  function readableStreamDefaultReaderErrorReadRequests(reader, error) {
    const requests = reader.requests.takeAll();
    for (const request of requests) request.error(error);
  }

  // ReadableStreamBYOBReaderRead.
  function readableStreamBYOBReaderRead(reader, view, min, readIntoRequest) {
    const stream = reader.stream;
    stream.disturbed = true;
    if (stream.state === "errored") readIntoRequest.error(stream.storedError);
    else readableByteStreamControllerPullInto(stream.controller, view, min, readIntoRequest);
  }
  function readableStreamBYOBReaderRelease(reader) {
    readableStreamReaderGenericRelease(reader);
    readableStreamBYOBReaderErrorReadIntoRequests(reader, new TypeError("the reader's lock on the stream was released"));
  }
  function readableStreamBYOBReaderErrorReadIntoRequests(reader, error) {
    const requests = reader.requests.takeAll();
    for (const request of requests) request.error(error);
  }

  // A read request that settles a promise with { value, done }.
  function promiseReadRequest() {
    const d = deferred();
    return {
      promise: d.promise,
      chunk: (value) => resolveDeferred(d, { value, done: false }),
      close: (value) => resolveDeferred(d, { value, done: true }),
      error: (e) => rejectDeferred(d, e),
    };
  }

  let defaultReaderOf, byobReaderOf;

  class ReadableStreamDefaultReader {
    #r;
    constructor(stream) {
      if (stream === INTERNAL) {
        this.#r = arguments[1];
        this.#r.object = this;
        return;
      }
      this.#r = newReaderRecord(false);
      this.#r.object = this;
      setUpReader(this.#r, readable(stream));
    }
    read() {
      const reader = defaultReaderOf(this);
      if (reader === undefined) return rejectedWith(notA("ReadableStreamDefaultReader"));
      if (reader.stream === undefined) return rejectedWith(new TypeError("the reader has been released"));
      const request = promiseReadRequest();
      readableStreamDefaultReaderRead(reader, request);
      return request.promise;
    }
    static {
      defaultReaderOf = (value) => (isObject(value) && #r in value ? value.#r : undefined);
    }
  }

  class ReadableStreamBYOBReader {
    #r;
    constructor(stream) {
      if (stream === INTERNAL) {
        this.#r = arguments[1];
        this.#r.object = this;
        return;
      }
      this.#r = newReaderRecord(true);
      this.#r.object = this;
      setUpReader(this.#r, readable(stream));
    }
    read(view, options = undefined) {
      const reader = byobReaderOf(this);
      if (reader === undefined) return rejectedWith(notA("ReadableStreamBYOBReader"));
      if (!isView(view)) return rejectedWith(new TypeError("read(view): view must be an ArrayBufferView"));
      let min;
      try {
        const dict = dictionary(options, "read(view): options");
        const given = member(dict, "min");
        min = given === undefined ? 1 : enforceRange(given, "read(view): min");
      } catch (error) {
        return rejectedWith(error);
      }
      if (view.byteLength === 0) return rejectedWith(new TypeError("read(view): the view is empty"));
      if (bufferLength(view.buffer) === 0) {
        return rejectedWith(new TypeError("read(view): the view's buffer is empty or detached"));
      }
      if (isDetached(view.buffer)) return rejectedWith(new TypeError("read(view): the view's buffer is detached"));
      if (min === 0) return rejectedWith(new TypeError("read(view): min must be greater than 0"));
      const kind = viewKind(view);
      if (kind.typed ? min > view.length : min > view.byteLength) {
        return rejectedWith(new RangeError("read(view): min is larger than the view"));
      }
      if (reader.stream === undefined) return rejectedWith(new TypeError("the reader has been released"));
      const request = promiseReadRequest();
      readableStreamBYOBReaderRead(reader, view, min, request);
      return request.promise;
    }
    static {
      byobReaderOf = (value) => (isObject(value) && #r in value ? value.#r : undefined);
    }
  }

  // The ReadableStreamGenericReader mixin: `closed`, `cancel` and
  // `releaseLock`, on each reader's prototype with its own brand check.
  for (const [Reader, readerOf, name] of [
    [ReadableStreamDefaultReader, defaultReaderOf, "ReadableStreamDefaultReader"],
    [ReadableStreamBYOBReader, byobReaderOf, "ReadableStreamBYOBReader"],
  ]) {
    const members = {
      get closed() {
        const reader = readerOf(this);
        if (reader === undefined) return rejectedWith(notA(name));
        return reader.closed.promise;
      },
      cancel(reason = undefined) {
        const reader = readerOf(this);
        if (reader === undefined) return rejectedWith(notA(name));
        if (reader.stream === undefined) return rejectedWith(new TypeError("the reader has been released"));
        return readableStreamReaderGenericCancel(reader, reason);
      },
      releaseLock() {
        const reader = readerOf(this);
        if (reader === undefined) throw notA(name);
        if (reader.stream === undefined) return;
        if (reader.byob) readableStreamBYOBReaderRelease(reader);
        else readableStreamDefaultReaderRelease(reader);
      },
    };
    Object.defineProperties(Reader.prototype, Object.getOwnPropertyDescriptors(members));
  }

  function readerObject(reader) {
    if (reader.object === undefined) {
      if (reader.byob) new ReadableStreamBYOBReader(INTERNAL, reader);
      else new ReadableStreamDefaultReader(INTERNAL, reader);
    }
    return reader.object;
  }

  // --- The controllers' shared steps, by kind ----------------------------------

  function controllerCancelSteps(controller, reason) {
    return controller.byte
      ? readableByteStreamControllerCancelSteps(controller, reason)
      : readableStreamDefaultControllerCancelSteps(controller, reason);
  }
  function controllerPullSteps(controller, readRequest) {
    if (controller.byte) readableByteStreamControllerPullSteps(controller, readRequest);
    else readableStreamDefaultControllerPullSteps(controller, readRequest);
  }
  function controllerReleaseSteps(controller) {
    if (controller.byte) readableByteStreamControllerReleaseSteps(controller);
  }

  // --- ReadableStreamDefaultController -------------------------------------------

  function newDefaultControllerRecord() {
    return {
      object: undefined,
      byte: false,
      stream: undefined,
      queue: undefined,
      queueTotalSize: 0,
      started: false,
      closeRequested: false,
      pullAgain: false,
      pulling: false,
      strategyHWM: 1,
      strategySizeAlgorithm: undefined,
      pullAlgorithm: undefined,
      cancelAlgorithm: undefined,
    };
  }

  let defaultControllerOf;

  class ReadableStreamDefaultController {
    #r;
    constructor(key, record) {
      if (key !== INTERNAL) throw illegal("ReadableStreamDefaultController");
      this.#r = record;
      record.object = this;
    }
    get desiredSize() {
      return readableStreamDefaultControllerGetDesiredSize(defaultController(this));
    }
    close() {
      const controller = defaultController(this);
      if (!readableStreamDefaultControllerCanCloseOrEnqueue(controller)) {
        throw new TypeError("the stream is closed or closing: it cannot be closed again");
      }
      readableStreamDefaultControllerClose(controller);
    }
    enqueue(chunk = undefined) {
      const controller = defaultController(this);
      if (!readableStreamDefaultControllerCanCloseOrEnqueue(controller)) {
        throw new TypeError("the stream is closed or closing: it cannot take more chunks");
      }
      readableStreamDefaultControllerEnqueue(controller, chunk);
    }
    error(e = undefined) {
      readableStreamDefaultControllerError(defaultController(this), e);
    }
    static {
      defaultControllerOf = (value) => (isObject(value) && #r in value ? value.#r : undefined);
    }
  }
  const defaultController = branded(defaultControllerOf, "ReadableStreamDefaultController");

  function readableStreamDefaultControllerCancelSteps(controller, reason) {
    resetQueue(controller);
    const result = controller.cancelAlgorithm(reason);
    readableStreamDefaultControllerClearAlgorithms(controller);
    return result;
  }

  function readableStreamDefaultControllerPullSteps(controller, readRequest) {
    const stream = controller.stream;
    if (controller.queue.size > 0) {
      const chunk = dequeueValue(controller);
      if (controller.closeRequested && controller.queue.size === 0) {
        readableStreamDefaultControllerClearAlgorithms(controller);
        readableStreamClose(stream);
      } else {
        readableStreamDefaultControllerCallPullIfNeeded(controller);
      }
      readRequest.chunk(chunk);
    } else {
      readableStreamAddReadRequest(stream, readRequest);
      readableStreamDefaultControllerCallPullIfNeeded(controller);
    }
  }

  // ReadableStreamDefaultControllerCallPullIfNeeded and
  // ReadableByteStreamControllerCallPullIfNeeded, which differ only in
  // when to pull and how to error.
  function controllerCallPullIfNeeded(controller) {
    const shouldPull = controller.byte
      ? readableByteStreamControllerShouldCallPull(controller)
      : readableStreamDefaultControllerShouldCallPull(controller);
    if (!shouldPull) return;
    if (controller.pulling) {
      controller.pullAgain = true;
      return;
    }
    controller.pulling = true;
    const pullPromise = controller.pullAlgorithm(controller);
    upon(
      pullPromise,
      () => {
        controller.pulling = false;
        if (controller.pullAgain) {
          controller.pullAgain = false;
          controllerCallPullIfNeeded(controller);
        }
      },
      (e) => controllerError(controller, e),
    );
  }
  function controllerError(controller, e) {
    if (controller.byte) readableByteStreamControllerError(controller, e);
    else readableStreamDefaultControllerError(controller, e);
  }
  const readableStreamDefaultControllerCallPullIfNeeded = controllerCallPullIfNeeded;
  const readableByteStreamControllerCallPullIfNeeded = controllerCallPullIfNeeded;

  function readableStreamDefaultControllerShouldCallPull(controller) {
    const stream = controller.stream;
    if (!readableStreamDefaultControllerCanCloseOrEnqueue(controller)) return false;
    if (!controller.started) return false;
    if (isReadableStreamLocked(stream) && readableStreamGetNumReadRequests(stream) > 0) return true;
    return readableStreamDefaultControllerGetDesiredSize(controller) > 0;
  }

  function readableStreamDefaultControllerClearAlgorithms(controller) {
    controller.pullAlgorithm = undefined;
    controller.cancelAlgorithm = undefined;
    controller.strategySizeAlgorithm = undefined;
  }

  function readableStreamDefaultControllerClose(controller) {
    if (!readableStreamDefaultControllerCanCloseOrEnqueue(controller)) return;
    controller.closeRequested = true;
    if (controller.queue.size === 0) {
      readableStreamDefaultControllerClearAlgorithms(controller);
      readableStreamClose(controller.stream);
    }
  }

  function readableStreamDefaultControllerEnqueue(controller, chunk) {
    if (!readableStreamDefaultControllerCanCloseOrEnqueue(controller)) return;
    const stream = controller.stream;
    if (isReadableStreamLocked(stream) && readableStreamGetNumReadRequests(stream) > 0) {
      readableStreamFulfillReadRequest(stream, chunk, false);
    } else {
      let chunkSize;
      try {
        chunkSize = controller.strategySizeAlgorithm(chunk);
      } catch (error) {
        readableStreamDefaultControllerError(controller, error);
        throw error;
      }
      try {
        enqueueValueWithSize(controller, chunk, chunkSize);
      } catch (error) {
        readableStreamDefaultControllerError(controller, error);
        throw error;
      }
    }
    readableStreamDefaultControllerCallPullIfNeeded(controller);
  }

  function readableStreamDefaultControllerError(controller, e) {
    const stream = controller.stream;
    if (stream.state !== "readable") return;
    resetQueue(controller);
    readableStreamDefaultControllerClearAlgorithms(controller);
    readableStreamError(stream, e);
  }

  function readableStreamDefaultControllerGetDesiredSize(controller) {
    const state = controller.stream.state;
    if (state === "errored") return null;
    if (state === "closed") return 0;
    return controller.strategyHWM - controller.queueTotalSize;
  }

  function readableStreamDefaultControllerHasBackpressure(controller) {
    return !readableStreamDefaultControllerShouldCallPull(controller);
  }

  function readableStreamDefaultControllerCanCloseOrEnqueue(controller) {
    return !controller.closeRequested && controller.stream.state === "readable";
  }

  // SetUpReadableStreamDefaultController.
  function setUpReadableStreamDefaultController(stream, controller, startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark, sizeAlgorithm) {
    controller.stream = stream;
    resetQueue(controller);
    controller.started = false;
    controller.closeRequested = false;
    controller.pullAgain = false;
    controller.pulling = false;
    controller.strategySizeAlgorithm = sizeAlgorithm;
    controller.strategyHWM = highWaterMark;
    controller.pullAlgorithm = pullAlgorithm;
    controller.cancelAlgorithm = cancelAlgorithm;
    stream.controller = controller;
    startController(controller, startAlgorithm);
  }

  // The last steps of both SetUp algorithms: run start, then pull if
  // needed, or error.
  function startController(controller, startAlgorithm) {
    const startResult = startAlgorithm(controller);
    upon(
      resolvedWith(startResult),
      () => {
        controller.started = true;
        controllerCallPullIfNeeded(controller);
      },
      (r) => controllerError(controller, r),
    );
  }

  // The algorithms of an underlying source's start, pull and cancel, each
  // called on the source with the controller's public object.
  function underlyingSourceAlgorithms(underlyingSource, source, object) {
    const { start, pull, cancel } = source;
    return {
      startAlgorithm: start === undefined ? noop : () => apply(start, underlyingSource, [object]),
      pullAlgorithm: pull === undefined
        ? () => resolvedWith(undefined)
        : () => promiseCall(pull, underlyingSource, [object]),
      cancelAlgorithm: cancel === undefined
        ? () => resolvedWith(undefined)
        : (reason) => promiseCall(cancel, underlyingSource, [reason]),
    };
  }

  function setUpReadableStreamDefaultControllerFromUnderlyingSource(stream, underlyingSource, source, highWaterMark, sizeAlgorithm) {
    const controller = newDefaultControllerRecord();
    const object = new ReadableStreamDefaultController(INTERNAL, controller);
    const { startAlgorithm, pullAlgorithm, cancelAlgorithm } = underlyingSourceAlgorithms(underlyingSource, source, object);
    setUpReadableStreamDefaultController(stream, controller, startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark, sizeAlgorithm);
  }

  // --- ReadableByteStreamController ------------------------------------------------

  function newByteControllerRecord() {
    return {
      object: undefined,
      byte: true,
      stream: undefined,
      queue: undefined,
      queueTotalSize: 0,
      started: false,
      closeRequested: false,
      pullAgain: false,
      pulling: false,
      strategyHWM: 0,
      pullAlgorithm: undefined,
      cancelAlgorithm: undefined,
      autoAllocateChunkSize: undefined,
      byobRequest: null,
      pendingPullIntos: new Queue(),
    };
  }

  let byteControllerOf;

  class ReadableByteStreamController {
    #r;
    constructor(key, record) {
      if (key !== INTERNAL) throw illegal("ReadableByteStreamController");
      this.#r = record;
      record.object = this;
    }
    get byobRequest() {
      const request = readableByteStreamControllerGetBYOBRequest(byteController(this));
      return request === null ? null : request.object;
    }
    get desiredSize() {
      return readableByteStreamControllerGetDesiredSize(byteController(this));
    }
    close() {
      const controller = byteController(this);
      if (controller.closeRequested) throw new TypeError("the stream is closing already");
      if (controller.stream.state !== "readable") throw new TypeError("the stream is not readable: it cannot be closed");
      readableByteStreamControllerClose(controller);
    }
    enqueue(chunk) {
      const controller = byteController(this);
      if (!isView(chunk)) throw new TypeError("enqueue: the chunk must be an ArrayBufferView");
      if (chunk.byteLength === 0) throw new TypeError("enqueue: the chunk is empty");
      if (bufferLength(chunk.buffer) === 0) throw new TypeError("enqueue: the chunk's buffer is empty or detached");
      if (controller.closeRequested) throw new TypeError("the stream is closing: it cannot take more chunks");
      if (controller.stream.state !== "readable") throw new TypeError("the stream is not readable: it cannot take more chunks");
      readableByteStreamControllerEnqueue(controller, chunk);
    }
    error(e = undefined) {
      readableByteStreamControllerError(byteController(this), e);
    }
    static {
      byteControllerOf = (value) => (isObject(value) && #r in value ? value.#r : undefined);
    }
  }
  const byteController = branded(byteControllerOf, "ReadableByteStreamController");

  let byobRequestOf;

  class ReadableStreamBYOBRequest {
    #r;
    constructor(key, record) {
      if (key !== INTERNAL) throw illegal("ReadableStreamBYOBRequest");
      this.#r = record;
      record.object = this;
    }
    get view() {
      return byobRequest(this).view;
    }
    respond(bytesWritten) {
      const request = byobRequest(this);
      bytesWritten = enforceRange(bytesWritten, "respond: bytesWritten");
      if (request.controller === undefined) throw new TypeError("respond: this request has been answered already");
      if (isDetached(request.view.buffer)) throw new TypeError("respond: the view's buffer is detached");
      readableByteStreamControllerRespond(request.controller, bytesWritten);
    }
    respondWithNewView(view) {
      const request = byobRequest(this);
      if (!isView(view)) throw new TypeError("respondWithNewView: view must be an ArrayBufferView");
      if (request.controller === undefined) throw new TypeError("respondWithNewView: this request has been answered already");
      if (isDetached(view.buffer)) throw new TypeError("respondWithNewView: the view's buffer is detached");
      readableByteStreamControllerRespondWithNewView(request.controller, view);
    }
    static {
      byobRequestOf = (value) => (isObject(value) && #r in value ? value.#r : undefined);
    }
  }
  const byobRequest = branded(byobRequestOf, "ReadableStreamBYOBRequest");

  function readableByteStreamControllerCancelSteps(controller, reason) {
    readableByteStreamControllerClearPendingPullIntos(controller);
    resetQueue(controller);
    const result = controller.cancelAlgorithm(reason);
    readableByteStreamControllerClearAlgorithms(controller);
    return result;
  }

  function readableByteStreamControllerPullSteps(controller, readRequest) {
    const stream = controller.stream;
    if (controller.queueTotalSize > 0) {
      readableByteStreamControllerFillReadRequestFromQueue(controller, readRequest);
      return;
    }
    const autoAllocateChunkSize = controller.autoAllocateChunkSize;
    if (autoAllocateChunkSize !== undefined) {
      let buffer;
      try {
        buffer = new ArrayBufferCtor(autoAllocateChunkSize);
      } catch (error) {
        readRequest.error(error);
        return;
      }
      controller.pendingPullIntos.push({
        buffer,
        bufferByteLength: autoAllocateChunkSize,
        byteOffset: 0,
        byteLength: autoAllocateChunkSize,
        bytesFilled: 0,
        minimumFill: 1,
        elementSize: 1,
        viewConstructor: Uint8ArrayCtor,
        readerType: "default",
      });
    }
    readableStreamAddReadRequest(stream, readRequest);
    readableByteStreamControllerCallPullIfNeeded(controller);
  }

  function readableByteStreamControllerReleaseSteps(controller) {
    if (controller.pendingPullIntos.size > 0) {
      const first = controller.pendingPullIntos.peek();
      first.readerType = "none";
      controller.pendingPullIntos = new Queue();
      controller.pendingPullIntos.push(first);
    }
  }

  function readableByteStreamControllerClearAlgorithms(controller) {
    controller.pullAlgorithm = undefined;
    controller.cancelAlgorithm = undefined;
  }

  function readableByteStreamControllerClearPendingPullIntos(controller) {
    readableByteStreamControllerInvalidateBYOBRequest(controller);
    controller.pendingPullIntos = new Queue();
  }

  function readableByteStreamControllerClose(controller) {
    const stream = controller.stream;
    if (controller.closeRequested || stream.state !== "readable") return;
    if (controller.queueTotalSize > 0) {
      controller.closeRequested = true;
      return;
    }
    if (controller.pendingPullIntos.size > 0) {
      const first = controller.pendingPullIntos.peek();
      if (first.bytesFilled % first.elementSize !== 0) {
        const e = new TypeError("the stream closed in the middle of an element of the view being filled");
        readableByteStreamControllerError(controller, e);
        throw e;
      }
    }
    readableByteStreamControllerClearAlgorithms(controller);
    readableStreamClose(stream);
  }

  function readableByteStreamControllerCommitPullIntoDescriptor(stream, pullIntoDescriptor) {
    const done = stream.state === "closed";
    const filledView = readableByteStreamControllerConvertPullIntoDescriptor(pullIntoDescriptor);
    if (pullIntoDescriptor.readerType === "default") {
      readableStreamFulfillReadRequest(stream, filledView, done);
    } else {
      readableStreamFulfillReadIntoRequest(stream, filledView, done);
    }
  }

  function readableByteStreamControllerConvertPullIntoDescriptor(pullIntoDescriptor) {
    const { bytesFilled, elementSize } = pullIntoDescriptor;
    const buffer = transferArrayBuffer(pullIntoDescriptor.buffer);
    return new pullIntoDescriptor.viewConstructor(buffer, pullIntoDescriptor.byteOffset, bytesFilled / elementSize);
  }

  // ReadableByteStreamControllerEnqueue. `owned`: the chunk's buffer is a
  // fresh one the runtime made, which needs no transfer.
  function readableByteStreamControllerEnqueue(controller, chunk, owned = false) {
    const stream = controller.stream;
    if (controller.closeRequested || stream.state !== "readable") return;
    const buffer = chunk.buffer;
    const byteOffset = chunk.byteOffset;
    const byteLength = chunk.byteLength;
    if (isDetached(buffer)) throw new TypeError("enqueue: the chunk's buffer is detached");
    const transferredBuffer = owned ? buffer : transferArrayBuffer(buffer);
    if (controller.pendingPullIntos.size > 0) {
      const first = controller.pendingPullIntos.peek();
      if (isDetached(first.buffer)) {
        throw new TypeError("enqueue: the buffer of the pending read is detached");
      }
      readableByteStreamControllerInvalidateBYOBRequest(controller);
      first.buffer = transferArrayBuffer(first.buffer);
      if (first.readerType === "none") {
        readableByteStreamControllerEnqueueDetachedPullIntoToQueue(controller, first);
      }
    }
    if (readableStreamHasDefaultReader(stream)) {
      readableByteStreamControllerProcessReadRequestsUsingQueue(controller);
      if (readableStreamGetNumReadRequests(stream) === 0) {
        readableByteStreamControllerEnqueueChunkToQueue(controller, transferredBuffer, byteOffset, byteLength);
      } else {
        if (controller.pendingPullIntos.size > 0) {
          readableByteStreamControllerShiftPendingPullInto(controller);
        }
        const transferredView = new Uint8ArrayCtor(transferredBuffer, byteOffset, byteLength);
        readableStreamFulfillReadRequest(stream, transferredView, false);
      }
    } else if (readableStreamHasBYOBReader(stream)) {
      readableByteStreamControllerEnqueueChunkToQueue(controller, transferredBuffer, byteOffset, byteLength);
      const filledPullIntos = readableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(controller);
      for (const filled of filledPullIntos) {
        readableByteStreamControllerCommitPullIntoDescriptor(stream, filled);
      }
    } else {
      readableByteStreamControllerEnqueueChunkToQueue(controller, transferredBuffer, byteOffset, byteLength);
    }
    readableByteStreamControllerCallPullIfNeeded(controller);
  }

  function readableByteStreamControllerEnqueueChunkToQueue(controller, buffer, byteOffset, byteLength) {
    controller.queue.push({ buffer, byteOffset, byteLength });
    controller.queueTotalSize += byteLength;
  }

  function readableByteStreamControllerEnqueueClonedChunkToQueue(controller, buffer, byteOffset, byteLength) {
    let clone;
    try {
      clone = apply(bufferSlice, buffer, [byteOffset, byteOffset + byteLength]);
    } catch (error) {
      readableByteStreamControllerError(controller, error);
      throw error;
    }
    readableByteStreamControllerEnqueueChunkToQueue(controller, clone, 0, byteLength);
  }

  function readableByteStreamControllerEnqueueDetachedPullIntoToQueue(controller, pullIntoDescriptor) {
    if (pullIntoDescriptor.bytesFilled > 0) {
      readableByteStreamControllerEnqueueClonedChunkToQueue(
        controller,
        pullIntoDescriptor.buffer,
        pullIntoDescriptor.byteOffset,
        pullIntoDescriptor.bytesFilled,
      );
    }
    readableByteStreamControllerShiftPendingPullInto(controller);
  }

  function readableByteStreamControllerError(controller, e) {
    const stream = controller.stream;
    if (stream.state !== "readable") return;
    readableByteStreamControllerClearPendingPullIntos(controller);
    resetQueue(controller);
    readableByteStreamControllerClearAlgorithms(controller);
    readableStreamError(stream, e);
  }

  function readableByteStreamControllerFillHeadPullIntoDescriptor(controller, size, pullIntoDescriptor) {
    pullIntoDescriptor.bytesFilled += size;
  }

  // ReadableByteStreamControllerFillPullIntoDescriptorFromQueue: copies
  // what the queue holds into the descriptor's buffer, whole elements
  // only; true if it now holds at least its minimum.
  function readableByteStreamControllerFillPullIntoDescriptorFromQueue(controller, pullIntoDescriptor) {
    const maxBytesToCopy = Math.min(
      controller.queueTotalSize,
      pullIntoDescriptor.byteLength - pullIntoDescriptor.bytesFilled,
    );
    const maxBytesFilled = pullIntoDescriptor.bytesFilled + maxBytesToCopy;
    let totalBytesToCopyRemaining = maxBytesToCopy;
    let ready = false;
    const remainderBytes = maxBytesFilled % pullIntoDescriptor.elementSize;
    const maxAlignedBytes = maxBytesFilled - remainderBytes;
    if (maxAlignedBytes >= pullIntoDescriptor.minimumFill) {
      totalBytesToCopyRemaining = maxAlignedBytes - pullIntoDescriptor.bytesFilled;
      ready = true;
    }
    const queue = controller.queue;
    while (totalBytesToCopyRemaining > 0) {
      const headOfQueue = queue.peek();
      const bytesToCopy = Math.min(totalBytesToCopyRemaining, headOfQueue.byteLength);
      const destStart = pullIntoDescriptor.byteOffset + pullIntoDescriptor.bytesFilled;
      copyDataBlockBytes(pullIntoDescriptor.buffer, destStart, headOfQueue.buffer, headOfQueue.byteOffset, bytesToCopy);
      if (headOfQueue.byteLength === bytesToCopy) {
        queue.shift();
      } else {
        headOfQueue.byteOffset += bytesToCopy;
        headOfQueue.byteLength -= bytesToCopy;
      }
      controller.queueTotalSize -= bytesToCopy;
      readableByteStreamControllerFillHeadPullIntoDescriptor(controller, bytesToCopy, pullIntoDescriptor);
      totalBytesToCopyRemaining -= bytesToCopy;
    }
    return ready;
  }

  function readableByteStreamControllerFillReadRequestFromQueue(controller, readRequest) {
    const entry = controller.queue.shift();
    controller.queueTotalSize -= entry.byteLength;
    readableByteStreamControllerHandleQueueDrain(controller);
    const view = new Uint8ArrayCtor(entry.buffer, entry.byteOffset, entry.byteLength);
    readRequest.chunk(view);
  }

  function readableByteStreamControllerGetBYOBRequest(controller) {
    if (controller.byobRequest === null && controller.pendingPullIntos.size > 0) {
      const first = controller.pendingPullIntos.peek();
      const view = new Uint8ArrayCtor(
        first.buffer,
        first.byteOffset + first.bytesFilled,
        first.byteLength - first.bytesFilled,
      );
      const request = { object: undefined, controller, view };
      new ReadableStreamBYOBRequest(INTERNAL, request);
      controller.byobRequest = request;
    }
    return controller.byobRequest;
  }

  function readableByteStreamControllerGetDesiredSize(controller) {
    const state = controller.stream.state;
    if (state === "errored") return null;
    if (state === "closed") return 0;
    return controller.strategyHWM - controller.queueTotalSize;
  }

  function readableByteStreamControllerHandleQueueDrain(controller) {
    if (controller.queueTotalSize === 0 && controller.closeRequested) {
      readableByteStreamControllerClearAlgorithms(controller);
      readableStreamClose(controller.stream);
    } else {
      readableByteStreamControllerCallPullIfNeeded(controller);
    }
  }

  function readableByteStreamControllerInvalidateBYOBRequest(controller) {
    if (controller.byobRequest === null) return;
    controller.byobRequest.controller = undefined;
    controller.byobRequest.view = null;
    controller.byobRequest = null;
  }

  function readableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(controller) {
    const filledPullIntos = [];
    while (controller.pendingPullIntos.size > 0) {
      if (controller.queueTotalSize === 0) break;
      const pullIntoDescriptor = controller.pendingPullIntos.peek();
      if (readableByteStreamControllerFillPullIntoDescriptorFromQueue(controller, pullIntoDescriptor)) {
        readableByteStreamControllerShiftPendingPullInto(controller);
        filledPullIntos.push(pullIntoDescriptor);
      }
    }
    return filledPullIntos;
  }

  function readableByteStreamControllerProcessReadRequestsUsingQueue(controller) {
    const reader = controller.stream.reader;
    while (reader.requests.size > 0) {
      if (controller.queueTotalSize === 0) return;
      const readRequest = reader.requests.shift();
      readableByteStreamControllerFillReadRequestFromQueue(controller, readRequest);
    }
  }

  // ReadableByteStreamControllerPullInto: a BYOB read.
  function readableByteStreamControllerPullInto(controller, view, min, readIntoRequest) {
    const stream = controller.stream;
    // 1-4. The view's element size and constructor.
    const { elementSize, ctor } = viewKind(view);
    // 5. minimumFill.
    const minimumFill = min * elementSize;
    const byteOffset = view.byteOffset;
    const byteLength = view.byteLength;
    // 10. Transfer the view's buffer.
    let buffer;
    try {
      buffer = transferArrayBuffer(view.buffer);
    } catch (error) {
      readIntoRequest.error(error);
      return;
    }
    const pullIntoDescriptor = {
      buffer,
      bufferByteLength: bufferLength(buffer),
      byteOffset,
      byteLength,
      bytesFilled: 0,
      minimumFill,
      elementSize,
      viewConstructor: ctor,
      readerType: "byob",
    };
    // 14. Reads queue up behind earlier ones.
    if (controller.pendingPullIntos.size > 0) {
      controller.pendingPullIntos.push(pullIntoDescriptor);
      readableStreamAddReadIntoRequest(stream, readIntoRequest);
      return;
    }
    // 15. A closed stream answers with an empty view.
    if (stream.state === "closed") {
      readIntoRequest.close(new ctor(pullIntoDescriptor.buffer, pullIntoDescriptor.byteOffset, 0));
      return;
    }
    // 16. Fill from the queue if it holds enough.
    if (controller.queueTotalSize > 0) {
      if (readableByteStreamControllerFillPullIntoDescriptorFromQueue(controller, pullIntoDescriptor)) {
        const filledView = readableByteStreamControllerConvertPullIntoDescriptor(pullIntoDescriptor);
        readableByteStreamControllerHandleQueueDrain(controller);
        readIntoRequest.chunk(filledView);
        return;
      }
      if (controller.closeRequested) {
        const e = new TypeError("the stream closed before the view could be filled to its minimum");
        readableByteStreamControllerError(controller, e);
        readIntoRequest.error(e);
        return;
      }
    }
    // 17-19. Otherwise wait for the source.
    controller.pendingPullIntos.push(pullIntoDescriptor);
    readableStreamAddReadIntoRequest(stream, readIntoRequest);
    readableByteStreamControllerCallPullIfNeeded(controller);
  }

  function readableByteStreamControllerRespond(controller, bytesWritten) {
    const first = controller.pendingPullIntos.peek();
    const state = controller.stream.state;
    if (state === "closed") {
      if (bytesWritten !== 0) {
        throw new TypeError("respond: bytesWritten must be 0 once the stream is closed");
      }
    } else {
      if (bytesWritten === 0) throw new TypeError("respond: bytesWritten must be greater than 0");
      if (first.bytesFilled + bytesWritten > first.byteLength) {
        throw new RangeError("respond: bytesWritten is larger than the view");
      }
    }
    first.buffer = transferArrayBuffer(first.buffer);
    readableByteStreamControllerRespondInternal(controller, bytesWritten);
  }

  function readableByteStreamControllerRespondInClosedState(controller, firstDescriptor) {
    if (firstDescriptor.readerType === "none") {
      readableByteStreamControllerShiftPendingPullInto(controller);
    }
    const stream = controller.stream;
    if (readableStreamHasBYOBReader(stream)) {
      const filledPullIntos = [];
      while (filledPullIntos.length < readableStreamGetNumReadIntoRequests(stream)) {
        filledPullIntos.push(readableByteStreamControllerShiftPendingPullInto(controller));
      }
      for (const filled of filledPullIntos) {
        readableByteStreamControllerCommitPullIntoDescriptor(stream, filled);
      }
    }
  }

  function readableByteStreamControllerRespondInReadableState(controller, bytesWritten, pullIntoDescriptor) {
    readableByteStreamControllerFillHeadPullIntoDescriptor(controller, bytesWritten, pullIntoDescriptor);
    if (pullIntoDescriptor.readerType === "none") {
      readableByteStreamControllerEnqueueDetachedPullIntoToQueue(controller, pullIntoDescriptor);
      const filledPullIntos = readableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(controller);
      for (const filled of filledPullIntos) {
        readableByteStreamControllerCommitPullIntoDescriptor(controller.stream, filled);
      }
      return;
    }
    if (pullIntoDescriptor.bytesFilled < pullIntoDescriptor.minimumFill) return;
    readableByteStreamControllerShiftPendingPullInto(controller);
    // A partial element goes back to the queue, for the next read.
    const remainderSize = pullIntoDescriptor.bytesFilled % pullIntoDescriptor.elementSize;
    if (remainderSize > 0) {
      const end = pullIntoDescriptor.byteOffset + pullIntoDescriptor.bytesFilled;
      readableByteStreamControllerEnqueueClonedChunkToQueue(controller, pullIntoDescriptor.buffer, end - remainderSize, remainderSize);
    }
    pullIntoDescriptor.bytesFilled -= remainderSize;
    const filledPullIntos = readableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(controller);
    readableByteStreamControllerCommitPullIntoDescriptor(controller.stream, pullIntoDescriptor);
    for (const filled of filledPullIntos) {
      readableByteStreamControllerCommitPullIntoDescriptor(controller.stream, filled);
    }
  }

  function readableByteStreamControllerRespondInternal(controller, bytesWritten) {
    const first = controller.pendingPullIntos.peek();
    readableByteStreamControllerInvalidateBYOBRequest(controller);
    if (controller.stream.state === "closed") {
      readableByteStreamControllerRespondInClosedState(controller, first);
    } else {
      readableByteStreamControllerRespondInReadableState(controller, bytesWritten, first);
    }
    readableByteStreamControllerCallPullIfNeeded(controller);
  }

  function readableByteStreamControllerRespondWithNewView(controller, view) {
    const first = controller.pendingPullIntos.peek();
    const state = controller.stream.state;
    if (state === "closed") {
      if (view.byteLength !== 0) {
        throw new TypeError("respondWithNewView: the view must be empty once the stream is closed");
      }
    } else if (view.byteLength === 0) {
      throw new TypeError("respondWithNewView: the view must not be empty");
    }
    if (first.byteOffset + first.bytesFilled !== view.byteOffset) {
      throw new RangeError("respondWithNewView: the view must start where the request's view does");
    }
    if (first.bufferByteLength !== bufferLength(view.buffer)) {
      throw new RangeError("respondWithNewView: the view's buffer must be as long as the request's");
    }
    if (first.bytesFilled + view.byteLength > first.byteLength) {
      throw new RangeError("respondWithNewView: the view is longer than the request's");
    }
    const viewByteLength = view.byteLength;
    first.buffer = transferArrayBuffer(view.buffer);
    readableByteStreamControllerRespondInternal(controller, viewByteLength);
  }

  function readableByteStreamControllerShiftPendingPullInto(controller) {
    return controller.pendingPullIntos.shift();
  }

  function readableByteStreamControllerShouldCallPull(controller) {
    const stream = controller.stream;
    if (stream.state !== "readable") return false;
    if (controller.closeRequested) return false;
    if (!controller.started) return false;
    if (readableStreamHasDefaultReader(stream) && readableStreamGetNumReadRequests(stream) > 0) return true;
    if (readableStreamHasBYOBReader(stream) && readableStreamGetNumReadIntoRequests(stream) > 0) return true;
    return readableByteStreamControllerGetDesiredSize(controller) > 0;
  }

  // SetUpReadableByteStreamController.
  function setUpReadableByteStreamController(stream, controller, startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark, autoAllocateChunkSize) {
    controller.stream = stream;
    controller.pullAgain = false;
    controller.pulling = false;
    controller.byobRequest = null;
    resetQueue(controller);
    controller.closeRequested = false;
    controller.started = false;
    controller.strategyHWM = highWaterMark;
    controller.pullAlgorithm = pullAlgorithm;
    controller.cancelAlgorithm = cancelAlgorithm;
    controller.autoAllocateChunkSize = autoAllocateChunkSize;
    controller.pendingPullIntos = new Queue();
    stream.controller = controller;
    startController(controller, startAlgorithm);
  }

  function setUpReadableByteStreamControllerFromUnderlyingSource(stream, underlyingSource, source, highWaterMark) {
    const controller = newByteControllerRecord();
    const object = new ReadableByteStreamController(INTERNAL, controller);
    const { startAlgorithm, pullAlgorithm, cancelAlgorithm } = underlyingSourceAlgorithms(underlyingSource, source, object);
    const autoAllocateChunkSize = source.autoAllocateChunkSize;
    if (autoAllocateChunkSize === 0) {
      throw new TypeError("ReadableStream: autoAllocateChunkSize must be greater than 0");
    }
    setUpReadableByteStreamController(stream, controller, startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark, autoAllocateChunkSize);
  }

  // --- Tee ----------------------------------------------------------------------

  function readableStreamTee(stream, cloneForBranch2) {
    if (stream.controller.byte) return readableByteStreamTee(stream);
    return readableStreamDefaultTee(stream, cloneForBranch2);
  }

  // The cancel algorithms both kinds of tee share: the source is
  // cancelled once both branches are, with both reasons.
  function teeCancellation(stream) {
    const tee = {
      canceled1: false,
      canceled2: false,
      reason1: undefined,
      reason2: undefined,
      cancelPromise: deferred(),
      cancel1(reason) {
        tee.canceled1 = true;
        tee.reason1 = reason;
        if (tee.canceled2) {
          resolveDeferred(tee.cancelPromise, readableStreamCancel(stream, [tee.reason1, tee.reason2]));
        }
        return tee.cancelPromise.promise;
      },
      cancel2(reason) {
        tee.canceled2 = true;
        tee.reason2 = reason;
        if (tee.canceled1) {
          resolveDeferred(tee.cancelPromise, readableStreamCancel(stream, [tee.reason1, tee.reason2]));
        }
        return tee.cancelPromise.promise;
      },
    };
    return tee;
  }

  // StructuredClone for the chunks the runtime tees with cloneForBranch2
  // (bodies): their views are copied; other values are passed on as they
  // are.
  function cloneChunk(chunk) {
    if (!isView(chunk)) return chunk;
    const { ctor, elementSize } = viewKind(chunk);
    const copy = cloneAsUint8Array(chunk);
    return new ctor(copy.buffer, 0, copy.byteLength / elementSize);
  }

  // ReadableStreamDefaultTee.
  function readableStreamDefaultTee(stream, cloneForBranch2) {
    const reader = acquireReadableStreamDefaultReader(stream);
    let reading = false;
    let readAgain = false;
    const tee = teeCancellation(stream);
    let branch1, branch2;
    const pullAlgorithm = () => {
      if (reading) {
        readAgain = true;
        return resolvedWith(undefined);
      }
      reading = true;
      readableStreamDefaultReaderRead(reader, {
        chunk(chunk) {
          // The chunk goes out in a microtask, so that a read that errors
          // the stream right after it is seen first.
          queueMicrotaskStep(() => {
            readAgain = false;
            const chunk1 = chunk;
            let chunk2 = chunk;
            if (!tee.canceled2 && cloneForBranch2) {
              try {
                chunk2 = cloneChunk(chunk2);
              } catch (error) {
                readableStreamDefaultControllerError(branch1.controller, error);
                readableStreamDefaultControllerError(branch2.controller, error);
                resolveDeferred(tee.cancelPromise, readableStreamCancel(stream, error));
                return;
              }
            }
            if (!tee.canceled1) readableStreamDefaultControllerEnqueue(branch1.controller, chunk1);
            if (!tee.canceled2) readableStreamDefaultControllerEnqueue(branch2.controller, chunk2);
            reading = false;
            if (readAgain) pullAlgorithm();
          });
        },
        close() {
          reading = false;
          if (!tee.canceled1) readableStreamDefaultControllerClose(branch1.controller);
          if (!tee.canceled2) readableStreamDefaultControllerClose(branch2.controller);
          if (!tee.canceled1 || !tee.canceled2) resolveDeferred(tee.cancelPromise, undefined);
        },
        error() {
          reading = false;
        },
      });
      return resolvedWith(undefined);
    };
    branch1 = createReadableStream(noop, pullAlgorithm, tee.cancel1);
    branch2 = createReadableStream(noop, pullAlgorithm, tee.cancel2);
    upon(reader.closed.promise, undefined, (r) => {
      readableStreamDefaultControllerError(branch1.controller, r);
      readableStreamDefaultControllerError(branch2.controller, r);
      if (!tee.canceled1 || !tee.canceled2) resolveDeferred(tee.cancelPromise, undefined);
    });
    return [branch1, branch2];
  }

  // ReadableByteStreamTee: each branch reads with its own BYOB request
  // when it has one, else through a default reader; the other branch gets
  // a copy.
  function readableByteStreamTee(stream) {
    let reader = acquireReadableStreamDefaultReader(stream);
    let reading = false;
    const readAgain = [false, false];
    const tee = teeCancellation(stream);
    const branches = [undefined, undefined];
    const canceled = (i) => (i === 0 ? tee.canceled1 : tee.canceled2);

    function forwardReaderError(thisReader) {
      upon(thisReader.closed.promise, undefined, (r) => {
        if (thisReader !== reader) return;
        readableByteStreamControllerError(branches[0].controller, r);
        readableByteStreamControllerError(branches[1].controller, r);
        if (!tee.canceled1 || !tee.canceled2) resolveDeferred(tee.cancelPromise, undefined);
      });
    }

    // CloneAsUint8Array(chunk), or, if that fails, both branches errored,
    // the source cancelled, and undefined.
    function cloneOrFail(chunk) {
      try {
        return cloneAsUint8Array(chunk);
      } catch (error) {
        readableByteStreamControllerError(branches[0].controller, error);
        readableByteStreamControllerError(branches[1].controller, error);
        resolveDeferred(tee.cancelPromise, readableStreamCancel(stream, error));
        return undefined;
      }
    }

    // The end of a chunk's steps: the next read, if a branch asked.
    function readFinished() {
      reading = false;
      if (readAgain[0]) pullAlgorithm(0);
      else if (readAgain[1]) pullAlgorithm(1);
    }

    function pullWithDefaultReader() {
      if (reader.byob) {
        readableStreamBYOBReaderRelease(reader);
        reader = acquireReadableStreamDefaultReader(stream);
        forwardReaderError(reader);
      }
      readableStreamDefaultReaderRead(reader, {
        chunk(chunk) {
          queueMicrotaskStep(() => {
            readAgain[0] = readAgain[1] = false;
            let chunk2 = chunk;
            if (!tee.canceled1 && !tee.canceled2) {
              chunk2 = cloneOrFail(chunk);
              if (chunk2 === undefined) return;
            }
            if (!tee.canceled1) readableByteStreamControllerEnqueue(branches[0].controller, chunk);
            if (!tee.canceled2) readableByteStreamControllerEnqueue(branches[1].controller, chunk2);
            readFinished();
          });
        },
        close() {
          reading = false;
          for (let i = 0; i < 2; i++) {
            if (!canceled(i)) readableByteStreamControllerClose(branches[i].controller);
          }
          for (let i = 0; i < 2; i++) {
            const controller = branches[i].controller;
            if (controller.pendingPullIntos.size > 0) readableByteStreamControllerRespond(controller, 0);
          }
          if (!tee.canceled1 || !tee.canceled2) resolveDeferred(tee.cancelPromise, undefined);
        },
        error() {
          reading = false;
        },
      });
    }

    function pullWithBYOBReader(view, byobIndex) {
      if (!reader.byob) {
        readableStreamDefaultReaderRelease(reader);
        reader = acquireReadableStreamBYOBReader(stream);
        forwardReaderError(reader);
      }
      const otherIndex = 1 - byobIndex;
      const byobBranch = branches[byobIndex];
      const otherBranch = branches[otherIndex];
      readableStreamBYOBReaderRead(reader, view, 1, {
        chunk(chunk) {
          queueMicrotaskStep(() => {
            readAgain[0] = readAgain[1] = false;
            const byobCanceled = canceled(byobIndex);
            if (!canceled(otherIndex)) {
              const clonedChunk = cloneOrFail(chunk);
              if (clonedChunk === undefined) return;
              if (!byobCanceled) readableByteStreamControllerRespondWithNewView(byobBranch.controller, chunk);
              readableByteStreamControllerEnqueue(otherBranch.controller, clonedChunk);
            } else if (!byobCanceled) {
              readableByteStreamControllerRespondWithNewView(byobBranch.controller, chunk);
            }
            readFinished();
          });
        },
        close(chunk) {
          reading = false;
          const byobCanceled = canceled(byobIndex);
          const otherCanceled = canceled(otherIndex);
          if (!byobCanceled) readableByteStreamControllerClose(byobBranch.controller);
          if (!otherCanceled) readableByteStreamControllerClose(otherBranch.controller);
          if (chunk !== undefined) {
            if (!byobCanceled) readableByteStreamControllerRespondWithNewView(byobBranch.controller, chunk);
            if (!otherCanceled && otherBranch.controller.pendingPullIntos.size > 0) {
              readableByteStreamControllerRespond(otherBranch.controller, 0);
            }
          }
          if (!byobCanceled || !otherCanceled) resolveDeferred(tee.cancelPromise, undefined);
        },
        error() {
          reading = false;
        },
      });
    }

    // pull1Algorithm and pull2Algorithm.
    function pullAlgorithm(index) {
      if (reading) {
        readAgain[index] = true;
        return resolvedWith(undefined);
      }
      reading = true;
      const request = readableByteStreamControllerGetBYOBRequest(branches[index].controller);
      if (request === null) pullWithDefaultReader();
      else pullWithBYOBReader(request.view, index);
      return resolvedWith(undefined);
    }

    branches[0] = createReadableByteStream(noop, () => pullAlgorithm(0), tee.cancel1);
    branches[1] = createReadableByteStream(noop, () => pullAlgorithm(1), tee.cancel2);
    forwardReaderError(reader);
    return [branches[0], branches[1]];
  }

  // --- Async iteration ------------------------------------------------------------

  let iteratorOf;

  // Web IDL's asynchronous iterator for ReadableStream: next() calls run
  // one after another (each waits for the one before), and return() waits
  // for them too.
  class ReadableStreamAsyncIterator {
    #r;
    constructor(key, record) {
      if (key !== INTERNAL) throw illegal("ReadableStreamAsyncIterator");
      record.ongoing = null;
      record.finished = false;
      this.#r = record;
    }
    next() {
      const it = iteratorOf(this);
      if (it === undefined) return rejectedWith(notA("ReadableStream async iterator"));
      const nextSteps = () => {
        if (it.finished) return resolvedWith({ value: undefined, done: true });
        return promiseThen(
          iteratorGetNext(it),
          (result) => {
            it.ongoing = null;
            if (result.done) it.finished = true;
            return result;
          },
          (reason) => {
            it.ongoing = null;
            it.finished = true;
            throw reason;
          },
        );
      };
      it.ongoing = it.ongoing === null ? nextSteps() : promiseThen(it.ongoing, nextSteps, nextSteps);
      return it.ongoing;
    }
    return(value = undefined) {
      const it = iteratorOf(this);
      if (it === undefined) return rejectedWith(notA("ReadableStream async iterator"));
      const returnSteps = () => {
        if (it.finished) return resolvedWith({ value, done: true });
        it.finished = true;
        return promiseThen(iteratorReturn(it, value), () => ({ value, done: true }));
      };
      it.ongoing = it.ongoing === null ? returnSteps() : promiseThen(it.ongoing, returnSteps, returnSteps);
      return it.ongoing;
    }
    static {
      iteratorOf = (value) => (isObject(value) && #r in value ? value.#r : undefined);
    }
  }
  Object.setPrototypeOf(ReadableStreamAsyncIterator.prototype, AsyncIteratorPrototype);
  delete ReadableStreamAsyncIterator.prototype.constructor;
  Object.defineProperty(ReadableStreamAsyncIterator.prototype, Symbol.toStringTag, {
    value: "ReadableStream AsyncIterator",
    configurable: true,
  });

  // The standard's "get the next iteration result".
  function iteratorGetNext(it) {
    const reader = it.reader;
    if (reader.stream === undefined) {
      return rejectedWith(new TypeError("the iterator's reader was released"));
    }
    const d = deferred();
    readableStreamDefaultReaderRead(reader, {
      chunk: (value) => resolveDeferred(d, { value, done: false }),
      close() {
        readableStreamDefaultReaderRelease(reader);
        resolveDeferred(d, { value: undefined, done: true });
      },
      error(e) {
        readableStreamDefaultReaderRelease(reader);
        rejectDeferred(d, e);
      },
    });
    return d.promise;
  }

  // The standard's "asynchronous iterator return".
  function iteratorReturn(it, arg) {
    const reader = it.reader;
    if (reader.stream === undefined) return resolvedWith(undefined);
    if (!it.preventCancel) {
      const result = readableStreamReaderGenericCancel(reader, arg);
      readableStreamDefaultReaderRelease(reader);
      return result;
    }
    readableStreamDefaultReaderRelease(reader);
    return resolvedWith(undefined);
  }

  // --- ReadableStream.from ----------------------------------------------------------

  // GetIterator(obj, async): an async iterator, or a sync one adapted
  // (CreateAsyncFromSyncIterator).
  function getAsyncIterator(obj) {
    if (obj === undefined || obj === null) {
      throw new TypeError("ReadableStream.from: the argument must be an iterable or an async iterable");
    }
    const asyncMethod = obj[Symbol.asyncIterator];
    if (asyncMethod !== undefined && asyncMethod !== null) {
      if (typeof asyncMethod !== "function") throw new TypeError("ReadableStream.from: @@asyncIterator is not a function");
      const iterator = apply(asyncMethod, obj, []);
      if (!isObject(iterator)) throw new TypeError("ReadableStream.from: the async iterator is not an object");
      return { iterator, next: iterator.next };
    }
    const syncMethod = obj[Symbol.iterator];
    if (typeof syncMethod !== "function") {
      throw new TypeError("ReadableStream.from: the argument is neither iterable nor async iterable");
    }
    const syncIterator = apply(syncMethod, obj, []);
    if (!isObject(syncIterator)) throw new TypeError("ReadableStream.from: the iterator is not an object");
    const syncNext = syncIterator.next;
    // A rejected value ends the iteration and closes the sync iterator.
    const continueWith = (result) => {
      const done = !!result.done;
      return promiseThen(
        resolvedWith(result.value),
        (value) => ({ value, done }),
        (error) => {
          if (!done) {
            const close = syncIterator.return;
            if (typeof close === "function") {
              try {
                apply(close, syncIterator, []);
              } catch (_) {
                // The value's rejection is what the caller sees.
              }
            }
          }
          throw error;
        },
      );
    };
    const adapter = {
      next(value) {
        try {
          const result = apply(syncNext, syncIterator, [value]);
          if (!isObject(result)) throw new TypeError("the iterator's result is not an object");
          return continueWith(result);
        } catch (error) {
          return rejectedWith(error);
        }
      },
      return(value) {
        try {
          const close = syncIterator.return;
          if (close === undefined || close === null) return resolvedWith({ value, done: true });
          const result = apply(close, syncIterator, [value]);
          if (!isObject(result)) throw new TypeError("the iterator's return result is not an object");
          return continueWith(result);
        } catch (error) {
          return rejectedWith(error);
        }
      },
    };
    return { iterator: adapter, next: adapter.next };
  }

  // ReadableStreamFromIterable.
  function readableStreamFromIterable(asyncIterable) {
    let stream;
    const iteratorRecord = getAsyncIterator(asyncIterable);
    const pullAlgorithm = () => {
      let nextResult;
      try {
        if (typeof iteratorRecord.next !== "function") throw new TypeError("the iterator's next is not a function");
        nextResult = apply(iteratorRecord.next, iteratorRecord.iterator, []);
      } catch (error) {
        return rejectedWith(error);
      }
      return promiseThen(resolvedWith(nextResult), (iterResult) => {
        if (!isObject(iterResult)) throw new TypeError("ReadableStream.from: the iterator's result is not an object");
        if (iterResult.done) {
          readableStreamDefaultControllerClose(stream.controller);
        } else {
          readableStreamDefaultControllerEnqueue(stream.controller, iterResult.value);
        }
      });
    };
    const cancelAlgorithm = (reason) => {
      const iterator = iteratorRecord.iterator;
      let returnMethod;
      try {
        returnMethod = iterator.return;
      } catch (error) {
        return rejectedWith(error);
      }
      if (returnMethod === undefined || returnMethod === null) return resolvedWith(undefined);
      let returnResult;
      try {
        returnResult = apply(returnMethod, iterator, [reason]);
      } catch (error) {
        return rejectedWith(error);
      }
      return promiseThen(resolvedWith(returnResult), (iterResult) => {
        if (!isObject(iterResult)) throw new TypeError("ReadableStream.from: the iterator's return result is not an object");
      });
    };
    stream = createReadableStream(noop, pullAlgorithm, cancelAlgorithm, 0);
    return stream;
  }

  for (const [Class, name] of [
    [ReadableStream, "ReadableStream"],
    [ReadableStreamDefaultReader, "ReadableStreamDefaultReader"],
    [ReadableStreamBYOBReader, "ReadableStreamBYOBReader"],
    [ReadableStreamDefaultController, "ReadableStreamDefaultController"],
    [ReadableByteStreamController, "ReadableByteStreamController"],
    [ReadableStreamBYOBRequest, "ReadableStreamBYOBRequest"],
  ]) {
    finishInterface(Class, name);
    internals.defineGlobal(name, Class);
  }

  // What the other stream files use.
  internals.streams = {
    INTERNAL,
    apply,
    noop,
    isObject,
    dictionary,
    member,
    callbackMember,
    booleanMember,
    strategyDict,
    extractHighWaterMark,
    extractSizeAlgorithm,
    finishInterface,
    branded,
    illegal,
    notA,
    promiseThen,
    resolvedWith,
    rejectedWith,
    setHandled,
    upon,
    promiseCall,
    waitForAll,
    deferred,
    resolveDeferred,
    rejectDeferred,
    resolvedDeferred,
    rejectedDeferred,
    Queue,
    dequeueValue,
    enqueueValueWithSize,
    peekQueueValue,
    resetQueue,
    isDetached,
    streamOf,
    ReadableStream,
    createReadableStream,
    createReadableByteStream,
    isReadableStreamLocked,
    readableStreamCancel,
    acquireReadableStreamDefaultReader,
    readableStreamDefaultReaderRead,
    readableStreamDefaultReaderRelease,
    readableStreamDefaultControllerClose,
    readableStreamDefaultControllerEnqueue,
    readableStreamDefaultControllerError,
    readableStreamDefaultControllerGetDesiredSize,
    readableStreamDefaultControllerHasBackpressure,
    readableStreamDefaultControllerCanCloseOrEnqueue,
    readableByteStreamControllerEnqueue,
    readableByteStreamControllerClose,
    readableByteStreamControllerError,
    readableByteStreamControllerRespond,
    readableStreamTee,
  };
});
