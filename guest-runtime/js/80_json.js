// JSON.parse with a nesting limit: QuickJS parses JSON by recursion in C,
// which no stack guard can interrupt in time, so text nested deeper than
// MAX_DEPTH is refused up front with a RangeError the charm can catch
// (V8 throws a RangeError for data too deep for its stack, too).
//
// JSON.stringify (ECMA-262): this file turns `replacer` and `space` into the
// standard's ReplacerFunction, PropertyList and gap; the serialisation
// itself is native (`host.jsonStringify`, src/ops/json.rs), linear in the
// size of the value at any depth (QuickJS's own is quadratic in the depth).
(function (internals) {
  "use strict";
  const host = internals.host;
  const nativeStringify = host.jsonStringify;
  const isArray = Array.isArray;
  const toLength = (value) => {
    const n = Math.trunc(+value);
    return n > 0 ? Math.min(n, Number.MAX_SAFE_INTEGER) : 0;
  };
  const stringValueOf = String.prototype.valueOf;
  const numberValueOf = Number.prototype.valueOf;
  // Brand checks for [[StringData]] and [[NumberData]]: the intrinsic
  // valueOf throws for anything else and runs no code of the value's.
  function hasSlot(valueOf, value) {
    try {
      valueOf.call(value);
      return true;
    } catch (_) {
      return false;
    }
  }
  const setHas = Set.prototype.has;
  const setAdd = Set.prototype.add;
  const push = Array.prototype.push;
  const repeat = String.prototype.repeat;
  const slice = String.prototype.slice;
  const nativeParse = JSON.parse;
  // For the driver's own input (the stored state and ctx), which the host
  // wrote and which no charm could make that deep within its fuel.
  internals.nativeJsonParse = nativeParse;
  const MAX_DEPTH = 10000;

  const { parse } = {
    parse(text, reviver) {
      const source = String(text);
      // Only text that could be that deep is scanned: each level needs a
      // bracket.
      if (source.length > MAX_DEPTH && host.jsonDepth(source, MAX_DEPTH) > MAX_DEPTH) {
        throw new RangeError(`JSON.parse: the text is nested deeper than ${MAX_DEPTH} levels`);
      }
      return reviver === undefined ? nativeParse(source) : nativeParse(source, reviver);
    },
  };
  Object.defineProperty(JSON, "parse", { value: parse, writable: true, configurable: true, enumerable: false });

  const { stringify } = {
    stringify(value, replacer, space) {
      if (replacer === undefined && space === undefined) return nativeStringify(value, undefined, undefined, "");
      let replacerFunction;
      let propertyList;
      if (typeof replacer === "function") {
        replacerFunction = replacer;
      } else if (isArray(replacer)) {
        // The property list: strings, numbers and String or Number
        // objects, as strings, each once, in order.
        const seen = new Set();
        propertyList = [];
        const length = toLength(replacer.length);
        for (let k = 0; k < length; k++) {
          const v = replacer[k];
          let item;
          if (typeof v === "string") item = v;
          else if (typeof v === "number") item = String(v);
          else if (typeof v === "object" && v !== null && (hasSlot(stringValueOf, v) || hasSlot(numberValueOf, v))) {
            item = String(v);
          }
          if (item !== undefined && !setHas.call(seen, item)) {
            setAdd.call(seen, item);
            push.call(propertyList, item);
          }
        }
      }
      if (typeof space === "object" && space !== null) {
        if (hasSlot(numberValueOf, space)) space = Number(space);
        else if (hasSlot(stringValueOf, space)) space = String(space);
      }
      let gap = "";
      if (typeof space === "number") {
        const n = Math.min(10, Math.trunc(space));
        if (n >= 1) gap = repeat.call(" ", n);
      } else if (typeof space === "string") {
        gap = space.length <= 10 ? space : slice.call(space, 0, 10);
      }
      return nativeStringify(value, replacerFunction, propertyList, gap);
    },
  };
  Object.defineProperty(JSON, "stringify", { value: stringify, writable: true, configurable: true, enumerable: false });
});
