// URLPattern (URL Pattern standard), on the `urlpattern` crate with
// QuickJS's own regular expressions (src/ops/urlpattern.rs). A pattern
// keeps its constructor's arguments; `test` and `exec` compile them again
// natively, so no native state outlives a call.
(function (internals) {
  "use strict";
  const host = internals.host;
  const { urlPatternParse, urlPatternExec } = host;
  const usv = internals.usv;
  const COMPONENTS = ["protocol", "username", "password", "hostname", "port", "pathname", "search", "hash"];
  const INIT_FIELDS = [...COMPONENTS, "baseURL"];

  // A URLPatternInput as the native side takes it: a string, or the init
  // dictionary's fields in INIT_FIELDS order (undefined where absent).
  function toInput(input, what) {
    if (input === undefined || input === null) input = {};
    if (typeof input === "object" || typeof input === "function") {
      return INIT_FIELDS.map((key) => (input[key] === undefined ? undefined : usv(input[key])));
    }
    if (typeof input !== "string" && typeof input !== "number" && typeof input !== "boolean") {
      throw new TypeError(`${what}: the input must be a string or a URLPatternInit`);
    }
    return usv(input);
  }

  // (input, baseURL?, options?) or (input, options?), as the standard's
  // overloads: a string second argument is the base URL.
  function splitArgs(input, second, third) {
    if (typeof second === "string") return { input, base: second, options: third };
    return { input, base: undefined, options: second };
  }

  class URLPattern {
    #input;
    #base;
    #ignoreCase;
    #parts; // the normalised component strings
    #hasRegExpGroups;

    constructor(input = {}, baseURL = undefined, options = undefined) {
      const args = splitArgs(input, baseURL, options);
      this.#input = toInput(args.input, "URLPattern constructor");
      this.#base = args.base === undefined ? undefined : usv(args.base);
      this.#ignoreCase = !!(args.options && args.options.ignoreCase);
      const parsed = urlPatternParse(this.#input, this.#base, this.#ignoreCase);
      this.#parts = parsed.slice(0, 8);
      this.#hasRegExpGroups = parsed[8] === "true";
    }

    #match(input, baseURL) {
      const target = toInput(input, "URLPattern");
      const base = baseURL === undefined ? undefined : usv(baseURL);
      if (typeof target !== "string" && base !== undefined) {
        throw new TypeError("URLPattern: a base URL cannot be given with a URLPatternInit");
      }
      return urlPatternExec(this.#input, this.#base, this.#ignoreCase, target, base);
    }

    test(input = {}, baseURL = undefined) {
      return this.#match(input, baseURL) !== undefined;
    }

    exec(input = {}, baseURL = undefined) {
      const matched = this.#match(input, baseURL);
      if (matched === undefined) return null;
      const inputs = [input];
      if (baseURL !== undefined) inputs.push(baseURL);
      const result = { inputs };
      for (let i = 0; i < COMPONENTS.length; i++) {
        const flat = matched[i];
        const groups = {};
        for (let j = 1; j < flat.length; j += 2) groups[flat[j]] = flat[j + 1];
        result[COMPONENTS[i]] = { input: flat[0], groups };
      }
      return result;
    }

    get protocol() { return this.#parts[0]; }
    get username() { return this.#parts[1]; }
    get password() { return this.#parts[2]; }
    get hostname() { return this.#parts[3]; }
    get port() { return this.#parts[4]; }
    get pathname() { return this.#parts[5]; }
    get search() { return this.#parts[6]; }
    get hash() { return this.#parts[7]; }

    get hasRegExpGroups() {
      return this.#hasRegExpGroups;
    }
  }
  for (const key of [...COMPONENTS, "test", "exec", "hasRegExpGroups"]) {
    Object.defineProperty(URLPattern.prototype, key, { enumerable: true });
  }
  Object.defineProperty(URLPattern.prototype, Symbol.toStringTag, { value: "URLPattern", configurable: true });

  internals.defineGlobal("URLPattern", URLPattern);
});
