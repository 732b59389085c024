// Fetches `ctx.input.url` with a signal that is already aborted
// (`ctx.input.when` = "before") or is aborted 100 ms into the request
// ("during"), and reports what fetch rejected with.
export async function bgUpdater(state, ctx) {
  const controller = new AbortController();
  if (ctx.input.when === "before") controller.abort();
  else setTimeout(() => controller.abort(), 100);
  try {
    await fetch(ctx.input.url, { signal: controller.signal });
    return { error: null };
  } catch (e) {
    return {
      error: e.name,
      isDOMException: e instanceof DOMException,
      code: e.code,
      same: e === controller.signal.reason,
    };
  }
}
