// Header values are byte strings (fetch standard): each byte is one
// character from U+0000 to U+00FF, in both directions. Servers still send
// Latin-1 in headers such as Content-Disposition.
export async function bgUpdater(state, ctx) {
  const res = await fetch(ctx.input.url, { headers: { "x-sent": "caf\u00e9" } });
  const received = res.headers.get("x-latin");
  return { received, codes: [...received].map((c) => c.charCodeAt(0)) };
}
