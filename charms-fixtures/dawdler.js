// Waits `ctx.input.ms` (else `state.ms`) milliseconds, then succeeds: a run
// that uses most of its time limit without failing.
export async function bgUpdater(state, ctx) {
  const ms = ctx.input?.ms ?? state.ms ?? 0;
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { ...state, runs: (state.runs ?? 0) + 1 };
}
