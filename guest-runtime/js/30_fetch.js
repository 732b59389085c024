// `fetch` and `Response`: one host call per request, through the charm's
// allow-list. A refusal or failure is a TypeError tagged with the kind the
// host gave it, so that the host can tell an uncaught denial or limit from
// the charm's own errors whatever the message says.
(function (internals) {
  "use strict";
  const host = internals.host;
  const Headers = internals.Headers;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const decoder = new TextDecoder("utf-8");

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
    if (meta.error !== undefined) {
      throw internals.tagError(new TypeError(meta.error), meta.kind, meta.limit);
    }
    return new Response(meta, reply.body);
  }

  internals.defineGlobal("fetch", fetch);
  internals.defineGlobal("Response", Response);
});
