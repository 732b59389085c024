// structuredClone (HTML's structured serialisation and deserialisation,
// done in one pass): primitives, boxed primitives, Date, RegExp,
// ArrayBuffer (copied, or moved with `transfer`), typed arrays, DataView,
// Map, Set, errors, plain objects and arrays (cycles and shared references
// kept), Blob and File. Anything else, the runtime's other interfaces
// included (URL, Headers, streams...), is a DataCloneError.
//
// The walk is iterative, with its own stack: a deeply nested value costs
// memory, never the native stack, and each object is visited once.
(function (internals) {
  "use strict";
  const { DOMException, classOf, typedArrays } = internals;
  const objectKeys = Object.keys;
  const hasOwn = Object.hasOwn;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const defineProperty = Object.defineProperty;
  const isPrototypeOf = Object.prototype.isPrototypeOf;
  const getter = (prototype, name) => getOwnPropertyDescriptor(prototype, name).get;
  const call = (f, self, ...args) => Reflect.apply(f, self, args);

  const valueOf = {
    Number: Number.prototype.valueOf,
    String: String.prototype.valueOf,
    Boolean: Boolean.prototype.valueOf,
    BigInt: BigInt.prototype.valueOf,
  };
  const dateValue = Date.prototype.getTime;
  const regExpSource = getter(RegExp.prototype, "source");
  const regExpFlags = getter(RegExp.prototype, "flags");
  const TypedArray = Object.getPrototypeOf(Uint8Array.prototype);
  const viewBuffer = getter(TypedArray, "buffer");
  const viewOffset = getter(TypedArray, "byteOffset");
  const viewLength = getter(TypedArray, "length");
  const dataViewBuffer = getter(DataView.prototype, "buffer");
  const dataViewOffset = getter(DataView.prototype, "byteOffset");
  const dataViewLength = getter(DataView.prototype, "byteLength");
  const bufferLength = getter(ArrayBuffer.prototype, "byteLength");
  const bufferDetached = getter(ArrayBuffer.prototype, "detached");
  const bufferResizable = getter(ArrayBuffer.prototype, "resizable");
  const bufferMaxLength = getter(ArrayBuffer.prototype, "maxByteLength");
  const bufferSlice = ArrayBuffer.prototype.slice;
  const bufferResize = ArrayBuffer.prototype.resize;
  const bufferTransfer = ArrayBuffer.prototype.transfer;
  const mapEntries = Map.prototype.entries;
  const setValues = Set.prototype.values;
  const ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };

  function dataCloneError(what) {
    return new DOMException(`structuredClone: ${what} could not be cloned`, "DataCloneError");
  }

  function describe(value) {
    if (typeof value === "function") return `the function ${value.name || "(anonymous)"}`;
    if (typeof value === "symbol") return "a Symbol";
    const tag = Object.prototype.toString.call(value).slice(8, -1);
    return `an object of type ${tag}`;
  }

  // A new ArrayBuffer as long as `buffer` (and as resizable), for a copy.
  function emptyLike(buffer) {
    const length = call(bufferLength, buffer);
    return call(bufferResizable, buffer)
      ? new ArrayBuffer(length, { maxByteLength: call(bufferMaxLength, buffer) })
      : new ArrayBuffer(length);
  }

  // What the walk still has to do: fill `target` from `source`, one
  // property or entry per step, depth first, as serialisation reads them.
  const PROPERTIES = 0;
  const MAP = 1;
  const SET = 2;

  // Copies `value`'s own state into a new value. Containers come back
  // empty, with a frame on `stack` to fill them; `memory` maps what has
  // been cloned to its clone.
  function cloneOne(value, memory, stack) {
    const type = typeof value;
    if (type === "symbol") throw dataCloneError("a Symbol");
    if (type !== "object" && type !== "function") return value;
    if (value === null) return null;
    const seen = memory.get(value);
    if (seen !== undefined) return seen;
    if (type === "function") throw dataCloneError(describe(value));
    let clone;
    switch (classOf(value)) {
      case "Object": {
        clone = internals.cloneBlob?.(value);
        if (clone !== undefined) break;
        if (internals.isPlatformObject(value)) throw dataCloneError(describe(value));
        clone = {};
        memory.set(value, clone);
        stack.push({ kind: PROPERTIES, source: value, target: clone, items: objectKeys(value), index: 0 });
        return clone;
      }
      case "Array": {
        clone = new Array(value.length);
        memory.set(value, clone);
        stack.push({ kind: PROPERTIES, source: value, target: clone, items: objectKeys(value), index: 0 });
        return clone;
      }
      case "Map": {
        clone = new Map();
        memory.set(value, clone);
        const items = [];
        for (const [k, v] of call(mapEntries, value)) items.push(k, v);
        stack.push({ kind: MAP, source: value, target: clone, items, index: 0, key: undefined });
        return clone;
      }
      case "Set": {
        clone = new Set();
        memory.set(value, clone);
        stack.push({ kind: SET, source: value, target: clone, items: [...call(setValues, value)], index: 0 });
        return clone;
      }
      case "Number":
      case "String":
      case "Boolean":
      case "BigInt":
        clone = Object(call(valueOf[classOf(value)], value));
        break;
      case "Date":
        clone = new Date(call(dateValue, value));
        break;
      case "RegExp":
        clone = new RegExp(call(regExpSource, value), call(regExpFlags, value));
        break;
      case "ArrayBuffer": {
        if (call(bufferDetached, value)) throw dataCloneError("a detached ArrayBuffer");
        if (call(bufferResizable, value)) {
          clone = emptyLike(value);
          new Uint8Array(clone).set(new Uint8Array(value));
        } else {
          clone = call(bufferSlice, value, 0);
        }
        break;
      }
      case "TypedArray": {
        const buffer = cloneOne(call(viewBuffer, value), memory, stack);
        const Type = typedArrays[internals.typedArrayName(value)];
        clone = new Type(buffer, call(viewOffset, value), call(viewLength, value));
        break;
      }
      case "DataView": {
        const buffer = cloneOne(call(dataViewBuffer, value), memory, stack);
        clone = new DataView(buffer, call(dataViewOffset, value), call(dataViewLength, value));
        break;
      }
      case "Error":
        clone = cloneError(value);
        break;
      default:
        throw dataCloneError(describe(value));
    }
    memory.set(value, clone);
    return clone;
  }

  // An error keeps its kind (one of the standard's seven, else Error),
  // its message and, as browsers do, its stack.
  function cloneError(value) {
    if (call(isPrototypeOf, DOMException.prototype, value)) {
      return new DOMException(value.message, value.name);
    }
    const name = `${value.name}`;
    const Type = hasOwn(ERRORS, name) ? ERRORS[name] : Error;
    const message = getOwnPropertyDescriptor(value, "message");
    const clone = message && "value" in message ? new Type(`${message.value}`) : new Type();
    const stack = getOwnPropertyDescriptor(value, "stack");
    if (stack && typeof stack.value === "string") {
      defineProperty(clone, "stack", { value: stack.value, writable: true, configurable: true });
    }
    return clone;
  }

  // Fills the containers cloneOne left, one property or entry at a time,
  // until the stack is empty.
  function fill(stack, memory) {
    while (stack.length > 0) {
      const frame = stack[stack.length - 1];
      if (frame.index >= frame.items.length) {
        stack.pop();
        continue;
      }
      const item = frame.items[frame.index++];
      switch (frame.kind) {
        case PROPERTIES: {
          if (!hasOwn(frame.source, item)) break;
          const value = cloneOne(frame.source[item], memory, stack);
          if (item === "__proto__") {
            defineProperty(frame.target, item, { value, writable: true, enumerable: true, configurable: true });
          } else {
            frame.target[item] = value;
          }
          break;
        }
        case MAP:
          if (frame.index % 2 === 1) frame.key = cloneOne(item, memory, stack);
          else frame.target.set(frame.key, cloneOne(item, memory, stack));
          break;
        case SET:
          frame.target.add(cloneOne(item, memory, stack));
          break;
      }
    }
  }

  function structuredClone(value, options = undefined) {
    if (arguments.length === 0) throw new TypeError("structuredClone: 1 argument required");
    const init = internals.dictionary(options, "structuredClone");
    const memory = new Map();
    // ArrayBuffers to move: their clones are made now, empty, and filled
    // (and the originals detached) once the whole value has been cloned.
    const moves = [];
    if (init.transfer !== undefined) {
      if (typeof init.transfer !== "object" || init.transfer === null) {
        throw new TypeError("structuredClone: transfer must be a sequence of objects");
      }
      for (const item of init.transfer) {
        if (typeof item !== "object" || item === null) {
          throw new TypeError("structuredClone: transfer must hold objects");
        }
        if (classOf(item) !== "ArrayBuffer") throw dataCloneError(`transferring ${describe(item)}`);
        if (memory.has(item)) throw dataCloneError("an ArrayBuffer listed twice in transfer");
        if (call(bufferDetached, item)) throw dataCloneError("a detached ArrayBuffer");
        const clone = emptyLike(item);
        memory.set(item, clone);
        moves.push([item, clone]);
      }
    }
    const stack = [];
    const clone = cloneOne(value, memory, stack);
    fill(stack, memory);
    for (const [buffer] of moves) {
      if (call(bufferDetached, buffer)) throw dataCloneError("a detached ArrayBuffer");
    }
    for (const [buffer, target] of moves) {
      const length = call(bufferLength, buffer);
      if (call(bufferLength, target) !== length) call(bufferResize, target, length);
      new Uint8Array(target).set(new Uint8Array(call(bufferTransfer, buffer)));
    }
    return clone;
  }

  internals.structuredClone = structuredClone;
  internals.defineGlobal("structuredClone", structuredClone);
});
