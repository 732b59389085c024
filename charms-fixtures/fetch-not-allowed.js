// Fetches a host that is not on its allow-list; the denial is catchable.
export async function bgUpdater(state, ctx) {
  const url = ctx.input?.url ?? "https://example.com/";
  if (ctx.input?.catch) {
    try {
      await fetch(url);
      return { reached: true };
    } catch (e) {
      return { caught: `${e.name}: ${e.message}` };
    }
  }
  await fetch(url);
  return { reached: true };
}
