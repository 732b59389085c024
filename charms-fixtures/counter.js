// Counts its runs: the smallest charm that keeps state.
export const integration = "counter";

export function bgUpdater(state, ctx) {
  const count = (state.count ?? 0) + 1;
  console.log(`run ${ctx.runId}: count ${count}`);
  return { ...state, count };
}
