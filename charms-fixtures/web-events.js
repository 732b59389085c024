// Events and messaging: the event interfaces, the global object's error
// and rejection events, and MessageChannel. `ctx.input.mode` picks a run:
// "events" (everything that should succeed), "report" (reportError with
// no listener), "listener-throws", "unstarted" (waiting on a port nobody
// started).
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function events() {
  const out = {};

  const custom = new CustomEvent("c", { detail: [1], cancelable: true });
  const plain = new CustomEvent("p");
  plain.initCustomEvent("q", true, false, "later");
  out.custom = [custom.detail, custom.cancelable, plain.type, plain.bubbles, plain.detail, String(custom)];

  // An exception in a timer is reported at the global; cancelled, the run
  // goes on.
  const errors = [];
  const onError = (e) => {
    errors.push([e.constructor.name, e.message, e.error?.message, e.filename.endsWith("web-events.js"), e.lineno > 0]);
    e.preventDefault();
  };
  addEventListener("error", onError);
  setTimeout(() => {
    throw new TypeError("from a timer");
  }, 0);
  queueMicrotask(() => {
    throw new RangeError("from a microtask");
  });
  new EventTarget().addEventListener("x", () => {
    throw new SyntaxError("from a listener");
  });
  const target = new EventTarget();
  target.addEventListener("x", () => {
    throw new SyntaxError("from a listener");
  });
  target.dispatchEvent(new Event("x"));
  reportError(new EvalError("reported"));
  await sleep(5);
  removeEventListener("error", onError);
  out.errors = errors;

  // onerror gets (message, source, line, column, error); true cancels.
  let onerrorArgs;
  globalThis.onerror = (message, source, line, column, error) => {
    onerrorArgs = [message, typeof source, typeof line, typeof column, error?.message];
    return true;
  };
  reportError(new Error("via onerror"));
  globalThis.onerror = null;
  out.onerror = onerrorArgs;

  // unhandledrejection, cancelled, then rejectionhandled once handled.
  const rejections = [];
  addEventListener("unhandledrejection", (e) => {
    rejections.push(["unhandled", e.reason.message, e.promise instanceof Promise, e.cancelable]);
    e.preventDefault();
  });
  onrejectionhandled = (e) => rejections.push(["handled", e.reason.message]);
  const rejected = Promise.reject(new Error("late"));
  await sleep(1);
  rejected.catch(() => {});
  await sleep(1);
  out.rejections = rejections;

  // Messages: each a task, in order, only once the port has started.
  const { port1, port2 } = new MessageChannel();
  const got = [];
  port2.addEventListener("message", (e) => got.push([e.data, e.constructor.name, e.target === port2, e.ports.length]));
  port1.postMessage("first");
  port1.postMessage(2);
  got.push("sent");
  await sleep(1);
  got.push("not started");
  port2.start();
  got.push("started");
  await sleep(1);
  out.messages = got;

  // onmessage starts the port; a transferred port keeps talking to its
  // partner under its new object.
  const a = new MessageChannel();
  const b = new MessageChannel();
  const relayed = new Promise((resolve) => {
    b.port2.onmessage = (e) => {
      const [moved] = e.ports;
      moved.onmessage = (m) => resolve([m.data, moved !== a.port2, e.data]);
      a.port1.postMessage("through the moved port");
    };
  });
  b.port1.postMessage("here is a port", [a.port2]);
  out.transfer = await relayed;
  let selfTransfer;
  try {
    a.port1.postMessage("x", [a.port1]);
  } catch (e) {
    selfTransfer = e.name;
  }
  out.selfTransfer = selfTransfer;

  // A closed port delivers nothing more.
  const c = new MessageChannel();
  const closedGot = [];
  c.port2.onmessage = (e) => closedGot.push(e.data);
  c.port1.postMessage("before");
  await sleep(1);
  c.port2.close();
  c.port1.postMessage("after");
  await sleep(1);
  out.closed = closedGot;
  // An object travels as a structured clone: equal, but not the same object.
  const objects = new MessageChannel();
  const sent = { an: "object", nested: [1, { two: 2 }], when: new Date(0) };
  const received = await new Promise((resolve) => {
    objects.port2.onmessage = (event) => resolve(event.data);
    objects.port1.postMessage(sent);
  });
  objects.port1.close();
  out.objectMessage = [
    received !== sent,
    received.nested !== sent.nested,
    JSON.stringify(received) === JSON.stringify(sent),
    received.when instanceof Date,
  ];

  out.navigator = [navigator.userAgent, String(navigator), self === globalThis];
  out.weak = [typeof WeakRef, typeof FinalizationRegistry, new WeakRef(out).deref() === out];
  const registry = new FinalizationRegistry(() => {});
  registry.register({}, "held");
  return out;
}

export async function bgUpdater(state, ctx) {
  const mode = ctx.input?.mode ?? "events";
  if (mode === "events") return events();
  if (mode === "report") {
    reportError(new TypeError("nobody listens"));
    return { unreachable: false };
  }
  if (mode === "listener-throws") {
    addEventListener("error", () => {
      throw new RangeError("the listener broke");
    });
    setTimeout(() => {
      throw new TypeError("from a timer");
    }, 0);
    await sleep(10);
    return { unreachable: false };
  }
  if (mode === "unstarted") {
    const { port1, port2 } = new MessageChannel();
    const message = new Promise((resolve) => port2.addEventListener("message", resolve));
    port1.postMessage("never delivered: port2 never started");
    await message;
    return { unreachable: false };
  }
  throw new Error(`unknown mode ${mode}`);
}
