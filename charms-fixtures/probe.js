// Fetches each URL of its input and records what happened: the status, or
// the error's message.
export async function bgUpdater(state, ctx) {
  const seen = {};
  for (const url of ctx.input?.urls ?? []) {
    try {
      const res = await fetch(url);
      seen[url] = `HTTP ${res.status}`;
    } catch (e) {
      seen[url] = `${e.name}: ${e.message}`;
    }
  }
  return { seen };
}
