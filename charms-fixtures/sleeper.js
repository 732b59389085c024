// Waits `ctx.input.ms` on a timer, doing nothing: the wait costs no fuel.
export async function bgUpdater(state, ctx) {
  await new Promise((resolve) => setTimeout(resolve, ctx.input.ms));
  return { ...state, slept: ctx.input.ms };
}
