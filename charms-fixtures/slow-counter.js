// Waits on a slow server (state.url), then counts: a run that spends its
// time waiting on the network, not on the CPU.
export async function bgUpdater(state) {
  const res = await fetch(state.url);
  await res.text();
  return { ...state, count: (state.count ?? 0) + 1 };
}
