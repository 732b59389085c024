// Fetches ctx.input.url and reads the body as ctx.input.as ("text", "json"
// or "bytes"). With ctx.input.catch it reports a failure as state instead of
// failing the run.
export async function bgUpdater(state, ctx) {
  const { url, as = "text", catch: catching = false } = ctx.input;
  try {
    const res = await fetch(url);
    const body = as === "json" ? await res.json() : as === "bytes" ? (await res.arrayBuffer()).byteLength : await res.text();
    return { status: res.status, redirected: res.redirected, body };
  } catch (e) {
    if (!catching) throw e;
    return { caught: `${e.name}: ${e.message}` };
  }
}
