// The event interfaces of HTML and DOM beyond Event (CustomEvent,
// ErrorEvent, PromiseRejectionEvent, MessageEvent), the global object as an
// EventTarget with its error events, `reportError`, and messaging
// (MessageChannel, MessagePort).
//
// Errors, as HTML's "report an exception" and rejection tracking have it:
// an exception that escapes a callback the runtime called (a listener, a
// timer, a microtask, `reportError`) fires a cancelable `error` ErrorEvent
// at the global object; unless a listener (or `onerror` returning true)
// cancels it, the run fails with that exception. A promise rejection no
// handler took by the end of a turn fires a cancelable
// `unhandledrejection` PromiseRejectionEvent; unless cancelled, the run
// fails. A rejection whose event was cancelled and that gets a handler
// later fires `rejectionhandled`.
(function (internals) {
  "use strict";
  const { Event, EventTarget, DOMException } = internals;
  const host = internals.host;
  const apply = Reflect.apply;
  const freeze = Object.freeze;

  class CustomEvent extends Event {
    #detail;
    constructor(type, init = undefined) {
      if (arguments.length === 0) throw new TypeError("CustomEvent constructor: 1 argument required");
      super(type, init);
      this.#detail = init?.detail ?? null;
    }
    get detail() {
      return this.#detail;
    }
    initCustomEvent(type, bubbles = false, cancelable = false, detail = null) {
      if (arguments.length === 0) throw new TypeError("initCustomEvent: 1 argument required");
      this.initEvent(type, bubbles, cancelable);
      this.#detail = detail;
    }
  }

  class ErrorEvent extends Event {
    #message;
    #filename;
    #lineno;
    #colno;
    #error;
    constructor(type, init = undefined) {
      if (arguments.length === 0) throw new TypeError("ErrorEvent constructor: 1 argument required");
      super(type, init);
      init = init ?? {};
      this.#message = init.message === undefined ? "" : String(init.message);
      this.#filename = init.filename === undefined ? "" : String(init.filename);
      this.#lineno = init.lineno === undefined ? 0 : init.lineno >>> 0;
      this.#colno = init.colno === undefined ? 0 : init.colno >>> 0;
      this.#error = init.error;
    }
    get message() { return this.#message; }
    get filename() { return this.#filename; }
    get lineno() { return this.#lineno; }
    get colno() { return this.#colno; }
    get error() { return this.#error; }
  }

  class PromiseRejectionEvent extends Event {
    #promise;
    #reason;
    constructor(type, init = undefined) {
      if (arguments.length < 2) throw new TypeError("PromiseRejectionEvent constructor: 2 arguments required");
      if (typeof init !== "object" || init === null) {
        throw new TypeError("PromiseRejectionEvent constructor: the init dictionary is required");
      }
      const promise = init.promise;
      if ((typeof promise !== "object" && typeof promise !== "function") || promise === null) {
        throw new TypeError("PromiseRejectionEvent constructor: init.promise must be an object");
      }
      super(type, init);
      this.#promise = promise;
      this.#reason = init.reason;
    }
    get promise() { return this.#promise; }
    get reason() { return this.#reason; }
  }

  const ports = new WeakSet();
  const isPort = (value) => ports.has(value);

  // A sequence of MessagePorts, as `ports` holds them: frozen.
  function portList(value, what) {
    if (value === undefined) return freeze([]);
    if (typeof value !== "object" || value === null || typeof value[Symbol.iterator] !== "function") {
      throw new TypeError(`${what}: ports must be a sequence of MessagePorts`);
    }
    const list = [...value];
    for (const port of list) if (!isPort(port)) throw new TypeError(`${what}: ports must be a sequence of MessagePorts`);
    return freeze(list);
  }

  class MessageEvent extends Event {
    #data;
    #origin;
    #lastEventId;
    #source;
    #ports;
    constructor(type, init = undefined) {
      if (arguments.length === 0) throw new TypeError("MessageEvent constructor: 1 argument required");
      super(type, init);
      init = init ?? {};
      this.#data = init.data === undefined ? null : init.data;
      this.#origin = init.origin === undefined ? "" : String(init.origin);
      this.#lastEventId = init.lastEventId === undefined ? "" : String(init.lastEventId);
      this.#source = MessageEvent.#checkSource(init.source, "MessageEvent constructor");
      this.#ports = portList(init.ports, "MessageEvent constructor");
    }
    static #checkSource(source, what) {
      if (source === undefined || source === null) return null;
      if (!isPort(source)) throw new TypeError(`${what}: source must be a MessagePort or null`);
      return source;
    }
    get data() { return this.#data; }
    get origin() { return this.#origin; }
    get lastEventId() { return this.#lastEventId; }
    get source() { return this.#source; }
    get ports() { return this.#ports; }
    initMessageEvent(type, bubbles = false, cancelable = false, data = null, origin = "", lastEventId = "",
      source = null, ports = []) {
      if (arguments.length === 0) throw new TypeError("initMessageEvent: 1 argument required");
      this.initEvent(type, bubbles, cancelable);
      this.#data = data;
      this.#origin = String(origin);
      this.#lastEventId = String(lastEventId);
      this.#source = MessageEvent.#checkSource(source, "initMessageEvent");
      this.#ports = portList(ports, "initMessageEvent");
    }
  }

  // ---- The global object's events ----

  // The global object inherits from EventTarget, as a Window or a worker's
  // global scope does: `addEventListener("error", ...)` works bare.
  Object.setPrototypeOf(globalThis, EventTarget.prototype);

  // Where an error came from: the first of the charm's stack frames.
  function location(error) {
    const stack = typeof error === "object" && error !== null ? error.stack : undefined;
    const frames = typeof stack === "string" && internals.charmStack ? internals.charmStack(stack) : "";
    const match = /\(?([^\s()]+):(\d+):(\d+)\)?\s*$/m.exec(frames.split("\n").find((l) => /:\d+:\d+/.test(l)) ?? "");
    return match ? { filename: match[1], lineno: Number(match[2]), colno: Number(match[3]) } : {};
  }

  function errorMessage(error) {
    try {
      if (error instanceof Error) return `Uncaught ${error.name}: ${error.message}`;
      return `Uncaught ${typeof error === "string" ? error : internals.inspect(error)}`;
    } catch (_) {
      return "Uncaught exception";
    }
  }

  // HTML's "report an exception": the `error` event, then, unless a
  // listener cancelled it, the host (which fails the run). An exception in
  // an `error` listener goes straight to the host.
  let reporting = false;
  internals.reportException = function (error) {
    if (reporting) {
      host.reportException(error);
      return;
    }
    reporting = true;
    try {
      const event = new ErrorEvent("error", {
        cancelable: true,
        message: errorMessage(error),
        error,
        ...location(error),
      });
      internals.dispatch(globalThis, event, true);
      if (!event.defaultPrevented) host.reportException(error);
    } finally {
      reporting = false;
    }
  };

  function reportError(e) {
    if (arguments.length === 0) throw new TypeError("reportError: 1 argument required");
    internals.reportException(e);
  }

  // `onerror` is an OnErrorEventHandler: for an ErrorEvent it is called
  // with (message, filename, lineno, colno, error), and returning true
  // cancels the event.
  {
    let handler = null;
    let registered = false;
    const listener = function (event) {
      if (typeof handler !== "function") return;
      if (event instanceof ErrorEvent) {
        const result = apply(handler, this, [event.message, event.filename, event.lineno, event.colno, event.error]);
        if (result === true) event.preventDefault();
      } else if (apply(handler, this, [event]) === false) {
        event.preventDefault();
      }
    };
    Object.defineProperty(globalThis, "onerror", {
      configurable: true,
      enumerable: true,
      get() {
        return handler;
      },
      set(value) {
        const callable = typeof value === "function" || (typeof value === "object" && value !== null);
        if (!callable) {
          handler = null;
          if (registered) globalThis.removeEventListener("error", listener);
          registered = false;
          return;
        }
        handler = value;
        if (!registered) globalThis.addEventListener("error", listener);
        registered = true;
      },
    });
  }
  internals.defineEventHandler(globalThis, "unhandledrejection");
  internals.defineEventHandler(globalThis, "rejectionhandled");

  // Called by the event loop (src/driver.rs) for each rejection no handler
  // took: "" if a listener cancelled the event, else the run's error
  // payload.
  internals.rejections = {
    unhandled(promise, reason) {
      const event = new PromiseRejectionEvent("unhandledrejection", { promise, reason, cancelable: true });
      internals.dispatch(globalThis, event, true);
      return event.defaultPrevented ? "" : internals.driver.describeUnhandled(reason);
    },
    handled(promise, reason) {
      internals.dispatch(globalThis, new PromiseRejectionEvent("rejectionhandled", { promise, reason }), true);
    },
  };

  // ---- Messaging ----

  const token = Symbol("MessagePort");

  class MessagePort extends EventTarget {
    #entangled = null;
    #queue = [];
    #enabled = false;
    #closed = false;
    #shipped = false;
    constructor(key = undefined) {
      if (key !== token) throw new TypeError("Illegal constructor");
      super();
      ports.add(this);
    }

    // postMessage(message, transfer) or postMessage(message, { transfer }).
    postMessage(message, options = undefined) {
      if (arguments.length === 0) throw new TypeError("postMessage: 1 argument required");
      let transfer = [];
      if (typeof options === "object" && options !== null && typeof options[Symbol.iterator] === "function") {
        transfer = [...options];
      } else if (options !== undefined && options !== null) {
        if (typeof options !== "object") throw new TypeError("postMessage: the options must be an object");
        if (options.transfer !== undefined) transfer = [...options.transfer];
      }
      const target = this.#entangled;
      const moved = [];
      const others = [];
      for (const item of transfer) {
        if (isPort(item)) {
          if (item === this) throw new DOMException("postMessage: a port cannot transfer itself", "DataCloneError");
          if (item.#shipped || moved.includes(item)) {
            throw new DOMException("postMessage: a port listed twice or already transferred", "DataCloneError");
          }
          moved.push(item);
        } else {
          others.push(item);
        }
      }
      // The message travels as a structured clone (34_clone.js's); a
      // primitive is its own clone.
      const clone = internals.structuredClone;
      const primitive = (typeof message !== "object" || message === null) && typeof message !== "function";
      let data = message;
      if (typeof clone === "function") data = clone(message, { transfer: others });
      else if (!primitive || others.length > 0) {
        throw new TypeError("postMessage: structured cloning is not available in this runtime");
      }
      // A port sent to its own partner is lost ("doomed"), as HTML says.
      const doomed = target !== null && moved.includes(target);
      const shipped = moved.map((port) => port.#ship());
      if (target === null || doomed) return;
      target.#queue.push({ data, ports: freeze(shipped) });
      if (target.#enabled) target.#schedule();
    }

    start() {
      if (this.#enabled) return;
      this.#enabled = true;
      for (let i = 0; i < this.#queue.length; i++) this.#schedule();
    }

    close() {
      this.#closed = true;
      const other = this.#entangled;
      this.#entangled = null;
      if (other !== null) other.#entangled = null;
    }

    // One task per message: a port is outstanding work for the event loop
    // only while a message waits to be delivered.
    #schedule() {
      internals.setTimer(() => this.#deliver(), 0);
    }

    #deliver() {
      const message = this.#queue.shift();
      if (message === undefined || this.#closed) return;
      const event = new MessageEvent("message", { data: message.data, ports: message.ports });
      internals.dispatch(this, event, true);
    }

    // Transfers this port: a new object takes over its entanglement and
    // its queued messages; this one is left detached.
    #ship() {
      const port = new MessagePort(token);
      port.#entangled = this.#entangled;
      if (port.#entangled !== null) port.#entangled.#entangled = port;
      port.#queue = this.#queue;
      this.#queue = [];
      this.#entangled = null;
      this.#shipped = true;
      return port;
    }

    static {
      internals.newMessagePort = () => new MessagePort(token);
      internals.entangle = (a, b) => {
        a.#entangled = b;
        b.#entangled = a;
      };
    }
  }
  internals.defineEventHandler(MessagePort.prototype, "messageerror");
  internals.defineEventHandler(MessagePort.prototype, "message");
  {
    // The first time `onmessage` is set, the port starts, as if by start().
    const descriptor = Object.getOwnPropertyDescriptor(MessagePort.prototype, "onmessage");
    Object.defineProperty(MessagePort.prototype, "onmessage", {
      ...descriptor,
      set(value) {
        apply(descriptor.set, this, [value]);
        this.start();
      },
    });
  }

  class MessageChannel {
    #port1 = internals.newMessagePort();
    #port2 = internals.newMessagePort();
    constructor() {
      internals.entangle(this.#port1, this.#port2);
    }
    get port1() { return this.#port1; }
    get port2() { return this.#port2; }
  }

  for (const [name, Class] of Object.entries({
    CustomEvent, ErrorEvent, PromiseRejectionEvent, MessageEvent, MessagePort, MessageChannel,
  })) {
    Object.defineProperty(Class.prototype, Symbol.toStringTag, { value: name, configurable: true });
    internals.defineGlobal(name, Class);
  }
  internals.CustomEvent = CustomEvent;
  internals.ErrorEvent = ErrorEvent;
  internals.PromiseRejectionEvent = PromiseRejectionEvent;
  internals.MessageEvent = MessageEvent;
  internals.defineGlobal("reportError", reportError);
});
