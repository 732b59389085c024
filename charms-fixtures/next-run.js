// Asks for its next run when its input says so (ctx.scheduleNext), and
// reports what a bad request throws and which keys ctx enumerates.
export function bgUpdater(state, ctx) {
  let refused = null;
  try {
    ctx.scheduleNext(-1);
  } catch (e) {
    refused = `${e.name}: ${e.message}`;
  }
  if (ctx.input?.next !== undefined) ctx.scheduleNext(ctx.input.next);
  return { refused, keys: Object.keys(ctx) };
}
