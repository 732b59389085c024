// Bench row 3: wait on one slow fetch (ctx.input.url answers after 500 ms).
export async function bgUpdater(state, ctx) {
  const res = await fetch(ctx.input.url);
  const body = await res.json();
  return { count: (state.count ?? 0) + 1, served: body.n };
}
