// DOMException (Web IDL), Event and EventTarget (DOM standard): what
// AbortSignal and the other event-driven APIs stand on.
(function (internals) {
  "use strict";

  // Web IDL's legacy error codes, by name.
  const CODES = {
    IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4,
    InvalidCharacterError: 5, NoModificationAllowedError: 7, NotFoundError: 8,
    NotSupportedError: 9, InvalidStateError: 11, SyntaxError: 12,
    InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
    TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20,
    URLMismatchError: 21, QuotaExceededError: 22, TimeoutError: 23,
    InvalidNodeTypeError: 24, DataCloneError: 25,
  };
  const CONSTANTS = {
    INDEX_SIZE_ERR: 1, DOMSTRING_SIZE_ERR: 2, HIERARCHY_REQUEST_ERR: 3,
    WRONG_DOCUMENT_ERR: 4, INVALID_CHARACTER_ERR: 5, NO_DATA_ALLOWED_ERR: 6,
    NO_MODIFICATION_ALLOWED_ERR: 7, NOT_FOUND_ERR: 8, NOT_SUPPORTED_ERR: 9,
    INUSE_ATTRIBUTE_ERR: 10, INVALID_STATE_ERR: 11, SYNTAX_ERR: 12,
    INVALID_MODIFICATION_ERR: 13, NAMESPACE_ERR: 14, INVALID_ACCESS_ERR: 15,
    VALIDATION_ERR: 16, TYPE_MISMATCH_ERR: 17, SECURITY_ERR: 18, NETWORK_ERR: 19,
    ABORT_ERR: 20, URL_MISMATCH_ERR: 21, QUOTA_EXCEEDED_ERR: 22, TIMEOUT_ERR: 23,
    INVALID_NODE_TYPE_ERR: 24, DATA_CLONE_ERR: 25,
  };

  class DOMException extends Error {
    #name;
    #message;
    constructor(message = "", name = "Error") {
      super();
      this.#message = String(message);
      this.#name = String(name);
      // The stack names this error, not the base class.
      Error.captureStackTrace?.(this, DOMException);
    }
    get name() {
      return this.#name;
    }
    get message() {
      return this.#message;
    }
    get code() {
      return CODES[this.#name] ?? 0;
    }
  }
  // `message` and `name` live on the prototype as accessors, as Web IDL
  // says; the base constructor's own `message` would shadow them.
  Object.defineProperty(DOMException.prototype, Symbol.toStringTag, {
    value: "DOMException",
    configurable: true,
  });
  for (const [name, value] of Object.entries(CONSTANTS)) {
    Object.defineProperty(DOMException, name, { value, enumerable: true });
    Object.defineProperty(DOMException.prototype, name, { value, enumerable: true });
  }

  const NONE = 0, CAPTURING_PHASE = 1, AT_TARGET = 2, BUBBLING_PHASE = 3;
  let timeOrigin = 0;
  internals.setTimeOrigin = (origin) => { timeOrigin = origin; };

  class Event {
    #type;
    #bubbles;
    #cancelable;
    #composed;
    #canceled = false;
    #stop = false;
    #stopImmediate = false;
    #dispatching = false;
    #target = null;
    #currentTarget = null;
    #phase = NONE;
    #timeStamp;
    #trusted = false;
    constructor(type, init = {}) {
      if (arguments.length === 0) throw new TypeError("Event constructor: 1 argument required");
      this.#type = String(type);
      init = init ?? {};
      this.#bubbles = !!init.bubbles;
      this.#cancelable = !!init.cancelable;
      this.#composed = !!init.composed;
      this.#timeStamp = internals.host.now() - timeOrigin;
    }
    get type() { return this.#type; }
    get target() { return this.#target; }
    get srcElement() { return this.#target; }
    get currentTarget() { return this.#currentTarget; }
    get eventPhase() { return this.#phase; }
    get bubbles() { return this.#bubbles; }
    get cancelable() { return this.#cancelable; }
    get composed() { return this.#composed; }
    get defaultPrevented() { return this.#canceled; }
    get isTrusted() { return this.#trusted; }
    get timeStamp() { return this.#timeStamp; }
    get returnValue() { return !this.#canceled; }
    set returnValue(value) { if (!value) this.preventDefault(); }
    get cancelBubble() { return this.#stop; }
    set cancelBubble(value) { if (value) this.#stop = true; }
    composedPath() {
      return this.#dispatching && this.#target ? [this.#target] : [];
    }
    stopPropagation() { this.#stop = true; }
    stopImmediatePropagation() { this.#stop = true; this.#stopImmediate = true; }
    preventDefault() {
      if (this.#cancelable && !internals.inPassiveListener) this.#canceled = true;
    }
    initEvent(type, bubbles = false, cancelable = false) {
      if (this.#dispatching) return;
      this.#type = String(type);
      this.#bubbles = !!bubbles;
      this.#cancelable = !!cancelable;
    }
    static #access = {
      begin(event, target, trusted) {
        if (event.#dispatching) {
          throw new DOMException("the event is already being dispatched", "InvalidStateError");
        }
        event.#dispatching = true;
        event.#trusted = trusted;
        event.#target = target;
        event.#currentTarget = target;
        event.#phase = AT_TARGET;
      },
      stoppedImmediately: (event) => event.#stopImmediate,
      end(event) {
        event.#dispatching = false;
        event.#currentTarget = null;
        event.#phase = NONE;
        event.#stop = false;
        event.#stopImmediate = false;
      },
    };
    static {
      internals.eventAccess = Event.#access;
    }
  }
  for (const [name, value] of Object.entries({ NONE, CAPTURING_PHASE, AT_TARGET, BUBBLING_PHASE })) {
    Object.defineProperty(Event, name, { value, enumerable: true });
    Object.defineProperty(Event.prototype, name, { value, enumerable: true });
  }

  // Listener options: a boolean (capture) or a dictionary.
  function flatten(options) {
    if (typeof options === "boolean") return { capture: options };
    options = options ?? {};
    return {
      capture: !!options.capture,
      once: !!options.once,
      passive: !!options.passive,
      signal: options.signal,
    };
  }

  // The global object is an EventTarget too (error and rejection events
  // fire at it), but it was not made by the constructor: its listeners
  // live here. As Web IDL says, a method called with no `this` (bare
  // `addEventListener(...)`) acts on the global object.
  const globalListeners = new Map();

  class EventTarget {
    #listeners = new Map(); // type -> [{ callback, capture, once, passive, removed }]
    static #of(target) {
      if (target === undefined || target === null || target === globalThis) return globalListeners;
      if (typeof target === "object" && #listeners in target) return target.#listeners;
      throw new TypeError("Illegal invocation: not an EventTarget");
    }
    addEventListener(type, callback, options) {
      type = String(type);
      const { capture, once, passive, signal } = flatten(options);
      if (callback === null || callback === undefined) return;
      if (signal !== undefined && !internals.isAbortSignal?.(signal)) {
        throw new TypeError("addEventListener: the signal option must be an AbortSignal");
      }
      if (signal?.aborted) return;
      const listeners = EventTarget.#of(this);
      let list = listeners.get(type);
      if (!list) listeners.set(type, (list = []));
      if (list.some((l) => l.callback === callback && l.capture === capture)) return;
      const listener = { callback, capture, once, passive, removed: false };
      list.push(listener);
      if (signal) {
        const target = this ?? globalThis;
        internals.onAbort(signal, () => target.removeEventListener(type, callback, { capture }));
      }
    }
    removeEventListener(type, callback, options) {
      const { capture } = flatten(options);
      const list = EventTarget.#of(this).get(String(type));
      if (!list) return;
      const i = list.findIndex((l) => l.callback === callback && l.capture === capture);
      if (i >= 0) {
        list[i].removed = true;
        list.splice(i, 1);
      }
    }
    dispatchEvent(event) {
      if (!(event instanceof Event)) {
        throw new TypeError("dispatchEvent: the argument must be an Event");
      }
      EventTarget.#of(this);
      return internals.dispatch(this ?? globalThis, event, false);
    }
    static {
      // Fires `event` at `target`: listeners in order, each called once,
      // an exception in one reported without stopping the others.
      internals.dispatch = function (target, event, trusted) {
        const access = internals.eventAccess;
        access.begin(event, target, trusted);
        try {
          const list = EventTarget.#of(target).get(event.type);
          for (const listener of list ? [...list] : []) {
            if (listener.removed) continue;
            if (listener.once) target.removeEventListener(event.type, listener.callback, listener);
            const callback = listener.callback;
            internals.inPassiveListener = listener.passive;
            try {
              if (typeof callback === "function") callback.call(target, event);
              else if (callback && typeof callback.handleEvent === "function") callback.handleEvent(event);
            } catch (error) {
              internals.reportException(error);
            } finally {
              internals.inPassiveListener = false;
            }
            if (access.stoppedImmediately(event)) break;
          }
        } finally {
          access.end(event);
        }
        return !event.defaultPrevented;
      };
    }
  }

  // An event handler attribute (`onabort`, ...) on `prototype`, as HTML
  // defines them: the first non-null value registers a listener in the
  // target's list at that point, later values replace the callback it
  // calls, and null removes it. A handler that returns false cancels the
  // event.
  internals.defineEventHandler = function (prototype, type) {
    const handlers = new WeakMap(); // target -> { value, listener }
    Object.defineProperty(prototype, `on${type}`, {
      configurable: true,
      enumerable: true,
      get() {
        return handlers.get(this)?.value ?? null;
      },
      set(value) {
        let entry = handlers.get(this);
        const callable = typeof value === "function" || (typeof value === "object" && value !== null);
        if (!callable) {
          if (entry) {
            this.removeEventListener(type, entry.listener);
            handlers.delete(this);
          }
          return;
        }
        if (!entry) {
          entry = { value, listener: null };
          entry.listener = function (event) {
            const handler = entry.value;
            if (typeof handler !== "function") return;
            if (handler.call(this, event) === false) event.preventDefault();
          };
          handlers.set(this, entry);
          this.addEventListener(type, entry.listener);
        }
        entry.value = value;
      },
    });
  };

  for (const Class of [Event, EventTarget]) {
    Object.defineProperty(Class.prototype, Symbol.toStringTag, { value: Class.name, configurable: true });
  }

  internals.DOMException = DOMException;
  internals.Event = Event;
  internals.EventTarget = EventTarget;
  internals.defineGlobal("DOMException", DOMException);
  internals.defineGlobal("Event", Event);
  internals.defineGlobal("EventTarget", EventTarget);
});
