// The driver: calls `bgUpdater` and describes what a charm threw. It hands
// `internals.driver = { run, describe }` to the runtime's Rust side.
(function (internals) {
  "use strict";
  const stringify = JSON.stringify;
  const parse = JSON.parse;

  // An error payload (`charm_host_abi::error`) for a thrown value: its
  // kind (from the tag the prelude gave it, else "charm"), name, message and
  // stack; a limit error also carries the limit it reports.
  function describe(error) {
    try {
      const tag = internals.errorTag(error);
      const kind = tag && typeof tag.kind === "string" ? tag.kind : "charm";
      if (error instanceof Error) {
        const payload = {
          kind,
          name: String(error.name),
          message: String(error.message),
          stack: String(error.stack || ""),
        };
        if (tag && tag.limit) payload.limit = tag.limit;
        return stringify(payload);
      }
      let shown;
      try {
        shown = typeof error === "string" ? error : stringify(error);
      } catch (_) {
        shown = undefined;
      }
      return stringify({
        kind: "charm",
        name: "Error",
        message: `uncaught ${shown === undefined ? typeof error : shown}`,
        stack: "",
      });
    } catch (_) {
      return '{"kind":"charm","name":"Error","message":"uncaught value that cannot be described","stack":""}';
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

  internals.driver = { run, describe };
});
