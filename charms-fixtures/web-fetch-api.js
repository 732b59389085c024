// The fetch standard's Request and Response, without the network.
export async function bgUpdater() {
  const req = new Request("https://example.com/a?b=1", {
    method: "post",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ x: 1 }),
  });
  const copy = req.clone();
  const res = new Response("héllo", { status: 201, headers: { "x-a": "1" } });
  const json = Response.json({ ok: true });
  const redirect = Response.redirect("https://example.com/next", 307);
  const error = Response.error();
  let badStatus;
  try {
    new Response(null, { status: 99 });
  } catch (e) {
    badStatus = e.name;
  }
  const resCopy = res.clone();
  return {
    method: req.method,
    url: req.url,
    body: await req.json(),
    copyBody: await copy.text(),
    used: [req.bodyUsed, copy.bodyUsed],
    res: [res.status, res.ok, res.type, res.headers.get("content-type"), await res.text()],
    bytes: [...(await resCopy.bytes())],
    json: [json.headers.get("content-type"), await json.json()],
    redirect: [redirect.status, redirect.headers.get("location")],
    error: [error.type, error.status],
    badStatus,
  };
}
