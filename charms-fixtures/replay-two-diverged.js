// replay-two.js changed: its second request is not the recorded one.
export async function bgUpdater(state) {
  const a = await (await fetch(`${state.base}/a`)).text();
  const c = await (await fetch(`${state.base}/c?page=2`)).text();
  return { ...state, got: [a, c] };
}
