// Sends its API key to the URL in its input, as a bearer token, and says
// what the server answered and what it can see of ctx.secrets (names only).
export async function bgUpdater(state, ctx) {
  const res = await fetch(ctx.input.url, {
    headers: { authorization: `Bearer ${ctx.secrets.API_KEY}` },
  });
  return {
    status: res.status,
    names: Object.keys(ctx.secrets),
    type: typeof ctx.secrets,
  };
}
