// Fetches state.base + "/a", then "/b" (tests/replay.rs).
export async function bgUpdater(state) {
  const a = await (await fetch(`${state.base}/a`)).text();
  const b = await (await fetch(`${state.base}/b`)).text();
  return { ...state, got: [a, b] };
}
