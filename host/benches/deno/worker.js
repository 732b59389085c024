// One Web Worker of the original service: loads a charm and runs its
// bgUpdater for every message, answering with the new state.
const charmUrl = new URL(import.meta.url).searchParams.get("charm");
// Load without a top-level await: a message that arrives while the module is
// still evaluating would find no handler and be lost.
const charm = import(charmUrl);

self.onmessage = async (event) => {
  const { state, ctx } = event.data;
  try {
    const next = await (await charm).bgUpdater(state, ctx);
    self.postMessage({ ok: true, state: next });
  } catch (error) {
    self.postMessage({ ok: false, error: String(error) });
  }
};
