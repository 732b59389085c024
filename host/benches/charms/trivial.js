// Bench row 1 and 2, and the Deno baselines: read the state, return state+1.
export function bgUpdater(state) {
  return { count: (state.count ?? 0) + 1 };
}
