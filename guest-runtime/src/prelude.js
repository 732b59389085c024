// The charm prelude: the Web-facing API that charms see (`fetch`, `Headers`,
// `Response`, `console`) and the driver that calls `bgUpdater`.
//
// It is evaluated once, in `initialize-runtime`, so it is part of the
// pre-initialised snapshot and costs nothing per task. It receives the native
// functions of the runtime (`log`, `fetch`) as `host`, captures the intrinsics
// it relies on, and returns `{ run, describe }` to the Rust side. Nothing of
// `host` stays reachable from charms.
//
// A charm can overwrite globals (JSON, Promise, ...) and so confuse this
// driver, but only within its own run: the host validates everything that
// comes out (the state must parse as JSON, within the output limit).
(function (host) {
  "use strict";
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const isArray = Array.isArray;
  const decoder = new TextDecoder("utf-8");
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

  function headerName(name) {
    const lower = String(name).toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower)) {
      throw new TypeError(`invalid header name: ${name}`);
    }
    return lower;
  }

  // A case-insensitive header list with the read/write API of WHATWG Headers.
  class Headers {
    #entries = [];
    constructor(init) {
      if (init === undefined || init === null) return;
      if (init instanceof Headers) {
        for (const [k, v] of init.entries()) this.append(k, v);
      } else if (isArray(init)) {
        for (const pair of init) {
          if (!isArray(pair) || pair.length !== 2) {
            throw new TypeError("Headers init pairs must be [name, value]");
          }
          this.append(pair[0], pair[1]);
        }
      } else if (typeof init === "object") {
        for (const key of Object.keys(init)) this.append(key, init[key]);
      } else {
        throw new TypeError("Headers init must be an object, an array of pairs or Headers");
      }
    }
    append(name, value) {
      this.#entries.push([headerName(name), String(value)]);
    }
    set(name, value) {
      this.delete(name);
      this.append(name, value);
    }
    delete(name) {
      const key = headerName(name);
      this.#entries = this.#entries.filter(([k]) => k !== key);
    }
    get(name) {
      const key = headerName(name);
      const values = this.#entries.filter(([k]) => k === key).map(([, v]) => v);
      return values.length === 0 ? null : values.join(", ");
    }
    has(name) {
      const key = headerName(name);
      return this.#entries.some(([k]) => k === key);
    }
    *entries() {
      const seen = new Set();
      for (const [k] of this.#entries) {
        if (seen.has(k)) continue;
        seen.add(k);
        yield [k, this.get(k)];
      }
    }
    *keys() {
      for (const [k] of this.entries()) yield k;
    }
    *values() {
      for (const [, v] of this.entries()) yield v;
    }
    forEach(callback, thisArg) {
      for (const [k, v] of this.entries()) callback.call(thisArg, v, k, this);
    }
    [Symbol.iterator]() {
      return this.entries();
    }
    toJSON() {
      return Object.fromEntries(this.entries());
    }
  }

  class Response {
    #body;
    #used = false;
    constructor(meta, body) {
      this.status = meta.status;
      this.statusText = meta.statusText || "";
      this.ok = meta.status >= 200 && meta.status < 300;
      this.url = meta.url;
      this.redirected = !!meta.redirected;
      this.headers = new Headers(meta.headers);
      this.#body = body;
    }
    get bodyUsed() {
      return this.#used;
    }
    #consume() {
      if (this.#used) throw new TypeError("body has already been consumed");
      this.#used = true;
      return this.#body;
    }
    async arrayBuffer() {
      return this.#consume();
    }
    async text() {
      return decoder.decode(this.#consume());
    }
    async json() {
      const text = decoder.decode(this.#consume());
      try {
        return parse(text);
      } catch (e) {
        throw new SyntaxError(`response from ${this.url} is not valid JSON: ${e.message}`);
      }
    }
  }

  function requestBody(body) {
    if (body === undefined || body === null) return null;
    if (typeof body === "string") return body;
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return decoder.decode(body);
    throw new TypeError("fetch body must be a string, an ArrayBuffer or a typed array");
  }

  async function fetch(input, init) {
    init = init || {};
    const url = typeof input === "string" ? input : input && input.url !== undefined ? input.url : String(input);
    const method = String(init.method || "GET").toUpperCase();
    const headers = [...new Headers(init.headers).entries()];
    const request = stringify({ url: String(url), method, headers, body: requestBody(init.body) });
    const reply = host.fetch(request);
    const meta = parse(reply.meta);
    if (meta.error !== undefined) throw new TypeError(meta.error);
    return new Response(meta, reply.body);
  }

  function describe(error) {
    try {
      if (error instanceof Error) {
        return stringify({
          name: String(error.name),
          message: String(error.message),
          stack: String(error.stack || ""),
        });
      }
      let shown;
      try {
        shown = typeof error === "string" ? error : stringify(error);
      } catch (_) {
        shown = undefined;
      }
      return stringify({
        name: "Error",
        message: `uncaught ${shown === undefined ? typeof error : shown}`,
        stack: "",
      });
    } catch (_) {
      return '{"name":"Error","message":"uncaught value that cannot be described","stack":""}';
    }
  }

  // Calls the charm and returns the new state as JSON text, or undefined to
  // keep the old state. A rejection carries the charm's own error.
  async function run(updater, inputJson) {
    if (typeof updater !== "function") {
      throw new TypeError("the charm does not export a function named `bgUpdater`");
    }
    const input = parse(inputJson);
    const result = await updater(input.state, input.ctx);
    if (result === undefined) return undefined;
    let text;
    try {
      text = stringify(result);
    } catch (e) {
      throw new TypeError(`bgUpdater returned a value that is not JSON-serialisable: ${e.message}`);
    }
    if (text === undefined) {
      throw new TypeError(`bgUpdater returned a value that is not JSON-serialisable (a ${typeof result})`);
    }
    return text;
  }

  for (const [name, value] of Object.entries({ console, fetch, Headers, Response })) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  }
  return { run, describe };
});
