// replay-feed.js, fixed: a malformed body is kept for a look, not thrown.
export async function bgUpdater(state, ctx) {
  const res = await fetch(state.url, { headers: { authorization: `Bearer ${ctx.secrets.TOKEN ?? "none"}` } });
  const text = await res.text();
  try {
    return { ...state, items: JSON.parse(text).items.length };
  } catch {
    return { ...state, items: 0, malformed: text };
  }
}
