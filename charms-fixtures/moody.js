// Asks a test server how to behave (`state.url`): "ok" succeeds, "fail"
// throws; the server may take its time answering.
export async function bgUpdater(state) {
  const mode = await (await fetch(state.url)).text();
  if (mode === "fail") throw new Error("the feed answered: fail");
  return state;
}
