// Pages through an API as integrations do: the first page's URL built with
// URL and URLSearchParams, a bearer token on every request, and each
// page's `next` link (often relative) resolved against the response's URL.
export const integration = "Paging API";

export async function bgUpdater(state, ctx) {
  const { api, token, since } = ctx.input;
  const first = new URL("v1/items", api);
  first.searchParams.set("since", since);
  first.searchParams.set("per_page", "2");
  first.searchParams.append("fields", "id,name");

  const items = [];
  const pages = [];
  let next = first;
  while (next !== null) {
    const res = await fetch(next, {
      headers: { authorization: `Bearer ${token}`, accept: "application/json" },
    });
    if (!res.ok) throw new Error(`GET ${next} answered ${res.status}: ${await res.text()}`);
    const page = await res.json();
    items.push(...page.items);
    pages.push(new URL(res.url).searchParams.get("page") ?? "1");
    next = page.next ? new URL(page.next, res.url) : null;
  }

  // Report back: a form-encoded POST, as many APIs expect.
  const report = new URLSearchParams({ count: String(items.length), since });
  for (const item of items) report.append("id", String(item.id));
  const ack = await fetch(new URL("/v1/report", api), {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: report,
  });
  return { items: items.map((i) => i.name), pages, ack: await ack.json() };
}
