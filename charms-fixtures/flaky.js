// Counts successful runs; fails (without touching state) when the run's
// input says so.
export function bgUpdater(state, ctx) {
  if (ctx.input?.fail) throw new TypeError(`asked to fail: ${ctx.input.fail}`);
  return { ...state, count: (state.count ?? 0) + 1 };
}
