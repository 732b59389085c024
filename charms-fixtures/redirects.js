// Fetches `ctx.input.url` (which redirects) in each redirect mode.
export async function bgUpdater(state, ctx) {
  const out = {};
  for (const redirect of ["follow", "manual", "error"]) {
    try {
      const res = await fetch(ctx.input.url, { redirect });
      out[redirect] = { status: res.status, redirected: res.redirected, location: res.headers.get("location"), url: res.url };
    } catch (e) {
      out[redirect] = { error: `${e.name}: ${e.message}` };
    }
  }
  return out;
}
