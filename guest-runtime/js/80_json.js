// JSON.parse with a nesting limit: QuickJS parses JSON by recursion in C,
// which no stack guard can interrupt in time, so text nested deeper than
// MAX_DEPTH is refused up front with a RangeError the charm can catch
// (V8 throws a RangeError for data too deep for its stack, too).
(function (internals) {
  "use strict";
  const host = internals.host;
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
});
