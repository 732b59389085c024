// Reads a JSON feed at state.url; a malformed body fails the run
// (tests/replay.rs).
export async function bgUpdater(state, ctx) {
  const res = await fetch(state.url, { headers: { authorization: `Bearer ${ctx.secrets.TOKEN ?? "none"}` } });
  const feed = await res.json();
  return { ...state, items: feed.items.length };
}
