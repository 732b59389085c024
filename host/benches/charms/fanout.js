// Bench row 6: one charm fetching every URL of ctx.input.urls at once (each
// answers after ctx.input.ms), as a feed reader refreshing 30 feeds does.
export async function bgUpdater(state, ctx) {
  const bodies = await Promise.all(ctx.input.urls.map((url) => fetch(url).then((r) => r.json())));
  return { count: (state.count ?? 0) + 1, fetched: bodies.length };
}
