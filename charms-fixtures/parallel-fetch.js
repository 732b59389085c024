// Fetches every URL of `ctx.input.urls` at once (Promise.all) and reports
// each status, how long they took together, and every refusal.
export async function bgUpdater(state, ctx) {
  const started = Date.now();
  const results = await Promise.allSettled(ctx.input.urls.map((url) => fetch(url).then((r) => r.status)));
  return {
    statuses: results.filter((r) => r.status === "fulfilled").map((r) => r.value),
    refused: results.filter((r) => r.status === "rejected").map((r) => `${r.reason.name}: ${r.reason.message}`),
    elapsedMs: Date.now() - started,
  };
}
