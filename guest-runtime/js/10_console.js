// `console`: log, info, debug, warn and error, each one line to the host,
// which applies the run's log volume limit.
(function (internals) {
  "use strict";
  const host = internals.host;
  const stringify = JSON.stringify;
  const LEVELS = { debug: 0, log: 1, info: 1, warn: 2, error: 3 };

  function formatArg(value) {
    if (typeof value === "string") return value;
    if (value instanceof Error) return value.stack ? `${value}\n${value.stack}` : String(value);
    if (value === undefined || typeof value === "function" || typeof value === "symbol") {
      return String(value);
    }
    if (typeof value === "bigint") return `${value}n`;
    try {
      const text = stringify(value);
      return text === undefined ? String(value) : text;
    } catch (_) {
      return Object.prototype.toString.call(value);
    }
  }

  const console = {};
  for (const name of Object.keys(LEVELS)) {
    const level = LEVELS[name];
    console[name] = function (...args) {
      host.log(level, args.map(formatArg).join(" "));
    };
  }
  Object.freeze(console);
  internals.defineGlobal("console", console);
});
