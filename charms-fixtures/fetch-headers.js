// Sends a request with headers and a body, and reports what came back;
// tries to redirect the request with a Host header.
export async function bgUpdater(state, ctx) {
  const res = await fetch(ctx.input.url, {
    method: "POST",
    headers: { "content-type": "application/json", host: "evil.example", "x-charm": "yes" },
    body: JSON.stringify({ hello: "world" }),
  });
  return {
    status: res.status,
    ok: res.ok,
    echoedHost: res.headers.get("x-seen-host"),
    echoedBody: await res.json(),
  };
}
